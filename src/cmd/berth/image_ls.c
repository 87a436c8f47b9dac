/* berth image ls: the images of the store, docker's columns or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "image/images.h"
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

static void print_row(const image_info *img, const char *name, bool no_trunc, bool digests)
{
	_cleanup_free_ char *repo = NULL, *tag = NULL;
	char size[32], since[64];

	if (name)
		split_name(name, &repo, &tag);
	printf("%-40s %-12s ", repo ? repo : "<none>", tag ? tag : "<none>");
	if (digests)
		printf("%-71s ", img->manifest_digest);
	printf("%-*.*s %-16s %s\n", no_trunc ? 71 : 12, no_trunc ? 71 : 12, no_trunc ? img->id : digest_hex(img->id),
	       berth_human_since(img->config.created, since), berth_human_size(img->size, size));
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
		if (!q)
			printf("%-40s %-12s %-*s%-*s %-16s %s\n", "REPOSITORY", "TAG", dg ? 72 : 0, dg ? "DIGEST" : "",
			       nt ? 71 : 12, "IMAGE ID", "CREATED", "SIZE");
		for (size_t i = 0; i < n; i++) {
			if (q) {
				bool any = npos == 0;
				for (char **nm = list[i].names; !any && *nm; nm++)
					any = matches(*nm, pos[0]);
				if (any)
					printf("%.*s\n", nt ? 71 : 12, nt ? list[i].id : digest_hex(list[i].id));
				continue;
			}
			if (list[i].names[0] == NULL && npos == 0)
				print_row(&list[i], NULL, nt, dg);
			for (char **nm = list[i].names; *nm; nm++)
				if (npos == 0 || matches(*nm, pos[0]))
					print_row(&list[i], *nm, nt, dg);
		}
	}
	image_list_free(list, n);
	store_close(s);
	return 0;
}
