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
/* An array of {containerID, hostID, size} at PATH.KEY (linux.uidMappings,
 * mounts[N].uidMappings). */
int spec_parse_id_mappings(json_t *obj, const char *key, const char *path, spec_id_mapping **out, size_t *n,
			   berth_error **err);
/* runtime-spec 1.2/1.3 additions: linux.memoryPolicy, linux.netDevices, the
 * idmap options and mappings of a mount (memory_policy.c, net_devices.c,
 * idmap.c). */
int spec_parse_memory_policy(json_t *linux_obj, spec_memory_policy *mp, berth_error **err);
void spec_memory_policy_clear(spec_memory_policy *mp);
int spec_parse_net_devices(json_t *linux_obj, spec *s, berth_error **err);
void spec_net_devices_clear(spec *s);
int spec_parse_mount_idmap(json_t *item, const char *path, spec_mount *m, berth_error **err);
int spec_validate_idmap_and_net_devices(const spec *s, berth_error **err);
int spec_parse_exec_cpu_affinity(json_t *process_obj, const char *path, spec_process *p, berth_error **err);

#endif
