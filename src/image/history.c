#include "image/history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/manifest.h"
#include "util/cleanup.h"

/* The bytes of the files and links below DIRFD (not following links). */
static int64_t tree_bytes(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int64_t total = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			total += st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
			    openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += tree_bytes(sub);
		}
	}
	return total;
}

/* RFC 3339 -> Unix seconds (0 when unreadable). */
static int64_t unix_seconds(const char *text)
{
	struct tm tm = { 0 };

	if (text == NULL || strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

static int64_t layer_size(store *s, const image_info *info, size_t layer, char (*chains)[DIGEST_STRING_MAX])
{
	_cleanup_free_ char *snap = chains ? store_snapshot_path(s, chains[layer]) : NULL;
	_cleanup_close_ int fd = snap ? open(snap, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;

	if (fd >= 0)
		return tree_bytes(fd);
	return layer < info->manifest.n_layers ? info->manifest.layers[layer].size : 0;
}

static json_t *entry(const char *created, const char *created_by, int64_t size, const char *comment)
{
	return json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>", "Created",
			 (json_int_t)unix_seconds(created), "CreatedBy", created_by ? created_by : "", "Tags", "Size",
			 (json_int_t)size, "Comment", comment ? comment : "");
}

int image_history(store *s, const image_info *info, json_t **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char(*chains)[DIGEST_STRING_MAX] = NULL;
	json_auto_t *cfg = NULL;
	json_t *rows = json_array(), *h, *first;
	size_t len, i, layer = 0, n = info->config.n_diff_ids;

	*out = NULL;
	if (rows == NULL)
		return berth_error_set(err, ENOMEM, "history");
	if (store_blob_read(s, info->id, MANIFEST_MAX_SIZE, &text, &len, err) < 0) {
		json_decref(rows);
		return berth_error_wrap(err, "history of %.19s", info->id);
	}
	cfg = json_loadb(text, len, 0, NULL);
	if (n > 0 && (chains = calloc(n, DIGEST_STRING_MAX)) != NULL)
		image_chain_ids(info->config.diff_ids, n, chains);
	json_array_foreach(json_object_get(cfg, "history"), i, h) {
		bool empty = json_is_true(json_object_get(h, "empty_layer"));
		int64_t size = 0;
		if (!empty && layer < n)
			size = layer_size(s, info, layer++, chains);
		json_array_insert_new(rows, 0,
				      entry(json_string_value(json_object_get(h, "created")),
					    json_string_value(json_object_get(h, "created_by")), size,
					    json_string_value(json_object_get(h, "comment"))));
	}
	/* layers the history does not tell of (an image without history) */
	for (; layer < n; layer++)
		json_array_insert_new(rows, 0,
				      entry(json_string_value(json_object_get(cfg, "created")), "",
					    layer_size(s, info, layer, chains), ""));
	first = json_array_get(rows, 0);
	if (first) {
		json_t *tags = json_array();
		for (char **name = info->names; tags && name && *name; name++)
			json_array_append_new(tags, json_string(*name));
		json_object_set_new(first, "Id", json_string(info->id));
		json_object_set_new(first, "Tags", json_array_size(tags) ? tags : json_null());
		if (json_array_size(tags) == 0)
			json_decref(tags);
	}
	*out = rows;
	return 0;
}
