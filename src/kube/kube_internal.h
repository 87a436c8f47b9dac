/* Helpers shared by the files of src/kube only. */
#ifndef BERTH_KUBE_INTERNAL_H
#define BERTH_KUBE_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "spec/json_read.h"
#include "util/error.h"

/* validate.c's rules, for the validators of other kinds */
bool kube_is_port_name(const char *s);			/* IANA_SVC_NAME */
bool kube_is_label(const char *key, const char *value); /* a label's key and value */

#endif
