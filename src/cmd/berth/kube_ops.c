/* berth kube logs / exec (through the engine's logs and exec of the pod's
 * container), scale and rollout (changes of the desired state the
 * controller carries out). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/berth/kube_cmd.h"
#include "kube/controller.h"
#include "kube/generate.h"
#include "kube/manifest.h"
#include "kube/state.h"
#include "kube/validate.h"
#include "util/cleanup.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- logs, exec */

static const option_spec logs_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "container", 'c', true, "the container (default: the pod's first)" },
	{ "follow", 'f', false, "keep printing new output" },
	{ "tail", 0, true, "the last N lines" },
	{ "timestamps", 0, false, "prefix each line with its time" },
	{ NULL, 0, false, NULL },
};

int cmd_kube_logs(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[6] = { 0 };
	_cleanup_free_ char **pos = NULL, *record = NULL;
	char *args[6];
	int n = 0, npos, ret;
	kube_cli cli;

	ret = berth_parse("kube logs", "kube logs POD|deploy/NAME [-c CTR] [-f] [--tail N]", logs_specs, argc, argv,
			  false, v, &pos, &npos, 1, 1, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		kube_cli_ensure_controller(&cli, v[0].value ? v[0].value : "default");
		ret =
		    kube_cli_container_of(&cli, v[0].value ? v[0].value : "default", pos[0], v[1].value, &record, err);
		kube_cli_close(&cli);
	}
	if (ret == 0) {
		if (option_bool(&v[2]))
			args[n++] = "-f";
		if (option_bool(&v[4]))
			args[n++] = "-t";
		if (v[3].value) {
			args[n++] = "--tail";
			args[n++] = (char *)v[3].value;
		}
		args[n++] = record;
		args[n] = NULL;
		ret = cmd_logs(g, n, args, err);
	}
	options_free_values(v, 5);
	return ret < 0 ? 1 : ret;
}

static const option_spec exec_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "container", 'c', true, "the container (default: the pod's first)" },
	{ "stdin", 'i', false, "pass stdin to the command" },
	{ "tty", 't', false, "allocate a terminal" },
	{ NULL, 0, false, NULL },
};

int cmd_kube_exec(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[5] = { 0 };
	_cleanup_free_ char **pos = NULL, *record = NULL;
	_cleanup_free_ char **args = NULL;
	int n = 0, npos, ret;
	kube_cli cli;

	/* the command comes after "--" (kubectl's way), else after the pod */
	int dash = argc;
	char **cmd;
	int ncmd;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	ret = berth_parse("kube exec", "kube exec POD [-c CTR] [-i] [-t] -- COMMAND [ARG...]", exec_specs, dash, argv,
			  dash == argc, v, &pos, &npos, 1, dash == argc ? -1 : 1, err);
	if (ret != 0) {
		options_free_values(v, 4);
		return ret < 0 ? 1 : 0;
	}
	cmd = dash < argc ? argv + dash + 1 : pos + 1;
	ncmd = dash < argc ? argc - dash - 1 : npos - 1;
	if (ncmd <= 0) {
		options_free_values(v, 4);
		return berth_error_request(err, EINVAL, "kube exec: give a COMMAND after --"), 1;
	}
	if ((ret = kube_cli_open(g, &cli, err)) == 0) {
		kube_cli_ensure_controller(&cli, v[0].value ? v[0].value : "default");
		ret =
		    kube_cli_container_of(&cli, v[0].value ? v[0].value : "default", pos[0], v[1].value, &record, err);
		kube_cli_close(&cli);
	}
	if (ret == 0 && (args = calloc((size_t)ncmd + 4, sizeof(char *))) != NULL) {
		if (option_bool(&v[2]))
			args[n++] = "-i";
		if (option_bool(&v[3]))
			args[n++] = "-t";
		args[n++] = record;
		for (int i = 0; i < ncmd; i++)
			args[n++] = cmd[i];
		ret = cmd_exec(g, n, args, err);
	}
	options_free_values(v, 4);
	return ret < 0 ? 1 : ret;
}

/* ---- scale */

static const option_spec scale_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "replicas", 0, true, "the number of replicas" },
	{ NULL, 0, false, NULL },
};

/* The Deployment named by POS (deployment/NAME or deployment NAME). */
static int deployment_ref(char **pos, int npos, const char **name, char **buf, berth_error **err)
{
	const char *kind;

	if (npos == 2) {
		kind = kube_kind_canonical(pos[0]);
		*name = pos[1];
		*buf = NULL;
	} else if (kube_cli_split_ref(pos[0], NULL, &kind, name, buf, err) < 0) {
		return -1;
	}
	if (kind == NULL || strcmp(kind, "Deployment") != 0)
		return berth_error_request(err, EINVAL, "give deployment/NAME");
	return 0;
}

int cmd_kube_scale(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL, *buf = NULL;
	const char *name, *ns;
	char *end;
	long replicas;
	kube_cli cli;
	int npos, ret;

	ret = berth_parse("kube scale", "kube scale deployment/NAME --replicas N [-n NS]", scale_specs, argc, argv,
			  false, v, &pos, &npos, 1, 2, err);
	if (ret != 0) {
		options_free_values(v, 2);
		return ret < 0 ? 1 : 0;
	}
	ns = v[0].value ? v[0].value : "default";
	replicas = v[1].value ? strtol(v[1].value, &end, 10) : -1;
	if (v[1].value == NULL || *end != '\0' || replicas < 0 || replicas > 10000)
		ret = berth_error_request(err, EINVAL, "--replicas: give a number from 0");
	if (ret == 0)
		ret = deployment_ref(pos, npos, &name, &buf, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ret = kube_state_scale(g->store_root, ns, name, (int)replicas, err);
		if (ret == 0) {
			printf("deployment.apps/%s scaled\n", name);
			fflush(stdout);
			kube_cli_ensure_controller(&cli, ns);
		}
		kube_cli_close(&cli);
	}
	options_free_values(v, 2);
	return ret < 0 ? 1 : 0;
}

/* ---- rollout */

static const option_spec rollout_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "timeout", 0, true, "status: seconds to wait (default 300)" },
	{ "to-revision", 0, true, "undo: the revision to go back to (default the previous)" },
	{ NULL, 0, false, NULL },
};

/* Counts of D's pods: of the current template, and its available ones, and
 * the others. */
static int rollout_counts(kube_cli *cli, json_t *d, int *updated, int *available, int *old, berth_error **err)
{
	const char *ns = str(json_object_get(d, "metadata"), "namespace");
	json_t *pods = NULL, *p, *status = kube_controller_status(&cli->k, ns);
	char owner[300], hash[11];
	size_t i;

	snprintf(owner, sizeof(owner), "Deployment/%s", str(json_object_get(d, "metadata"), "name"));
	kube_template_hash(json_object_get(json_object_get(d, "spec"), "template"), hash);
	*updated = *available = *old = 0;
	if (kube_pod_list(&cli->k, ns, &pods, err) < 0) {
		json_decref(status);
		return -1;
	}
	json_array_foreach(pods, i, p) {
		_cleanup_json_ json_t *pod = NULL;
		const char *phash;
		if (strcmp(str(p, "owner") ?: "", owner) != 0)
			continue;
		pod = kube_pod_object(&cli->k, ns, str(p, "name"));
		phash = str(json_object_get(json_object_get(pod, "metadata"), "labels"), KUBE_TEMPLATE_HASH_LABEL);
		if (phash && strcmp(phash, hash) == 0) {
			(*updated)++;
			*available += json_is_true(json_object_get(
			    json_object_get(json_object_get(status, "pods"), str(p, "name")), "available"));
		} else {
			(*old)++;
		}
	}
	json_decref(pods);
	json_decref(status);
	return 0;
}

static int rollout_status(kube_cli *cli, const char *ns, const char *name, int timeout_s, berth_error **err)
{
	time_t end = time(NULL) + timeout_s;
	char last[256] = "";

	for (;;) {
		_cleanup_json_ json_t *d = NULL;
		int updated, available, old, replicas;
		char line[256];
		if (kube_state_get(cli->paths.store_root, "Deployment", ns, name, &d, err) < 0 ||
		    rollout_counts(cli, d, &updated, &available, &old, err) < 0)
			return -1;
		replicas = json_object_get(json_object_get(d, "spec"), "replicas")
			       ? (int)json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas"))
			       : 1;
		if (updated < replicas)
			snprintf(line, sizeof(line),
				 "Waiting for deployment \"%s\" rollout to finish: %d out of %d new replicas have been "
				 "updated...",
				 name, updated, replicas);
		else if (old > 0)
			snprintf(line, sizeof(line),
				 "Waiting for deployment \"%s\" rollout to finish: %d old replicas are pending "
				 "termination...",
				 name, old);
		else if (available < replicas)
			snprintf(line, sizeof(line),
				 "Waiting for deployment \"%s\" rollout to finish: %d of %d updated replicas are "
				 "available...",
				 name, available, replicas);
		else {
			printf("deployment \"%s\" successfully rolled out\n", name);
			return 0;
		}
		if (strcmp(line, last) != 0) {
			printf("%s\n", line);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", line);
		}
		if (time(NULL) >= end)
			return berth_error_request(err, ETIMEDOUT, "timed out waiting for the condition");
		kube_cli_ensure_controller(cli, ns);
		usleep(200000);
	}
}

static int rollout_history(kube_cli *cli, const char *ns, const char *name, berth_error **err)
{
	_cleanup_json_ json_t *history = NULL;
	json_t *h;
	size_t i;

	if (kube_state_history(cli->paths.store_root, ns, name, &history, err) < 0)
		return -1;
	printf("deployment.apps/%s\nREVISION  CHANGE-CAUSE\n", name);
	json_array_foreach(history, i, h)
		printf("%-9lld <none>\n", (long long)json_integer_value(json_object_get(h, "revision")));
	return 0;
}

static int rollout_undo(kube_cli *cli, const char *ns, const char *name, const char *to, berth_error **err)
{
	_cleanup_json_ json_t *history = NULL, *d = NULL;
	json_t *target = NULL, *h;
	long long want = to ? atoll(to) : 0;
	size_t i, n;

	if (kube_state_get(cli->paths.store_root, "Deployment", ns, name, &d, err) < 0 ||
	    kube_state_history(cli->paths.store_root, ns, name, &history, err) < 0)
		return -1;
	n = json_array_size(history);
	if (want > 0) {
		json_array_foreach(history, i, h)
			if (json_integer_value(json_object_get(h, "revision")) == want)
				target = h;
	} else if (n >= 2) {
		target = json_array_get(history, n - 2);
	}
	if (target == NULL)
		return berth_error_request(err, ENOENT,
					   want > 0 ? "unable to find the specified revision"
						    : "no rollout history found for deployment \"%s\"",
					   name);
	json_object_set(json_object_get(d, "spec"), "template", json_object_get(target, "template"));
	if (kube_state_update(cli->paths.store_root, d, err) < 0)
		return -1;
	printf("deployment.apps/%s rolled back\n", name);
	return 0;
}

int cmd_kube_rollout(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[4] = { 0 };
	_cleanup_free_ char **pos = NULL, *buf = NULL;
	const char *name, *ns;
	kube_cli cli;
	int npos, ret;

	ret = berth_parse("kube rollout", "kube rollout status|history|undo deployment/NAME [-n NS]", rollout_specs,
			  argc, argv, false, v, &pos, &npos, 2, 3, err);
	if (ret != 0) {
		options_free_values(v, 3);
		return ret < 0 ? 1 : 0;
	}
	ns = v[0].value ? v[0].value : "default";
	ret = deployment_ref(pos + 1, npos - 1, &name, &buf, err);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		kube_cli_ensure_controller(&cli, ns);
		if (strcmp(pos[0], "status") == 0)
			ret = rollout_status(&cli, ns, name, v[1].value ? atoi(v[1].value) : 300, err);
		else if (strcmp(pos[0], "history") == 0)
			ret = rollout_history(&cli, ns, name, err);
		else if (strcmp(pos[0], "undo") == 0)
			ret = rollout_undo(&cli, ns, name, v[2].value, err);
		else
			ret = berth_error_request(err, EINVAL,
						  "rollout: unknown command \"%s\" (status, history, undo)", pos[0]);
		kube_cli_close(&cli);
	}
	options_free_values(v, 3);
	return ret < 0 ? 1 : 0;
}

/* ---- generate */

static const option_spec generate_specs[] = {
	{ "name", 0, true, "the pod's name (default: the first container's)" },
	{ "output", 'o', true, "yaml (default) or json" },
	{ NULL, 0, false, NULL },
};

int cmd_kube_generate(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	container **ctrs = NULL;
	kube_cli cli;
	int npos, n = 0, ret;

	ret = berth_parse("kube generate", "kube generate [--name POD] [-o yaml|json] CONTAINER...", generate_specs,
			  argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret != 0) {
		options_free_values(v, 2);
		return ret < 0 ? 1 : 0;
	}
	if (v[0].value && !kube_is_dns1123_label(v[0].value))
		ret = berth_error_request(err, EINVAL, "--name \"%s\": not a DNS-1123 label", v[0].value);
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ctrs = calloc((size_t)npos, sizeof(container *));
		for (; ret == 0 && ctrs && n < npos; n++)
			ret = record_open(&cli.paths, pos[n], &ctrs[n], err);
		if (ret == 0 && ctrs) {
			json_t *pod = kube_generate_pod(ctrs, (size_t)npos, v[0].value);
			kube_cli_print(pod, v[1].value ? v[1].value : "yaml");
			json_decref(pod);
		}
		for (int i = 0; ctrs && i < npos; i++)
			container_free(ctrs[i]);
		free(ctrs);
		kube_cli_close(&cli);
	}
	options_free_values(v, 2);
	return ret < 0 ? 1 : 0;
}
