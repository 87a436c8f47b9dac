/* berth kube get / describe: the objects with what their pods do, as
 * kubectl prints them (tables, -o wide, -o json, -o yaml). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/kube_cmd.h"
#include "kube/controller.h"
#include "kube/hpa.h"
#include "kube/manifest.h"
#include "kube/state.h"
#include "util/cleanup.h"

typedef struct get_view {
	kube_cli *cli;
	const char *namespace; /* NULL: every namespace */
	json_t *pods;	       /* kube_pod_list */
	json_t *status;	       /* namespace -> the controller's status */
} get_view;

static json_t *status_of(get_view *v, const char *namespace)
{
	json_t *s = json_object_get(v->status, namespace);

	if (s == NULL) {
		s = kube_controller_status(&v->cli->k, namespace);
		json_object_set_new(v->status, namespace, s);
	}
	return s;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *meta(json_t *o)
{
	return json_object_get(o, "metadata");
}

/* ---- YAML for -o yaml */

static bool plain_scalar(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n" };
	char *end;

	if (s[0] == '\0' || isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return false;
	strtod(s, &end);
	if (*end == '\0')
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) || strstr(s, ": ") || strstr(s, " #") || strchr(s, '\n'))
		return false;
	return true;
}

static void yaml_scalar(json_t *v)
{
	if (json_is_string(v)) {
		if (plain_scalar(json_string_value(v))) {
			fputs(json_string_value(v), stdout);
		} else {
			char *q = json_dumps(v, JSON_ENCODE_ANY);
			fputs(q ? q : "\"\"", stdout);
			free(q);
		}
		return;
	}
	char *t = json_dumps(v, JSON_ENCODE_ANY);
	fputs(t ? t : "null", stdout);
	free(t);
}

static bool yaml_empty(json_t *v)
{
	return (json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0);
}

static void yaml_value(json_t *v, int indent, bool in_list);

static void yaml_object(json_t *o, int indent, bool first_inline)
{
	const char *key;
	json_t *v;
	bool first = true;

	json_object_foreach(o, key, v) {
		if (!(first && first_inline))
			printf("%*s", indent, "");
		first = false;
		printf("%s:", key);
		if (yaml_empty(v)) {
			printf(json_is_object(v) ? " {}\n" : " []\n");
		} else if (json_is_object(v)) {
			putchar('\n');
			yaml_object(v, indent + 2, false);
		} else if (json_is_array(v)) {
			putchar('\n');
			yaml_value(v, indent, false);
		} else {
			putchar(' ');
			yaml_scalar(v);
			putchar('\n');
		}
	}
}

static void yaml_value(json_t *v, int indent, bool in_list)
{
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		yaml_object(v, indent, in_list);
		return;
	}
	json_array_foreach(v, i, e) {
		printf("%*s- ", indent, "");
		if (yaml_empty(e))
			printf(json_is_object(e) ? "{}\n" : "[]\n");
		else if (json_is_object(e))
			yaml_object(e, indent + 2, true);
		else if (json_is_array(e)) {
			putchar('\n');
			yaml_value(e, indent + 2, false);
		} else {
			yaml_scalar(e);
			putchar('\n');
		}
	}
}

void kube_cli_print(json_t *o, const char *format)
{
	if (strcmp(format, "yaml") == 0) {
		yaml_value(o, 0, false);
	} else {
		char *text = json_dumps(o, JSON_INDENT(4));
		if (text)
			printf("%s\n", text);
		free(text);
	}
}

/* ---- pods */

static json_t *pod_view(get_view *v, json_t *p)
{
	const char *ns = str(p, "namespace"), *name = str(p, "name");
	_cleanup_json_ json_t *pod = kube_pod_object(&v->cli->k, ns, name);
	json_t *st = json_object_get(json_object_get(status_of(v, ns), "pods"), name);
	json_t *statuses = json_array(), *c;
	int ready, total, restarts;
	const char *phase = kube_cli_pod_status(p, status_of(v, ns), &ready, &total, &restarts);
	size_t i;

	json_array_foreach(json_object_get(p, "containers"), i, c) {
		const char *s = str(c, "status") ?: "";
		json_t *state =
		    strcmp(s, "running") == 0  ? json_pack("{s:{s:s?}}", "running", "startedAt", str(c, "startedAt"))
		    : strcmp(s, "exited") == 0 ? json_pack("{s:{s:I}}", "terminated", "exitCode",
							   json_integer_value(json_object_get(c, "exitCode")))
					       : json_pack("{s:{s:s}}", "waiting", "reason", s);
		json_array_append_new(
		    statuses,
		    json_pack("{s:s, s:b, s:O, s:o, s:s+}", "name", str(c, "name"), "ready",
			      json_is_true(json_object_get(json_object_get(st, "containers"), str(c, "name"))),
			      "restartCount", json_object_get(c, "restarts"), "state", state, "containerID", "berth://",
			      str(c, "id")));
	}
	json_t *labels = json_object_get(p, "labels"), *spec = json_object_get(pod, "spec");
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:s?}, s:o, s:{s:s, s:s?, s:[{s:s, s:s}], s:o}}", "apiVersion",
			 "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns, "labels",
			 labels ? json_incref(labels) : json_object(), "creationTimestamp", str(p, "created"), "spec",
			 spec ? json_incref(spec) : json_object(), "status", "phase",
			 strcmp(phase, "Completed") == 0 ? "Succeeded"
			 : strcmp(phase, "Error") == 0	 ? "Failed"
			 : strcmp(phase, "Pending") == 0 ? "Pending"
							 : "Running",
			 "podIP", str(p, "ip"), "conditions", "type", "Ready", "status",
			 ready == total && total > 0 ? "True" : "False", "containerStatuses", statuses);
}

static bool wanted(char **names, int n, const char *name)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Pod objects applied whose pod is not made yet show as Pending. */
static void add_pending(get_view *v, json_t *pods)
{
	json_t *objects = NULL, *o, *p;
	berth_error *err = NULL;
	size_t i, j;

	if (kube_state_list(v->cli->paths.store_root, "Pod", v->namespace, &objects, &err) < 0) {
		berth_error_free(&err);
		return;
	}
	json_array_foreach(objects, i, o) {
		bool found = false;
		json_array_foreach(pods, j, p)
			found = found || (strcmp(str(p, "name"), str(meta(o), "name")) == 0 &&
					  strcmp(str(p, "namespace"), str(meta(o), "namespace")) == 0);
		if (!found)
			json_array_append_new(pods,
					      json_pack("{s:s, s:s, s:n, s:[], s:O?}", "name", str(meta(o), "name"),
							"namespace", str(meta(o), "namespace"), "holder", "containers",
							"created", json_object_get(meta(o), "creationTimestamp")));
	}
	json_decref(objects);
}

static void print_pods(get_view *v, char **names, int n, const char *format, json_t *items, bool header)
{
	json_t *p;
	size_t i;
	bool wide = format && strcmp(format, "wide") == 0, any = false;

	add_pending(v, v->pods);
	json_array_foreach(v->pods, i, p) {
		int ready, total, restarts;
		const char *phase;
		char age[16], rt[16];
		if (!wanted(names, n, str(p, "name")))
			continue;
		if (items) {
			json_array_append_new(items, pod_view(v, p));
			continue;
		}
		phase = kube_cli_pod_status(p, status_of(v, str(p, "namespace")), &ready, &total, &restarts);
		if (!any && header) {
			if (v->namespace == NULL)
				printf("%-16s", "NAMESPACE");
			printf("%-36s %-7s %-21s %-9s %-6s%s\n", "NAME", "READY", "STATUS", "RESTARTS", "AGE",
			       wide ? " IP" : "");
		}
		any = true;
		if (v->namespace == NULL)
			printf("%-16s", str(p, "namespace"));
		snprintf(rt, sizeof(rt), "%d/%d", ready, total);
		printf("%-36s %-7s %-21s %-9d %-6s", str(p, "name"), rt, phase, restarts,
		       kube_cli_age(str(p, "created"), age));
		if (wide)
			printf(" %s", str(p, "ip") ?: "<none>");
		putchar('\n');
	}
	if (!any && !items && header)
		fprintf(stderr, "No resources found in %s namespace.\n", v->namespace ? v->namespace : "any");
}

/* ---- deployments */

static void deployment_counts(get_view *v, json_t *d, int *ready, int *updated, int *available, int *total)
{
	char owner[300], hash[11];
	json_t *status = status_of(v, str(meta(d), "namespace")), *p;
	size_t i;

	snprintf(owner, sizeof(owner), "Deployment/%s", str(meta(d), "name"));
	kube_template_hash(json_object_get(json_object_get(d, "spec"), "template"), hash);
	*ready = *updated = *available = *total = 0;
	json_array_foreach(v->pods, i, p) {
		json_t *st;
		_cleanup_json_ json_t *pod = NULL;
		if (strcmp(str(p, "owner") ?: "", owner) != 0 || strcmp(str(p, "namespace"), str(meta(d), "namespace")))
			continue;
		st = json_object_get(json_object_get(status, "pods"), str(p, "name"));
		pod = kube_pod_object(&v->cli->k, str(p, "namespace"), str(p, "name"));
		(*total)++;
		*ready += json_is_true(json_object_get(st, "ready"));
		*available += json_is_true(json_object_get(st, "available"));
		*updated +=
		    strcmp(str(json_object_get(meta(pod), "labels"), KUBE_TEMPLATE_HASH_LABEL) ?: "", hash) == 0;
	}
}

static int replicas_of(json_t *d)
{
	json_t *r = json_object_get(json_object_get(d, "spec"), "replicas");
	return r ? (int)json_integer_value(r) : 1;
}

static void print_deployments(get_view *v, char **names, int n, const char *format, json_t *items, bool header)
{
	json_t *list = NULL, *d;
	berth_error *err = NULL;
	bool any = false;
	size_t i;

	if (kube_state_list(v->cli->paths.store_root, "Deployment", v->namespace, &list, &err) < 0) {
		berth_error_report("berth kube get", &err);
		return;
	}
	json_array_foreach(list, i, d) {
		int ready, updated, available, total;
		char age[16], rt[24];
		if (!wanted(names, n, str(meta(d), "name")))
			continue;
		deployment_counts(v, d, &ready, &updated, &available, &total);
		if (items) {
			json_t *copy = json_deep_copy(d);
			json_object_set_new(copy, "status",
					    json_pack("{s:I, s:i, s:i, s:i, s:i}", "observedGeneration",
						      json_integer_value(json_object_get(meta(d), "generation")),
						      "replicas", total, "readyReplicas", ready, "updatedReplicas",
						      updated, "availableReplicas", available));
			json_array_append_new(items, copy);
			continue;
		}
		if (!any && header) {
			if (v->namespace == NULL)
				printf("%-16s", "NAMESPACE");
			printf("%-24s %-7s %-10s %-9s %s\n", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE");
		}
		any = true;
		if (v->namespace == NULL)
			printf("%-16s", str(meta(d), "namespace"));
		snprintf(rt, sizeof(rt), "%d/%d", ready, replicas_of(d));
		printf("%-24s %-7s %-10d %-9d %s\n", str(meta(d), "name"), rt, updated, available,
		       kube_cli_age(str(meta(d), "creationTimestamp"), age));
	}
	if (!any && !items && header)
		fprintf(stderr, "No resources found in %s namespace.\n", v->namespace ? v->namespace : "any");
	json_decref(list);
}

static void print_config(get_view *v, const char *kind, char **names, int n, json_t *items)
{
	json_t *list = NULL, *o;
	berth_error *err = NULL;
	bool any = false;
	size_t i;

	if (kube_state_list(v->cli->paths.store_root, kind, v->namespace, &list, &err) < 0) {
		berth_error_report("berth kube get", &err);
		return;
	}
	json_array_foreach(list, i, o) {
		char age[16];
		if (!wanted(names, n, str(meta(o), "name")))
			continue;
		if (items) {
			json_array_append(items, o);
			continue;
		}
		if (!any)
			printf("%-24s %-6s %s\n", "NAME", "DATA", "AGE");
		any = true;
		printf("%-24s %-6zu %s\n", str(meta(o), "name"),
		       json_object_size(json_object_get(o, "data")) +
			   json_object_size(json_object_get(o, "stringData")) +
			   json_object_size(json_object_get(o, "binaryData")),
		       kube_cli_age(str(meta(o), "creationTimestamp"), age));
	}
	json_decref(list);
}

static const option_spec get_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "all-namespaces", 'A', false, "every namespace" },
	{ "output", 'o', true, "wide, json or yaml" },
	{ NULL, 0, false, NULL },
};

int cmd_kube_get(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[4] = { 0 };
	_cleanup_free_ char **pos = NULL;
	const char *format, *kind = NULL;
	get_view view = { 0 };
	json_t *items = NULL;
	kube_cli cli;
	int npos, ret;
	bool all;

	ret = berth_parse(
	    "kube get",
	    "kube get pods|deployments|services|endpoints|endpointslices|configmaps|secrets|hpa|all [NAME...] [-n NS] "
	    "[-o FORMAT]",
	    get_specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret != 0) {
		options_free_values(v, 3);
		return ret < 0 ? 1 : 0;
	}
	format = v[2].value;
	all = strcmp(pos[0], "all") == 0;
	/* shown, not applied: mirrors of the Endpoints */
	if (strcasecmp(pos[0], "endpointslice") == 0 || strcasecmp(pos[0], "endpointslices") == 0 ||
	    strcasecmp(pos[0], "endpointslices.discovery.k8s.io") == 0)
		kind = "EndpointSlice";
	if (!all && kind == NULL && (kind = kube_kind_canonical(pos[0])) == NULL) {
		options_free_values(v, 3);
		return berth_error_request(err, EINVAL, "the server doesn't have a resource type \"%s\"", pos[0]), 1;
	}
	if (format && strcmp(format, "wide") && strcmp(format, "json") && strcmp(format, "yaml")) {
		options_free_values(v, 3);
		return berth_error_request(err, EINVAL, "-o %s: use wide, json or yaml", format), 1;
	}
	if (kube_cli_open(g, &cli, err) < 0) {
		options_free_values(v, 3);
		return 1;
	}
	view.cli = &cli;
	view.namespace = option_bool(&v[1]) ? NULL : v[0].value ? v[0].value : "default";
	view.status = json_object();
	if (view.namespace)
		kube_cli_ensure_controller(&cli, view.namespace);
	if (kube_pod_list(&cli.k, view.namespace, &view.pods, err) < 0) {
		ret = -1;
		goto out;
	}
	if (format && strcmp(format, "wide"))
		items = json_array();
	if (all || strcmp(kind, "Pod") == 0)
		print_pods(&view, pos + 1, npos - 1, format, items, true);
	if (all)
		putchar('\n');
	if (all || strcmp(kind, "Deployment") == 0)
		print_deployments(&view, pos + 1, npos - 1, format, items, true);
	if (all || strcmp(kind, KUBE_HPA_KIND) == 0)
		kube_cli_get_hpas(&cli, view.namespace, pos + 1, npos - 1, items, all);
	if (kind && (strcmp(kind, "ConfigMap") == 0 || strcmp(kind, "Secret") == 0))
		print_config(&view, kind, pos + 1, npos - 1, items);
	if (all && !items)
		putchar('\n');
	if (all || strcmp(kind, "Service") == 0)
		kube_cli_print_services(&cli, view.namespace, pos + 1, npos - 1, items, true);
	if (kind && strcmp(kind, "Endpoints") == 0)
		kube_cli_print_endpoints(&cli, view.namespace, pos + 1, npos - 1, items);
	if (kind && strcmp(kind, "EndpointSlice") == 0)
		kube_cli_print_endpointslices(&cli, view.namespace, pos + 1, npos - 1, items);
	if (items) {
		if (npos == 2 && json_array_size(items) == 1)
			kube_cli_print(json_array_get(items, 0), format);
		else if (npos >= 2 && json_array_size(items) == 0)
			ret = berth_error_request(err, ENOENT, "%s \"%s\" not found", pos[0], pos[1]);
		else {
			json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", items);
			kube_cli_print(list, format);
			json_decref(list);
		}
	}
out:
	json_decref(items);
	json_decref(view.pods);
	json_decref(view.status);
	kube_cli_close(&cli);
	options_free_values(v, 3);
	return ret < 0 ? 1 : 0;
}

/* ---- describe: the stored object, then its pods */

static const option_spec describe_specs[] = {
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ NULL, 0, false, NULL },
};

int cmd_kube_describe(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[2] = { 0 };
	_cleanup_free_ char **pos = NULL, *buf = NULL;
	const char *kind, *name, *ns;
	_cleanup_json_ json_t *obj = NULL;
	get_view view = { 0 };
	kube_cli cli;
	int npos, ret;

	ret = berth_parse("kube describe", "kube describe KIND NAME | KIND/NAME [-n NS]", describe_specs, argc, argv,
			  false, v, &pos, &npos, 1, 2, err);
	if (ret != 0) {
		options_free_values(v, 1);
		return ret < 0 ? 1 : 0;
	}
	ns = v[0].value ? v[0].value : "default";
	if (npos == 2) {
		kind = kube_kind_canonical(pos[0]);
		name = pos[1];
	} else if (kube_cli_split_ref(pos[0], NULL, &kind, &name, &buf, err) < 0 || kind == NULL) {
		options_free_values(v, 1);
		return berth_error_request(err, EINVAL, "describe: give KIND NAME"), 1;
	}
	if (kind == NULL || kube_cli_open(g, &cli, err) < 0) {
		options_free_values(v, 1);
		return kind == NULL ? berth_error_request(err, EINVAL, "unknown kind \"%s\"", pos[0]), 1 : 1;
	}
	view.cli = &cli;
	view.namespace = ns;
	view.status = json_object();
	kube_cli_ensure_controller(&cli, ns);
	ret = kube_state_get(cli.paths.store_root, kind, ns, name, &obj, err);
	if (ret == 0 && (ret = kube_pod_list(&cli.k, ns, &view.pods, err)) == 0) {
		char *text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
		char *one[] = { (char *)name };
		printf("Name:         %s\nNamespace:    %s\nKind:         %s\n", name, ns, kind);
		if (strcmp(kind, KUBE_HPA_KIND) == 0)
			kube_cli_describe_hpa(&cli, obj);
		if (strcmp(kind, "Deployment") == 0) {
			int ready, updated, available, total;
			deployment_counts(&view, obj, &ready, &updated, &available, &total);
			printf("Replicas:     %d desired | %d updated | %d total | %d available | %d ready\n",
			       replicas_of(obj), updated, total, available, ready);
			printf("Revision:     %s\n",
			       str(json_object_get(meta(obj), "annotations"), KUBE_REVISION_ANNOTATION) ?: "");
		}
		{
			char key[300];
			const char *why;
			snprintf(key, sizeof(key), "%s%s", strcmp(kind, "Deployment") == 0 ? "Deployment/" : "", name);
			why = str(json_object_get(status_of(&view, ns), "errors"), key);
			if (why)
				printf("Last error:   %s\n", why);
		}
		if (strcmp(kind, "Service") == 0)
			kube_cli_describe_service(&cli, obj, status_of(&view, ns));
		printf("Object:\n%s\n", text ? text : "");
		free(text);
		if (strcmp(kind, "Pod") == 0) {
			printf("\nPod:\n");
			print_pods(&view, one, 1, "wide", NULL, true);
		}
	}
	json_decref(view.pods);
	json_decref(view.status);
	kube_cli_close(&cli);
	options_free_values(v, 1);
	return ret < 0 ? 1 : 0;
}
