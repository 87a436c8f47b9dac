/* The process title that ps shows (/proc/PID/cmdline): a forked child that
 * never execs (berth's monitor) rewrites the argv area it inherited. */
#ifndef BERTH_UTIL_PROCTITLE_H
#define BERTH_UTIL_PROCTITLE_H

/* Remembers the argv area of main (call once, first thing). */
void proctitle_init(int argc, char **argv);
/* Writes TITLE over it (cut to its length), the rest zeroed; returns the
 * room there was (bytes, the final NUL included), 0 without proctitle_init. */
int proctitle_set(const char *title);
/* The room proctitle_set has. */
int proctitle_room(void);

#endif
