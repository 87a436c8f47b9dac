/* berth image sign: signs images already in a registry, as `podman image
 * sign` does: the manifest the reference names is read from the registry
 * (its bytes hashed here), then signed with GPG (simple signing, to the
 * lookaside or a directory) or with a sigstore key (attached in the
 * registry). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/registry.h"
#include "image/registry_http.h"
#include "util/cleanup.h"
#include "util/log.h"

/* The digest of the manifest REF names, from its bytes. */
static int manifest_digest(registry_client *client, const image_ref *ref, char out[DIGEST_STRING_MAX],
			   berth_error **err)
{
	_cleanup_free_ char *path = registry_path(client, "manifests", image_ref_registry_reference(ref));
	registry_request req = { .method = "GET",
				 .accept = REGISTRY_MANIFEST_ACCEPT,
				 .upload_fd = -1,
				 .max_body = MANIFEST_MAX_SIZE,
				 .what = "manifest" };
	registry_response resp = { 0 };
	registry_conn conn = { 0 };
	int ret;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "manifest");
	req.url = path;
	if (registry_conn_init(&conn, client, err) < 0)
		return -1;
	ret = registry_do(&conn, &req, &resp, err);
	registry_conn_cleanup(&conn);
	if (ret == 0 && resp.status == 404)
		ret = registry_error(err, ENOENT, "manifest unknown: %s/%s:%s", ref->domain, ref->path,
				     image_ref_registry_reference(ref));
	else if (ret == 0 && resp.status != 200)
		ret = registry_status_error(&resp, "manifest", err);
	if (ret == 0) {
		digest_buffer(resp.body ? resp.body : "", resp.len, out);
		if (ref->digest && strcmp(ref->digest, out) != 0)
			ret = registry_error(err, EBADMSG,
					     "digest mismatch: the registry sent a manifest with digest %s", out);
	}
	registry_response_free(&resp);
	return ret;
}

static int sign_one(const char *reference, const image_sign_options *opts, berth_error **err)
{
	_cleanup_free_ char *identity = NULL, *base = NULL;
	char digest[DIGEST_STRING_MAX];
	trust_pending_signature pending = { 0 };
	registry_client *client = NULL;
	image_ref ref = { 0 };
	int ret;

	if (strncmp(reference, "docker://", 9) == 0)
		reference += 9;
	if (image_ref_parse(reference, &ref, err) < 0 || (identity = trust_identity_of(reference, err)) == NULL) {
		image_ref_free(&ref);
		return berth_error_wrap(err, "sign");
	}
	if (opts->directory && asprintf(&base, "file://%s%s%s", opts->directory,
					opts->directory[strlen(opts->directory) - 1] == '/' ? "" : "/", ref.path) < 0) {
		image_ref_free(&ref);
		return berth_error_set(err, ENOMEM, "sign");
	}
	/* sigstore attaches in the registry: the client must be allowed to push */
	ret = registry_client_open(ref.domain, ref.path, opts->sign_by_sigstore_key != NULL, &opts->registry, NULL,
				   &client, err);
	if (ret == 0)
		ret = manifest_digest(client, &ref, digest, err);
	if (ret < 0)
		berth_error_wrap(err, "sign %s", identity);
	else if (opts->sign_by_sigstore_key)
		ret = trust_sign_prepare_sigstore(&opts->trust, opts->sign_by_sigstore_key, identity, digest, &pending,
						  err);
	else if (base)
		ret = trust_sign_prepare_at(base, opts->sign_by, identity, digest, &pending, err);
	else
		ret = trust_sign_prepare(&opts->trust, opts->sign_by, identity, digest, &pending, err);
	if (ret == 0 && (ret = trust_sign_commit(&pending, client, err)) < 0)
		berth_error_wrap(err, "sign %s", identity);
	if (ret == 0)
		berth_debug("image sign: %s (%s) signed", identity, digest);
	trust_pending_signature_free(&pending);
	registry_client_free(client);
	image_ref_free(&ref);
	return ret;
}

int image_sign(const char *reference, const image_sign_options *opts, berth_error **err)
{
	if ((opts->sign_by == NULL) == (opts->sign_by_sigstore_key == NULL))
		return berth_error_request(err, EINVAL,
					   "sign: exactly one of --sign-by and --sign-by-sigstore-private-key");
	if (opts->directory && opts->sign_by_sigstore_key)
		return berth_error_request(err, EINVAL,
					   "sign: --directory is for GPG signatures (sigstore signatures are "
					   "attached in the registry)");
	if (opts->directory && opts->directory[0] != '/')
		return berth_error_request(err, EINVAL, "sign: --directory \"%s\": not an absolute path",
					   opts->directory);
	return sign_one(reference, opts, err);
}
