/* GPG through gpgme, opened with dlopen on first use like libcurl
 * (curl_loader.c): most berth commands never verify a signature and should
 * not pay for loading gpgme and libassuan at every start.
 *
 * Verification uses a key ring (a GNUPGHOME of its own) holding only the
 * keys a signedBy requirement names, as containers/image does: a signature
 * verifies only when it was made by one of those keys, whatever the user's
 * own key ring trusts. The ring is kept in the store, named by the digest of
 * the key bytes (trust_cache.c), so a pull does not import keys again: each
 * gpg that gpgme starts costs milliseconds (two `gpg --version` when a
 * context is set up, then one per operation). */
#include "image/trust_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gpgme.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/json_read.h"
#include "util/cleanup.h"
#include "util/dlib.h"
#include "util/fs.h"
#include "util/log.h"

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
	__typeof__(&gpgme_op_keylist_start) op_keylist_start;
	__typeof__(&gpgme_op_keylist_next) op_keylist_next;
	__typeof__(&gpgme_op_keylist_end) op_keylist_end;
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
		{ "gpgme_op_keylist_start", (void **)&lib.op_keylist_start },
		{ "gpgme_op_keylist_next", (void **)&lib.op_keylist_next },
		{ "gpgme_op_keylist_end", (void **)&lib.op_keylist_end },
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
	bool throwaway;	   /* home is removed by trust_gpg_close */
	char **signers;	   /* fingerprints of the ring's keys and subkeys */
	long long expires; /* the first expiry of a key or subkey of the ring, 0: none */
};

void trust_gpg_close(trust_gpg *g)
{
	if (g == NULL)
		return;
	if (g->ctx)
		lib.release(g->ctx);
	if (g->home && g->throwaway) {
		berth_error *ignored = NULL;
		if (fs_remove_tree(g->home, &ignored) < 0)
			berth_error_free(&ignored);
	}
	free(g->home);
	strv_free(g->signers);
	free(g);
}

static int import_keys(gpgme_ctx_t ctx, const trust_key_source *key, berth_error **err)
{
	gpgme_data_t dh = NULL;
	gpgme_import_result_t res;
	gpgme_error_t e;

	e = lib.data_new_from_mem(&dh, key->data, key->len, 0);
	if (e == 0)
		e = lib.op_import(ctx, dh);
	if (dh)
		lib.data_release(dh);
	if (e)
		return gpgme_failure(err, e, key->what);
	res = lib.op_import_result(ctx);
	if (res == NULL || res->considered == 0)
		return berth_error_request(err, EINVAL, "%s: no OpenPGP public key in it", key->what);
	return 0;
}

static int strv_add(char ***v, size_t *n, const char *s, berth_error **err)
{
	char **grown = realloc(*v, (*n + 2) * sizeof(char *));

	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "key ring");
	*v = grown;
	if ((grown[*n] = strdup(s)) == NULL)
		return berth_error_set(err, ENOMEM, "key ring");
	grown[++*n] = NULL;
	return 0;
}

/* The ring holds only the keys imported into it: every key and subkey of it
 * may sign, and the first expiry among them ends the results kept. */
static int list_signers(trust_gpg *g, berth_error **err)
{
	gpgme_key_t key = NULL;
	gpgme_error_t e = lib.op_keylist_start(g->ctx, NULL, 0);
	size_t n = 0;
	int ret = 0;

	g->expires = 0;
	while (e == 0 && ret == 0 && (e = lib.op_keylist_next(g->ctx, &key)) == 0) {
		for (gpgme_subkey_t k = key->subkeys; ret == 0 && k; k = k->next) {
			if (k->fpr)
				ret = strv_add(&g->signers, &n, k->fpr, err);
			if (k->expires > 0 && (g->expires == 0 || k->expires < g->expires))
				g->expires = k->expires;
		}
		lib.key_unref(key);
	}
	lib.op_keylist_end(g->ctx);
	if (ret < 0)
		return ret;
	if (e && gpgme_err_code(e) != GPG_ERR_EOF)
		return gpgme_failure(err, e, "key ring");
	if (n == 0)
		return berth_error_request(err, EINVAL, "key ring: no key in it");
	return 0;
}

static int use_home(trust_gpg *g, const char *home, berth_error **err)
{
	gpgme_error_t e = lib.set_engine_info(g->ctx, GPGME_PROTOCOL_OpenPGP, NULL, home);

	return e ? gpgme_failure(err, e, "gpgme") : 0;
}

/* public keys need no agent (without no-autostart gpg starts one per key
 * ring); berth checks the signer itself, so no trust database either */
static const char gpg_conf[] = "no-autostart\ntrust-model always\nno-auto-check-trustdb\n";

/* Makes HOME (a new, empty directory) a key ring of KEYS. */
static int fill_keyring(trust_gpg *g, const char *home, const trust_keys *keys, berth_error **err)
{
	_cleanup_close_ int fd = open(home, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return berth_error_set(err, errno, "key ring \"%s\"", home);
	if (fs_write_file_fresh(fd, "gpg.conf", gpg_conf, sizeof(gpg_conf) - 1, 0600, err) < 0 ||
	    use_home(g, home, err) < 0)
		return -1;
	for (size_t i = 0; i < keys->n; i++)
		if ((ret = import_keys(g->ctx, &keys->items[i], err)) < 0)
			return ret;
	return list_signers(g, err);
}

static char *temp_dir(const char *parent, const char *prefix, berth_error **err)
{
	char *dir = NULL;

	if (asprintf(&dir, "%s/%sXXXXXX", parent, prefix) < 0) {
		berth_error_set(err, ENOMEM, "key ring");
		return NULL;
	}
	if (mkdtemp(dir) == NULL) {
		berth_error_set(err, errno, "key ring \"%s\"", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

#define KEYRING_INFO "berth-keyring.json"

/* The ring's signers and expiry, as fill_keyring found them. */
static int save_info(const trust_gpg *g, const char *home, berth_error **err)
{
	_cleanup_json_ json_t *j = json_pack("{s:[], s:I}", "signers", "expires", (json_int_t)g->expires);
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = open(home, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	for (char **s = g->signers; j && s && *s; s++)
		if (json_array_append_new(json_object_get(j, "signers"), json_string(*s)) < 0)
			return berth_error_set(err, ENOMEM, "key ring");
	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL)
		return berth_error_set(err, ENOMEM, "key ring");
	if (fd < 0)
		return berth_error_set(err, errno, "key ring \"%s\"", home);
	return fs_write_file_atomic(fd, KEYRING_INFO, text, strlen(text), 0600, err);
}

/* 0 with G's signers and expiry when HOME is a finished key ring; -1 (and
 * no error) when it does not exist; -1 and ERR when it is broken. */
static int load_info(trust_gpg *g, const char *home, berth_error **err)
{
	_cleanup_free_ char *path = fs_path_join(home, KEYRING_INFO), *text = NULL;
	_cleanup_json_ json_t *j = NULL;
	json_t *signers = NULL, *v;
	json_int_t expires = 0;
	size_t len = 0, i, n = 0;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "key ring");
	if (fs_read_file(path, &text, &len, err) < 0) {
		if ((*err)->code == ENOENT)
			berth_error_free(err);
		return -1;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || json_unpack(j, "{s:o, s:I}", "signers", &signers, "expires", &expires) < 0 ||
	    !json_is_array(signers) || json_array_size(signers) == 0)
		return berth_error_request(err, EINVAL, "key ring \"%s\": %s does not parse", home, KEYRING_INFO);
	json_array_foreach(signers, i, v) {
		if (!json_is_string(v))
			return berth_error_request(err, EINVAL, "key ring \"%s\": %s does not parse", home,
						   KEYRING_INFO);
		if (strv_add(&g->signers, &n, json_string_value(v), err) < 0)
			return -1;
	}
	g->expires = expires;
	return 0;
}

/* CACHE_DIR/keyrings/HEX: used when it exists, else made in a temp
 * directory beside it and renamed into place (two pulls that make it at
 * once: the first rename wins, the other uses it). */
static int open_kept(trust_gpg *g, const trust_keys *keys, const char *cache_dir, berth_error **err)
{
	_cleanup_free_ char *parent = NULL, *tmp = NULL;
	berth_error *ignored = NULL;

	if (asprintf(&parent, "%s/keyrings", cache_dir) < 0 ||
	    asprintf(&g->home, "%s/%s", parent, digest_hex(keys->digest)) < 0)
		return berth_error_set(err, ENOMEM, "key ring");
	if (load_info(g, g->home, err) == 0)
		return use_home(g, g->home, err);
	if (*err) {
		/* a ring whose record does not read is made again */
		berth_debug("trust: %s; made again", (*err)->msg);
		berth_error_free(err);
		strv_free(move_ptr(g->signers));
		if (fs_remove_tree(g->home, err) < 0)
			return -1;
	}
	if (fs_mkdir_p(parent, 0700, err) < 0 || (tmp = temp_dir(parent, ".tmp-", err)) == NULL)
		return -1;
	if (fill_keyring(g, tmp, keys, err) < 0 || save_info(g, tmp, err) < 0) {
		if (fs_remove_tree(tmp, &ignored) < 0)
			berth_error_free(&ignored);
		return -1;
	}
	if (rename(tmp, g->home) < 0) {
		int saved = errno;
		if (fs_remove_tree(tmp, &ignored) < 0)
			berth_error_free(&ignored);
		if (saved != EEXIST && saved != ENOTEMPTY)
			return berth_error_set(err, saved, "key ring \"%s\"", g->home);
	}
	berth_debug("trust: key ring %s made for %zu key sources", g->home, keys->n);
	return use_home(g, g->home, err);
}

int trust_gpg_open_keyring(const trust_keys *keys, const char *cache_dir, trust_gpg **out, berth_error **err)
{
	trust_gpg *g = NULL;
	const char *tmp = getenv("TMPDIR");
	gpgme_error_t e;
	int ret;

	*out = NULL;
	if (ready(err) < 0)
		return -1;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return berth_error_set(err, ENOMEM, "key ring");
	e = lib.new_ctx(&g->ctx);
	if (e == 0)
		e = lib.set_protocol(g->ctx, GPGME_PROTOCOL_OpenPGP);
	if (e)
		ret = gpgme_failure(err, e, "gpgme");
	else if (cache_dir)
		ret = open_kept(g, keys, cache_dir, err);
	else if ((g->home = temp_dir(tmp && tmp[0] == '/' ? tmp : "/tmp", "berth-gpg-", err)) == NULL)
		ret = -1;
	else {
		g->throwaway = true;
		ret = fill_keyring(g, g->home, keys, err);
	}
	if (ret < 0) {
		trust_gpg_close(g);
		return ret;
	}
	*out = g;
	return 0;
}

static bool signer_trusted(const trust_gpg *g, const char *fpr)
{
	for (char **s = g->signers; fpr && s && *s; s++)
		if (strcasecmp(*s, fpr) == 0)
			return true;
	return false;
}

int trust_gpg_verify(trust_gpg *g, const void *sig, size_t len, char **payload, size_t *payload_len,
		     long long *not_after, berth_error **err)
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
	*not_after = g->expires;
	if (s->exp_timestamp > 0 && (*not_after == 0 || (long long)s->exp_timestamp < *not_after))
		*not_after = (long long)s->exp_timestamp;
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
