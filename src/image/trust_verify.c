/* Evaluating a policy scope against an image's signatures, and the checks
 * pull makes before anything of the image reaches the store. */
#include "image/trust_internal.h"

#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

int trust_signatures_add(trust_signatures *s, const char *data, size_t len, berth_error **err)
{
	char **data_grown;
	size_t *len_grown;

	if (s->n >= TRUST_SIGNATURES_MAX)
		return berth_error_request(err, E2BIG, "more than %d signatures", TRUST_SIGNATURES_MAX);
	data_grown = realloc(s->data, (s->n + 1) * sizeof(char *));
	if (data_grown)
		s->data = data_grown;
	len_grown = data_grown ? realloc(s->len, (s->n + 1) * sizeof(size_t)) : NULL;
	if (len_grown == NULL)
		return berth_error_set(err, ENOMEM, "signatures");
	s->len = len_grown;
	s->data[s->n] = malloc(len ? len : 1);
	if (s->data[s->n] == NULL)
		return berth_error_set(err, ENOMEM, "signatures");
	memcpy(s->data[s->n], data, len);
	s->len[s->n++] = len;
	return 0;
}

int trust_signatures_add_sigstore(trust_signatures *s, const char *payload, size_t len, const char *signature,
				  berth_error **err)
{
	trust_sigstore_signature *grown, *n;

	if (s->n_sigstore >= TRUST_SIGNATURES_MAX)
		return berth_error_request(err, E2BIG, "more than %d sigstore signatures", TRUST_SIGNATURES_MAX);
	grown = realloc(s->sigstore, (s->n_sigstore + 1) * sizeof(*grown));
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "signatures");
	s->sigstore = grown;
	n = &s->sigstore[s->n_sigstore];
	n->payload = malloc(len + 1);
	n->signature = strdup(signature);
	if (n->payload == NULL || n->signature == NULL) {
		free(n->payload);
		free(n->signature);
		return berth_error_set(err, ENOMEM, "signatures");
	}
	memcpy(n->payload, payload, len);
	n->payload[len] = '\0';
	n->payload_len = len;
	s->n_sigstore++;
	return 0;
}

void trust_signatures_free(trust_signatures *s)
{
	for (size_t i = 0; i < s->n_sigstore; i++) {
		free(s->sigstore[i].payload);
		free(s->sigstore[i].signature);
	}
	free(s->sigstore);
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	free(s->data);
	free(s->len);
	*s = (trust_signatures){ 0 };
}

static int payload_check(const trust_requirement *req, const char *identity, const char *digest, const char *payload,
			 size_t len, const char *type, berth_error **err);

/* What SIG signs, when it was made by a key of KEYS: a result kept in
 * CACHE_DIR, else librnp's (the key ring *G opened on first need), then kept. */
static int gpg_payload(const trust_keys *keys, const char *cache_dir, trust_openpgp **g, const char *sig, size_t len,
		       char **payload, size_t *plen, berth_error **err)
{
	long long not_after = 0;

	if (cache_dir && trust_verified_lookup(cache_dir, keys->digest, sig, len, payload, plen) == 1)
		return 0;
	if (*g == NULL && trust_openpgp_open_keyring(keys, g, err) < 0)
		return -2; /* no key ring: no signature can verify */
	if (trust_openpgp_verify(*g, sig, len, payload, plen, &not_after, err) < 0)
		return -1;
	if (cache_dir)
		trust_verified_save(cache_dir, keys->digest, sig, len, *payload, *plen, not_after);
	return 0;
}

static int signed_by(const trust_requirement *req, const char *cache_dir, const char *identity, const char *digest,
		     const trust_signatures *sigs, berth_error **err)
{
	_cleanup_free_ char *reasons = NULL;
	trust_keys keys;
	trust_openpgp *g = NULL;
	int ret = -1;

	if (sigs->n == 0)
		return berth_error_request(err, EPERM, "the image has no signature");
	if (trust_keys_read(req, &keys, err) < 0)
		return -1;
	for (size_t i = 0; i < sigs->n && ret < 0; i++) {
		_cleanup_free_ char *payload = NULL;
		berth_error *e = NULL;
		size_t plen = 0;
		ret = gpg_payload(&keys, cache_dir, &g, sigs->data[i], sigs->len[i], &payload, &plen, &e);
		if (ret == -2) {
			trust_keys_free(&keys);
			*err = e;
			return -1;
		}
		if (ret == 0)
			ret = payload_check(req, identity, digest, payload, plen, TRUST_PAYLOAD_SIMPLE, &e);
		if (ret < 0) {
			char *more = NULL;
			if (asprintf(&more, "%s%ssignature %zu: %s", reasons ? reasons : "", reasons ? "; " : "", i + 1,
				     e->msg) >= 0) {
				free(reasons);
				reasons = more;
			}
			berth_error_free(&e);
		}
	}
	trust_openpgp_close(g);
	trust_keys_free(&keys);
	if (ret < 0)
		return berth_error_request(err, EPERM, "no signature accepted: %s", reasons ? reasons : "");
	return 0;
}

/* The payload's digest and identity against the image and the rule. */
static int payload_check(const trust_requirement *req, const char *identity, const char *digest, const char *payload,
			 size_t len, const char *type, berth_error **err)
{
	trust_payload p;
	int ret = 0;

	if (trust_payload_parse(payload, len, type, &p, err) < 0)
		return -1;
	if (strcmp(p.manifest_digest, digest) != 0)
		ret = berth_error_request(err, EPERM, "signed manifest %s, not %s", p.manifest_digest, digest);
	else if (!trust_identity_matches(&req->identity, identity, p.docker_reference))
		ret = berth_error_request(err, EPERM, "signed identity \"%s\" does not match \"%s\"",
					  p.docker_reference, identity);
	trust_payload_free(&p);
	return ret;
}

static int sigstore_one(const trust_requirement *req, const char *key, size_t key_len, const char *identity,
			const char *digest, const trust_sigstore_signature *s, berth_error **err)
{
	size_t cap = strlen(s->signature) * 3 / 4 + 4;
	_cleanup_free_ unsigned char *raw = malloc(cap);
	int n;

	if (raw == NULL)
		return berth_error_set(err, ENOMEM, "signature");
	n = b64_pton(s->signature, raw, cap);
	if (n <= 0)
		return berth_error_request(err, EBADMSG, "the signature annotation is not base64");
	if (trust_sigstore_verify_raw(key, key_len, s->payload, s->payload_len, raw, (size_t)n, err) < 0)
		return -1;
	return payload_check(req, identity, digest, s->payload, s->payload_len, TRUST_PAYLOAD_SIGSTORE, err);
}

static int sigstore_signed(const trust_requirement *req, const char *identity, const char *digest,
			   const trust_signatures *sigs, berth_error **err)
{
	_cleanup_free_ char *file = NULL, *reasons = NULL;
	const char *key = (const char *)req->key_data;
	size_t key_len = req->key_data_len;
	int ret = -1;

	if (sigs->n_sigstore == 0)
		return berth_error_request(err, EPERM,
					   "the image has no sigstore signature (registries.d must enable "
					   "use-sigstore-attachments for it)");
	if (key == NULL) {
		if (fs_read_file(req->key_paths[0], &file, &key_len, err) < 0)
			return berth_error_wrap(err, "public key");
		key = file;
	}
	for (size_t i = 0; i < sigs->n_sigstore && ret < 0; i++) {
		berth_error *e = NULL;
		ret = sigstore_one(req, key, key_len, identity, digest, &sigs->sigstore[i], &e);
		if (ret < 0) {
			char *more = NULL;
			if (asprintf(&more, "%s%ssigstore signature %zu: %s", reasons ? reasons : "",
				     reasons ? "; " : "", i + 1, e->msg) >= 0) {
				free(reasons);
				reasons = more;
			}
			berth_error_free(&e);
		}
	}
	if (ret < 0)
		return berth_error_request(err, EPERM, "no signature accepted: %s", reasons ? reasons : "");
	return 0;
}

int trust_scope_evaluate(const trust_scope *scope, const char *scope_name, const char *identity, const char *digest,
			 const trust_signatures *sigs, const char *cache_dir, berth_error **err)
{
	for (size_t i = 0; i < scope->n_requirements; i++) {
		const trust_requirement *r = &scope->requirements[i];
		int ret = 0;

		switch (r->type) {
		case TRUST_INSECURE_ACCEPT_ANYTHING:
			break;
		case TRUST_REJECT:
			ret = berth_error_request(err, EPERM, "rejected");
			break;
		case TRUST_SIGNED_BY:
			ret = identity
				  ? signed_by(r, cache_dir, identity, digest, sigs, err)
				  : berth_error_request(err, EPERM, "the image has no name to check signatures for");
			break;
		case TRUST_SIGSTORE_SIGNED:
			ret = identity
				  ? sigstore_signed(r, identity, digest, sigs, err)
				  : berth_error_request(err, EPERM, "the image has no name to check signatures for");
			break;
		}
		if (ret < 0 && scope_name == NULL)
			return berth_error_wrap(err, "default requirement %zu (%s)", i,
						trust_requirement_type_name(r->type));
		if (ret < 0)
			return berth_error_wrap(err, "scope \"%s\" requirement %zu (%s)", scope_name, i,
						trust_requirement_type_name(r->type));
	}
	return 0;
}

int trust_check(const trust_policy *policy, const char *store_root, const char *transport, const char *identity,
		const char *digest, const trust_signatures *sigs, berth_error **err)
{
	const char *scope_name = NULL;
	const trust_scope *scope = trust_policy_lookup(policy, transport, identity, &scope_name);
	_cleanup_free_ char *cache_dir = store_root ? fs_path_join(store_root, "trust") : NULL;
	int ret;

	if (store_root && cache_dir == NULL)
		return berth_error_set(err, ENOMEM, "signature policy");

	berth_debug("trust: %s %s: policy %s, scope %s%s%s", transport, identity ? identity : "(no name)",
		    policy->path ? policy->path : "built-in (accept anything)", scope_name ? "\"" : "",
		    scope_name ? scope_name : "default", scope_name ? "\"" : "");
	ret = trust_scope_evaluate(scope, scope_name, identity, digest, sigs, cache_dir, err);
	if (ret < 0)
		berth_error_wrap(err, "rejected by the signature policy %s%s%s", policy->path ? "\"" : "(built-in)",
				 policy->path ? policy->path : "", policy->path ? "\"" : "");
	return ret;
}

/* Which kinds of signature SCOPE's requirements verify. */
static void wanted_signatures(const trust_scope *scope, bool *gpg, bool *sigstore)
{
	*gpg = *sigstore = false;
	for (size_t i = 0; i < scope->n_requirements; i++) {
		*gpg |= scope->requirements[i].type == TRUST_SIGNED_BY;
		*sigstore |= scope->requirements[i].type == TRUST_SIGSTORE_SIGNED;
	}
}

static int fetch_signatures(const trust_options *o, struct registry_client *client, const trust_scope *scope,
			    const char *identity, const char *digest, trust_signatures *sigs, berth_error **err)
{
	trust_registries registries = { 0 };
	const trust_registry_config *config;
	_cleanup_free_ char *base = NULL;
	bool gpg, sigstore;
	int ret;

	wanted_signatures(scope, &gpg, &sigstore);
	if (trust_registries_load(o->registries_d, o->rootless, &registries, err) < 0)
		return -1;
	ret = 0;
	if (gpg && (base = trust_lookaside_base(&registries, identity, false, o->rootless, err)) == NULL)
		ret = -1;
	if (ret == 0 && gpg && (ret = trust_lookaside_fetch(base, digest, sigs, err)) == 0)
		berth_debug("trust: %zu signatures of %s at %s", sigs->n, identity, base);
	config = trust_registries_lookup(&registries, identity);
	if (ret == 0 && sigstore && client && config && config->use_sigstore_attachments &&
	    (ret = trust_sigstore_fetch(client, digest, sigs, err)) == 0)
		berth_debug("trust: %zu sigstore signatures of %s attached in the registry", sigs->n_sigstore,
			    identity);
	trust_registries_free(&registries);
	return ret < 0 ? berth_error_wrap(err, "signatures of %s", identity) : 0;
}

int trust_check_pull(const trust_options *o, const trust_policy *policy, const char *store_root,
		     struct registry_client *client, const char *identity, const char *digest, trust_signatures *sigs,
		     berth_error **err)
{
	const trust_scope *scope = trust_policy_lookup(policy, "docker", identity, NULL);

	if (trust_scope_needs_signatures(scope) && fetch_signatures(o, client, scope, identity, digest, sigs, err) < 0)
		return -1;
	return trust_check(policy, store_root, "docker", identity, digest, sigs, err);
}

int trust_check_early(const trust_policy *policy, const char *identity, berth_error **err)
{
	const trust_scope *scope = trust_policy_lookup(policy, "docker", identity, NULL);
	trust_signatures none = { 0 };

	for (size_t i = 0; i < scope->n_requirements; i++)
		if (scope->requirements[i].type == TRUST_REJECT)
			return trust_check(policy, NULL, "docker", identity, NULL, &none, err);
	return 0;
}
