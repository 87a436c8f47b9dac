/* --ipc and --pid: joining another container's namespaces (share.h). */
#include "engine/share.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define SHM_OPTIONS "mode=1777,size=65536k"

int engine_share_validate(const char *ipc, const char *pid, berth_error **err)
{
	if (ipc && strcmp(ipc, "private") != 0 && strcmp(ipc, "shareable") != 0 && strcmp(ipc, "host") != 0 &&
	    (strncmp(ipc, "container:", 10) != 0 || ipc[10] == '\0'))
		return berth_error_request(err, EINVAL,
					   "--ipc \"%s\": expected private, shareable, host or container:ID", ipc);
	if (pid && strcmp(pid, "private") != 0 && strcmp(pid, "host") != 0 &&
	    (strncmp(pid, "container:", 10) != 0 || pid[10] == '\0'))
		return berth_error_request(err, EINVAL, "--pid \"%s\": expected private, host or container:ID", pid);
	return 0;
}

/* The namespace TYPE of CFG: joined at PATH, or (PATH NULL) none, the
 * host's. */
static void set_namespace(json_t *cfg, const char *type, const char *path)
{
	json_t *ns = json_object_get(json_object_get(cfg, "linux"), "namespaces"), *v;
	size_t i;

	json_array_foreach(ns, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", type) != 0)
			continue;
		if (path)
			json_object_set_new(v, "path", json_string(path));
		else
			json_array_remove(ns, i);
		return;
	}
	if (path)
		json_array_append_new(ns, json_pack("{s:s, s:s}", "type", type, "path", path));
}

/* /dev/shm of CFG: a bind of SOURCE instead of its own tmpfs. */
static void bind_shm(json_t *cfg, const char *source)
{
	json_t *mounts = json_object_get(cfg, "mounts"), *m;
	size_t i;

	json_array_foreach(mounts, i, m) {
		if (strcmp(json_string_value(json_object_get(m, "destination")) ?: "", "/dev/shm") == 0) {
			json_array_remove(mounts, i);
			break;
		}
	}
	json_array_append_new(mounts,
			      json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "destination", "/dev/shm", "type", "bind",
					"source", source, "options", "rbind", "nosuid", "nodev", "noexec"));
}

/* The container ID of `container:ID` of FLAG, running; *OUT its record. */
static int open_target(const engine_paths *p, const char *flag, const char *target, container **out, berth_error **err)
{
	if (record_open(p, target, out, err) < 0 || record_refresh(p, *out, err) < 0)
		return berth_error_wrap(err, "--%s container:%s", flag, target);
	if (strcmp((*out)->state.status, "running") != 0 && strcmp((*out)->state.status, "paused") != 0)
		return berth_error_request(err, EINVAL, "--%s container:%s: the container is not running", flag,
					   target);
	return 0;
}

static int setup_ipc(const engine_paths *p, container *c, const char *ipc, json_t *cfg, berth_error **err)
{
	_cleanup_free_ char *nspath = NULL, *shm = NULL;
	container *other = NULL;
	int ret = -1;

	if (strcmp(ipc, "host") == 0) {
		set_namespace(cfg, "ipc", NULL);
		bind_shm(cfg, "/dev/shm");
		json_object_set_new(c->config, "IpcMode", json_string("host"));
		return 0;
	}
	if (strcmp(ipc, "shareable") == 0) {
		shm = record_path(c, "shm");
		if (shm == NULL)
			return berth_error_set(err, ENOMEM, "--ipc shareable");
		if (mkdir(shm, 0700) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mkdir \"%s\"", shm);
		if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, SHM_OPTIONS) < 0)
			return berth_error_set(err, errno, "mount the shareable /dev/shm on \"%s\"", shm);
		bind_shm(cfg, shm);
		json_object_set_new(c->config, "IpcMode", json_string("shareable"));
		return 0;
	}
	if (open_target(p, "ipc", ipc + 10, &other, err) < 0)
		goto out;
	if (strcmp(record_config_string(other, "IpcMode") ?: "", "shareable") != 0) {
		berth_error_request(err, EINVAL,
				    "--ipc %s: the container's IPC namespace is not shareable (--ipc shareable)", ipc);
		goto out;
	}
	shm = record_path(other, "shm");
	if (shm == NULL || asprintf(&nspath, "/proc/%d/ns/ipc", (int)other->state.pid) < 0) {
		berth_error_set(err, ENOMEM, "--ipc %s", ipc);
		goto out;
	}
	set_namespace(cfg, "ipc", nspath);
	bind_shm(cfg, shm);
	json_object_set_new(c->config, "IpcMode", json_sprintf("container:%s", other->id));
	ret = 0;
out:
	container_free(other);
	return ret;
}

static int setup_pid(const engine_paths *p, container *c, const char *pid, json_t *cfg, berth_error **err)
{
	_cleanup_free_ char *nspath = NULL;
	container *other = NULL;
	int ret = -1;

	if (strcmp(pid, "host") == 0) {
		set_namespace(cfg, "pid", NULL);
		json_object_set_new(c->config, "PidMode", json_string("host"));
		return 0;
	}
	if (open_target(p, "pid", pid + 10, &other, err) < 0)
		goto out;
	if (asprintf(&nspath, "/proc/%d/ns/pid", (int)other->state.pid) < 0) {
		berth_error_set(err, ENOMEM, "--pid %s", pid);
		goto out;
	}
	set_namespace(cfg, "pid", nspath);
	json_object_set_new(c->config, "PidMode", json_sprintf("container:%s", other->id));
	ret = 0;
out:
	container_free(other);
	return ret;
}

int engine_share_setup(const engine_paths *p, container *c, const char *ipc, const char *pid, json_t *cfg,
		       berth_error **err)
{
	if (ipc && strcmp(ipc, "private") != 0 && setup_ipc(p, c, ipc, cfg, err) < 0)
		return -1;
	if (pid && strcmp(pid, "private") != 0 && setup_pid(p, c, pid, cfg, err) < 0)
		return -1;
	return 0;
}

int engine_share_refresh(const engine_paths *p, const container *c, berth_error **err)
{
	static const char *const modes[][3] = { { "IpcMode", "ipc", "ipc" }, { "PidMode", "pid", "pid" } };
	_cleanup_free_ char *bundle = engine_container_bundle(c), *text = NULL;
	_cleanup_free_ char *path = bundle ? fs_path_join(bundle, "config.json") : NULL;
	_cleanup_close_ int dirfd = -EBADF;
	json_t *cfg = NULL;
	bool changed = false;
	int ret = 0;

	for (size_t i = 0; i < 2 && ret == 0; i++) {
		const char *mode = record_config_string(c, modes[i][0]);
		_cleanup_free_ char *nspath = NULL;
		container *other = NULL;
		json_t *ns, *v;
		size_t j;
		if (mode == NULL || strncmp(mode, "container:", 10) != 0)
			continue;
		if (cfg == NULL && (path == NULL || (cfg = json_load_file(path, 0, NULL)) == NULL)) {
			ret = berth_error_set(err, EIO, "start %s: read its bundle's config.json", c->name);
			break;
		}
		if (open_target(p, modes[i][1], mode + 10, &other, err) < 0 ||
		    asprintf(&nspath, "/proc/%d/ns/%s", (int)other->state.pid, modes[i][2]) < 0) {
			container_free(other);
			ret = -1;
			break;
		}
		container_free(other);
		ns = json_object_get(json_object_get(cfg, "linux"), "namespaces");
		json_array_foreach(ns, j, v)
			if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", modes[i][2]) == 0 &&
			    strcmp(json_string_value(json_object_get(v, "path")) ?: "", nspath) != 0) {
				json_object_set_new(v, "path", json_string(nspath));
				changed = true;
			}
	}
	if (ret == 0 && changed) {
		text = json_dumps(cfg, JSON_COMPACT);
		dirfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (text == NULL || dirfd < 0)
			ret = berth_error_set(err, text ? errno : ENOMEM, "start %s: config.json", c->name);
		else
			ret = fs_write_file_replace(dirfd, "config.json", text, strlen(text), 0600, err);
	}
	json_decref(cfg);
	return ret < 0 ? berth_error_wrap(err, "start %s", c->name) : 0;
}

void engine_share_teardown(const container *c)
{
	_cleanup_free_ char *shm = record_path(c, "shm");
	struct stat st, parent;

	/* mounted when its device differs from the record directory's */
	if (shm == NULL || stat(shm, &st) < 0 || stat(c->dir, &parent) < 0 || st.st_dev == parent.st_dev)
		return;
	if (umount2(shm, MNT_DETACH) < 0)
		berth_debug("unmount \"%s\": %s", shm, strerror(errno));
}
