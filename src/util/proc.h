/* Facts about processes from /proc. */
#ifndef BERTH_UTIL_PROC_H
#define BERTH_UTIL_PROC_H

#include <sys/types.h>

/* Field 22 of /proc/PID/stat (start time in clock ticks since boot): with
 * the pid it names one process for good. 0 when PID does not exist or is a
 * zombie (dead, not yet reaped). */
unsigned long long proc_pid_start_time(pid_t pid);

#endif
