/* Container records of the engine: what `berth ps` lists.
 *
 *   STORE/containers/<id>/config.json   berth's record (name, image, command,
 *                                       flags); written once at create
 *   STORE/containers/<id>/state.json    status, pids, exit code, times;
 *                                       rewritten atomically under lock
 *   STORE/containers/<id>/lock          flock taken around state changes
 *   STORE/containers/<id>/bundle/       the OCI bundle (overlay rootfs)
 *   STORE/containers/<id>/ctr.log       the k8s-file log (+ ctr.log.1)
 *   STORE/containers/names/<name>       symlink -> id: the name reservation
 *   RUN_ROOT/exits/<id>                 the last exit code, written by the
 *                                       monitor; outlives the record 5 min
 *
 * A record is complete or recognisably unfinished, with the process that
 * works on it named (record_sweep.h): what a killed command leaves is
 * removed by the next command that meets it.
 *
 * A container is found by name, full id or unique id prefix. The status in
 * state.json is only trusted while its monitor lives: record_refresh()
 * checks the monitor pid and its start time and, when the monitor is gone,
 * asks the runtime what really runs. A container made with no monitor
 * (config "NoMonitor": a pod's holder) has none once it runs, by design:
 * its status always comes from the runtime, and its exit code is unknown. */
#ifndef BERTH_ENGINE_RECORD_H
#define BERTH_ENGINE_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/error.h"

#define RECORD_ID_LEN 64
/* ExitCode of a container that exited unseen (its monitor was killed) */
#define RECORD_EXIT_CODE_UNKNOWN (-1)

typedef struct engine_paths {
	const char *store_root;
	const char *run_root;
	char *containers; /* STORE/containers */
	char *names;	  /* STORE/containers/names */
	char *runtime_root;
} engine_paths;

typedef struct container_state {
	char status[16]; /* created, running, exited, restarting, paused */
	pid_t pid;
	pid_t monitor_pid;
	uint64_t monitor_start; /* field 22 of /proc/PID/stat */
	int exit_code;
	char *started_at; /* RFC 3339 with nanoseconds, or NULL */
	char *finished_at;
	int restart_count;
	bool stopped_by_user;
	bool oom_killed; /* the last exit was the OOM killer's (OOMKilled) */
	char *health;	 /* NULL: no health check; starting, healthy, unhealthy */
	int health_failures;
	json_t *health_log; /* Health.Log: the last results (health.h), or NULL */
	char *error;	    /* the last start error */
	bool unsupervised;  /* set by record_refresh: running with no monitor */
} container_state;

typedef struct container {
	char *id;
	char *name;
	char *dir;	/* STORE/containers/<id> */
	json_t *config; /* the record of config.json */
	container_state state;
} container;

int engine_paths_init(engine_paths *p, const char *store_root, const char *run_root, berth_error **err);
void engine_paths_free(engine_paths *p);

/* Creates the record: a fresh id, the directory with config.json (CONFIG,
 * borrowed; Id, Name, Created and Creating added) and state "created", the
 * name reserved (NAME NULL: a generated one). A taken name is the error
 * `name "x" is already in use by container <id12>`; a claim left by a
 * killed command is taken over. The record is unfinished, and hidden,
 * until record_commit. */
int record_create(const engine_paths *p, const char *name, json_t *config, container **out, berth_error **err);
/* Completes a record of record_create: writes config.json (fsynced unless
 * --rm) without its "Creating" mark. */
int record_commit(container *c, berth_error **err);

/* Finds TEXT (name, id, unique id prefix) and loads it. Errors, in
 * ->code: ENOENT no such container, EBUSY being created by a process that
 * runs, ESTALE left half-made by a killed command and removed now (with its
 * name, mounts, network, runtime state). */
int record_open(const engine_paths *p, const char *text, container **out, berth_error **err);
/* Every container (sorted newest first). */
int record_list(const engine_paths *p, container ***out, size_t *n, berth_error **err);
void record_list_free(container **list, size_t n);
void container_free(container *c);

/* The flock of the container (exclusive); returns the fd to pass to
 * record_unlock. */
int record_lock(const container *c, berth_error **err);
void record_unlock(int fd);
/* Rereads state.json into C (call with the lock held before a change). */
int record_load_state(container *c, berth_error **err);
/* Writes C's config.json (its ->config) atomically; fsynced unless the
 * container is --rm (its record does not outlive it). */
int record_save_config(const container *c, berth_error **err);
/* Writes C's state atomically (call with the lock held). */
int record_save_state(const container *c, berth_error **err);

/* Corrects a state whose monitor died: the runtime (RUNTIME_STATUS, the
 * runtime's status of the container or NULL when it has none) says what
 * runs. Only called by record_refresh. */
void record_apply_dead_monitor(container *c, const char *runtime_status);
/* Makes C's status truthful (see the top of this file); persists a change. */
int record_refresh(const engine_paths *p, container *c, berth_error **err);
bool record_monitor_alive(const container *c);

/* Takes C out of every listing (the bundle must be unmounted already): the
 * directory is renamed to a hidden ".removing-PID-START-ID" beside the
 * others (this process as its remover), then the name reservation goes;
 * *TRASH (heap, NULL when the directory was gone already) is its path, for
 * fs_remove_tree. A leftover (its remover was killed) goes with the next
 * record_list. */
int record_retire(const engine_paths *p, container *c, char **trash, berth_error **err);
/* record_retire, then the files. */
int record_retire_now(const engine_paths *p, container *c, berth_error **err);

/* The monitor's record of an exit in RUN_ROOT/exits/ID: `wait` finds the
 * code there when the record went (--rm, rm -f) before it read it. */
void record_save_exit_code(const engine_paths *p, const container *c, int code);
bool record_read_exit_code(const engine_paths *p, const container *c, int *code);
/* Removes exit codes older than 5 minutes (record_list does). */
void record_sweep_exit_codes(const engine_paths *p);

/* Helpers shared with the monitor and the commands. */
char *record_path(const container *c, const char *name); /* DIR/NAME, heap */
const char *record_config_string(const container *c, const char *key);
int64_t record_config_int(const container *c, const char *key, int64_t dflt);
bool record_config_bool(const container *c, const char *key);
/* RFC 3339 UTC with nanoseconds, BUF of 40 bytes. */
const char *engine_now_rfc3339(char *buf);
bool engine_status_is_live(const char *status);

#endif
