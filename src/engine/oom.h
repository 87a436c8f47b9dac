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
/* The counter file of the memory cgroup in PROC_CGROUP (the text of
 * /proc/PID/cgroup) below ROOT (/sys/fs/cgroup): v2's memory.events, or the
 * memory hierarchy's memory.oom_control on v1. Heap, NULL when there is no
 * memory cgroup. */
char *engine_oom_path(const char *proc_cgroup, const char *root);
/* The oom_kill count read from FD, 0 when unknown. */
uint64_t engine_oom_kills(int fd);

#endif
