/* registries.d (containers-registries.d(5)): where the signatures of a
 * registry, namespace or repository live. YAML through libyaml, opened with
 * dlopen when a command first needs it (like libcurl and gpgme). */
#include "image/trust_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <yaml.h>

#include "image/reference.h"
#include "util/cleanup.h"
#include "util/dlib.h"
#include "util/fs.h"

#define SYSTEM_REGISTRIES_D "/etc/containers/registries.d"
#define SYSTEM_LOOKASIDE    "file:///var/lib/containers/sigstore"
#define CONFIG_MAX_SIZE	    (1u << 20)

static struct {
	__typeof__(&yaml_parser_initialize) parser_initialize;
	__typeof__(&yaml_parser_set_input_string) parser_set_input_string;
	__typeof__(&yaml_parser_load) parser_load;
	__typeof__(&yaml_parser_delete) parser_delete;
	__typeof__(&yaml_document_get_root_node) document_get_root_node;
	__typeof__(&yaml_document_get_node) document_get_node;
	__typeof__(&yaml_document_delete) document_delete;
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static bool loaded;

static void load(void)
{
	const dlib_symbol symbols[] = {
		{ "yaml_parser_initialize", (void **)&lib.parser_initialize },
		{ "yaml_parser_set_input_string", (void **)&lib.parser_set_input_string },
		{ "yaml_parser_load", (void **)&lib.parser_load },
		{ "yaml_parser_delete", (void **)&lib.parser_delete },
		{ "yaml_document_get_root_node", (void **)&lib.document_get_root_node },
		{ "yaml_document_get_node", (void **)&lib.document_get_node },
		{ "yaml_document_delete", (void **)&lib.document_delete },
	};

	loaded = dlib_open("libyaml-0.so.2", "libyaml-0-2", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
			   sizeof(load_error)) == 0;
}

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
	(void)doc;
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int yaml_fail(berth_error **err, const char *origin, const yaml_node_t *n, const char *what)
{
	return berth_error_request(err, EINVAL, "registries.d \"%s\": line %zu: %s", origin,
				   n ? n->start_mark.line + 1 : 0, what);
}

static int set_string(char **slot, const char *value, berth_error **err)
{
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : berth_error_set(err, ENOMEM, "registries.d");
}

/* A section: lookaside, lookaside-staging, use-sigstore-attachments (and
 * the older names sigstore, sigstore-staging). Other keys are ignored. */
static int parse_section(yaml_document_t *doc, yaml_node_t *n, const char *origin, trust_registry_config *out,
			 berth_error **err)
{
	if (n->type == YAML_SCALAR_NODE && scalar(doc, n)[0] == '\0')
		return 0; /* "scope:" with nothing under it */
	if (n->type != YAML_MAPPING_NODE)
		return yaml_fail(err, origin, n, "a section must be a mapping");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		const char *key = scalar(doc, lib.document_get_node(doc, p->key));
		yaml_node_t *vn = lib.document_get_node(doc, p->value);
		const char *value = scalar(doc, vn);
		int ret = 0;

		if (key == NULL || value == NULL)
			return yaml_fail(err, origin, vn, "section keys and values must be scalars");
		if (strcmp(key, "lookaside") == 0 || strcmp(key, "sigstore") == 0)
			ret = set_string(&out->lookaside, value, err);
		else if (strcmp(key, "lookaside-staging") == 0 || strcmp(key, "sigstore-staging") == 0)
			ret = set_string(&out->lookaside_staging, value, err);
		else if (strcmp(key, "use-sigstore-attachments") == 0) {
			if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
				return yaml_fail(err, origin, vn, "use-sigstore-attachments must be true or false");
			out->use_sigstore_attachments = strcmp(value, "true") == 0;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int add_scope(trust_registries *r, const char *scope, yaml_document_t *doc, yaml_node_t *n, const char *origin,
		     berth_error **err)
{
	char **scopes;
	trust_registry_config *configs;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->scopes[i], scope) == 0)
			return yaml_fail(err, origin, n, "this scope is configured more than once");
	scopes = realloc(r->scopes, (r->n + 1) * sizeof(*scopes));
	if (scopes)
		r->scopes = scopes;
	configs = scopes ? realloc(r->configs, (r->n + 1) * sizeof(*configs)) : NULL;
	if (configs == NULL)
		return berth_error_set(err, ENOMEM, "registries.d");
	r->configs = configs;
	r->configs[r->n] = (trust_registry_config){ 0 };
	if ((r->scopes[r->n] = strdup(scope)) == NULL)
		return berth_error_set(err, ENOMEM, "registries.d");
	r->n++;
	return parse_section(doc, n, origin, &r->configs[r->n - 1], err);
}

static int parse_document(yaml_document_t *doc, const char *origin, trust_registries *r, berth_error **err)
{
	yaml_node_t *root = lib.document_get_root_node(doc);

	if (root == NULL || (root->type == YAML_SCALAR_NODE && scalar(doc, root)[0] == '\0'))
		return 0; /* an empty file */
	if (root->type != YAML_MAPPING_NODE)
		return yaml_fail(err, origin, root, "the top level must be a mapping");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *key = scalar(doc, lib.document_get_node(doc, p->key));
		yaml_node_t *v = lib.document_get_node(doc, p->value);

		if (key && strcmp(key, "default-docker") == 0) {
			if (r->has_default_docker)
				return yaml_fail(err, origin, v, "default-docker is configured more than once");
			r->has_default_docker = true;
			if (parse_section(doc, v, origin, &r->default_docker, err) < 0)
				return -1;
		} else if (key && strcmp(key, "docker") == 0) {
			if (v->type != YAML_MAPPING_NODE)
				return yaml_fail(err, origin, v, "docker must be a mapping of scopes");
			for (yaml_node_pair_t *s = v->data.mapping.pairs.start; s < v->data.mapping.pairs.top; s++) {
				const char *scope = scalar(doc, lib.document_get_node(doc, s->key));
				if (scope == NULL)
					return yaml_fail(err, origin, v, "a scope must be a string");
				if (add_scope(r, scope, doc, lib.document_get_node(doc, s->value), origin, err) < 0)
					return -1;
			}
		}
	}
	return 0;
}

int trust_registries_parse(const char *text, size_t len, const char *origin, trust_registries *into, berth_error **err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int ret;

	pthread_once(&load_once, load);
	if (!loaded)
		return berth_error_request(err, ENOTSUP, "registries.d \"%s\": %s", origin, load_error);
	if (!lib.parser_initialize(&parser))
		return berth_error_set(err, ENOMEM, "registries.d");
	lib.parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!lib.parser_load(&parser, &doc)) {
		ret =
		    berth_error_request(err, EINVAL, "registries.d \"%s\": line %zu: %s", origin,
					parser.problem_mark.line + 1, parser.problem ? parser.problem : "invalid YAML");
		lib.parser_delete(&parser);
		return ret;
	}
	ret = parse_document(&doc, origin, into, err);
	lib.document_delete(&doc);
	lib.parser_delete(&parser);
	return ret;
}

static bool has_yaml_suffix(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int trust_registries_load(const char *dir, bool rootless, trust_registries *out, berth_error **err)
{
	_cleanup_free_ char *user = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	const char *home = getenv("HOME");

	*out = (trust_registries){ 0 };
	if (dir == NULL && rootless && home && home[0] == '/' &&
	    asprintf(&user, "%s/.config/containers/registries.d", home) >= 0 && access(user, F_OK) == 0)
		dir = user;
	if (dir == NULL)
		dir = SYSTEM_REGISTRIES_D;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "registries.d \"%s\"", dir);
	while ((e = readdir(d))) {
		char **grown;
		if (!has_yaml_suffix(e->d_name))
			continue;
		grown = realloc(names, (n + 2) * sizeof(char *));
		if (grown == NULL)
			return berth_error_set(err, ENOMEM, "registries.d");
		names = grown;
		names[n + 1] = NULL;
		if ((names[n] = strdup(e->d_name)) == NULL)
			return berth_error_set(err, ENOMEM, "registries.d");
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(char *), compare_names);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = fs_path_join(dir, names[i]), *text = NULL;
		size_t len = 0;
		if (path == NULL)
			return berth_error_set(err, ENOMEM, "registries.d");
		if (fs_read_file(path, &text, &len, err) < 0 ||
		    (len > CONFIG_MAX_SIZE &&
		     berth_error_request(err, EFBIG, "registries.d \"%s\": too large", path)) ||
		    trust_registries_parse(text, len, path, out, err) < 0) {
			trust_registries_free(out);
			return -1;
		}
	}
	return 0;
}

static void config_free(trust_registry_config *c)
{
	free(c->lookaside);
	free(c->lookaside_staging);
}

void trust_registries_free(trust_registries *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->scopes[i]);
		config_free(&r->configs[i]);
	}
	free(r->scopes);
	free(r->configs);
	config_free(&r->default_docker);
	*r = (trust_registries){ 0 };
}

const trust_registry_config *trust_registries_lookup(const trust_registries *r, const char *identity)
{
	_cleanup_strv_ char **candidates = trust_identity_namespaces(identity);

	for (char **c = candidates; c && *c; c++)
		for (size_t i = 0; i < r->n; i++)
			if (strcmp(r->scopes[i], *c) == 0)
				return &r->configs[i];
	return r->has_default_docker ? &r->default_docker : NULL;
}

char *trust_lookaside_base(const trust_registries *r, const char *identity, bool write, bool rootless,
			   berth_error **err)
{
	const trust_registry_config *c = trust_registries_lookup(r, identity);
	_cleanup_free_ char *builtin = NULL;
	const char *top = NULL, *home = getenv("HOME");
	image_ref ref = { 0 };
	char *out = NULL;

	if (c)
		top = write && c->lookaside_staging ? c->lookaside_staging : c->lookaside;
	if (top == NULL) {
		if (rootless && home && home[0] == '/') {
			if (asprintf(&builtin, "file://%s/.local/share/containers/sigstore", home) < 0)
				builtin = NULL;
			top = builtin;
		} else {
			top = SYSTEM_LOOKASIDE;
		}
	}
	if (top == NULL || image_ref_parse(identity, &ref, err) < 0)
		return top ? NULL : (berth_error_set(err, ENOMEM, "lookaside"), NULL);
	/* the repository's path without the host: "library/busybox" */
	if (asprintf(&out, "%s%s%s", top, top[0] && top[strlen(top) - 1] == '/' ? "" : "/", ref.path) < 0) {
		out = NULL;
		berth_error_set(err, ENOMEM, "lookaside");
	}
	image_ref_free(&ref);
	return out;
}
