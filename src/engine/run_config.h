/* The flags of `berth run`/`berth create` and how they turn an image's
 * default OCI config (storage/bundle.h) into the container's config.json.
 *
 * Phases: run_options_validate() checks every value before anything on the
 * host changes; run_config_apply() edits the JSON (no system calls besides
 * reading --env-file and the seccomp profile). */
#ifndef BERTH_ENGINE_RUN_CONFIG_H
#define BERTH_ENGINE_RUN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/network.h"
#include "image/trust.h"
#include "util/error.h"

typedef struct run_options {
	bool detach, interactive, tty, remove, read_only, privileged, no_new_privileges_off;
	bool init, no_healthcheck;
	/* docker's StdinOnce (the API service): the first attach that takes the
	 * input owns it, and its end closes the container's stdin */
	bool stdin_once;
	/* no monitor stays once it runs (a pod's holder, which only keeps
	 * namespaces): the runtime's state says whether it runs (record.h);
	 * needs restart "no", no --rm, -i, -t or health check */
	bool no_monitor;
	const char *name, *workdir, *user, *hostname, *network, *runtime, *cgroup_parent;
	const char *ipc, *pid;	/* engine/share.h; NULL: private */
	const char *entrypoint; /* NULL: the image's; "" clears it */
	const char *const *env, *const *env_files, *const *volumes, *const *mounts, *const *tmpfs;
	const char *const *cap_add, *const *cap_drop, *const *security_opts, *const *ulimits;
	const char *const *labels; /* "KEY=VALUE" or "KEY" (empty value) */
	const char *const *publish, *const *dns, *const *add_hosts, *const *network_aliases;
	const char *ip;
	bool publish_all;
	const char *memory, *cpus, *pids_limit;
	const char *restart; /* no, on-failure[:N], always, unless-stopped */
	const char *log_max_size;
	const char *stop_signal, *stop_timeout;
	const char *health_cmd, *health_interval, *health_timeout, *health_retries, *health_start_period;
	char *const *command; /* after the image */
	trust_options trust;  /* the signature policy an image of the store must still pass */
} run_options;

/* One -v or --mount. */
typedef enum run_mount_kind {
	RUN_MOUNT_BIND,	     /* SOURCE: an absolute host path */
	RUN_MOUNT_VOLUME,    /* SOURCE: a volume name */
	RUN_MOUNT_ANONYMOUS, /* a new anonymous volume, SOURCE NULL */
} run_mount_kind;

typedef struct run_mount {
	run_mount_kind kind;
	char *source;
	char *destination;
	bool read_only;
} run_mount;

/* Parsed values of the flags above. */
typedef struct run_plan {
	int64_t memory;	   /* bytes, 0: none */
	int64_t cpu_quota; /* us per 100 ms period, 0: none */
	int64_t pids_limit;
	char restart_name[16];
	int restart_max;
	uint64_t log_max_size;
	int stop_timeout;
	char *seccomp_file; /* NULL: unconfined */
	bool no_new_privileges;
	/* 0: not given (the image's value, else the default) */
	int64_t health_interval_ns, health_timeout_ns, health_start_ns;
	int health_retries;
	run_mount *mounts; /* -v and --mount in order */
	size_t n_mounts;
	char *init_path; /* --init: the berth-init binary to bind at RUN_INIT_PATH */
	net_port *ports; /* -p, host port 0 when to be chosen */
	size_t n_ports;
} run_plan;

/* Where --init binds berth-init in the container (a file on /dev's tmpfs, so
 * the image is not touched). */
#define RUN_INIT_PATH "/dev/init"

/* The longest container name (record.h's names). */
#define RUN_NAME_MAX 128
/* The smallest --memory, as docker's (6 MiB). */
#define RUN_MEMORY_MIN (6 * 1024 * 1024)

/* Checks the values of O and fills PLAN. */
int run_options_validate(const run_options *o, run_plan *plan, berth_error **err);
void run_plan_free(run_plan *plan);

/* Applies O to CFG, the image's config.json for the container ID (args,
 * user and cwd are already there: the caller passes them to
 * bundle_config_from_image through the image config). */
int run_config_apply(json_t *cfg, const run_options *o, const run_plan *plan, const char *id, berth_error **err);

/* "10s", "500ms", "1m", plain seconds -> milliseconds; -1 when invalid. */
int64_t run_parse_duration_ms(const char *text);
/* A duration as Go's time.ParseDuration reads it ("1m30s", "500ms", "2h",
 * "1.5s", "0"; units ns us ms s m h) -> nanoseconds; -1 when invalid. */
int64_t run_parse_go_duration_ns(const char *text);
/* The berth-init binary: next to berth in a build tree
 * (EXE_DIR/../../init/berth-init), else the installed libexec dir. Heap,
 * NULL when not found. */
char *run_find_init(void);
/* "512m", "1g", "1024" -> bytes; -1 when invalid. */
int64_t run_parse_bytes(const char *text);

#endif
