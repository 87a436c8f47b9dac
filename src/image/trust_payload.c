/* The "simple signing" payload (containers-signature(5)): the JSON that a
 * GPG signature signs and that the cosign simple-signing format reuses.
 *   {"critical": {"identity": {"docker-reference": "host/repo:tag"},
 *                 "image": {"docker-manifest-digest": "sha256:..."},
 *                 "type": "atomic container signature"},
 *    "optional": {"creator": "...", "timestamp": 1700000000}}
 * Like containers/image, unknown fields in "critical" are refused; "optional"
 * is free-form. */
#include "image/trust.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/digest.h"

static int bad(berth_error **err, const char *what)
{
	return berth_error_request(err, EBADMSG, "signature payload: %s", what);
}

/* OBJ must be an object with exactly the N keys given. */
static bool exact_keys(json_t *obj, size_t n, const char *const *keys)
{
	if (!json_is_object(obj) || json_object_size(obj) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (json_object_get(obj, keys[i]) == NULL)
			return false;
	return true;
}

int trust_payload_parse(const char *text, size_t len, const char *want_type, trust_payload *out, berth_error **err)
{
	static const char *const critical_keys[] = { "type", "image", "identity" };
	static const char *const image_keys[] = { "docker-manifest-digest" };
	static const char *const identity_keys[] = { "docker-reference" };
	json_t *root, *critical, *image, *identity, *optional;
	const char *type, *digest, *reference;
	berth_error *e = NULL;
	int ret = -1;

	*out = (trust_payload){ 0 };
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL || !json_is_object(root))
		goto out_bad_json;
	optional = json_object_get(root, "optional");
	if (json_object_size(root) != 1 + (optional != NULL) || (optional && !json_is_object(optional)) ||
	    !exact_keys(critical = json_object_get(root, "critical"), 3, critical_keys)) {
		ret = bad(err, "unexpected fields (want critical and optional; critical with type, image, identity)");
		goto out;
	}
	type = json_string_value(json_object_get(critical, "type"));
	if (type == NULL || strcmp(type, want_type) != 0) {
		ret = berth_error_request(err, EBADMSG, "signature payload: critical.type is not \"%s\"", want_type);
		goto out;
	}
	image = json_object_get(critical, "image");
	identity = json_object_get(critical, "identity");
	if (!exact_keys(image, 1, image_keys) || !exact_keys(identity, 1, identity_keys) ||
	    (digest = json_string_value(json_object_get(image, image_keys[0]))) == NULL ||
	    (reference = json_string_value(json_object_get(identity, identity_keys[0]))) == NULL) {
		ret = bad(err, "critical.image.docker-manifest-digest and critical.identity.docker-reference must be "
			       "the only fields, strings");
		goto out;
	}
	if (digest_validate(digest, &e) < 0) {
		berth_error_free(&e);
		ret = bad(err, "critical.image.docker-manifest-digest is not a digest");
		goto out;
	}
	out->manifest_digest = strdup(digest);
	out->docker_reference = strdup(reference);
	if (out->manifest_digest == NULL || out->docker_reference == NULL) {
		trust_payload_free(out);
		ret = berth_error_set(err, ENOMEM, "signature payload");
		goto out;
	}
	ret = 0;
	goto out;
out_bad_json:
	ret = bad(err, "not a JSON object");
out:
	json_decref(root);
	return ret;
}

char *trust_payload_create(const char *type, const char *reference, const char *digest, size_t *len, berth_error **err)
{
	json_t *j = json_pack("{s:{s:{s:s}, s:{s:s}, s:s}, s:{s:s, s:I}}", "critical", "identity", "docker-reference",
			      reference, "image", "docker-manifest-digest", digest, "type", type, "optional", "creator",
			      "berth", "timestamp", (json_int_t)time(NULL));
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (out == NULL) {
		berth_error_set(err, ENOMEM, "signature payload");
		return NULL;
	}
	*len = strlen(out);
	return out;
}

void trust_payload_free(trust_payload *p)
{
	free(p->docker_reference);
	free(p->manifest_digest);
	*p = (trust_payload){ 0 };
}
