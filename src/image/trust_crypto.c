/* Sigstore's signature primitive through OpenSSL libcrypto, opened with
 * dlopen on first use (as gpgme and libcurl are): an ECDSA (or RSA) signature
 * over the SHA-256 of the payload, DER-encoded, with keys in PEM. */
#include "image/trust_internal.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/dlib.h"
#include "util/fs.h"

#define CRYPTO_LIBRARY "libcrypto.so.3"

static struct {
	__typeof__(&BIO_new_mem_buf) bio_new_mem_buf;
	__typeof__(&BIO_free) bio_free;
	__typeof__(&PEM_read_bio_PUBKEY) read_pubkey;
	__typeof__(&PEM_read_bio_PrivateKey) read_private_key;
	__typeof__(&EVP_PKEY_free) pkey_free;
	__typeof__(&EVP_PKEY_get_base_id) pkey_base_id;
	__typeof__(&EVP_MD_CTX_new) md_ctx_new;
	__typeof__(&EVP_MD_CTX_free) md_ctx_free;
	__typeof__(&EVP_DigestVerifyInit) verify_init;
	__typeof__(&EVP_DigestVerify) verify;
	__typeof__(&EVP_DigestSignInit) sign_init;
	__typeof__(&EVP_DigestSign) sign;
	__typeof__(&EVP_sha256) sha256;
	__typeof__(&ERR_get_error) get_error;
	__typeof__(&ERR_error_string_n) error_string;
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static bool loaded;

static void load(void)
{
	const dlib_symbol symbols[] = {
		{ "BIO_new_mem_buf", (void **)&lib.bio_new_mem_buf },
		{ "BIO_free", (void **)&lib.bio_free },
		{ "PEM_read_bio_PUBKEY", (void **)&lib.read_pubkey },
		{ "PEM_read_bio_PrivateKey", (void **)&lib.read_private_key },
		{ "EVP_PKEY_free", (void **)&lib.pkey_free },
		{ "EVP_PKEY_get_base_id", (void **)&lib.pkey_base_id },
		{ "EVP_MD_CTX_new", (void **)&lib.md_ctx_new },
		{ "EVP_MD_CTX_free", (void **)&lib.md_ctx_free },
		{ "EVP_DigestVerifyInit", (void **)&lib.verify_init },
		{ "EVP_DigestVerify", (void **)&lib.verify },
		{ "EVP_DigestSignInit", (void **)&lib.sign_init },
		{ "EVP_DigestSign", (void **)&lib.sign },
		{ "EVP_sha256", (void **)&lib.sha256 },
		{ "ERR_get_error", (void **)&lib.get_error },
		{ "ERR_error_string_n", (void **)&lib.error_string },
	};

	loaded = dlib_open(CRYPTO_LIBRARY, "libssl3", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
			   sizeof(load_error)) == 0;
}

static int ready(berth_error **err)
{
	pthread_once(&load_once, load);
	return loaded ? 0 : berth_error_request(err, ENOTSUP, "%s", load_error);
}

/* The reason of the last OpenSSL failure ("" when none). */
static const char *openssl_reason(char *buf, size_t len)
{
	unsigned long e = lib.get_error();

	buf[0] = '\0';
	if (e)
		lib.error_string(e, buf, len);
	return buf;
}

static bool key_type_supported(EVP_PKEY *key)
{
	int id = lib.pkey_base_id(key);
	return id == EVP_PKEY_EC || id == EVP_PKEY_RSA;
}

int trust_sigstore_verify_raw(const void *public_key_pem, size_t key_len, const void *payload, size_t payload_len,
			      const unsigned char *sig, size_t sig_len, berth_error **err)
{
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *ctx = NULL;
	BIO *bio;
	char why[256];
	int ret = 0;

	if (ready(err) < 0)
		return -1;
	bio = lib.bio_new_mem_buf(public_key_pem, (int)key_len);
	if (bio)
		key = lib.read_pubkey(bio, NULL, NULL, NULL);
	if (bio)
		lib.bio_free(bio);
	if (key == NULL)
		return berth_error_request(err, EINVAL, "not a PEM public key: %s", openssl_reason(why, sizeof(why)));
	if (!key_type_supported(key))
		ret = berth_error_request(err, ENOTSUP, "only ECDSA and RSA public keys are supported");
	else if ((ctx = lib.md_ctx_new()) == NULL || lib.verify_init(ctx, NULL, lib.sha256(), NULL, key) != 1)
		ret = berth_error_request(err, EIO, "verify: %s", openssl_reason(why, sizeof(why)));
	else if (lib.verify(ctx, sig, sig_len, payload, payload_len) != 1)
		ret = berth_error_request(err, EPERM, "the signature does not verify with the requirement's key");
	lib.md_ctx_free(ctx);
	lib.pkey_free(key);
	return ret;
}

int trust_sigstore_sign_raw(const char *private_key_path, const void *payload, size_t payload_len, unsigned char **sig,
			    size_t *sig_len, berth_error **err)
{
	_cleanup_free_ char *pem = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t len = 0;
	BIO *bio;
	char why[256];
	int ret = 0;

	*sig = NULL;
	if (ready(err) < 0 || fs_read_file(private_key_path, &pem, &len, err) < 0)
		return -1;
	if (strstr(pem, "ENCRYPTED COSIGN PRIVATE KEY") || strstr(pem, "ENCRYPTED SIGSTORE PRIVATE KEY"))
		return berth_error_request(err, ENOTSUP,
					   "private key \"%s\": cosign's encrypted key format is not supported; use a "
					   "PEM key (openssl ecparam -name prime256v1 -genkey -noout)",
					   private_key_path);
	bio = lib.bio_new_mem_buf(pem, (int)len);
	if (bio)
		key = lib.read_private_key(bio, NULL, NULL, NULL);
	if (bio)
		lib.bio_free(bio);
	if (key == NULL)
		return berth_error_request(err, EINVAL, "private key \"%s\": not an unencrypted PEM key: %s",
					   private_key_path, openssl_reason(why, sizeof(why)));
	if (!key_type_supported(key))
		ret = berth_error_request(err, ENOTSUP, "private key \"%s\": only ECDSA and RSA keys are supported",
					  private_key_path);
	else if ((ctx = lib.md_ctx_new()) == NULL || lib.sign_init(ctx, NULL, lib.sha256(), NULL, key) != 1 ||
		 lib.sign(ctx, NULL, sig_len, payload, payload_len) != 1 || (*sig = malloc(*sig_len)) == NULL ||
		 lib.sign(ctx, *sig, sig_len, payload, payload_len) != 1) {
		free(*sig);
		*sig = NULL;
		ret = berth_error_request(err, EIO, "sign with \"%s\": %s", private_key_path,
					  openssl_reason(why, sizeof(why)));
	}
	lib.md_ctx_free(ctx);
	lib.pkey_free(key);
	return ret;
}
