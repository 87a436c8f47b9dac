/* GPG signing through gpgme, opened with dlopen on first use like libcurl
 * (curl_loader.c): most berth commands never sign and should not pay for
 * loading gpgme and libassuan at every start. Signing needs the user's gpg
 * secret keys ($GNUPGHOME), so it goes through gpg; verification does not
 * and runs in process with librnp (trust_rnp.c). */
#include "image/trust_internal.h"

#include <errno.h>
#include <gpgme.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dlib.h"

#define GPGME_LIBRARY "libgpgme.so.11"

static struct {
	__typeof__(&gpgme_set_global_flag) set_global_flag;
	__typeof__(&gpgme_check_version) check_version;
	__typeof__(&gpgme_new) new_ctx;
	__typeof__(&gpgme_release) release;
	__typeof__(&gpgme_set_protocol) set_protocol;
	__typeof__(&gpgme_data_new) data_new;
	__typeof__(&gpgme_data_new_from_mem) data_new_from_mem;
	__typeof__(&gpgme_data_release) data_release;
	__typeof__(&gpgme_data_release_and_get_mem) data_release_and_get_mem;
	__typeof__(&gpgme_op_sign) op_sign;
	__typeof__(&gpgme_get_key) get_key;
	__typeof__(&gpgme_key_unref) key_unref;
	__typeof__(&gpgme_signers_add) signers_add;
	__typeof__(&gpgme_strerror) strerror;
	__typeof__(&gpgme_free) free;
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static bool loaded;

static void load(void)
{
	const dlib_symbol symbols[] = {
		{ "gpgme_set_global_flag", (void **)&lib.set_global_flag },
		{ "gpgme_check_version", (void **)&lib.check_version },
		{ "gpgme_new", (void **)&lib.new_ctx },
		{ "gpgme_release", (void **)&lib.release },
		{ "gpgme_set_protocol", (void **)&lib.set_protocol },
		{ "gpgme_data_new", (void **)&lib.data_new },
		{ "gpgme_data_new_from_mem", (void **)&lib.data_new_from_mem },
		{ "gpgme_data_release", (void **)&lib.data_release },
		{ "gpgme_data_release_and_get_mem", (void **)&lib.data_release_and_get_mem },
		{ "gpgme_op_sign", (void **)&lib.op_sign },
		{ "gpgme_get_key", (void **)&lib.get_key },
		{ "gpgme_key_unref", (void **)&lib.key_unref },
		{ "gpgme_signers_add", (void **)&lib.signers_add },
		{ "gpgme_strerror", (void **)&lib.strerror },
		{ "gpgme_free", (void **)&lib.free },
	};

	loaded = dlib_open(GPGME_LIBRARY, "libgpgme11", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
			   sizeof(load_error)) == 0;
	/* gpg is found on PATH: asking gpgconf first costs three more
	 * processes at every signature */
	if (loaded)
		lib.set_global_flag("disable-gpgconf", "1");
	if (loaded && lib.check_version(NULL) == NULL) {
		snprintf(load_error, sizeof(load_error), "gpgme: version check failed");
		loaded = false;
	}
}

static int ready(berth_error **err)
{
	pthread_once(&load_once, load);
	return loaded ? 0 : berth_error_request(err, ENOTSUP, "%s", load_error);
}

int trust_gpg_sign(const char *key_id, const void *payload, size_t len, char **sig, size_t *sig_len, berth_error **err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t in = NULL, out = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t e;
	char *mem;
	size_t n = 0;

	*sig = NULL;
	if (ready(err) < 0)
		return -1;
	e = lib.new_ctx(&ctx);
	if (e == 0)
		e = lib.set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
	if (e == 0 && (e = lib.get_key(ctx, key_id, &key, 1)) != 0) {
		lib.release(ctx);
		if (gpgme_err_code(e) == GPG_ERR_EOF)
			return berth_error_request(err, ENOENT,
						   "signing key \"%s\": no such secret key in the key ring", key_id);
		return berth_error_request(err, ENOENT, "signing key \"%s\": %s", key_id, lib.strerror(e));
	}
	if (e == 0)
		e = lib.signers_add(ctx, key);
	if (e == 0)
		e = lib.data_new_from_mem(&in, payload, len, 0);
	if (e == 0)
		e = lib.data_new(&out);
	if (e == 0)
		e = lib.op_sign(ctx, in, out, GPGME_SIG_MODE_NORMAL);
	if (key)
		lib.key_unref(key);
	if (in)
		lib.data_release(in);
	lib.release(ctx);
	if (e) {
		if (out)
			lib.data_release(out);
		return berth_error_request(err, EIO, "sign with \"%s\": %s", key_id, lib.strerror(e));
	}
	mem = lib.data_release_and_get_mem(out, &n);
	*sig = malloc(n ? n : 1);
	if (*sig == NULL) {
		lib.free(mem);
		return berth_error_set(err, ENOMEM, "signature");
	}
	memcpy(*sig, mem, n);
	*sig_len = n;
	lib.free(mem);
	return 0;
}
