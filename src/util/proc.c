#include "util/proc.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

unsigned long long proc_pid_start_time(pid_t pid)
{
	char path[64], buf[4096], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses: parse after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	p += 2;
	/* p is at field 3 (state); start time is field 22 */
	char state = *p;
	if (state == 'Z' || state == 'X')
		return 0;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

void proc_release_stack_below(size_t keep)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	unsigned long start = 0, end = 0;
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "re");

	if (maps == NULL)
		return;
	while (fgets(line, sizeof(line), maps) != NULL)
		if (strstr(line, " [stack]") != NULL && sscanf(line, "%lx-%lx", &start, &end) == 2)
			break;
	fclose(maps);
	/* frames below this one are this function's callees: none is live
	 * once it returns, and KEEP leaves the caller's next calls their room */
	if (here < start || here >= end || here - start <= keep + page)
		return;
	madvise((void *)start, ((here - keep) & ~(page - 1)) - start, MADV_DONTNEED);
}
