/* The rules Kubernetes' API server applies to the objects berth runs,
 * after kube_schema_check() has vouched for the fields and their types:
 * names (DNS-1123), required fields, enums, port ranges, one handler per
 * probe, label selectors that match their template, quantities, base64.
 *
 * Errors read "PATH: what is wrong" with PATH the field's JSON path from
 * the object's top, so the caller can find its line. */
#ifndef BERTH_KUBE_VALIDATE_H
#define BERTH_KUBE_VALIDATE_H

#include <stdbool.h>

#include <jansson.h>

#include "util/error.h"

int kube_validate_pod(json_t *pod, berth_error **err);
int kube_validate_deployment(json_t *deployment, berth_error **err);
int kube_validate_configmap(json_t *configmap, berth_error **err);
int kube_validate_secret(json_t *secret, berth_error **err);
/* service_validate.c */
int kube_validate_service(json_t *service, berth_error **err);
int kube_validate_endpoints(json_t *endpoints, berth_error **err);

/* metadata: required, with a valid name, namespace, labels and annotations
 * (for the kinds validated in other files: hpa_spec.c). */
int kube_validate_object_metadata(json_t *obj, berth_error **err);

/* Name rules, for the CLI's arguments too. */
bool kube_is_dns1123_label(const char *s);     /* namespaces, container names: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
bool kube_is_dns1123_subdomain(const char *s); /* object names: labels joined by dots, <= 253 */

/* Whether LABELS (an object of strings) satisfy SELECTOR (matchLabels and
 * matchExpressions). An empty selector matches everything. */
bool kube_selector_matches(json_t *selector, json_t *labels);

#endif
