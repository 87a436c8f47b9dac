/* berth rename: a container's new name, reserved before the old one goes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/events.h"
#include "util/cleanup.h"

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > RUN_NAME_MAX || strchr("_.-", name[0]))
		return false;
	for (const char *s = name; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
			return false;
	return true;
}

int engine_container_rename(const engine_paths *p, container *c, const char *name, berth_error **err)
{
	_cleanup_close_ int dirfd = -EBADF;
	char other[RECORD_ID_LEN + 1] = "";
	char *old;
	ssize_t n;
	int lock, ret;

	if (!name_valid(name))
		return berth_error_request(err, EINVAL,
					   "invalid container name \"%s\": [a-zA-Z0-9][a-zA-Z0-9_.-], at most %d "
					   "characters",
					   name, RUN_NAME_MAX);
	if (strcmp(name, c->name) == 0)
		return berth_error_request(err, EINVAL, "rename %s: the container already has that name", c->name);
	dirfd = open(p->names, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", p->names);
	lock = record_lock(c, err);
	if (lock < 0)
		return -1;
	/* the new name is taken first: a kill leaves two names, never none */
	if (symlinkat(c->id, dirfd, name) < 0) {
		int e = errno;
		record_unlock(lock);
		if (e != EEXIST)
			return berth_error_set(err, e, "reserve name \"%s\"", name);
		n = readlinkat(dirfd, name, other, sizeof(other) - 1);
		if (n > 0)
			other[n] = '\0';
		return berth_error_set(err, 0, "name \"%s\" is already in use by container %.12s", name, other);
	}
	json_object_set_new(c->config, "Name", json_string(name));
	ret = record_save_config(c, err);
	if (ret < 0) {
		unlinkat(dirfd, name, 0);
		json_object_set_new(c->config, "Name", json_string(c->name));
		record_unlock(lock);
		return -1;
	}
	n = readlinkat(dirfd, c->name, other, sizeof(other) - 1);
	if (n > 0) {
		other[n] = '\0';
		if (strcmp(other, c->id) == 0)
			unlinkat(dirfd, c->name, 0);
	}
	record_unlock(lock);
	old = c->name;
	c->name = strdup(name);
	if (c->name == NULL) {
		c->name = old;
		return berth_error_set(err, ENOMEM, "rename");
	}
	engine_event(p, c, "rename", "oldName", old);
	free(old);
	return 0;
}
