#include "image/reference.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/digest.h"
#include "util/cleanup.h"

#define DEFAULT_DOMAIN "docker.io"
#define NAME_MAX_LEN   255
#define TAG_MAX_LEN    128

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *c, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_alnum_lower(c[0]) || !is_alnum_lower(c[len - 1]))
		return false;
	while (i < len) {
		if (is_alnum_lower(c[i])) {
			i++;
			continue;
		}
		if (c[i] == '.' || (c[i] == '_' && (i + 1 >= len || c[i + 1] != '_'))) {
			i++;
		} else if (c[i] == '_' && c[i + 1] == '_') {
			i += 2;
		} else if (c[i] == '-') {
			while (i < len && c[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= len || !is_alnum_lower(c[i]))
			return false;
	}
	return true;
}

static bool valid_tag(const char *t)
{
	size_t len = strlen(t);

	if (len == 0 || len > TAG_MAX_LEN || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

static bool valid_domain(const char *d, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)d[i]) || d[i] == '.' || d[i] == '-' || d[i] == ':' || d[i] == '[' ||
		      d[i] == ']'))
			return false;
	return true;
}

static int check_path(const char *text, const char *path, berth_error **err)
{
	const char *p = path;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!valid_component(p, len)) {
			for (size_t i = 0; i < len; i++)
				if (isupper((unsigned char)p[i]))
					return berth_error_set(
					    err, EINVAL, "image reference \"%s\": repository name must be lowercase",
					    text);
			return berth_error_set(err, EINVAL,
					       "image reference \"%s\": invalid repository component \"%.*s\"", text,
					       (int)len, p);
		}
		if (!slash)
			break;
		p = slash + 1;
		if (*p == '\0')
			return berth_error_set(err, EINVAL, "image reference \"%s\": ends with \"/\"", text);
	}
	return 0;
}

int image_ref_parse(const char *text, image_ref *ref, berth_error **err)
{
	_cleanup_free_ char *copy = NULL;
	char *at, *name, *slash, *colon;

	memset(ref, 0, sizeof(*ref));
	if (text == NULL || text[0] == '\0')
		return berth_error_set(err, EINVAL, "empty image reference");
	if (strlen(text) > NAME_MAX_LEN + TAG_MAX_LEN + DIGEST_STRING_MAX)
		return berth_error_set(err, EINVAL, "image reference \"%.40s...\": too long", text);
	copy = strdup(text);
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "image reference");
	name = copy;
	if ((at = strchr(copy, '@')) != NULL) {
		*at = '\0';
		if (digest_validate(at + 1, err) < 0)
			return berth_error_wrap(err, "image reference \"%s\"", text);
		ref->digest = strdup(at + 1);
	}
	/* a tag is after the last ':' that follows the last '/' (a port is before a '/') */
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!valid_tag(colon + 1)) {
			image_ref_free(ref);
			return berth_error_set(err, EINVAL, "image reference \"%s\": invalid tag \"%s\"", text,
					       colon + 1);
		}
		ref->tag = strdup(colon + 1);
	}
	slash = strchr(name, '/');
	if (slash && (memchr(name, '.', (size_t)(slash - name)) || memchr(name, ':', (size_t)(slash - name)) ||
		      (slash - name == 9 && strncmp(name, "localhost", 9) == 0))) {
		if (!valid_domain(name, (size_t)(slash - name))) {
			image_ref_free(ref);
			return berth_error_set(err, EINVAL, "image reference \"%s\": invalid registry \"%.*s\"", text,
					       (int)(slash - name), name);
		}
		ref->domain = strndup(name, (size_t)(slash - name));
		ref->path = strdup(slash + 1);
	} else {
		ref->domain = strdup(DEFAULT_DOMAIN);
		ref->path = strdup(name);
	}
	if (ref->domain && strcmp(ref->domain, "index.docker.io") == 0) {
		free(ref->domain);
		ref->domain = strdup(DEFAULT_DOMAIN);
	}
	if (ref->domain && ref->path && strcmp(ref->domain, DEFAULT_DOMAIN) == 0 && strchr(ref->path, '/') == NULL) {
		char *full = NULL;
		if (asprintf(&full, "library/%s", ref->path) < 0)
			full = NULL;
		free(ref->path);
		ref->path = full;
	}
	if (ref->tag == NULL && ref->digest == NULL)
		ref->tag = strdup("latest");
	if (ref->domain == NULL || ref->path == NULL || (ref->tag == NULL && ref->digest == NULL)) {
		image_ref_free(ref);
		return berth_error_set(err, ENOMEM, "image reference");
	}
	if (ref->path[0] == '\0' || check_path(text, ref->path, err) < 0) {
		if (*err == NULL)
			berth_error_set(err, EINVAL, "image reference \"%s\": missing repository name", text);
		image_ref_free(ref);
		return -1;
	}
	if (strlen(ref->domain) + 1 + strlen(ref->path) > NAME_MAX_LEN) {
		image_ref_free(ref);
		return berth_error_set(err, EINVAL, "image reference \"%s\": name longer than %d characters", text,
				       NAME_MAX_LEN);
	}
	return 0;
}

void image_ref_free(image_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

char *image_ref_repository(const image_ref *ref)
{
	char *out = NULL;

	if (asprintf(&out, "%s/%s", ref->domain, ref->path) < 0)
		return NULL;
	return out;
}

char *image_ref_name(const image_ref *ref)
{
	char *out = NULL;
	int ret;

	if (ref->tag)
		ret = asprintf(&out, "%s/%s:%s", ref->domain, ref->path, ref->tag);
	else
		ret = asprintf(&out, "%s/%s@%s", ref->domain, ref->path, ref->digest);
	return ret < 0 ? NULL : out;
}

const char *image_ref_registry_reference(const image_ref *ref)
{
	return ref->digest ? ref->digest : ref->tag;
}
