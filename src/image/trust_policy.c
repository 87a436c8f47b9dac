/* containers-policy.json: parse, validate, find the scope of an image. */
#include "image/trust.h"

#include <errno.h>
#include <jansson.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/reference.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define POLICY_MAX_SIZE (4u << 20)

/* Transports containers/image knows; berth evaluates "docker" (pull, run)
 * and the archive ones (load), the others are validated and kept. */
static const char *const known_transports[] = {
	"atomic", "containers-storage", "dir",	  "docker", "docker-archive", "docker-daemon",
	"oci",	  "oci-archive",	"ostree", "sif",    "tarball",	      NULL,
};

typedef struct parse_ctx {
	const char *origin;
	berth_error **err;
} parse_ctx;

static int fail(parse_ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parse_ctx *c, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return berth_error_request(c->err, EINVAL, "policy \"%s\": %s: %s", c->origin, path, msg ? msg : "invalid");
}

const char *trust_requirement_type_name(trust_requirement_type t)
{
	switch (t) {
	case TRUST_INSECURE_ACCEPT_ANYTHING:
		return "insecureAcceptAnything";
	case TRUST_REJECT:
		return "reject";
	case TRUST_SIGNED_BY:
		return "signedBy";
	case TRUST_SIGSTORE_SIGNED:
		return "sigstoreSigned";
	}
	return "?";
}

/* Every key of OBJ must be one of ALLOWED (NULL-terminated). */
static int only_fields(parse_ctx *c, const char *path, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(key, *a) == 0;
		if (!ok)
			return fail(c, path, "unknown field \"%s\"", key);
	}
	return 0;
}

static int string_field(parse_ctx *c, const char *path, json_t *obj, const char *key, bool required, char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return required ? fail(c, path, "missing \"%s\"", key) : 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return fail(c, path, "\"%s\" must be a non-empty string", key);
	*out = strdup(json_string_value(v));
	return *out ? 0 : berth_error_set(c->err, ENOMEM, "policy");
}

/* A docker reference in fully expanded form: "host/repo:tag" or
 * "host/repo@digest" (WITH_TAG), or "host/repo" (!WITH_TAG). */
static bool expanded_reference(const char *text, bool with_tag)
{
	image_ref ref = { 0 };
	berth_error *e = NULL;
	_cleanup_free_ char *again = NULL;
	bool ok;

	if (image_ref_parse(text, &ref, &e) < 0) {
		berth_error_free(&e);
		return false;
	}
	if (with_tag)
		again = image_ref_name(&ref);
	else if (ref.digest == NULL && strcmp(ref.tag, "latest") == 0 && strstr(text, ":latest") == NULL)
		again = image_ref_repository(&ref);
	ok = again && strcmp(again, text) == 0;
	image_ref_free(&ref);
	return ok;
}

/* A host[:port], a namespace or a repository, in fully expanded form: the
 * prefixes of remapIdentity and the scopes of the docker transport. */
static bool expanded_prefix(const char *text)
{
	_cleanup_free_ char *probe = NULL;

	/* two more components make any prefix a repository that normalisation
	 * leaves alone ("docker.io/x" would become "docker.io/library/x") */
	if (asprintf(&probe, "%s/x/y", text) < 0)
		return false;
	return expanded_reference(probe, false);
}

static bool valid_docker_scope(const char *scope)
{
	if (scope[0] == '\0')
		return true;
	if (strncmp(scope, "*.", 2) == 0) {
		/* a wildcarded domain: "*.example.com", no other '*' */
		return strchr(scope + 2, '*') == NULL && strchr(scope + 2, '/') == NULL && scope[2] != '\0' &&
		       expanded_prefix(scope + 2);
	}
	const char *last = strrchr(scope, '/');
	if (strchr(scope, '@') || (last && strchr(last, ':')))
		return expanded_reference(scope, true); /* one image */
	return expanded_prefix(scope);
}

static int parse_identity(parse_ctx *c, const char *path, json_t *obj, trust_identity *out)
{
	static const char *const base[] = { "type", NULL };
	static const char *const ref_fields[] = { "type", "dockerReference", NULL };
	static const char *const repo_fields[] = { "type", "dockerRepository", NULL };
	static const char *const remap_fields[] = { "type", "prefix", "signedPrefix", NULL };
	_cleanup_free_ char *p = NULL;
	const char *type;

	if (asprintf(&p, "%s.signedIdentity", path) < 0)
		return berth_error_set(c->err, ENOMEM, "policy");
	if (!json_is_object(obj))
		return fail(c, p, "must be an object");
	type = json_string_value(json_object_get(obj, "type"));
	if (type == NULL)
		return fail(c, p, "missing \"type\"");
	if (strcmp(type, "matchExact") == 0 || strcmp(type, "matchRepoDigestOrExact") == 0 ||
	    strcmp(type, "matchRepository") == 0) {
		if (strcmp(type, "matchExact") == 0)
			out->type = TRUST_MATCH_EXACT;
		else if (strcmp(type, "matchRepository") == 0)
			out->type = TRUST_MATCH_REPOSITORY;
		else
			out->type = TRUST_MATCH_REPO_DIGEST_OR_EXACT;
		return only_fields(c, p, obj, base);
	}
	if (strcmp(type, "exactReference") == 0) {
		out->type = TRUST_EXACT_REFERENCE;
		if (only_fields(c, p, obj, ref_fields) < 0 ||
		    string_field(c, p, obj, "dockerReference", true, &out->reference) < 0)
			return -1;
		if (!expanded_reference(out->reference, true))
			return fail(c, p,
				    "dockerReference \"%s\" is not a fully expanded reference with a tag or digest",
				    out->reference);
		return 0;
	}
	if (strcmp(type, "exactRepository") == 0) {
		out->type = TRUST_EXACT_REPOSITORY;
		if (only_fields(c, p, obj, repo_fields) < 0 ||
		    string_field(c, p, obj, "dockerRepository", true, &out->reference) < 0)
			return -1;
		if (!expanded_reference(out->reference, false))
			return fail(c, p, "dockerRepository \"%s\" is not a fully expanded repository", out->reference);
		return 0;
	}
	if (strcmp(type, "remapIdentity") == 0) {
		out->type = TRUST_REMAP_IDENTITY;
		if (only_fields(c, p, obj, remap_fields) < 0 ||
		    string_field(c, p, obj, "prefix", true, &out->prefix) < 0 ||
		    string_field(c, p, obj, "signedPrefix", true, &out->signed_prefix) < 0)
			return -1;
		if (!expanded_prefix(out->prefix))
			return fail(c, p, "prefix \"%s\" is not a host, namespace or repository", out->prefix);
		if (!expanded_prefix(out->signed_prefix))
			return fail(c, p, "signedPrefix \"%s\" is not a host, namespace or repository",
				    out->signed_prefix);
		return 0;
	}
	return fail(c, p, "unknown identity type \"%s\"", type);
}

static int parse_key_data(parse_ctx *c, const char *path, const char *text, trust_requirement *out)
{
	size_t cap = strlen(text) * 3 / 4 + 4;
	int n;

	out->key_data = malloc(cap);
	if (out->key_data == NULL)
		return berth_error_set(c->err, ENOMEM, "policy");
	n = b64_pton(text, out->key_data, cap);
	if (n <= 0)
		return fail(c, path, "keyData is not base64");
	out->key_data_len = (size_t)n;
	return 0;
}

/* keyPath, keyPaths (ALLOW_PATHS) and keyData: exactly one. */
static int parse_keys(parse_ctx *c, const char *path, json_t *obj, bool allow_paths, trust_requirement *out)
{
	json_t *key_path = json_object_get(obj, "keyPath"), *key_paths = json_object_get(obj, "keyPaths");
	json_t *key_data = json_object_get(obj, "keyData");
	size_t i, n = (key_path != NULL) + (allow_paths && key_paths != NULL) + (key_data != NULL);
	json_t *v;

	if (n != 1)
		return fail(c, path, "exactly one of keyPath, %skeyData is required", allow_paths ? "keyPaths, " : "");
	if (key_data) {
		if (!json_is_string(key_data))
			return fail(c, path, "keyData must be a string");
		return parse_key_data(c, path, json_string_value(key_data), out);
	}
	if (key_path) {
		if (!json_is_string(key_path) || json_string_length(key_path) == 0)
			return fail(c, path, "keyPath must be a non-empty string");
		key_paths = NULL;
	} else if (!json_is_array(key_paths) || json_array_size(key_paths) == 0) {
		return fail(c, path, "keyPaths must be a non-empty array of strings");
	}
	n = key_path ? 1 : json_array_size(key_paths);
	out->key_paths = calloc(n + 1, sizeof(char *));
	if (out->key_paths == NULL)
		return berth_error_set(c->err, ENOMEM, "policy");
	if (key_path)
		out->key_paths[0] = strdup(json_string_value(key_path));
	json_array_foreach(key_paths, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return fail(c, path, "keyPaths[%zu] must be a non-empty string", i);
		out->key_paths[i] = strdup(json_string_value(v));
	}
	for (i = 0; i < n; i++)
		if (out->key_paths[i] == NULL)
			return berth_error_set(c->err, ENOMEM, "policy");
	return 0;
}

static int parse_requirement(parse_ctx *c, const char *path, json_t *obj, trust_requirement *out)
{
	static const char *const simple[] = { "type", NULL };
	static const char *const signed_by[] = { "type",    "keyType",	      "keyPath", "keyPaths",
						 "keyData", "signedIdentity", NULL };
	static const char *const sigstore[] = { "type", "keyPath", "keyData", "signedIdentity", NULL };
	const char *type;
	json_t *identity;

	if (!json_is_object(obj))
		return fail(c, path, "must be an object");
	type = json_string_value(json_object_get(obj, "type"));
	if (type == NULL)
		return fail(c, path, "missing \"type\"");
	if (strcmp(type, "insecureAcceptAnything") == 0 || strcmp(type, "reject") == 0) {
		out->type = type[0] == 'r' ? TRUST_REJECT : TRUST_INSECURE_ACCEPT_ANYTHING;
		return only_fields(c, path, obj, simple);
	}
	if (strcmp(type, "signedBy") == 0) {
		json_t *key_type = json_object_get(obj, "keyType");
		out->type = TRUST_SIGNED_BY;
		if (only_fields(c, path, obj, signed_by) < 0)
			return -1;
		if (!json_is_string(key_type) || strcmp(json_string_value(key_type), "GPGKeys") != 0)
			return fail(c, path, "keyType must be \"GPGKeys\" (the only one supported)");
		if (parse_keys(c, path, obj, true, out) < 0)
			return -1;
	} else if (strcmp(type, "sigstoreSigned") == 0) {
		out->type = TRUST_SIGSTORE_SIGNED;
		if (only_fields(c, path, obj, sigstore) < 0 || parse_keys(c, path, obj, false, out) < 0)
			return -1;
	} else {
		return fail(c, path, "unknown requirement type \"%s\"", type);
	}
	identity = json_object_get(obj, "signedIdentity");
	if (identity == NULL) {
		out->identity.type = TRUST_MATCH_REPO_DIGEST_OR_EXACT;
		return 0;
	}
	return parse_identity(c, path, identity, &out->identity);
}

static int parse_requirements(parse_ctx *c, const char *path, json_t *arr, trust_scope *out)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return fail(c, path, "must be a non-empty array of requirements");
	out->requirements = calloc(json_array_size(arr), sizeof(*out->requirements));
	if (out->requirements == NULL)
		return berth_error_set(c->err, ENOMEM, "policy");
	json_array_foreach(arr, i, v) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s[%zu]", path, i) < 0)
			return berth_error_set(c->err, ENOMEM, "policy");
		out->n_requirements++;
		if (parse_requirement(c, p, v, &out->requirements[i]) < 0)
			return -1;
	}
	return 0;
}

static int parse_transport(parse_ctx *c, const char *name, json_t *obj, trust_transport *out)
{
	_cleanup_free_ char *path = NULL;
	const char *scope;
	bool known = false;
	json_t *v;

	if (asprintf(&path, "transports.%s", name) < 0 || (out->name = strdup(name)) == NULL)
		return berth_error_set(c->err, ENOMEM, "policy");
	for (const char *const *t = known_transports; *t && !known; t++)
		known = strcmp(*t, name) == 0;
	if (!known)
		return fail(c, path, "unknown transport");
	if (!json_is_object(obj))
		return fail(c, path, "must be an object of scopes");
	out->scopes = calloc(json_object_size(obj) + 1, sizeof(*out->scopes));
	if (out->scopes == NULL)
		return berth_error_set(c->err, ENOMEM, "policy");
	json_object_foreach(obj, scope, v) {
		_cleanup_free_ char *p = NULL;
		trust_scope *s = &out->scopes[out->n_scopes++];
		if (asprintf(&p, "%s[\"%s\"]", path, scope) < 0 || (s->scope = strdup(scope)) == NULL)
			return berth_error_set(c->err, ENOMEM, "policy");
		if (strcmp(name, "docker") == 0 && !valid_docker_scope(scope))
			return fail(c, p,
				    "invalid scope: not a fully expanded reference, repository, namespace or host");
		if (parse_requirements(c, p, v, s) < 0)
			return -1;
	}
	return 0;
}

int trust_policy_parse(const char *text, size_t len, const char *origin, trust_policy *out, berth_error **err)
{
	static const char *const top[] = { "default", "transports", NULL };
	parse_ctx c = { .origin = origin, .err = err };
	json_error_t jerr;
	json_t *root, *transports;
	const char *name;
	json_t *v;
	int ret = -1;

	*out = (trust_policy){ 0 };
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return berth_error_request(err, EINVAL, "policy \"%s\": line %d: %s", origin, jerr.line, jerr.text);
	if (!json_is_object(root)) {
		fail(&c, "(root)", "must be an object");
		goto out;
	}
	if (only_fields(&c, "(root)", root, top) < 0)
		goto out;
	if (json_object_get(root, "default") == NULL) {
		fail(&c, "default", "missing (the global default requirements are mandatory)");
		goto out;
	}
	if (parse_requirements(&c, "default", json_object_get(root, "default"), &out->default_scope) < 0)
		goto out;
	transports = json_object_get(root, "transports");
	if (transports && !json_is_object(transports)) {
		fail(&c, "transports", "must be an object");
		goto out;
	}
	out->transports = calloc(json_object_size(transports) + 1, sizeof(*out->transports));
	if (out->transports == NULL) {
		berth_error_set(err, ENOMEM, "policy");
		goto out;
	}
	json_object_foreach(transports, name, v) {
		if (parse_transport(&c, name, v, &out->transports[out->n_transports++]) < 0)
			goto out;
	}
	ret = 0;
out:
	json_decref(root);
	if (ret < 0)
		trust_policy_free(out);
	return ret;
}

static char *user_policy_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *path = NULL;

	if (xdg && xdg[0] == '/')
		return asprintf(&path, "%s/containers/policy.json", xdg) < 0 ? NULL : path;
	if (home && home[0] == '/')
		return asprintf(&path, "%s/.config/containers/policy.json", home) < 0 ? NULL : path;
	return NULL;
}

char *trust_policy_path(const char *override, bool rootless)
{
	_cleanup_free_ char *user = rootless && override == NULL ? user_policy_path() : NULL;

	if (override)
		return strdup(override);
	if (user && access(user, F_OK) == 0)
		return move_ptr(user);
	return strdup(TRUST_SYSTEM_POLICY);
}

int trust_policy_load(const char *override, bool rootless, trust_policy *out, berth_error **err)
{
	_cleanup_free_ char *path = trust_policy_path(override, rootless), *text = NULL;
	size_t len = 0;

	*out = (trust_policy){ 0 };
	if (path == NULL)
		return berth_error_set(err, ENOMEM, "policy");
	if (fs_read_file(path, &text, &len, err) < 0) {
		if (override == NULL && (*err)->code == ENOENT) {
			/* no policy on this host: accept anything, like containers/image built without one */
			berth_error_free(err);
			out->default_scope.requirements = calloc(1, sizeof(trust_requirement));
			if (out->default_scope.requirements == NULL)
				return berth_error_set(err, ENOMEM, "policy");
			out->default_scope.n_requirements = 1;
			return 0;
		}
		return berth_error_wrap(err, "signature policy");
	}
	if (len > POLICY_MAX_SIZE)
		return berth_error_request(err, EFBIG, "policy \"%s\": larger than %u bytes", path, POLICY_MAX_SIZE);
	if (trust_policy_parse(text, len, path, out, err) < 0)
		return -1;
	out->path = strdup(path);
	if (out->path == NULL) {
		trust_policy_free(out);
		return berth_error_set(err, ENOMEM, "policy");
	}
	return 0;
}

static void scope_free(trust_scope *s)
{
	for (size_t i = 0; i < s->n_requirements; i++) {
		trust_requirement *r = &s->requirements[i];
		for (char **k = r->key_paths; k && *k; k++)
			free(*k);
		free(r->key_paths);
		free(r->key_data);
		free(r->identity.reference);
		free(r->identity.prefix);
		free(r->identity.signed_prefix);
	}
	free(s->requirements);
	free(s->scope);
}

void trust_policy_free(trust_policy *p)
{
	scope_free(&p->default_scope);
	for (size_t i = 0; i < p->n_transports; i++) {
		for (size_t j = 0; j < p->transports[i].n_scopes; j++)
			scope_free(&p->transports[i].scopes[j]);
		free(p->transports[i].scopes);
		free(p->transports[i].name);
	}
	free(p->transports);
	free(p->path);
	*p = (trust_policy){ 0 };
}

static const trust_scope *find_scope(const trust_transport *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n_scopes; i++)
		if (strlen(t->scopes[i].scope) == len && strncmp(t->scopes[i].scope, name, len) == 0)
			return &t->scopes[i];
	return NULL;
}

static const trust_scope *docker_scope(const trust_transport *t, const char *identity)
{
	_cleanup_strv_ char **candidates = trust_identity_namespaces(identity);

	for (char **c = candidates; c && *c; c++) {
		const trust_scope *s = find_scope(t, *c, strlen(*c));
		if (s)
			return s;
	}
	return NULL;
}

const trust_scope *trust_policy_lookup(const trust_policy *p, const char *transport, const char *identity,
				       const char **scope_out)
{
	const trust_scope *s = NULL;

	for (size_t i = 0; i < p->n_transports && s == NULL; i++) {
		const trust_transport *t = &p->transports[i];
		if (strcmp(t->name, transport) != 0)
			continue;
		if (identity && identity[0] && strcmp(transport, "docker") == 0)
			s = docker_scope(t, identity);
		if (s == NULL)
			s = find_scope(t, "", 0);
	}
	if (scope_out)
		*scope_out = s ? s->scope : NULL;
	return s ? s : &p->default_scope;
}

bool trust_scope_needs_signatures(const trust_scope *scope)
{
	bool needs = false;

	for (size_t i = 0; i < scope->n_requirements; i++) {
		if (scope->requirements[i].type == TRUST_REJECT)
			return false;
		needs |= scope->requirements[i].type == TRUST_SIGNED_BY ||
			 scope->requirements[i].type == TRUST_SIGSTORE_SIGNED;
	}
	return needs;
}

char *trust_policy_describe(bool rootless)
{
	berth_error *err = NULL;
	trust_policy p;
	char *out = NULL;

	if (trust_policy_load(NULL, rootless, &p, &err) < 0) {
		if (asprintf(&out, "invalid: %s", err->msg) < 0)
			out = NULL;
		berth_error_free(&err);
		return out;
	}
	out = strdup(p.path ? p.path : "none (accept anything)");
	trust_policy_free(&p);
	return out;
}
