/* `berth import`: a one-layer image from a rootfs tarball.
 *
 * The tarball (uncompressed, gzip, zstd, xz or bzip2) is read once: its
 * uncompressed bytes are hashed (the diff_id) and recompressed with gzip
 * into a store writer (the blob digest is over the gzip bytes). Then an OCI
 * config (platform, rootfs, history, the --change instructions) and an OCI
 * manifest are stored, the layer is unpacked and the image named.
 *
 * Every --change is parsed before the tarball is read. Supported, with
 * Dockerfile syntax: CMD and ENTRYPOINT (JSON array, or shell form run by
 * "/bin/sh -c"), ENV and LABEL (KEY=VALUE..., or the legacy "KEY VALUE"),
 * WORKDIR (relative to the previous one), USER, EXPOSE (PORT[/PROTO]...),
 * VOLUME (JSON array or paths), STOPSIGNAL. "KEYWORD=VALUE" works too. */
#include "image/archive.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "image/archive_internal.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/cleanup.h"

/* ---- --change ---- */

/* Splits TEXT into words: blanks separate, quotes ("..." '...') and
 * backslashes escape, as in a Dockerfile. */
static int split_words(const char *text, json_t *out, berth_error **err)
{
	_cleanup_free_ char *word = malloc(strlen(text) + 1);
	const char *p = text;

	if (word == NULL)
		return berth_error_set(err, ENOMEM, "parse");
	while (*p) {
		size_t len = 0;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		while (*p && !isspace((unsigned char)*p)) {
			char quote = (*p == '"' || *p == '\'') ? *p++ : 0;
			if (!quote) {
				if (*p == '\\' && p[1])
					p++;
				word[len++] = *p++;
				continue;
			}
			while (*p && *p != quote) {
				if (quote == '"' && *p == '\\' && p[1])
					p++;
				word[len++] = *p++;
			}
			if (*p != quote)
				return berth_error_set(err, 0, "unterminated %c quote in \"%s\"", quote, text);
			p++;
		}
		word[len] = '\0';
		json_array_append_new(out, json_string(word));
	}
	return 0;
}

/* "KEY=VALUE KEY2=VALUE2", or the legacy "KEY VALUE WITH BLANKS", into an
 * object (ordered, last wins). */
static int parse_pairs(const char *keyword, const char *text, json_t *out, berth_error **err)
{
	json_auto_t *words = json_array();
	const char *first_end = text;
	size_t i;
	json_t *w;

	while (*first_end && !isspace((unsigned char)*first_end) && *first_end != '=')
		first_end++;
	if (*first_end != '=') {
		const char *value = first_end;
		_cleanup_free_ char *key = strndup(text, (size_t)(first_end - text));
		while (isspace((unsigned char)*value))
			value++;
		if (key == NULL || *value == '\0')
			return berth_error_set(err, 0, "%s: expected KEY=VALUE or KEY VALUE", keyword);
		return json_object_set_new(out, key, json_string(value));
	}
	if (split_words(text, words, err) < 0)
		return berth_error_wrap(err, "%s", keyword);
	json_array_foreach(words, i, w) {
		const char *word = json_string_value(w), *eq = strchr(word, '=');
		_cleanup_free_ char *key = eq ? strndup(word, (size_t)(eq - word)) : NULL;
		if (eq == NULL || eq == word)
			return berth_error_set(err, 0, "%s: expected KEY=VALUE, got \"%s\"", keyword, word);
		if (key == NULL || json_object_set_new(out, key, json_string(eq + 1)) < 0)
			return berth_error_set(err, ENOMEM, "parse");
	}
	return 0;
}

/* CMD/ENTRYPOINT/VOLUME: a JSON array of strings, or NULL when TEXT is not one. */
static json_t *json_form(const char *text)
{
	json_t *v;
	size_t i;
	json_t *item;

	if (text[0] != '[')
		return NULL;
	v = json_loads(text, 0, NULL);
	if (!json_is_array(v)) {
		json_decref(v);
		return NULL;
	}
	json_array_foreach(v, i, item) {
		if (!json_is_string(item)) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

static json_t *command_form(const char *text)
{
	json_t *v = json_form(text);

	return v ? v : json_pack("[s, s, s]", "/bin/sh", "-c", text);
}

static int env_set(json_t *config, const char *key, const char *value)
{
	json_t *env = json_object_get(config, "Env");
	_cleanup_free_ char *entry = NULL;
	size_t klen = strlen(key), i;
	json_t *e;

	if (asprintf(&entry, "%s=%s", key, value) < 0)
		return -ENOMEM;
	if (env == NULL) {
		env = json_array();
		json_object_set_new(config, "Env", env);
	}
	json_array_foreach(env, i, e) {
		const char *s = json_string_value(e);
		if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
			return json_array_set_new(env, i, json_string(entry));
	}
	return json_array_append_new(env, json_string(entry));
}

static json_t *object_member(json_t *config, const char *key)
{
	json_t *o = json_object_get(config, key);

	if (o == NULL) {
		o = json_object();
		json_object_set_new(config, key, o);
	}
	return o;
}

static bool port_valid(const char *port)
{
	char *end;
	long n = strtol(port, &end, 10), hi = n;

	if (end == port || n < 1 || n > 65535)
		return false;
	if (*end == '-') {
		const char *start = end + 1;
		hi = strtol(start, &end, 10);
		if (end == start || hi < n || hi > 65535)
			return false;
	}
	return *end == '\0' || strcmp(end, "/tcp") == 0 || strcmp(end, "/udp") == 0 || strcmp(end, "/sctp") == 0;
}

static int change_expose(json_t *config, const char *value, berth_error **err)
{
	json_auto_t *words = json_array();
	json_t *ports = object_member(config, "ExposedPorts"), *w;
	size_t i;

	if (split_words(value, words, err) < 0)
		return berth_error_wrap(err, "EXPOSE");
	json_array_foreach(words, i, w) {
		const char *p = json_string_value(w);
		_cleanup_free_ char *key = NULL;
		if (!port_valid(p))
			return berth_error_set(err, 0, "EXPOSE: invalid port \"%s\"", p);
		if (asprintf(&key, "%s%s", p, strchr(p, '/') ? "" : "/tcp") < 0)
			return berth_error_set(err, ENOMEM, "parse");
		json_object_set_new(ports, key, json_object());
	}
	return 0;
}

static int change_volume(json_t *config, const char *value, berth_error **err)
{
	json_auto_t *words = json_form(value);
	json_t *volumes = object_member(config, "Volumes"), *w;
	size_t i;

	if (words == NULL) {
		words = json_array();
		if (split_words(value, words, err) < 0)
			return berth_error_wrap(err, "VOLUME");
	}
	json_array_foreach(words, i, w) {
		if (json_string_value(w)[0] != '/')
			return berth_error_set(err, 0, "VOLUME: \"%s\" is not an absolute path", json_string_value(w));
		json_object_set_new(volumes, json_string_value(w), json_object());
	}
	return 0;
}

static int change_env(json_t *config, const char *value, berth_error **err)
{
	json_auto_t *pairs = json_object();
	const char *key;
	json_t *v;

	if (parse_pairs("ENV", value, pairs, err) < 0)
		return -1;
	json_object_foreach(pairs, key, v) {
		if (env_set(config, key, json_string_value(v)) < 0)
			return berth_error_set(err, ENOMEM, "ENV");
	}
	return 0;
}

static int change_workdir(json_t *config, const char *value, berth_error **err)
{
	const char *previous = json_string_value(json_object_get(config, "WorkingDir"));
	_cleanup_free_ char *dir = NULL;

	if (value[0] == '/')
		dir = strdup(value);
	else if (asprintf(&dir, "%s/%s", previous && strcmp(previous, "/") != 0 ? previous : "", value) < 0)
		dir = NULL;
	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "WORKDIR");
	return json_object_set_new(config, "WorkingDir", json_string(dir));
}

static int apply_change(json_t *config, const char *change, berth_error **err)
{
	const char *p = change, *value;
	char keyword[16];
	size_t len = 0;

	while (isspace((unsigned char)*p))
		p++;
	while (p[len] && !isspace((unsigned char)p[len]) && p[len] != '=')
		len++;
	if (len == 0 || len >= sizeof(keyword))
		return berth_error_set(err, 0, "--change \"%s\": expected an instruction", change);
	memcpy(keyword, p, len);
	keyword[len] = '\0';
	value = p + len + (p[len] == '=');
	while (isspace((unsigned char)*value))
		value++;
	if (*value == '\0')
		return berth_error_set(err, 0, "--change \"%s\": %s needs a value", change, keyword);
	if (strcasecmp(keyword, "CMD") == 0)
		return json_object_set_new(config, "Cmd", command_form(value));
	if (strcasecmp(keyword, "ENTRYPOINT") == 0)
		return json_object_set_new(config, "Entrypoint", command_form(value));
	if (strcasecmp(keyword, "ENV") == 0)
		return change_env(config, value, err);
	if (strcasecmp(keyword, "LABEL") == 0)
		return parse_pairs("LABEL", value, object_member(config, "Labels"), err);
	if (strcasecmp(keyword, "WORKDIR") == 0)
		return change_workdir(config, value, err);
	if (strcasecmp(keyword, "USER") == 0)
		return json_object_set_new(config, "User", json_string(value));
	if (strcasecmp(keyword, "EXPOSE") == 0)
		return change_expose(config, value, err);
	if (strcasecmp(keyword, "VOLUME") == 0)
		return change_volume(config, value, err);
	if (strcasecmp(keyword, "STOPSIGNAL") == 0)
		return json_object_set_new(config, "StopSignal", json_string(value));
	return berth_error_set(err, 0,
			       "--change \"%s\": unsupported instruction \"%s\" (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
			       "STOPSIGNAL, USER, VOLUME, WORKDIR)",
			       change, keyword);
}

static json_t *changes_to_config(char *const *changes, berth_error **err)
{
	json_t *config = json_object();

	if (config == NULL) {
		berth_error_set(err, ENOMEM, "import");
		return NULL;
	}
	for (; changes && *changes; changes++) {
		if (apply_change(config, *changes, err) < 0) {
			json_decref(config);
			if (err && *err == NULL)
				berth_error_set(err, ENOMEM, "--change \"%s\"", *changes);
			return NULL;
		}
	}
	return config;
}

/* ---- the layer ---- */

typedef struct layer_copy {
	store_writer *w;
	struct archive *gz;
	digester diff;
	unsigned char head[512]; /* the first tar header, checked at the end */
	size_t head_len;
	berth_error *write_err;
} layer_copy;

static la_ssize_t gz_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	layer_copy *c = ctx;

	if (store_writer_write(c->w, data, len, &c->write_err) < 0) {
		archive_set_error(a, EIO, "%s", c->write_err ? c->write_err->msg : "write");
		return -1;
	}
	return (la_ssize_t)len;
}

/* A tar starts with a header block whose checksum adds up. */
static bool tar_header_valid(const unsigned char *h, size_t len)
{
	unsigned long sum = 0, stored = 0;
	size_t i;

	if (len < 512)
		return false;
	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	for (i = 148; i < 156 && h[i] == ' '; i++)
		;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		stored = stored * 8 + (h[i] - '0');
	return h[0] != '\0' && sum == stored;
}

static int copy_block(void *ctx, const void *data, size_t len, berth_error **err)
{
	layer_copy *c = ctx;
	la_ssize_t n;

	if (c->head_len < sizeof(c->head)) {
		size_t take = len < sizeof(c->head) - c->head_len ? len : sizeof(c->head) - c->head_len;
		memcpy(c->head + c->head_len, data, take);
		c->head_len += take;
		if (c->head_len == sizeof(c->head) && !tar_header_valid(c->head, c->head_len))
			return berth_error_set(err, 0, "not a tar archive");
	}
	digester_update(&c->diff, data, len);
	n = archive_write_data(c->gz, data, len);
	if (n < 0 || (size_t)n != len)
		return berth_error_set(err, 0, "compress: %s", archive_error_string(c->gz));
	return 0;
}

static int gz_open(layer_copy *c, berth_error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	c->gz = archive_write_new();
	if (c->gz == NULL || e == NULL) {
		archive_entry_free(e);
		return berth_error_set(err, ENOMEM, "compress");
	}
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	r = archive_write_add_filter_gzip(c->gz);
	if (r == ARCHIVE_OK)
		r = archive_write_set_format_raw(c->gz);
	if (r == ARCHIVE_OK)
		r = archive_write_set_filter_option(c->gz, "gzip", "timestamp", NULL);
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_in_last_block(c->gz, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open(c->gz, c, NULL, gz_write, NULL);
	if (r == ARCHIVE_OK)
		r = archive_write_header(c->gz, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return berth_error_set(err, 0, "compress: %s", archive_error_string(c->gz));
	return 0;
}

/* Reads the tarball from FD into a gzip blob; LAYER and DIFF_ID get its
 * digests, SIZE its stored size. */
static int import_layer(store *s, int fd, const char *what, char layer[DIGEST_STRING_MAX],
			char diff_id[DIGEST_STRING_MAX], int64_t *size, berth_error **err)
{
	layer_copy c = { 0 };
	int ret;

	digester_init(&c.diff);
	ret = store_writer_open(s, NULL, -1, &c.w, err);
	if (ret == 0)
		ret = gz_open(&c, err);
	if (ret == 0 && archive_decompress_fd(fd, "tarball", copy_block, &c, err) < 0)
		ret = berth_error_wrap(err, "%s", what);
	if (ret == 0 && !tar_header_valid(c.head, c.head_len))
		ret = berth_error_set(err, 0, "%s: not a tar archive", what);
	if (ret == 0 && archive_write_close(c.gz) != ARCHIVE_OK)
		ret = berth_error_set(err, 0, "compress: %s", archive_error_string(c.gz));
	if (c.gz)
		archive_write_free(c.gz);
	berth_error_free(&c.write_err);
	if (ret < 0) {
		store_writer_abort(c.w);
		return ret;
	}
	*size = (int64_t)store_writer_written(c.w);
	digester_final(&c.diff, diff_id);
	return store_writer_commit(c.w, layer, err);
}

/* ---- the image ---- */

static void now_rfc3339(char buf[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int store_config(store *s, json_t *config, const oci_platform *platform, const char *diff_id,
			const char *comment, char out[DIGEST_STRING_MAX], int64_t *size, berth_error **err)
{
	json_auto_t *image = NULL;
	_cleanup_free_ char *text = NULL;
	char created[32];

	now_rfc3339(created);
	image = json_pack("{s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "created", created, "architecture",
			  platform->architecture, "os", platform->os, "config", config, "rootfs", "type", "layers",
			  "diff_ids", diff_id, "history", "created", created, "comment", comment);
	if (image == NULL)
		return berth_error_set(err, ENOMEM, "import");
	if (platform->variant)
		json_object_set_new(image, "variant", json_string(platform->variant));
	text = json_dumps(image, JSON_COMPACT);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "import");
	*size = (int64_t)strlen(text);
	return store_blob_put(s, text, strlen(text), NULL, out, err);
}

static int name_from_options(const import_options *opts, char **out, berth_error **err)
{
	image_ref ref = { 0 };

	*out = NULL;
	if (opts->name == NULL)
		return 0;
	if (image_ref_parse(opts->name, &ref, err) < 0)
		return -1;
	*out = image_ref_name(&ref);
	image_ref_free(&ref);
	return *out ? 0 : berth_error_set(err, ENOMEM, "import");
}

static int import_image(store *s, int fd, const char *what, json_t *config, const oci_platform *platform,
			const char *name, const import_options *opts, char out_id[DIGEST_STRING_MAX], berth_error **err)
{
	char layer[DIGEST_STRING_MAX], diff_id[DIGEST_STRING_MAX], config_digest[DIGEST_STRING_MAX];
	char manifest[DIGEST_STRING_MAX];
	_cleanup_free_ char *comment = NULL;
	int64_t layer_size = 0, config_size = 0, manifest_size = 0;
	image_info info = { 0 };
	json_t *layers;
	int ret;

	if (import_layer(s, fd, what, layer, diff_id, &layer_size, err) < 0)
		return -1;
	if (opts->message)
		comment = strdup(opts->message);
	else if (asprintf(&comment, "Imported from %s", what) < 0)
		comment = NULL;
	if (comment == NULL)
		return berth_error_set(err, ENOMEM, "import");
	if (store_config(s, config, platform, diff_id, comment, config_digest, &config_size, err) < 0)
		return -1;
	layers = json_pack("[o]", archive_descriptor_json(MEDIA_OCI_LAYER_GZIP, layer, layer_size));
	if (layers == NULL)
		return berth_error_set(err, ENOMEM, "import");
	ret = archive_put_manifest(s, config_digest, config_size, layers, manifest, &manifest_size, err);
	json_decref(layers);
	if (ret == 0)
		ret = image_load_info(s, manifest, &info, err);
	if (ret == 0)
		ret = image_unpack(s, &info, &opts->unpack, err);
	image_info_free(&info);
	if (ret == 0)
		ret = store_ref_set(s, name, manifest, MEDIA_OCI_MANIFEST, manifest_size, err);
	if (ret == 0)
		snprintf(out_id, DIGEST_STRING_MAX, "%s", config_digest);
	return ret;
}

int image_import(store *s, const char *path, const import_options *opts, char out_id[DIGEST_STRING_MAX],
		 berth_error **err)
{
	json_auto_t *config = NULL;
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -EBADF;
	oci_platform platform = { 0 };
	bool from_stdin = strcmp(path, "-") == 0;
	int ret;

	/* everything the user typed is checked before the tarball is read */
	config = changes_to_config(opts->changes, err);
	if (config == NULL || platform_parse(opts->platform, &platform, err) < 0)
		return berth_error_wrap(err, "import");
	ret = name_from_options(opts, &name, err);
	if (ret == 0 && !from_stdin && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		ret = berth_error_set(err, errno, "open \"%s\"", path);
	if (ret == 0)
		ret = store_gc_lock(s, false, err);
	if (ret == 0) {
		ret = import_image(s, from_stdin ? STDIN_FILENO : fd, from_stdin ? "stdin" : path, config, &platform,
				   name, opts, out_id, err);
		store_gc_unlock(s);
	}
	platform_free(&platform);
	if (ret < 0)
		return berth_error_wrap(err, "import");
	return 0;
}
