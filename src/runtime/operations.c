/* ps, pause, resume, update and events: operations on a live container
 * through its cgroup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "spec/spec.h"
#include "util/cleanup.h"

typedef struct live_container {
	int dirfd;
	int lockfd;
	container_state *st;
	cgroup_manager *cg;
	enum container_status status;
} live_container;

static void live_close(live_container *c)
{
	if (c->cg)
		cgroup_manager_free(c->cg);
	if (c->st)
		state_free(c->st);
	if (c->lockfd >= 0)
		close(c->lockfd);
	if (c->dirfd >= 0)
		close(c->dirfd);
}

#define _cleanup_live_ __attribute__((cleanup(live_close)))

static int live_open(const runtime_globals *g, const char *id, bool lock, live_container *c, berth_error **err)
{
	*c = (live_container){ .dirfd = -1, .lockfd = -1 };
	if (spec_validate_container_id(id, err) < 0)
		return -1;
	c->dirfd = state_dir_open(g->root, id, err);
	if (c->dirfd < 0)
		return -1;
	if (lock && (c->lockfd = state_lock(c->dirfd, err)) < 0)
		return -1;
	if (state_read(c->dirfd, &c->st, err) < 0)
		return -1;
	c->status = state_current_status(c->dirfd, c->st);
	if (c->st->cgroup == NULL)
		return berth_error_set(err, ENOENT, "container \"%s\" has no cgroup", id);
	return cgroup_manager_from_json(c->st->cgroup, &c->cg, err);
}

/* The processes in the pid namespace of INIT (it included), for a rootless
 * container whose cgroup could not be made: its own pid namespace is then
 * the only boundary there is. None when INIT shares the runtime's. */
static int pids_in_pid_namespace(pid_t init, pid_t **pids, size_t *n, berth_error **err)
{
	_cleanup_closedir_ DIR *proc = NULL;
	struct dirent *d;
	struct stat want, own, st;
	char path[64];
	size_t cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
	if (stat(path, &want) < 0 || stat("/proc/self/ns/pid", &own) < 0 || want.st_ino == own.st_ino)
		return 0;
	proc = opendir("/proc");
	if (proc == NULL)
		return berth_error_set(err, errno, "open /proc");
	while ((d = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &st) < 0 || st.st_ino != want.st_ino || st.st_dev != want.st_dev)
			continue;
		if (*n == cap) {
			pid_t *grown = realloc(*pids, (cap = cap ? cap * 2 : 16) * sizeof(pid_t));
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "pids");
			*pids = grown;
		}
		(*pids)[(*n)++] = (pid_t)pid;
	}
	return 0;
}

int container_pids(const runtime_globals *g, const char *id, pid_t **pids, size_t *n, berth_error **err)
{
	_cleanup_live_ live_container c;

	if (live_open(g, id, false, &c, err) < 0 || cgroup_manager_pids(c.cg, pids, n, err) < 0)
		return berth_error_wrap(err, "ps %s", id);
	if (*n == 0 && c.cg && g->rootless && c.status != STATUS_STOPPED &&
	    pids_in_pid_namespace(c.st->pid, pids, n, err) < 0)
		return berth_error_wrap(err, "ps %s", id);
	return 0;
}

int container_pause(const runtime_globals *g, const char *id, berth_error **err)
{
	_cleanup_live_ live_container c;

	if (live_open(g, id, true, &c, err) < 0)
		return berth_error_wrap(err, "pause %s", id);
	if (c.status != STATUS_RUNNING && c.status != STATUS_CREATED)
		return berth_error_set(err, EINVAL, "pause %s: container is %s, not running", id,
				       state_status_name(c.status));
	if (cgroup_manager_freeze(c.cg, true, err) < 0)
		return berth_error_wrap(err, "pause %s", id);
	return 0;
}

int container_resume(const runtime_globals *g, const char *id, berth_error **err)
{
	_cleanup_live_ live_container c;

	if (live_open(g, id, true, &c, err) < 0)
		return berth_error_wrap(err, "resume %s", id);
	if (c.status != STATUS_PAUSED)
		return berth_error_set(err, EINVAL, "resume %s: container is %s, not paused", id,
				       state_status_name(c.status));
	if (cgroup_manager_freeze(c.cg, false, err) < 0)
		return berth_error_wrap(err, "resume %s", id);
	return 0;
}

int container_update(const runtime_globals *g, const char *id, const struct spec_resources *r, berth_error **err)
{
	_cleanup_live_ live_container c;

	if (live_open(g, id, true, &c, err) < 0)
		return berth_error_wrap(err, "update %s", id);
	if (c.status == STATUS_STOPPED)
		return berth_error_set(err, EINVAL, "update %s: container is stopped", id);
	if (cgroup_manager_apply(c.cg, r, err) < 0)
		return berth_error_wrap(err, "update %s", id);
	return 0;
}

int container_stats_json(const runtime_globals *g, const char *id, json_t **out, berth_error **err)
{
	_cleanup_live_ live_container c;
	json_t *data = NULL;

	if (live_open(g, id, false, &c, err) < 0)
		return berth_error_wrap(err, "events %s", id);
	if (c.status == STATUS_STOPPED)
		return berth_error_set(err, EINVAL, "events %s: container is stopped", id);
	if (cgroup_manager_stats(c.cg, &data, err) < 0)
		return berth_error_wrap(err, "events %s", id);
	*out = json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", data);
	return 0;
}
