#include "runtime/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

void namespaces_close_fds(int fds[NS_TYPES])
{
	for (int t = 0; t < NS_TYPES; t++) {
		if (fds[t] >= 0)
			close(fds[t]);
		fds[t] = -1;
	}
}

int namespaces_open_paths(const spec *s, int fds[NS_TYPES], berth_error **err)
{
	for (int t = 0; t < NS_TYPES; t++)
		fds[t] = -1;
	for (int t = 0; t < NS_TYPES; t++) {
		const char *path = s->namespaces[t].path;
		int type;
		if (path == NULL)
			continue;
		fds[t] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[t] < 0) {
			int e = errno;
			namespaces_close_fds(fds);
			return berth_error_set(err, e, "linux.namespaces: open %s namespace \"%s\"", spec_ns_name(t),
					       path);
		}
		type = ioctl(fds[t], NS_GET_NSTYPE);
		if (type >= 0 && type != spec_ns_clone_flag(t)) {
			namespaces_close_fds(fds);
			return berth_error_set(err, EINVAL, "linux.namespaces: \"%s\" is not a %s namespace", path,
					       spec_ns_name(t));
		}
		if (type < 0 && errno == ENOTTY) {
			namespaces_close_fds(fds);
			return berth_error_set(err, EINVAL, "linux.namespaces: \"%s\" is not a namespace file", path);
		}
	}
	return 0;
}

int namespaces_clone_flags(const spec *s)
{
	int flags = 0;
	for (int t = 0; t < NS_TYPES; t++)
		if (s->namespaces[t].requested && s->namespaces[t].path == NULL)
			flags |= spec_ns_clone_flag(t);
	return flags;
}

static char *format_map(const spec_id_mapping *maps, size_t n)
{
	char *buf = calloc(n + 1, 40);
	size_t off = 0;
	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		off += sprintf(buf + off, "%u %u %u\n", maps[i].container_id, maps[i].host_id, maps[i].size);
	return buf;
}

static int write_proc_file(pid_t pid, const char *name, const char *data, berth_error **err)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	n = write(fd, data, strlen(data));
	if (n < 0)
		return berth_error_set(err, errno, "write \"%s\"", path);
	return 0;
}

/* newuidmap PID CONTAINER HOST SIZE ... */
static int run_id_map_helper(const char *helper, pid_t pid, const spec_id_mapping *maps, size_t n, berth_error **err)
{
	_cleanup_free_ char **argv = calloc(3 * n + 3, sizeof(char *));
	char pidbuf[16];
	pid_t child;
	int status;

	if (argv == NULL)
		return berth_error_set(err, ENOMEM, "%s", helper);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	argv[0] = (char *)helper;
	argv[1] = pidbuf;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&argv[2 + 3 * i], "%u", maps[i].container_id) < 0 ||
		    asprintf(&argv[3 + 3 * i], "%u", maps[i].host_id) < 0 ||
		    asprintf(&argv[4 + 3 * i], "%u", maps[i].size) < 0)
			return berth_error_set(err, ENOMEM, "%s", helper);
	}
	child = fork();
	if (child < 0)
		return berth_error_set(err, errno, "fork %s", helper);
	if (child == 0) {
		execvp(helper, argv);
		fprintf(stderr, "berth-runtime: exec %s: %s\n", helper, strerror(errno));
		_exit(127);
	}
	for (size_t i = 2; argv[i]; i++)
		free(argv[i]);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "wait for %s", helper);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return berth_error_set(err, EPERM, "%s %d failed (exit status %d): is the range in /etc/sub%cid?",
				       helper, (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				       helper[3] == 'u' ? 'u' : 'g');
	return 0;
}

static bool is_own_single_mapping(const spec_id_mapping *maps, size_t n, unsigned id)
{
	return n == 1 && maps[0].host_id == id && maps[0].size == 1;
}

int namespaces_write_id_maps(pid_t pid, const spec *s, bool rootless, berth_error **err)
{
	_cleanup_free_ char *uidmap = format_map(s->uid_mappings, s->n_uid_mappings);
	_cleanup_free_ char *gidmap = format_map(s->gid_mappings, s->n_gid_mappings);

	if (uidmap == NULL || gidmap == NULL)
		return berth_error_set(err, ENOMEM, "id mappings");
	if (geteuid() != 0 || rootless) {
		if (is_own_single_mapping(s->uid_mappings, s->n_uid_mappings, geteuid())) {
			if (write_proc_file(pid, "uid_map", uidmap, err) < 0)
				return berth_error_wrap(err, "linux.uidMappings");
		} else if (run_id_map_helper("newuidmap", pid, s->uid_mappings, s->n_uid_mappings, err) < 0) {
			return berth_error_wrap(err, "linux.uidMappings");
		}
		if (is_own_single_mapping(s->gid_mappings, s->n_gid_mappings, getegid())) {
			/* an unprivileged gid_map write needs setgroups denied */
			if (write_proc_file(pid, "setgroups", "deny", err) < 0 ||
			    write_proc_file(pid, "gid_map", gidmap, err) < 0)
				return berth_error_wrap(err, "linux.gidMappings");
		} else if (run_id_map_helper("newgidmap", pid, s->gid_mappings, s->n_gid_mappings, err) < 0) {
			return berth_error_wrap(err, "linux.gidMappings");
		}
		return 0;
	}
	if (write_proc_file(pid, "uid_map", uidmap, err) < 0)
		return berth_error_wrap(err, "linux.uidMappings");
	if (write_proc_file(pid, "gid_map", gidmap, err) < 0)
		return berth_error_wrap(err, "linux.gidMappings");
	return 0;
}

int namespaces_write_time_offsets(const spec *s, berth_error **err)
{
	char buf[128] = "";
	size_t off = 0;
	static const char *const clocks[2] = { "monotonic", "boottime" };

	for (int c = 0; c < 2; c++)
		if (s->time_offsets[c].present)
			off += snprintf(buf + off, sizeof(buf) - off, "%s %lld %u\n", clocks[c],
					(long long)s->time_offsets[c].secs, s->time_offsets[c].nanosecs);
	if (off == 0)
		return 0;
	if (fs_write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, off, err) < 0)
		return berth_error_wrap(err, "linux.timeOffsets");
	return 0;
}

bool namespaces_in_user_namespace(void)
{
	/* Read once: the answer holds for the process and for a clone of it
	 * that stays in its user namespace (the init without a user namespace
	 * of its own: it asks only then). */
	static int cached = -1;
	FILE *f;
	unsigned long inside, outside, count;
	bool initial;

	if (cached >= 0)
		return cached;
	f = fopen("/proc/self/uid_map", "re");
	if (f == NULL)
		return false;
	initial = fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
		  count == 4294967295UL;
	fclose(f);
	cached = !initial;
	return cached;
}

pid_t namespaces_clone(int flags, int cgroup_fd, bool *in_cgroup)
{
	struct clone_args args = { .flags = (unsigned)flags, .exit_signal = SIGCHLD };
	pid_t pid;

	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = cgroup_fd;
	}
	pid = syscall(SYS_clone3, &args, sizeof(args));
	*in_cgroup = pid >= 0 && cgroup_fd >= 0;
	if (pid < 0 && cgroup_fd >= 0 && errno != ENOMEM) {
		args.flags &= ~CLONE_INTO_CGROUP;
		args.cgroup = 0;
		pid = syscall(SYS_clone3, &args, sizeof(args));
	}
	if (pid < 0 && errno == ENOSYS) {
		/* pre-5.3 kernels: plain clone semantics through fork+unshare are
		 * not equivalent for pid namespaces, so require clone3 */
		errno = ENOSYS;
	}
	return pid;
}
