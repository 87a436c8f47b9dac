/* signedIdentity rules: does the identity a signature claims fit the image?
 * The semantics are containers-policy.json(5)'s and containers/image's
 * (policy_reference_match.go): references compare in normalised form. */
#include "image/trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "util/cleanup.h"

typedef struct parsed_ref {
	image_ref ref;
	char *repository; /* "host/repo" */
	char *full;	  /* "host/repo:tag", "host/repo@digest" or "host/repo:tag@digest" */
	bool name_only;	  /* neither a tag nor a digest was written */
} parsed_ref;

static void parsed_ref_free(parsed_ref *p)
{
	image_ref_free(&p->ref);
	free(p->repository);
	free(p->full);
}

static bool parse(const char *text, parsed_ref *out)
{
	berth_error *e = NULL;
	const char *last = strrchr(text, '/');

	*out = (parsed_ref){ 0 };
	if (image_ref_parse(text, &out->ref, &e) < 0) {
		berth_error_free(&e);
		return false;
	}
	out->name_only = strchr(text, '@') == NULL && strchr(last ? last : text, ':') == NULL;
	if (out->name_only) {
		free(out->ref.tag);
		out->ref.tag = NULL;
	}
	out->repository = image_ref_repository(&out->ref);
	if (asprintf(&out->full, "%s%s%s%s%s", out->repository ? out->repository : "", out->ref.tag ? ":" : "",
		     out->ref.tag ? out->ref.tag : "", out->ref.digest ? "@" : "",
		     out->ref.digest ? out->ref.digest : "") < 0)
		out->full = NULL;
	if (out->repository == NULL || out->full == NULL) {
		parsed_ref_free(out);
		*out = (parsed_ref){ 0 };
		return false;
	}
	return true;
}

char *trust_identity_of(const char *reference, berth_error **err)
{
	parsed_ref p;
	char *out = NULL;

	if (!parse(reference, &p)) {
		berth_error_request(err, EINVAL, "invalid reference \"%s\"", reference);
		return NULL;
	}
	/* containers/image's docker references carry a tag or a digest, not both */
	if (asprintf(&out, "%s%s%s", p.repository, p.ref.digest ? "@" : ":",
		     p.ref.digest ? p.ref.digest : (p.ref.tag ? p.ref.tag : "latest")) < 0) {
		out = NULL;
		berth_error_set(err, ENOMEM, "identity");
	}
	parsed_ref_free(&p);
	return out;
}

static bool match_repo_digest_or_exact(const parsed_ref *intended, const parsed_ref *signature)
{
	if (intended->ref.digest)
		return strcmp(intended->repository, signature->repository) == 0;
	if (intended->ref.tag)
		return !signature->name_only && strcmp(intended->full, signature->full) == 0;
	return false;
}

/* containers/image's refMatchesPrefix: PREFIX followed by the end, '/', ':' or '@'. */
static bool ref_matches_prefix(const char *ref, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(ref, prefix, n) != 0)
		return false;
	return ref[n] == '\0' || ref[n] == '/' || ref[n] == ':' || ref[n] == '@';
}

static bool match_remapped(const trust_identity *rule, const parsed_ref *intended, const parsed_ref *signature)
{
	_cleanup_free_ char *remapped = NULL;
	parsed_ref r;
	bool ok;

	if (!ref_matches_prefix(intended->full, rule->prefix))
		return match_repo_digest_or_exact(intended, signature);
	if (asprintf(&remapped, "%s%s", rule->signed_prefix, intended->full + strlen(rule->prefix)) < 0)
		return false;
	if (!parse(remapped, &r))
		return false;
	ok = match_repo_digest_or_exact(&r, signature);
	parsed_ref_free(&r);
	return ok;
}

bool trust_identity_matches(const trust_identity *rule, const char *intended_text, const char *signed_text)
{
	parsed_ref intended = { 0 }, signature = { 0 }, given = { 0 };
	bool ok = false;

	if (!parse(signed_text, &signature))
		return false;
	if (!parse(intended_text, &intended)) {
		parsed_ref_free(&signature);
		return false;
	}
	switch (rule->type) {
	case TRUST_MATCH_EXACT:
		ok = !intended.name_only && !signature.name_only && strcmp(intended.full, signature.full) == 0;
		break;
	case TRUST_MATCH_REPO_DIGEST_OR_EXACT:
		ok = match_repo_digest_or_exact(&intended, &signature);
		break;
	case TRUST_MATCH_REPOSITORY:
		ok = strcmp(intended.repository, signature.repository) == 0;
		break;
	case TRUST_EXACT_REFERENCE:
		ok = parse(rule->reference, &given) && !signature.name_only && strcmp(given.full, signature.full) == 0;
		break;
	case TRUST_EXACT_REPOSITORY:
		ok = parse(rule->reference, &given) && strcmp(given.repository, signature.repository) == 0;
		break;
	case TRUST_REMAP_IDENTITY:
		ok = match_remapped(rule, &intended, &signature);
		break;
	}
	parsed_ref_free(&given);
	parsed_ref_free(&intended);
	parsed_ref_free(&signature);
	return ok;
}

static int strv_push(char ***v, size_t *n, char *s)
{
	char **grown;

	if (s == NULL || (grown = realloc(*v, (*n + 2) * sizeof(char *))) == NULL) {
		free(s);
		return -1;
	}
	*v = grown;
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	return 0;
}

char **trust_identity_namespaces(const char *identity)
{
	char **v = NULL;
	size_t n = 0, len = strcspn(identity, "@");
	const char *slash = strchr(identity, '/'), *last = strrchr(identity, '/');
	size_t host_len = slash ? (size_t)(slash - identity) : strlen(identity);
	int ret = strv_push(&v, &n, strdup(identity));

	/* the repository: without "@digest" or ":tag" */
	if (identity[len] != '@' && last && strchr(last, ':'))
		len = (size_t)(strchr(last, ':') - identity);
	while (ret == 0 && len > 0) {
		if (len != strlen(identity))
			ret = strv_push(&v, &n, strndup(identity, len));
		while (len > 0 && identity[len - 1] != '/')
			len--;
		if (len > 0)
			len--;
	}
	for (const char *dot = memchr(identity, '.', host_len); ret == 0 && dot;
	     dot = memchr(dot + 1, '.', host_len - (size_t)(dot + 1 - identity))) {
		char *star = NULL;
		if (asprintf(&star, "*.%.*s", (int)(host_len - (size_t)(dot + 1 - identity)), dot + 1) < 0)
			star = NULL;
		ret = strv_push(&v, &n, star);
	}
	if (ret < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return NULL;
	}
	return v;
}
