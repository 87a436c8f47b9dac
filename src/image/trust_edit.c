/* `berth image trust show|set`: the policy as podman's `image trust` shows
 * it, and edits of one scope that keep the rest of the file as it is (fields
 * berth does not understand included). */
#include "image/trust_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/json_read.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *show_type(trust_requirement_type t)
{
	switch (t) {
	case TRUST_INSECURE_ACCEPT_ANYTHING:
		return "accept";
	case TRUST_REJECT:
		return "reject";
	case TRUST_SIGNED_BY:
		return "signed";
	case TRUST_SIGSTORE_SIGNED:
		return "sigstoreSigned";
	}
	return "unknown";
}

/* One entry per requirement of SCOPE, as podman's `image trust show --json`. */
static int show_scope(json_t *out, const char *transport, const char *name, const char *repo_name,
		      const trust_scope *scope, const trust_registries *r)
{
	const trust_registry_config *c =
	    r && strcmp(transport, "repository") == 0 ? trust_registries_lookup(r, name) : NULL;

	for (size_t i = 0; i < scope->n_requirements; i++) {
		const trust_requirement *req = &scope->requirements[i];
		json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "transport", transport, "name", name, "repo_name",
				      repo_name, "type", show_type(req->type));
		json_t *keys = json_array();

		if (e == NULL || keys == NULL || json_array_append_new(out, e) < 0) {
			json_decref(keys);
			return -1;
		}
		for (char **k = req->key_paths; k && *k; k++)
			json_array_append_new(keys, json_string(*k));
		if (req->key_data)
			json_array_append_new(keys, json_string("(keyData)"));
		if (json_array_size(keys) > 0)
			json_object_set_new(e, "keys", keys);
		else
			json_decref(keys);
		if (req->type == TRUST_SIGNED_BY && c && c->lookaside)
			json_object_set_new(e, "sigstore", json_string(c->lookaside));
	}
	return 0;
}

json_t *trust_policy_show(const trust_policy *p, const trust_registries *r)
{
	json_t *out = json_array();

	if (out == NULL || show_scope(out, "all", "* (default)", "default", &p->default_scope, r) < 0) {
		json_decref(out);
		return NULL;
	}
	for (size_t t = 0; t < p->n_transports; t++) {
		const trust_transport *tr = &p->transports[t];
		bool docker = strcmp(tr->name, "docker") == 0;
		for (size_t s = 0; s < tr->n_scopes; s++) {
			const char *name = tr->scopes[s].scope[0] ? tr->scopes[s].scope : "* (default)";
			if (show_scope(out, docker ? "repository" : tr->name, name,
				       tr->scopes[s].scope[0] ? name : "default", &tr->scopes[s], r) < 0) {
				json_decref(out);
				return NULL;
			}
		}
	}
	return out;
}

/* The requirement list of `trust set`, checked by the policy parser. */
static json_t *requirements_for(const char *scope, const char *type, char *const *key_files, berth_error **err)
{
	_cleanup_json_ json_t *req = NULL, *check = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n = 0;
	trust_policy parsed;

	while (key_files && key_files[n])
		n++;
	if (strcmp(type, "accept") == 0 || strcmp(type, "insecureAcceptAnything") == 0)
		req = json_pack("{s:s}", "type", "insecureAcceptAnything");
	else if (strcmp(type, "reject") == 0)
		req = json_pack("{s:s}", "type", "reject");
	else if (strcmp(type, "signedBy") == 0 && n == 1)
		req = json_pack("{s:s, s:s, s:s}", "type", "signedBy", "keyType", "GPGKeys", "keyPath", key_files[0]);
	else if (strcmp(type, "signedBy") == 0 && n > 1) {
		json_t *paths = json_array();
		for (size_t i = 0; paths && i < n; i++)
			json_array_append_new(paths, json_string(key_files[i]));
		req = json_pack("{s:s, s:s, s:o}", "type", "signedBy", "keyType", "GPGKeys", "keyPaths", paths);
	} else if (strcmp(type, "sigstoreSigned") == 0 && n == 1)
		req = json_pack("{s:s, s:s}", "type", "sigstoreSigned", "keyPath", key_files[0]);
	else if (strcmp(type, "sigstoreSigned") == 0 && n > 1) {
		berth_error_request(err, EINVAL, "--type sigstoreSigned takes one --pubkeysfile");
		return NULL;
	} else if (strcmp(type, "signedBy") == 0 || strcmp(type, "sigstoreSigned") == 0) {
		berth_error_request(err, EINVAL, "--type %s needs --pubkeysfile", type);
		return NULL;
	} else {
		berth_error_request(err, EINVAL, "--type \"%s\": accept, reject, signedBy or sigstoreSigned", type);
		return NULL;
	}
	if (req == NULL) {
		berth_error_set(err, ENOMEM, "policy");
		return NULL;
	}
	if (n > 0 && json_string_value(json_object_get(req, "keyPath")) == NULL &&
	    json_object_get(req, "keyPaths") == NULL) {
		berth_error_request(err, EINVAL, "--type %s takes no --pubkeysfile", type);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (key_files[i][0] != '/') {
			berth_error_request(err, EINVAL, "--pubkeysfile \"%s\": not an absolute path", key_files[i]);
			return NULL;
		}
		if (stat(key_files[i], &st) < 0) {
			berth_error_set(err, errno, "--pubkeysfile \"%s\"", key_files[i]);
			return NULL;
		}
	}
	/* the scope and the requirement, through the parser pull uses */
	check = strcmp(scope, "default") == 0 ? json_pack("{s:[O]}", "default", req)
					      : json_pack("{s:[{s:s}], s:{s:{s:[O]}}}", "default", "type", "reject",
							  "transports", "docker", scope, req);
	text = check ? json_dumps(check, JSON_COMPACT) : NULL;
	if (text == NULL) {
		berth_error_set(err, ENOMEM, "policy");
		return NULL;
	}
	if (trust_policy_parse(text, strlen(text), "(the new entry)", &parsed, err) < 0)
		return NULL;
	trust_policy_free(&parsed);
	return json_pack("[O]", req);
}

/* ROOT[KEY] as an object, made when missing; PATH names it in errors. */
static json_t *object_member(json_t *root, const char *key, const char *path, const char *where, berth_error **err)
{
	json_t *o = json_object_get(root, key);

	if (o == NULL) {
		o = json_object();
		if (o == NULL || json_object_set_new(root, key, o) < 0) {
			berth_error_set(err, ENOMEM, "policy");
			return NULL;
		}
	}
	if (!json_is_object(o)) {
		berth_error_request(err, EINVAL, "policy \"%s\": %s: not an object", path, where);
		return NULL;
	}
	return o;
}

int trust_policy_set(const char *path, const char *scope, const char *type, char *const *key_files, berth_error **err)
{
	_cleanup_free_ char *text = NULL, *text_out = NULL, *out = NULL, *dir_copy = strdup(path),
			    *base_copy = strdup(path);
	_cleanup_json_ json_t *root = NULL, *reqs = NULL;
	_cleanup_close_ int dirfd = -1;
	json_error_t jerr;
	const char *dir, *name;
	json_t *target;
	struct stat st;
	size_t len = 0;
	mode_t mode = 0644;

	if (dir_copy == NULL || base_copy == NULL)
		return berth_error_set(err, ENOMEM, "policy");
	if ((reqs = requirements_for(scope, type, key_files, err)) == NULL)
		return berth_error_wrap(err, "scope \"%s\"", scope);
	if (fs_read_file(path, &text, &len, err) < 0) {
		if ((*err)->code != ENOENT)
			return -1;
		/* no file: what berth does without one, accept anything */
		berth_error_free(err);
		root = json_pack("{s:[{s:s}]}", "default", "type", "insecureAcceptAnything");
	} else if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		return berth_error_request(err, EINVAL, "policy \"%s\": line %d: %s", path, jerr.line, jerr.text);
	}
	if (root == NULL)
		return berth_error_set(err, ENOMEM, "policy");
	if (!json_is_object(root))
		return berth_error_request(err, EINVAL, "policy \"%s\": not a JSON object", path);
	if (strcmp(scope, "default") == 0)
		target = root;
	else if ((target = object_member(root, "transports", path, "transports", err)) == NULL ||
		 (target = object_member(target, "docker", path, "transports.docker", err)) == NULL)
		return -1;
	if (json_object_set(target, strcmp(scope, "default") == 0 ? "default" : scope, reqs) < 0 ||
	    (text_out = json_dumps(root, JSON_INDENT(4))) == NULL || asprintf(&out, "%s\n", text_out) < 0)
		return berth_error_set(err, ENOMEM, "policy");
	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	dir = dirname(dir_copy);
	name = basename(base_copy);
	if (fs_mkdir_p(dir, 0755, err) < 0)
		return -1;
	if ((dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0)
		return berth_error_set(err, errno, "policy \"%s\"", path);
	/* temp file, fsync, rename, then the directory's entry to disk */
	if (fs_write_file_atomic(dirfd, name, out, strlen(out), mode, err) < 0)
		return berth_error_wrap(err, "policy \"%s\"", path);
	if (fsync(dirfd) < 0)
		return berth_error_set(err, errno, "policy \"%s\"", path);
	return 0;
}
