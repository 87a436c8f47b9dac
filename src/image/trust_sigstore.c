/* Sigstore attachments in the registry, as cosign and containers/image
 * store them: an OCI manifest tagged "sha256-HEX.sig" in the image's
 * repository, one layer per signature, each layer's blob the payload
 * (application/vnd.dev.cosign.simplesigning.v1+json) and its annotation
 * "dev.cosignproject.cosign/signature" the base64 signature. */
#include "image/trust_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "image/manifest.h"
#include "image/registry_http.h"
#include "util/cleanup.h"
#include "util/log.h"

#define SIGSTORE_LAYER_TYPE	"application/vnd.dev.cosign.simplesigning.v1+json"
#define SIGSTORE_ANNOTATION	"dev.cosignproject.cosign/signature"
#define OCI_MANIFEST_TYPE	"application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG_TYPE		"application/vnd.oci.image.config.v1+json"
#define ATTACHMENT_MAX_LAYERS	TRUST_SIGNATURES_MAX
#define ATTACHMENT_MANIFEST_MAX (1u << 20)

/* "sha256-HEX.sig" (heap) */
static char *attachment_tag(const char *digest)
{
	const char *colon = strchr(digest, ':');
	char *out = NULL;

	if (colon == NULL || asprintf(&out, "%.*s-%s.sig", (int)(colon - digest), digest, colon + 1) < 0)
		return NULL;
	return out;
}

/* GET URL into memory: 0 with the body, 1 on 404, <0 otherwise. */
static int get(registry_conn *conn, const char *url, const char *accept, size_t max, const char *what,
	       registry_response *resp, berth_error **err)
{
	registry_request req = {
		.method = "GET", .url = url, .accept = accept, .upload_fd = -1, .max_body = max, .what = what
	};

	*resp = (registry_response){ 0 };
	if (registry_do(conn, &req, resp, err) < 0)
		return -1;
	if (resp->status == 404) {
		registry_response_free(resp);
		return 1;
	}
	if (resp->status != 200) {
		int ret = registry_status_error(resp, what, err);
		registry_response_free(resp);
		return ret;
	}
	return 0;
}

/* The attachment's manifest: 0 with it parsed, 1 when there is none. */
static int attachment_manifest(registry_conn *conn, const char *digest, json_t **out, berth_error **err)
{
	_cleanup_free_ char *tag = attachment_tag(digest), *path = NULL;
	registry_response resp;
	int ret;

	*out = NULL;
	if (tag == NULL || (path = registry_path(conn->client, "manifests", tag)) == NULL)
		return berth_error_set(err, ENOMEM, "sigstore attachment");
	ret = get(conn, path, OCI_MANIFEST_TYPE, ATTACHMENT_MANIFEST_MAX, "sigstore attachment", &resp, err);
	if (ret != 0)
		return ret;
	*out = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
	registry_response_free(&resp);
	if (!json_is_object(*out) || !json_is_array(json_object_get(*out, "layers"))) {
		json_decref(*out);
		*out = NULL;
		return berth_error_request(err, EBADMSG, "sigstore attachment %s: not an image manifest", tag);
	}
	return 0;
}

static int fetch_layer(registry_conn *conn, json_t *layer, trust_signatures *out, berth_error **err)
{
	const char *type = json_string_value(json_object_get(layer, "mediaType"));
	const char *digest = json_string_value(json_object_get(layer, "digest"));
	const char *sig =
	    json_string_value(json_object_get(json_object_get(layer, "annotations"), SIGSTORE_ANNOTATION));
	_cleanup_free_ char *path = NULL;
	char got[DIGEST_STRING_MAX];
	registry_response resp;
	int ret;

	if (type == NULL || strcmp(type, SIGSTORE_LAYER_TYPE) != 0 || sig == NULL)
		return 0; /* something else attached (an attestation, ...) */
	if (digest == NULL || digest_validate(digest, err) < 0)
		return berth_error_request(err, EBADMSG, "sigstore attachment: a layer without a valid digest");
	if ((path = registry_path(conn->client, "blobs", digest)) == NULL)
		return berth_error_set(err, ENOMEM, "sigstore attachment");
	ret = get(conn, path, NULL, TRUST_SIGNATURE_MAX_SIZE, "sigstore signature payload", &resp, err);
	if (ret == 1)
		return registry_error(err, ENOENT, "sigstore signature payload %s: blob unknown", digest);
	if (ret < 0)
		return ret;
	digest_buffer(resp.body ? resp.body : "", resp.len, got);
	if (strcmp(got, digest) != 0)
		ret = registry_error(err, EBADMSG, "sigstore signature payload %s: its bytes hash to %s", digest, got);
	else
		ret = trust_signatures_add_sigstore(out, resp.body ? resp.body : "", resp.len, sig, err);
	registry_response_free(&resp);
	return ret;
}

int trust_sigstore_fetch(registry_client *client, const char *digest, trust_signatures *out, berth_error **err)
{
	registry_conn conn;
	json_t *manifest = NULL, *layers = NULL, *layer;
	size_t i;
	int ret;

	if (registry_conn_init(&conn, client, err) < 0)
		return -1;
	ret = attachment_manifest(&conn, digest, &manifest, err);
	if (ret == 0)
		layers = json_object_get(manifest, "layers");
	if (json_array_size(layers) > ATTACHMENT_MAX_LAYERS)
		ret = registry_error(err, E2BIG, "sigstore attachment: more than %d layers", ATTACHMENT_MAX_LAYERS);
	json_array_foreach(ret == 0 ? layers : NULL, i, layer) {
		if ((ret = fetch_layer(&conn, layer, out, err)) < 0)
			break;
	}
	json_decref(manifest);
	registry_conn_cleanup(&conn);
	return ret < 0 ? ret : 0;
}

/* ---- attaching ---- */

static int upload_blob(registry_conn *conn, const char *data, size_t len, const char *digest, berth_error **err)
{
	_cleanup_free_ char *start = NULL, *put = NULL;
	registry_request req = { .method = "POST", .upload_fd = -1, .what = "sigstore blob" };
	registry_response resp = { 0 };
	int ret = 0;

	if (asprintf(&start, "/v2/%s/blobs/uploads/", conn->client->repository) < 0)
		return berth_error_set(err, ENOMEM, "sigstore blob");
	req.url = start;
	if (registry_do(conn, &req, &resp, err) < 0)
		return -1;
	if (resp.status != 202 || resp.location == NULL) {
		ret = registry_status_error(&resp, "start upload", err);
		registry_response_free(&resp);
		return ret;
	}
	if (asprintf(&put, "%s%sdigest=sha256%%3A%s", resp.location, strchr(resp.location, '?') ? "&" : "?",
		     digest_hex(digest)) < 0)
		put = NULL;
	registry_response_free(&resp);
	if (put == NULL)
		return berth_error_set(err, ENOMEM, "sigstore blob");
	req = (registry_request){ .method = "PUT",
				  .url = put,
				  .content_type = "application/octet-stream",
				  .data = data,
				  .data_len = len,
				  .upload_fd = -1,
				  .what = "sigstore blob" };
	if (registry_do(conn, &req, &resp, err) < 0)
		return -1;
	if (resp.status != 201 && resp.status != 204)
		ret = registry_status_error(&resp, "sigstore blob", err);
	registry_response_free(&resp);
	return ret;
}

/* containers/image's config of an attachment: the layers as diff_ids. */
static json_t *attachment_config(json_t *layers)
{
	json_t *diff_ids = json_array(), *layer;
	size_t i;

	json_array_foreach(layers, i, layer)
		json_array_append(diff_ids, json_object_get(layer, "digest"));
	return json_pack("{s:s, s:s, s:s, s:{s:s, s:o}, s:{}}", "architecture", "", "os", "", "created",
			 "0001-01-01T00:00:00Z", "rootfs", "type", "layers", "diff_ids", diff_ids, "config");
}

int trust_sigstore_attach(registry_client *client, const char *digest, const char *payload, size_t len,
			  const char *signature, berth_error **err)
{
	_cleanup_free_ char *tag = attachment_tag(digest), *path = NULL, *config_text = NULL, *manifest_text = NULL;
	char payload_digest[DIGEST_STRING_MAX], config_digest[DIGEST_STRING_MAX];
	registry_request req = { .method = "PUT", .upload_fd = -1, .content_type = OCI_MANIFEST_TYPE };
	registry_response resp = { 0 };
	json_t *manifest = NULL, *layers, *config = NULL;
	registry_conn conn;
	int ret;

	if (tag == NULL || (path = registry_path(client, "manifests", tag)) == NULL)
		return berth_error_set(err, ENOMEM, "sigstore attachment");
	if (registry_conn_init(&conn, client, err) < 0)
		return -1;
	ret = attachment_manifest(&conn, digest, &manifest, err);
	layers = ret == 0 ? json_incref(json_object_get(manifest, "layers")) : json_array();
	if (ret > 0)
		ret = 0;
	digest_buffer(payload, len, payload_digest);
	json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", SIGSTORE_LAYER_TYPE, "digest",
						payload_digest, "size", (json_int_t)len, "annotations",
						SIGSTORE_ANNOTATION, signature));
	config = attachment_config(layers);
	config_text = config ? json_dumps(config, JSON_COMPACT) : NULL;
	if (ret == 0 && config_text == NULL)
		ret = berth_error_set(err, ENOMEM, "sigstore attachment");
	if (ret == 0) {
		digest_buffer(config_text, strlen(config_text), config_digest);
		ret = upload_blob(&conn, payload, len, payload_digest, err);
	}
	if (ret == 0)
		ret = upload_blob(&conn, config_text, strlen(config_text), config_digest, err);
	json_decref(manifest);
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType", OCI_MANIFEST_TYPE,
			     "config", "mediaType", OCI_CONFIG_TYPE, "digest", config_digest, "size",
			     (json_int_t)(config_text ? strlen(config_text) : 0), "layers", layers);
	if (ret == 0 && (manifest_text = json_dumps(manifest, JSON_COMPACT)) == NULL)
		ret = berth_error_set(err, ENOMEM, "sigstore attachment");
	if (ret == 0) {
		req.url = path;
		req.data = manifest_text;
		req.data_len = strlen(manifest_text);
		ret = registry_do(&conn, &req, &resp, err);
		if (ret == 0 && resp.status != 201 && resp.status != 200)
			ret = registry_status_error(&resp, "put sigstore attachment", err);
		registry_response_free(&resp);
	}
	if (ret == 0)
		berth_debug("trust: sigstore signature of %s attached as %s", digest, tag);
	json_decref(manifest);
	json_decref(layers);
	json_decref(config);
	registry_conn_cleanup(&conn);
	return ret;
}
