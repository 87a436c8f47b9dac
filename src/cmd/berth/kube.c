/* berth kube COMMAND: Pods and Deployments from Kubernetes YAML on one host
 * (src/kube). apply and delete are here; get and describe in kube_get.c;
 * logs, exec, scale and rollout in kube_ops.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/berth/engine_cmd.h"
#include "cmd/berth/kube_cmd.h"
#include "kube/controller.h"
#include "kube/kube_service.h"
#include "kube/manifest.h"
#include "kube/pod_delete.h"
#include "kube/state.h"
#include "util/cleanup.h"

#define DELETE_WAIT_S 120

int kube_cli_open(const berth_globals *g, kube_cli *cli, berth_error **err)
{
	const char *parent = getenv("BERTH_KUBE_CGROUP_PARENT");

	memset(cli, 0, sizeof(*cli));
	if (berth_engine_open(g, &cli->paths, err) < 0)
		return -1;
	cli->k.paths = &cli->paths;
	cli->k.cgroup_parent = parent && parent[0] ? parent : NULL;
	return 0;
}

void kube_cli_close(kube_cli *cli)
{
	engine_paths_free(&cli->paths);
}

void kube_cli_ensure_controller(kube_cli *cli, const char *namespace)
{
	berth_error *err = NULL;

	if (kube_controller_ensure(&cli->k, namespace, NULL, &err) < 0)
		berth_error_report("berth kube: controller", &err);
}

const char *kube_cli_resource(const char *kind)
{
	if (strcmp(kind, "HorizontalPodAutoscaler") == 0)
		return "horizontalpodautoscaler.autoscaling";
	if (strcmp(kind, "Deployment") == 0)
		return "deployment.apps";
	if (strcmp(kind, "ConfigMap") == 0)
		return "configmap";
	if (strcmp(kind, "Secret") == 0)
		return "secret";
	if (strcmp(kind, "Service") == 0)
		return "service";
	if (strcmp(kind, "Endpoints") == 0)
		return "endpoints";
	return "pod";
}

int kube_cli_split_ref(const char *text, const char *default_kind, const char **kind, const char **name, char **buf,
		       berth_error **err)
{
	const char *slash = strchr(text, '/');

	*buf = NULL;
	if (slash == NULL) {
		*kind = default_kind;
		*name = text;
		return 0;
	}
	*buf = strndup(text, (size_t)(slash - text));
	if (*buf == NULL)
		return berth_error_set(err, ENOMEM, "%s", text);
	*kind = kube_kind_canonical(*buf);
	*name = slash + 1;
	if (*kind == NULL)
		return berth_error_request(err, EINVAL, "the server doesn't have a resource type \"%s\"", *buf);
	return 0;
}

const char *kube_cli_age(const char *rfc3339, char *buf)
{
	struct tm tm = { 0 };
	long long s;

	if (rfc3339 == NULL || strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return strcpy(buf, "<unknown>");
	s = (long long)(time(NULL) - timegm(&tm));
	if (s < 0)
		s = 0;
	if (s > 86400LL * 36500)
		s = 86400LL * 36500;
	if (s < 120)
		snprintf(buf, 16, "%llds", s);
	else if (s < 3600 * 2)
		snprintf(buf, 16, "%lldm", s / 60);
	else if (s < 86400 * 2)
		snprintf(buf, 16, "%lldh", s / 3600);
	else
		snprintf(buf, 16, "%lldd", s / 86400);
	return buf;
}

const char *kube_cli_pod_status(json_t *pod, json_t *status, int *ready, int *total, int *restarts)
{
	json_t *ctrs = json_object_get(pod, "containers"), *c;
	json_t *st = json_object_get(json_object_get(status, "pods"), json_string_value(json_object_get(pod, "name")));
	const char *phase = "Running";
	bool all_done = true, any_failed = false;
	size_t i;

	*ready = 0;
	*total = (int)json_array_size(ctrs);
	*restarts = 0;
	json_array_foreach(ctrs, i, c) {
		const char *s = json_string_value(json_object_get(c, "status")) ?: "";
		*restarts += (int)json_integer_value(json_object_get(c, "restarts"));
		if (json_is_true(json_object_get(json_object_get(st, "containers"),
						 json_string_value(json_object_get(c, "name")))))
			(*ready)++;
		if (strcmp(s, "restarting") == 0)
			phase = "CrashLoopBackOff";
		if (strcmp(s, "exited") != 0)
			all_done = false;
		else if (json_integer_value(json_object_get(c, "exitCode")) != 0)
			any_failed = true;
	}
	if (json_is_null(json_object_get(pod, "holder")) || json_object_get(pod, "holder") == NULL || *total == 0)
		return json_object_get(json_object_get(status, "errors"),
				       json_string_value(json_object_get(pod, "name")))
			   ? "CreateContainerError"
			   : "Pending";
	if (strcmp(json_string_value(json_object_get(json_object_get(pod, "holder"), "status")) ?: "", "running") !=
		0 ||
	    json_object_get(json_object_get(status, "terminating"), json_string_value(json_object_get(pod, "name"))))
		return "Terminating";
	if (all_done)
		return any_failed ? "Error" : "Completed";
	return phase;
}

int kube_cli_container_of(kube_cli *cli, const char *namespace, const char *ref, const char *ctr, char **out,
			  berth_error **err)
{
	_cleanup_free_ char *buf = NULL;
	const char *kind, *name, *pod_name = NULL;
	json_t *pods = NULL, *p, *pod = NULL, *c;
	size_t i;
	int ret = -1;

	if (kube_cli_split_ref(ref, "Pod", &kind, &name, &buf, err) < 0 ||
	    kube_pod_list(&cli->k, namespace, &pods, err) < 0)
		return -1;
	json_array_foreach(pods, i, p) {
		const char *owner = json_string_value(json_object_get(p, "owner"));
		const char *pname = json_string_value(json_object_get(p, "name"));
		if (strcmp(kind, "Pod") == 0
			? strcmp(pname, name) == 0
			: owner && strncmp(owner, "Deployment/", 11) == 0 && strcmp(owner + 11, name) == 0) {
			pod = p;
			pod_name = pname;
			break;
		}
	}
	if (pod == NULL) {
		berth_error_request(err, ENOENT, "%s \"%s\" not found in namespace %s",
				    strcmp(kind, "Pod") == 0 ? "pods" : "deployments.apps", name, namespace);
		goto out;
	}
	c = json_array_get(json_object_get(pod, "containers"), 0);
	if (ctr) {
		c = NULL;
		json_array_foreach(json_object_get(pod, "containers"), i, p)
			if (strcmp(json_string_value(json_object_get(p, "name")), ctr) == 0)
				c = p;
		if (c == NULL) {
			berth_error_request(err, ENOENT, "container %s is not valid for pod %s", ctr, pod_name);
			goto out;
		}
	}
	if (c == NULL) {
		berth_error_request(err, ENOENT, "pod %s has no container", pod_name);
		goto out;
	}
	*out = kube_container_record_name(json_string_value(json_object_get(c, "name")), pod_name, namespace);
	ret = *out ? 0 : berth_error_set(err, ENOMEM, "%s", ref);
out:
	json_decref(pods);
	return ret;
}

/* ---- apply */

static const option_spec apply_specs[] = {
	{ "filename", 'f', true, "a manifest file, a directory of them, or - for stdin; repeatable" },
	{ "namespace", 'n', true, "namespace of objects that name none (default \"default\")" },
	{ NULL, 0, false, NULL },
};

/* The pod a Deployment's template makes, for checking. */
static json_t *template_pod(const kube_object *o)
{
	json_t *t = json_object_get(json_object_get(o->object, "spec"), "template");
	json_t *tmeta = json_object_get(t, "metadata");
	/* a copy of the metadata: the manifest's template stays as written */
	json_t *pod = json_pack("{s:o, s:O}", "metadata", tmeta ? json_deep_copy(tmeta) : json_object(), "spec",
				json_object_get(t, "spec"));
	json_t *meta = json_object_get(pod, "metadata");

	json_object_set_new(meta, "name", json_string(o->name));
	json_object_set_new(meta, "namespace", json_string(o->namespace));
	return pod;
}

/* What the engine would refuse (a bad capability, a missing hostPath) is
 * found before anything is stored. */
static int check_workloads(kube_cli *cli, const kube_manifest *m, berth_error **err)
{
	kube_context k = cli->k;

	k.lenient_refs = true;
	for (size_t i = 0; i < m->n; i++) {
		const kube_object *o = &m->objects[i];
		json_t *pod;
		int ret;
		if (strcmp(o->kind, "Pod") != 0 && strcmp(o->kind, "Deployment") != 0)
			continue;
		pod = strcmp(o->kind, "Pod") == 0 ? json_incref(o->object) : template_pod(o);
		ret = kube_pod_check(&k, pod, err);
		json_decref(pod);
		if (ret < 0)
			return berth_error_wrap(err, "%s (%s %s)", o->origin, o->kind, o->name);
	}
	return 0;
}

/* The manifest's Services against the host's: node ports, cluster IPs. */
static int check_services(kube_cli *cli, const kube_manifest *m, berth_error **err)
{
	_cleanup_free_ json_t **svcs = calloc(m->n + 1, sizeof(json_t *));
	_cleanup_free_ const kube_object **objects = calloc(m->n + 1, sizeof(*objects));
	size_t n = 0, at = 0;

	if (svcs == NULL || objects == NULL)
		return berth_error_set(err, ENOMEM, "services");
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->objects[i].kind, "Service") == 0) {
			objects[n] = &m->objects[i];
			svcs[n++] = m->objects[i].object;
		}
	if (kube_service_check(&cli->k, svcs, n, &at, err) == 0)
		return 0;
	/* the file and document, as the other checks of apply say them */
	if (at < n && (*err)->code != EPERM)
		berth_error_wrap(err, "%s (%s %s)", objects[at]->origin, objects[at]->kind, objects[at]->name);
	return -1;
}

/* A stored Service or Endpoints made real; a Service that cannot be made
 * (a node port taken meanwhile) is not left stored when it is new. */
static int apply_service_object(kube_cli *cli, const kube_object *o, kube_apply_result r, berth_error **err)
{
	berth_error *undo = NULL;

	if (strcmp(o->kind, "Endpoints") == 0)
		return kube_service_apply_endpoints(&cli->k, o->object, err);
	if (strcmp(o->kind, "Service") != 0 || kube_service_apply(&cli->k, o->object, NULL, err) == 0)
		return 0;
	if (r == KUBE_APPLY_CREATED &&
	    kube_state_delete(cli->paths.store_root, o->kind, o->namespace, o->name, &undo) < 0)
		berth_error_free(&undo);
	return berth_error_wrap(err, "%s (%s %s)", o->origin, o->kind, o->name);
}

static void ensure_controllers(kube_cli *cli, const kube_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen = seen || strcmp(m->objects[j].namespace, m->objects[i].namespace) == 0;
		if (!seen)
			kube_cli_ensure_controller(cli, m->objects[i].namespace);
	}
}

static int load_manifest(const option_value *files, const char *namespace, kube_manifest *m, berth_error **err)
{
	if (files->count == 0)
		return berth_error_request(err, EINVAL, "must specify one of -f and -k");
	for (int i = 0; i < files->count; i++)
		if (kube_manifest_add_path(m, files->all[i], namespace, err) < 0)
			return -1;
	return 0;
}

static int kube_apply(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	kube_manifest m = { 0 };
	kube_cli cli;
	int npos, ret;
	static const char *const words[] = { "created", "configured", "unchanged" };

	ret = berth_parse("kube apply", "kube apply -f FILE|DIR|- [-n NAMESPACE]", apply_specs, argc, argv, false, v,
			  &pos, &npos, 0, 0, err);
	if (ret != 0) {
		options_free_values(v, 2);
		return ret < 0 ? 1 : 0;
	}
	if (kube_cli_open(g, &cli, err) < 0) {
		options_free_values(v, 2);
		return 1;
	}
	ret = load_manifest(&v[0], v[1].value ? v[1].value : "default", &m, err);
	for (size_t i = 0; ret == 0 && i < m.n_warnings; i++)
		fprintf(stderr, "Warning: %s\n", m.warnings[i]);
	if (ret == 0)
		ret = check_workloads(&cli, &m, err);
	if (ret == 0)
		ret = check_services(&cli, &m, err);
	/* ConfigMaps and Secrets first: the pods read them when made */
	for (int pass = 0; pass < 2 && ret == 0; pass++)
		for (size_t i = 0; i < m.n && ret == 0; i++) {
			const kube_object *o = &m.objects[i];
			bool config = strcmp(o->kind, "ConfigMap") == 0 || strcmp(o->kind, "Secret") == 0;
			kube_apply_result r;
			if (config != (pass == 0))
				continue;
			ret = kube_state_apply(g->store_root, o, &r, err);
			if (ret == 0)
				ret = apply_service_object(&cli, o, r, err);
			if (ret == 0)
				printf("%s/%s %s\n", kube_cli_resource(o->kind), o->name, words[r]);
		}
	fflush(stdout);
	if (ret == 0)
		ensure_controllers(&cli, &m);
	kube_manifest_free(&m);
	kube_cli_close(&cli);
	options_free_values(v, 2);
	return ret < 0 ? 1 : 0;
}

/* ---- delete */

static const option_spec delete_specs[] = {
	{ "filename", 'f', true, "the objects of a manifest file, directory or -; repeatable" },
	{ "namespace", 'n', true, "the namespace (default \"default\")" },
	{ "all", 0, false, "every object of the kinds given" },
	{ "wait", 0, true, "wait until the pods are gone (default true)" },
	{ NULL, 0, false, NULL },
};

/* Waits until no pod of KIND/NAME is left (the controller removes them). */
static void wait_pods_gone(kube_cli *cli, const char *namespace, const char *kind, const char *name)
{
	char owner[300];

	snprintf(owner, sizeof(owner), "Deployment/%s", name);
	for (int i = 0; i < DELETE_WAIT_S * 10; i++) {
		json_t *pods = NULL, *p;
		berth_error *err = NULL;
		bool left = false;
		size_t j;
		if (kube_pod_list(&cli->k, namespace, &pods, &err) < 0) {
			berth_error_free(&err);
			return;
		}
		json_array_foreach(pods, j, p) {
			const char *o = json_string_value(json_object_get(p, "owner"));
			if (strcmp(kind, "Pod") == 0 ? strcmp(json_string_value(json_object_get(p, "name")), name) == 0
						     : o && strcmp(o, owner) == 0)
				left = true;
		}
		json_decref(pods);
		if (!left)
			return;
		if (i % 20 == 0)
			kube_cli_ensure_controller(cli, namespace);
		usleep(100000);
	}
}

/* Whether pod NAME runs in NAMESPACE, made for a Deployment. */
static bool owned_pod_exists(kube_cli *cli, const char *namespace, const char *name)
{
	_cleanup_json_ json_t *pods = NULL;
	berth_error *err = NULL;
	json_t *p;
	size_t i;

	if (kube_pod_list(&cli->k, namespace, &pods, &err) < 0) {
		berth_error_free(&err);
		return false;
	}
	json_array_foreach(pods, i, p)
		if (json_object_get(p, "owner") && strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
			return true;
	return false;
}

static int delete_one(kube_cli *cli, const char *kind, const char *namespace, const char *name, bool wait,
		      berth_error **err)
{
	_cleanup_json_ json_t *ep = NULL;

	if (kube_state_delete(cli->paths.store_root, kind, namespace, name, err) < 0) {
		/* a pod that a Deployment owns has no object of its own: the
		 * controller removes it and makes its replacement */
		if (strcmp(kind, "Pod") != 0 || (*err)->code != ENOENT || !owned_pod_exists(cli, namespace, name))
			return -1;
		berth_error_free(err);
		if (kube_pod_request_delete(&cli->k, namespace, name, err) < 0)
			return -1;
	}
	/* a Service's ClusterIP goes with it; an Endpoints object's addresses
	 * leave its Service */
	if (strcmp(kind, "Service") == 0 && kube_service_remove(&cli->k, namespace, name, err) < 0)
		return -1;
	if (strcmp(kind, "Endpoints") == 0) {
		ep = json_pack("{s:{s:s, s:s}}", "metadata", "name", name, "namespace", namespace);
		if (kube_service_apply_endpoints(&cli->k, ep, err) < 0)
			return -1;
	}
	printf("%s \"%s\" deleted\n", kube_cli_resource(kind), name);
	fflush(stdout);
	if (wait && (strcmp(kind, "Pod") == 0 || strcmp(kind, "Deployment") == 0)) {
		kube_cli_ensure_controller(cli, namespace);
		wait_pods_gone(cli, namespace, kind, name);
	}
	return 0;
}

static int delete_all(kube_cli *cli, const char *kind, const char *namespace, bool wait, berth_error **err)
{
	json_t *list = NULL, *o;
	size_t i;
	int ret = 0;

	if (kube_state_list(cli->paths.store_root, kind, namespace, &list, err) < 0)
		return -1;
	json_array_foreach(list, i, o)
		if (ret == 0)
			ret = delete_one(cli, kind, namespace,
					 json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
					 wait, err);
	json_decref(list);
	return ret;
}

static int delete_positionals(kube_cli *cli, char **pos, int npos, const char *ns, bool all, bool wait,
			      berth_error **err)
{
	static const char *const everything[] = { "Deployment", "Pod", "ConfigMap", "Secret", "Service", "Endpoints" };
	_cleanup_free_ char *buf = NULL;
	const char *kind, *name;

	if (npos == 0)
		return berth_error_request(err, EINVAL, "delete: give -f FILE, KIND NAME... or KIND --all");
	/* all --all: the autoscalers first, so that none scales what goes */
	if (all && strcmp(pos[0], "all") == 0 && delete_all(cli, "HorizontalPodAutoscaler", ns, wait, err) < 0)
		return -1;
	if (all) {
		bool every = strcmp(pos[0], "all") == 0;
		for (size_t i = 0; i < sizeof(everything) / sizeof(everything[0]); i++) {
			kind = every ? everything[i] : kube_kind_canonical(pos[0]);
			if (kind == NULL)
				return berth_error_request(err, EINVAL,
							   "the server doesn't have a resource type \"%s\"", pos[0]);
			if (delete_all(cli, kind, ns, wait, err) < 0)
				return -1;
			if (!every)
				break;
		}
		return 0;
	}
	if (strchr(pos[0], '/')) {
		for (int i = 0; i < npos; i++) {
			if (kube_cli_split_ref(pos[i], NULL, &kind, &name, &buf, err) < 0 ||
			    delete_one(cli, kind, ns, name, wait, err) < 0)
				return -1;
			free(buf);
			buf = NULL;
		}
		return 0;
	}
	kind = kube_kind_canonical(pos[0]);
	if (kind == NULL)
		return berth_error_request(err, EINVAL, "the server doesn't have a resource type \"%s\"", pos[0]);
	if (npos < 2)
		return berth_error_request(err, EINVAL, "delete %s: give a NAME or --all", pos[0]);
	for (int i = 1; i < npos; i++)
		if (delete_one(cli, kind, ns, pos[i], wait, err) < 0)
			return -1;
	return 0;
}

static int kube_delete(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[5] = { 0 };
	_cleanup_free_ char **pos = NULL;
	kube_manifest m = { 0 };
	const char *ns;
	kube_cli cli;
	bool wait;
	int npos, ret;

	ret = berth_parse("kube delete", "kube delete -f FILE | KIND NAME... | KIND/NAME... | KIND --all [-n NS]",
			  delete_specs, argc, argv, false, v, &pos, &npos, 0, -1, err);
	if (ret != 0) {
		options_free_values(v, 4);
		return ret < 0 ? 1 : 0;
	}
	ns = v[1].value ? v[1].value : "default";
	wait = v[3].value == NULL || strcmp(v[3].value, "false") != 0;
	if (kube_cli_open(g, &cli, err) < 0) {
		options_free_values(v, 4);
		return 1;
	}
	if (v[0].count > 0) {
		ret = load_manifest(&v[0], ns, &m, err);
		for (size_t i = m.n; ret == 0 && i-- > 0;)
			ret = delete_one(&cli, m.objects[i].kind, m.objects[i].namespace, m.objects[i].name, wait, err);
		kube_manifest_free(&m);
	} else {
		ret = delete_positionals(&cli, pos, npos, ns, option_bool(&v[2]), wait, err);
	}
	kube_cli_close(&cli);
	options_free_values(v, 4);
	return ret < 0 ? 1 : 0;
}

/* ---- dispatch */

static const berth_command kube_commands[] = {
	{ "apply", "kube apply -f FILE|DIR|-", "create or update objects from manifests", kube_apply },
	{ "delete", "kube delete -f FILE | KIND NAME...", "delete objects and their pods", kube_delete },
	{ "get", "kube get pods|deployments|all [NAME] [-o wide|json|yaml]", "list objects", cmd_kube_get },
	{ "describe", "kube describe KIND NAME", "show an object in detail", cmd_kube_describe },
	{ "logs", "kube logs POD|deploy/NAME [-c CTR] [-f]", "print a container's logs", cmd_kube_logs },
	{ "exec", "kube exec POD [-c CTR] -- CMD...", "run a command in a pod's container", cmd_kube_exec },
	{ "scale", "kube scale deployment/NAME --replicas N", "set a deployment's replicas", cmd_kube_scale },
	{ "rollout", "kube rollout status|history|undo deployment/NAME", "manage a deployment's rollout",
	  cmd_kube_rollout },
	{ "autoscale", "kube autoscale deployment/NAME --max M [--min N] [--cpu-percent P]",
	  "create a HorizontalPodAutoscaler for a deployment", cmd_kube_autoscale },
	{ "top", "kube top pods|deployments [NAME...]", "CPU and memory of pods", cmd_kube_top },
	{ "generate", "kube generate [--name POD] CONTAINER...", "a Pod manifest from containers", cmd_kube_generate },
	{ NULL, NULL, NULL, NULL },
};

int cmd_kube(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth kube COMMAND [flags] ARGS\n\nPods and Deployments from Kubernetes YAML on one "
		       "host, no daemon.\n\ncommands:\n");
		for (int i = 0; kube_commands[i].name; i++)
			printf("   %-10s %s\n", kube_commands[i].name, kube_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; kube_commands[i].name; i++)
		if (strcmp(kube_commands[i].name, argv[0]) == 0)
			return kube_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "kube: unknown command \"%s\" (see berth kube --help)", argv[0]);
}
