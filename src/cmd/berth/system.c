/* berth version, info, port, rename: small commands a docker user reaches
 * for. version and info take docker's -f/--format Go templates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/gotemplate.h"
#include "engine/network.h"
#include "engine/runtime_call.h"
#include "image/images.h"
#include "image/trust.h"
#include "storage/volume.h"
#include "util/cleanup.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

/* J as JSON, or through the Go template FORMAT ("json": compact JSON). */
static int print_with_format(json_t *j, const char *format, berth_error **err)
{
	gotemplate *t = NULL;
	char *text = NULL;

	if (format == NULL) {
		berth_print_json(j);
		return 0;
	}
	if (strcmp(format, "json") == 0) {
		text = json_dumps(j, JSON_COMPACT);
		puts(text ? text : "");
		free(text);
		return 0;
	}
	if (gotemplate_parse(format, &t, err) < 0 || gotemplate_execute(t, j, &text, err) < 0) {
		gotemplate_free(t);
		return berth_error_wrap(err, "--format");
	}
	puts(text);
	free(text);
	gotemplate_free(t);
	return 0;
}

static const char *go_arch(const char *machine)
{
	if (strcmp(machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(machine, "aarch64") == 0)
		return "arm64";
	return machine;
}

static const option_spec format_specs[] = {
	{ "format", 'f', true, "json, or a Go template ('{{.Client.Version}}')" },
	{ NULL, 0, false, NULL },
};

int cmd_version(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	_cleanup_free_ char *runtime = runtime_default_path();
	struct utsname u;
	json_t *j;
	int npos, ret;

	ret = berth_parse_grouped("version", "version [-f FORMAT]", format_specs, argc, argv, false, v, &pos, &npos, 0,
				  0, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	uname(&u);
	/* no daemon: the "server" is this same program */
	j = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "Client", "Version", BERTH_VERSION, "Os", "linux", "Arch",
		      go_arch(u.machine), "Runtime", runtime ?: "berth-runtime", "Kernel", u.release);
	json_object_set(j, "Server", json_object_get(j, "Client"));
	if (v[0].value) {
		ret = print_with_format(j, v[0].value, err) < 0 ? 125 : 0;
	} else {
		json_t *c = json_object_get(j, "Client");
		printf("Version:      %s\nOS/Arch:      linux/%s\nRuntime:      %s\nKernel:       %s\n",
		       json_string_value(json_object_get(c, "Version")), json_string_value(json_object_get(c, "Arch")),
		       json_string_value(json_object_get(c, "Runtime")), u.release);
	}
	json_decref(j);
	options_free_values(v, 1);
	return ret;
}

static const char *cgroup_version(void)
{
	struct statfs st;

	if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return "2";
	return "1";
}

static int64_t host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	return pages > 0 && size > 0 ? (int64_t)pages * size : 0;
}

/* docker info's facts that berth has: containers by state, images, the
 * store, the runtime, the host. */
static json_t *info_json(const berth_globals *g, berth_error **err)
{
	engine_paths paths = { 0 };
	container **list = NULL;
	image_info *images = NULL;
	volume_info *volumes = NULL;
	size_t n = 0, ni = 0, nv = 0, running = 0, paused = 0, stopped = 0;
	store *s = NULL;
	struct utsname u;
	json_t *j = NULL;
	_cleanup_free_ char *runtime = runtime_default_path(), *policy = trust_policy_describe(g->rootless);

	if (berth_engine_open(g, &paths, err) < 0 || record_list(&paths, &list, &n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		berth_error *ignored = NULL;
		if (record_refresh(&paths, list[i], &ignored) < 0)
			berth_error_free(&ignored);
		if (strcmp(list[i]->state.status, "paused") == 0)
			paused++;
		else if (engine_status_is_live(list[i]->state.status))
			running++;
		else
			stopped++;
	}
	if (berth_open_store(g, &s, err) < 0 || image_list(s, &images, &ni, err) < 0 ||
	    volume_list(g->store_root, &volumes, &nv, err) < 0)
		goto out;
	uname(&u);
	j = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, "
		      "s:b, s:s, s:[s, s]}",
		      "Containers", (int)n, "ContainersRunning", (int)running, "ContainersPaused", (int)paused,
		      "ContainersStopped", (int)stopped, "Images", (int)ni, "Volumes", (int)nv, "Driver", "overlay",
		      "DockerRootDir", g->store_root, "RunRoot", g->run_root, "CgroupVersion", cgroup_version(),
		      "DefaultRuntime", runtime ?: "berth-runtime", "DefaultNetwork", engine_network_default(),
		      "KernelVersion", u.release, "OperatingSystem", "linux", "OSType", "linux", "Architecture",
		      u.machine, "NCPU", (int)sysconf(_SC_NPROCESSORS_ONLN), "MemTotal", (json_int_t)host_memory(),
		      "Rootless", g->rootless, "ServerVersion", BERTH_VERSION, "SecurityOptions",
		      "name=seccomp,profile=builtin", "name=no-new-privileges");
	if (j)
		json_object_set_new(j, "SignaturePolicy", json_string(policy ? policy : "?"));
out:
	volume_list_free(volumes, nv);
	if (images)
		image_list_free(images, ni);
	if (s)
		store_close(s);
	record_list_free(list, n);
	engine_paths_free(&paths);
	return j;
}

int cmd_info(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	json_t *j;
	int npos, ret;

	ret = berth_parse_grouped("info", "info [-f FORMAT]", format_specs, argc, argv, false, v, &pos, &npos, 0, 0,
				  &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	j = info_json(g, err);
	if (j == NULL) {
		options_free_values(v, 1);
		return 125;
	}
	if (v[0].value) {
		ret = print_with_format(j, v[0].value, err) < 0 ? 125 : 0;
	} else {
		char mem[32];
		printf("Containers: %" JSON_INTEGER_FORMAT "\n Running: %" JSON_INTEGER_FORMAT
		       "\n Paused: %" JSON_INTEGER_FORMAT "\n Stopped: %" JSON_INTEGER_FORMAT
		       "\nImages: %" JSON_INTEGER_FORMAT "\nVolumes: %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(j, "Containers")),
		       json_integer_value(json_object_get(j, "ContainersRunning")),
		       json_integer_value(json_object_get(j, "ContainersPaused")),
		       json_integer_value(json_object_get(j, "ContainersStopped")),
		       json_integer_value(json_object_get(j, "Images")),
		       json_integer_value(json_object_get(j, "Volumes")));
		printf("Server Version: %s\nStorage Driver: overlay\nRoot Dir: %s\nRun Root: %s\nCgroup Version: %s\n"
		       "Default Runtime: %s\nDefault Network: %s\nRootless: %s\nSecurity Options: seccomp, "
		       "no-new-privileges\nKernel Version: %s\nOperating System: linux\nArchitecture: %s\nCPUs: "
		       "%" JSON_INTEGER_FORMAT "\nTotal Memory: %s\n",
		       BERTH_VERSION, g->store_root, g->run_root,
		       json_string_value(json_object_get(j, "CgroupVersion")),
		       json_string_value(json_object_get(j, "DefaultRuntime")),
		       json_string_value(json_object_get(j, "DefaultNetwork")), g->rootless ? "true" : "false",
		       json_string_value(json_object_get(j, "KernelVersion")),
		       json_string_value(json_object_get(j, "Architecture")),
		       json_integer_value(json_object_get(j, "NCPU")),
		       berth_human_size(json_integer_value(json_object_get(j, "MemTotal")), mem));
		printf("Signature Policy: %s\n", json_string_value(json_object_get(j, "SignaturePolicy")));
	}
	json_decref(j);
	options_free_values(v, 1);
	return ret;
}

/* ---- port ---- */

int cmd_port(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	json_t *ports, *p;
	char want_proto[8] = "tcp";
	long want = 0;
	size_t i;
	int npos, ret, shown = 0;

	ret = berth_parse_grouped("port", "port CONTAINER [PRIVATE_PORT[/PROTO]]", specs, argc, argv, false, v, &pos,
				  &npos, 1, 2, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (npos == 2) {
		char *end;
		want = strtol(pos[1], &end, 10);
		if (want <= 0 || want > 65535 ||
		    (*end && (*end != '/' || (strcmp(end + 1, "tcp") != 0 && strcmp(end + 1, "udp") != 0))))
			return berth_error_request(err, EINVAL, "port: \"%s\" is not PORT[/tcp|udp]", pos[1]), 125;
		if (*end)
			snprintf(want_proto, sizeof(want_proto), "%s", end + 1);
	}
	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, pos[0], &c, err) < 0) {
		engine_paths_free(&paths);
		return 125;
	}
	ports = json_object_get(json_object_get(c->config, "NetworkSettings"), "Ports");
	json_array_foreach(ports, i, p) {
		const char *ip = json_string_value(json_object_get(p, "HostIp"));
		const char *proto = json_string_value(json_object_get(p, "Protocol")) ?: "tcp";
		json_int_t ctr = json_integer_value(json_object_get(p, "ContainerPort"));
		json_int_t host = json_integer_value(json_object_get(p, "HostPort"));
		if (want && (ctr != want || strcmp(proto, want_proto) != 0))
			continue;
		if (want)
			printf("%s:%" JSON_INTEGER_FORMAT "\n", ip && ip[0] ? ip : "0.0.0.0", host);
		else
			printf("%" JSON_INTEGER_FORMAT "/%s -> %s:%" JSON_INTEGER_FORMAT "\n", ctr, proto,
			       ip && ip[0] ? ip : "0.0.0.0", host);
		shown++;
	}
	if (want && shown == 0)
		berth_error_set(err, 0, "no public port '%ld/%s' published for %s", want, want_proto, c->name);
	container_free(c);
	engine_paths_free(&paths);
	return *err ? 125 : 0;
}

/* ---- rename ---- */

int cmd_rename(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	container *c = NULL;
	int npos, ret;

	ret = berth_parse_grouped("rename", "rename CONTAINER NEW_NAME", specs, argc, argv, false, v, &pos, &npos, 2, 2,
				  &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 0;
	if (berth_engine_open(g, &paths, err) < 0 || record_open(&paths, pos[0], &c, err) < 0 ||
	    engine_container_rename(&paths, c, pos[1], err) < 0)
		ret = 125;
	container_free(c);
	engine_paths_free(&paths);
	return ret;
}

/* ---- update ---- */

int cmd_update(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = {
		{ "memory", 'm', true, "memory limit (512m, 1g)" },
		{ "cpus", 0, true, "CPU limit (1.5)" },
		{ "pids-limit", 0, true, "maximum number of processes" },
		{ "cpu-shares", 'c', true, "CPU shares (relative weight)" },
		{ NULL, 0, false, NULL },
	};
	option_value v[5] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	engine_resources r;
	int npos, ret, failed = 0;

	ret = berth_parse_grouped("update", "update [--memory M] [--cpus N] [--pids-limit N] CONTAINER...", specs, argc,
				  argv, false, v, &pos, &npos, 1, -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	if (engine_update_parse(v[0].value, v[1].value, v[2].value, v[3].value, &r, err) < 0 ||
	    berth_engine_open(g, &paths, err) < 0) {
		options_free_values(v, 4);
		return 125;
	}
	for (int i = 0; i < npos; i++) {
		berth_error *e = NULL;
		container *c = NULL;
		if (record_open(&paths, pos[i], &c, &e) < 0 || engine_container_update(&paths, c, &r, &e) < 0) {
			berth_error_report("berth", &e);
			failed = 1;
		} else {
			printf("%s\n", c->name);
		}
		container_free(c);
	}
	engine_paths_free(&paths);
	options_free_values(v, 4);
	return failed ? 125 : 0;
}
