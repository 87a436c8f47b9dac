/* Whether the kernel's OOM killer killed a process of a container's memory
 * cgroup (docker's State.OOMKilled): the oom_kill counter of memory.events
 * (cgroup v2) or memory.oom_control (v1). */
#ifndef BERTH_ENGINE_OOM_H
#define BERTH_ENGINE_OOM_H

#include <stdint.h>
#include <sys/types.h>

/* Opens the OOM counter file of PID's memory cgroup (read while the
 * cgroup exists, kept open after); -1 when there is none (no memory
 * controller, rootless v1). */
int engine_oom_open(pid_t pid);
/* The oom_kill count read from FD, 0 when unknown. */
uint64_t engine_oom_kills(int fd);

#endif
