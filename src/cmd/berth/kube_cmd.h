/* Helpers of the `berth kube` commands (kube.c, kube_get.c, kube_ops.c). */
#ifndef BERTH_CMD_BERTH_KUBE_CMD_H
#define BERTH_CMD_BERTH_KUBE_CMD_H

#include <jansson.h>

#include "cmd/berth/commands.h"
#include "engine/record.h"
#include "kube/pod.h"

#ifndef _cleanup_json_
#include "spec/json_read.h"
#endif

typedef struct kube_cli {
	engine_paths paths;
	kube_context k;
} kube_cli;

/* The engine paths of G; the pods' cgroup parent from
 * BERTH_KUBE_CGROUP_PARENT (default: the engine's). */
int kube_cli_open(const berth_globals *g, kube_cli *cli, berth_error **err);
void kube_cli_close(kube_cli *cli);

/* Starts NAMESPACE's controller when none runs (every command does). */
void kube_cli_ensure_controller(kube_cli *cli, const char *namespace);

/* "deployment.apps", "pod", "configmap", "secret" for a canonical kind. */
const char *kube_cli_resource(const char *kind);

/* "deployment/web", "deploy/web", "pods/x" -> canonical kind and name; a
 * bare NAME gets DEFAULT_KIND. */
int kube_cli_split_ref(const char *text, const char *default_kind, const char **kind, const char **name, char **buf,
		       berth_error **err);

/* The record name of container CTR (NULL: the first) of pod or
 * deploy/NAME REF, heap. */
int kube_cli_container_of(kube_cli *cli, const char *namespace, const char *ref, const char *ctr, char **out,
			  berth_error **err);

/* "5s", "3m", "2h", "4d" since an RFC 3339 time; BUF of 16. */
const char *kube_cli_age(const char *rfc3339, char *buf);

/* The pod's phase as kubectl shows it (Running, Pending, Completed, Error,
 * CrashLoopBackOff) and its ready counts from the controller's status. */
const char *kube_cli_pod_status(json_t *pod, json_t *status, int *ready, int *total, int *restarts);

/* O as JSON (indented) or, FORMAT "yaml", as YAML. */
void kube_cli_print(json_t *o, const char *format);

/* kube_get_svc.c: Services and Endpoints of NS (NULL: every namespace),
 * those named (N > 0) only; as tables or, ITEMS given, appended to it. */
void kube_cli_print_services(kube_cli *cli, const char *ns, char **names, int n, json_t *items, bool header);
void kube_cli_print_endpoints(kube_cli *cli, const char *ns, char **names, int n, json_t *items);
/* get endpointslices: the EndpointSlices (discovery.k8s.io/v1) mirroring
 * the Endpoints, one per set of addresses serving the same ports. */
void kube_cli_print_endpointslices(kube_cli *cli, const char *ns, char **names, int n, json_t *items);
/* The lines of `describe service` after Name, Namespace and Kind. */
void kube_cli_describe_service(kube_cli *cli, json_t *svc, json_t *status);

int cmd_kube_generate(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_get(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_describe(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_logs(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_exec(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_scale(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_rollout(const berth_globals *g, int argc, char **argv, berth_error **err);

/* kube_hpa.c: get hpa (the table, or the objects with their status added
 * to ITEMS for -o json|yaml; IN_ALL: part of `get all`, nothing printed
 * when there is none), describe hpa, autoscale, top. */
void kube_cli_get_hpas(kube_cli *cli, const char *namespace, char **names, int n, json_t *items, bool in_all);
void kube_cli_describe_hpa(kube_cli *cli, json_t *hpa);
int cmd_kube_autoscale(const berth_globals *g, int argc, char **argv, berth_error **err);
int cmd_kube_top(const berth_globals *g, int argc, char **argv, berth_error **err);

#endif
