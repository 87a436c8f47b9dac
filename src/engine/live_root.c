#include "engine/live_root.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The parent pid (field 4) of /proc/PID/stat, read through PROCFD. */
static pid_t parent_of(int procfd)
{
	_cleanup_free_ char *text = NULL;
	berth_error *ignored = NULL;
	size_t len;
	char *p;
	int ppid;

	if (fs_read_file_at(procfd, "stat", &text, &len, &ignored) < 0) {
		berth_error_free(&ignored);
		return -1;
	}
	p = strrchr(text, ')'); /* the command name may hold spaces and parentheses */
	if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

int engine_live_root_open(const container *c, berth_error **err)
{
	_cleanup_close_ int procfd = -EBADF;
	char path[32];
	int fd;

	if ((strcmp(c->state.status, "running") != 0 && strcmp(c->state.status, "paused") != 0) || c->state.pid <= 0 ||
	    !record_monitor_alive(c))
		return berth_error_set(err, 0, "container %s is not running under its monitor", c->name);
	snprintf(path, sizeof(path), "/proc/%d", (int)c->state.pid);
	procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return berth_error_set(err, errno, "container %s: open \"%s\"", c->name, path);
	fd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "container %s: open \"%s/root\"", c->name, path);
	/* PROCFD pins the process: checked after the open, its parent must be
	 * the monitor (the init is the monitor's child until it is reaped) */
	if (parent_of(procfd) != c->state.monitor_pid || !record_monitor_alive(c)) {
		close(fd);
		return berth_error_set(err, ESRCH, "container %s: its process %d is gone", c->name, (int)c->state.pid);
	}
	return fd;
}

/* 0 when NAME, resolved inside ROOTFD, is an executable regular file, else -errno. */
static int check_executable(int rootfd, const char *name)
{
	berth_error *e = NULL;
	_cleanup_close_ int fd = fs_open_in_root(rootfd, name, O_PATH, 0, true, &e);
	struct stat st;
	int code;

	if (fd < 0) {
		code = e && e->code ? e->code : ENOENT;
		berth_error_free(&e);
		return -code;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
		return -EACCES;
	return 0;
}

static int exec_error(int code, const char *name, berth_error **err)
{
	char text[128];

	snprintf(text, sizeof(text), "%s", strerror(code));
	if (text[0] >= 'A' && text[0] <= 'Z')
		text[0] = (char)(text[0] - 'A' + 'a');
	if (code == ENOENT || code == ENOTDIR) {
		berth_error_set(err, 0, "exec \"%s\": stat %s: no such file or directory", name, name);
		return 127;
	}
	berth_error_set(err, 0, "exec \"%s\": %s", name, text);
	return 126;
}

int engine_exec_check(int rootfd, const char *cwd, const char *argv0, const char *path_env, berth_error **err)
{
	_cleanup_free_ char *copy = NULL;
	int last = -ENOENT, ret;

	if (cwd && cwd[0]) {
		berth_error *e = NULL;
		_cleanup_close_ int fd = fs_open_in_root(rootfd, cwd, O_PATH | O_DIRECTORY, 0, true, &e);
		if (fd < 0) {
			int code = e && e->code ? e->code : ENOENT;
			berth_error_free(&e);
			berth_error_set(err, 0, "chdir to \"%s\": %s", cwd, strerror(code));
			return code == ENOENT || code == ENOTDIR ? 127 : 126;
		}
	}
	if (argv0 == NULL || argv0[0] == '\0')
		return berth_error_set(err, EINVAL, "no command given"), 127;
	if (strchr(argv0, '/') != NULL) {
		_cleanup_free_ char *full = argv0[0] == '/' ? strdup(argv0) : fs_path_join(cwd ? cwd : "/", argv0);
		if (full == NULL)
			return berth_error_set(err, ENOMEM, "exec"), 125;
		ret = check_executable(rootfd, full);
		return ret < 0 ? exec_error(-ret, argv0, err) : 0;
	}
	copy = strdup(path_env ? path_env : DEFAULT_PATH);
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "exec"), 125;
	for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *candidate = fs_path_join(dir[0] == '/' ? dir : "/", argv0);
		if (candidate == NULL)
			return berth_error_set(err, ENOMEM, "exec"), 125;
		ret = check_executable(rootfd, candidate);
		if (ret == 0)
			return 0;
		if (ret != -ENOENT && ret != -ENOTDIR)
			last = ret;
	}
	if (last == -ENOENT)
		return berth_error_set(err, 0, "exec \"%s\": executable file not found in $PATH", argv0), 127;
	return exec_error(-last, argv0, err);
}
