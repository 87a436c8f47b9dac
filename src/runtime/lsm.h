/* Linux security modules for the container process: an AppArmor profile
 * (process.apparmorProfile) and an SELinux label (process.selinuxLabel),
 * both taking effect at the process's execve.
 *
 * Every function is a no-op when the process asks for neither. A profile
 * or label asked for on a host without that LSM is an error, reported by
 * lsm_check_available() in the runtime before anything is created; the
 * attr file written in the container is verified to be on procfs first. */
#ifndef BERTH_RUNTIME_LSM_H
#define BERTH_RUNTIME_LSM_H

#include <stdbool.h>

#include "spec/spec.h"
#include "util/error.h"

bool lsm_apparmor_enabled(void);
bool lsm_selinux_enabled(void);

/* Fails when P asks for an LSM this host does not have. */
int lsm_check_available(const spec_process *p, berth_error **err);

/* In the process that will execve the container's program: sets the
 * AppArmor profile and SELinux label of that execve. */
int lsm_apply_exec_labels(const spec_process *p, berth_error **err);

#endif
