#include "image/manifest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "util/cleanup.h"

#include "spec/json_read.h"

static json_t *load(const char *what, const char *body, size_t len, berth_error **err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);

	if (root == NULL) {
		berth_error_set(err, EINVAL, "%s: invalid JSON at line %d: %s", what, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		berth_error_set(err, EINVAL, "%s: not a JSON object", what);
		return NULL;
	}
	return root;
}

static char *dup_string(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v ? strdup(v) : NULL;
}

static bool is_known(const char *mt, const char *a, const char *b)
{
	return mt && (strcmp(mt, a) == 0 || strcmp(mt, b) == 0);
}

int manifest_detect(const char *media_type, const char *body, size_t len, manifest_kind *kind, char **resolved_type,
		    berth_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ char *ct = NULL;
	const char *mt = NULL;

	/* a Content-Type may carry parameters: "...+json; charset=utf-8" */
	if (media_type) {
		ct = strndup(media_type, strcspn(media_type, "; \t"));
		if (ct == NULL)
			return berth_error_set(err, ENOMEM, "manifest");
		mt = ct;
	}
	if (!is_known(mt, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST) &&
	    !is_known(mt, MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST_LIST)) {
		if ((root = load("manifest", body, len, err)) == NULL)
			return -1;
		mt = json_string_value(json_object_get(root, "mediaType"));
		if (json_integer_value(json_object_get(root, "schemaVersion")) == 1 ||
		    (mt && strncmp(mt, "application/vnd.docker.distribution.manifest.v1", 47) == 0))
			return berth_error_set(err, ENOTSUP,
					       "manifest: Docker schema 1 is not supported (push the image again "
					       "with a current tool)");
		if (mt == NULL) {
			/* OCI allows mediaType to be absent: the shape decides */
			if (json_is_array(json_object_get(root, "manifests")))
				mt = MEDIA_OCI_INDEX;
			else if (json_is_object(json_object_get(root, "config")))
				mt = MEDIA_OCI_MANIFEST;
		}
	}
	if (is_known(mt, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST))
		*kind = MANIFEST_KIND_IMAGE;
	else if (is_known(mt, MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST_LIST))
		*kind = MANIFEST_KIND_INDEX;
	else
		return berth_error_set(err, ENOTSUP, "manifest: unsupported media type \"%s\"", mt ? mt : "(none)");
	if (resolved_type && (*resolved_type = strdup(mt)) == NULL)
		return berth_error_set(err, ENOMEM, "manifest");
	return 0;
}

static int parse_platform(json_t *p, oci_platform *out)
{
	if (!json_is_object(p))
		return 0;
	out->os = dup_string(p, "os");
	out->architecture = dup_string(p, "architecture");
	out->variant = dup_string(p, "variant");
	return 0;
}

static int parse_descriptor(const char *what, json_t *d, oci_descriptor *out, berth_error **err)
{
	json_t *size = json_object_get(d, "size");
	const char *digest = json_string_value(json_object_get(d, "digest"));
	const char *mt = json_string_value(json_object_get(d, "mediaType"));

	if (!json_is_object(d))
		return berth_error_set(err, EINVAL, "%s: not an object", what);
	if (digest_validate(digest, err) < 0)
		return berth_error_wrap(err, "%s.digest", what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return berth_error_set(err, EINVAL, "%s.size: missing or negative", what);
	if (mt == NULL)
		return berth_error_set(err, EINVAL, "%s.mediaType: missing", what);
	out->digest = strdup(digest);
	out->media_type = strdup(mt);
	out->size = json_integer_value(size);
	parse_platform(json_object_get(d, "platform"), &out->platform);
	if (out->digest == NULL || out->media_type == NULL)
		return berth_error_set(err, ENOMEM, "%s", what);
	return 0;
}

int manifest_parse(const char *body, size_t len, image_manifest *out, berth_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	manifest_kind kind;
	json_t *layers, *l;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (manifest_detect(NULL, body, len, &kind, &out->media_type, err) < 0)
		return -1;
	if (kind != MANIFEST_KIND_IMAGE) {
		image_manifest_free(out);
		return berth_error_set(err, EINVAL, "manifest: an index where an image manifest was expected");
	}
	root = load("manifest", body, len, err);
	layers = json_object_get(root, "layers");
	if (parse_descriptor("manifest: config", json_object_get(root, "config"), &out->config, err) < 0)
		goto fail;
	if (!json_is_array(layers)) {
		berth_error_set(err, EINVAL, "manifest: layers: missing or not an array");
		goto fail;
	}
	out->layers = calloc(json_array_size(layers) + 1, sizeof(oci_descriptor));
	if (out->layers == NULL) {
		berth_error_set(err, ENOMEM, "manifest");
		goto fail;
	}
	json_array_foreach(layers, i, l) {
		char what[48];
		snprintf(what, sizeof(what), "manifest: layers[%zu]", i);
		out->n_layers++;
		if (parse_descriptor(what, l, &out->layers[i], err) < 0)
			goto fail;
	}
	return 0;
fail:
	image_manifest_free(out);
	return -1;
}

void oci_descriptor_free(oci_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	platform_free(&d->platform);
	memset(d, 0, sizeof(*d));
}

void image_manifest_free(image_manifest *m)
{
	free(m->media_type);
	oci_descriptor_free(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		oci_descriptor_free(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int index_parse(const char *body, size_t len, image_index *out, berth_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *manifests, *m;
	manifest_kind kind;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (manifest_detect(NULL, body, len, &kind, &out->media_type, err) < 0)
		return -1;
	if (kind != MANIFEST_KIND_INDEX) {
		image_index_free(out);
		return berth_error_set(err, EINVAL, "index: an image manifest where an index was expected");
	}
	root = load("index", body, len, err);
	manifests = json_object_get(root, "manifests");
	if (!json_is_array(manifests)) {
		image_index_free(out);
		return berth_error_set(err, EINVAL, "index: manifests: missing or not an array");
	}
	out->manifests = calloc(json_array_size(manifests) + 1, sizeof(oci_descriptor));
	if (out->manifests == NULL) {
		image_index_free(out);
		return berth_error_set(err, ENOMEM, "index");
	}
	json_array_foreach(manifests, i, m) {
		char what[48];
		snprintf(what, sizeof(what), "index: manifests[%zu]", i);
		out->n_manifests++;
		if (parse_descriptor(what, m, &out->manifests[i], err) < 0) {
			image_index_free(out);
			return -1;
		}
	}
	return 0;
}

void image_index_free(image_index *idx)
{
	free(idx->media_type);
	for (size_t i = 0; i < idx->n_manifests; i++)
		oci_descriptor_free(&idx->manifests[i]);
	free(idx->manifests);
	memset(idx, 0, sizeof(*idx));
}

/* A NULL-terminated copy of a JSON array of strings; NULL when absent. */
static int string_array(const char *what, json_t *arr, char ***out, berth_error **err)
{
	json_t *v;
	size_t i;

	*out = NULL;
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return berth_error_set(err, EINVAL, "image config: %s: not an array", what);
	*out = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "image config");
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return berth_error_set(err, EINVAL, "image config: %s[%zu]: not a string", what, i);
		if (((*out)[i] = strdup(json_string_value(v))) == NULL)
			return berth_error_set(err, ENOMEM, "image config");
	}
	return 0;
}

static int object_keys(json_t *obj, char ***out, berth_error **err)
{
	const char *key;
	json_t *v;
	size_t i = 0;

	*out = NULL;
	if (!json_is_object(obj))
		return 0;
	*out = calloc(json_object_size(obj) + 1, sizeof(char *));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "image config");
	json_object_foreach(obj, key, v)
		if (((*out)[i++] = strdup(key)) == NULL)
			return berth_error_set(err, ENOMEM, "image config");
	return 0;
}

int image_config_parse(const char *body, size_t len, image_config *out, berth_error **err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *cfg, *rootfs, *labels, *hc;

	memset(out, 0, sizeof(*out));
	if ((root = load("image config", body, len, err)) == NULL)
		return -1;
	cfg = json_object_get(root, "config");
	rootfs = json_object_get(root, "rootfs");
	out->os = dup_string(root, "os");
	out->architecture = dup_string(root, "architecture");
	out->variant = dup_string(root, "variant");
	out->created = dup_string(root, "created");
	out->author = dup_string(root, "author");
	if (json_is_object(cfg)) {
		out->user = dup_string(cfg, "User");
		out->working_dir = dup_string(cfg, "WorkingDir");
		out->stop_signal = dup_string(cfg, "StopSignal");
		labels = json_object_get(cfg, "Labels");
		if (json_is_object(labels))
			out->labels = json_incref(labels);
		hc = json_object_get(cfg, "Healthcheck");
		if (json_is_object(hc))
			out->healthcheck = json_incref(hc);
		/* shown by image inspect, as they are (docker's build writes them) */
		if (json_is_array(json_object_get(cfg, "Shell")))
			out->shell = json_incref(json_object_get(cfg, "Shell"));
		if (json_is_array(json_object_get(cfg, "OnBuild")))
			out->on_build = json_incref(json_object_get(cfg, "OnBuild"));
		if (string_array("config.Env", json_object_get(cfg, "Env"), &out->env, err) < 0 ||
		    string_array("config.Entrypoint", json_object_get(cfg, "Entrypoint"), &out->entrypoint, err) < 0 ||
		    string_array("config.Cmd", json_object_get(cfg, "Cmd"), &out->cmd, err) < 0 ||
		    object_keys(json_object_get(cfg, "Volumes"), &out->volumes, err) < 0 ||
		    object_keys(json_object_get(cfg, "ExposedPorts"), &out->exposed_ports, err) < 0)
			goto fail;
	}
	if (!json_is_object(rootfs) ||
	    string_array("rootfs.diff_ids", json_object_get(rootfs, "diff_ids"), &out->diff_ids, err) < 0)
		goto fail_rootfs;
	if (out->diff_ids == NULL)
		goto fail_rootfs;
	for (char **d = out->diff_ids; *d; d++, out->n_diff_ids++)
		if (digest_validate(*d, err) < 0) {
			berth_error_wrap(err, "image config: rootfs.diff_ids[%zu]", out->n_diff_ids);
			goto fail;
		}
	return 0;
fail_rootfs:
	if (*err == NULL)
		berth_error_set(err, EINVAL, "image config: rootfs.diff_ids: missing");
fail:
	image_config_free(out);
	return -1;
}

void image_config_free(image_config *c)
{
	free(c->os);
	free(c->architecture);
	free(c->variant);
	free(c->created);
	free(c->author);
	free(c->user);
	free(c->working_dir);
	free(c->stop_signal);
	strv_free(c->env);
	strv_free(c->entrypoint);
	strv_free(c->cmd);
	strv_free(c->volumes);
	strv_free(c->exposed_ports);
	strv_free(c->diff_ids);
	json_decref(c->labels);
	json_decref(c->healthcheck);
	json_decref(c->shell);
	json_decref(c->on_build);
	memset(c, 0, sizeof(*c));
}

json_t *oci_descriptor_to_json(const oci_descriptor *d)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type, "digest", d->digest, "size",
			 (json_int_t)d->size);
}

/* uname() once per process: platform_parse runs in parallel build stages. */
static struct utsname host_uname;
static int host_uname_ret = -1;
static pthread_once_t host_uname_once = PTHREAD_ONCE_INIT;

static void host_uname_read(void)
{
	host_uname_ret = uname(&host_uname);
}

static const char *host_architecture(const char **variant)
{
	const struct utsname *u = &host_uname;
	static const struct {
		const char *machine, *goarch, *variant;
	} map[] = {
		{ "x86_64", "amd64", NULL },	{ "aarch64", "arm64", NULL }, { "armv7l", "arm", "v7" },
		{ "armv6l", "arm", "v6" },	{ "i686", "386", NULL },      { "i386", "386", NULL },
		{ "ppc64le", "ppc64le", NULL }, { "s390x", "s390x", NULL },   { "riscv64", "riscv64", NULL },
	};

	*variant = NULL;
	pthread_once(&host_uname_once, host_uname_read);
	if (host_uname_ret < 0)
		return "amd64";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(u->machine, map[i].machine) == 0) {
			*variant = map[i].variant;
			return map[i].goarch;
		}
	return u->machine;
}

int platform_parse(const char *text, oci_platform *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL) {
		const char *variant;
		const char *arch = host_architecture(&variant);
		out->os = strdup("linux");
		out->architecture = strdup(arch);
		out->variant = variant ? strdup(variant) : NULL;
	} else {
		_cleanup_free_ char *copy = strdup(text);
		char *arch, *variant;
		if (copy == NULL)
			return berth_error_set(err, ENOMEM, "platform");
		arch = strchr(copy, '/');
		if (arch == NULL || arch == copy || arch[1] == '\0' || arch[1] == '/')
			return berth_error_set(err, EINVAL, "platform \"%s\": expected OS/ARCH[/VARIANT]", text);
		*arch++ = '\0';
		variant = strchr(arch, '/');
		if (variant) {
			*variant++ = '\0';
			if (*variant == '\0' || strchr(variant, '/'))
				return berth_error_set(err, EINVAL, "platform \"%s\": expected OS/ARCH[/VARIANT]",
						       text);
		}
		out->os = strdup(copy);
		out->architecture = strdup(arch);
		out->variant = variant ? strdup(variant) : NULL;
	}
	if (out->os == NULL || out->architecture == NULL) {
		platform_free(out);
		return berth_error_set(err, ENOMEM, "platform");
	}
	return 0;
}

void platform_free(oci_platform *p)
{
	free(p->os);
	free(p->architecture);
	free(p->variant);
	memset(p, 0, sizeof(*p));
}

char *platform_string(const oci_platform *p)
{
	char *out = NULL;
	int ret;

	if (p->variant)
		ret = asprintf(&out, "%s/%s/%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?",
			       p->variant);
	else
		ret = asprintf(&out, "%s/%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?");
	return ret < 0 ? NULL : out;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int index_select(const image_index *idx, const oci_platform *want, const oci_descriptor **out, berth_error **err)
{
	const oci_descriptor *fallback = NULL;
	_cleanup_free_ char *have = NULL, *wanted = NULL;
	size_t have_len = 0;

	for (size_t i = 0; i < idx->n_manifests; i++) {
		const oci_descriptor *d = &idx->manifests[i];
		if (!str_eq(d->platform.os, want->os) || !str_eq(d->platform.architecture, want->architecture))
			continue;
		if (want->variant == NULL || str_eq(d->platform.variant, want->variant)) {
			*out = d;
			return 0;
		}
		/* arm64 without a variant is v8 */
		if (d->platform.variant == NULL && str_eq(want->variant, "v8") && fallback == NULL)
			fallback = d;
	}
	if (fallback) {
		*out = fallback;
		return 0;
	}
	for (size_t i = 0; i < idx->n_manifests; i++) {
		_cleanup_free_ char *p = platform_string(&idx->manifests[i].platform);
		size_t l = p ? strlen(p) : 0;
		char *grown = realloc(have, have_len + l + 3);
		if (grown == NULL)
			break;
		have = grown;
		have_len += (size_t)sprintf(have + have_len, "%s%s", have_len ? ", " : "", p ? p : "?");
	}
	wanted = platform_string(want);
	return berth_error_set(err, 0, "no image for platform %s in the index (it has: %s)", wanted ? wanted : "?",
			       have ? have : "nothing");
}

bool layer_media_type_supported(const char *mt)
{
	static const char *const ok[] = {
		MEDIA_OCI_LAYER,
		MEDIA_OCI_LAYER_GZIP,
		MEDIA_OCI_LAYER_ZSTD,
		MEDIA_DOCKER_LAYER_GZIP,
		MEDIA_DOCKER_FOREIGN_LAYER,
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		NULL,
	};

	for (int i = 0; mt && ok[i]; i++)
		if (strcmp(mt, ok[i]) == 0)
			return true;
	return false;
}

void image_chain_ids(char *const *diff_ids, size_t n, char (*out)[DIGEST_STRING_MAX])
{
	for (size_t i = 0; i < n; i++) {
		if (i == 0) {
			snprintf(out[0], DIGEST_STRING_MAX, "%s", diff_ids[0]);
			continue;
		}
		digester d;
		digester_init(&d);
		digester_update(&d, out[i - 1], strlen(out[i - 1]));
		digester_update(&d, " ", 1);
		digester_update(&d, diff_ids[i], strlen(diff_ids[i]));
		digester_final(&d, out[i]);
	}
}
