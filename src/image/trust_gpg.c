/* GPG through gpgme, opened with dlopen on first use like libcurl
 * (curl_loader.c): most berth commands never verify a signature and should
 * not pay for loading gpgme and libassuan at every start.
 *
 * Verification uses an ephemeral key ring (a fresh GNUPGHOME in a temp
 * directory) holding only the keys a signedBy requirement names, as
 * containers/image does: a signature verifies only when it was made by one
 * of those keys, whatever the user's own key ring trusts. */
#include "image/trust_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gpgme.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/dlib.h"
#include "util/fs.h"

#define GPGME_LIBRARY "libgpgme.so.11"

static struct {
	__typeof__(&gpgme_set_global_flag) set_global_flag;
	__typeof__(&gpgme_check_version) check_version;
	__typeof__(&gpgme_new) new_ctx;
	__typeof__(&gpgme_release) release;
	__typeof__(&gpgme_set_protocol) set_protocol;
	__typeof__(&gpgme_ctx_set_engine_info) set_engine_info;
	__typeof__(&gpgme_data_new) data_new;
	__typeof__(&gpgme_data_new_from_mem) data_new_from_mem;
	__typeof__(&gpgme_data_release) data_release;
	__typeof__(&gpgme_data_release_and_get_mem) data_release_and_get_mem;
	__typeof__(&gpgme_op_import) op_import;
	__typeof__(&gpgme_op_import_result) op_import_result;
	__typeof__(&gpgme_op_verify) op_verify;
	__typeof__(&gpgme_op_verify_result) op_verify_result;
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
		{ "gpgme_ctx_set_engine_info", (void **)&lib.set_engine_info },
		{ "gpgme_data_new", (void **)&lib.data_new },
		{ "gpgme_data_new_from_mem", (void **)&lib.data_new_from_mem },
		{ "gpgme_data_release", (void **)&lib.data_release },
		{ "gpgme_data_release_and_get_mem", (void **)&lib.data_release_and_get_mem },
		{ "gpgme_op_import", (void **)&lib.op_import },
		{ "gpgme_op_import_result", (void **)&lib.op_import_result },
		{ "gpgme_op_verify", (void **)&lib.op_verify },
		{ "gpgme_op_verify_result", (void **)&lib.op_verify_result },
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
	 * processes at every verification */
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

static int gpgme_failure(berth_error **err, gpgme_error_t e, const char *what)
{
	return berth_error_request(err, EBADMSG, "%s: %s", what, lib.strerror(e));
}

struct trust_gpg {
	gpgme_ctx_t ctx;
	char *home;
	char **fingerprints; /* of the keys imported */
	size_t n_fingerprints;
};

void trust_gpg_close(trust_gpg *g)
{
	if (g == NULL)
		return;
	if (g->ctx)
		lib.release(g->ctx);
	if (g->home) {
		berth_error *ignored = NULL;
		if (fs_remove_tree(g->home, &ignored) < 0)
			berth_error_free(&ignored);
		free(g->home);
	}
	for (size_t i = 0; i < g->n_fingerprints; i++)
		free(g->fingerprints[i]);
	free(g->fingerprints);
	free(g);
}

static int import_keys(trust_gpg *g, const void *data, size_t len, const char *what, berth_error **err)
{
	gpgme_data_t dh = NULL;
	gpgme_import_result_t res;
	gpgme_error_t e;

	e = lib.data_new_from_mem(&dh, data, len, 0);
	if (e == 0)
		e = lib.op_import(g->ctx, dh);
	if (dh)
		lib.data_release(dh);
	if (e)
		return gpgme_failure(err, e, what);
	res = lib.op_import_result(g->ctx);
	for (gpgme_import_status_t s = res ? res->imports : NULL; s; s = s->next) {
		char **grown;
		if (s->result != 0 || s->fpr == NULL)
			continue;
		grown = realloc(g->fingerprints, (g->n_fingerprints + 1) * sizeof(char *));
		if (grown == NULL)
			return berth_error_set(err, ENOMEM, "%s", what);
		g->fingerprints = grown;
		if ((g->fingerprints[g->n_fingerprints] = strdup(s->fpr)) == NULL)
			return berth_error_set(err, ENOMEM, "%s", what);
		g->n_fingerprints++;
	}
	if (res == NULL || res->considered == 0)
		return berth_error_request(err, EINVAL, "%s: no OpenPGP public key in it", what);
	return 0;
}

static int write_gpg_conf(const char *home, berth_error **err)
{
	_cleanup_close_ int fd = open(home, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return berth_error_set(err, errno, "key ring \"%s\"", home);
	return fs_write_file_fresh(fd, "gpg.conf", "no-autostart\n", 13, 0600, err);
}

int trust_gpg_open_keyring(const trust_requirement *req, trust_gpg **out, berth_error **err)
{
	_cleanup_free_ trust_gpg *g = NULL;
	const char *tmp = getenv("TMPDIR");
	gpgme_error_t e;
	int ret = 0;

	*out = NULL;
	if (ready(err) < 0)
		return -1;
	g = calloc(1, sizeof(*g));
	if (g == NULL || asprintf(&g->home, "%s/berth-gpg-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp") < 0) {
		if (g)
			g->home = NULL;
		return berth_error_set(err, ENOMEM, "key ring");
	}
	if (mkdtemp(g->home) == NULL) {
		ret = berth_error_set(err, errno, "key ring \"%s\"", g->home);
		free(g->home);
		g->home = NULL;
		return ret;
	}
	/* public keys need no agent: without this, gpg starts one per key ring */
	if (write_gpg_conf(g->home, err) < 0) {
		trust_gpg_close(move_ptr(g));
		return -1;
	}
	e = lib.new_ctx(&g->ctx);
	if (e == 0)
		e = lib.set_protocol(g->ctx, GPGME_PROTOCOL_OpenPGP);
	if (e == 0)
		e = lib.set_engine_info(g->ctx, GPGME_PROTOCOL_OpenPGP, NULL, g->home);
	if (e)
		ret = gpgme_failure(err, e, "gpgme");
	for (char **p = req->key_paths; ret == 0 && p && *p; p++) {
		_cleanup_free_ char *data = NULL, *what = NULL;
		size_t len = 0;
		if (asprintf(&what, "key file \"%s\"", *p) < 0)
			ret = berth_error_set(err, ENOMEM, "key ring");
		else if ((ret = fs_read_file(*p, &data, &len, err)) == 0)
			ret = import_keys(g, data, len, what, err);
	}
	if (ret == 0 && req->key_data)
		ret = import_keys(g, req->key_data, req->key_data_len, "keyData", err);
	if (ret < 0) {
		trust_gpg_close(move_ptr(g));
		return ret;
	}
	*out = move_ptr(g);
	return 0;
}

static bool fingerprint_trusted(const trust_gpg *g, const char *fpr)
{
	for (size_t i = 0; fpr && i < g->n_fingerprints; i++)
		if (strcasecmp(g->fingerprints[i], fpr) == 0)
			return true;
	return false;
}

/* The signer is one of the imported keys, or a subkey of one. */
static bool signer_trusted(trust_gpg *g, const char *fpr)
{
	gpgme_key_t key = NULL;
	bool ok;

	if (fingerprint_trusted(g, fpr))
		return true;
	if (fpr == NULL || lib.get_key(g->ctx, fpr, &key, 0) != 0 || key == NULL)
		return false;
	ok = key->subkeys && fingerprint_trusted(g, key->subkeys->fpr);
	lib.key_unref(key);
	return ok;
}

int trust_gpg_verify(trust_gpg *g, const void *sig, size_t len, char **payload, size_t *payload_len, berth_error **err)
{
	gpgme_data_t sig_data = NULL, plain = NULL;
	gpgme_verify_result_t res;
	gpgme_signature_t s;
	gpgme_error_t e;
	char *mem;
	size_t n = 0;

	*payload = NULL;
	e = lib.data_new_from_mem(&sig_data, sig, len, 0);
	if (e == 0)
		e = lib.data_new(&plain);
	if (e == 0)
		e = lib.op_verify(g->ctx, sig_data, NULL, plain);
	if (sig_data)
		lib.data_release(sig_data);
	if (e) {
		if (plain)
			lib.data_release(plain);
		return gpgme_failure(err, e, "not a valid OpenPGP signature");
	}
	res = lib.op_verify_result(g->ctx);
	s = res ? res->signatures : NULL;
	mem = lib.data_release_and_get_mem(plain, &n);
	if (s == NULL || s->next) {
		lib.free(mem);
		return berth_error_request(err, EBADMSG, "expected exactly one OpenPGP signature");
	}
	if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY) {
		lib.free(mem);
		return berth_error_request(err, EPERM, "signed by %s, not by a key of the requirement",
					   s->fpr ? s->fpr : "an unknown key");
	}
	if (s->status != 0) {
		lib.free(mem);
		return berth_error_request(err, EBADMSG, "signature by %s: %s", s->fpr ? s->fpr : "an unknown key",
					   lib.strerror(s->status));
	}
	if (!signer_trusted(g, s->fpr)) {
		lib.free(mem);
		return berth_error_request(err, EPERM, "signed by %s, not by a key of the requirement",
					   s->fpr ? s->fpr : "an unknown key");
	}
	*payload = malloc(n + 1);
	if (*payload == NULL) {
		lib.free(mem);
		return berth_error_set(err, ENOMEM, "signature");
	}
	memcpy(*payload, mem ? mem : "", n);
	(*payload)[n] = '\0';
	*payload_len = n;
	lib.free(mem);
	return 0;
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
