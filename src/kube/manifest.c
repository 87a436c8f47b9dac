#include "kube/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/hpa.h"
#include "kube/schema.h"
#include "kube/validate.h"
#include "kube/yaml_load.h"
#include "util/cleanup.h"

/* Manifests are small; a bound keeps a mistaken `-f /dev/zero` harmless. */
#define KUBE_MANIFEST_MAX_BYTES (16u << 20)

typedef struct kind_info {
	const char *kind;
	const char *api_version;
	const char *const *aliases; /* lowercase words kubectl accepts */
	const kube_field *schema;
	int (*validate)(json_t *obj, berth_error **err);
} kind_info;

static const char *const hpa_aliases[] = { "horizontalpodautoscaler", "horizontalpodautoscalers", "hpa", NULL };
static const char *const pod_aliases[] = { "pod", "pods", "po", NULL };
static const char *const deployment_aliases[] = { "deployment", "deployments", "deploy", NULL };
static const char *const configmap_aliases[] = { "configmap", "configmaps", "cm", NULL };
static const char *const secret_aliases[] = { "secret", "secrets", NULL };
static const char *const service_aliases[] = { "service", "services", "svc", NULL };
static const char *const endpoints_aliases[] = { "endpoints", "ep", NULL };

static const kind_info kinds[] = {
	{ "HorizontalPodAutoscaler", "autoscaling/v2", hpa_aliases, kube_schema_hpa_v2, kube_validate_hpa },
	/* served as v2: kube_validate_hpa converts it */
	{ "HorizontalPodAutoscaler", "autoscaling/v1", hpa_aliases, kube_schema_hpa_v1, kube_validate_hpa },
	{ "Pod", "v1", pod_aliases, kube_schema_pod, kube_validate_pod },
	{ "Deployment", "apps/v1", deployment_aliases, kube_schema_deployment, kube_validate_deployment },
	{ "ConfigMap", "v1", configmap_aliases, kube_schema_configmap, kube_validate_configmap },
	{ "Secret", "v1", secret_aliases, kube_schema_secret, kube_validate_secret },
	{ "Service", "v1", service_aliases, kube_schema_service, kube_validate_service },
	{ "Endpoints", "v1", endpoints_aliases, kube_schema_endpoints, kube_validate_endpoints },
};

/* Kinds a Kubernetes user may well apply, that berth does not run (yet). */
static const char *const known_elsewhere[] = {
	"EndpointSlice",
	"StatefulSet",
	"DaemonSet",
	"ReplicaSet",
	"Job",
	"CronJob",
	"Ingress",
	"NetworkPolicy",
	"Namespace",
	"ServiceAccount",
	"Role",
	"RoleBinding",
	"ClusterRole",
	"ClusterRoleBinding",
	"PersistentVolume",
	"PersistentVolumeClaim",
	"PodDisruptionBudget",
	"LimitRange",
	"ResourceQuota",
	"StorageClass",
	"CustomResourceDefinition",
	"ReplicationController",
	NULL,
};

const char *kube_kind_canonical(const char *word)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcasecmp(word, kinds[i].kind) == 0)
			return kinds[i].kind;
		for (const char *const *a = kinds[i].aliases; *a; a++)
			if (strcasecmp(word, *a) == 0)
				return kinds[i].kind;
	}
	return NULL;
}

/* The entry of KIND in API_VERSION, else KIND's first (whose version the
 * error names), else NULL. */
static const kind_info *kind_lookup(const char *kind, const char *api_version)
{
	const kind_info *first = NULL;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].kind) != 0)
			continue;
		if (strcmp(api_version, kinds[i].api_version) == 0)
			return &kinds[i];
		if (first == NULL)
			first = &kinds[i];
	}
	return first;
}

static void object_clear(kube_object *o)
{
	free(o->kind);
	free(o->api_version);
	free(o->namespace);
	free(o->name);
	free(o->origin);
	json_decref(o->object);
	*o = (kube_object){ 0 };
}

void kube_manifest_free(kube_manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		object_clear(&m->objects[i]);
	free(m->objects);
	strv_free(m->warnings);
	*m = (kube_manifest){ 0 };
}

const kube_object *kube_manifest_find(const kube_manifest *m, const char *kind, const char *namespace, const char *name)
{
	const char *canonical = kube_kind_canonical(kind);
	if (canonical == NULL)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		const kube_object *o = &m->objects[i];
		if (strcmp(o->kind, canonical) == 0 && strcmp(o->namespace, namespace) == 0 &&
		    strcmp(o->name, name) == 0)
			return o;
	}
	return NULL;
}

/* ---- warnings for ignored fields: one per distinct path */

typedef struct warn_ctx {
	char ***warnings;
	size_t *n;
	const char *origin;
	int failed;
} warn_ctx;

static void add_warning(const char *path, const char *note, void *data)
{
	warn_ctx *w = data;
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "%s: %s: ignored (%s)", w->origin, path, note) < 0) {
		w->failed = 1;
		return;
	}
	for (size_t i = 0; i < *w->n; i++)
		if (strcmp((*w->warnings)[i], line) == 0)
			return;
	char **grown = realloc(*w->warnings, (*w->n + 2) * sizeof(char *));
	if (grown == NULL) {
		w->failed = 1;
		return;
	}
	*w->warnings = grown;
	grown[(*w->n)++] = move_ptr(line);
	grown[*w->n] = NULL;
}

/* ---- one object */

/* "SOURCE:LINE: document N (Kind name): MESSAGE", the line found from the
 * field path the message starts with. */
static int located(berth_error **err, const kube_document *doc, const char *source, const char *what,
		   const char *item_prefix)
{
	berth_error *e = *err;
	_cleanup_free_ char *path = NULL;
	const char *colon = strstr(e->msg, ": ");
	if (colon != NULL)
		path = strndup(e->msg, (size_t)(colon - e->msg));
	_cleanup_free_ char *full = NULL;
	if (path != NULL && item_prefix != NULL && asprintf(&full, "%s.%s", item_prefix, path) < 0)
		full = NULL;
	size_t line = kube_yaml_line(doc, full ? full : path ? path : "");
	int code = e->code;
	_cleanup_free_ char *msg = move_ptr(e->msg);
	berth_error_free(err);
	return berth_error_request(err, code ? code : EINVAL, "%s:%zu: document %zu%s: %s", source, line, doc->index,
				   what, msg);
}

static int add_object(kube_manifest *m, json_t *obj, const kube_document *doc, const char *source,
		      const char *item_prefix, const char *default_namespace, berth_error **err)
{
	const char *api_version = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	_cleanup_free_ char *what = NULL;
	_cleanup_free_ char *origin = NULL;

	if (asprintf(&what, " (%s %s)", kind ? kind : "?", name ? name : "?") < 0 ||
	    asprintf(&origin, "%s, document %zu", source, doc->index) < 0)
		return berth_error_set(err, ENOMEM, "manifest");
	if (kind == NULL || kind[0] == '\0') {
		berth_error_request(err, EINVAL, "kind: required");
		return located(err, doc, source, "", item_prefix);
	}
	if (api_version == NULL || api_version[0] == '\0') {
		berth_error_request(err, EINVAL, "apiVersion: required");
		return located(err, doc, source, what, item_prefix);
	}
	const kind_info *info = kind_lookup(kind, api_version);
	if (info == NULL) {
		for (const char *const *k = known_elsewhere; *k; k++)
			if (strcmp(*k, kind) == 0) {
				berth_error_request(err, ENOTSUP, "kind: %s is not supported by berth yet", kind);
				return located(err, doc, source, what, item_prefix);
			}
		berth_error_request(err, EINVAL,
				    "kind: unknown kind \"%s\" (berth runs Pod, Deployment, ConfigMap, "
				    "Secret, Service, Endpoints, HorizontalPodAutoscaler)",
				    kind);
		return located(err, doc, source, what, item_prefix);
	}
	if (strcmp(api_version, info->api_version) != 0) {
		berth_error_request(err, EINVAL, "apiVersion: %s is not served for kind %s (use %s)", api_version, kind,
				    info->api_version);
		return located(err, doc, source, what, item_prefix);
	}
	warn_ctx w = { .warnings = &m->warnings, .n = &m->n_warnings, .origin = origin };
	if (kube_schema_check(obj, info->schema, "", add_warning, &w, err) < 0 || info->validate(obj, err) < 0)
		return located(err, doc, source, what, item_prefix);
	if (w.failed)
		return berth_error_set(err, ENOMEM, "warnings");
	api_version = json_string_value(json_object_get(obj, "apiVersion")); /* validate may convert it */

	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	if (ns == NULL) {
		ns = default_namespace;
		json_object_set_new(meta, "namespace", json_string(ns));
	}
	if (kube_manifest_find(m, kind, ns, name) != NULL)
		return berth_error_request(err, EEXIST,
					   "%s: document %zu%s: %s \"%s\" is defined twice in namespace %s", source,
					   doc->index, what, kind, name, ns);

	kube_object *grown = realloc(m->objects, (m->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "manifest");
	m->objects = grown;
	kube_object *o = &m->objects[m->n];
	*o = (kube_object){
		.kind = strdup(kind),
		.api_version = strdup(api_version),
		.namespace = strdup(ns),
		.name = strdup(name),
		.object = json_incref(obj),
		.origin = move_ptr(origin),
	};
	if (o->kind == NULL || o->api_version == NULL || o->namespace == NULL || o->name == NULL) {
		object_clear(o);
		return berth_error_set(err, ENOMEM, "manifest");
	}
	m->n++;
	return 0;
}

static int add_document(kube_manifest *m, const kube_document *doc, const char *source, const char *default_namespace,
			berth_error **err)
{
	json_t *obj = doc->value;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	if (kind == NULL || strcmp(kind, "List") != 0 || !json_is_array(json_object_get(obj, "items")))
		return add_object(m, obj, doc, source, NULL, default_namespace, err);
	if (kube_schema_check(obj, kube_schema_list, "", NULL, NULL, err) < 0)
		return located(err, doc, source, " (List)", NULL);
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(obj, "items"), i, item) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "items[%zu]", i);
		if (add_object(m, item, doc, source, prefix, default_namespace, err) < 0)
			return -1;
	}
	return 0;
}

int kube_manifest_add_text(kube_manifest *m, const char *text, size_t len, const char *source,
			   const char *default_namespace, berth_error **err)
{
	kube_stream stream = { 0 };
	size_t n_before = m->n, warnings_before = m->n_warnings;
	int r = kube_yaml_parse(text, len, source, &stream, err);
	for (size_t i = 0; r == 0 && i < stream.n; i++)
		r = add_document(m, &stream.docs[i], source, default_namespace, err);
	kube_stream_free(&stream);
	if (r < 0) { /* nothing added on error */
		while (m->n > n_before)
			object_clear(&m->objects[--m->n]);
		while (m->n_warnings > warnings_before) {
			free(m->warnings[--m->n_warnings]);
			m->warnings[m->n_warnings] = NULL;
		}
	}
	return r;
}

static int read_all(int fd, const char *source, char **out, size_t *len, berth_error **err)
{
	size_t cap = 8192, n = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (buf == NULL)
		return berth_error_set(err, ENOMEM, "%s", source);
	for (;;) {
		if (n == cap) {
			if (cap >= KUBE_MANIFEST_MAX_BYTES)
				return berth_error_request(err, EFBIG, "%s: larger than %u MiB", source,
							   KUBE_MANIFEST_MAX_BYTES >> 20);
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "%s", source);
			buf = grown;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return berth_error_set(err, errno, "read %s", source);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	*out = move_ptr(buf);
	return 0;
}

static int add_file(kube_manifest *m, const char *path, const char *default_namespace, berth_error **err)
{
	_cleanup_close_ int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open %s", path);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (read_all(fd, path, &text, &len, err) < 0)
		return -1;
	return kube_manifest_add_text(m, text, len, strcmp(path, "-") == 0 ? "stdin" : path, default_namespace, err);
}

static bool manifest_name(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.')
		return false;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

int kube_manifest_add_path(kube_manifest *m, const char *path, const char *default_namespace, berth_error **err)
{
	struct stat st;
	if (strcmp(path, "-") == 0)
		return add_file(m, path, default_namespace, err);
	if (stat(path, &st) < 0)
		return berth_error_set(err, errno, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return add_file(m, path, default_namespace, err);

	struct dirent **entries = NULL;
	int n = scandir(path, &entries, NULL, alphasort);
	if (n < 0)
		return berth_error_set(err, errno, "read directory %s", path);
	int r = 0;
	size_t found = 0;
	for (int i = 0; i < n; i++) {
		if (r == 0 && manifest_name(entries[i]->d_name)) {
			_cleanup_free_ char *file = NULL;
			if (asprintf(&file, "%s/%s", path, entries[i]->d_name) < 0)
				r = berth_error_set(err, ENOMEM, "path");
			else
				r = add_file(m, file, default_namespace, err);
			found++;
		}
		free(entries[i]);
	}
	free(entries);
	if (r == 0 && found == 0)
		return berth_error_request(err, ENOENT, "%s: no .yaml, .yml or .json files in the directory", path);
	return r;
}
