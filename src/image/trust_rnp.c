/* OpenPGP verification in process with librnp (RNP, Thunderbird's OpenPGP
 * library), opened with dlopen on first use like gpgme: gpgme starts gpg
 * for every operation (and `gpg --version` twice per context), tens of
 * milliseconds for a signature never verified before; RNP checks it in
 * well under one. Signing stays with gpgme (trust_gpg.c): it needs the
 * user's gpg secret keys.
 *
 * The key ring is in memory and holds only the keys a signedBy requirement
 * names, as containers/image does. RNP accepts a signature made while its
 * key was valid even when the key has expired since; gpg (and so
 * containers/image) does not, so the signer is checked here as gpg would:
 * the key that made the signature, and its primary key when it is a
 * subkey, must be valid now (self-signatures, binding with the primary's
 * cross-certification), neither expired nor revoked, and the signer must be
 * allowed to sign. */
#include "image/trust_internal.h"

#include <errno.h>
#include <pthread.h>
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dlib.h"
#include "util/log.h"

#define RNP_LIBRARY "librnp.so.0"

static struct {
	__typeof__(&rnp_result_to_string) result_to_string;
	__typeof__(&rnp_ffi_create) ffi_create;
	__typeof__(&rnp_ffi_destroy) ffi_destroy;
	__typeof__(&rnp_input_from_memory) input_from_memory;
	__typeof__(&rnp_input_destroy) input_destroy;
	__typeof__(&rnp_output_to_memory) output_to_memory;
	__typeof__(&rnp_output_memory_get_buf) output_memory_get_buf;
	__typeof__(&rnp_output_destroy) output_destroy;
	__typeof__(&rnp_import_keys) import_keys;
	__typeof__(&rnp_get_public_key_count) get_public_key_count;
	__typeof__(&rnp_op_verify_create) op_verify_create;
	__typeof__(&rnp_op_verify_execute) op_verify_execute;
	__typeof__(&rnp_op_verify_get_signature_count) op_verify_get_signature_count;
	__typeof__(&rnp_op_verify_get_signature_at) op_verify_get_signature_at;
	__typeof__(&rnp_op_verify_signature_get_status) op_verify_signature_get_status;
	__typeof__(&rnp_op_verify_signature_get_handle) op_verify_signature_get_handle;
	__typeof__(&rnp_op_verify_signature_get_key) op_verify_signature_get_key;
	__typeof__(&rnp_op_verify_signature_get_times) op_verify_signature_get_times;
	__typeof__(&rnp_op_verify_destroy) op_verify_destroy;
	__typeof__(&rnp_signature_get_key_fprint) signature_get_key_fprint;
	__typeof__(&rnp_signature_get_keyid) signature_get_keyid;
	__typeof__(&rnp_signature_handle_destroy) signature_handle_destroy;
	__typeof__(&rnp_locate_key) locate_key;
	__typeof__(&rnp_key_handle_destroy) key_handle_destroy;
	__typeof__(&rnp_key_get_fprint) key_get_fprint;
	__typeof__(&rnp_key_get_primary_fprint) key_get_primary_fprint;
	__typeof__(&rnp_key_is_primary) key_is_primary;
	__typeof__(&rnp_key_is_valid) key_is_valid;
	__typeof__(&rnp_key_is_revoked) key_is_revoked;
	__typeof__(&rnp_key_is_expired) key_is_expired;
	__typeof__(&rnp_key_valid_till64) key_valid_till64;
	__typeof__(&rnp_key_allows_usage) key_allows_usage;
	__typeof__(&rnp_buffer_destroy) buffer_destroy;
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static bool loaded;

/* Botan (librnp's crypto) sets up a pool of 128 mlocked pages at its first
 * allocation, 640 syscalls and 2-15 ms here, to keep secret keys out of
 * swap. Verification holds no secret, and gpgme, which signs, does not use
 * Botan: no pool, unless the user asks for one. Set before the library is
 * loaded; once set, a second call changes nothing. */
void trust_prepare_environment(void)
{
	setenv("BOTAN_MLOCK_POOL_SIZE", "0", 0);
}

static void load(void)
{
#define SYM(field, name)                                                                                               \
	{                                                                                                              \
#name, (void **)&lib.field                                                                             \
	}
	const dlib_symbol symbols[] = {
		SYM(result_to_string, rnp_result_to_string),
		SYM(ffi_create, rnp_ffi_create),
		SYM(ffi_destroy, rnp_ffi_destroy),
		SYM(input_from_memory, rnp_input_from_memory),
		SYM(input_destroy, rnp_input_destroy),
		SYM(output_to_memory, rnp_output_to_memory),
		SYM(output_memory_get_buf, rnp_output_memory_get_buf),
		SYM(output_destroy, rnp_output_destroy),
		SYM(import_keys, rnp_import_keys),
		SYM(get_public_key_count, rnp_get_public_key_count),
		SYM(op_verify_create, rnp_op_verify_create),
		SYM(op_verify_execute, rnp_op_verify_execute),
		SYM(op_verify_get_signature_count, rnp_op_verify_get_signature_count),
		SYM(op_verify_get_signature_at, rnp_op_verify_get_signature_at),
		SYM(op_verify_signature_get_status, rnp_op_verify_signature_get_status),
		SYM(op_verify_signature_get_handle, rnp_op_verify_signature_get_handle),
		SYM(op_verify_signature_get_key, rnp_op_verify_signature_get_key),
		SYM(op_verify_signature_get_times, rnp_op_verify_signature_get_times),
		SYM(op_verify_destroy, rnp_op_verify_destroy),
		SYM(signature_get_key_fprint, rnp_signature_get_key_fprint),
		SYM(signature_get_keyid, rnp_signature_get_keyid),
		SYM(signature_handle_destroy, rnp_signature_handle_destroy),
		SYM(locate_key, rnp_locate_key),
		SYM(key_handle_destroy, rnp_key_handle_destroy),
		SYM(key_get_fprint, rnp_key_get_fprint),
		SYM(key_get_primary_fprint, rnp_key_get_primary_fprint),
		SYM(key_is_primary, rnp_key_is_primary),
		SYM(key_is_valid, rnp_key_is_valid),
		SYM(key_is_revoked, rnp_key_is_revoked),
		SYM(key_is_expired, rnp_key_is_expired),
		SYM(key_valid_till64, rnp_key_valid_till64),
		SYM(key_allows_usage, rnp_key_allows_usage),
		SYM(buffer_destroy, rnp_buffer_destroy),
	};
#undef SYM

	trust_prepare_environment();
	/* lazily bound: 0.5-1 ms less of loading Botan and libstdc++ */
	loaded = dlib_open_lazy(RNP_LIBRARY, "librnp0", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
				sizeof(load_error)) == 0;
}

static int ready(berth_error **err)
{
	pthread_once(&load_once, load);
	return loaded ? 0 : berth_error_request(err, ENOTSUP, "%s", load_error);
}

/* Debian's librnp is built with its console log always on (no NDEBUG, and
 * set_rnp_log_switch is not exported): every check that fails prints a
 * line such as "[validate_sig() ./src/lib/pgp-key.cpp:1903] invalid or
 * untrusted key" to stderr. berth says itself why a signature is refused,
 * so while librnp works stderr is a memory stream (glibc's stderr is an
 * assignable variable that librnp reads through its GOT) whose text goes
 * to the debug log. A line another thread writes to stderr in that window
 * (well under a millisecond) goes there too. */
static pthread_mutex_t quiet_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct quiet {
	FILE *saved, *mem;
	char *text;
	size_t len;
} quiet;

static void quiet_begin(quiet *q)
{
	pthread_mutex_lock(&quiet_lock);
	*q = (quiet){ .saved = stderr };
	q->mem = open_memstream(&q->text, &q->len);
	if (q->mem)
		stderr = q->mem;
}

static void quiet_end(quiet *q)
{
	if (q->mem) {
		stderr = q->saved;
		fclose(q->mem);
		while (q->len > 0 && q->text[q->len - 1] == '\n')
			q->text[--q->len] = '\0';
		if (q->len > 0)
			berth_debug("trust: librnp: %s", q->text);
		free(q->text);
	}
	pthread_mutex_unlock(&quiet_lock);
}

struct trust_openpgp {
	rnp_ffi_t ffi;
};

void trust_openpgp_close(trust_openpgp *k)
{
	if (k == NULL)
		return;
	if (k->ffi)
		lib.ffi_destroy(k->ffi);
	free(k);
}

static int import_source(rnp_ffi_t ffi, const trust_key_source *key, berth_error **err)
{
	rnp_input_t in = NULL;
	size_t before = 0, after = 0;
	rnp_result_t r = lib.input_from_memory(&in, (const uint8_t *)key->data, key->len, false);

	if (r == RNP_SUCCESS)
		r = lib.get_public_key_count(ffi, &before);
	if (r == RNP_SUCCESS) {
		quiet q;
		quiet_begin(&q);
		r = lib.import_keys(ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS, NULL);
		quiet_end(&q);
	}
	if (in)
		lib.input_destroy(in);
	if (r == RNP_SUCCESS)
		r = lib.get_public_key_count(ffi, &after);
	if (r != RNP_SUCCESS)
		return berth_error_request(err, EINVAL, "%s: no OpenPGP public key in it: %s", key->what,
					   lib.result_to_string(r));
	if (after == before)
		return berth_error_request(err, EINVAL, "%s: no OpenPGP public key in it", key->what);
	return 0;
}

int trust_openpgp_open_keyring(const trust_keys *keys, trust_openpgp **out, berth_error **err)
{
	trust_openpgp *k = NULL;
	rnp_result_t r;

	*out = NULL;
	if (ready(err) < 0)
		return -1;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return berth_error_set(err, ENOMEM, "key ring");
	if ((r = lib.ffi_create(&k->ffi, "GPG", "GPG")) != RNP_SUCCESS) {
		free(k);
		return berth_error_request(err, EIO, "librnp: %s", lib.result_to_string(r));
	}
	for (size_t i = 0; i < keys->n; i++)
		if (import_source(k->ffi, &keys->items[i], err) < 0) {
			trust_openpgp_close(k);
			return -1;
		}
	if (keys->n == 0) {
		trust_openpgp_close(k);
		return berth_error_request(err, EINVAL, "key ring: no key in it");
	}
	*out = k;
	return 0;
}

/* The fingerprint (else key id) the signature names as its issuer, for the
 * error of a signature by a key that is not in the ring; heap. */
static char *issuer(rnp_op_verify_signature_t s)
{
	rnp_signature_handle_t h = NULL;
	char *id = NULL, *copy = NULL;

	if (lib.op_verify_signature_get_handle(s, &h) != RNP_SUCCESS)
		return NULL;
	if (lib.signature_get_key_fprint(h, &id) != RNP_SUCCESS || id == NULL || id[0] == '\0') {
		lib.buffer_destroy(id);
		id = NULL;
		if (lib.signature_get_keyid(h, &id) != RNP_SUCCESS)
			id = NULL;
	}
	lib.signature_handle_destroy(h);
	if (id)
		copy = strdup(id);
	lib.buffer_destroy(id);
	return copy;
}

/* A key (WHAT: "key" or "primary key") must be valid now, as gpg requires:
 * not expired, not revoked, with valid self-signatures. */
static int key_usable(rnp_key_handle_t key, const char *fpr, const char *what, unsigned long long *valid_till,
		      berth_error **err)
{
	bool revoked = false, expired = false, valid = false;
	uint64_t till = 0;

	if (lib.key_is_revoked(key, &revoked) != RNP_SUCCESS || lib.key_is_expired(key, &expired) != RNP_SUCCESS ||
	    lib.key_is_valid(key, &valid) != RNP_SUCCESS || lib.key_valid_till64(key, &till) != RNP_SUCCESS)
		return berth_error_request(err, EBADMSG, "signature by %s: cannot check the %s", fpr, what);
	if (revoked)
		return berth_error_request(err, EPERM, "signature by %s: the %s is revoked", fpr, what);
	if (expired)
		return berth_error_request(err, EPERM, "signature by %s: the %s has expired", fpr, what);
	if (!valid)
		return berth_error_request(err, EPERM, "signature by %s: the %s is not valid", fpr, what);
	if (till < *valid_till)
		*valid_till = till;
	return 0;
}

/* The signer SIGNER (fingerprint FPR) and, for a subkey, its primary key. */
static int signer_usable(rnp_ffi_t ffi, rnp_key_handle_t signer, const char *fpr, long long *not_after,
			 berth_error **err)
{
	unsigned long long till = UINT64_MAX;
	rnp_key_handle_t primary = NULL;
	char *primary_fpr = NULL;
	bool is_primary = false, can_sign = false;
	int ret;

	if (lib.key_allows_usage(signer, "sign", &can_sign) != RNP_SUCCESS || !can_sign)
		return berth_error_request(err, EPERM, "signature by %s: the key may not sign", fpr);
	if ((ret = key_usable(signer, fpr, "key", &till, err)) < 0)
		return ret;
	if (lib.key_is_primary(signer, &is_primary) != RNP_SUCCESS)
		return berth_error_request(err, EBADMSG, "signature by %s: cannot check the key", fpr);
	if (!is_primary) {
		if (lib.key_get_primary_fprint(signer, &primary_fpr) != RNP_SUCCESS || primary_fpr == NULL ||
		    lib.locate_key(ffi, "fingerprint", primary_fpr, &primary) != RNP_SUCCESS || primary == NULL) {
			lib.buffer_destroy(primary_fpr);
			return berth_error_request(err, EPERM, "signature by %s: the subkey's primary key is unknown",
						   fpr);
		}
		lib.buffer_destroy(primary_fpr);
		ret = key_usable(primary, fpr, "primary key", &till, err);
		lib.key_handle_destroy(primary);
		if (ret < 0)
			return ret;
	}
	*not_after = till >= (unsigned long long)INT64_MAX ? 0 : (long long)till;
	return 0;
}

/* Checks the one signature of a verified message: its signer first, then
 * RNP's status; *NOT_AFTER gets when the result ends. */
static int check_signature(rnp_ffi_t ffi, rnp_op_verify_signature_t s, long long *not_after, berth_error **err)
{
	rnp_result_t status = lib.op_verify_signature_get_status(s);
	rnp_key_handle_t key = NULL;
	char *fpr = NULL;
	uint32_t created = 0, expires = 0;
	int ret;

	if (status == RNP_ERROR_KEY_NOT_FOUND || lib.op_verify_signature_get_key(s, &key) != RNP_SUCCESS ||
	    key == NULL) {
		char *id = issuer(s);
		ret = berth_error_request(err, EPERM, "signed by %s, not by a key of the requirement",
					  id ? id : "an unknown key");
		free(id);
		return ret;
	}
	if (lib.key_get_fprint(key, &fpr) != RNP_SUCCESS || fpr == NULL) {
		lib.key_handle_destroy(key);
		return berth_error_request(err, EBADMSG, "signature: cannot read the signer's fingerprint");
	}
	/* the key first: RNP reports a signature by a revoked key as invalid,
	 * the key's state is the better reason */
	ret = signer_usable(ffi, key, fpr, not_after, err);
	if (ret == 0 && status == RNP_ERROR_SIGNATURE_EXPIRED)
		ret = berth_error_request(
		    err, EPERM, "signature by %s: the signature has expired (or is dated in the future)", fpr);
	else if (ret == 0 && status != RNP_SUCCESS)
		ret = berth_error_request(err, EBADMSG, "signature by %s: %s", fpr, lib.result_to_string(status));
	if (ret == 0 && lib.op_verify_signature_get_times(s, &created, &expires) == RNP_SUCCESS && expires > 0) {
		long long end = (long long)created + expires;
		if (*not_after == 0 || end < *not_after)
			*not_after = end;
	}
	lib.buffer_destroy(fpr);
	lib.key_handle_destroy(key);
	return ret;
}

static int verify(trust_openpgp *k, const void *sig, size_t len, char **payload, size_t *payload_len,
		  long long *not_after, berth_error **err)
{
	rnp_input_t in = NULL;
	rnp_output_t out = NULL;
	rnp_op_verify_t op = NULL;
	rnp_op_verify_signature_t s = NULL;
	rnp_result_t r, executed = RNP_ERROR_GENERIC;
	uint8_t *buf = NULL;
	size_t n = 0, count = 0;
	int ret = 0;

	*payload = NULL;
	*not_after = 0;
	r = lib.input_from_memory(&in, sig, len, false);
	if (r == RNP_SUCCESS)
		r = lib.output_to_memory(&out, TRUST_SIGNATURE_MAX_SIZE);
	if (r == RNP_SUCCESS)
		r = lib.op_verify_create(&op, k->ffi, in, out);
	if (r == RNP_SUCCESS) {
		executed = lib.op_verify_execute(op);
		r = lib.op_verify_get_signature_count(op, &count);
	}
	if (r != RNP_SUCCESS || count == 0)
		ret = berth_error_request(err, EBADMSG, "not a valid OpenPGP signature: %s",
					  lib.result_to_string(r != RNP_SUCCESS ? r : executed));
	else if (count > 1)
		ret = berth_error_request(err, EBADMSG, "expected exactly one OpenPGP signature");
	else if (lib.op_verify_get_signature_at(op, 0, &s) != RNP_SUCCESS)
		ret = berth_error_request(err, EBADMSG, "not a valid OpenPGP signature");
	else
		ret = check_signature(k->ffi, s, not_after, err);
	if (ret == 0 && executed != RNP_SUCCESS)
		ret = berth_error_request(err, EBADMSG, "not a valid OpenPGP signature: %s",
					  lib.result_to_string(executed));
	if (ret == 0 && lib.output_memory_get_buf(out, &buf, &n, false) != RNP_SUCCESS)
		ret = berth_error_request(err, EBADMSG, "signature: no signed content");
	if (ret == 0 && (*payload = malloc(n + 1)) == NULL)
		ret = berth_error_set(err, ENOMEM, "signature");
	if (ret == 0) {
		if (n)
			memcpy(*payload, buf, n);
		(*payload)[n] = '\0';
		*payload_len = n;
	}
	if (op)
		lib.op_verify_destroy(op);
	if (out)
		lib.output_destroy(out);
	if (in)
		lib.input_destroy(in);
	return ret;
}

int trust_openpgp_verify(trust_openpgp *k, const void *sig, size_t len, char **payload, size_t *payload_len,
			 long long *not_after, berth_error **err)
{
	quiet q;
	int ret;

	quiet_begin(&q);
	ret = verify(k, sig, len, payload, payload_len, not_after, err);
	quiet_end(&q);
	return ret;
}
