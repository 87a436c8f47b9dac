/* berth image ls: the images of the store, docker's columns or JSON. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "format", 0, true, "table (default) or json" },
	{ "quiet", 'q', false, "print image ids only" },
	{ "no-trunc", 0, false, "full image ids" },
	{ "digests", 0, false, "show manifest digests" },
	{ NULL, 0, false, NULL },
};

enum { O_FORMAT, O_QUIET, O_NO_TRUNC, O_DIGESTS, O_COUNT };

/* Splits "domain/path:tag" (or "...@digest") into repository and tag. */
static void split_name(const char *name, char **repo, char **tag)
{
	const char *slash = strrchr(name, '/');
	const char *at = strchr(name, '@');
	const char *colon = strrchr(slash ? slash : name, ':');

	if (at) {
		*repo = strndup(name, (size_t)(at - name));
		*tag = strdup("<none>");
	} else if (colon) {
		*repo = strndup(name, (size_t)(colon - name));
		*tag = strdup(colon + 1);
	} else {
		*repo = strdup(name);
		*tag = strdup("<none>");
	}
}

/* "busybox" lists every tag of docker.io/library/busybox; "busybox:1" only that one. */
static bool matches(const char *name, const char *filter)
{
	image_ref ref;
	berth_error *ignored = NULL;
	_cleanup_free_ char *repo = NULL, *full = NULL;
	const char *last_slash = strrchr(filter, '/');
	bool tagged = strchr(last_slash ? last_slash : filter, ':') != NULL || strchr(filter, '@') != NULL;
	size_t l;

	if (image_ref_parse(filter, &ref, &ignored) < 0) {
		berth_error_free(&ignored);
		return false;
	}
	repo = image_ref_repository(&ref);
	full = image_ref_name(&ref);
	image_ref_free(&ref);
	if (tagged)
		return full && strcmp(name, full) == 0;
	l = repo ? strlen(repo) : 0;
	return repo && strncmp(name, repo, l) == 0 && (name[l] == ':' || name[l] == '@');
}

static int64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F || type == FTW_SL)
		tree_bytes += st->st_size;
	return 0;
}

/* The unpacked size of IMG, as docker and podman show it: the bytes of
 * the files in its snapshots (0 while none is unpacked). */
static int64_t unpacked_size(store *s, const image_info *img)
{
	_cleanup_free_ char(*chains)[DIGEST_STRING_MAX] = NULL;
	size_t n = img->config.n_diff_ids;

	if (n == 0 || (chains = calloc(n, DIGEST_STRING_MAX)) == NULL)
		return 0;
	image_chain_ids(img->config.diff_ids, n, chains);
	tree_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = store_snapshot_path(s, chains[i]);
		if (path)
			nftw(path, add_size, 16, FTW_PHYS | FTW_MOUNT);
	}
	return tree_bytes;
}

static void table_row(berth_table *t, const image_info *img, int64_t bytes, const char *name, bool no_trunc,
		      bool digests)
{
	_cleanup_free_ char *repo = NULL, *tag = NULL;
	char size[32], since[64], id[80];

	if (name)
		split_name(name, &repo, &tag);
	snprintf(id, sizeof(id), "%.*s", no_trunc ? 71 : 12, no_trunc ? img->id : digest_hex(img->id));
	{
		const char *row[] = { repo ? repo : "<none>",
				      tag ? tag : "<none>",
				      digests ? img->manifest_digest : id,
				      id,
				      berth_human_since(img->config.created, since),
				      berth_human_size(bytes, size) };
		const char *short_row[] = { row[0], row[1], row[3], row[4], row[5] };
		berth_table_add(t, digests ? row : short_row);
	}
}

int cmd_image_ls(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	image_info *list = NULL;
	store *s = NULL;
	size_t n = 0;
	int npos, ret;
	bool json;

	ret = berth_parse("image ls", "image ls [flags] [REPOSITORY[:TAG]]", specs, argc, argv, false, v, &pos, &npos,
			  0, 1, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	json = v[O_FORMAT].value && strcmp(v[O_FORMAT].value, "json") == 0;
	if (v[O_FORMAT].value && !json && strcmp(v[O_FORMAT].value, "table") != 0)
		return berth_error_set(err, EINVAL, "image ls: --format: expected table or json, not \"%s\"",
				       v[O_FORMAT].value);
	if (berth_open_store(g, &s, err) < 0 || image_list(s, &list, &n, err) < 0) {
		store_close(s);
		return 125;
	}
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			bool any = npos == 0;
			for (char **nm = list[i].names; !any && *nm; nm++)
				any = matches(*nm, pos[0]);
			if (any)
				json_array_append_new(arr, image_info_to_json(&list[i]));
		}
		berth_print_json(arr);
		json_decref(arr);
	} else {
		bool q = option_bool(&v[O_QUIET]), nt = option_bool(&v[O_NO_TRUNC]), dg = option_bool(&v[O_DIGESTS]);
		berth_table table = { .ncols = dg ? 6 : 5 };
		const char *head[] = { "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE" };
		const char *short_head[] = { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" };
		if (!q)
			berth_table_add(&table, dg ? head : short_head);
		for (size_t i = 0; i < n; i++) {
			if (q) {
				bool any = npos == 0;
				for (char **nm = list[i].names; !any && *nm; nm++)
					any = matches(*nm, pos[0]);
				if (any)
					printf("%.*s\n", nt ? 71 : 12, nt ? list[i].id : digest_hex(list[i].id));
				continue;
			}
			int64_t bytes = -1;
			if (list[i].names[0] == NULL && npos == 0)
				table_row(&table, &list[i], bytes = unpacked_size(s, &list[i]), NULL, nt, dg);
			for (char **nm = list[i].names; *nm; nm++) {
				if (npos != 0 && !matches(*nm, pos[0]))
					continue;
				if (bytes < 0)
					bytes = unpacked_size(s, &list[i]);
				table_row(&table, &list[i], bytes, *nm, nt, dg);
			}
		}
		berth_table_print(&table);
	}
	image_list_free(list, n);
	store_close(s);
	return 0;
}
