/* Cgroups for containers: v1, v2 and hybrid hosts behind one interface.
 *
 * The manager is created from the spec's cgroupsPath before the container
 * init exists, the init is placed into it (CLONE_INTO_CGROUP on v2, a write
 * to cgroup.procs on v1), resources are applied, and later commands (delete,
 * pause, update, ps, events) reopen it from the JSON saved in state.json.
 *
 * Paths: an absolute cgroupsPath is taken below each hierarchy's root; a
 * relative one (and the default, the container id) below the cgroup the
 * runtime process itself is in (read from /proc/self/cgroup), so tests and
 * nested runtimes never create cgroups at a hierarchy's root.  With
 * --systemd-cgroup, "slice:prefix:name" becomes "slice/prefix-name.scope"
 * below the root (no systemd D-Bus calls yet). */
#ifndef BERTH_RUNTIME_CGROUP_H
#define BERTH_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "spec/spec.h"
#include "util/error.h"

enum cgroup_mode {
	CGROUP_MODE_V1,	    /* only v1 controllers */
	CGROUP_MODE_HYBRID, /* v1 controllers plus a cgroup2 mount at <root>/unified */
	CGROUP_MODE_V2,	    /* unified hierarchy only */
};

typedef struct cgroup_manager cgroup_manager;

/* A mounted hierarchy found under fs_root, before any cgroup is computed. */
typedef struct cgroup_mount {
	char *controllers; /* v1: "cpu,cpuacct", "name=systemd" (as /proc/self/cgroup spells them); "" for unified */
	char *mount;	   /* "/sys/fs/cgroup/memory" */
	char *root;	   /* the cgroup mounted there ("/" unless a subtree is bind-mounted) */
	bool unified;
} cgroup_mount;

typedef struct cgroup_options {
	const char *fs_root;	  /* "/sys/fs/cgroup" (also when NULL); tests point it at a fake tree */
	const char *self_cgroup;  /* "/proc/self/cgroup" (also when NULL); tests point it at a fake file */
	const char *cgroups_path; /* spec linux.cgroupsPath, may be NULL */
	const char *container_id;
	bool systemd;  /* --systemd-cgroup: "slice:prefix:name" syntax */
	bool rootless; /* failures to create are warnings, not errors */
	/* Tests: skip the statfs detection and use FORCED_MODE on a fake tree of
	 * plain directories (v1 controllers are the subdirectories of fs_root,
	 * the unified hierarchy of hybrid is fs_root/unified). */
	bool force_mode;
	enum cgroup_mode forced_mode;
	/* The hierarchies as cgroup_read_mounts() found them (borrowed), or
	 * NULL: read here. */
	const cgroup_mount *mounts;
	size_t n_mounts;
	/* The mode cgroup_detect_mode() found just before for the same
	 * fs_root, when MODE_DETECTED: not asked again. */
	bool mode_detected;
	enum cgroup_mode detected_mode;
} cgroup_options;

/* Reads how the host mounts cgroups under OPTS->fs_root (statfs magic). */
int cgroup_detect_mode(const char *fs_root, enum cgroup_mode *mode, berth_error **err);

/* The hierarchies mounted under OPTS->fs_root in MODE, from one read of
 * /proc/self/mountinfo: the costly part of making a manager on a host with
 * many mounts (each line costs the kernel a d_path and the options of its
 * file system; 0.35 ms of CPU for 72 mounts on the test VM). */
int cgroup_read_mounts(const cgroup_options *opts, enum cgroup_mode mode, cgroup_mount **out, size_t *n,
		       berth_error **err);
void cgroup_mounts_free(cgroup_mount *m, size_t n);

/* Computes the paths and creates the cgroup directories. Nothing is created
 * when an error is returned. */
int cgroup_manager_create(const cgroup_options *opts, cgroup_manager **out, berth_error **err);

/* The unified directory fd for clone3(CLONE_INTO_CGROUP) on v2 and on
 * hybrid hosts (where it places the child in the unified hierarchy only),
 * or -1. */
int cgroup_manager_v2_fd(cgroup_manager *m);

/* Moves PID into every hierarchy of the cgroup. */
int cgroup_manager_enter(cgroup_manager *m, pid_t pid, berth_error **err);

/* `exec --cgroup`: checks the syntax of SUBS (NULL-terminated; each
 * "PATH" or "CONTROLLER[,CONTROLLER...]:PATH", as runc) for MODE: one bare
 * PATH alone, controllers only on v1 and named once, PATH relative
 * without "." or "..". */
int cgroup_check_sub_cgroups(const char *const *subs, enum cgroup_mode mode, berth_error **err);

/* Points M at those sub-cgroups of the container's cgroup, which must
 * exist (they are not created), for a cgroup_manager_enter() that follows;
 * hierarchies not named stay at the container's cgroup. Only for joining.
 * M is unchanged when an error is returned. */
int cgroup_manager_select_sub(cgroup_manager *m, const char *const *subs, berth_error **err);

/* Moves PID into the unified (v2) hierarchy only: for a child that
 * clone3(CLONE_INTO_CGROUP) could not place and that joins the v1
 * hierarchies itself (cgroup_join_self). */
int cgroup_manager_enter_unified(cgroup_manager *m, pid_t pid, berth_error **err);

/* A process that joins the cgroup itself. Writing a pid into cgroup.procs
 * takes the kernel's global cgroup_threadgroup_rwsem for writing, which
 * waits for an RCU grace period unless a write just before did so (4 to
 * 15 ms on the 2-CPU test VM: most of a `create`). A single-threaded
 * process that writes "0" into a v1 hierarchy's "tasks" file moves itself
 * without that lock, and clone3(CLONE_INTO_CGROUP) places a child on the
 * unified hierarchy without it (cgroup_manager_v2_fd, also on hybrid). */
#define CGROUP_JOIN_MAX 32
typedef struct cgroup_self_join {
	int fds[CGROUP_JOIN_MAX]; /* O_WRONLY of each v1 hierarchy's "tasks" file */
	char *paths[CGROUP_JOIN_MAX];
	size_t n;
} cgroup_self_join;

/* Opens the v1 "tasks" files for a process about to be made (the fds are
 * close-on-exec: a clone inherits them, an exec'd program does not). The
 * permission to move is checked against the opener's credentials, so a
 * child in a new user namespace can still use them. */
int cgroup_manager_open_join(cgroup_manager *m, cgroup_self_join *j, berth_error **err);

/* In the joining single-threaded process: writes "0" into each file. */
int cgroup_join_self(const cgroup_self_join *j, berth_error **err);

void cgroup_join_close(cgroup_self_join *j);

/* Writes linux.resources (also used by `update`). Fields the host lacks
 * (a controller not mounted) are an error only when actually requested. */
int cgroup_manager_apply(cgroup_manager *m, const spec_resources *r, berth_error **err);

/* Freezes or thaws every process of the cgroup (freezer v1 / cgroup.freeze v2),
 * waiting until the kernel reports the new state. */
int cgroup_manager_freeze(cgroup_manager *m, bool frozen, berth_error **err);
/* Reports whether the cgroup is frozen. */
int cgroup_manager_is_frozen(cgroup_manager *m, bool *frozen, berth_error **err);

/* Every pid in the cgroup (and its children), sorted. */
int cgroup_manager_pids(cgroup_manager *m, pid_t **pids, size_t *n, berth_error **err);

/* Whether this manager made the cgroup whose pids cgroup_manager_pids()
 * reads (mkdir succeeded): it holds no process until one is moved in. */
bool cgroup_manager_made_cgroup(cgroup_manager *m);

/* Sends SIGNO to every process in the cgroup (kill --all). */
int cgroup_manager_kill_all(cgroup_manager *m, int signo, berth_error **err);

/* `events --stats` data in runc's JSON shape: {"cpu":{...},"memory":{...},"pids":{...},...} */
int cgroup_manager_stats(cgroup_manager *m, json_t **out, berth_error **err);

/* Removes the cgroup directories (retrying while the last tasks exit). */
int cgroup_manager_destroy(cgroup_manager *m, berth_error **err);

/* Serialised for state.json and reopened by later commands. */
json_t *cgroup_manager_to_json(cgroup_manager *m);
int cgroup_manager_from_json(json_t *j, cgroup_manager **out, berth_error **err);

/* The path of the cgroup inside the hierarchy (for cgroup namespace and ps):
 * the unified one on v2, else the one of the pids (or memory, freezer, first)
 * hierarchy. */
const char *cgroup_manager_path(cgroup_manager *m);

/* The mode the manager was created (or reopened) in. */
enum cgroup_mode cgroup_manager_mode(cgroup_manager *m);

/* "v1", "hybrid", "v2". */
const char *cgroup_mode_name(enum cgroup_mode mode);

void cgroup_manager_free(cgroup_manager *m);

#define _cleanup_cgroup_manager_ __attribute__((cleanup(cgroup_manager_freep)))
static inline void cgroup_manager_freep(cgroup_manager **m)
{
	if (*m)
		cgroup_manager_free(*m);
	*m = NULL;
}

#endif
