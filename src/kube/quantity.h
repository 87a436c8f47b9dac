/* Kubernetes resource quantities ("500m", "0.5", "128Mi", "1G", "1e3").
 *
 * The value is returned in thousandths of the unit (millicores for cpu,
 * millibytes for memory), rounded up as Kubernetes rounds a quantity to
 * its smallest representable step. Negative values, empty strings,
 * unknown suffixes and values beyond int64 are errors. */
#ifndef BERTH_KUBE_QUANTITY_H
#define BERTH_KUBE_QUANTITY_H

#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

int kube_quantity_parse(const char *text, int64_t *milli, berth_error **err);

/* A JSON number or string, as manifests write quantities; PATH for errors. */
int kube_quantity_from_json(const json_t *value, const char *path, int64_t *milli, berth_error **err);

#endif
