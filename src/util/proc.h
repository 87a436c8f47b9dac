/* Facts about processes from /proc. */
#ifndef BERTH_UTIL_PROC_H
#define BERTH_UTIL_PROC_H

#include <sys/types.h>

/* Field 22 of /proc/PID/stat (start time in clock ticks since boot): with
 * the pid it names one process for good. 0 when PID does not exist or is a
 * zombie (dead, not yet reaped). */
unsigned long long proc_pid_start_time(pid_t pid);

/* Hands back to the kernel the pages of the main thread's stack more than
 * KEEP bytes below the caller's frame (MADV_DONTNEED: they read as zeros
 * when touched again). For a long-lived process whose steady state runs
 * far shallower than its start (berth's monitor after the in-process
 * create): the deep frames of the start stay dirty otherwise. Nothing is
 * done when the caller runs on another stack (a thread's). */
void proc_release_stack_below(size_t keep);

#endif
