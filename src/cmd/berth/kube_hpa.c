/* berth kube: the HorizontalPodAutoscaler's commands (get hpa, describe
 * hpa, autoscale) and top pods|deployments, as kubectl prints them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/kube_cmd.h"
#include "kube/controller.h"
#include "kube/hpa.h"
#include "kube/hpa_sync.h"
#include "kube/manifest.h"
#include "kube/metrics.h"
#include "kube/state.h"
#include "util/cleanup.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *meta(json_t *o)
{
	return json_object_get(o, "metadata");
}

/* The status the controller keeps for HPA (an empty object if none yet). */
static json_t *hpa_status(kube_cli *cli, json_t *hpa, json_t **cache)
{
	const char *ns = str(meta(hpa), "namespace");
	json_t *entry;

	if (*cache == NULL)
		*cache = json_object();
	if (json_object_get(*cache, ns) == NULL)
		json_object_set_new(*cache, ns, kube_controller_status(&cli->k, ns));
	entry = json_object_get(json_object_get(json_object_get(*cache, ns), "hpa"), str(meta(hpa), "name"));
	if (strcmp(str(entry, "uid") ?: "", str(meta(hpa), "uid") ?: "") != 0)
		return NULL;
	return entry;
}

/* "cpu: 42%/50%", "memory: 12Mi/100Mi", "cpu: <unknown>/50%" */
static void targets_text(json_t *hpa, json_t *status, char *out, size_t size)
{
	kube_hpa_spec spec;
	berth_error *err = NULL;
	size_t len = 0;

	out[0] = '\0';
	if (kube_hpa_spec_read(hpa, &spec, &err) < 0) {
		berth_error_free(&err);
		snprintf(out, size, "<unknown>");
		return;
	}
	for (size_t i = 0; i < spec.n_metrics && len < size; i++) {
		const kube_hpa_metric *m = &spec.metrics[i];
		json_t *cur = json_object_get(
		    json_object_get(json_array_get(json_object_get(status, "currentMetrics"), i), "resource"),
		    "current");
		const char *name = m->resource == KUBE_HPA_CPU ? "cpu" : "memory";
		char now[32] = "<unknown>", want[32];
		if (m->utilization) {
			if (json_is_integer(json_object_get(cur, "averageUtilization")))
				snprintf(now, sizeof(now), "%lld%%",
					 (long long)json_integer_value(json_object_get(cur, "averageUtilization")));
			snprintf(want, sizeof(want), "%d%%", m->target_percent);
		} else {
			if (str(cur, "averageValue"))
				snprintf(now, sizeof(now), "%s", str(cur, "averageValue"));
			if (m->resource == KUBE_HPA_CPU)
				snprintf(want, sizeof(want), "%lldm", (long long)m->target_value);
			else if (m->target_value % 1048576 == 0)
				snprintf(want, sizeof(want), "%lldMi", (long long)(m->target_value / 1048576));
			else
				snprintf(want, sizeof(want), "%lld", (long long)m->target_value);
		}
		len += (size_t)snprintf(out + len, size - len, "%s%s: %s/%s", i ? ", " : "", name, now, want);
	}
}

/* The object with its status, as -o json|yaml print it. */
static json_t *hpa_view(json_t *hpa, json_t *entry)
{
	json_t *copy = json_deep_copy(hpa);
	json_t *status = json_object_get(entry, "status");

	json_object_set_new(copy, "status",
			    status ? json_deep_copy(status)
				   : json_pack("{s:i, s:i}", "currentReplicas", 0, "desiredReplicas", 0));
	return copy;
}

static bool wanted(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return n == 0;
}

void kube_cli_get_hpas(kube_cli *cli, const char *namespace, char **names, int n, json_t *items, bool in_all)
{
	_cleanup_json_ json_t *list = NULL, *cache = NULL;
	berth_error *err = NULL;
	bool any = false;
	json_t *hpa;
	size_t i;

	if (kube_state_list(cli->paths.store_root, KUBE_HPA_KIND, namespace, &list, &err) < 0) {
		berth_error_report("berth kube get", &err);
		return;
	}
	json_array_foreach(list, i, hpa) {
		json_t *entry = hpa_status(cli, hpa, &cache), *spec = json_object_get(hpa, "spec");
		json_t *min = json_object_get(spec, "minReplicas");
		char targets[256], age[16], ref[300];
		if (!wanted(names, n, str(meta(hpa), "name")))
			continue;
		if (items) {
			json_array_append_new(items, hpa_view(hpa, entry));
			continue;
		}
		if (!any) {
			if (in_all)
				putchar('\n');
			if (namespace == NULL)
				printf("%-16s", "NAMESPACE");
			printf("%-20s %-24s %-28s %-8s %-8s %-9s %s\n", "NAME", "REFERENCE", "TARGETS", "MINPODS",
			       "MAXPODS", "REPLICAS", "AGE");
		}
		any = true;
		targets_text(hpa, json_object_get(entry, "status"), targets, sizeof(targets));
		snprintf(ref, sizeof(ref), "Deployment/%s", str(json_object_get(spec, "scaleTargetRef"), "name") ?: "");
		if (namespace == NULL)
			printf("%-16s", str(meta(hpa), "namespace"));
		printf(
		    "%-20s %-24s %-28s %-8lld %-8lld %-9lld %s\n", str(meta(hpa), "name"), ref, targets,
		    json_is_integer(min) ? (long long)json_integer_value(min) : 1LL,
		    (long long)json_integer_value(json_object_get(spec, "maxReplicas")),
		    (long long)json_integer_value(json_object_get(json_object_get(entry, "status"), "currentReplicas")),
		    kube_cli_age(str(meta(hpa), "creationTimestamp"), age));
	}
	if (!any && !items && !in_all && n == 0)
		fprintf(stderr, "No resources found in %s namespace.\n", namespace ? namespace : "any");
}

static void print_map(const char *title, json_t *map)
{
	const char *key;
	json_t *v;
	bool first = true;

	printf("%-20s", title);
	json_object_foreach(map, key, v) {
		printf("%s%s=%s\n", first ? "" : "                    ", key, json_string_value(v) ?: "");
		first = false;
	}
	if (first)
		printf("<none>\n");
}

void kube_cli_describe_hpa(kube_cli *cli, json_t *hpa)
{
	_cleanup_json_ json_t *cache = NULL;
	json_t *entry = hpa_status(cli, hpa, &cache), *status = json_object_get(entry, "status"), *c, *e;
	json_t *spec = json_object_get(hpa, "spec"), *behavior = json_object_get(spec, "behavior");
	kube_hpa_spec s;
	berth_error *err = NULL;
	char targets[256], age[16];
	size_t i;

	if (kube_hpa_spec_read(hpa, &s, &err) < 0) {
		berth_error_report("berth kube describe", &err);
		return;
	}
	print_map("Labels:", json_object_get(meta(hpa), "labels"));
	print_map("Annotations:", json_object_get(meta(hpa), "annotations"));
	printf("%-20s%s\n", "CreationTimestamp:", str(meta(hpa), "creationTimestamp") ?: "");
	printf("%-20sDeployment/%s\n", "Reference:", s.target);
	printf("Metrics:            ( current / target )\n");
	for (i = 0; i < s.n_metrics; i++) {
		json_t *one = json_object_get(
		    json_object_get(json_array_get(json_object_get(status, "currentMetrics"), i), "resource"),
		    "current");
		const char *name = s.metrics[i].resource == KUBE_HPA_CPU ? "cpu" : "memory";
		if (s.metrics[i].utilization) {
			char now[64] = "<unknown>";
			if (json_is_integer(json_object_get(one, "averageUtilization")))
				snprintf(now, sizeof(now), "%lld%% (%s)",
					 (long long)json_integer_value(json_object_get(one, "averageUtilization")),
					 str(one, "averageValue") ?: "");
			printf("  resource %s on pods  (as a percentage of request):  %s / %d%%\n", name, now,
			       s.metrics[i].target_percent);
		} else {
			json_t *target = json_object_get(
			    json_object_get(
				json_object_get(json_array_get(json_object_get(spec, "metrics"), i), "resource"),
				"target"),
			    "averageValue");
			char *want = json_is_string(target) ? strdup(json_string_value(target))
							    : json_dumps(target, JSON_ENCODE_ANY);
			printf("  resource %s on pods:  %s / %s\n", name, str(one, "averageValue") ?: "<unknown>",
			       want ? want : "");
			free(want);
		}
	}
	targets_text(hpa, status, targets, sizeof(targets));
	printf("%-20s%d\n%-20s%d\n", "Min replicas:", s.min_replicas, "Max replicas:", s.max_replicas);
	if (behavior) {
		printf("Behavior:\n");
		for (int up = 1; up >= 0; up--) {
			const kube_hpa_rules *r = up ? &s.up : &s.down;
			static const char *const selects[] = { "Max", "Min", "Disabled" };
			printf(
			    "  Scale %s:\n    Stabilization Window: %d seconds\n    Select Policy: %s\n    Policies:\n",
			    up ? "Up" : "Down", r->window_s, selects[r->select]);
			for (size_t p = 0; p < r->n_policies; p++)
				printf("      - Type: %-7s Value: %d  Period: %d seconds\n",
				       r->policies[p].type == KUBE_HPA_PODS ? "Pods" : "Percent", r->policies[p].value,
				       r->policies[p].period_s);
		}
	}
	printf("%-20s%lld current / %lld desired\n",
	       "Deployment pods:", (long long)json_integer_value(json_object_get(status, "currentReplicas")),
	       (long long)json_integer_value(json_object_get(status, "desiredReplicas")));
	if (str(status, "lastScaleTime"))
		printf("%-20s%s\n", "Last scale time:", str(status, "lastScaleTime"));
	if (json_array_size(json_object_get(status, "conditions")) > 0) {
		printf("Conditions:\n  %-15s %-7s %-28s %s\n  %-15s %-7s %-28s %s\n", "Type", "Status", "Reason",
		       "Message", "----", "------", "------", "-------");
		json_array_foreach(json_object_get(status, "conditions"), i, c)
			printf("  %-15s %-7s %-28s %s\n", str(c, "type"), str(c, "status"), str(c, "reason"),
			       str(c, "message"));
	}
	if (json_array_size(json_object_get(entry, "events")) == 0) {
		printf("Events:             <none>\n");
		return;
	}
	printf("Events:\n  %-8s %-29s %-10s %-26s %s\n  %-8s %-29s %-10s %-26s %s\n", "Type", "Reason", "Age", "From",
	       "Message", "----", "------", "----", "----", "-------");
	json_array_foreach(json_object_get(entry, "events"), i, e) {
		char when[48];
		long long count = (long long)json_integer_value(json_object_get(e, "count"));
		kube_cli_age(str(e, "lastTimestamp"), age);
		if (count > 1)
			snprintf(when, sizeof(when), "%s (x%lld)", age, count);
		else
			snprintf(when, sizeof(when), "%s", age);
		printf("  %-8s %-29s %-10s %-26s %s\n", str(e, "type"), str(e, "reason"), when,
		       "horizontal-pod-autoscaler", str(e, "message"));
	}
}

/* ---- autoscale */

static const option_spec autoscale_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "min", 0, true, "the lower limit of replicas (default 1)" },
	{ "max", 0, true, "the upper limit of replicas (required)" },
	{ "cpu-percent", 0, true, "the target CPU utilization of the requests (default 80)" },
	{ "name", 0, true, "the HPA's name (default: the deployment's)" },
	{ NULL, 0, false, NULL },
};

static int parse_count(const char *flag, const char *text, long *out, berth_error **err)
{
	char *end;

	*out = strtol(text, &end, 10);
	if (end == text || *end != '\0' || *out < 1 || *out > 10000)
		return berth_error_request(err, EINVAL, "--%s: give a number from 1 to 10000, not \"%s\"", flag, text);
	return 0;
}

static int autoscale(kube_cli *cli, const char *ns, const char *deployment, option_value *v, berth_error **err)
{
	_cleanup_json_ json_t *d = NULL, *existing = NULL, *hpa = NULL;
	_cleanup_free_ char *text = NULL;
	const char *name = v[4].value ? v[4].value : deployment;
	kube_manifest m = { 0 };
	kube_apply_result result;
	long min = 0, max = 0, pct = 0;
	int ret;

	if (v[2].value == NULL)
		return berth_error_request(err, EINVAL, "--max=MAXPODS is required and must be at least 1");
	if (parse_count("max", v[2].value, &max, err) < 0 ||
	    (v[1].value && parse_count("min", v[1].value, &min, err) < 0) ||
	    (v[3].value && parse_count("cpu-percent", v[3].value, &pct, err) < 0))
		return -1;
	if (kube_state_get(cli->paths.store_root, "Deployment", ns, deployment, &d, err) < 0)
		return -1;
	if (kube_state_get(cli->paths.store_root, KUBE_HPA_KIND, ns, name, &existing, err) == 0)
		return berth_error_request(err, EEXIST, "horizontalpodautoscalers.autoscaling \"%s\" already exists",
					   name);
	berth_error_free(err);
	hpa = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:s, s:s, s:s}, s:i}}", "apiVersion", "autoscaling/v2", "kind",
			KUBE_HPA_KIND, "metadata", "name", name, "namespace", ns, "spec", "scaleTargetRef",
			"apiVersion", "apps/v1", "kind", "Deployment", "name", deployment, "maxReplicas", (int)max);
	if (hpa == NULL)
		return berth_error_set(err, ENOMEM, "autoscale");
	if (min > 0)
		json_object_set_new(json_object_get(hpa, "spec"), "minReplicas", json_integer(min));
	if (pct > 0)
		json_object_set_new(json_object_get(hpa, "spec"), "metrics",
				    json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource", "resource", "name",
					      "cpu", "target", "type", "Utilization", "averageUtilization", (int)pct));
	/* through the manifest's checks, as `apply` would take it */
	text = json_dumps(hpa, JSON_COMPACT);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "autoscale");
	ret = kube_manifest_add_text(&m, text, strlen(text), "autoscale", ns, err);
	if (ret == 0)
		ret = kube_state_apply(cli->paths.store_root, &m.objects[0], &result, err);
	kube_manifest_free(&m);
	if (ret == 0) {
		printf("horizontalpodautoscaler.autoscaling/%s autoscaled\n", name);
		fflush(stdout);
		kube_cli_ensure_controller(cli, ns);
	}
	return ret;
}

int cmd_kube_autoscale(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[6] = { 0 };
	_cleanup_free_ char **pos = NULL, *buf = NULL;
	const char *kind = NULL, *name = NULL;
	kube_cli cli;
	int npos, ret;

	ret =
	    berth_parse("kube autoscale", "kube autoscale deployment/NAME --max M [--min N] [--cpu-percent P] [-n NS]",
			autoscale_specs, argc, argv, false, v, &pos, &npos, 1, 2, err);
	if (ret != 0) {
		options_free_values(v, 5);
		return ret < 0 ? 1 : 0;
	}
	if (npos == 2) {
		kind = kube_kind_canonical(pos[0]);
		name = pos[1];
	} else if (kube_cli_split_ref(pos[0], NULL, &kind, &name, &buf, err) < 0) {
		ret = -1;
	}
	if (ret == 0 && (kind == NULL || strcmp(kind, "Deployment") != 0))
		ret = berth_error_request(err, EINVAL, "autoscale: give deployment/NAME (berth scales Deployments)");
	if (ret == 0 && (ret = kube_cli_open(g, &cli, err)) == 0) {
		ret = autoscale(&cli, v[0].value ? v[0].value : "default", name, v, err);
		kube_cli_close(&cli);
	}
	options_free_values(v, 5);
	return ret < 0 ? 1 : 0;
}

/* ---- top */

static const option_spec top_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "all-namespaces", 'A', false, "every namespace" },
	{ NULL, 0, false, NULL },
};

typedef struct top_row {
	char name[320], ns[64];
	int64_t millicores, bytes;
	bool valid;
} top_row;

/* Two samples of every running pod a second apart: the CPU between them
 * and the working set of the second. */
static int measure_pods(kube_cli *cli, json_t *pods, top_row **rows, berth_error **err)
{
	size_t n = json_array_size(pods), i;
	kube_usage *first = calloc(n ? n : 1, sizeof(*first));
	json_t *p;

	*rows = calloc(n ? n : 1, sizeof(**rows));
	if (first == NULL || *rows == NULL) {
		free(first);
		return berth_error_set(err, ENOMEM, "top");
	}
	json_array_foreach(pods, i, p)
		kube_metrics_sample_pod(&cli->k, p, &first[i]);
	if (n > 0)
		usleep(1000000);
	json_array_foreach(pods, i, p) {
		kube_usage second;
		top_row *r = &(*rows)[i];
		kube_metrics_sample_pod(&cli->k, p, &second);
		snprintf(r->name, sizeof(r->name), "%s", str(p, "name"));
		snprintf(r->ns, sizeof(r->ns), "%s", str(p, "namespace"));
		r->millicores = kube_metrics_millicores(&first[i], &second);
		r->bytes = second.memory_bytes;
		r->valid = r->millicores >= 0;
	}
	free(first);
	return 0;
}

int cmd_kube_top(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_json_ json_t *pods = NULL, *deployments = NULL;
	_cleanup_free_ top_row *rows = NULL;
	const char *kind, *ns;
	kube_cli cli;
	int npos, ret;
	size_t i, j;
	bool any = false;

	ret = berth_parse("kube top", "kube top pods|deployments [NAME...] [-n NS|-A]", top_specs, argc, argv, false, v,
			  &pos, &npos, 1, -1, err);
	if (ret != 0) {
		options_free_values(v, 2);
		return ret < 0 ? 1 : 0;
	}
	kind = kube_kind_canonical(pos[0]);
	ns = option_bool(&v[1]) ? NULL : v[0].value ? v[0].value : "default";
	options_free_values(v, 2);
	if (kind == NULL || (strcmp(kind, "Pod") != 0 && strcmp(kind, "Deployment") != 0))
		return berth_error_request(err, EINVAL, "top: give pods or deployments"), 1;
	if (kube_cli_open(g, &cli, err) < 0)
		return 1;
	if (kube_pod_list(&cli.k, ns, &pods, err) < 0 || measure_pods(&cli, pods, &rows, err) < 0) {
		kube_cli_close(&cli);
		return 1;
	}
	if (strcmp(kind, "Pod") == 0) {
		json_t *p;
		json_array_foreach(pods, i, p) {
			if (!rows[i].valid || !wanted(pos + 1, npos - 1, rows[i].name))
				continue;
			if (!any)
				printf("%s%-40s %-12s %s\n", ns ? "" : "NAMESPACE        ", "NAME", "CPU(cores)",
				       "MEMORY(bytes)");
			any = true;
			if (ns == NULL)
				printf("%-17s", rows[i].ns);
			char cpu[32];
			snprintf(cpu, sizeof(cpu), "%lldm", (long long)rows[i].millicores);
			printf("%-40s %-12s %lldMi\n", rows[i].name, cpu, (long long)(rows[i].bytes / 1048576));
		}
	} else if (kube_state_list(cli.paths.store_root, "Deployment", ns, &deployments, err) == 0) {
		json_t *d;
		json_array_foreach(deployments, j, d) {
			const char *name = str(meta(d), "name"), *dns = str(meta(d), "namespace");
			char owner[300];
			int64_t cpu = 0, bytes = 0;
			int counted = 0;
			json_t *p;
			if (!wanted(pos + 1, npos - 1, name))
				continue;
			snprintf(owner, sizeof(owner), "Deployment/%s", name);
			json_array_foreach(pods, i, p)
				if (rows[i].valid && strcmp(str(p, "owner") ?: "", owner) == 0 &&
				    strcmp(rows[i].ns, dns) == 0) {
					cpu += rows[i].millicores;
					bytes += rows[i].bytes;
					counted++;
				}
			if (!any)
				printf("%s%-40s %-6s %-12s %s\n", ns ? "" : "NAMESPACE        ", "NAME", "PODS",
				       "CPU(cores)", "MEMORY(bytes)");
			any = true;
			if (ns == NULL)
				printf("%-17s", dns);
			char cpu_text[32];
			snprintf(cpu_text, sizeof(cpu_text), "%lldm", (long long)cpu);
			printf("%-40s %-6d %-12s %lldMi\n", name, counted, cpu_text, (long long)(bytes / 1048576));
		}
	} else {
		ret = -1;
	}
	if (ret == 0 && !any)
		fprintf(stderr, "No resources found in %s namespace.\n", ns ? ns : "any");
	kube_cli_close(&cli);
	return ret < 0 ? 1 : 0;
}
