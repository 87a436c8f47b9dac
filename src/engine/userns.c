/* Rootless berth: the pause process and joining its namespaces (userns.h). */
#include "engine/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/record.h"
#include "runtime/namespaces.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"

#define PAUSE_PID_FILE	"pause.pid"
#define PAUSE_LOCK_FILE "pause.lock"

bool engine_rootless(void)
{
	static int cached = -1;

	if (cached < 0)
		cached = geteuid() != 0 || namespaces_in_user_namespace();
	return cached;
}

/* The kernel takes up to 340 lines in an id map: the caller's own id and
 * as many ranges as fit. */
#define MAX_RANGES 339

typedef struct id_range {
	unsigned long start, count;
} id_range;

static bool ranges_overlap(unsigned long a, unsigned long alen, unsigned long b, unsigned long blen)
{
	return a < b + blen && b < a + alen;
}

/* Every subordinate range of the caller in FILE (/etc/subuid or
 * /etc/subgid), in the file's order: the lines naming its user NAME or
 * numeric ID. A range that overlaps an earlier one or holds OWN (the
 * caller's own uid or gid, mapped to 0) is skipped: the kernel refuses
 * overlapping maps. Returns how many are in OUT (at most MAX_RANGES). */
static size_t subordinate_ranges(const char *file, unsigned long id, const char *name, unsigned long own, id_range *out)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[512], idtext[32];
	unsigned long total = 1; /* ids inside: OWN, then the ranges */
	size_t n = 0;

	snprintf(idtext, sizeof(idtext), "%lu", id);
	while (f && n < MAX_RANGES && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		unsigned long start, count;
		bool usable;
		if (colon == NULL || line[0] == '#')
			continue;
		*colon = '\0';
		if (strcmp(line, idtext) != 0 && (name == NULL || strcmp(line, name) != 0))
			continue;
		if (sscanf(colon + 1, "%lu:%lu", &start, &count) != 2 || count == 0 || start + count < start ||
		    start + count > UINT32_MAX || total + count > UINT32_MAX)
			continue;
		usable = !ranges_overlap(start, count, own, 1);
		for (size_t i = 0; usable && i < n; i++)
			usable = !ranges_overlap(start, count, out[i].start, out[i].count);
		if (!usable) {
			berth_debug("rootless: %s range %lu:%lu overlaps another or the user's own id; skipped", file,
				    start, count);
			continue;
		}
		out[n++] = (id_range){ start, count };
		total += count;
	}
	return n;
}

/* Runs newuidmap or newgidmap for PID: OWN to 0, the N ranges one after
 * another from 1 on (the namespace's ids are their concatenation). */
static int run_idmap_tool(const char *tool, pid_t pid, unsigned long own, const id_range *ranges, size_t n,
			  berth_error **err)
{
	size_t argc = 3 * n + 5;
	_cleanup_free_ char(*num)[24] = calloc(argc, sizeof(*num));
	_cleanup_free_ char **argv = calloc(argc + 1, sizeof(char *));
	char cmdline[256] = "";
	unsigned long inside = 1;
	pid_t child;
	int status;

	if (num == NULL || argv == NULL)
		return berth_error_set(err, ENOMEM, "%s", tool);
	snprintf(num[0], sizeof(num[0]), "%s", tool);
	snprintf(num[1], sizeof(num[1]), "%d", (int)pid);
	snprintf(num[2], sizeof(num[2]), "0");
	snprintf(num[3], sizeof(num[3]), "%lu", own);
	snprintf(num[4], sizeof(num[4]), "1");
	for (size_t i = 0; i < n; i++) {
		snprintf(num[5 + 3 * i], sizeof(num[0]), "%lu", inside);
		snprintf(num[6 + 3 * i], sizeof(num[0]), "%lu", ranges[i].start);
		snprintf(num[7 + 3 * i], sizeof(num[0]), "%lu", ranges[i].count);
		inside += ranges[i].count;
	}
	for (size_t i = 0; i < argc; i++)
		argv[i] = num[i];
	child = fork();
	if (child < 0)
		return berth_error_set(err, errno, "fork %s", tool);
	if (child == 0) {
		execvp(tool, argv);
		fprintf(stderr, "berth: exec %s: %s\n", tool, strerror(errno));
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "wait for %s", tool);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (size_t i = 0, used = 0; i < argc && used < sizeof(cmdline) - 1; i++)
		used += (size_t)snprintf(cmdline + used, sizeof(cmdline) - used, "%s%s", i ? " " : "", argv[i]);
	return berth_error_set(err, EPERM, "%s failed (status %d)", cmdline, status);
}

static int write_proc_file(pid_t pid, const char *name, const char *text, berth_error **err)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return berth_error_set(err, errno, "write \"%s\" to %s", text, path);
	return 0;
}

/* The id maps of the pause process PID: the caller's ids and, where
 * /etc/subuid and /etc/subgid give it ranges, those too. Without ranges only
 * the caller's own ids exist in the namespace (files of other owners in an
 * image keep their owner in an xattr). */
static int write_id_maps(pid_t pid, berth_error **err)
{
	unsigned long uid = getuid(), gid = getgid();
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	_cleanup_free_ id_range *uids = calloc(MAX_RANGES, sizeof(id_range));
	_cleanup_free_ id_range *gids = calloc(MAX_RANGES, sizeof(id_range));
	size_t n_uids, n_gids;
	char text[64];

	if (uids == NULL || gids == NULL)
		return berth_error_set(err, ENOMEM, "rootless user namespace");
	n_uids = subordinate_ranges("/etc/subuid", uid, name, uid, uids);
	n_gids = subordinate_ranges("/etc/subgid", uid, name, gid, gids);
	if (n_uids && n_gids) {
		if (run_idmap_tool("newuidmap", pid, uid, uids, n_uids, err) < 0 ||
		    run_idmap_tool("newgidmap", pid, gid, gids, n_gids, err) < 0)
			return berth_error_wrap(err, "rootless user namespace (ranges from /etc/subuid, /etc/subgid)");
		return 0;
	}
	berth_log(BERTH_LOG_WARNING,
		  "no range for %s in /etc/subuid and /etc/subgid: only uid %lu and gid %lu exist in containers",
		  name ? name : "this user", uid, gid);
	snprintf(text, sizeof(text), "0 %lu 1\n", uid);
	if (write_proc_file(pid, "uid_map", text, err) < 0 || write_proc_file(pid, "setgroups", "deny", err) < 0)
		return -1;
	snprintf(text, sizeof(text), "0 %lu 1\n", gid);
	return write_proc_file(pid, "gid_map", text, err);
}

/* The pause process: holds the namespaces, does nothing else. */
static _Noreturn void pause_forever(void)
{
	int devnull;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	close_range(3, ~0U, 0);
	if (chdir("/") < 0)
		_exit(1);
	setsid();
	prctl(PR_SET_NAME, "berth-pause");
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	for (;;)
		pause();
}

/* The pause process after unshare: waits for its id maps, becomes root of
 * them, then pauses. */
static _Noreturn void pause_main(int sync_fd)
{
	char c = 0;

	if (read(sync_fd, &c, 1) != 1 || c != 'm')
		_exit(1);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		_exit(1);
	/* mounts made on the host later (a USB disk, a new volume dir) reach
	 * the namespace; none of ours go back */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		_exit(1);
	if (write(sync_fd, "r", 1) != 1)
		_exit(1);
	pause_forever();
}

/* Forks the pause process, maps its ids and records it in PIDFILE (in
 * DIRFD). Returns its pid. */
static pid_t start_pause(int dirfd, berth_error **err)
{
	int sv[2];
	pid_t pid;
	char c = 0, text[64];
	unsigned long long start;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return berth_error_set(err, errno, "socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return berth_error_set(err, errno, "fork the pause process");
	}
	if (pid == 0) {
		close(sv[0]);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			c = (char)errno;
			(void)!write(sv[1], "e", 1);
			(void)!write(sv[1], &c, 1);
			_exit(1);
		}
		if (write(sv[1], "u", 1) != 1)
			_exit(1);
		pause_main(sv[1]);
	}
	close(sv[1]);
	if (read(sv[0], &c, 1) != 1 || c != 'u') {
		int e = c == 'e' && read(sv[0], &c, 1) == 1 ? c : EIO;
		close(sv[0]);
		waitpid(pid, NULL, 0);
		return berth_error_set(err, e, "unshare a user namespace (is kernel.unprivileged_userns_clone 1?)");
	}
	if (write_id_maps(pid, err) < 0 || write(sv[0], "m", 1) != 1 || read(sv[0], &c, 1) != 1 || c != 'r') {
		close(sv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (err && *err == NULL)
			berth_error_set(err, EIO, "the pause process failed to set up its namespaces");
		return -1;
	}
	close(sv[0]);
	start = proc_pid_start_time(pid);
	snprintf(text, sizeof(text), "%d %llu\n", (int)pid, start);
	if (fs_write_file_replace(dirfd, PAUSE_PID_FILE, text, strlen(text), 0600, err) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	/* not reaped here: the pause process outlives this command */
	berth_debug("rootless: pause process %d started", (int)pid);
	return pid;
}

/* The pause process recorded in DIRFD when it is still alive, else 0. */
static pid_t live_pause(int dirfd)
{
	_cleanup_free_ char *text = NULL;
	int pid;
	unsigned long long start;

	if (fs_read_file_at(dirfd, PAUSE_PID_FILE, &text, NULL, NULL) < 0)
		return 0;
	if (sscanf(text, "%d %llu", &pid, &start) != 2 || pid <= 0)
		return 0;
	return proc_pid_start_time(pid) == start ? pid : 0;
}

/* A monitor of STORE_ROOT that still runs in a user namespace other than
 * ours: the namespaces of the pause process that was killed, still held by
 * the containers it started. 0 when there is none. */
static pid_t live_monitor(const char *store_root, const char *run_root)
{
	engine_paths p = { 0 };
	container **list = NULL;
	size_t n = 0;
	struct stat own, other;
	pid_t found = 0;

	if (stat("/proc/self/ns/user", &own) < 0 || engine_paths_init(&p, store_root, run_root, NULL) < 0 ||
	    record_list(&p, &list, &n, NULL) < 0) {
		engine_paths_free(&p);
		return 0;
	}
	for (size_t i = 0; i < n && found == 0; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)list[i]->state.monitor_pid);
		if (record_monitor_alive(list[i]) && stat(path, &other) == 0 && other.st_ino != own.st_ino)
			found = list[i]->state.monitor_pid;
	}
	record_list_free(list, n);
	engine_paths_free(&p);
	return found;
}

/* Forks a new pause process in the namespaces this process has joined and
 * records it (the old one is gone; a monitor's namespaces were joined). */
static void restart_pause_inside(int dirfd)
{
	char text[64];
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (pid == 0)
		pause_forever();
	snprintf(text, sizeof(text), "%d %llu\n", (int)pid, proc_pid_start_time(pid));
	if (fs_write_file_replace(dirfd, PAUSE_PID_FILE, text, strlen(text), 0600, NULL) == 0)
		berth_debug("rootless: pause process %d started inside the namespaces of a monitor", (int)pid);
}

static int join_pause(pid_t pid, berth_error **err)
{
	char path[64];
	_cleanup_close_ int userfd = -EBADF, mntfd = -EBADF;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	userfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	mntfd = open(path, O_RDONLY | O_CLOEXEC);
	if (userfd < 0 || mntfd < 0)
		return berth_error_set(err, errno, "open the namespaces of the pause process %d", (int)pid);
	if (setns(userfd, CLONE_NEWUSER) < 0)
		return berth_error_set(err, errno, "join the user namespace of the pause process %d", (int)pid);
	if (setns(mntfd, CLONE_NEWNS) < 0)
		return berth_error_set(err, errno, "join the mount namespace of the pause process %d", (int)pid);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return berth_error_set(err, errno, "become root in the rootless user namespace");
	return 0;
}

int engine_userns_join(const char *run_root, const char *store_root, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF, lockfd = -EBADF;
	_cleanup_free_ char *cwd = NULL;
	pid_t pid, monitor;

	if (geteuid() == 0)
		return 0; /* real root, or already inside a user namespace */
	if (fs_mkdir_p(run_root, 0700, err) < 0)
		return berth_error_wrap(err, "rootless state");
	dirfd = open(run_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	lockfd = dirfd < 0 ? -1 : openat(dirfd, PAUSE_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
		return berth_error_set(err, errno, "lock \"%s/%s\"", run_root, PAUSE_LOCK_FILE);
	pid = live_pause(dirfd);
	if (pid == 0 && (monitor = live_monitor(store_root, run_root)) > 0) {
		/* the pause process was killed; its containers still hold the
		 * namespaces: join them through a monitor, and pause again */
		cwd = getcwd(NULL, 0);
		if (join_pause(monitor, err) < 0)
			return -1;
		restart_pause_inside(dirfd);
		if (cwd && chdir(cwd) < 0)
			berth_debug("rootless: working directory \"%s\" not in the namespace: %s", cwd,
				    strerror(errno));
		return 0;
	}
	if (pid == 0 && (pid = start_pause(dirfd, err)) < 0)
		return -1;
	cwd = getcwd(NULL, 0);
	if (join_pause(pid, err) < 0)
		return -1;
	/* setns to a mount namespace moves to its root */
	if (cwd && chdir(cwd) < 0)
		berth_debug("rootless: working directory \"%s\" not in the namespace: %s", cwd, strerror(errno));
	return 0;
}
