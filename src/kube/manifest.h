/* Kubernetes manifests: files of YAML documents -> validated objects.
 *
 * kube_manifest_add_file() reads a file, a directory (its *.yaml, *.yml
 * and *.json files, in name order) or "-" (stdin), splits it into
 * documents, expands `kind: List`, and validates every object completely:
 * the schema (unknown, mistyped and unsupported fields), then the rules
 * Kubernetes' API server applies (names, required fields, enums, ports,
 * probes, selectors that match their template, quantities, base64). A
 * manifest is validated whole before anything acts on it; the first error
 * names the file, the line, the document and the field path:
 *   deploy.yaml:14: document 2 (Deployment web): spec.template.spec.containers[0].imagee: unknown field
 * Fields berth ignores on one host (nodeSelector, tolerations...) are
 * collected as warnings. */
#ifndef BERTH_KUBE_MANIFEST_H
#define BERTH_KUBE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/error.h"

typedef struct kube_object {
	char *kind;	   /* Pod, Deployment, ConfigMap, Secret */
	char *api_version; /* v1, apps/v1 */
	char *namespace;   /* metadata.namespace, or the default given */
	char *name;
	json_t *object; /* the whole object, metadata.namespace filled in */
	char *origin;	/* "deploy.yaml, document 2" */
} kube_object;

typedef struct kube_manifest {
	kube_object *objects;
	size_t n;
	char **warnings; /* NULL-terminated */
	size_t n_warnings;
} kube_manifest;

/* Adds the objects of TEXT. SOURCE names it in messages; objects without a
 * namespace get DEFAULT_NAMESPACE. On error nothing is added. */
int kube_manifest_add_text(kube_manifest *m, const char *text, size_t len, const char *source,
			   const char *default_namespace, berth_error **err);

/* A file, a directory or "-" for stdin. */
int kube_manifest_add_path(kube_manifest *m, const char *path, const char *default_namespace, berth_error **err);

/* The object of KIND (case-insensitive, also plural or short: deploy,
 * deployments, po, pods, cm, secret) NAMESPACE/NAME, or NULL. */
const kube_object *kube_manifest_find(const kube_manifest *m, const char *kind, const char *namespace,
				      const char *name);

/* "Deployment" for deploy, deployment, deployments, Deployment...; NULL
 * for a kind berth does not know. */
const char *kube_kind_canonical(const char *word);

void kube_manifest_free(kube_manifest *m);

#endif
