/* Shared between the spec parser files; not part of libberth's interface. */
#ifndef BERTH_SPEC_INTERNAL_H
#define BERTH_SPEC_INTERNAL_H

#include <jansson.h>

#include "spec/json_read.h"
#include "spec/spec.h"

int spec_parse_linux(json_t *linux_obj, spec *s, berth_error **err);
int spec_parse_resources_object(json_t *obj, const char *path, spec_resources *r, berth_error **err);
int spec_parse_seccomp(json_t *obj, const char *path, spec_seccomp *sc, berth_error **err);
void spec_seccomp_clear(spec_seccomp *sc);
int spec_parse_process_object(json_t *obj, const char *path, spec_process *p, berth_error **err);
int spec_parse_mount_options(char **options, const char *path, spec_mount *m, berth_error **err);
int spec_validate(spec *s, berth_error **err);

#endif
