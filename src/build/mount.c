#include "build/mount.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

void build_mount_free(build_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	memset(m, 0, sizeof(*m));
}

static int parse_number(const char *key, const char *v, int base, unsigned long long max, unsigned long long *out,
			berth_error **err)
{
	char *end;

	errno = 0;
	*out = strtoull(v, &end, base);
	if (*v == '\0' || !isdigit((unsigned char)*v) || errno || (*end && base != 0) || *out > max)
		return berth_error_request(err, EINVAL, "--mount: %s=%s: not a valid number", key, v);
	return 0;
}

static int parse_size(const char *v, uint64_t *out, berth_error **err)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v == '\0' || !isdigit((unsigned char)*v) || errno)
		return berth_error_request(err, EINVAL, "--mount: size=%s: not a valid size", v);
	switch (tolower((unsigned char)*end)) {
	case 'g':
		n <<= 10;
		/* fall through */
	case 'm':
		n <<= 10;
		/* fall through */
	case 'k':
		n <<= 10;
		end++;
		break;
	}
	if (*end && !(tolower((unsigned char)*end) == 'b' && end[1] == '\0'))
		return berth_error_request(err, EINVAL, "--mount: size=%s: not a valid size", v);
	*out = n;
	return 0;
}

static int set_field(build_mount *m, const char *key, const char *v, bool *typed, berth_error **err)
{
	unsigned long long n;
	char **slot = NULL;

	if (strcmp(key, "type") == 0) {
		*typed = true;
		if (v == NULL)
			return berth_error_request(err, EINVAL, "--mount: type needs a value");
		if (strcmp(v, "bind") == 0)
			m->type = BUILD_MOUNT_BIND;
		else if (strcmp(v, "cache") == 0)
			m->type = BUILD_MOUNT_CACHE;
		else if (strcmp(v, "tmpfs") == 0)
			m->type = BUILD_MOUNT_TMPFS;
		else if (strcmp(v, "secret") == 0)
			m->type = BUILD_MOUNT_SECRET;
		else if (strcmp(v, "ssh") == 0)
			return berth_error_request(err, ENOTSUP, "--mount: type=%s is not supported by berth build yet",
						   v);
		else
			return berth_error_request(err, EINVAL, "--mount: unknown type \"%s\" (bind, cache or tmpfs)",
						   v);
		return 0;
	}
	if (strcmp(key, "ro") == 0 || strcmp(key, "readonly") == 0) {
		m->readonly = v == NULL || strcmp(v, "true") == 0;
		return 0;
	}
	if (strcmp(key, "rw") == 0 || strcmp(key, "readwrite") == 0) {
		m->readonly = !(v == NULL || strcmp(v, "true") == 0);
		return 0;
	}
	if (strcmp(key, "required") == 0) {
		m->required = v == NULL || strcmp(v, "true") == 0;
		return 0;
	}
	if (v == NULL)
		return berth_error_request(err, EINVAL, "--mount: %s needs a value", key);
	if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 || strcmp(key, "destination") == 0)
		slot = &m->target;
	else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0)
		slot = &m->source;
	else if (strcmp(key, "from") == 0)
		slot = &m->from;
	else if (strcmp(key, "id") == 0)
		slot = &m->id;
	if (slot) {
		free(*slot);
		*slot = strdup(v);
		return *slot ? 0 : berth_error_set(err, ENOMEM, "--mount");
	}
	if (strcmp(key, "mode") == 0) {
		if (parse_number(key, v, 8, 07777, &n, err) < 0)
			return -1;
		m->mode = (mode_t)n;
		m->mode_given = true;
	} else if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
		if (parse_number(key, v, 10, 0xfffffffeULL, &n, err) < 0)
			return -1;
		if (key[0] == 'u')
			m->uid = (uid_t)n;
		else
			m->gid = (gid_t)n;
	} else if (strcmp(key, "size") == 0) {
		return parse_size(v, &m->size, err);
	} else if (strcmp(key, "sharing") == 0) {
		if (strcmp(v, "shared") != 0 && strcmp(v, "private") != 0 && strcmp(v, "locked") != 0)
			return berth_error_request(err, EINVAL, "--mount: sharing=%s: shared, private or locked", v);
	} else {
		return berth_error_request(err, EINVAL, "--mount: unknown option \"%s\"", key);
	}
	return 0;
}

/* A secret's id from its target, its target from its id, mode 0400. */
static int secret_defaults(build_mount *m, berth_error **err)
{
	if (m->mode == 0755 && !m->mode_given)
		m->mode = 0400;
	if (m->id == NULL && m->target) {
		const char *base = strrchr(m->target, '/');
		m->id = strdup(base ? base + 1 : m->target);
	} else if (m->target == NULL && m->id && asprintf(&m->target, "/run/secrets/%s", m->id) < 0) {
		m->target = NULL;
		return berth_error_set(err, ENOMEM, "--mount");
	}
	if (m->id == NULL || m->id[0] == '\0')
		return berth_error_request(err, EINVAL, "--mount: a secret needs id= or target=");
	return 0;
}

int build_mount_parse(const char *spec, build_mount *out, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(spec);
	build_mount m = { .type = BUILD_MOUNT_BIND, .mode = 0755, .readonly = true };
	bool typed = false, ro_given = false;
	char *save = NULL;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "--mount");
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		if (eq)
			*eq = '\0';
		ro_given = ro_given || strcmp(f, "ro") == 0 || strcmp(f, "readonly") == 0 || strcmp(f, "rw") == 0 ||
			   strcmp(f, "readwrite") == 0;
		if (set_field(&m, f, eq ? eq + 1 : NULL, &typed, err) < 0) {
			build_mount_free(&m);
			return -1;
		}
	}
	if (!ro_given)
		m.readonly = m.type == BUILD_MOUNT_BIND || m.type == BUILD_MOUNT_SECRET;
	if (m.type == BUILD_MOUNT_SECRET && secret_defaults(&m, err) < 0) {
		build_mount_free(&m);
		return -1;
	}
	if (m.target == NULL || m.target[0] != '/') {
		build_mount_free(&m);
		return berth_error_request(err, EINVAL, "--mount: an absolute target= is required");
	}
	if (m.type == BUILD_MOUNT_BIND && !m.readonly) {
		build_mount_free(&m);
		return berth_error_request(err, ENOTSUP,
					   "--mount: rw bind mounts are not supported by berth build yet");
	}
	if (m.type == BUILD_MOUNT_CACHE && m.from) {
		build_mount_free(&m);
		return berth_error_request(err, ENOTSUP, "--mount: a cache from= is not supported by berth build yet");
	}
	if (m.type == BUILD_MOUNT_BIND && m.source == NULL && (m.source = strdup("/")) == NULL) {
		build_mount_free(&m);
		return berth_error_set(err, ENOMEM, "--mount");
	}
	if (m.type == BUILD_MOUNT_CACHE && m.id == NULL && (m.id = strdup(m.target)) == NULL) {
		build_mount_free(&m);
		return berth_error_set(err, ENOMEM, "--mount");
	}
	(void)typed;
	*out = m;
	return 0;
}
