/* `berth pod`: pods made by hand, like podman's, beside the ones berth kube
 * makes from manifests. Such a pod is a holder container NAME-infra running
 * /pause (the image of pod.h) on the default network, with the pod's
 * published ports and hostname; `berth run --pod NAME` puts a container in
 * its network namespace with the pod's hostname. Every container of the pod
 * carries the label io.berth.pod=NAME (the holder also io.berth.pod.infra);
 * they are found back by it. berth kube's controller never touches them
 * (they have no io.kubernetes.* labels), and `berth pod rm` refuses the
 * pods of berth kube: `berth kube delete` removes those. */
#ifndef BERTH_KUBE_POD_STANDALONE_H
#define BERTH_KUBE_POD_STANDALONE_H

#include <stdbool.h>

#include <jansson.h>

#include "kube/pod.h"
#include "util/error.h"

#define KUBE_LABEL_STANDALONE	    "io.berth.pod"
#define KUBE_LABEL_STANDALONE_INFRA "io.berth.pod.infra"

typedef struct kube_standalone_options {
	const char *name;
	const char *hostname;	      /* NULL: NAME */
	const char *network;	      /* NULL: the default network */
	const char *const *publish;   /* -p values */
	const char *const *labels;    /* KEY=VALUE on the holder */
	const char *const *add_hosts; /* NAME:IP lines of its /etc/hosts */
	const char *const *dns;	      /* nameservers */
} kube_standalone_options;

/* NAME-infra, heap. */
char *kube_standalone_holder_name(const char *name);

/* Creates and starts the holder of pod O->name; a name in use (by a pod or
 * a container NAME-infra) is an error. */
int kube_standalone_create(const kube_context *k, const kube_standalone_options *o, berth_error **err);

/* The pods: berth pod's and berth kube's, as a JSON array sorted by name of
 * {"name", "namespace" (kube pods only), "kind": "pod"|"kube", "infra": {"id",
 *  "status", "created"} or null, "containers": [{"name", "id", "status"}]}. */
int kube_standalone_list(const kube_context *k, json_t **out, berth_error **err);

/* Removes pod NAME's containers and its holder. A running one needs FORCE
 * (then it is stopped, grace TIMEOUT_S). Refuses a pod of berth kube. */
int kube_standalone_remove(const kube_context *k, const char *name, bool force, int timeout_s, berth_error **err);

/* Pod NAME (*OUT: its entry of kube_standalone_list, to json_decref). A
 * pod of berth kube is refused (EPERM, the message ending with HINT) unless
 * HINT is NULL. */
int kube_standalone_find(const kube_context *k, const char *name, const char *hint, json_t **out, berth_error **err);

typedef enum kube_standalone_action {
	KUBE_POD_START,	  /* the holder, then the containers (those not running) */
	KUBE_POD_STOP,	  /* the containers, then the holder */
	KUBE_POD_RESTART, /* stop, then start */
	KUBE_POD_KILL,	  /* SIGNAL to every running container, the holder last */
} kube_standalone_action;

/* podman's pod start/stop/restart/kill on pod NAME. TIMEOUT_S < 0: each
 * container's own stop timeout. SIGNAL: for KILL (NULL: SIGKILL). */
int kube_standalone_act(const kube_context *k, const char *name, kube_standalone_action action, int timeout_s,
			const char *signal, berth_error **err);

#endif
