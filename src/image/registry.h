/* Registry client (OCI distribution spec, Docker registry v2) and the pull
 * and push built on it.
 *
 * HTTP is libcurl. TLS is verified by default; TLS_VERIFY false also allows
 * plain http (a local registry). Auth: anonymous, HTTP basic, or bearer
 * tokens fetched from the realm a 401's WWW-Authenticate names, with the
 * credentials of the auth file (image/auth.h). */
#ifndef BERTH_IMAGE_REGISTRY_H
#define BERTH_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "image/images.h"
#include "image/store.h"
#include "image/trust.h"
#include "util/error.h"

typedef struct registry_options {
	bool tls_verify;       /* true unless --tls-verify=false */
	const char *auth_file; /* NULL: the default (image/auth.h) */
	const char *cert_dir;  /* extra CA certificates (NULL: system) */
	const char *creds;     /* "USER[:PASSWORD]" overriding the auth file, or NULL */
	int jobs;	       /* parallel blob transfers; 0 means 3 */
	bool quiet;	       /* no progress output even on a TTY */
	/* called as each blob of a pull or push is done, from the transfer
	 * threads: VERB "Copied blob", "Blob exists" or "Mounted blob", DIGEST
	 * without "sha256:" (the API streams docker's per-layer lines from
	 * it); NULL: none */
	void (*on_blob)(void *arg, const char *verb, const char *digest, int64_t size);
	void *on_blob_arg;
} registry_options;

typedef struct pull_options {
	registry_options registry;
	const char *platform; /* "os/arch[/variant]", NULL for this host's */
	unpack_options unpack;
	trust_options trust; /* the signature policy, checked before anything is stored */
} pull_options;

/* Pulls REFERENCE ("name[:tag]", "name@sha256:..."): the manifest (for an
 * index, the one for the platform), config and layers, each verified against
 * its digest; blobs already in the store are not downloaded again. The
 * signature policy (image/trust.h) is checked on the manifest the reference
 * names before anything is stored; the signatures it read are kept with the
 * image for run and create to check again. Unpacks
 * the layers into snapshots and names the image. OUT (may be NULL) describes
 * the pulled image. */
int image_pull(store *s, const char *reference, const pull_options *opts, image_info *out, berth_error **err);

typedef struct push_options {
	registry_options registry;
	const char *sign_by;		  /* a GPG key: sign the pushed manifest (simple signing), or NULL */
	const char *sign_by_sigstore_key; /* a PEM private key: sign with sigstore, or NULL */
	trust_options trust;		  /* registries.d: where the signature goes */
} push_options;

/* Pushes the local image SOURCE to DESTINATION (a reference; NULL means
 * SOURCE's own name): blobs the registry has are skipped, blobs it has in
 * another repository of the same registry are mounted, then the manifest is
 * put. With SIGN_BY, the signature is made before anything is uploaded and
 * stored in the lookaside after the manifest is put. OUT_DIGEST (may be
 * NULL) gets the pushed manifest's digest. */
int image_push(store *s, const char *source, const char *destination, const push_options *opts,
	       char out_digest[DIGEST_STRING_MAX], berth_error **err);

typedef struct image_sign_options {
	registry_options registry;
	const char *sign_by;		  /* a GPG key (simple signing), or NULL */
	const char *sign_by_sigstore_key; /* a PEM private key (sigstore), or NULL */
	const char *directory;		  /* GPG: write under this directory, not the lookaside (absolute) */
	trust_options trust;		  /* registries.d: where the signature goes */
} image_sign_options;

/* Signs the image REFERENCE ("[docker://]host/repo:tag" or "@sha256:...")
 * as it is in its registry, like `podman image sign`: the manifest the
 * reference names is fetched and hashed; a GPG signature goes to
 * DIRECTORY/REPO@sha256=HEX/signature-N, else to the lookaside
 * (lookaside-staging first) that registries.d names for it (file:///
 * only); a sigstore signature is attached in the registry (registries.d must
 * enable use-sigstore-attachments). */
int image_sign(const char *reference, const image_sign_options *opts, berth_error **err);

/* Checks USER/PASSWORD against SERVER ("host[:port]") and stores them in the
 * auth file. */
int registry_login(const char *server, const char *user, const char *password, const registry_options *opts,
		   berth_error **err);
/* Removes SERVER's credentials (ALL: every server's). */
/* The same check without storing anything (the API's POST /auth: the
 * client keeps the credentials and sends them with each request). */
int registry_check_login(const char *server, const char *user, const char *password, const registry_options *opts,
			 berth_error **err);
int registry_logout(const char *server, bool all, const registry_options *opts, berth_error **err);

#endif
