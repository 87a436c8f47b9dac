/* Helpers shared by the files of src/kube only. */
#ifndef BERTH_KUBE_INTERNAL_H
#define BERTH_KUBE_INTERNAL_H

#include <jansson.h>

/* a jansson value released at the end of its scope (jansson's own json_decrefp) */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

#endif
