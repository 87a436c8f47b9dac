/* The runtime's state store: ROOT/ID/ holds state.json, the lock and the
 * exec fifo of one container.
 *
 * state.json is written atomically at every step (creating, created,
 * running) and the live status is derived when read: a dead init (or a pid
 * reused by another process, caught by comparing start times) is "stopped",
 * a frozen cgroup is "paused". */
#ifndef BERTH_RUNTIME_STATE_H
#define BERTH_RUNTIME_STATE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "util/error.h"

#define STATE_FILE	"state.json"
#define STATE_EXEC_FIFO "exec.fifo"
#define STATE_LOCK_FILE ".lock"

enum container_status {
	STATUS_CREATING,
	STATUS_CREATED,
	STATUS_RUNNING,
	STATUS_PAUSED,
	STATUS_STOPPED,
};

typedef struct container_state {
	char *id;
	char *bundle;
	char *rootfs;
	char *oci_version;
	char *config_path;
	pid_t pid;
	unsigned long long pid_start_time; /* field 22 of /proc/PID/stat */
	enum container_status status;	   /* as last written */
	char *created;			   /* RFC 3339 */
	uid_t owner;
	bool systemd_cgroup;
	bool rootless;
	bool has_poststart_hooks; /* config.json has poststart/poststop hooks: */
	bool has_poststop_hooks;  /* only then do start/delete read it again */
	json_t *annotations;	  /* object */
	json_t *cgroup;		  /* cgroup_manager_to_json() */
	json_t *config;		  /* the parsed-and-validated config.json as loaded */
} container_state;

const char *state_status_name(enum container_status status);

/* Default --root: /run/berth-runtime, or $XDG_RUNTIME_DIR/berth-runtime
 * when rootless. Heap string. */
char *state_default_root(bool rootless);

/* Creates ROOT (0700) and ROOT/ID exclusively; returns an fd of ROOT/ID.
 * EEXIST becomes "container ID already exists". */
int state_dir_create(const char *root, const char *id, berth_error **err);
/* Opens ROOT/ID; ENOENT becomes "container ID does not exist". */
int state_dir_open(const char *root, const char *id, berth_error **err);
/* Takes an exclusive flock on DIRFD/.lock; returns the lock fd. */
int state_lock(int dirfd, berth_error **err);
/* Removes ROOT/ID entirely. */
int state_dir_remove(const char *root, const char *id, berth_error **err);

/* Writes PID to PATH (relative to the cwd or absolute), replaced atomically:
 * the --pid-file of create, run and exec. */
int state_write_pid_file(const char *path, pid_t pid, berth_error **err);

int state_write(int dirfd, const container_state *st, berth_error **err);
int state_read(int dirfd, container_state **out, berth_error **err);
void state_free(container_state *st);

/* The init is alive and is the process recorded (not a reused pid). */
bool state_init_alive(const container_state *st);
/* Live status: reads /proc, the exec fifo and the freezer. */
enum container_status state_current_status(int dirfd, const container_state *st);

/* The runtime-spec state object {ociVersion,id,status,pid,bundle,annotations}. */
json_t *state_to_oci_json(const container_state *st, enum container_status status);
char *state_to_oci_string(const container_state *st, enum container_status status);

/* Lists the container ids in ROOT (sorted). */
int state_list_ids(const char *root, char ***ids, size_t *n, berth_error **err);

#define _cleanup_state_ __attribute__((cleanup(state_freep)))
static inline void state_freep(container_state **st)
{
	if (*st)
		state_free(*st);
	*st = NULL;
}

#endif
