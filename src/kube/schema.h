/* The Kubernetes object fields berth knows, as tables: for each field its
 * JSON type and whether berth acts on it, ignores it (meaningless on one
 * host: scheduling, service accounts) or refuses it (it would change what
 * the workload does, and berth cannot do that yet).
 *
 * kube_schema_check() walks a decoded object against a table: an unknown
 * field, a wrongly typed value or an unsupported field is an error naming
 * its JSON path; ignored fields are reported through the callback so the
 * caller can warn once. The tables follow the Kubernetes API reference
 * (core/v1, apps/v1). */
#ifndef BERTH_KUBE_SCHEMA_H
#define BERTH_KUBE_SCHEMA_H

#include <jansson.h>

#include "util/error.h"

typedef enum kube_type {
	KT_STRING,
	KT_INT,
	KT_BOOL,
	KT_OBJECT,	  /* fields given by ->fields */
	KT_LIST,	  /* elements of type ->item (objects: ->fields) */
	KT_STRING_MAP,	  /* {"k": "v"} with string values */
	KT_INT_OR_STRING, /* 8080 or "http" or "25%" */
	KT_QUANTITY,	  /* "500m", "128Mi", 1, 0.5 */
	KT_ANY,		  /* not checked (free-form) */
} kube_type;

typedef enum kube_support {
	KS_SUPPORTED,
	KS_IGNORED,	/* accepted, no effect on one host */
	KS_UNSUPPORTED, /* refused */
} kube_support;

typedef struct kube_field {
	const char *name;
	kube_type type;
	kube_type item; /* KT_LIST only */
	const struct kube_field *fields;
	kube_support support;
	const char *note; /* why ignored or refused */
} kube_field;

/* Called for each ignored field present: PATH and the table's note. */
typedef void (*kube_ignored_fn)(const char *path, const char *note, void *data);

int kube_schema_check(json_t *value, const kube_field *fields, const char *path, kube_ignored_fn ignored, void *data,
		      berth_error **err);

/* The tables, one per object kind's top level. */
extern const kube_field kube_schema_pod[];
extern const kube_field kube_schema_deployment[];
extern const kube_field kube_schema_configmap[];
extern const kube_field kube_schema_secret[];
extern const kube_field kube_schema_service[];
extern const kube_field kube_schema_endpoints[];
extern const kube_field kube_schema_list[];
extern const kube_field kube_schema_hpa_v2[]; /* autoscaling/v2 */
extern const kube_field kube_schema_hpa_v1[]; /* autoscaling/v1, stored as v2 */

/* The HorizontalPodAutoscaler's specs (hpa_spec.c). */
extern const kube_field kube_schema_hpa_spec_v2[];
extern const kube_field kube_schema_hpa_spec_v1[];

#endif
