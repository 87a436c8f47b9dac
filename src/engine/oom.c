#include "engine/oom.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

int engine_oom_open(pid_t pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[4096];
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *rel = ctrl ? strchr(ctrl + 1, ':') : NULL, *file = NULL;
		if (rel == NULL)
			continue;
		*rel++ = '\0';
		rel[strcspn(rel, "\n")] = '\0';
		ctrl++;
		if (strcmp(line, "0") == 0 && ctrl[0] == '\0') /* v2 */
			file = "memory.events";
		else if (strcmp(ctrl, "memory") == 0 || strstr(ctrl, "memory,") || strstr(ctrl, ",memory"))
			file = "memory.oom_control";
		if (file == NULL)
			continue;
		_cleanup_free_ char *full = NULL;
		/* v1: the memory hierarchy's own mount */
		if (asprintf(&full, "/sys/fs/cgroup%s%s/%s", strcmp(file, "memory.events") == 0 ? "" : "/memory",
			     strcmp(rel, "/") == 0 ? "" : rel, file) > 0)
			fd = open(full, O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

uint64_t engine_oom_kills(int fd)
{
	char buf[1024], *p;
	ssize_t n;

	if (fd < 0 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, "oom_kill ")) != NULL; p++)
		if (p == buf || p[-1] == '\n')
			return strtoull(p + 9, NULL, 10);
	return 0;
}
