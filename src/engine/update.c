/* berth update: new resource limits for a container, applied to a running
 * one through `RUNTIME update` and kept in its bundle and record for the
 * next start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/container.h"
#include "engine/runtime_call.h"
#include "util/cleanup.h"
#include "util/fs.h"

int engine_update_parse(const char *memory, const char *cpus, const char *pids, const char *shares,
			engine_resources *out, berth_error **err)
{
	char *end;

	*out = (engine_resources){ -1, -1, -1, -1 };
	if (memory) {
		out->memory = run_parse_bytes(memory);
		if (out->memory <= 0)
			return berth_error_request(err, EINVAL, "--memory: invalid size \"%s\"", memory);
		if (out->memory < RUN_MEMORY_MIN)
			return berth_error_request(err, EINVAL, "--memory %s: below the minimum memory limit of 6m",
						   memory);
	}
	if (cpus) {
		double c = strtod(cpus, &end);
		if (*end != '\0' || end == cpus || c <= 0)
			return berth_error_request(err, EINVAL, "--cpus: invalid number \"%s\"", cpus);
		out->cpu_quota = (int64_t)(c * 100000);
	}
	if (pids) {
		out->pids_limit = strtoll(pids, &end, 10);
		if (*end != '\0' || end == pids)
			return berth_error_request(err, EINVAL, "--pids-limit: invalid number \"%s\"", pids);
	}
	if (shares) {
		out->cpu_shares = strtoll(shares, &end, 10);
		if (*end != '\0' || end == shares || out->cpu_shares < 2)
			return berth_error_request(err, EINVAL, "--cpu-shares: invalid number \"%s\"", shares);
	}
	if (out->memory < 0 && out->cpu_quota < 0 && out->pids_limit < 0 && out->cpu_shares < 0)
		return berth_error_request(err, EINVAL,
					   "update: nothing to change (--memory, --cpus, --pids-limit, "
					   "--cpu-shares)");
	return 0;
}

/* The bundle's linux.resources with R over them, for the next start. */
static int update_bundle(const container *c, const engine_resources *r, berth_error **err)
{
	_cleanup_free_ char *bundle = engine_container_bundle(c), *text = NULL, *out = NULL;
	_cleanup_close_ int dirfd = bundle ? open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC) : -EBADF;
	json_t *cfg, *lin, *res;
	size_t len;

	if (dirfd < 0)
		return berth_error_set(err, errno, "update %s: its bundle", c->name);
	if (fs_read_file_at(dirfd, "config.json", &text, &len, err) < 0)
		return berth_error_wrap(err, "update %s", c->name);
	cfg = json_loads(text, 0, NULL);
	lin = json_object_get(cfg, "linux");
	if (lin == NULL) {
		json_decref(cfg);
		return berth_error_set(err, EINVAL, "update %s: config.json has no linux object", c->name);
	}
	if ((res = json_object_get(lin, "resources")) == NULL)
		json_object_set_new(lin, "resources", res = json_object());
	if (r->memory >= 0)
		json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)r->memory));
	if (r->cpu_quota >= 0 || r->cpu_shares >= 0) {
		json_t *cpu = json_object_get(res, "cpu");
		if (cpu == NULL)
			json_object_set_new(res, "cpu", cpu = json_object());
		if (r->cpu_quota >= 0) {
			json_object_set_new(cpu, "quota", json_integer((json_int_t)r->cpu_quota));
			json_object_set_new(cpu, "period", json_integer(100000));
		}
		if (r->cpu_shares >= 0)
			json_object_set_new(cpu, "shares", json_integer((json_int_t)r->cpu_shares));
	}
	if (r->pids_limit >= 0)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)r->pids_limit));
	out = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	if (out == NULL)
		return berth_error_set(err, ENOMEM, "update %s", c->name);
	return fs_write_file_atomic(dirfd, "config.json", out, strlen(out), 0600, err);
}

int engine_container_update(const engine_paths *p, container *c, const engine_resources *r, berth_error **err)
{
	char memory[32], quota[32], pids[32], shares[32];
	const char *args[16];
	runtime_io io = { RUNTIME_NULL, RUNTIME_NULL, RUNTIME_CAPTURE, NULL, NULL, NULL };
	json_t *rec;
	int n = 0, rc, lock;

	lock = record_lock(c, err);
	if (lock < 0)
		return -1;
	if (record_load_state(c, err) < 0 || record_refresh(p, c, err) < 0)
		goto fail;
	if (strcmp(c->state.status, "running") == 0 || strcmp(c->state.status, "paused") == 0) {
		args[n++] = "update";
		if (r->memory >= 0) {
			snprintf(memory, sizeof(memory), "%lld", (long long)r->memory);
			args[n++] = "--memory";
			args[n++] = memory;
		}
		if (r->cpu_quota >= 0) {
			snprintf(quota, sizeof(quota), "%lld", (long long)r->cpu_quota);
			args[n++] = "--cpu-quota";
			args[n++] = quota;
			args[n++] = "--cpu-period";
			args[n++] = "100000";
		}
		if (r->cpu_shares >= 0) {
			snprintf(shares, sizeof(shares), "%lld", (long long)r->cpu_shares);
			args[n++] = "--cpu-share";
			args[n++] = shares;
		}
		if (r->pids_limit >= 0) {
			snprintf(pids, sizeof(pids), "%lld", (long long)r->pids_limit);
			args[n++] = "--pids-limit";
			args[n++] = pids;
		}
		args[n++] = c->id;
		args[n] = NULL;
		rc = runtime_call(engine_container_runtime(c), p->runtime_root, args, &io, err);
		if (rc != 0) {
			if (rc > 0)
				berth_error_set(err, 0, "update %s: %s", c->name,
						io.err_text ? io.err_text : "runtime update failed");
			goto fail;
		}
	}
	if (update_bundle(c, r, err) < 0)
		goto fail;
	if ((rec = json_object_get(c->config, "Resources")) == NULL)
		json_object_set_new(c->config, "Resources", rec = json_object());
	if (r->memory >= 0)
		json_object_set_new(rec, "Memory", json_integer((json_int_t)r->memory));
	if (r->cpu_quota >= 0)
		json_object_set_new(rec, "NanoCpus", json_integer((json_int_t)r->cpu_quota * 10000));
	if (r->cpu_shares >= 0)
		json_object_set_new(rec, "CpuShares", json_integer((json_int_t)r->cpu_shares));
	if (r->pids_limit >= 0)
		json_object_set_new(rec, "PidsLimit", json_integer((json_int_t)r->pids_limit));
	if (record_save_config(c, err) < 0)
		goto fail;
	free(io.err_text);
	record_unlock(lock);
	return 0;
fail:
	free(io.err_text);
	record_unlock(lock);
	return -1;
}
