#include "engine/record_sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/monitor.h"
#include "engine/network.h"
#include "engine/share.h"
#include "engine/runtime_call.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"

/* An older berth's .removing-ID: its remover may still be at work. */
#define LEGACY_TRASH_GRACE_S 10

void record_owner_self(pid_t *pid, unsigned long long *start)
{
	static pid_t cached_pid;
	static unsigned long long cached_start;

	/* the monitor is a fork of berth: the cache belongs to one pid */
	if (cached_pid != getpid()) {
		cached_pid = getpid();
		cached_start = proc_pid_start_time(cached_pid);
	}
	*pid = cached_pid;
	*start = cached_start;
}

bool record_owner_alive(pid_t pid, unsigned long long start)
{
	return pid > 0 && start != 0 && proc_pid_start_time(pid) == start;
}

static bool is_id(const char *s)
{
	return strlen(s) == RECORD_ID_LEN && strspn(s, "0123456789abcdef") == RECORD_ID_LEN;
}

/* "PID-START-ID" after a prefix; false when TEXT is not of that form. */
static bool parse_owned(const char *text, pid_t *pid, unsigned long long *start, const char **id)
{
	char *end;
	long p = strtol(text, &end, 10);

	if (end == text || *end != '-' || p <= 0)
		return false;
	text = end + 1;
	*start = strtoull(text, &end, 10);
	if (end == text || *end != '-')
		return false;
	*pid = (pid_t)p;
	*id = end + 1;
	return is_id(*id);
}

void record_release_name(const engine_paths *p, const char *name, const char *id)
{
	_cleanup_close_ int dirfd = -EBADF;
	char target[RECORD_ID_LEN + 1];
	ssize_t n;

	if (name == NULL || name[0] == '\0' || strchr(name, '/'))
		return;
	dirfd = open(p->names, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return;
	while (flock(dirfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return;
	n = readlinkat(dirfd, name, target, sizeof(target));
	if (n == RECORD_ID_LEN && memcmp(target, id, RECORD_ID_LEN) == 0)
		unlinkat(dirfd, name, 0);
	/* the lock goes with the fd */
}

/* Finishes the removal of STORE/containers/TRASH (a record renamed away by
 * a remover that is gone, or by this process): the runtime's container,
 * the network, the rootfs mount, the name, the anonymous volumes of a
 * record that never was complete or was --rm, then the files. Each step is
 * quiet when its part is gone already. */
static void finish_removal(const engine_paths *p, int dirfd, const char *trash, const char *id)
{
	_cleanup_free_ char *dir = fs_path_join(p->containers, trash);
	_cleanup_free_ char *cfg_path = dir ? fs_path_join(dir, "config.json") : NULL;
	_cleanup_free_ char *bundle = dir ? fs_path_join(dir, "bundle") : NULL;
	container c = { .id = (char *)id, .dir = dir };
	berth_error *ignored = NULL;
	int ret;

	if (dir == NULL || cfg_path == NULL || bundle == NULL)
		return;
	c.config = json_load_file(cfg_path, 0, NULL);
	if (c.config == NULL)
		c.config = json_object();
	if (json_object_get(c.config, "Runtime") == NULL) {
		/* an older berth's record without its config: the default */
		_cleanup_free_ char *runtime = runtime_default_path();
		json_object_set_new(c.config, "Runtime", json_string(runtime ?: "berth-runtime"));
	}
	c.name = (char *)(json_string_value(json_object_get(c.config, "Name")) ?: "");
	berth_debug("removing what a killed command left of container %.12s (%s)", id, trash);
	engine_container_runtime_delete(p, &c);
	monitor_forget(p, id);
	engine_network_teardown(p, &c);
	engine_share_teardown(&c);
	/* unmounted before the rename, unless the remover died first */
	if (storage_rootfs_unmount(bundle, false, &ignored) < 0)
		berth_error_free(&ignored);
	record_release_name(p, c.name, id);
	if ((json_object_get(c.config, "Creating") || record_config_bool(&c, "AutoRemove")) &&
	    engine_container_remove_anonymous_volumes(p, &c, &ignored) < 0)
		berth_error_free(&ignored);
	json_decref(c.config);
	ret = fs_remove_tree_at(dirfd, trash);
	if (ret < 0)
		berth_debug("remove \"%s\": %s", dir, strerror(-ret));
}

void record_sweep_hidden(const engine_paths *p, int dirfd, const char *name)
{
	unsigned long long start;
	const char *id;
	struct stat st;
	pid_t pid;

	if (strncmp(name, RECORD_CREATING_PREFIX, strlen(RECORD_CREATING_PREFIX)) == 0) {
		/* no name, no bundle yet: only the files */
		if (parse_owned(name + strlen(RECORD_CREATING_PREFIX), &pid, &start, &id) &&
		    !record_owner_alive(pid, start))
			fs_remove_tree_at(dirfd, name);
		return;
	}
	if (strncmp(name, RECORD_TRASH_PREFIX, strlen(RECORD_TRASH_PREFIX)) != 0)
		return;
	id = name + strlen(RECORD_TRASH_PREFIX);
	if (is_id(id)) {
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    time(NULL) - st.st_ctime >= LEGACY_TRASH_GRACE_S)
			finish_removal(p, dirfd, name, id);
		return;
	}
	if (parse_owned(id, &pid, &start, &id) && !record_owner_alive(pid, start))
		finish_removal(p, dirfd, name, id);
}

/* Renames ID to .removing-PID-START-ID with this process as the owner;
 * false when it is gone (someone else took it). */
static bool claim_removal(int dirfd, const char *id, char *trash, size_t size)
{
	unsigned long long start;
	pid_t pid;

	record_owner_self(&pid, &start);
	snprintf(trash, size, RECORD_TRASH_PREFIX "%d-%llu-%s", (int)pid, start, id);
	return renameat(dirfd, id, dirfd, trash) == 0;
}

bool record_sweep_unfinished(const engine_paths *p, const char *id)
{
	_cleanup_close_ int dirfd = open(p->containers, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char trash[sizeof(RECORD_TRASH_PREFIX) + 48 + RECORD_ID_LEN];

	if (dirfd < 0 || !is_id(id) || !claim_removal(dirfd, id, trash, sizeof(trash)))
		return false;
	finish_removal(p, dirfd, trash, id);
	return true;
}

void record_sweep_removing(const engine_paths *p, const char *id)
{
	_cleanup_closedir_ DIR *d = opendir(p->containers);
	struct dirent *e;
	size_t len = strlen(RECORD_TRASH_PREFIX);

	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n > len + RECORD_ID_LEN && strncmp(e->d_name, RECORD_TRASH_PREFIX, len) == 0 &&
		    strcmp(e->d_name + n - RECORD_ID_LEN, id) == 0)
			record_sweep_hidden(p, dirfd(d), e->d_name);
	}
}
