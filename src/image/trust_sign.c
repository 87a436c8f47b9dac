/* Signing on push: a simple-signing payload for the destination and the
 * manifest digest, signed with GPG, written to the lookaside's staging
 * location that registries.d names for the destination. */
#include "image/trust_internal.h"

#include <errno.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/log.h"

int trust_sign_prepare_at(const char *base, const char *key_id, const char *identity, const char *digest,
			  trust_pending_signature *out, berth_error **err)
{
	_cleanup_free_ char *payload = NULL;
	size_t len = 0;

	*out = (trust_pending_signature){ 0 };
	if (strncmp(base, "file:///", 8) != 0)
		return berth_error_request(err, ENOTSUP,
					   "sign %s: the lookaside for writing is \"%s\": berth writes signatures only "
					   "to file:/// URLs (set lookaside-staging in registries.d)",
					   identity, base);
	out->base = strdup(base);
	out->digest = strdup(digest);
	if (out->base == NULL || out->digest == NULL) {
		trust_pending_signature_free(out);
		return berth_error_set(err, ENOMEM, "sign");
	}
	payload = trust_payload_create(TRUST_PAYLOAD_SIMPLE, identity, digest, &len, err);
	if (payload == NULL || trust_gpg_sign(key_id, payload, len, &out->data, &out->len, err) < 0) {
		trust_pending_signature_free(out);
		return berth_error_wrap(err, "sign %s", identity);
	}
	return 0;
}

int trust_sign_prepare(const trust_options *o, const char *key_id, const char *identity, const char *digest,
		       trust_pending_signature *out, berth_error **err)
{
	_cleanup_free_ char *base = NULL;
	trust_registries registries;

	*out = (trust_pending_signature){ 0 };
	if (trust_registries_load(o->registries_d, o->rootless, &registries, err) < 0)
		return -1;
	base = trust_lookaside_base(&registries, identity, true, o->rootless, err);
	trust_registries_free(&registries);
	if (base == NULL)
		return -1;
	return trust_sign_prepare_at(base, key_id, identity, digest, out, err);
}

int trust_sign_prepare_sigstore(const trust_options *o, const char *key_path, const char *identity, const char *digest,
				trust_pending_signature *out, berth_error **err)
{
	trust_registries registries;
	const trust_registry_config *config;
	_cleanup_free_ unsigned char *raw = NULL;
	size_t raw_len = 0, cap;
	bool enabled;

	*out = (trust_pending_signature){ 0 };
	if (trust_registries_load(o->registries_d, o->rootless, &registries, err) < 0)
		return -1;
	config = trust_registries_lookup(&registries, identity);
	enabled = config && config->use_sigstore_attachments;
	trust_registries_free(&registries);
	if (!enabled)
		return berth_error_request(
		    err, ENOTSUP,
		    "sign %s: sigstore attachments are not enabled for it (use-sigstore-attachments: "
		    "true in registries.d)",
		    identity);
	out->data = trust_payload_create(TRUST_PAYLOAD_SIGSTORE, identity, digest, &out->len, err);
	out->digest = strdup(digest);
	if (out->data == NULL || out->digest == NULL ||
	    trust_sigstore_sign_raw(key_path, out->data, out->len, &raw, &raw_len, err) < 0) {
		trust_pending_signature_free(out);
		return *err ? berth_error_wrap(err, "sign %s", identity) : berth_error_set(err, ENOMEM, "sign");
	}
	cap = (raw_len + 2) / 3 * 4 + 1;
	out->sigstore_signature = malloc(cap);
	if (out->sigstore_signature == NULL || b64_ntop(raw, raw_len, out->sigstore_signature, cap) < 0) {
		trust_pending_signature_free(out);
		return berth_error_set(err, ENOMEM, "sign");
	}
	return 0;
}

int trust_sign_commit(const trust_pending_signature *s, struct registry_client *client, berth_error **err)
{
	if (s->sigstore_signature) {
		if (trust_sigstore_attach(client, s->digest, s->data, s->len, s->sigstore_signature, err) < 0)
			return berth_error_wrap(err, "attach the sigstore signature");
		return 0;
	}
	if (trust_lookaside_store(s->base, s->digest, s->data, s->len, err) < 0)
		return berth_error_wrap(err, "store the signature");
	berth_debug("trust: signature of %s stored under %s", s->digest, s->base);
	return 0;
}

void trust_pending_signature_free(trust_pending_signature *s)
{
	free(s->base);
	free(s->digest);
	free(s->data);
	free(s->sigstore_signature);
	*s = (trust_pending_signature){ 0 };
}
