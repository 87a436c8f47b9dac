#include "engine/runtime_call.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/userns.h"
#include "runtime/container.h"
#include "runtime/exe_guard.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef BERTH_DATADIR
#define BERTH_DATADIR "/usr/local/share/berth"
#endif

static char **build_argv(const char *runtime, const char *root, const char *const *args)
{
	size_t n = 0;
	char **argv;

	while (args[n])
		n++;
	argv = calloc(n + 4, sizeof(char *));
	if (argv == NULL)
		return NULL;
	argv[0] = (char *)runtime;
	argv[1] = (char *)"--root";
	argv[2] = (char *)root;
	for (size_t i = 0; i < n; i++)
		argv[3 + i] = (char *)args[i];
	return argv;
}

/* In the child: fd SLOT from WANT (an fd, /dev/null, or the pipe end). */
static void child_stdio(int slot, int want, int pipe_end)
{
	int fd = want;

	if (want == RUNTIME_CAPTURE)
		fd = pipe_end;
	else if (want < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		_exit(127);
	if (fd != slot) {
		if (dup2(fd, slot) < 0)
			_exit(127);
	} else {
		fcntl(fd, F_SETFD, 0);
	}
}

static int append(char **buf, size_t *len, const char *data, size_t n)
{
	char *p = realloc(*buf, *len + n + 1);

	if (p == NULL)
		return -1;
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*buf = p;
	return 0;
}

/* Reads both pipes until EOF. */
static void drain(int out_fd, int err_fd, runtime_io *io)
{
	struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN } };
	size_t lens[2] = { 0, 0 };
	char buf[4096];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				p[i].fd = -1;
				continue;
			}
			append(i == 0 ? &io->out_text : &io->err_text, &lens[i], buf, (size_t)n);
		}
	}
}

/* True when RUNTIME is the berth-runtime this berth was built with: then
 * the operations that put no process into the container run in this
 * process, through libberth, instead of costing an exec each. exec still
 * runs the binary, and so does create unless the container cannot reach
 * its init before it execs (below): the binary runs from a sealed copy, so
 * a container can never reach its file (CVE-2019-5736). */
static char *ours_path;
static pthread_once_t ours_once = PTHREAD_ONCE_INIT;

static void ours_path_find(void)
{
	ours_path = runtime_default_path();
}

static bool runtime_is_ours(const char *runtime)
{
	const char *ours;
	char a[PATH_MAX], b[PATH_MAX];

	/* once: builds call the runtime from several threads */
	pthread_once(&ours_once, ours_path_find);
	if ((ours = ours_path) == NULL)
		return false;
	if (strcmp(runtime, ours) == 0)
		return true;
	return realpath(runtime, a) != NULL && realpath(ours, b) != NULL && strcmp(a, b) == 0;
}

static int inproc_result(int rc, berth_error **op_err, runtime_io *io)
{
	if (rc == 0)
		return 0;
	if (io->err == RUNTIME_CAPTURE && *op_err)
		io->err_text = strdup((*op_err)->msg);
	berth_error_free(op_err);
	return 1;
}

/* ---- create in-process ----
 *
 * The init is then cloned from this process and runs its image until its
 * execve. The container chooses what the init executes: "/proc/self/exe"
 * (an entrypoint, or "#!/proc/self/exe") runs this very image again in the
 * container, with the ELF interpreter the container's root holds, which
 * can open /proc/self/exe and hand the fd to a process that outlives the
 * monitor (CVE-2019-5736; tests/integration/engine-exe-guard.bats). So this
 * process first moves in place onto a read-only view of berth's binary
 * (exe_guard_seal_in_place, once per monitor); where it cannot, create
 * takes the exec of the sealed runtime. The container must also have a pid
 * namespace of its own, created for it (so the init is its only process
 * and nothing in the container sees the monitor), and no hook of create
 * (createContainer and startContainer run programs in the container
 * beforehand). Anything else, or any argument not understood here, takes
 * the exec of the sealed runtime. */

typedef struct create_args {
	const char *bundle, *pid_file, *console_socket, *id;
} create_args;

/* `create --bundle B --pid-file P [--console-socket S] ID`, as the monitor
 * writes it; -1 for anything else. */
static int parse_create_args(const char *const *args, create_args *out)
{
	memset(out, 0, sizeof(*out));
	if (args[0] == NULL || strcmp(args[0], "create") != 0)
		return -1;
	for (size_t i = 1; args[i]; i++) {
		const char **slot = NULL;
		if (strcmp(args[i], "--bundle") == 0)
			slot = &out->bundle;
		else if (strcmp(args[i], "--pid-file") == 0)
			slot = &out->pid_file;
		else if (strcmp(args[i], "--console-socket") == 0)
			slot = &out->console_socket;
		if (slot == NULL) {
			if (args[i][0] == '-' || out->id != NULL)
				return -1;
			out->id = args[i];
			continue;
		}
		if (args[i + 1] == NULL || *slot != NULL)
			return -1;
		*slot = args[++i];
	}
	return out->bundle != NULL && out->id != NULL ? 0 : -1;
}

/* The parsed config at CONFIG_PATH when creating in this process is safe
 * (then container_create takes it), else NULL. */
static spec *config_for_inproc_create(const char *config_path)
{
	spec *s = NULL;
	berth_error *ignored = NULL;
	bool safe;

	/* socket activation fds (fds 3.. of this process) would be passed on */
	if (getenv("LISTEN_FDS") != NULL)
		return NULL;
	if (spec_load(config_path, &s, &ignored) < 0) {
		berth_error_free(&ignored);
		return NULL; /* the runtime words the error */
	}
	/* hooks of create: the container's would run in it before the init
	 * execs, the others would inherit this process's blocked signals */
	safe = s->namespaces[NS_PID].requested && s->namespaces[NS_PID].path == NULL;
	for (int kind = HOOK_PRESTART; kind <= HOOK_START_CONTAINER; kind++)
		safe &= s->hooks[kind].n == 0;
	if (!safe)
		spec_free(s);
	return safe ? s : NULL;
}

/* Puts WANT (an fd, RUNTIME_NULL, or CAPTURE: the memfd CAPTURE_FD) on
 * SLOT, keeping the old one in *SAVED (close-on-exec) for stdio_restore. */
static int stdio_replace(int slot, int want, int capture_fd, int *saved)
{
	_cleanup_close_ int null = -EBADF;
	int fd = want;

	*saved = fcntl(slot, F_DUPFD_CLOEXEC, 3);
	if (*saved < 0 && errno != EBADF)
		return -1;
	if (want == RUNTIME_CAPTURE)
		fd = capture_fd;
	else if (want < 0)
		fd = null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fd == slot)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, slot) < 0 ? -1 : 0;
}

static void stdio_restore(int saved[3])
{
	for (int slot = 0; slot < 3; slot++) {
		if (saved[slot] >= 0) {
			dup2(saved[slot], slot);
			close(saved[slot]);
		} else {
			close(slot);
		}
		saved[slot] = -1;
	}
}

/* What the runtime wrote to stderr, captured in the memfd FD. */
static char *read_capture(int fd)
{
	char *text = NULL;
	size_t len = 0;
	char buf[4096];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		append(&text, &len, buf, (size_t)n);
	return text;
}

/* The create of the runtime binary, done by libberth: the runtime's work
 * (hooks, warnings) and the init get IO's fds as stdio, as the exec'd
 * runtime would; this process's own stdio is put back afterwards. The
 * error reads as the runtime prints it. Returns the exit status the
 * runtime would have, or -ENOSYS when create must run the binary. */
static int runtime_create_inproc(const runtime_globals *g, const char *const *args, runtime_io *io)
{
	_cleanup_free_ char *config_path = NULL;
	_cleanup_close_ int capture = -EBADF;
	_cleanup_error_ berth_error *why = NULL;
	berth_error *op_err = NULL;
	char bundle[PATH_MAX];
	int saved[3] = { -1, -1, -1 }, rc;
	create_args a;
	create_options opts;
	spec *config = NULL;

	if (parse_create_args(args, &a) < 0 || io->in == RUNTIME_CAPTURE || io->out == RUNTIME_CAPTURE ||
	    realpath(a.bundle, bundle) == NULL || (config_path = fs_path_join(bundle, "config.json")) == NULL ||
	    (config = config_for_inproc_create(config_path)) == NULL)
		return -ENOSYS;
	/* afterwards /proc/self/exe names the sealed view ("/berth"): the
	 * paths derived from berth's location come from the cache */
	engine_exe_dir();
	if (exe_guard_seal_in_place(&why) < 0) {
		berth_debug("create %s by the runtime binary: berth's binary not sealed (%s)", a.id, why->msg);
		spec_free(config);
		return -ENOSYS;
	}
	if (io->err == RUNTIME_CAPTURE && (capture = memfd_create("berth-runtime-stderr", MFD_CLOEXEC)) < 0) {
		spec_free(config);
		return -ENOSYS;
	}
	/* the config parsed for the check is the one create uses, and takes */
	opts = (create_options){ .id = a.id,
				 .bundle = bundle,
				 .pid_file = a.pid_file,
				 .console_socket = a.console_socket,
				 .config = config };
	fflush(stdout);
	fflush(stderr);
	if (stdio_replace(0, io->in, capture, &saved[0]) < 0 || stdio_replace(1, io->out, capture, &saved[1]) < 0 ||
	    stdio_replace(2, io->err, capture, &saved[2]) < 0) {
		stdio_restore(saved);
		spec_free(config);
		return -ENOSYS;
	}
	if (io->init_pid != NULL) {
		opts.pid_file = NULL;
		opts.pid_out = io->init_pid;
	}
	rc = container_create(g, &opts, &op_err);
	/* worded as the runtime's main() reports it; the monitor shows it */
	if (rc < 0)
		dprintf(STDERR_FILENO, "berth-runtime: %s\n", op_err ? op_err->msg : "create failed");
	stdio_restore(saved);
	berth_error_free(&op_err);
	if (capture >= 0) {
		size_t l;
		io->err_text = read_capture(capture);
		for (l = io->err_text ? strlen(io->err_text) : 0; l > 0 && io->err_text[l - 1] == '\n';)
			io->err_text[--l] = '\0';
	}
	return rc < 0 ? 1 : 0;
}

/* Returns -ENOSYS when ARGS is not an operation done in-process. */
static int runtime_call_inproc(const char *root, const char *const *args, runtime_io *io)
{
	const char *cgroup_root = getenv("BERTH_CGROUP_ROOT"); /* as the runtime's main() */
	runtime_globals g = { .root = root,
			      .rootless = engine_rootless(),
			      .cgroup_fs_root = cgroup_root ? cgroup_root : "/sys/fs/cgroup" };
	berth_error *op_err = NULL;
	size_t n = 0;

	while (args[n])
		n++;
	if (n > 0 && strcmp(args[0], "create") == 0)
		return runtime_create_inproc(&g, args, io);
	if (n == 2 && strcmp(args[0], "start") == 0)
		return inproc_result(container_start(&g, args[1], &op_err), &op_err, io);
	if (n == 3 && strcmp(args[0], "delete") == 0 && strcmp(args[1], "--force") == 0)
		return inproc_result(container_delete(&g, args[2], true, &op_err), &op_err, io);
	if (n == 2 && strcmp(args[0], "delete") == 0)
		return inproc_result(container_delete(&g, args[1], false, &op_err), &op_err, io);
	if ((n == 2 || n == 3) && strcmp(args[0], "kill") == 0) {
		int signo = n == 3 ? spec_signal_from_string(args[2]) : SIGTERM;
		if (signo <= 0)
			return -ENOSYS; /* let the runtime word the error */
		return inproc_result(container_kill(&g, args[1], signo, false, &op_err), &op_err, io);
	}
	if (n == 2 && strcmp(args[0], "pause") == 0)
		return inproc_result(container_pause(&g, args[1], &op_err), &op_err, io);
	if (n == 2 && strcmp(args[0], "resume") == 0)
		return inproc_result(container_resume(&g, args[1], &op_err), &op_err, io);
	if (n == 2 && strcmp(args[0], "state") == 0 && io->out == RUNTIME_CAPTURE) {
		json_t *j = NULL;
		int rc = container_state_json(&g, args[1], &j, &op_err);
		if (rc == 0) {
			io->out_text = json_dumps(j, JSON_COMPACT);
			json_decref(j);
		}
		return inproc_result(rc, &op_err, io);
	}
	return -ENOSYS;
}

int runtime_call(const char *runtime, const char *root, const char *const *args, runtime_io *io, berth_error **err)
{
	int inproc;

	runtime_io none = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_NULL, NULL, NULL, NULL };
	_cleanup_free_ char **argv = build_argv(runtime, root, args);
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, status;
	_cleanup_close_ int sealed = -EBADF;
	pid_t pid;

	if (io == NULL)
		io = &none;
	if (runtime_is_ours(runtime) && (inproc = runtime_call_inproc(root, args, io)) != -ENOSYS)
		return inproc;
	if (argv == NULL)
		return berth_error_set(err, ENOMEM, "runtime");
	/* our runtime starts from a read-only view of its binary right away,
	 * instead of re-executing itself into one (exe_guard.h) */
	if (runtime_is_ours(runtime)) {
		berth_error *ignored = NULL;
		sealed = exe_guard_open_sealed(runtime, &ignored);
		berth_error_free(&ignored);
	}
	if ((io->out == RUNTIME_CAPTURE && pipe2(outp, O_CLOEXEC) < 0) ||
	    (io->err == RUNTIME_CAPTURE && pipe2(errp, O_CLOEXEC) < 0))
		return berth_error_set(err, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return berth_error_set(err, errno, "fork");
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		child_stdio(0, io->in, -1);
		child_stdio(1, io->out, outp[1]);
		child_stdio(2, io->err, errp[1]);
		if (sealed >= 0)
			syscall(SYS_execveat, sealed, "", argv, environ, AT_EMPTY_PATH);
		execvp(runtime, argv);
		fprintf(stderr, "exec %s: %s\n", runtime, strerror(errno));
		_exit(127);
	}
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[1] >= 0)
		close(errp[1]);
	drain(outp[0], errp[0], io);
	if (outp[0] >= 0)
		close(outp[0]);
	if (errp[0] >= 0)
		close(errp[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "wait for %s", runtime);
	if (io->err_text) {
		size_t l = strlen(io->err_text);
		while (l > 0 && io->err_text[l - 1] == '\n')
			io->err_text[--l] = '\0';
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *runtime_status(const char *runtime, const char *root, const char *id)
{
	const char *args[] = { "state", id, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_CAPTURE, RUNTIME_NULL, NULL, NULL, NULL };
	berth_error *err = NULL;
	json_t *j;
	char *out = NULL;
	int rc = runtime_call(runtime, root, args, &io, &err);

	berth_error_free(&err);
	if (rc == 0 && io.out_text && (j = json_loads(io.out_text, 0, NULL)) != NULL) {
		const char *s = json_string_value(json_object_get(j, "status"));
		out = s ? strdup(s) : NULL;
		json_decref(j);
	}
	free(io.out_text);
	free(io.err_text);
	return out;
}

const char *engine_exe_dir(void)
{
	static char *dir;
	char buf[PATH_MAX];
	ssize_t n;

	if (dir)
		return dir;
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	dir = strdup(dirname(buf));
	return dir;
}

char *runtime_default_path(void)
{
	const char *dir = engine_exe_dir();
	const char *candidates[] = { "%s/../runtime/berth-runtime", "%s/berth-runtime" };
	char *path = NULL;

	for (size_t i = 0; dir && i < 2; i++) {
		if (asprintf(&path, candidates[i], dir) < 0)
			return NULL;
		if (access(path, X_OK) == 0)
			return path;
		free(path);
		path = NULL;
	}
	return strdup("berth-runtime");
}

char *engine_data_file(const char *name)
{
	const char *dirs[] = { BERTH_DATADIR,
#ifdef BERTH_SOURCE_DATADIR
			       BERTH_SOURCE_DATADIR,
#endif
			       NULL };
	char *path = NULL;

	for (size_t i = 0; dirs[i]; i++) {
		if (asprintf(&path, "%s/%s", dirs[i], name) < 0)
			return NULL;
		if (access(path, R_OK) == 0)
			return path;
		free(path);
		path = NULL;
	}
	return NULL;
}
