/* Internal to image/trust*.c: OpenPGP (librnp, gpgme), registries.d, fetching and
 * keeping signatures. */
#ifndef BERTH_IMAGE_TRUST_INTERNAL_H
#define BERTH_IMAGE_TRUST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "image/digest.h"
#include "image/trust.h"
#include "util/error.h"

#define TRUST_SIGNATURE_MAX_SIZE (4u << 20)
#define TRUST_SIGNATURES_MAX	 64

/* ---- the keys of a signedBy requirement (trust_cache.c) ---- */

typedef struct trust_key_source {
	char *what; /* 'key file "PATH"' or "keyData", for errors */
	char *data;
	size_t len;
} trust_key_source;

typedef struct trust_keys {
	trust_key_source *items;
	size_t n;
	char digest[DIGEST_STRING_MAX]; /* of all the key bytes: names the key ring and results */
} trust_keys;

/* Reads REQ's keys (keyPath, keyPaths or keyData) and their digest. */
int trust_keys_read(const trust_requirement *req, trust_keys *out, berth_error **err);
void trust_keys_free(trust_keys *k);

/* ---- verification results kept in the store (trust_cache.c) ---- */

/* 1 and *PAYLOAD (heap, NUL-terminated) when CACHE_DIR holds a result of
 * SIG verified with the keys of KEYS_DIGEST that has not ended; else 0. */
int trust_verified_lookup(const char *cache_dir, const char *keys_digest, const void *sig, size_t len, char **payload,
			  size_t *payload_len);
/* Keeps that result until NOT_AFTER (seconds since the epoch, 0: no end);
 * a failure is logged (--debug) and otherwise ignored. */
void trust_verified_save(const char *cache_dir, const char *keys_digest, const void *sig, size_t len,
			 const char *payload, size_t payload_len, long long not_after);

/* ---- OpenPGP verification (trust_rnp.c: librnp, in process) ---- */

typedef struct trust_openpgp trust_openpgp;

/* An in-memory key ring holding exactly KEYS (binary or armored). */
int trust_openpgp_open_keyring(const trust_keys *keys, trust_openpgp **out, berth_error **err);
/* Verifies the signed OpenPGP message SIG as gpg would: exactly one
 * signature, made by a key of the ring that is valid now (not expired, not
 * revoked, allowed to sign; a subkey's primary key too), the signature not
 * expired. *PAYLOAD (heap, NUL-terminated) gets what it signs, *NOT_AFTER
 * when the result ends (the first expiry of the signature, the signing key
 * or its primary key; 0: never). */
int trust_openpgp_verify(trust_openpgp *k, const void *sig, size_t len, char **payload, size_t *payload_len,
			 long long *not_after, berth_error **err);
void trust_openpgp_close(trust_openpgp *k);

/* ---- GPG signing (trust_gpg.c: gpgme) ---- */

/* Signs PAYLOAD with KEY_ID (a fingerprint or other gpg key id) from the
 * user's key ring ($GNUPGHOME): a signed OpenPGP message, binary. */
int trust_gpg_sign(const char *key_id, const void *payload, size_t len, char **sig, size_t *sig_len, berth_error **err);

/* ---- sigstore (trust_crypto.c, trust_sigstore.c) ---- */

/* SIG (DER) over the SHA-256 of PAYLOAD verifies with the PEM public key. */
int trust_sigstore_verify_raw(const void *public_key_pem, size_t key_len, const void *payload, size_t payload_len,
			      const unsigned char *sig, size_t sig_len, berth_error **err);
/* Signs PAYLOAD with the (unencrypted) PEM private key at PATH. */
int trust_sigstore_sign_raw(const char *private_key_path, const void *payload, size_t payload_len, unsigned char **sig,
			    size_t *sig_len, berth_error **err);
/* The signatures of the "sha256-HEX.sig" attachment of DIGEST in CLIENT's
 * repository (none when the tag does not exist). */
int trust_sigstore_fetch(struct registry_client *client, const char *digest, trust_signatures *out, berth_error **err);
/* Adds PAYLOAD + SIGNATURE (base64) as a layer of that attachment. */
int trust_sigstore_attach(struct registry_client *client, const char *digest, const char *payload, size_t len,
			  const char *signature, berth_error **err);

/* ---- evaluation (trust_verify.c) ---- */

/* Evaluates SCOPE (named SCOPE_NAME) for the image IDENTITY whose manifest
 * is DIGEST, with the simple-signing signatures SIGS. CACHE_DIR (the
 * store's "trust" directory, or NULL) keeps key rings and verification
 * results between commands. The error says which requirement failed and why. */
int trust_scope_evaluate(const trust_scope *scope, const char *scope_name, const char *identity, const char *digest,
			 const trust_signatures *sigs, const char *cache_dir, berth_error **err);

#endif
