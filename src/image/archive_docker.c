/* docker-archive (`docker save`): manifest.json lists the images as
 * [{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<dir>/layer.tar"]}];
 * layers are tars, normally uncompressed, whose sha256 is the config's
 * diff_id. Loading stores the layers as they are (an uncompressed layer as
 * application/vnd.oci.image.layer.v1.tar, a gzip or zstd one with that media
 * type) and synthesises an OCI manifest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/archive_internal.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/cleanup.h"

/* ---- load ---- */

static int check_layer(archive_loader *l, archive_member *m, const char *diff_id, berth_error **err)
{
	char actual[DIGEST_STRING_MAX];

	switch (m->compression) {
	case BLOB_COMPRESSION_NONE:
		snprintf(actual, sizeof(actual), "%s", m->digest);
		break;
	case BLOB_COMPRESSION_GZIP:
	case BLOB_COMPRESSION_ZSTD:
		/* the uncompressed digest needs the bytes again: from the
		 * store, where the blob is verified content either way */
		if (archive_member_commit(l, m, err) < 0 ||
		    archive_blob_diff_id(l->s, m->digest, actual, NULL, err) < 0)
			return berth_error_wrap(err, "layer \"%s\"", m->name);
		break;
	default:
		return berth_error_set(err, 0, "layer \"%s\": unsupported compression (tar, gzip or zstd)", m->name);
	}
	if (strcmp(actual, diff_id) != 0)
		return berth_error_set(err, 0,
				       "layer \"%s\" does not match the image config: its diff_id is %s, the config "
				       "says %s",
				       m->name, actual, diff_id);
	return 0;
}

static int add_repo_tags(archive_loader *l, const char *digest, int64_t size, json_t *tags, berth_error **err)
{
	size_t i;
	json_t *t;

	if (archive_loader_add_image(l, digest, MEDIA_OCI_MANIFEST, size, NULL, err) < 0)
		return -1;
	json_array_foreach(tags, i, t) {
		_cleanup_free_ char *name = NULL;
		image_ref ref = { 0 };

		if (!json_is_string(t))
			return berth_error_set(err, 0, "manifest.json: RepoTags[%zu] is not a string", i);
		if (image_ref_parse(json_string_value(t), &ref, err) < 0)
			return berth_error_wrap(err, "manifest.json: RepoTags[%zu]", i);
		name = image_ref_name(&ref);
		image_ref_free(&ref);
		if (name == NULL)
			return berth_error_set(err, ENOMEM, "load");
		if (archive_loader_add_image(l, digest, MEDIA_OCI_MANIFEST, size, name, err) < 0)
			return -1;
	}
	return 0;
}

static int resolve_layers(archive_loader *l, json_t *layers, const image_config *cfg, json_t *descriptors,
			  berth_error **err)
{
	size_t i;
	json_t *v;

	json_array_foreach(layers, i, v) {
		archive_member *m;

		if (!json_is_string(v))
			return berth_error_set(err, 0, "manifest.json: Layers[%zu] is not a string", i);
		if (archive_loader_need(l, json_string_value(v), "manifest.json", &m, err) < 0 ||
		    check_layer(l, m, cfg->diff_ids[i], err) < 0 || archive_member_commit(l, m, err) < 0)
			return -1;
		if (json_array_append_new(descriptors, archive_descriptor_json(archive_layer_media_type(m->compression),
									       m->digest, (int64_t)m->size)) < 0)
			return berth_error_set(err, ENOMEM, "load");
	}
	return 0;
}

static int resolve_image(archive_loader *l, json_t *item, size_t index, berth_error **err)
{
	const char *config_name = json_string_value(json_object_get(item, "Config")), *text;
	json_t *layers = json_object_get(item, "Layers"), *tags = json_object_get(item, "RepoTags");
	json_auto_t *descriptors = json_array();
	image_config cfg = { 0 };
	char digest[DIGEST_STRING_MAX];
	archive_member *cm;
	int64_t size;
	int ret;

	if (config_name == NULL || !json_is_array(layers) || (tags && !json_is_array(tags) && !json_is_null(tags)))
		return berth_error_set(
		    err, 0, "manifest.json[%zu]: expected Config (string), Layers (array), RepoTags (array)", index);
	if (descriptors == NULL)
		return berth_error_set(err, ENOMEM, "load");
	if (archive_loader_need(l, config_name, "manifest.json", &cm, err) < 0 ||
	    archive_member_json(cm, &text, err) < 0)
		return -1;
	if (image_config_parse(text, cm->size, &cfg, err) < 0)
		return berth_error_wrap(err, "config \"%s\"", config_name);
	ret = 0;
	if (cfg.n_diff_ids != json_array_size(layers))
		ret = berth_error_set(err, 0, "config \"%s\" has %zu diff_ids, manifest.json lists %zu layers",
				      config_name, cfg.n_diff_ids, json_array_size(layers));
	if (ret == 0)
		ret = resolve_layers(l, layers, &cfg, descriptors, err);
	image_config_free(&cfg);
	if (ret < 0 || archive_member_commit(l, cm, err) < 0 ||
	    archive_put_manifest(l->s, cm->digest, (int64_t)cm->size, descriptors, digest, &size, err) < 0)
		return -1;
	return add_repo_tags(l, digest, size, json_is_array(tags) ? tags : NULL, err);
}

int archive_docker_resolve(archive_loader *l, berth_error **err)
{
	json_auto_t *root = NULL;
	archive_member *m;
	json_error_t jerr;
	const char *text;
	size_t i;
	json_t *item;

	if (archive_loader_need(l, "manifest.json", "docker-archive", &m, err) < 0 ||
	    archive_member_json(m, &text, err) < 0)
		return -1;
	root = json_loadb(text, m->size, 0, &jerr);
	if (root == NULL)
		return berth_error_set(err, 0, "manifest.json: %s (line %d)", jerr.text, jerr.line);
	if (!json_is_array(root) || json_array_size(root) == 0)
		return berth_error_set(err, 0, "manifest.json: expected a non-empty array of images");
	json_array_foreach(root, i, item) {
		if (!json_is_object(item))
			return berth_error_set(err, 0, "manifest.json[%zu]: expected an object", i);
		if (resolve_image(l, item, i, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- save ---- */

static bool is_uncompressed(const char *media_type)
{
	return strcmp(media_type, MEDIA_OCI_LAYER) == 0 ||
	       strcmp(media_type, "application/vnd.docker.image.rootfs.diff.tar") == 0;
}

/* "<diff_id hex>/layer.tar": uncompressed, as docker load expects. */
static int write_layer(archive_sink *k, store *s, const oci_descriptor *layer, const char *diff_id, const char *dir,
		       const char *path, berth_error **err)
{
	char actual[DIGEST_STRING_MAX];
	uint64_t size;

	if (archive_sink_add_dir(k, dir, err) < 0)
		return -1;
	if (is_uncompressed(layer->media_type) && strcmp(layer->digest, diff_id) == 0)
		return archive_sink_add_blob(k, path, s, layer->digest, layer->size, err);
	/* the tar header needs the size before the bytes: decompress twice
	 * rather than spool a copy */
	if (archive_blob_diff_id(s, layer->digest, actual, &size, err) < 0)
		return -1;
	if (strcmp(actual, diff_id) != 0)
		return berth_error_set(err, 0, "layer %s: its content is %s, the config says %s", layer->digest, actual,
				       diff_id);
	return archive_sink_add_decompressed(k, path, s, layer->digest, size, err);
}

static int write_image(archive_sink *k, store *s, archive_save_image *img, json_t *manifest, char ***written,
		       size_t *n_written, berth_error **err)
{
	const image_info *info = &img->info;
	_cleanup_free_ char *config_path = NULL;
	json_t *item = json_object(), *layers = json_array(),
	       *tags = img->tags && img->tags[0] ? json_array() : json_null();

	if (item == NULL || json_array_append_new(manifest, item) < 0 || layers == NULL || tags == NULL ||
	    asprintf(&config_path, "%s.json", digest_hex(info->id)) < 0) {
		json_decref(layers);
		json_decref(tags);
		return berth_error_set(err, ENOMEM, "save");
	}
	json_object_set_new(item, "Config", json_string(config_path));
	json_object_set_new(item, "RepoTags", tags);
	json_object_set_new(item, "Layers", layers);
	for (char **t = img->tags; t && *t; t++)
		json_array_append_new(tags, json_string(*t));
	if (info->manifest.n_layers != info->config.n_diff_ids)
		return berth_error_set(err, 0, "image %s: %zu layers but %zu diff_ids", info->id,
				       info->manifest.n_layers, info->config.n_diff_ids);
	if (!archive_strv_contains(*written, config_path)) {
		if (archive_sink_add_blob(k, config_path, s, info->id, info->manifest.config.size, err) < 0 ||
		    archive_strv_add(written, n_written, config_path) < 0)
			return berth_error_wrap(err, "config %s", info->id);
	}
	for (size_t i = 0; i < info->manifest.n_layers; i++) {
		const char *diff_id = info->config.diff_ids[i];
		_cleanup_free_ char *path = NULL, *dir = strdup(digest_hex(diff_id));
		if (dir == NULL || asprintf(&path, "%s/layer.tar", dir) < 0 ||
		    json_array_append_new(layers, json_string(path)) < 0)
			return berth_error_set(err, ENOMEM, "save");
		if (archive_strv_contains(*written, path))
			continue;
		if (write_layer(k, s, &info->manifest.layers[i], diff_id, dir, path, err) < 0 ||
		    archive_strv_add(written, n_written, path) < 0)
			return berth_error_wrap(err, "image %s", info->id);
	}
	return 0;
}

int archive_docker_write(archive_sink *k, store *s, archive_save_image *images, size_t n, berth_error **err)
{
	json_auto_t *manifest = json_array();
	_cleanup_strv_ char **written = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n_written = 0;

	if (manifest == NULL)
		return berth_error_set(err, ENOMEM, "save");
	for (size_t i = 0; i < n; i++)
		if (write_image(k, s, &images[i], manifest, &written, &n_written, err) < 0)
			return -1;
	text = json_dumps(manifest, JSON_COMPACT);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "save");
	return archive_sink_add_buffer(k, "manifest.json", text, strlen(text), err);
}
