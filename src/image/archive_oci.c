/* OCI image layouts (a directory, or a tar of one): oci-layout, index.json
 * and blobs/sha256/<hex>. Every blob is verified against the digest its path
 * names and the size its descriptor gives. An entry of index.json that is
 * itself an index (a multi-platform image) loads the manifest for this
 * host's platform.
 *
 * Names, as podman does: the annotation io.containerd.image.name, else
 * org.opencontainers.image.ref.name. A value with a registry
 * ("docker.io/library/busybox:1", "localhost/app") is used as it is; a short
 * one ("app:1", "t", "latest") is a name in localhost ("localhost/app:1",
 * "localhost/t:latest"). Entries without either annotation load unnamed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/archive_internal.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/cleanup.h"

#define CONTAINERD_NAME_ANNOTATION "io.containerd.image.name"

/* ---- load ---- */

static bool has_registry(const char *name)
{
	const char *slash = strchr(name, '/');
	size_t len;

	if (slash == NULL)
		return false;
	len = (size_t)(slash - name);
	return memchr(name, '.', len) || memchr(name, ':', len) || (len == 9 && strncmp(name, "localhost", 9) == 0);
}

static int image_name(json_t *annotations, char **out, berth_error **err)
{
	const char *value = json_string_value(json_object_get(annotations, CONTAINERD_NAME_ANNOTATION));
	_cleanup_free_ char *text = NULL;
	image_ref ref = { 0 };

	*out = NULL;
	if (value == NULL || value[0] == '\0')
		value = json_string_value(json_object_get(annotations, STORE_REF_NAME_ANNOTATION));
	if (value == NULL || value[0] == '\0')
		return 0;
	if (asprintf(&text, "%s%s", has_registry(value) ? "" : "localhost/", value) < 0)
		return berth_error_set(err, ENOMEM, "load");
	if (image_ref_parse(text, &ref, err) < 0)
		return berth_error_wrap(err, "image name \"%s\"", value);
	*out = image_ref_name(&ref);
	image_ref_free(&ref);
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "load");
	return 0;
}

/* The member holding blob DIGEST of SIZE bytes (<0: any), referenced by WHAT. */
static int need_blob(archive_loader *l, const char *digest, int64_t size, const char *what, archive_member **out,
		     berth_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (digest_validate(digest, err) < 0)
		return berth_error_wrap(err, "%s", what);
	path = archive_blob_path(digest);
	if (path == NULL)
		return berth_error_set(err, ENOMEM, "load");
	if (archive_loader_need(l, path, what, out, err) < 0)
		return -1;
	if (strcmp((*out)->digest, digest) != 0)
		return berth_error_set(err, 0, "digest mismatch in blob \"%s\": the content is %s", path,
				       (*out)->digest);
	if (size >= 0 && (*out)->size != (uint64_t)size)
		return berth_error_set(err, 0, "blob \"%s\" is %llu bytes, %s says %lld", path,
				       (unsigned long long)(*out)->size, what, (long long)size);
	return 0;
}

static int resolve_manifest(archive_loader *l, archive_member *mm, const char *media_type, const char *name,
			    berth_error **err)
{
	_cleanup_free_ char *what = NULL;
	image_manifest man = { 0 };
	archive_member *cm, *lm;
	const char *text;
	int ret = 0;

	if (asprintf(&what, "manifest %s", mm->digest) < 0)
		return berth_error_set(err, ENOMEM, "load");
	if (manifest_parse(mm->data, mm->size, &man, err) < 0)
		return berth_error_wrap(err, "%s", what);
	if (need_blob(l, man.config.digest, man.config.size, what, &cm, err) < 0 ||
	    archive_member_json(cm, &text, err) < 0)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < man.n_layers; i++) {
		const oci_descriptor *d = &man.layers[i];
		if (!layer_media_type_supported(d->media_type))
			ret = berth_error_set(err, 0, "%s: layer %s has unsupported media type \"%s\"", what, d->digest,
					      d->media_type);
		else if (need_blob(l, d->digest, d->size, what, &lm, err) < 0 || archive_member_commit(l, lm, err) < 0)
			ret = -1;
	}
	image_manifest_free(&man);
	if (ret < 0 || archive_member_commit(l, cm, err) < 0 || archive_member_commit(l, mm, err) < 0)
		return -1;
	return archive_loader_add_image(l, mm->digest, media_type, (int64_t)mm->size, name, err);
}

/* An index inside the layout: the manifest for this host's platform. */
static int select_platform(archive_loader *l, archive_member *im, archive_member **out, char **media_type,
			   berth_error **err)
{
	image_index idx = { 0 };
	oci_platform host = { 0 };
	const oci_descriptor *d;
	manifest_kind kind;
	int ret;

	if (index_parse(im->data, im->size, &idx, err) < 0)
		return berth_error_wrap(err, "index %s", im->digest);
	ret = platform_parse(NULL, &host, err);
	if (ret == 0)
		ret = index_select(&idx, &host, &d, err);
	if (ret == 0)
		ret = need_blob(l, d->digest, d->size, "index.json", out, err);
	if (ret == 0 && (*out)->data == NULL)
		ret = berth_error_set(err, 0, "manifest %s is not JSON", d->digest);
	if (ret == 0)
		ret = manifest_detect(d->media_type, (*out)->data, (*out)->size, &kind, media_type, err);
	if (ret == 0 && kind != MANIFEST_KIND_IMAGE)
		ret = berth_error_set(err, 0, "index %s: nested index %s", im->digest, d->digest);
	platform_free(&host);
	image_index_free(&idx);
	return ret;
}

static int resolve_entry(archive_loader *l, json_t *desc, size_t index, berth_error **err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	const char *declared = json_string_value(json_object_get(desc, "mediaType"));
	json_t *size = json_object_get(desc, "size");
	_cleanup_free_ char *name = NULL, *media_type = NULL;
	archive_member *m;
	manifest_kind kind;

	if (digest == NULL || !json_is_integer(size))
		return berth_error_set(err, 0, "index.json: manifests[%zu]: expected digest and size", index);
	if (image_name(json_object_get(desc, "annotations"), &name, err) < 0 ||
	    need_blob(l, digest, json_integer_value(size), "index.json", &m, err) < 0)
		return berth_error_wrap(err, "index.json: manifests[%zu]", index);
	if (m->data == NULL)
		return berth_error_set(err, 0, "manifest %s is not JSON", digest);
	if (manifest_detect(declared, m->data, m->size, &kind, &media_type, err) < 0)
		return berth_error_wrap(err, "manifest %s", digest);
	if (kind == MANIFEST_KIND_INDEX) {
		free(media_type);
		media_type = NULL;
		if (select_platform(l, m, &m, &media_type, err) < 0)
			return -1;
	}
	return resolve_manifest(l, m, media_type, name, err);
}

int archive_oci_resolve(archive_loader *l, berth_error **err)
{
	json_auto_t *layout = NULL, *index = NULL;
	archive_member *lm, *im;
	json_t *manifests, *desc;
	json_error_t jerr;
	size_t i;

	if (archive_loader_find(l, "oci-layout", &lm, err) < 0 || archive_loader_find(l, "index.json", &im, err) < 0)
		return -1;
	if (lm == NULL || im == NULL || lm->data == NULL || im->data == NULL)
		return berth_error_set(err, 0,
				       "not a known archive format: an OCI layout needs the files "
				       "oci-layout and index.json");
	layout = json_loadb(lm->data, lm->size, 0, &jerr);
	if (!json_is_string(json_object_get(layout, "imageLayoutVersion")))
		return berth_error_set(err, 0, "oci-layout: no imageLayoutVersion");
	index = json_loadb(im->data, im->size, 0, &jerr);
	if (index == NULL)
		return berth_error_set(err, 0, "index.json: %s (line %d)", jerr.text, jerr.line);
	manifests = json_object_get(index, "manifests");
	if (!json_is_array(manifests) || json_array_size(manifests) == 0)
		return berth_error_set(err, 0, "index.json lists no manifests");
	json_array_foreach(manifests, i, desc) {
		if (resolve_entry(l, desc, i, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- save ---- */

static int write_blob(archive_sink *k, store *s, const char *digest, int64_t size, char ***written, size_t *n_written,
		      berth_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (archive_strv_contains(*written, digest))
		return 0;
	path = archive_blob_path(digest);
	if (path == NULL || archive_strv_add(written, n_written, digest) < 0)
		return berth_error_set(err, ENOMEM, "save");
	return archive_sink_add_blob(k, path, s, digest, size, err);
}

static int write_image(archive_sink *k, store *s, const archive_save_image *img, json_t *manifests, char ***written,
		       size_t *n_written, berth_error **err)
{
	const image_info *info = &img->info;

	if (write_blob(k, s, info->manifest_digest, info->manifest_size, written, n_written, err) < 0 ||
	    write_blob(k, s, info->manifest.config.digest, info->manifest.config.size, written, n_written, err) < 0)
		return berth_error_wrap(err, "image %s", info->id);
	for (size_t i = 0; i < info->manifest.n_layers; i++) {
		const oci_descriptor *d = &info->manifest.layers[i];
		if (write_blob(k, s, d->digest, d->size, written, n_written, err) < 0)
			return berth_error_wrap(err, "image %s", info->id);
	}
	for (size_t i = 0; i == 0 || (img->tags && img->tags[i]); i++) {
		json_t *desc =
		    archive_descriptor_json(info->manifest_media_type, info->manifest_digest, info->manifest_size);
		if (desc == NULL || json_array_append_new(manifests, desc) < 0)
			return berth_error_set(err, ENOMEM, "save");
		if (img->tags && img->tags[i])
			json_object_set_new(desc, "annotations",
					    json_pack("{s:s}", STORE_REF_NAME_ANNOTATION, img->tags[i]));
	}
	return 0;
}

int archive_oci_write(archive_sink *k, store *s, archive_save_image *images, size_t n, berth_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	json_auto_t *index =
	    json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MEDIA_OCI_INDEX, "manifests");
	_cleanup_strv_ char **written = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n_written = 0;

	if (index == NULL)
		return berth_error_set(err, ENOMEM, "save");
	if (archive_sink_add_buffer(k, "oci-layout", layout, strlen(layout), err) < 0 ||
	    archive_sink_add_dir(k, "blobs", err) < 0 || archive_sink_add_dir(k, "blobs/sha256", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (write_image(k, s, &images[i], json_object_get(index, "manifests"), &written, &n_written, err) < 0)
			return -1;
	text = json_dumps(index, JSON_COMPACT);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "save");
	return archive_sink_add_buffer(k, "index.json", text, strlen(text), err);
}
