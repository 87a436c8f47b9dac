/* The desired state of `berth kube`: the objects applied, kept in the store
 * so that a controller (or the next command) can act on them after the
 * command that applied them has exited.
 *
 *   STORE/kube/lock                                   flock around every change
 *   STORE/kube/<namespace>/<Kind>/<name>.json         the object as applied, with
 *       metadata.uid, generation and creationTimestamp set by berth and, for a
 *       Deployment, the annotation deployment.kubernetes.io/revision
 *   STORE/kube/<namespace>/Deployment/<name>.history/<revision>.json
 *       the pod template of each revision (rollout history and undo)
 *
 * Every file is replaced atomically (temp file, fsync, rename), so a kill at
 * any instant leaves the old object or the new one, never a mix. */
#ifndef BERTH_KUBE_STATE_H
#define BERTH_KUBE_STATE_H

#include <jansson.h>

#include "kube/manifest.h"
#include "util/error.h"

typedef enum kube_apply_result {
	KUBE_APPLY_CREATED,
	KUBE_APPLY_CONFIGURED,
	KUBE_APPLY_UNCHANGED,
} kube_apply_result;

#define KUBE_REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define KUBE_TEMPLATE_HASH_LABEL "pod-template-hash"

/* Stores O (validated) under STORE_ROOT. Applying what is stored already
 * changes nothing; a changed Deployment template becomes a new revision. */
int kube_state_apply(const char *store_root, const kube_object *o, kube_apply_result *result, berth_error **err);

/* The stored object, or -ENOENT (with ERR "deployment \"web\" not found in
 * namespace default"). */
int kube_state_get(const char *store_root, const char *kind, const char *namespace, const char *name, json_t **out,
		   berth_error **err);

/* Every stored object of KIND in NAMESPACE (NULL: every namespace), sorted
 * by namespace then name, as a JSON array (empty when there are none). */
int kube_state_list(const char *store_root, const char *kind, const char *namespace, json_t **out, berth_error **err);

/* Replaces the stored object with OBJECT (a change made by berth itself:
 * scale, rollout undo), keeping uid and creationTimestamp, generation + 1. */
int kube_state_update(const char *store_root, json_t *object, berth_error **err);

/* Sets a Deployment's spec.replicas (generation + 1) in one step under the
 * store's lock, so that a concurrent apply is never undone (the HPA). */
int kube_state_scale(const char *store_root, const char *namespace, const char *name, int replicas, berth_error **err);

/* Removes the object (and a Deployment's history); -ENOENT when missing. */
int kube_state_delete(const char *store_root, const char *kind, const char *namespace, const char *name,
		      berth_error **err);

/* The namespaces that hold objects, as a JSON array of strings. */
int kube_state_namespaces(const char *store_root, json_t **out, berth_error **err);

/* The revisions of a Deployment: a JSON array of {"revision": N, "template": {...}},
 * oldest first. */
int kube_state_history(const char *store_root, const char *namespace, const char *name, json_t **out,
		       berth_error **err);

/* The pod-template-hash of TEMPLATE: 10 hex digits of the sha256 of its
 * canonical JSON (keys sorted), stable across applies. */
void kube_template_hash(json_t *template, char out[11]);

#endif
