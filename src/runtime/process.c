#include "runtime/process.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <linux/ioprio.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/caps.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_lookup(char **env, const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], key, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

static int check_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
		return -errno;
	return 0;
}

/* The failure to find or run the process, worded like runc's (Go's
 * lower-case errno text): Docker's CLI turns a start error that contains
 * "no such file or directory" or "executable file not found" into exit
 * status 127 and "permission denied" into 126, case-sensitively. */
static int exec_error(berth_error **err, int code, const char *name)
{
	char text[128];

	snprintf(text, sizeof(text), "%s", strerror(code));
	text[0] = (char)tolower((unsigned char)text[0]);
	if (code == ENOENT)
		berth_error_set(err, 0, "exec \"%s\": stat %s: %s", name, name, text);
	else
		berth_error_set(err, 0, "exec \"%s\": %s", name, text);
	if (*err != NULL)
		(*err)->code = code;
	return -code;
}

int process_find_executable(const spec_process *p, char **path, berth_error **err)
{
	const char *name = p->args[0];
	const char *search;
	_cleanup_free_ char *copy = NULL;
	int last_error = -ENOENT;

	if (strchr(name, '/') != NULL) {
		int ret = check_executable(name);
		if (ret < 0)
			return exec_error(err, -ret, name);
		*path = strdup(name);
		return *path ? 0 : berth_error_set(err, ENOMEM, "exec");
	}
	search = env_lookup(p->env, "PATH");
	copy = strdup(search ? search : DEFAULT_PATH);
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "exec");
	for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *candidate = fs_path_join(dir[0] ? dir : ".", name);
		int ret;
		if (candidate == NULL)
			return berth_error_set(err, ENOMEM, "exec");
		ret = check_executable(candidate);
		if (ret == 0) {
			*path = move_ptr(candidate);
			return 0;
		}
		if (ret != -ENOENT && ret != -ENOTDIR)
			last_error = ret;
	}
	if (last_error == -ENOENT)
		return berth_error_set(err, 0, "exec \"%s\": executable file not found in $PATH", name);
	return exec_error(err, -last_error, name);
}

int process_apply_limits(const spec_process *p, const spec_personality *pers, berth_error **err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const spec_rlimit *rl = &p->rlimits[i];
		struct rlimit lim = { .rlim_cur = rl->soft, .rlim_max = rl->hard };
		if (setrlimit(rl->resource, &lim) < 0) {
			struct rlimit cur;
			int e = errno;
			if (e == EPERM && getrlimit(rl->resource, &cur) == 0 && rl->hard > cur.rlim_max)
				return berth_error_set(err, e,
						       "process.rlimits[%zu]: raise %s hard limit from %llu to %llu "
						       "(needs CAP_SYS_RESOURCE)",
						       i, rl->type, (unsigned long long)cur.rlim_max,
						       (unsigned long long)rl->hard);
			return berth_error_set(err, e, "process.rlimits[%zu]: set %s to %llu:%llu", i, rl->type,
					       (unsigned long long)rl->soft, (unsigned long long)rl->hard);
		}
	}
	if (p->has_oom_score_adj) {
		char buf[16];
		int len = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
		if (fs_write_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, len, err) < 0) {
			if ((*err)->code == EACCES)
				return berth_error_wrap(err, "process.oomScoreAdj: lowering it needs CAP_SYS_RESOURCE");
			return berth_error_wrap(err, "process.oomScoreAdj");
		}
	}
	if (p->scheduler.present) {
		struct {
			uint32_t size, policy;
			uint64_t flags;
			int32_t nice;
			uint32_t priority;
			uint64_t runtime, deadline, period;
		} attr = { .size = 48,
			   .policy = p->scheduler.policy,
			   .flags = p->scheduler.flags,
			   .nice = p->scheduler.nice,
			   .priority = p->scheduler.priority,
			   .runtime = p->scheduler.runtime,
			   .deadline = p->scheduler.deadline,
			   .period = p->scheduler.period };
		if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
			return berth_error_set(err, errno, "process.scheduler: sched_setattr");
	}
	if (p->io_priority.present && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
					      IOPRIO_PRIO_VALUE(p->io_priority.class, p->io_priority.priority)) < 0)
		return berth_error_set(err, errno, "process.ioPriority: ioprio_set");
	if (pers && pers->present && personality(pers->domain) < 0)
		return berth_error_set(err, errno, "linux.personality");
	umask(p->user.has_umask ? p->user.umask : 0022);
	return 0;
}

int process_enter_cwd(const spec_process *p, berth_error **err)
{
	char buf[4096];

	if (chdir(p->cwd) < 0)
		return berth_error_set(err, errno, "process.cwd: chdir to \"%s\"", p->cwd);
	/* getcwd() fails (or says "(unreachable)") when the directory is not
	 * below our root, which is what a leaked host fd would give. */
	if (getcwd(buf, sizeof(buf)) == NULL)
		return berth_error_set(err, errno, "process.cwd: \"%s\" is outside the container", p->cwd);
	if (buf[0] != '/')
		return berth_error_set(err, EPERM, "process.cwd: \"%s\" is outside the container", p->cwd);
	return 0;
}

int process_set_identity(const spec_process *p, bool in_userns, berth_error **err)
{
	const spec_user *u = &p->user;

	if (p->has_capabilities && caps_drop_bounding(&p->capabilities, err) < 0)
		return berth_error_wrap(err, "process.capabilities.bounding");
	if (p->has_capabilities && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return berth_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
	if (setgroups(u->n_additional_gids, u->additional_gids) < 0) {
		/* with setgroups denied (rootless single mapping) only an empty
		 * list is acceptable, and that one is already in effect */
		if (!(errno == EPERM && in_userns && u->n_additional_gids == 0))
			return berth_error_set(err, errno, "process.user.additionalGids: setgroups");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return berth_error_set(err, errno, "process.user.gid: setgid %u", (unsigned)u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return berth_error_set(err, errno, "process.user.uid: setuid %u", (unsigned)u->uid);
	if (p->has_capabilities) {
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			return berth_error_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
		if (caps_apply(&p->capabilities, err) < 0)
			return berth_error_wrap(err, "process.capabilities");
	} else if (caps_clear_inheritable(err) < 0) {
		return -1;
	}
	return 0;
}

int process_prepare_fds(int preserve_fds, berth_error **err)
{
	unsigned int first = 3 + (preserve_fds > 0 ? preserve_fds : 0);

	for (int fd = 3; fd < (int)first; fd++) {
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0)
			fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
	}
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
	if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		/* old kernels: walk the fds */
		for (int fd = first; fd < 65536; fd++) {
			int flags = fcntl(fd, F_GETFD);
			if (flags >= 0)
				fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
		}
	}
	(void)err;
	return 0;
}

/* HOME for a process whose env has none, as runc does: the user's home
 * in the container's /etc/passwd, else "/". Called inside the container. */
static char *default_home(uid_t uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;
	char *out = NULL;

	while (f != NULL && (pw = fgetpwent(f)) != NULL)
		if (pw->pw_uid == uid && pw->pw_dir != NULL && pw->pw_dir[0] == '/') {
			if (asprintf(&out, "HOME=%s", pw->pw_dir) < 0)
				out = NULL;
			break;
		}
	if (f != NULL)
		fclose(f);
	return out ? out : strdup("HOME=/");
}

char **process_build_env(const spec_process *p, int listen_fds)
{
	size_t n = 0;
	char **env;

	while (p->env && p->env[n])
		n++;
	env = calloc(n + 4, sizeof(char *));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		env[i] = p->env[i];
	if (env_lookup(p->env, "HOME") == NULL)
		env[n++] = default_home(p->user.uid);
	if (listen_fds > 0) {
		if (asprintf(&env[n], "LISTEN_FDS=%d", listen_fds) < 0 || asprintf(&env[n + 1], "LISTEN_PID=1") < 0)
			return env;
	}
	return env;
}

/* ID (of PID's user namespace) as seen from ours, through /proc/PID/MAP
 * ("uid_map" or "gid_map"); false when it is not mapped. */
static bool map_id_out(pid_t pid, const char *map, unsigned id, unsigned *out)
{
	char path[64];
	_cleanup_fclose_ FILE *f = NULL;
	unsigned inside, outside, count;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, map);
	f = fopen(path, "re");
	while (f != NULL && fscanf(f, "%u %u %u", &inside, &outside, &count) == 3)
		if (id >= inside && id - inside < count) {
			*out = outside + (id - inside);
			return true;
		}
	return false;
}

/* Whether FD is an anonymous pipe or a socket: a file or a named fifo
 * belongs to the host's file system, not to this process. */
static bool is_private_stream(int fd, struct stat *st)
{
	struct statfs sf;

	if (fstat(fd, st) < 0)
		return false;
	return S_ISSOCK(st->st_mode) || (S_ISFIFO(st->st_mode) && fstatfs(fd, &sf) == 0 && sf.f_type == PIPEFS_MAGIC);
}

int process_chown_stdio(pid_t pid, uid_t uid, gid_t gid, berth_error **err)
{
	unsigned host_uid = 0, host_gid = 0;
	bool mapped = false;

	for (int fd = 0; fd < 3; fd++) {
		struct stat st;

		if (!is_private_stream(fd, &st))
			continue;
		/* the maps are read once, and only when there is a stream */
		if (!mapped) {
			if (!map_id_out(pid, "uid_map", uid, &host_uid) || !map_id_out(pid, "gid_map", gid, &host_gid))
				return 0;
			mapped = true;
		}
		if (st.st_uid == host_uid && st.st_gid == host_gid)
			continue;
		/* EPERM: a rootless runtime cannot give it away; the process
		 * then keeps what it could do before */
		if (fchown(fd, host_uid, host_gid) < 0 && errno != EPERM && errno != EINVAL && errno != EROFS)
			return berth_error_set(err, errno, "give stdio fd %d to uid %u gid %u", fd, host_uid, host_gid);
	}
	return 0;
}
