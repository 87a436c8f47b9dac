/* The policy check of run and create for an image already in the store:
 * the signatures pull kept (trust_record_*) against today's policy. */
#include "image/trust_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "image/images.h"
#include "image/reference.h"
#include "util/cleanup.h"
#include "util/log.h"

/* The identities to check: TEXT's own when it names the image (a name of it,
 * or pinned by digest), else every name of the image. */
static char **identities_of(const char *text, const image_info *info)
{
	_cleanup_strv_ char **out = NULL;
	_cleanup_free_ char *name = NULL;
	berth_error *ignored = NULL;
	image_ref ref = { 0 };
	size_t n = 0;
	bool own = false;

	if (image_ref_parse(text, &ref, &ignored) == 0) {
		name = image_ref_name(&ref);
		own = ref.digest != NULL;
		for (char **nm = info->names; name && !own && nm && *nm; nm++)
			own = strcmp(*nm, name) == 0;
		image_ref_free(&ref);
	}
	berth_error_free(&ignored);
	out = calloc(1, sizeof(char *));
	if (out == NULL)
		return NULL;
	for (char *const *nm = own ? (char *const[]){ (char *)text, NULL } : info->names; nm && *nm; nm++) {
		char **grown = realloc(out, (n + 2) * sizeof(char *));
		if (grown == NULL)
			return NULL;
		out = grown;
		out[n + 1] = NULL;
		if ((out[n] = trust_identity_of(*nm, &ignored)) == NULL) {
			berth_error_free(&ignored);
			continue;
		}
		n++;
	}
	return move_ptr(out);
}

static bool any_needs_signatures(const trust_policy *p, char **identities)
{
	if (identities[0] == NULL)
		return trust_scope_needs_signatures(trust_policy_lookup(p, "docker", NULL, NULL));
	for (char **id = identities; *id; id++)
		if (trust_scope_needs_signatures(trust_policy_lookup(p, "docker", *id, NULL)))
			return true;
	return false;
}

int trust_check_stored(const trust_options *o, const char *store_root, const char *text, const image_info *info,
		       berth_error **err)
{
	_cleanup_strv_ char **identities = NULL;
	char signed_digest[DIGEST_STRING_MAX];
	trust_signatures sigs = { 0 };
	trust_policy policy;
	int ret = 0;

	if (trust_policy_load(o->policy_path, o->rootless, &policy, err) < 0)
		return -1;
	if (policy.path == NULL) {
		berth_debug("trust: %s: no signature policy file, the built-in policy accepts anything", text);
		trust_policy_free(&policy);
		return 0; /* the built-in policy accepts anything */
	}
	identities = identities_of(text, info);
	if (identities == NULL)
		ret = berth_error_set(err, ENOMEM, "signature policy");
	snprintf(signed_digest, sizeof(signed_digest), "%s", info->manifest_digest);
	if (ret == 0 && any_needs_signatures(&policy, identities))
		ret = trust_record_load(store_root, info->manifest_digest, signed_digest, &sigs, err);
	if (ret == 0 && identities[0] == NULL)
		ret = trust_check(&policy, store_root, "docker", NULL, signed_digest, &sigs, err);
	/* one name the policy accepts is enough; the error is the first name's */
	for (size_t i = 0; ret == 0 && identities[i]; i++) {
		berth_error *e = NULL;
		if (trust_check(&policy, store_root, "docker", identities[i], signed_digest, &sigs, &e) == 0) {
			berth_error_free(err);
			break;
		}
		if (*err == NULL)
			*err = e;
		else
			berth_error_free(&e);
		if (identities[i + 1] == NULL)
			ret = -1;
	}
	trust_signatures_free(&sigs);
	trust_policy_free(&policy);
	return ret;
}

int trust_check_archive(const trust_options *o, bool directory, berth_error **err)
{
	static const char *const archives[] = { "docker-archive", "oci-archive", NULL };
	static const char *const layout[] = { "oci", NULL };
	trust_signatures none = { 0 };
	trust_policy policy;
	int ret = 0;

	if (trust_policy_load(o->policy_path, o->rootless, &policy, err) < 0)
		return -1;
	for (const char *const *t = directory ? layout : archives; ret == 0 && *t; t++) {
		const char *scope_name = NULL;
		const trust_scope *scope = trust_policy_lookup(&policy, *t, NULL, &scope_name);
		if (trust_scope_needs_signatures(scope))
			ret = berth_error_request(err, EPERM,
						  "the signature policy %s%s%s wants signatures for %s images (%s %s), "
						  "and archives carry none",
						  policy.path ? "\"" : "", policy.path ? policy.path : "built-in",
						  policy.path ? "\"" : "", *t, scope_name ? "scope" : "the",
						  scope_name ? (scope_name[0] ? scope_name : "\"\"") : "default");
		else
			ret = trust_check(&policy, NULL, *t, NULL, "", &none, err);
		if (ret < 0)
			berth_error_wrap(err, "%s", *t);
	}
	trust_policy_free(&policy);
	return ret;
}
