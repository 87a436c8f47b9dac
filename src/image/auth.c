#include "image/auth.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/cleanup.h"
#include "util/fs.h"

void auth_credentials_free(auth_credentials *c)
{
	if (c == NULL)
		return;
	free(c->username);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	c->username = c->password = NULL;
}

static int credentials_from_pair(const char *text, size_t len, auth_credentials *out, berth_error **err)
{
	const char *colon = memchr(text, ':', len);

	if (colon == NULL || colon == text || (size_t)(colon - text) + 1 >= len)
		return berth_error_set(err, EINVAL, "credentials must be USER:PASSWORD");
	out->username = strndup(text, (size_t)(colon - text));
	out->password = strndup(colon + 1, len - (size_t)(colon - text) - 1);
	if (out->username == NULL || out->password == NULL) {
		auth_credentials_free(out);
		return berth_error_set(err, ENOMEM, "credentials");
	}
	return 0;
}

int auth_parse_creds(const char *text, auth_credentials *out, berth_error **err)
{
	*out = (auth_credentials){ 0 };
	if (credentials_from_pair(text, strlen(text), out, err) < 0)
		return berth_error_wrap(err, "--creds");
	return 0;
}

/* ---- base64 (glibc's libresolv) ---- */

char *auth_base64_encode(const void *data, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(cap);

	if (out && b64_ntop(data, len, out, cap) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

int auth_base64_decode(const char *text, char **out, size_t *len)
{
	size_t tlen = strlen(text), cap = tlen * 3 / 4 + 4;
	_cleanup_free_ char *buf = malloc(cap), *padded = NULL;
	int n;

	if (buf == NULL)
		return -ENOMEM;
	/* docker writes padding; some tools do not: b64_pton wants it */
	if (tlen % 4 == 1)
		return -EINVAL;
	if (tlen % 4 != 0) {
		if (asprintf(&padded, "%s%s", text, tlen % 4 == 2 ? "==" : "=") < 0)
			return -ENOMEM;
		text = padded;
	}
	n = b64_pton(text, (unsigned char *)buf, cap - 1);
	if (n < 0)
		return -EINVAL;
	buf[n] = '\0';
	*out = move_ptr(buf);
	*len = (size_t)n;
	return 0;
}

/* ---- the file ---- */

char *auth_file_path(const char *override, bool *is_default)
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR");
	char *out = NULL;

	if (is_default)
		*is_default = false;
	if (override && override[0])
		return strdup(override);
	if (env && env[0])
		return strdup(env);
	if (is_default)
		*is_default = true;
	if (xdg && xdg[0] == '/')
		return asprintf(&out, "%s/containers/auth.json", xdg) < 0 ? NULL : out;
	return asprintf(&out, "/run/containers/%u/auth.json", (unsigned)geteuid()) < 0 ? NULL : out;
}

char *auth_normalize_server(const char *server)
{
	char *out, *end;

	if (strncmp(server, "https://", 8) == 0)
		server += 8;
	else if (strncmp(server, "http://", 7) == 0)
		server += 7;
	out = strdup(server);
	if (out == NULL)
		return NULL;
	end = out + strlen(out);
	if (end - out > 4 && (strcmp(end - 4, "/v1/") == 0 || strcmp(end - 4, "/v2/") == 0))
		end -= 4;
	else if (end - out > 3 && (strcmp(end - 3, "/v1") == 0 || strcmp(end - 3, "/v2") == 0))
		end -= 3;
	while (end > out && end[-1] == '/')
		end--;
	*end = '\0';
	if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0) {
		free(out);
		return strdup("docker.io");
	}
	return out;
}

/* Loads FILE as a JSON object; a missing file gives NULL and 0. */
static int auth_file_load(const char *file, json_t **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	size_t len = 0;
	json_t *j;

	*out = NULL;
	if (fs_read_file(file, &text, &len, err) < 0) {
		if ((*err)->code == ENOENT) {
			berth_error_free(err);
			return 0;
		}
		return -1;
	}
	if (len == 0) {
		*out = json_object();
		return 0;
	}
	j = json_loadb(text, len, 0, &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return berth_error_set(err, EINVAL, "auth file \"%s\": line %d: %s", file, jerr.line,
				       j ? "not a JSON object" : jerr.text);
	}
	*out = j;
	return 0;
}

/* The entry of AUTHS whose key is the most specific prefix of REPOSITORY. */
static json_t *auths_best_match(json_t *auths, const char *repository)
{
	json_t *best = NULL, *value;
	size_t best_len = 0;
	const char *key;

	json_object_foreach(auths, key, value) {
		_cleanup_free_ char *norm = auth_normalize_server(key);
		size_t l;
		if (norm == NULL || !json_is_object(value))
			continue;
		l = strlen(norm);
		if (strncmp(repository, norm, l) != 0 || (repository[l] != '\0' && repository[l] != '/'))
			continue;
		if (best == NULL || l > best_len) {
			best = value;
			best_len = l;
		}
	}
	return best;
}

static int credentials_from_entry(const char *file, json_t *entry, auth_credentials *out, bool *found,
				  berth_error **err)
{
	const char *b64 = json_string_value(json_object_get(entry, "auth"));
	const char *user = json_string_value(json_object_get(entry, "username"));
	const char *pass = json_string_value(json_object_get(entry, "password"));
	_cleanup_free_ char *decoded = NULL;
	size_t len = 0;

	if (b64 && b64[0]) {
		if (auth_base64_decode(b64, &decoded, &len) < 0)
			return berth_error_set(err, EINVAL, "auth file \"%s\": invalid base64 in \"auth\"", file);
		if (credentials_from_pair(decoded, len, out, err) < 0) {
			explicit_bzero(decoded, len);
			return berth_error_wrap(err, "auth file \"%s\"", file);
		}
		explicit_bzero(decoded, len);
		*found = true;
		return 0;
	}
	if (user && pass && user[0]) {
		out->username = strdup(user);
		out->password = strdup(pass);
		if (out->username == NULL || out->password == NULL) {
			auth_credentials_free(out);
			return berth_error_set(err, ENOMEM, "auth file");
		}
		*found = true;
	}
	return 0;
}

static int lookup_in_file(const char *file, const char *repository, auth_credentials *out, bool *found,
			  berth_error **err)
{
	json_auto_t *root = NULL;
	json_t *entry;

	if (auth_file_load(file, &root, err) < 0)
		return -1;
	if (root == NULL)
		return 0;
	entry = auths_best_match(json_object_get(root, "auths"), repository);
	return entry ? credentials_from_entry(file, entry, out, found, err) : 0;
}

int auth_lookup(const char *override, const char *repository, auth_credentials *out, bool *found, berth_error **err)
{
	_cleanup_free_ char *file = NULL, *docker = NULL;
	const char *home = getenv("HOME");
	bool is_default = false;

	*out = (auth_credentials){ 0 };
	*found = false;
	file = auth_file_path(override, &is_default);
	if (file == NULL)
		return berth_error_set(err, ENOMEM, "auth file path");
	if (lookup_in_file(file, repository, out, found, err) < 0)
		return -1;
	if (*found || !is_default || home == NULL || home[0] != '/')
		return 0;
	if (asprintf(&docker, "%s/.docker/config.json", home) < 0)
		return berth_error_set(err, ENOMEM, "auth file path");
	return lookup_in_file(docker, repository, out, found, err);
}

static int auth_file_save(const char *file, json_t *root, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(file), *text = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	const char *dir, *base;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "auth file");
	base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	dir = dirname(copy);
	if (base[0] == '\0')
		return berth_error_set(err, EINVAL, "auth file \"%s\": not a file name", file);
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return berth_error_wrap(err, "auth file \"%s\"", file);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", dir);
	text = json_dumps(root, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "auth file");
	if (fs_write_file_atomic(dirfd, base, text, strlen(text), 0600, err) < 0)
		return berth_error_wrap(err, "auth file \"%s\"", dir);
	return 0;
}

/* ROOT["auths"], created when missing. */
static json_t *auths_object(json_t *root)
{
	json_t *auths = json_object_get(root, "auths");

	if (json_is_object(auths))
		return auths;
	auths = json_object();
	if (auths == NULL || json_object_set_new(root, "auths", auths) < 0)
		return NULL;
	return auths;
}

int auth_store(const char *file, const char *server, const char *user, const char *password, berth_error **err)
{
	json_auto_t *root = NULL;
	_cleanup_free_ char *pair = NULL, *b64 = NULL, *key = auth_normalize_server(server);
	json_t *auths;
	int ret;

	if (key == NULL || asprintf(&pair, "%s:%s", user, password) < 0)
		return berth_error_set(err, ENOMEM, "auth file");
	b64 = auth_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	if (b64 == NULL)
		return berth_error_set(err, ENOMEM, "auth file");
	if (auth_file_load(file, &root, err) < 0)
		return -1;
	if (root == NULL && (root = json_object()) == NULL)
		return berth_error_set(err, ENOMEM, "auth file");
	auths = auths_object(root);
	if (auths == NULL || json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64)) < 0)
		return berth_error_set(err, ENOMEM, "auth file");
	ret = auth_file_save(file, root, err);
	explicit_bzero(b64, strlen(b64));
	return ret;
}

int auth_remove(const char *file, const char *server, bool all, bool *removed, berth_error **err)
{
	json_auto_t *root = NULL;
	_cleanup_free_ char *key = server ? auth_normalize_server(server) : NULL;
	json_t *auths, *value;
	const char *k;
	void *tmp;

	*removed = false;
	if (server && key == NULL)
		return berth_error_set(err, ENOMEM, "auth file");
	if (auth_file_load(file, &root, err) < 0)
		return -1;
	if (root == NULL)
		return 0;
	auths = json_object_get(root, "auths");
	if (!json_is_object(auths))
		return 0;
	json_object_foreach_safe(auths, tmp, k, value)
	{
		_cleanup_free_ char *norm = auth_normalize_server(k);
		if (all || (norm && key && strcmp(norm, key) == 0)) {
			json_object_del(auths, k);
			*removed = true;
		}
	}
	if (!*removed)
		return 0;
	return auth_file_save(file, root, err);
}

/* ---- WWW-Authenticate ---- */

void auth_challenge_free(auth_challenge *c)
{
	if (c == NULL)
		return;
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	*c = (auth_challenge){ 0 };
}

/* Reads a token or a quoted string at *P into a heap string. */
static char *challenge_value(const char **p)
{
	const char *s = *p;
	char *out, *o;

	if (*s != '"') {
		size_t n = strcspn(s, ", \t");
		*p = s + n;
		return strndup(s, n);
	}
	out = o = malloc(strlen(s) + 1);
	if (out == NULL)
		return NULL;
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && s[1])
			s++;
		*o++ = *s;
	}
	*o = '\0';
	*p = *s == '"' ? s + 1 : s;
	return out;
}

static int challenge_set(auth_challenge *c, const char *key, size_t key_len, char *value)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
		{ "realm", offsetof(auth_challenge, realm) },
		{ "service", offsetof(auth_challenge, service) },
		{ "scope", offsetof(auth_challenge, scope) },
		{ "error", offsetof(auth_challenge, error) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char **slot = (char **)((char *)c + fields[i].offset);
		if (strlen(fields[i].name) != key_len || strncasecmp(fields[i].name, key, key_len) != 0)
			continue;
		free(*slot);
		*slot = value;
		return 0;
	}
	free(value);
	return 0;
}

int auth_challenge_parse(const char *header, auth_challenge *out, berth_error **err)
{
	const char *p = header;
	size_t n;

	*out = (auth_challenge){ 0 };
	p += strspn(p, " \t");
	n = strcspn(p, " \t,");
	if (n == 0)
		return berth_error_set(err, EINVAL, "WWW-Authenticate \"%.100s\": no scheme", header);
	out->scheme = strndup(p, n);
	if (out->scheme == NULL)
		return berth_error_set(err, ENOMEM, "WWW-Authenticate");
	for (char *s = out->scheme; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	p += n;
	for (;;) {
		const char *key;
		size_t key_len;
		char *value;

		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		key = p;
		key_len = strcspn(p, "= \t,");
		p += key_len;
		p += strspn(p, " \t");
		if (*p != '=')
			break; /* the next challenge starts: the first one is enough */
		p++;
		p += strspn(p, " \t");
		value = challenge_value(&p);
		if (value == NULL) {
			auth_challenge_free(out);
			return berth_error_set(err, ENOMEM, "WWW-Authenticate");
		}
		challenge_set(out, key, key_len, value);
	}
	return 0;
}
