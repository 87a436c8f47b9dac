/* OCI runtime-spec config.json as C structs.
 *
 * spec_parse() reads the whole document, fills every struct below and
 * validates it; nothing on the host changes while parsing.  Errors name the
 * JSON path: `process.capabilities.bounding[3]: unknown capability "CAP_FOO"`.
 * Unknown fields are ignored (as runc does); every ociVersion 1.x is accepted. */
#ifndef BERTH_SPEC_SPEC_H
#define BERTH_SPEC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

#define SPEC_CAP_SETS 5
enum spec_cap_set { CAP_SET_BOUNDING, CAP_SET_EFFECTIVE, CAP_SET_INHERITABLE, CAP_SET_PERMITTED, CAP_SET_AMBIENT };

typedef struct spec_rlimit {
	int resource; /* RLIMIT_* */
	char *type;
	uint64_t soft, hard;
} spec_rlimit;

typedef struct spec_capabilities {
	bool present[SPEC_CAP_SETS];
	uint64_t sets[SPEC_CAP_SETS]; /* bit N = capability N */
} spec_capabilities;

typedef struct spec_user {
	uid_t uid;
	gid_t gid;
	bool has_umask;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char *username;
} spec_user;

typedef struct spec_scheduler {
	bool present;
	int policy;
	int nice, priority;
	uint64_t flags;
	uint64_t runtime, deadline, period;
} spec_scheduler;

typedef struct spec_io_priority {
	bool present;
	int class; /* IOPRIO_CLASS_* */
	int priority;
} spec_io_priority;

typedef struct spec_process {
	bool terminal;
	unsigned console_height, console_width;
	spec_user user;
	char **args; /* NULL-terminated */
	char *command_line;
	char **env; /* NULL-terminated */
	char *cwd;
	bool has_capabilities;
	spec_capabilities capabilities;
	spec_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *selinux_label;
	spec_scheduler scheduler;
	spec_io_priority io_priority;
	/* execCPUAffinity (runtime-spec 1.2.1): CPU lists ("0-3,7") for exec'd
	 * processes before and after they join the cgroup; NULL when absent */
	char *exec_cpu_affinity_initial, *exec_cpu_affinity_final;
} spec_process;

typedef struct spec_id_mapping {
	uint32_t container_id, host_id, size;
} spec_id_mapping;

typedef struct spec_mount {
	char *destination;
	char *type;
	char *source;
	char **options;		   /* as written */
	unsigned long flags;	   /* MS_* to set */
	unsigned long clear_flags; /* MS_* explicitly cleared (rw, suid...) */
	unsigned long propagation; /* MS_SHARED/MS_SLAVE/... | MS_REC */
	bool bind, rbind;
	bool has_recursive_ro; /* "rro" */
	char *data;	       /* filesystem-specific options */
	/* idmapped mount: "idmap"/"ridmap" or uidMappings/gidMappings given
	 * (runtime-spec 1.2); no mappings means the container's user
	 * namespace's. Bind mounts only. */
	bool idmap, idmap_recursive;
	spec_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
} spec_mount;

typedef struct spec_hook {
	char *path;
	char **args;
	char **env;
	int timeout; /* seconds, 0 = none */
} spec_hook;

typedef struct spec_hook_list {
	spec_hook *hooks;
	size_t n;
} spec_hook_list;

enum spec_hook_kind {
	HOOK_PRESTART,
	HOOK_CREATE_RUNTIME,
	HOOK_CREATE_CONTAINER,
	HOOK_START_CONTAINER,
	HOOK_POSTSTART,
	HOOK_POSTSTOP,
	HOOK_KINDS
};

enum spec_ns_type { NS_PID, NS_NETWORK, NS_MOUNT, NS_IPC, NS_UTS, NS_USER, NS_CGROUP, NS_TIME, NS_TYPES };

typedef struct spec_namespace {
	bool requested;
	char *path; /* join this namespace when set */
} spec_namespace;

typedef struct spec_device {
	char type; /* 'c', 'b', 'u', 'p' */
	char *path;
	int64_t major, minor;
	bool has_file_mode;
	mode_t file_mode;
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
} spec_device;

typedef struct spec_device_rule {
	bool allow;
	char type;	      /* 'a', 'c', 'b' */
	int64_t major, minor; /* -1 = wildcard */
	char access[4];
} spec_device_rule;

typedef struct spec_throttle {
	int64_t major, minor;
	uint64_t rate;
} spec_throttle;

typedef struct spec_weight_device {
	int64_t major, minor;
	bool has_weight, has_leaf_weight;
	uint16_t weight, leaf_weight;
} spec_weight_device;

typedef struct spec_hugepage_limit {
	char *page_size;
	uint64_t limit;
} spec_hugepage_limit;

typedef struct spec_net_priority {
	char *name;
	uint32_t priority;
} spec_net_priority;

typedef struct spec_key_value {
	char *key, *value;
} spec_key_value;

/* Optional numbers carry a has_ flag: absent means "leave as is". */
typedef struct spec_resources {
	spec_device_rule *devices;
	size_t n_devices;

	bool has_memory_limit, has_memory_reservation, has_memory_swap, has_memory_kernel, has_memory_kernel_tcp,
	    has_memory_swappiness, has_disable_oom_killer, has_use_hierarchy, has_check_before_update;
	int64_t memory_limit, memory_reservation, memory_swap, memory_kernel, memory_kernel_tcp;
	uint64_t memory_swappiness;
	bool disable_oom_killer, use_hierarchy, check_before_update;

	bool has_cpu_shares, has_cpu_quota, has_cpu_burst, has_cpu_period, has_cpu_realtime_runtime,
	    has_cpu_realtime_period, has_cpu_idle;
	uint64_t cpu_shares, cpu_period, cpu_realtime_period, cpu_burst;
	int64_t cpu_quota, cpu_realtime_runtime, cpu_idle;
	char *cpu_cpus, *cpu_mems;

	bool has_pids_limit;
	int64_t pids_limit;

	bool has_blkio_weight, has_blkio_leaf_weight;
	uint16_t blkio_weight, blkio_leaf_weight;
	spec_weight_device *blkio_weight_devices;
	size_t n_blkio_weight_devices;
	spec_throttle *blkio_throttle[4]; /* read bps, write bps, read iops, write iops */
	size_t n_blkio_throttle[4];

	spec_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;

	bool has_net_class_id;
	uint32_t net_class_id;
	spec_net_priority *net_priorities;
	size_t n_net_priorities;

	spec_key_value *unified;
	size_t n_unified;
} spec_resources;

enum spec_blkio_throttle_kind { THROTTLE_READ_BPS, THROTTLE_WRITE_BPS, THROTTLE_READ_IOPS, THROTTLE_WRITE_IOPS };

typedef struct spec_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* enum scmp_compare */
} spec_seccomp_arg;

typedef struct spec_seccomp_rule {
	char **names;
	size_t n_names;
	uint32_t action; /* SCMP_ACT_* with errno folded in */
	spec_seccomp_arg *args;
	size_t n_args;
} spec_seccomp_rule;

typedef struct spec_seccomp {
	bool present;
	uint32_t default_action;
	uint32_t *architectures; /* SCMP_ARCH_* */
	size_t n_architectures;
	char **flags;
	size_t n_flags;
	char *listener_path;
	char *listener_metadata;
	spec_seccomp_rule *rules;
	size_t n_rules;
	char *source_hash; /* sha256 of the canonical JSON of linux.seccomp */
} spec_seccomp;

typedef struct spec_time_offset {
	bool present;
	int64_t secs;
	uint32_t nanosecs;
} spec_time_offset;

typedef struct spec_personality {
	bool present;
	unsigned long domain;
} spec_personality;

/* linux.memoryPolicy (runtime-spec 1.3): set_mempolicy(2) of the init. */
#define SPEC_MEMORY_POLICY_MAX_NODES 1024
typedef struct spec_memory_policy {
	bool present;
	int mode;	    /* MPOL_* */
	unsigned int flags; /* MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING */
	char *nodes;	    /* as written, NULL when absent */
	int highest_node;   /* -1 when no node is given */
	unsigned long nodemask[SPEC_MEMORY_POLICY_MAX_NODES / (8 * sizeof(unsigned long))];
} spec_memory_policy;

/* linux.netDevices (runtime-spec 1.3): a host interface moved into the
 * container's network namespace, renamed to NAME ("%d" templates allowed). */
typedef struct spec_net_device {
	char *host_name;
	char *name; /* the name inside; host_name when not given */
} spec_net_device;

typedef struct spec {
	char *oci_version;
	char *root_path; /* as written, maybe relative to the bundle */
	bool root_readonly;
	char *hostname;
	bool has_hostname;
	char *domainname;
	bool has_domainname;
	spec_process *process; /* NULL when absent (allowed for create only by spec) */
	spec_mount *mounts;
	size_t n_mounts;
	spec_hook_list hooks[HOOK_KINDS];
	spec_key_value *annotations;
	size_t n_annotations;

	/* linux */
	spec_namespace namespaces[NS_TYPES];
	spec_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	spec_time_offset time_offsets[2]; /* monotonic, boottime */
	spec_device *devices;
	size_t n_devices;
	char *cgroups_path;
	bool has_resources;
	spec_resources resources;
	unsigned long rootfs_propagation; /* 0 = default (rslave) */
	spec_seccomp seccomp;
	spec_key_value *sysctl;
	size_t n_sysctl;
	char **masked_paths;
	size_t n_masked_paths;
	char **readonly_paths;
	size_t n_readonly_paths;
	char *mount_label;
	spec_personality personality;
	spec_memory_policy memory_policy;
	spec_net_device *net_devices;
	size_t n_net_devices;
} spec;

/* Parses and validates config.json text. *out is owned by the caller. */
int spec_parse(const char *json_text, spec **out, berth_error **err);
int spec_load(const char *path, spec **out, berth_error **err);
/* Parses a process object alone (exec --process). */
int spec_parse_process(const char *json_text, spec_process **out, berth_error **err);
/* Parses linux.resources alone (update -r). */
int spec_parse_resources(const char *json_text, spec_resources *out, berth_error **err);
void spec_free(spec *s);
void spec_process_free(spec_process *p);
void spec_resources_clear(spec_resources *r);

const char *spec_ns_name(enum spec_ns_type type); /* "pid", "network", ... */
int spec_ns_clone_flag(enum spec_ns_type type);
const char *spec_hook_kind_name(enum spec_hook_kind kind);

/* Capability name <-> number, "CAP_" prefix required for names. */
int spec_capability_from_name(const char *name);
const char *spec_capability_name(int cap);
int spec_capability_last(void);

/* Signal parsing: "KILL", "SIGKILL", "9". Returns signo or -1. */
int spec_signal_from_string(const char *s);

/* Names for linux.memoryPolicy: "MPOL_BIND" <-> MPOL_BIND; NULL-terminated
 * lists of every mode and flag recognised (for `features`). */
extern const char *const spec_memory_policy_modes[];
extern const char *const spec_memory_policy_flags[];

/* A node list ("0-3,7", one trailing newline allowed) into MASK (bits below
 * SPEC_MEMORY_POLICY_MAX_NODES, ORed in); *HIGHEST is the largest node or
 * -1. Returns -1 on bad syntax. */
int spec_node_list_parse(const char *text, unsigned long *mask, int *highest);

/* A CPU list ("0-3,7", CPUs below SPEC_CPU_LIST_MAX) into SET of SETSIZE
 * bytes (CPU_SET_S, bits ORed in); SET may be NULL to check the syntax.
 * *HIGHEST is the largest CPU. Returns -1 on bad syntax. */
#define SPEC_CPU_LIST_MAX 65536
int spec_cpu_list_parse(const char *text, void *set, size_t setsize, int *highest);

/* Container ids: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes. */
int spec_validate_container_id(const char *id, berth_error **err);

#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))
static inline void spec_freep(spec **s)
{
	if (*s)
		spec_free(*s);
	*s = NULL;
}

#endif
