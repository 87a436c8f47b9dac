/* Helpers shared by the files of src/kube only. */
#ifndef BERTH_KUBE_INTERNAL_H
#define BERTH_KUBE_INTERNAL_H

#include <jansson.h>

#include "spec/json_read.h"

#endif
