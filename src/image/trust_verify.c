/* Evaluating a policy scope against an image's signatures, and the checks
 * pull makes before anything of the image reaches the store. */
#include "image/trust_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
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

void trust_signatures_free(trust_signatures *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	free(s->data);
	free(s->len);
	*s = (trust_signatures){ 0 };
}

/* One signature against a signedBy requirement: made by its keys, for this
 * manifest, claiming an identity the rule accepts. */
static int signature_check(trust_gpg *g, const trust_requirement *req, const char *identity, const char *digest,
			   const char *sig, size_t len, berth_error **err)
{
	_cleanup_free_ char *payload = NULL;
	trust_payload p;
	size_t plen = 0;
	int ret = 0;

	if (trust_gpg_verify(g, sig, len, &payload, &plen, err) < 0 || trust_payload_parse(payload, plen, &p, err) < 0)
		return -1;
	if (strcmp(p.manifest_digest, digest) != 0)
		ret = berth_error_request(err, EPERM, "signed manifest %s, not %s", p.manifest_digest, digest);
	else if (!trust_identity_matches(&req->identity, identity, p.docker_reference))
		ret = berth_error_request(err, EPERM, "signed identity \"%s\" does not match \"%s\"",
					  p.docker_reference, identity);
	trust_payload_free(&p);
	return ret;
}

static int signed_by(const trust_requirement *req, const char *identity, const char *digest,
		     const trust_signatures *sigs, berth_error **err)
{
	_cleanup_free_ char *reasons = NULL;
	trust_gpg *g = NULL;
	int ret = -1;

	if (sigs->n == 0)
		return berth_error_request(err, EPERM, "the image has no signature");
	if (trust_gpg_open_keyring(req, &g, err) < 0)
		return -1;
	for (size_t i = 0; i < sigs->n && ret < 0; i++) {
		berth_error *e = NULL;
		ret = signature_check(g, req, identity, digest, sigs->data[i], sigs->len[i], &e);
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
	trust_gpg_close(g);
	if (ret < 0)
		return berth_error_request(err, EPERM, "no signature accepted: %s", reasons ? reasons : "");
	return 0;
}

int trust_scope_evaluate(const trust_scope *scope, const char *scope_name, const char *identity, const char *digest,
			 const trust_signatures *sigs, berth_error **err)
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
				  ? signed_by(r, identity, digest, sigs, err)
				  : berth_error_request(err, EPERM, "the image has no name to check signatures for");
			break;
		case TRUST_SIGSTORE_SIGNED:
			ret = berth_error_request(err, ENOTSUP, "sigstore signatures are not supported by berth yet");
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

int trust_check(const trust_policy *policy, const char *transport, const char *identity, const char *digest,
		const trust_signatures *sigs, berth_error **err)
{
	const char *scope_name = NULL;
	const trust_scope *scope = trust_policy_lookup(policy, transport, identity, &scope_name);
	int ret;

	berth_debug("trust: %s %s: policy %s, scope %s%s%s", transport, identity ? identity : "(no name)",
		    policy->path ? policy->path : "built-in (accept anything)", scope_name ? "\"" : "",
		    scope_name ? scope_name : "default", scope_name ? "\"" : "");
	ret = trust_scope_evaluate(scope, scope_name, identity, digest, sigs, err);
	if (ret < 0)
		berth_error_wrap(err, "rejected by the signature policy %s%s%s", policy->path ? "\"" : "(built-in)",
				 policy->path ? policy->path : "", policy->path ? "\"" : "");
	return ret;
}

int trust_check_pull(const trust_options *o, const char *identity, const char *digest, trust_signatures *sigs,
		     berth_error **err)
{
	trust_policy policy;
	trust_registries registries = { 0 };
	_cleanup_free_ char *base = NULL;
	int ret;

	if (trust_policy_load(o->policy_path, o->rootless, &policy, err) < 0)
		return -1;
	if (trust_scope_needs_signatures(trust_policy_lookup(&policy, "docker", identity, NULL))) {
		ret = trust_registries_load(o->registries_d, o->rootless, &registries, err);
		if (ret == 0 && (base = trust_lookaside_base(&registries, identity, false, o->rootless, err)) == NULL)
			ret = -1;
		if (ret == 0 && (ret = trust_lookaside_fetch(base, digest, sigs, err)) < 0)
			berth_error_wrap(err, "signatures of %s", identity);
		if (ret == 0)
			berth_debug("trust: %zu signatures of %s at %s", sigs->n, identity, base);
		trust_registries_free(&registries);
		if (ret < 0) {
			trust_policy_free(&policy);
			return ret;
		}
	}
	ret = trust_check(&policy, "docker", identity, digest, sigs, err);
	trust_policy_free(&policy);
	return ret;
}
