#include "engine/container.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/events.h"
#include "engine/monitor.h"
#include "engine/network.h"
#include "engine/runtime_call.h"
#include "engine/share.h"
#include "engine/userns.h"
#include "image/images.h"
#include "image/registry.h"
#include "spec/spec.h"
#include "storage/bundle.h"
#include "storage/rootfs.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

const char *engine_container_runtime(const container *c)
{
	return record_config_string(c, "Runtime") ?: "berth-runtime";
}

char *engine_container_bundle(const container *c)
{
	return record_path(c, "bundle");
}

/* ---- create ---- */

/* An image of the store passes the signature policy of today under the
 * name it is used by; one that is pulled here passes it in the pull. */
static int resolve_or_pull(store *s, const char *text, const trust_options *trust, image_info *info, berth_error **err)
{
	pull_options po = { .registry = { .tls_verify = true, .quiet = true }, .trust = *trust };

	if (image_resolve(s, text, info, err) == 0) {
		if (trust_check_stored(trust, store_root(s), text, info, err) == 0)
			return 0;
		image_info_free(info);
		return berth_error_wrap(err, "image \"%s\"", text);
	}
	if (*err == NULL || (*err)->code != 0 || strstr((*err)->msg, "not known") == NULL)
		return -1;
	berth_error_free(err);
	if (image_pull(s, text, &po, info, err) < 0)
		return berth_error_wrap(err, "image \"%s\" is not in the store and pulling it failed", text);
	return 0;
}

static json_t *string_array(const char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* The record's "Mounts" (volume.h reads the volumes' names there): ANON
 * holds the names of the anonymous volumes made for PLAN's mounts. */
static json_t *mounts_record(const run_plan *plan, char *const *anon)
{
	json_t *a = json_array();

	for (size_t i = 0; i < plan->n_mounts; i++) {
		const run_mount *m = &plan->mounts[i];
		if (m->kind == RUN_MOUNT_BIND)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source", m->source,
							   "Destination", m->destination, "RW", !m->read_only));
		else
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b, s:b}", "Type", "volume", "Name",
							   m->kind == RUN_MOUNT_ANONYMOUS ? anon[i] : m->source,
							   "Destination", m->destination, "RW", !m->read_only,
							   "Anonymous", m->kind == RUN_MOUNT_ANONYMOUS));
	}
	return a;
}

static json_int_t health_value(const run_plan *plan, int64_t flag, json_t *image, const char *key)
{
	if (flag != 0)
		return (json_int_t)flag;
	return json_integer_value(json_object_get(image, key)); /* 0: the default (health.h) */
}

/* docker's Config.Healthcheck: the image's, with the flags over it; NULL
 * for none. Durations in nanoseconds, 0 meaning the default. */
static json_t *healthcheck_record(const image_info *info, const run_options *o, const run_plan *plan)
{
	json_t *image = info->config.healthcheck, *test;

	if (o->no_healthcheck)
		return json_pack("{s:[s]}", "Test", "NONE");
	if (o->health_cmd)
		test = json_pack("[s, s]", "CMD-SHELL", o->health_cmd);
	else
		test = json_incref(json_object_get(image, "Test"));
	if (!json_is_array(test) || json_array_size(test) == 0) {
		json_decref(test);
		return NULL;
	}
	return json_pack("{s:o, s:I, s:I, s:I, s:I}", "Test", test, "Interval",
			 health_value(plan, plan->health_interval_ns, image, "Interval"), "Timeout",
			 health_value(plan, plan->health_timeout_ns, image, "Timeout"), "StartPeriod",
			 health_value(plan, plan->health_start_ns, image, "StartPeriod"), "Retries",
			 health_value(plan, plan->health_retries, image, "Retries"));
}

/* The image's labels with --label over them. */
static json_t *labels_record(const image_info *info, const run_options *o)
{
	json_t *labels = info->config.labels ? json_deep_copy(info->config.labels) : json_object();

	for (const char *const *l = o->labels; labels && l && *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *key = eq ? strndup(*l, (size_t)(eq - *l)) : strdup(*l);
		if (key && key[0])
			json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
	}
	return labels;
}

/* berth's record of the flags. */
static json_t *record_config(const char *image, const image_info *info, const run_options *o, const run_plan *plan,
			     const char *runtime, char *const *anon)
{
	json_t *health;

	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:i, s:I, s:i, s:s}", "Image", image, "ImageId", info->id,
		      "Runtime", runtime, "Tty", o->tty, "Interactive", o->interactive, "AutoRemove", o->remove,
		      "RestartPolicy", plan->restart_name, "RestartMax", plan->restart_max, "LogMaxSize",
		      (json_int_t)plan->log_max_size, "StopTimeout", plan->stop_timeout, "StopSignal",
		      o->stop_signal		 ? o->stop_signal
		      : info->config.stop_signal ? info->config.stop_signal
						 : "SIGTERM");
	if (o->stdin_once)
		json_object_set_new(j, "StdinOnce", json_true());
	if (o->no_monitor)
		json_object_set_new(j, "NoMonitor", json_true());
	json_object_set_new(j, "Env", string_array(o->env));
	json_object_set_new(j, "Volumes", string_array(o->volumes));
	json_object_set_new(j, "Network", json_string(o->network ? o->network : engine_network_default()));
	json_object_set_new(j, "Dns", string_array(o->dns));
	json_object_set_new(j, "ExtraHosts", string_array(o->add_hosts));
	if (o->network_aliases && o->network_aliases[0])
		json_object_set_new(j, "NetworkAliases", string_array(o->network_aliases));
	if (o->user)
		json_object_set_new(j, "User", json_string(o->user));
	if (o->workdir)
		json_object_set_new(j, "WorkingDir", json_string(o->workdir));
	if (o->hostname)
		json_object_set_new(j, "Hostname", json_string(o->hostname));
	json_object_set_new(j, "Mounts", mounts_record(plan, anon));
	json_object_set_new(j, "Labels", labels_record(info, o));
	json_object_set_new(j, "Init", json_boolean(plan->init_path != NULL));
	/* docker's HostConfig names: NanoCpus from the quota per 100 ms */
	json_object_set_new(j, "Resources",
			    json_pack("{s:I, s:I, s:I, s:I}", "Memory", (json_int_t)plan->memory, "NanoCpus",
				      (json_int_t)plan->cpu_quota * 10000, "CpuShares", (json_int_t)0, "PidsLimit",
				      (json_int_t)plan->pids_limit));
	if ((health = healthcheck_record(info, o, plan)) != NULL)
		json_object_set_new(j, "Healthcheck", health);
	return j;
}

/* The image config as the flags change it: entrypoint, cmd, user, cwd. */
static void override_image_config(image_info *img, const run_options *o, char **entrypoint)
{
	if (o->entrypoint) {
		entrypoint[0] = (char *)o->entrypoint;
		entrypoint[1] = NULL;
		img->config.entrypoint = o->entrypoint[0] ? entrypoint : NULL;
		img->config.cmd = NULL; /* docker: --entrypoint resets the image's CMD */
	}
	if (o->command && o->command[0])
		img->config.cmd = (char **)o->command;
	if (o->user)
		img->config.user = (char *)o->user;
	if (o->workdir)
		img->config.working_dir = (char *)o->workdir;
}

/* Number of path components of a mount's destination. */
static size_t mount_depth(json_t *m)
{
	const char *d = json_string_value(json_object_get(m, "destination")) ?: "";
	size_t n = 0;

	for (; *d; d++)
		if (*d == '/' && d[1] != '/' && d[1] != '\0')
			n++;
	return n;
}

/* Like docker: the user's mounts (from FIRST on) sorted by depth, stably, so
 * "-v vol:/data -v /host:/data/sub" mounts /data first. */
static void sort_mounts(json_t *mounts, size_t first)
{
	size_t n = json_array_size(mounts);

	for (size_t i = first + 1; i < n; i++) {
		json_t *m = json_incref(json_array_get(mounts, i));
		size_t k = i, depth = mount_depth(m);
		while (k > first && mount_depth(json_array_get(mounts, k - 1)) > depth)
			k--;
		if (k != i) {
			json_array_remove(mounts, i);
			json_array_insert(mounts, k, m);
		}
		json_decref(m);
	}
}

/* A volume made with --opt type=tmpfs (a fresh tmpfs here, its o= as mount
 * options) or type=none,o=bind,device=DIR (DIR bound): 1 when M is such a
 * volume and its mount is in MOUNTS, 0 for a plain one. */
static int mount_special_volume(const engine_paths *p, const char *name, json_t *m, json_t *mounts, berth_error **err)
{
	const char *dest = json_string_value(json_object_get(m, "Destination"));
	const char *type, *o, *device;
	bool ro = json_is_false(json_object_get(m, "RW"));
	volume_info v = { 0 };
	json_t *mount;

	if (volume_inspect(p->store_root, name, &v, err) < 0) {
		if (*err == NULL || (*err)->code != ENOENT)
			return -1;
		berth_error_free(err); /* a new named volume: volume_prepare_mount makes it */
		return 0;
	}
	type = json_string_value(json_object_get(v.options, "type"));
	o = json_string_value(json_object_get(v.options, "o"));
	device = json_string_value(json_object_get(v.options, "device"));
	if (type == NULL) {
		volume_info_free(&v);
		return 0;
	}
	if (strcmp(type, "tmpfs") == 0) {
		_cleanup_free_ char *copy = o ? strdup(o) : NULL;
		mount = json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination", dest, "type", "tmpfs", "source", "tmpfs",
				  "options", "nosuid", "nodev");
		for (char *save = NULL, *x = copy ? strtok_r(copy, ",", &save) : NULL; x;
		     x = strtok_r(NULL, ",", &save))
			json_array_append_new(json_object_get(mount, "options"), json_string(x));
		if (ro)
			json_array_append_new(json_object_get(mount, "options"), json_string("ro"));
		json_object_set_new(m, "Source", json_string("tmpfs"));
	} else {
		mount = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dest, "type", "bind", "source", device,
				  "options", "rbind", "rprivate", ro ? "ro" : "rw");
		json_object_set_new(m, "Source", json_string(device));
	}
	json_array_append_new(mounts, mount);
	volume_info_free(&v);
	return 1;
}

/* Readies every volume of the record (volume_prepare_mount fills a new one
 * from ROOTFS) and binds it in CFG; the record gets each "Source". */
static int mount_volumes(const engine_paths *p, container *c, const char *rootfs, json_t *cfg, berth_error **err)
{
	json_t *m, *mounts = json_object_get(cfg, "mounts");
	size_t i;
	int ret;

	json_array_foreach(json_object_get(c->config, "Mounts"), i, m) {
		const char *name = json_string_value(json_object_get(m, "Name"));
		const char *dest = json_string_value(json_object_get(m, "Destination"));
		_cleanup_free_ char *source = NULL;
		if (strcmp(json_string_value(json_object_get(m, "Type")) ?: "", "volume") != 0)
			continue;
		if (name && (ret = mount_special_volume(p, name, m, mounts, err)) != 0) {
			if (ret < 0)
				return berth_error_wrap(err, "volume %s at \"%s\"", name, dest);
			continue;
		}
		if (volume_prepare_mount(p->store_root, name, rootfs, dest, &source, err) < 0)
			return berth_error_wrap(err, "volume %s at \"%s\"", name, dest);
		json_object_set_new(m, "Source", json_string(source));
		json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dest, "type",
							"bind", "source", source, "options", "rbind", "rprivate",
							json_is_false(json_object_get(m, "RW")) ? "ro" : "rw"));
	}
	return 0;
}

/* The container's network (network.h) from the run flags and the image's
 * exposed ports (-P). */
static int setup_network(const engine_paths *p, container *c, const image_info *img, const run_options *o,
			 const run_plan *plan, json_t *cfg, berth_error **err)
{
	network_request r = { .mode = o->network,
			      .ip = o->ip,
			      .dns = o->dns,
			      .add_hosts = o->add_hosts,
			      .ports = plan->ports,
			      .n_ports = plan->n_ports,
			      .publish_all = o->publish_all,
			      .hostname = json_string_value(json_object_get(cfg, "hostname")) };
	json_t *exposed = json_object();
	int ret;

	for (char **e = img->config.exposed_ports; e && *e; e++)
		json_object_set_new(exposed, *e, json_object());
	r.exposed = exposed;
	ret = engine_network_setup(p, c, &r, cfg, err);
	json_decref(exposed);
	return ret;
}

/* docker creates a missing working directory (-w or the image's) in the
 * rootfs, owned by root. */
static int make_workdir(int rootfd, const char *cwd, berth_error **err)
{
	berth_error *missing = NULL;
	int fd;

	if (cwd == NULL || strcmp(cwd, "/") == 0)
		return 0;
	fd = fs_open_in_root(rootfd, cwd, O_PATH | O_DIRECTORY, 0, true, &missing);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	berth_error_free(&missing);
	fd = fs_mkdir_p_in_root(rootfd, cwd, 0755, err);
	if (fd < 0)
		return berth_error_wrap(err, "working directory");
	close(fd);
	return 0;
}

static int write_bundle(const engine_paths *p, store *s, const image_info *info, const run_options *o,
			const run_plan *plan, container *c, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *rootfs = NULL, *text = NULL;
	_cleanup_close_ int rootfd = -EBADF, dirfd = -EBADF;
	/* rootless, berth already runs in its user namespace (userns.h): the
	 * container needs no other */
	bundle_options bo = { .terminal = o->tty };
	/* --rm: what the container writes is thrown away with it; nothing to
	 * sync, and unmounting an overlay otherwise syncs the whole host
	 * filesystem of its upper layer */
	rootfs_options ro = { .userxattr = engine_rootless(),
			      .rootless = engine_rootless(),
			      .volatile_upper = o->remove };
	image_info img = *info;
	char *entrypoint[2];
	json_t *cfg = NULL, *process;
	size_t first_user_mount;

	override_image_config(&img, o, entrypoint);
	if (mkdir(bundle, 0700) < 0)
		return berth_error_set(err, errno, "mkdir \"%s\"", bundle);
	if (storage_rootfs_mount(s, info, bundle, &ro, &rootfs, err) < 0)
		return -1;
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	dirfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", rootfs);
	if (bundle_config_from_image(&img, rootfd, &bo, &cfg, err) < 0)
		return -1;
	process = json_object_get(cfg, "process");
	if (make_workdir(rootfd, json_string_value(json_object_get(process, "cwd")), err) < 0) {
		json_decref(cfg);
		return -1;
	}
	/* the command as given, before --init puts berth-init in front */
	json_object_set_new(c->config, "Command", json_deep_copy(json_object_get(process, "args")));
	json_object_set(c->config, "Cwd", json_object_get(process, "cwd"));
	/* docker's Config.Entrypoint and Config.Cmd, as the flags left them */
	json_object_set_new(c->config, "Entrypoint",
			    img.config.entrypoint ? string_array((const char *const *)img.config.entrypoint)
						  : json_null());
	json_object_set_new(c->config, "Cmd",
			    img.config.cmd ? string_array((const char *const *)img.config.cmd) : json_null());
	first_user_mount = json_array_size(json_object_get(cfg, "mounts"));
	if (run_config_apply(cfg, o, plan, c->id, err) < 0 || mount_volumes(p, c, rootfs, cfg, err) < 0 ||
	    setup_network(p, c, &img, o, plan, cfg, err) < 0 ||
	    engine_share_setup(p, c, o->ipc, o->pid, cfg, err) < 0) {
		json_decref(cfg);
		return -1;
	}
	sort_mounts(json_object_get(cfg, "mounts"), first_user_mount);
	/* compact, as containerd and podman write it: the runtime parses it
	 * at every start (16 KB indented with the default seccomp profile) */
	text = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "config.json");
	/* not fsynced: the overlay mount it goes with does not outlive a reboot */
	return fs_write_file_fresh(dirfd, "config.json", text, strlen(text), 0600, err);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* Creates the anonymous volumes of PLAN: *ANON[i] is the name for mount i
 * (NULL for the others). */
static int create_anonymous_volumes(const engine_paths *p, const run_plan *plan, char ***anon, berth_error **err)
{
	*anon = calloc(plan->n_mounts + 1, sizeof(char *));
	if (*anon == NULL)
		return berth_error_set(err, ENOMEM, "volumes");
	for (size_t i = 0; i < plan->n_mounts; i++) {
		volume_info v = { 0 };
		if (plan->mounts[i].kind != RUN_MOUNT_ANONYMOUS)
			continue;
		if (volume_create(p->store_root, NULL, NULL, true, &v, err) < 0)
			return berth_error_wrap(err, "anonymous volume for \"%s\"", plan->mounts[i].destination);
		(*anon)[i] = v.name;
		v.name = NULL;
		volume_info_free(&v);
	}
	return 0;
}

static void remove_volumes(const engine_paths *p, char *const *names, size_t n)
{
	berth_error *ignored = NULL;

	for (size_t i = 0; names && i < n; i++)
		if (names[i] && volume_remove(p->store_root, names[i], true, &ignored) < 0)
			berth_error_free(&ignored);
}

static bool same_path(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

/* Whether the flags mount something at DEST already (-v, --mount, --tmpfs). */
static bool flag_mounts_at(const run_options *o, const run_plan *plan, const char *dest)
{
	for (size_t i = 0; i < plan->n_mounts; i++)
		if (same_path(plan->mounts[i].destination, dest))
			return true;
	for (const char *const *t = o->tmpfs; t && *t; t++) {
		_cleanup_free_ char *d = strndup(*t, strcspn(*t, ":"));
		if (d && same_path(d, dest))
			return true;
	}
	return false;
}

/* PLAN's mounts plus, like docker, an anonymous volume for each VOLUME of
 * the image that no flag mounts over. FULL shares PLAN's strings; the
 * destinations it adds are its own (from PLAN->n_mounts on). */
static int add_image_volumes(const image_info *info, const run_options *o, const run_plan *plan, run_plan *full,
			     berth_error **err)
{
	size_t n = 0;

	*full = *plan;
	for (char **v = info->config.volumes; v && *v; v++)
		n++;
	full->mounts = calloc(plan->n_mounts + n + 1, sizeof(run_mount));
	if (full->mounts == NULL)
		return berth_error_set(err, ENOMEM, "volumes");
	if (plan->n_mounts)
		memcpy(full->mounts, plan->mounts, plan->n_mounts * sizeof(run_mount));
	for (char **v = info->config.volumes; v && *v; v++) {
		if ((*v)[0] != '/' || flag_mounts_at(o, plan, *v))
			continue;
		full->mounts[full->n_mounts].kind = RUN_MOUNT_ANONYMOUS;
		full->mounts[full->n_mounts].destination = strdup(*v);
		if (full->mounts[full->n_mounts++].destination == NULL)
			return berth_error_set(err, ENOMEM, "volumes");
	}
	return 0;
}

static void free_image_volumes(const run_plan *plan, run_plan *full)
{
	for (size_t i = plan->n_mounts; full->mounts && i < full->n_mounts; i++)
		free(full->mounts[i].destination);
	if (full->mounts != plan->mounts)
		free(full->mounts);
	full->mounts = NULL;
}

static int create_with_plan(const engine_paths *p, store *s, const char *image, const image_info *info,
			    const run_options *o, const run_plan *plan, container **out, berth_error **err)
{
	_cleanup_free_ char *runtime = o->runtime ? strdup(o->runtime) : runtime_default_path();
	container *c = NULL;
	json_t *cfg;
	char **anon = NULL;
	berth_error *ignored = NULL;

	if (create_anonymous_volumes(p, plan, &anon, err) < 0)
		goto fail;
	cfg = record_config(image, info, o, plan, runtime, anon);
	/* the record (with its "Mounts") exists before any volume is mounted */
	if (record_create(p, o->name, cfg, &c, err) < 0) {
		json_decref(cfg);
		goto fail;
	}
	json_decref(cfg);
	if (write_bundle(p, s, info, o, plan, c, err) < 0 || record_commit(c, err) < 0) {
		engine_container_destroy(p, c, &ignored);
		berth_error_free(&ignored);
		container_free(c);
		goto fail;
	}
	free_names(anon, plan->n_mounts);
	*out = c;
	return 0;
fail:
	remove_volumes(p, anon, plan->n_mounts);
	free_names(anon, plan->n_mounts);
	return -1;
}

int engine_container_create(const engine_paths *p, store *s, const char *image, const run_options *o,
			    const run_plan *plan, container **out, berth_error **err)
{
	image_info info;
	run_plan full;
	int ret;

	if (resolve_or_pull(s, image, &o->trust, &info, err) < 0)
		return -1;
	ret = add_image_volumes(&info, o, plan, &full, err);
	if (ret == 0)
		ret = create_with_plan(p, s, image, &info, o, &full, out, err);
	if (ret == 0)
		engine_event(p, *out, "create", NULL, NULL);
	free_image_volumes(plan, &full);
	image_info_free(&info);
	return ret;
}

/* ---- start after a reboot ---- */

static bool is_mount_point(const char *path)
{
	struct statx stx;

	return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int engine_container_prepare_start(const engine_paths *p, container *c, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *rootfs = NULL, *target = NULL;
	bool changed = false;

	target = bundle ? fs_path_join(bundle, "rootfs") : NULL;
	if (target == NULL)
		return berth_error_set(err, ENOMEM, "start %s", c->name);
	if (!is_mount_point(target)) {
		/* a reboot unmounted it: the upper layer is still there */
		const char *id = record_config_string(c, "ImageId");
		rootfs_options ro = { .userxattr = engine_rootless(), .rootless = engine_rootless() };
		image_info info;
		store *s = NULL;
		int ret;

		berth_debug("rootfs of %s not mounted (reboot?); mounting it again", c->name);
		if (id == NULL || store_open(p->store_root, &s, err) < 0)
			return berth_error_wrap(err, "start %s: image of the rootfs", c->name);
		ret = image_resolve(s, id, &info, err);
		if (ret == 0) {
			ret = storage_rootfs_mount(s, &info, bundle, &ro, &rootfs, err);
			image_info_free(&info);
		}
		store_close(s);
		if (ret < 0)
			return berth_error_wrap(err, "start %s: mount its rootfs", c->name);
	}
	if (engine_share_refresh(p, c, err) < 0)
		return -1;
	if (engine_network_restore(p, c, &changed, err) < 0 || engine_network_ports_publish(c, err) < 0)
		return berth_error_wrap(err, "start %s", c->name);
	return changed ? record_save_config(c, err) : 0;
}

/* ---- kill, stop, wait ---- */

int engine_container_kill(const engine_paths *p, container *c, const char *signal, berth_error **err)
{
	const char *args[] = { "kill", c->id, signal, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_CAPTURE, NULL, NULL, NULL };
	int rc;

	if (spec_signal_from_string(signal) <= 0)
		return berth_error_set(err, EINVAL, "invalid signal \"%s\"", signal);
	if (strcmp(c->state.status, "running") != 0 && strcmp(c->state.status, "paused") != 0)
		return berth_error_set(err, 0, "container %s is not running", c->name);
	rc = runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, err);
	if (rc > 0)
		berth_error_set(err, 0, "kill %s: %s", c->name, io.err_text ? io.err_text : "runtime kill failed");
	if (rc == 0)
		engine_event(p, c, "kill", "signal", signal);
	free(io.err_text);
	return rc == 0 ? 0 : -1;
}

int engine_container_pause(const engine_paths *p, container *c, bool pause, berth_error **err)
{
	const char *args[] = { pause ? "pause" : "resume", c->id, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_CAPTURE, NULL, NULL, NULL };
	const char *want = pause ? "running" : "paused";
	int lockfd, rc = -1;

	lockfd = record_lock(c, err);
	if (lockfd < 0)
		return -1;
	if (record_load_state(c, err) < 0 || record_refresh(p, c, err) < 0)
		goto out;
	if (strcmp(c->state.status, want) != 0) {
		berth_error_set(err, 0, "container %s is %s, not %s", c->name, c->state.status, want);
		goto out;
	}
	rc = runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, err);
	if (rc > 0) {
		berth_error_set(err, 0, "%s %s: %s", args[0], c->name, io.err_text ? io.err_text : "runtime failed");
		rc = -1;
		goto out;
	}
	if (rc == 0) {
		snprintf(c->state.status, sizeof(c->state.status), "%s", pause ? "paused" : "running");
		rc = record_save_state(c, err);
		if (rc == 0)
			engine_event(p, c, pause ? "pause" : "unpause", NULL, NULL);
	}
out:
	free(io.err_text);
	record_unlock(lockfd);
	return rc;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The record directory went: --rm, or rm -f meanwhile. */
static bool record_gone(const container *c)
{
	return access(c->dir, F_OK) < 0 && errno == ENOENT;
}

/* The code of a container whose record went: the monitor left it in the
 * runroot before the removal (record_save_exit_code). */
static int removed_exit_code(const engine_paths *p, const container *c, int *code, berth_error **err)
{
	if (record_read_exit_code(p, c, code))
		return 0;
	return berth_error_set(err, 0, "container %s was removed before its exit code was read", c->name);
}

int engine_container_wait(const engine_paths *p, container *c, int timeout_ms, int *code, berth_error **err)
{
	for (int waited = 0;; waited += 20) {
		if (record_gone(c))
			return removed_exit_code(p, c, code, err);
		if (record_load_state(c, err) < 0 || record_refresh(p, c, err) < 0) {
			if (!record_gone(c))
				return -1;
			berth_error_free(err);
			return removed_exit_code(p, c, code, err);
		}
		/* unsupervised: record_refresh says exited once the runtime does */
		if (!engine_status_is_live(c->state.status) && !c->state.unsupervised) {
			*code = c->state.exit_code;
			return 0;
		}
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return berth_error_set(err, ETIMEDOUT, "container %s did not stop", c->name);
		sleep_ms(20);
	}
}

/* Returns 1 when the record went meanwhile (--rm). */
static int mark_stopped(container *c, berth_error **err)
{
	int lock = record_lock(c, err);

	if (lock < 0 || record_load_state(c, err) < 0) {
		record_unlock(lock);
		if (!record_gone(c))
			return -1;
		berth_error_free(err);
		return 1;
	}
	c->state.stopped_by_user = true;
	if (strcmp(c->state.status, "restarting") == 0 && !record_monitor_alive(c))
		snprintf(c->state.status, sizeof(c->state.status), "exited");
	if (record_save_state(c, err) < 0) {
		record_unlock(lock);
		if (!record_gone(c))
			return -1;
		berth_error_free(err);
		return 1;
	}
	record_unlock(lock);
	if (record_monitor_alive(c))
		kill(c->state.monitor_pid, SIGUSR1); /* wakes it from a restart backoff */
	return 0;
}

int engine_container_stop(const engine_paths *p, container *c, int timeout_s, berth_error **err)
{
	const char *sig = record_config_string(c, "StopSignal") ?: "SIGTERM";
	berth_error *ignored = NULL;
	int marked, code;

	if (record_refresh(p, c, err) < 0) {
		if (!record_gone(c))
			return -1;
		berth_error_free(err);
	}
	marked = record_gone(c) ? 1 : mark_stopped(c, err);
	if (marked < 0)
		return -1;
	if (marked > 0)
		return 0; /* a --rm container that exited and went */
	if (!engine_status_is_live(c->state.status))
		return 0;
	if (timeout_s > 0) {
		engine_container_kill(p, c, sig, &ignored);
		berth_error_free(&ignored);
		if (engine_container_wait(p, c, timeout_s * 1000, &code, &ignored) == 0) {
			engine_event(p, c, "stop", NULL, NULL);
			return 0;
		}
		berth_error_free(&ignored);
	}
	engine_container_kill(p, c, "SIGKILL", &ignored);
	berth_error_free(&ignored);
	if (engine_container_wait(p, c, 10000, &code, &ignored) == 0) {
		engine_event(p, c, "stop", NULL, NULL);
		return 0;
	}
	/* gone with its code unread: stopped all the same */
	if (record_gone(c)) {
		berth_error_free(&ignored);
		engine_event(p, c, "stop", NULL, NULL);
		return 0;
	}
	*err = ignored;
	return -1;
}

/* ---- remove ---- */

static void wait_monitor_gone(container *c)
{
	for (int i = 0; i < 250 && record_monitor_alive(c); i++)
		sleep_ms(20);
	if (record_monitor_alive(c))
		kill(c->state.monitor_pid, SIGKILL);
}

int engine_container_remove_anonymous_volumes(const engine_paths *p, const container *c, berth_error **err)
{
	json_t *m;
	size_t i;
	int ret = 0;

	json_array_foreach(json_object_get(c->config, "Mounts"), i, m) {
		const char *name = json_string_value(json_object_get(m, "Name"));
		berth_error *e = NULL;
		if (name == NULL || !json_is_true(json_object_get(m, "Anonymous")))
			continue;
		if (volume_remove(p->store_root, name, true, &e) < 0) {
			/* another container may use it too: kept, reported */
			if (ret == 0) {
				*err = e;
				ret = berth_error_wrap(err, "container %s", c->name);
			} else {
				berth_error_free(&e);
			}
		}
	}
	return ret;
}

void engine_container_runtime_delete(const engine_paths *p, const container *c)
{
	const char *args[] = { "delete", "--force", c->id, NULL };
	berth_error *ignored = NULL;

	if (runtime_call(engine_container_runtime(c), p->runtime_root, args, NULL, &ignored) < 0)
		berth_error_free(&ignored);
}

int engine_container_retire(const engine_paths *p, container *c, char **trash, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c);
	berth_error *ignored = NULL;

	*trash = NULL;
	if (record_gone(c))
		return 0; /* its monitor (--rm) or another rm was first */
	engine_network_teardown(p, c);
	engine_share_teardown(c);
	/* the upper layer goes with the record's directory */
	if (storage_rootfs_unmount(bundle, false, err) < 0)
		return berth_error_wrap(err, "remove container %.12s", c->id);
	if (record_retire(p, c, trash, err) < 0)
		return -1;
	engine_event(p, c, "destroy", NULL, NULL);
	/* --rm: docker removes the anonymous volumes too */
	if (record_config_bool(c, "AutoRemove") && engine_container_remove_anonymous_volumes(p, c, &ignored) < 0)
		berth_error_free(&ignored);
	return 0;
}

int engine_container_destroy(const engine_paths *p, container *c, berth_error **err)
{
	_cleanup_free_ char *trash = NULL;

	engine_container_runtime_delete(p, c);
	monitor_forget(p, c->id);
	if (engine_container_retire(p, c, &trash, err) < 0)
		return -1;
	if (trash && fs_remove_tree(trash, err) < 0)
		return berth_error_wrap(err, "remove container %.12s", c->id);
	return 0;
}

int engine_container_remove(const engine_paths *p, container *c, bool force, berth_error **err)
{
	if (record_refresh(p, c, err) < 0) {
		if (!record_gone(c))
			return -1;
		berth_error_free(err); /* --rm: it went by itself */
		return 0;
	}
	if (engine_status_is_live(c->state.status) || c->state.unsupervised) {
		if (!force)
			return berth_error_set(err, 0, "container %s is %s: stop it first or use rm --force", c->name,
					       c->state.status);
		if (engine_container_stop(p, c, 0, err) < 0)
			return -1;
	}
	if (record_monitor_alive(c))
		wait_monitor_gone(c);
	return engine_container_destroy(p, c, err);
}
