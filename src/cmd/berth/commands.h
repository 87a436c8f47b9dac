/* One function per berth command; each parses its own flags with
 * options_parse_command() and returns the process exit code. */
#ifndef BERTH_CMD_BERTH_COMMANDS_H
#define BERTH_CMD_BERTH_COMMANDS_H

#include <stdbool.h>

#include <jansson.h>

#include "image/registry.h"
#include "image/store.h"
#include "util/error.h"
#include "util/options.h"

typedef struct berth_globals {
	const char *store_root; /* --root, or the default for root/rootless */
	const char *run_root;	/* --runroot, or the default */
	bool rootless;
	bool debug;
} berth_globals;

typedef struct berth_command {
	const char *name;
	const char *usage;
	const char *summary;
	int (*run)(const berth_globals *g, int argc, char **argv, berth_error **err);
} berth_command;

/* Opens the image store of G. */
int berth_open_store(const berth_globals *g, store **out, berth_error **err);
/* options_parse_command for "berth" */
int berth_parse(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
		bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
		berth_error **err);
/* The registry flags of pull and push, in this order, in a command's specs;
 * berth_registry_options() reads the six values starting at the first. */
/* clang-format off */
#define BERTH_REGISTRY_FLAGS(jobs_help)                                                                              \
	{ "tls-verify", 0, false, "require https with a verified certificate (default true; false allows http)" },   \
	{ "authfile", 0, true, "credentials file (default: REGISTRY_AUTH_FILE, else containers' auth.json)" },       \
	{ "creds", 0, true, "USER:PASSWORD for the registry" },                                                      \
	{ "cert-dir", 0, true, "CA certificates (*.crt) and a client certificate (*.cert + *.key)" },                \
	{ "jobs", 0, true, jobs_help },                                                                              \
	{ "quiet", 'q', false, "no progress output" }
/* clang-format on */
int berth_registry_options(const char *command, const option_value *v, registry_options *out, berth_error **err);

/* The trust flags of pull, run, create and load (image/trust.h). */
/* clang-format off */
#define BERTH_TRUST_FLAGS                                                                                              \
	{ "signature-policy", 0, true, "signature policy file (default: containers' policy.json)" },                  \
	{ "registries.d", 0, true, "directory of registries.d YAML files (where signatures live)" }
/* clang-format on */
#define BERTH_TRUST_FLAG_COUNT 2
void berth_trust_options(const berth_globals *g, const option_value *v, trust_options *out);

/* docker's prune prompt: WARNING (a sentence) and "Are you sure you want to
 * continue? [y/N]", answered on the terminal of stdin. 1 when FORCE or the
 * answer is y/yes, 0 for no; -1 with ERR when stdin is not a terminal (a
 * script must say -f). */
int berth_confirm(const char *command, const char *warning, bool force, berth_error **err);

/* A table printed like docker's (tabwriter): every column as wide as its
 * widest cell, three spaces apart, so cells never run into each other. */
typedef struct berth_table {
	size_t ncols, nrows;
	char **cells; /* nrows * ncols, heap copies */
} berth_table;
/* Appends a row of T->ncols cells (NULL: ""); -1 when out of memory. */
int berth_table_add(berth_table *t, const char *const *row);
/* Prints the rows and frees them. */
void berth_table_print(berth_table *t);

/* Pretty JSON to stdout. */
void berth_print_json(json_t *j);
/* "12 MB", "3.4 kB" like docker (decimal units). BUF holds 32 bytes. */
const char *berth_human_size(int64_t bytes, char *buf);
/* Seconds from an RFC 3339 time to now (0 for the future), -1 when unparsable. */
long berth_seconds_since(const char *rfc3339);
/* "3 minutes", "About an hour": the docker CLI's wording. */
void berth_human_duration(long seconds, char *buf, size_t len);
/* "3 minutes ago" from an RFC 3339 time (or "" when unparsable). BUF holds 64. */
const char *berth_human_since(const char *rfc3339, char *buf);

/* berth image ... (also the top-level aliases) */
int cmd_image(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_ls(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_inspect(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_tag(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_rm(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_prune(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_sign(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_trust(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_builder(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_commit(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_diff(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_export(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_image_history(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_pull(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_push(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_load(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_save(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_import(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_login(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_logout(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_build(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_bundle(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_network(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_network_service(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_unshare(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_volume(const berth_globals *g, int argc, char **argv, berth_error **err);

/* containers (src/engine) */
int cmd_container(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_run(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_create(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_start(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_ps(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_logs(const berth_globals *g, int argc, char **argv, berth_error **err);
/* berth kube ... (src/kube) */
int cmd_kube(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_pod(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_cp(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_stop(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kill(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_pause(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_unpause(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_restart(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_rm(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_wait(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_inspect(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_exec(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_top(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_stats(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_version(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_info(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_port(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_attach(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_events(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_update(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_rename(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_system(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_system_service(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_network_prune(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_container_prune(const berth_globals *g, int argc, char **argv, berth_error **err);

#endif
