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

#include "engine/runtime_call.h"
#include "image/images.h"
#include "image/registry.h"
#include "spec/spec.h"
#include "storage/bundle.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"

const char *engine_container_runtime(const container *c)
{
	return record_config_string(c, "Runtime") ?: "berth-runtime";
}

char *engine_container_bundle(const container *c)
{
	return record_path(c, "bundle");
}

/* ---- create ---- */

static int resolve_or_pull(store *s, const char *text, image_info *info, berth_error **err)
{
	pull_options po = { .registry = { .tls_verify = true, .quiet = true } };

	if (image_resolve(s, text, info, err) == 0)
		return 0;
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

/* berth's record of the flags. */
static json_t *record_config(const char *image, const image_info *info, const run_options *o, const run_plan *plan,
			     const char *runtime)
{
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:i, s:I, s:i, s:s}", "Image", image, "ImageId", info->id,
		      "Runtime", runtime, "Tty", o->tty, "Interactive", o->interactive, "AutoRemove", o->remove,
		      "RestartPolicy", plan->restart_name, "RestartMax", plan->restart_max, "LogMaxSize",
		      (json_int_t)plan->log_max_size, "StopTimeout", plan->stop_timeout, "StopSignal",
		      o->stop_signal		 ? o->stop_signal
		      : info->config.stop_signal ? info->config.stop_signal
						 : "SIGTERM");
	json_object_set_new(j, "Env", string_array(o->env));
	json_object_set_new(j, "Volumes", string_array(o->volumes));
	json_object_set_new(j, "Network", json_string(o->network ? o->network : "none"));
	if (o->user)
		json_object_set_new(j, "User", json_string(o->user));
	if (o->workdir)
		json_object_set_new(j, "WorkingDir", json_string(o->workdir));
	if (o->hostname)
		json_object_set_new(j, "Hostname", json_string(o->hostname));
	if (o->health_cmd)
		json_object_set_new(j, "Healthcheck",
				    json_pack("{s:s, s:I, s:I, s:I, s:i}", "Test", o->health_cmd, "IntervalMs",
					      (json_int_t)plan->health_interval_ms, "TimeoutMs",
					      (json_int_t)plan->health_timeout_ms, "StartPeriodMs",
					      (json_int_t)plan->health_start_ms, "Retries", plan->health_retries));
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

static int write_bundle(store *s, const image_info *info, const run_options *o, const run_plan *plan, container *c,
			berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *rootfs = NULL, *text = NULL;
	_cleanup_close_ int rootfd = -EBADF, dirfd = -EBADF;
	bundle_options bo = { .terminal = o->tty, .rootless = geteuid() != 0 };
	rootfs_options ro = { 0 };
	image_info img = *info;
	char *entrypoint[2];
	json_t *cfg = NULL;
	json_t *args;

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
	if (run_config_apply(cfg, o, plan, c->id, err) < 0) {
		json_decref(cfg);
		return -1;
	}
	args = json_object_get(json_object_get(cfg, "process"), "args");
	json_object_set(c->config, "Command", args);
	json_object_set(c->config, "Cwd", json_object_get(json_object_get(cfg, "process"), "cwd"));
	text = json_dumps(cfg, JSON_INDENT(2));
	json_decref(cfg);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "config.json");
	return fs_write_file_atomic(dirfd, "config.json", text, strlen(text), 0600, err);
}

static int save_config(container *c, berth_error **err)
{
	_cleanup_close_ int dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *text = json_dumps(c->config, JSON_INDENT(2));

	if (dirfd < 0 || text == NULL)
		return berth_error_set(err, errno, "config.json");
	return fs_write_file_atomic(dirfd, "config.json", text, strlen(text), 0600, err);
}

int engine_container_create(const engine_paths *p, store *s, const char *image, const run_options *o,
			    const run_plan *plan, container **out, berth_error **err)
{
	_cleanup_free_ char *runtime = o->runtime ? strdup(o->runtime) : runtime_default_path();
	image_info info;
	container *c = NULL;
	json_t *cfg;
	berth_error *ignored = NULL;

	if (resolve_or_pull(s, image, &info, err) < 0)
		return -1;
	cfg = record_config(image, &info, o, plan, runtime);
	if (record_create(p, o->name, cfg, &c, err) < 0) {
		json_decref(cfg);
		image_info_free(&info);
		return -1;
	}
	json_decref(cfg);
	if (write_bundle(s, &info, o, plan, c, err) < 0 || save_config(c, err) < 0) {
		engine_container_destroy(p, c, &ignored);
		berth_error_free(&ignored);
		container_free(c);
		image_info_free(&info);
		return -1;
	}
	image_info_free(&info);
	*out = c;
	return 0;
}

/* ---- kill, stop, wait ---- */

int engine_container_kill(const engine_paths *p, container *c, const char *signal, berth_error **err)
{
	const char *args[] = { "kill", c->id, signal, NULL };
	runtime_io io = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_CAPTURE, NULL, NULL };
	int rc;

	if (spec_signal_from_string(signal) <= 0)
		return berth_error_set(err, EINVAL, "invalid signal \"%s\"", signal);
	if (strcmp(c->state.status, "running") != 0 && strcmp(c->state.status, "paused") != 0)
		return berth_error_set(err, 0, "container %s is not running", c->name);
	rc = runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, err);
	if (rc > 0)
		berth_error_set(err, 0, "kill %s: %s", c->name, io.err_text ? io.err_text : "runtime kill failed");
	free(io.err_text);
	return rc == 0 ? 0 : -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int engine_container_wait(const engine_paths *p, container *c, int timeout_ms, berth_error **err)
{
	for (int waited = 0;; waited += 20) {
		if (record_load_state(c, err) < 0 || record_refresh(p, c, err) < 0)
			return -1;
		if (!engine_status_is_live(c->state.status) && !(c->state.unsupervised))
			return c->state.exit_code;
		if (c->state.unsupervised &&
		    runtime_status(engine_container_runtime(c), p->runtime_root, c->id) == NULL)
			return c->state.exit_code;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return berth_error_set(err, ETIMEDOUT, "container %s did not stop", c->name);
		sleep_ms(20);
	}
}

static int mark_stopped(container *c, berth_error **err)
{
	int lock = record_lock(c, err);

	if (lock < 0)
		return -1;
	if (record_load_state(c, err) < 0) {
		record_unlock(lock);
		return -1;
	}
	c->state.stopped_by_user = true;
	if (strcmp(c->state.status, "restarting") == 0 && !record_monitor_alive(c))
		snprintf(c->state.status, sizeof(c->state.status), "exited");
	if (record_save_state(c, err) < 0) {
		record_unlock(lock);
		return -1;
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

	if (record_refresh(p, c, err) < 0 || mark_stopped(c, err) < 0)
		return -1;
	if (!engine_status_is_live(c->state.status))
		return 0;
	if (timeout_s > 0) {
		engine_container_kill(p, c, sig, &ignored);
		berth_error_free(&ignored);
		if (engine_container_wait(p, c, timeout_s * 1000, &ignored) >= 0)
			return 0;
		berth_error_free(&ignored);
	}
	engine_container_kill(p, c, "SIGKILL", &ignored);
	berth_error_free(&ignored);
	return engine_container_wait(p, c, 10000, err) < 0 ? -1 : 0;
}

/* ---- remove ---- */

static void wait_monitor_gone(container *c)
{
	for (int i = 0; i < 250 && record_monitor_alive(c); i++)
		sleep_ms(20);
	if (record_monitor_alive(c))
		kill(c->state.monitor_pid, SIGKILL);
}

int engine_container_destroy(const engine_paths *p, container *c, berth_error **err)
{
	const char *args[] = { "delete", "--force", c->id, NULL };
	_cleanup_free_ char *bundle = engine_container_bundle(c);
	berth_error *ignored = NULL;

	if (runtime_call(engine_container_runtime(c), p->runtime_root, args, NULL, &ignored) < 0)
		berth_error_free(&ignored);
	if (storage_rootfs_unmount(bundle, true, err) < 0)
		return berth_error_wrap(err, "remove container %.12s", c->id);
	return record_remove(p, c, err);
}

int engine_container_remove(const engine_paths *p, container *c, bool force, berth_error **err)
{
	if (record_refresh(p, c, err) < 0)
		return -1;
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
