/* create and run: the runtime side of bringing a container to "created". */
#include "runtime/container.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sched.h>

#include "runtime/cgroup.h"
#include "runtime/cpu_affinity.h"
#include "runtime/exe_guard.h"
#include "runtime/container_internal.h"
#include "runtime/hooks.h"
#include "runtime/idmap_mount.h"
#include "runtime/init.h"
#include "runtime/lsm.h"
#include "runtime/memory_policy.h"
#include "runtime/namespaces.h"
#include "runtime/ns_ahead.h"
#include "runtime/net_devices.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/proc.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Everything create has set up so far, undone in reverse on failure. */
typedef struct create_tx {
	const runtime_globals *g;
	const char *id;
	int dirfd;
	int lockfd;
	cgroup_manager *cgroup;
	/* the hierarchies, read once before the clone for the runtime and the
	 * init (NULL on v2, or when the read failed: each reads them) */
	cgroup_mount *mounts;
	size_t n_mounts;
	bool mode_detected; /* MODE is the host's, read once */
	enum cgroup_mode mode;
	pid_t pid;
	bool dir_created;
} create_tx;

static void create_rollback(create_tx *tx)
{
	_cleanup_error_ berth_error *err = NULL;

	if (tx->pid > 0) {
		kill(tx->pid, SIGKILL);
		while (waitpid(tx->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (tx->cgroup != NULL) {
		cgroup_manager_kill_all(tx->cgroup, SIGKILL, NULL);
		if (cgroup_manager_destroy(tx->cgroup, &err) < 0)
			berth_log(BERTH_LOG_WARNING, "clean up after failed create: %s", err->msg);
		berth_error_free(&err);
		cgroup_manager_free(tx->cgroup);
		tx->cgroup = NULL;
	}
	if (tx->dir_created && state_dir_remove(tx->g->root, tx->id, &err) < 0)
		berth_log(BERTH_LOG_WARNING, "clean up after failed create: %s", err->msg);
	if (tx->lockfd >= 0)
		close(tx->lockfd);
	if (tx->dirfd >= 0)
		close(tx->dirfd);
	tx->lockfd = tx->dirfd = -1;
}

static char *now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64], *out = NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* not gmtime_r nor strftime: they load the time zone (/etc/localtime) */
	berth_utc_time(ts.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (asprintf(&out, "%s.%09ldZ", buf, ts.tv_nsec) < 0)
		return NULL;
	return out;
}

static int resolve_rootfs(const spec *s, const char *bundle, char **out, berth_error **err)
{
	_cleanup_free_ char *joined =
	    s->root_path[0] == '/' ? strdup(s->root_path) : fs_path_join(bundle, s->root_path);
	char resolved[PATH_MAX];
	struct stat st;

	if (joined == NULL)
		return berth_error_set(err, ENOMEM, "root.path");
	if (realpath(joined, resolved) == NULL)
		return berth_error_set(err, errno, "root.path: rootfs \"%s\"", joined);
	if (stat(resolved, &st) < 0 || !S_ISDIR(st.st_mode))
		return berth_error_set(err, ENOTDIR, "root.path: rootfs \"%s\"", joined);
	*out = strdup(resolved);
	return *out ? 0 : berth_error_set(err, ENOMEM, "root.path");
}

/* The device rules applied to the cgroup: the spec's, then allow rules for
 * the nodes the runtime itself creates (default devices, /dev/pts, ptmx,
 * console), for linux.devices, and mknod of anything (as runc does). */
static int effective_device_rules(const spec *s, spec_device_rule **out, size_t *n, berth_error **err)
{
	static const spec_device_rule defaults[] = {
		{ true, 'c', -1, -1, "m" }, { true, 'b', -1, -1, "m" },	   { true, 'c', 1, 3, "rwm" },
		{ true, 'c', 1, 5, "rwm" }, { true, 'c', 1, 7, "rwm" },	   { true, 'c', 1, 8, "rwm" },
		{ true, 'c', 1, 9, "rwm" }, { true, 'c', 5, 0, "rwm" },	   { true, 'c', 5, 1, "rwm" },
		{ true, 'c', 5, 2, "rwm" }, { true, 'c', 136, -1, "rwm" }, { true, 'c', 10, 200, "rwm" },
	};
	size_t nd = sizeof(defaults) / sizeof(defaults[0]);
	size_t total = s->resources.n_devices + nd + s->n_devices;
	spec_device_rule *rules = calloc(total + 1, sizeof(*rules));
	size_t k = 0;

	if (rules == NULL)
		return berth_error_set(err, ENOMEM, "device rules");
	for (size_t i = 0; i < s->resources.n_devices; i++)
		rules[k++] = s->resources.devices[i];
	for (size_t i = 0; i < nd; i++)
		rules[k++] = defaults[i];
	for (size_t i = 0; i < s->n_devices; i++) {
		const spec_device *d = &s->devices[i];
		if (d->type == 'p')
			continue;
		rules[k++] = (spec_device_rule){ true, d->type == 'b' ? 'b' : 'c', d->major, d->minor, "rwm" };
	}
	*out = rules;
	*n = k;
	return 0;
}

static int apply_resources(cgroup_manager *cg, const spec *s, berth_error **err)
{
	spec_resources r = s->resources;
	_cleanup_free_ spec_device_rule *rules = NULL;

	if (!s->has_resources)
		return 0;
	if (s->resources.n_devices > 0) {
		if (effective_device_rules(s, &rules, &r.n_devices, err) < 0)
			return -1;
		r.devices = rules;
	}
	return cgroup_manager_apply(cg, &r, err);
}

/* The config file, absolute: a relative --config is taken from the bundle
 * (as crun, which works in the bundle), so that exec and delete read it
 * again from any directory. NULL on ENOMEM. */
static char *config_path_of(const create_options *opts)
{
	if (opts->config_path == NULL)
		return fs_path_join(opts->bundle, "config.json");
	if (opts->config_path[0] == '/')
		return strdup(opts->config_path);
	return fs_path_join(opts->bundle, opts->config_path);
}

/* Fills the state object for hooks and state.json. */
static int fill_state(container_state *st, const spec *s, const create_options *opts, const char *config_path,
		      const char *rootfs, const runtime_globals *g, berth_error **err)
{
	st->id = strdup(opts->id);
	st->bundle = strdup(opts->bundle);
	st->rootfs = strdup(rootfs);
	st->oci_version = strdup(s->oci_version);
	st->config_path = strdup(config_path);
	st->created = now_rfc3339();
	st->owner = geteuid();
	st->systemd_cgroup = g->systemd_cgroup;
	st->rootless = g->rootless;
	st->has_poststart_hooks = s->hooks[HOOK_POSTSTART].n > 0;
	st->has_poststop_hooks = s->hooks[HOOK_POSTSTOP].n > 0;
	st->status = STATUS_CREATING;
	st->annotations = json_object();
	for (size_t i = 0; i < s->n_annotations; i++)
		json_object_set_new(st->annotations, s->annotations[i].key, json_string(s->annotations[i].value));
	if (!st->id || !st->bundle || !st->rootfs || !st->oci_version || !st->config_path || !st->created)
		return berth_error_set(err, ENOMEM, "container state");
	return 0;
}

static int send_seccomp_listener(const spec *s, const container_state *st, int fd, berth_error **err)
{
	json_t *obj = json_object();
	_cleanup_free_ char *text = NULL;
	int ret;

	json_object_set_new(obj, "ociVersion", json_string(s->oci_version));
	json_object_set_new(obj, "fds", json_pack("[s]", "seccompFd"));
	json_object_set_new(obj, "pid", json_integer(st->pid));
	json_object_set_new(obj, "metadata",
			    json_string(s->seccomp.listener_metadata ? s->seccomp.listener_metadata : ""));
	json_object_set_new(obj, "state", state_to_oci_json(st, STATUS_CREATING));
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	ret = seccomp_send_listener(s->seccomp.listener_path, fd, text ? text : "{}", err);
	return ret < 0 ? berth_error_wrap(err, "linux.seccomp.listenerPath") : 0;
}

/* Talks to the init until it is blocked on the exec fifo. */
static int drive_init(const spec *s, container_state *st, int sock, int console_sock, int *master_out,
		      berth_error **err)
{
	for (;;) {
		_cleanup_free_ char *payload = NULL;
		sync_msg msg;
		int fd = -1;

		if (sync_recv(sock, &msg, &payload, &fd, err) < 0)
			return -1;
		switch (msg.type) {
		case SYNC_ERROR:
			if (fd >= 0)
				close(fd);
			return berth_error_set(err, 0, "%s", payload ? payload : "container init failed");
		case SYNC_CONSOLE:
			if (console_sock >= 0) {
				int ret = sync_send_fd(console_sock, fd, "console", err);
				close(fd);
				if (ret < 0)
					return berth_error_wrap(err, "console socket");
			} else if (master_out != NULL) {
				*master_out = fd;
			} else {
				close(fd);
			}
			break;
		case SYNC_HOOKS: {
			_cleanup_free_ char *state_json = state_to_oci_string(st, STATUS_CREATING);
			if (hooks_run(s, HOOK_PRESTART, state_json, err) < 0 ||
			    hooks_run(s, HOOK_CREATE_RUNTIME, state_json, err) < 0)
				return -1;
			if (sync_send(sock, SYNC_HOOKS_DONE, 0, state_json, -1, err) < 0)
				return -1;
			break;
		}
		case SYNC_SECCOMP: {
			int ret = send_seccomp_listener(s, st, fd, err);
			close(fd);
			if (ret < 0 || sync_send(sock, SYNC_SECCOMP_DONE, 0, NULL, -1, err) < 0)
				return -1;
			break;
		}
		case SYNC_READY:
			return 0;
		default:
			if (fd >= 0)
				close(fd);
			return berth_error_set(err, EPROTO, "unexpected message %d from the container init", msg.type);
		}
	}
}

/* A cgroup that already has processes belongs to someone else (another
 * container with the same cgroupsPath): joining it would let kill --all,
 * delete and a failed create kill that container's processes. */
static int refuse_busy_cgroup(create_tx *tx, berth_error **err)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	if (cgroup_manager_made_cgroup(tx->cgroup))
		return 0; /* made just now: nobody is in it */
	if (cgroup_manager_pids(tx->cgroup, &pids, &n, err) < 0)
		return berth_error_wrap(err, "linux.cgroupsPath");
	if (n == 0)
		return 0;
	berth_error_set(err, 0,
			"linux.cgroupsPath: the cgroup \"%s\" already has %zu process(es) (another container's?)",
			cgroup_manager_path(tx->cgroup), n);
	/* not ours: the rollback must neither kill nor remove it */
	cgroup_manager_free(tx->cgroup);
	tx->cgroup = NULL;
	return -1;
}

/* systemd socket activation: the LISTEN_FDS fds from 3 on, when LISTEN_PID
 * names this process or is unset. A LISTEN_PID of another process is an
 * environment inherited from an ancestor: its fds are not ours to pass. */
static int socket_activation_fds(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	char *end;
	long n;

	if (fds == NULL)
		return 0;
	n = strtol(fds, &end, 10);
	if (end == fds || *end != '\0' || n <= 0 || n > 65000)
		return 0;
	if (pid != NULL && pid[0] != '\0' && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	return (int)n;
}

static int check_terminal_options(const spec *s, const create_options *opts, bool foreground, berth_error **err)
{
	if (s->process->terminal && opts->console_socket == NULL && !foreground)
		return berth_error_set(
		    err, EINVAL, "process.terminal is true: --console-socket is required to receive the pty master");
	if (!s->process->terminal && opts->console_socket != NULL)
		return berth_error_set(err, EINVAL, "--console-socket given but process.terminal is false");
	return 0;
}

/* Parent-side namespace changes that only affect children (pid, time):
 * applied before clone and undone right after, so hooks the runtime runs
 * later stay in the runtime's namespaces. */
typedef struct child_ns_switch {
	int saved[2]; /* pid, time */
} child_ns_switch;

static int enter_child_namespaces(const spec *s, const int ns_fds[NS_TYPES], int *clone_flags, child_ns_switch *sw,
				  berth_error **err)
{
	sw->saved[0] = sw->saved[1] = -1;
	if (ns_fds[NS_PID] >= 0) {
		sw->saved[0] = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (setns(ns_fds[NS_PID], CLONE_NEWPID) < 0)
			return berth_error_set(err, errno, "join pid namespace \"%s\"", s->namespaces[NS_PID].path);
	}
	if (ns_fds[NS_TIME] >= 0) {
		sw->saved[1] = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
		if (setns(ns_fds[NS_TIME], CLONE_NEWTIME) < 0)
			return berth_error_set(err, errno, "join time namespace \"%s\"", s->namespaces[NS_TIME].path);
	} else if (*clone_flags & CLONE_NEWTIME) {
		/* offsets can only be written before a process enters */
		sw->saved[1] = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
		if (unshare(CLONE_NEWTIME) < 0)
			return berth_error_set(err, errno, "create time namespace");
		if (namespaces_write_time_offsets(s, err) < 0)
			return -1;
		*clone_flags &= ~CLONE_NEWTIME;
	}
	return 0;
}

static void leave_child_namespaces(child_ns_switch *sw)
{
	if (sw->saved[0] >= 0) {
		setns(sw->saved[0], CLONE_NEWPID);
		close(sw->saved[0]);
	}
	if (sw->saved[1] >= 0) {
		setns(sw->saved[1], CLONE_NEWTIME);
		close(sw->saved[1]);
	}
	sw->saved[0] = sw->saved[1] = -1;
}

/* Creates the container's cgroup (tx->cgroup), records it in the state and
 * applies linux.resources. */
/* The v1 "tasks" files the init joins itself (cgroup_self_join), sent
 * before SYNC_GO. */
static int send_cgroup_join(int sock, cgroup_manager *cg, berth_error **err)
{
	cgroup_self_join join = { .n = 0 };
	_cleanup_free_ char *paths = NULL;
	size_t len = 0;
	int ret;

	if (cgroup_manager_open_join(cg, &join, err) < 0)
		return -1;
	if (join.n == 0)
		return 0;
	/* one message: the fds, and their paths (for errors) one a line */
	for (size_t i = 0; i < join.n; i++)
		len += strlen(join.paths[i]) + 1;
	paths = calloc(1, len + 1);
	if (paths == NULL) {
		cgroup_join_close(&join);
		return berth_error_set(err, ENOMEM, "cgroup: join");
	}
	for (size_t i = 0, off = 0; i < join.n; i++) {
		for (const char *c = join.paths[i]; *c; c++)
			paths[off++] = *c == '\n' ? '?' : *c;
		paths[off++] = '\n';
	}
	ret = sync_send_fds(sock, SYNC_CGROUP_JOIN, (int)join.n, paths, join.fds, join.n, err);
	cgroup_join_close(&join);
	return ret;
}

static int make_cgroup(create_tx *tx, const runtime_globals *g, const spec *s, const create_options *opts,
		       container_state *st, berth_error **err)
{
	cgroup_options co = {
		.fs_root = g->cgroup_fs_root ? g->cgroup_fs_root : "/sys/fs/cgroup",
		.self_cgroup = "/proc/self/cgroup",
		.cgroups_path = s->cgroups_path,
		.container_id = opts->id,
		.systemd = g->systemd_cgroup,
		.rootless = g->rootless,
		.mounts = tx->mounts,
		.n_mounts = tx->n_mounts,
		.mode_detected = tx->mode_detected,
		.detected_mode = tx->mode,
	};

	if (cgroup_manager_create(&co, &tx->cgroup, err) < 0 || refuse_busy_cgroup(tx, err) < 0)
		return -1;
	/* Record the cgroup at once: a create killed from here on leaves a
	 * state.json from which delete --force removes it. */
	st->cgroup = cgroup_manager_to_json(tx->cgroup);
	return state_write(tx->dirfd, st, err);
}

/* Whether the init can seal itself (exe_guard_seal_in_mount_ns) instead of
 * the runtime before the clone: only in a new pid namespace (no process of
 * a joined one may see the init before it is sealed), in a new mount
 * namespace that takes no mount events back to the host (no shared
 * rootfsPropagation) and whose old root goes at pivot_root. */
static bool init_can_seal_itself(const spec *s, const create_options *opts, bool late_userns)
{
	return s->namespaces[NS_PID].requested && s->namespaces[NS_PID].path == NULL &&
	       s->namespaces[NS_MOUNT].requested && s->namespaces[NS_MOUNT].path == NULL && !late_userns &&
	       !opts->no_pivot && !(s->rootfs_propagation & MS_SHARED) && exe_guard_in_place_possible();
}

/* Whether the container runs in a new user namespace of its own, in a new
 * pid namespace (no process outside it can see the init before its execve)
 * and with mappings under which nothing can write the runtime's binary
 * (exe_guard_unwritable_in_userns): the guard against CVE-2019-5736 has
 * nothing to do then. */
static bool userns_cannot_write_binary(const spec *s)
{
	return s->namespaces[NS_USER].requested && s->namespaces[NS_USER].path == NULL &&
	       s->namespaces[NS_PID].requested && s->namespaces[NS_PID].path == NULL &&
	       exe_guard_unwritable_in_userns(s->uid_mappings, s->n_uid_mappings, s->gid_mappings, s->n_gid_mappings);
}

/* After a failure while the init may be setting up early: the error it
 * reported, if it did (its failure may be the cause of ours). */
static void init_error(int sock, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	struct pollfd p = { .fd = sock, .events = POLLIN };
	berth_error *ignored = NULL;
	sync_msg msg;

	if (poll(&p, 1, 0) != 1)
		return;
	if (sync_recv(sock, &msg, &text, NULL, &ignored) == 0 && msg.type == SYNC_ERROR && text != NULL) {
		berth_error_free(err);
		berth_error_set(err, 0, "%s", text);
	}
	berth_error_free(&ignored);
}

int container_create_internal(const runtime_globals *g, const create_options *opts, bool foreground, int *exec_fd_out,
			      pid_t *pid_out, int *master_out, create_kept *kept, berth_error **err)
{
	_cleanup_spec_ spec *s = opts->config; /* taken */
	_cleanup_free_ char *config_path = NULL;
	_cleanup_free_ char *rootfs = NULL;
	_cleanup_free_ char *cache_dir = NULL;
	_cleanup_close_ int console_sock = -EBADF;
	_cleanup_state_ container_state *st = calloc(1, sizeof(container_state));
	create_tx tx = { .g = g, .id = opts->id, .dirfd = -1, .lockfd = -1 };
	seccomp_filter filter = { 0 };
	idmap_mounts idmap = { 0 };
	child_ns_switch nsw = { { -1, -1 } };
	__attribute__((cleanup(ns_ahead_cancel))) ns_ahead ahead = { .started = false };
	int ns_fds[NS_TYPES], sv[2] = { -1, -1 }, clone_flags, listen_fds;
	bool new_userns, late_userns = false, early, cgroup_first, in_cgroup, start = exec_fd_out != NULL;
	bool guard, seal_in_init;
	enum cgroup_mode mode;
	pid_t intermediate = 0;
	cpu_spread spread = { .on = false };

	for (int t = 0; t < NS_TYPES; t++)
		ns_fds[t] = -1;
	if (st == NULL)
		return berth_error_set(err, ENOMEM, "create");
	/* parse -> validate: nothing on the host changes before this passes */
	if (spec_validate_container_id(opts->id, err) < 0)
		return -1;
	config_path = config_path_of(opts);
	if (config_path == NULL || (s == NULL && spec_load(config_path, &s, err) < 0))
		return -1;
	if (s->process == NULL)
		return berth_error_set(err, EINVAL, "%s: process: required to create a container", config_path);
	clone_flags = namespaces_clone_flags(s) & ~CLONE_NEWCGROUP;
	new_userns = (clone_flags & CLONE_NEWUSER) != 0;
	if (new_userns) {
		for (int t = 0; t < NS_TYPES; t++)
			if (s->namespaces[t].path != NULL && t != NS_PID && t != NS_TIME)
				late_userns = true;
		if (late_userns && s->namespaces[NS_PID].path != NULL)
			return berth_error_set(err, ENOTSUP,
					       "linux.namespaces: joining a pid namespace together with a new user "
					       "namespace and other joined namespaces is not supported");
	} else if (s->namespaces[NS_USER].path != NULL && (clone_flags & ~CLONE_NEWTIME) != 0) {
		/* A joined user namespace must own the namespaces created for
		 * the container, or its root could not use them (sethostname,
		 * mount): create them after joining it. */
		late_userns = true;
	}
	guard = g->exe_guard_argv != NULL;
	if (guard && userns_cannot_write_binary(s)) {
		berth_debug("runtime binary: not sealed: the container's user namespace maps neither its owner nor its "
			    "group, and nothing else grants a write");
		guard = false;
	}
	seal_in_init = guard && init_can_seal_itself(s, opts, late_userns);
	/* may re-execute: nothing has changed yet */
	if (guard && !seal_in_init && exe_guard_seal_self(g->exe_guard_argv, err) < 0)
		return -1;
	/* from here on a single thread no more until ns_ahead_finish; network
	 * devices are moved into the init's namespace by its pid, which must
	 * have joined it by then */
	if (!late_userns && s->n_net_devices == 0)
		ns_ahead_start(&ahead, s, clone_flags);
	if (resolve_rootfs(s, opts->bundle, &rootfs, err) < 0 || check_terminal_options(s, opts, foreground, err) < 0 ||
	    lsm_check_available(s->process, err) < 0 || memory_policy_check_host(&s->memory_policy, err) < 0 ||
	    net_devices_check_host(s, err) < 0)
		return -1;
	if (namespaces_open_paths(s, ns_fds, err) < 0)
		return -1;
	if (opts->console_socket != NULL) {
		console_sock = terminal_connect_console_socket(opts->console_socket, err);
		if (console_sock < 0)
			goto fail_early;
	}
	cache_dir = fs_path_join(g->root, ".seccomp-cache");
	if (s->seccomp.present && seccomp_filter_prepare(&s->seccomp, cache_dir, &filter, err) < 0) {
		berth_error_wrap(err, "linux.seccomp");
		goto fail_early;
	}
	/* detached mount trees: nothing on the host sees them */
	if (idmap_mounts_prepare(s, ns_fds[NS_USER], g->rootless, &idmap, err) < 0)
		goto fail_early;

	/* act: from here on every failure rolls back what was done */
	tx.dirfd = state_dir_create(g->root, opts->id, err);
	if (tx.dirfd < 0)
		goto fail_early;
	tx.dir_created = true;
	/* state.json ("creating") is first written with the cgroup, which is
	 * made before anything else that could be left behind: until then a
	 * killed create leaves only the directory, which delete --force
	 * removes (as it removes one killed before any write). */
	tx.lockfd = state_lock(tx.dirfd, err);
	if (tx.lockfd < 0 || fill_state(st, s, opts, config_path, rootfs, g, err) < 0)
		goto fail;
	if (exec_fd_out != NULL)
		*exec_fd_out = -1;
	if (!start &&
	    (mkfifoat(tx.dirfd, STATE_EXEC_FIFO, 0622) < 0 || fchmodat(tx.dirfd, STATE_EXEC_FIFO, 0622, 0) < 0)) {
		berth_error_set(err, errno, "create the exec fifo");
		goto fail;
	}
	/* No write of the init's pid into cgroup.procs, which waits for an RCU
	 * grace period (cgroup_self_join): on v2 and hybrid hosts
	 * clone3(CLONE_INTO_CGROUP) places it in the unified cgroup, which
	 * must exist first, and it joins the v1 hierarchies itself through
	 * files sent before SYNC_GO. On v1 and hybrid (not rootless with a
	 * user namespace, nor with a late one) the init builds its rootfs
	 * meanwhile (on v1 while the cgroup is made too, unless namespaces are
	 * made ahead: see cgroup_first), once a new user namespace is mapped
	 * (SYNC_MAPS_DONE); it waits for SYNC_GO only before the cgroup
	 * namespace, the cgroup mounts and the device nodes. */
	if (cgroup_detect_mode(g->cgroup_fs_root ? g->cgroup_fs_root : "/sys/fs/cgroup", &mode, NULL) < 0)
		mode = CGROUP_MODE_V1;
	else
		tx.mode_detected = true;
	tx.mode = mode;
	early = !late_userns && mode != CGROUP_MODE_V2 && !(new_userns && g->rootless);
	/* With a thread making namespaces ahead the runtime waits for it
	 * before the clone: making the cgroups meanwhile costs no time. */
	cgroup_first = !early || mode == CGROUP_MODE_HYBRID || ahead.started;
	if (mode != CGROUP_MODE_V2) {
		cgroup_options co = { .fs_root = g->cgroup_fs_root ? g->cgroup_fs_root : "/sys/fs/cgroup" };
		berth_error *ignored = NULL;
		if (cgroup_read_mounts(&co, mode, &tx.mounts, &tx.n_mounts, &ignored) < 0) {
			berth_error_free(&ignored);
			tx.mounts = NULL;
			tx.n_mounts = 0;
		}
	}
	if (cgroup_first && make_cgroup(&tx, g, s, opts, st, err) < 0)
		goto fail;
	if (!early && apply_resources(tx.cgroup, s, err) < 0) {
		berth_error_wrap(err, "linux.resources");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		berth_error_set(err, errno, "socketpair");
		goto fail;
	}
	ns_ahead_finish(&ahead, ns_fds, &clone_flags);
	if (enter_child_namespaces(s, ns_fds, &clone_flags, &nsw, err) < 0) {
		leave_child_namespaces(&nsw);
		goto fail;
	}
	listen_fds = socket_activation_fds();
	if (seal_in_init)
		exe_guard_note_path();
	if (early)
		cpu_spread_plan(&spread);
	tx.pid = namespaces_clone(late_userns ? (clone_flags & CLONE_NEWTIME) : clone_flags,
				  tx.cgroup ? cgroup_manager_v2_fd(tx.cgroup) : -1, &in_cgroup);
	if (tx.pid == 0) {
		init_config cfg = {
			.spec = s,
			.id = opts->id,
			.rootfs = rootfs,
			.sync_fd = sv[1],
			.state_dirfd = tx.dirfd,
			.start_now = start,
			.seal_exe = seal_in_init,
			.no_pivot = opts->no_pivot,
			.no_new_keyring = opts->no_new_keyring,
			.new_userns = new_userns,
			.late_userns = late_userns,
			.late_flags = clone_flags & ~(CLONE_NEWUSER | CLONE_NEWTIME),
			.early_setup = early,
			.spread = &spread,
			.cgroup_clone_fd = tx.cgroup ? cgroup_manager_v2_fd(tx.cgroup) : -1,
			.cgroup_mounts = tx.mounts,
			.n_cgroup_mounts = tx.n_mounts,
			.preserve_fds = opts->preserve_fds,
			.seccomp = s->seccomp.present ? &filter : NULL,
			.idmap_fds = idmap.fds,
		};
		/* The flock lives in the open file description: a copy kept by
		 * the init would hold the lock for the container's lifetime. */
		close(sv[0]);
		close(tx.lockfd);
		if (console_sock >= 0)
			close(console_sock);
		/* the socket activation fds come first, --preserve-fds after them */
		cfg.listen_fds = listen_fds;
		cfg.preserve_fds = listen_fds + opts->preserve_fds;
		memcpy(cfg.ns_fds, ns_fds, sizeof(ns_fds));
		container_init_main(&cfg);
	}
	leave_child_namespaces(&nsw);
	if (tx.pid < 0) {
		berth_error_set(err, errno, "clone the container init");
		tx.pid = 0;
		goto fail;
	}
	close(sv[1]);
	sv[1] = -1;
	st->pid = tx.pid;
	cpu_spread_move(&spread, tx.pid);
	/* the init of a new user namespace needs its maps for anything it builds */
	if (early && new_userns &&
	    (namespaces_write_id_maps(tx.pid, s, g->rootless, err) < 0 ||
	     sync_send(sv[0], SYNC_MAPS_DONE, 0, NULL, -1, err) < 0)) {
		init_error(sv[0], err);
		goto fail;
	}
	if (!cgroup_first && make_cgroup(&tx, g, s, opts, st, err) < 0) {
		init_error(sv[0], err);
		goto fail;
	}
	if (early && apply_resources(tx.cgroup, s, err) < 0) {
		berth_error_wrap(err, "linux.resources");
		init_error(sv[0], err);
		goto fail;
	}
	/* the intermediate of late_userns forks the init: it is moved whole */
	if ((late_userns && cgroup_manager_enter(tx.cgroup, tx.pid, err) < 0) ||
	    (!late_userns && ((!in_cgroup && cgroup_manager_enter_unified(tx.cgroup, tx.pid, err) < 0) ||
			      send_cgroup_join(sv[0], tx.cgroup, err) < 0))) {
		init_error(sv[0], err);
		goto fail;
	}
	if (new_userns && !late_userns && !early && namespaces_write_id_maps(tx.pid, s, g->rootless, err) < 0)
		goto fail;
	if (sync_send(sv[0], SYNC_GO, 0, NULL, -1, err) < 0) {
		init_error(sv[0], err);
		goto fail;
	}
	if (late_userns) {
		/* maps for the intermediate's new user namespace, then the real
		 * init's pid; the intermediate exits */
		_cleanup_free_ char *text = NULL;
		sync_msg msg;
		if (new_userns && (sync_expect(sv[0], SYNC_USERNS, NULL, NULL, err) < 0 ||
				   namespaces_write_id_maps(tx.pid, s, g->rootless, err) < 0 ||
				   sync_send(sv[0], SYNC_MAPS_DONE, 0, NULL, -1, err) < 0))
			goto fail;
		if (sync_recv(sv[0], &msg, &text, NULL, err) < 0)
			goto fail;
		if (msg.type != SYNC_GRANDCHILD_PID) {
			berth_error_set(err, 0, "%s", text ? text : "container init failed");
			goto fail;
		}
		intermediate = tx.pid;
		tx.pid = msg.value;
		while (waitpid(intermediate, NULL, 0) < 0 && errno == EINTR)
			;
		st->pid = tx.pid;
	}
	idmap_mounts_clear(&idmap);
	if (net_devices_move(s, tx.pid, err) < 0)
		goto fail;
	/* the maps are written: the ids translate now (before SYNC_READY,
	 * after which `run`'s process starts) */
	if (!s->process->terminal && process_chown_stdio(tx.pid, s->process->user.uid, s->process->user.gid, err) < 0) {
		init_error(sv[0], err);
		goto fail;
	}
	if (drive_init(s, st, sv[0], console_sock, master_out, err) < 0)
		goto fail;
	/* the devices moved while the init went on: now it may exec */
	if (start && s->n_net_devices > 0 && sync_send(sv[0], SYNC_START, 0, NULL, -1, err) < 0)
		goto fail;
	if (start && s->hooks[HOOK_POSTSTART].n > 0) {
		/* EOF once the process runs, for the poststart hooks */
		*exec_fd_out = sv[0];
	} else {
		close(sv[0]);
	}
	sv[0] = -1;
	st->pid_start_time = proc_pid_start_time(tx.pid);
	st->status = start ? STATUS_RUNNING : STATUS_CREATED;
	if (state_write(tx.dirfd, st, err) < 0)
		goto fail;
	if (opts->pid_file && state_write_pid_file(opts->pid_file, tx.pid, err) < 0)
		goto fail;
	*pid_out = tx.pid;
	cgroup_mounts_free(tx.mounts, tx.n_mounts);
	namespaces_close_fds(ns_fds);
	seccomp_filter_clear(&filter);
	cgroup_manager_free(tx.cgroup);
	close(tx.lockfd);
	if (kept != NULL) {
		kept->state = move_ptr(st);
		kept->dirfd = tx.dirfd;
	} else {
		close(tx.dirfd);
	}
	return 0;

fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (exec_fd_out != NULL && *exec_fd_out >= 0) {
		close(*exec_fd_out);
		*exec_fd_out = -1;
	}
	if (sv[1] >= 0)
		close(sv[1]);
	if (master_out && *master_out >= 0) {
		close(*master_out);
		*master_out = -1;
	}
	create_rollback(&tx);
	cgroup_mounts_free(tx.mounts, tx.n_mounts);
fail_early:
	namespaces_close_fds(ns_fds);
	seccomp_filter_clear(&filter);
	idmap_mounts_clear(&idmap);
	return -1;
}

int container_create(const runtime_globals *g, const create_options *opts, berth_error **err)
{
	pid_t pid;
	if (container_create_internal(g, opts, false, NULL, &pid, NULL, NULL, err) < 0)
		return berth_error_wrap(err, "create %s", opts->id);
	if (opts->pid_out != NULL)
		*opts->pid_out = pid;
	return 0;
}
