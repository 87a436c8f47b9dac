/* Pods on one host, made of engine containers (engine/container.h).
 *
 * A pod is a holder container running `/pause` (berth-init --pause, from the
 * one-layer image localhost/berth-pause:VERSION that berth makes the first
 * time it needs it) on the default network: its network namespace is the
 * pod's, its address the pod's IP, the pod's hostPorts are published on it.
 * The pod's containers join that namespace (the engine's
 * `--network container:ID`), so they reach each other on localhost. Each
 * has its own UTS namespace with the pod's hostname; IPC is not shared (the
 * engine has no --ipc container:ID yet).
 *
 * Every container of a pod carries the labels
 *   io.kubernetes.pod.name, io.kubernetes.pod.namespace,
 *   io.kubernetes.container.name ("POD" for the holder),
 *   the pod's own labels, io.berth.kube.owner ("Deployment/web") for a
 *   Deployment's pods and io.berth.kube.spec-hash (of the pod object);
 * its name is k8s_<container>_<pod>_<namespace>. The pods are found back
 * from the container records by these labels; nothing else records them but
 * STORE/kube-pods/<namespace>/<pod>/: the pod object as created (pod.json)
 * and the files of its emptyDir, configMap and secret volumes. */
#ifndef BERTH_KUBE_POD_H
#define BERTH_KUBE_POD_H

#include <stdbool.h>

#include <jansson.h>

#include "engine/record.h"
#include "image/store.h"
#include "util/error.h"

#define KUBE_LABEL_POD_NAME	  "io.kubernetes.pod.name"
#define KUBE_LABEL_POD_NAMESPACE  "io.kubernetes.pod.namespace"
#define KUBE_LABEL_CONTAINER_NAME "io.kubernetes.container.name"
#define KUBE_LABEL_OWNER	  "io.berth.kube.owner"
#define KUBE_LABEL_SPEC_HASH	  "io.berth.kube.spec-hash"
#define KUBE_HOLDER_NAME	  "POD"
#define KUBE_PAUSE_IMAGE_NAME	  "localhost/berth-pause"

typedef struct kube_context {
	const engine_paths *paths;
	const char *cgroup_parent; /* NULL: the engine's default */
	/* checking a manifest: a ConfigMap or Secret not stored (yet) is no
	 * error, as Kubernetes accepts such a pod and waits */
	bool lenient_refs;
} kube_context;

/* The plan of POD (a Pod object: metadata.name, namespace, labels, spec)
 * is checked first (ConfigMaps and Secrets it refers to, fields berth cannot
 * honour); then the holder, the init containers (run one after the other
 * to completion, then removed) and the containers are created and started.
 * OWNER ("Deployment/web") or NULL. On error nothing of the pod is left. */
int kube_pod_create(const kube_context *k, json_t *pod, const char *owner, berth_error **err);

/* Checks that POD can be created (the plan without acting). */
int kube_pod_check(const kube_context *k, json_t *pod, berth_error **err);

/* Stops the pod's containers (SIGTERM, then SIGKILL after GRACE_S seconds;
 * the holder last) and removes them, with the pod's directory. Quiet when
 * parts are gone already. */
int kube_pod_remove(const kube_context *k, const char *namespace, const char *name, int grace_s, berth_error **err);

/* Ends the container ID of POD (its pod.json) as the kubelet does when a
 * liveness or startup probe fails: its preStop hook, its stop signal, and
 * SIGKILL once GRACE_S seconds have passed. It is not stopped in the
 * engine's sense: its monitor restarts it by the pod's restartPolicy.
 * Returns once it ended (or restarted). */
int kube_pod_container_terminate(const kube_context *k, json_t *pod, const char *id, int grace_s, berth_error **err);

/* The pods of NAMESPACE (NULL: every namespace) found from the records, as
 * a JSON array sorted by namespace and name of
 *   {"name", "namespace", "owner", "specHash", "labels": {...}, "ip",
 *    "created", "netns" (user-mode networking only: the pod's IP is not
 *    reached from the host), "holder": {"id", "status", "pid"} or null,
 *    "containers": [{"name", "id", "runtime", "status", "restarts", "pid", "startedAt",
 *                    "exitCode", "monitor": whether its monitor lives}] in the
 *    order of the pod's spec}. */
int kube_pod_list(const kube_context *k, const char *namespace, json_t **out, berth_error **err);
/* kube_pod_list, and each pod's object (kube_pod_object, read to order its
 * containers) put in OBJECTS under the pod's name, for a caller that looks
 * at them next (the controller's pass) without reading them again. */
int kube_pod_list_objects(const kube_context *k, const char *namespace, json_t *objects, json_t **out,
			  berth_error **err);

/* The pod object a pod was made from (pod.json), or NULL. */
json_t *kube_pod_object(const kube_context *k, const char *namespace, const char *name);

/* The spec hash of POD (10 hex digits of its canonical JSON). */
void kube_pod_spec_hash(json_t *pod, char out[11]);

/* Makes IMAGE (KUBE_PAUSE_IMAGE_NAME:VERSION: one layer holding a copy of
 * berth-init as /pause, entrypoint `/pause --pause`) unless S has it. */
int kube_pause_image_ensure(const kube_context *k, store *s, const char *image, berth_error **err);

/* kube_pause_image_ensure for the image of this berth's pods: called once
 * before pods are made at the same time, so that they do not all make it. */
int kube_pause_image_ready(const kube_context *k, berth_error **err);

/* The container record name of CONTAINER in POD/NAMESPACE: heap. */
char *kube_container_record_name(const char *ctr, const char *pod, const char *namespace);

#endif
