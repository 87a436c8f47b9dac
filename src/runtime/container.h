/* The OCI lifecycle operations of berth-runtime: create, start, run, kill,
 * delete, state and list.  cmd/runtime/ parses flags into these option
 * structs and calls one function; nothing here exits the process. */
#ifndef BERTH_RUNTIME_CONTAINER_H
#define BERTH_RUNTIME_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/error.h"

typedef struct runtime_globals {
	const char *root; /* --root, already defaulted */
	bool systemd_cgroup;
	bool rootless;
	const char *cgroup_fs_root; /* "/sys/fs/cgroup"; tests may change it */
	/* create and run as root: the runtime's binary is not sealed yet
	 * (exe_guard.h). create seals it with exe_guard_seal_self(these
	 * arguments) unless the init can seal itself in its mount namespace. */
	char **exe_guard_argv;
} runtime_globals;

typedef struct create_options {
	const char *id;
	const char *bundle;	 /* absolute path */
	const char *config_path; /* defaults to BUNDLE/config.json; relative to BUNDLE */
	struct spec *config;	 /* that file already parsed, or NULL; create frees it */
	const char *pid_file;
	pid_t *pid_out; /* create: the init's pid, or NULL */
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds;
	bool detach; /* run only */
	bool keep;   /* run only: do not delete after exit */
} create_options;

int container_create(const runtime_globals *g, const create_options *opts, berth_error **err);
int container_start(const runtime_globals *g, const char *id, berth_error **err);
/* Creates, starts and (unless detached) waits: *EXIT_CODE is the container's
 * exit status, 128+N when killed by signal N. */
int container_run(const runtime_globals *g, const create_options *opts, int *exit_code, berth_error **err);
int container_kill(const runtime_globals *g, const char *id, int signo, bool all, berth_error **err);
int container_delete(const runtime_globals *g, const char *id, bool force, berth_error **err);
/* The runtime-spec state object of one container. */
int container_state_json(const runtime_globals *g, const char *id, json_t **out, berth_error **err);
/* Array of {ociVersion,id,pid,status,bundle,rootfs,created,owner,annotations}. */
int container_list_json(const runtime_globals *g, json_t **out, berth_error **err);

/* Every pid in the container's cgroup, sorted. */
int container_pids(const runtime_globals *g, const char *id, pid_t **pids, size_t *n, berth_error **err);
/* Freezes (pause) or thaws (resume) every process of the container. */
int container_pause(const runtime_globals *g, const char *id, berth_error **err);
int container_resume(const runtime_globals *g, const char *id, berth_error **err);
/* Applies new resource limits to a created, running or paused container. */
struct spec_resources;
int container_update(const runtime_globals *g, const char *id, const struct spec_resources *r, berth_error **err);
/* {"type":"stats","id":ID,"data":{...}} as `runc events --stats` prints. */
int container_stats_json(const runtime_globals *g, const char *id, json_t **out, berth_error **err);

#endif
