#include "engine/oom.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

char *engine_oom_path(const char *proc_cgroup, const char *root)
{
	_cleanup_free_ char *copy = strdup(proc_cgroup), *v2 = NULL;
	char *save = NULL, *out = NULL;

	for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && out == NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ctrl = strchr(line, ':'), *rel = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (rel == NULL)
			continue;
		*ctrl++ = '\0';
		*rel++ = '\0';
		if (strcmp(line, "0") == 0 && ctrl == rel - 1) {
			/* v2 "0::/path"; on a hybrid host the v1 memory line wins */
			free(v2);
			if (asprintf(&v2, "%s%s/memory.events", root, strcmp(rel, "/") == 0 ? "" : rel) < 0)
				v2 = NULL;
			continue;
		}
		for (char *s2 = NULL, *c = strtok_r(ctrl, ",", &s2); c && out == NULL; c = strtok_r(NULL, ",", &s2))
			if (strcmp(c, "memory") == 0 && asprintf(&out, "%s/memory%s/memory.oom_control", root,
								 strcmp(rel, "/") == 0 ? "" : rel) < 0)
				out = NULL;
	}
	return out ? out : move_ptr(v2);
}

int engine_oom_open(pid_t pid)
{
	_cleanup_free_ char *text = NULL, *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char name[64];
	size_t cap = 0;

	snprintf(name, sizeof(name), "/proc/%d/cgroup", (int)pid);
	f = fopen(name, "re");
	if (f == NULL || getdelim(&text, &cap, '\0', f) < 0)
		return -1;
	path = engine_oom_path(text, "/sys/fs/cgroup");
	return path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
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
