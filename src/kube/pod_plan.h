/* The plan of a pod (pod.h): a Pod object turned into the engine's
 * run_options of its holder, init containers and containers, and the
 * volumes to prepare. Only reads (ConfigMaps and Secrets from the desired
 * state, hostPath types); every value berth cannot honour is an error
 * naming its field path before anything is created. Shared by src/kube only. */
#ifndef BERTH_KUBE_POD_PLAN_H
#define BERTH_KUBE_POD_PLAN_H

#include <stdbool.h>

#include <jansson.h>

#include "engine/run_config.h"
#include "kube/pod.h"
#include "util/error.h"

typedef struct kube_container_plan {
	const char *name; /* the container's name in the pod */
	char *record_name;
	const char *image;
	run_options o;
	json_t *env;	     /* "K=V" strings and {"name": K, "podIP": true} */
	const char *restart; /* engine policy */
	bool never_pull;     /* imagePullPolicy: Never */
} kube_container_plan;

/* A directory of the pod (emptyDir, configMap, secret) and its files. */
typedef struct kube_volume_plan {
	char *dir;     /* PODDIR/volumes/NAME, or a hostPath */
	json_t *files; /* {"relative/path": {"data": base64 or text, "mode": N}} or NULL */
	bool create_dir, create_file;
	long long group; /* fsGroup for an emptyDir, -1: none */
} kube_volume_plan;

typedef struct kube_pod_plan {
	const char *name, *namespace;
	char *pod_dir; /* STORE/kube-pods/NS/NAME */
	json_t *arena; /* owns every string the options point to */
	void **allocs; /* the string arrays of the options */
	size_t n_allocs;
	kube_container_plan holder;
	kube_container_plan *init, *containers;
	size_t n_init, n_containers;
	kube_volume_plan *volumes;
	size_t n_volumes;
	int grace_s;
} kube_pod_plan;

int kube_pod_plan_make(const kube_context *k, json_t *pod, const char *owner, kube_pod_plan *out, berth_error **err);
/* Fills each container's o.env with its env, the pod's IP known now. */
int kube_pod_plan_set_env(kube_pod_plan *pl, kube_container_plan *c, const char *pod_ip, berth_error **err);
void kube_pod_plan_free(kube_pod_plan *pl);

/* STORE/kube-pods/NS/NAME, heap. */
char *kube_pod_dir(const char *store_root, const char *namespace, const char *name);

#endif
