/* berth commit, diff, export and image history: docker's commands over
 * build/commit.h and image/history.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/commit.h"
#include "cmd/berth/engine_cmd.h"
#include "image/history.h"
#include "util/cleanup.h"

/* The container TEXT names, refreshed; *S the store when S is not NULL. */
static int open_container(const berth_globals *g, const char *text, engine_paths *p, container **c, store **s,
			  berth_error **err)
{
	if (berth_engine_open(g, p, err) < 0 || record_open(p, text, c, err) < 0 || record_refresh(p, *c, err) < 0)
		return -1;
	return s ? berth_open_store(g, s, err) : 0;
}

static const option_spec commit_specs[] = {
	{ "message", 'm', true, "the commit message (the history entry's comment)" },
	{ "author", 'a', true, "the author (\"Name <mail>\")" },
	{ "change", 'c', true,
	  "a Dockerfile instruction: CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, USER, WORKDIR, VOLUME, "
	  "STOPSIGNAL, ONBUILD (repeatable)" },
	{ "pause", 'p', false, "pause the container while its changes are written (default true)" },
	{ NULL, 0, false, NULL },
};

int cmd_commit(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[5] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths p = { 0 };
	container *c = NULL;
	store *s = NULL;
	char id[DIGEST_STRING_MAX];
	int npos, ret;

	ret = berth_parse_grouped("commit",
				  "commit [-m MSG] [-a AUTHOR] [-c CHANGE]... [--pause=false] CONTAINER [IMAGE]",
				  commit_specs, argc, argv, false, v, &pos, &npos, 1, 2, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	build_commit_options o = { .reference = npos > 1 ? pos[1] : NULL,
				   .comment = v[0].value,
				   .author = v[1].value,
				   .changes = (char *const *)v[2].all,
				   .pause = !v[3].set || option_bool(&v[3]) };
	ret = 125;
	/* bad changes or a bad name fail before the container is touched */
	if (build_commit_validate(&o, err) < 0 || open_container(g, pos[0], &p, &c, &s, err) < 0 ||
	    build_commit(&p, s, c, &o, id, err) < 0)
		goto out;
	printf("%s\n", id);
	ret = 0;
out:
	if (s)
		store_close(s);
	container_free(c);
	engine_paths_free(&p);
	options_free_values(v, 4);
	return ret;
}

int cmd_diff(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { NULL, 0, false, NULL } };
	option_value v[1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths p = { 0 };
	container *c = NULL;
	store *s = NULL;
	json_t *changes = NULL, *e;
	size_t i;
	int npos, ret;

	ret = berth_parse_grouped("diff", "diff CONTAINER", specs, argc, argv, false, v, &pos, &npos, 1, 1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 125;
	if (open_container(g, pos[0], &p, &c, &s, err) == 0 && build_container_diff(s, c, &changes, err) == 0) {
		json_array_foreach(changes, i, e) {
			int kind = (int)json_integer_value(json_object_get(e, "Kind"));
			printf("%c %s\n",
			       kind == CHANGE_ADDED	? 'A'
			       : kind == CHANGE_DELETED ? 'D'
							: 'C',
			       json_string_value(json_object_get(e, "Path")));
		}
		ret = 0;
	}
	json_decref(changes);
	if (s)
		store_close(s);
	container_free(c);
	engine_paths_free(&p);
	return ret;
}

int cmd_export(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = { { "output", 'o', true, "write to FILE instead of stdout" },
					     { NULL, 0, false, NULL } };
	option_value v[2] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	engine_paths p = { 0 };
	container *c = NULL;
	int npos, ret;

	ret = berth_parse_grouped("export", "export [-o FILE] CONTAINER", specs, argc, argv, false, v, &pos, &npos, 1,
				  1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 125;
	if (open_container(g, pos[0], &p, &c, NULL, err) < 0)
		goto out;
	if (v[0].value == NULL && isatty(STDOUT_FILENO)) {
		berth_error_request(err, EINVAL,
				    "export: refusing to write a tar to a terminal (use -o FILE or a pipe)");
		goto out;
	}
	if (v[0].value) {
		/* a file appears whole or not at all */
		if (asprintf(&tmp, "%s.tmp-XXXXXX", v[0].value) < 0 || (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
			berth_error_set(err, errno, "export: create \"%s\"", v[0].value);
			goto out;
		}
		fchmod(fd, 0644);
	}
	if (build_container_export(c, fd >= 0 ? fd : STDOUT_FILENO, err) < 0)
		goto out;
	if (fd >= 0 && (fsync(fd) < 0 || rename(tmp, v[0].value) < 0)) {
		berth_error_set(err, errno, "export: write \"%s\"", v[0].value);
		goto out;
	}
	ret = 0;
out:
	if (ret != 0 && tmp && fd >= 0)
		unlink(tmp);
	container_free(c);
	engine_paths_free(&p);
	options_free_values(v, 1);
	return ret;
}

/* docker's history columns: the id (12 hex), "N ago", CREATED BY cut to 45
 * characters ("…"), the size, the comment. */
static void history_row(berth_table *t, json_t *r, bool no_trunc, bool human)
{
	const char *id = json_string_value(json_object_get(r, "Id")) ?: "";
	const char *by = json_string_value(json_object_get(r, "CreatedBy")) ?: "";
	time_t created = (time_t)json_integer_value(json_object_get(r, "Created"));
	char short_id[16], since[64], when[40], size[32], cut[64];
	struct tm tm;

	if (!no_trunc && strncmp(id, "sha256:", 7) == 0) {
		snprintf(short_id, sizeof(short_id), "%.12s", id + 7);
		id = short_id;
	}
	gmtime_r(&created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (human)
		berth_human_since(when, since);
	if (!no_trunc && strlen(by) > 45) {
		snprintf(cut, sizeof(cut), "%.44s…", by);
		by = cut;
	}
	if (human)
		berth_human_size(json_integer_value(json_object_get(r, "Size")), size);
	else
		snprintf(size, sizeof(size), "%lld", (long long)json_integer_value(json_object_get(r, "Size")));
	const char *row[] = { id, human ? since : when, by, size,
			      json_string_value(json_object_get(r, "Comment")) ?: "" };
	berth_table_add(t, row);
}

int cmd_image_history(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = {
		{ "no-trunc", 0, false, "do not shorten ids and commands" },
		{ "quiet", 'q', false, "only the ids" },
		{ "human", 'H', false, "sizes and dates for people (default true)" },
		{ "format", 0, true, "table (default) or json (one object a line)" },
		{ NULL, 0, false, NULL },
	};
	option_value v[5] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	store *s = NULL;
	image_info info = { 0 };
	bool resolved = false, no_trunc, human;
	json_t *rows = NULL, *r;
	size_t i;
	int npos, ret;

	ret = berth_parse_grouped("image history", "image history [--no-trunc] [-q] [--format json] IMAGE", specs, argc,
				  argv, false, v, &pos, &npos, 1, 1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 125;
	no_trunc = option_bool(&v[0]);
	human = !v[2].set || option_bool(&v[2]);
	if (v[3].value && strcmp(v[3].value, "json") != 0 && strcmp(v[3].value, "table") != 0) {
		berth_error_request(err, EINVAL, "image history --format: table or json, not \"%s\"", v[3].value);
		goto out;
	}
	if (berth_open_store(g, &s, err) < 0 || image_resolve(s, pos[0], &info, err) < 0)
		goto out;
	resolved = true;
	if (image_history(s, &info, &rows, err) < 0)
		goto out;
	if (option_bool(&v[1])) {
		json_array_foreach(rows, i, r) {
			const char *id = json_string_value(json_object_get(r, "Id"));
			printf("%.*s\n", no_trunc || strncmp(id, "sha256:", 7) != 0 ? (int)strlen(id) : 12,
			       strncmp(id, "sha256:", 7) == 0 && !no_trunc ? id + 7 : id);
		}
	} else if (v[3].value && strcmp(v[3].value, "json") == 0) {
		/* docker's --format json: one object a line, its field names */
		json_array_foreach(rows, i, r) {
			berth_table t = { .ncols = 5 };
			history_row(&t, r, no_trunc, human);
			json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Comment", t.cells[4], "CreatedAt", "",
					      "CreatedBy", t.cells[2], "CreatedSince", t.cells[1], "ID", t.cells[0],
					      "Size", t.cells[3]);
			time_t created = (time_t)json_integer_value(json_object_get(r, "Created"));
			char when[40];
			struct tm tm;
			gmtime_r(&created, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			json_object_set_new(j, "CreatedAt", json_string(when));
			char *text = json_dumps(j, JSON_COMPACT);
			puts(text ? text : "");
			free(text);
			json_decref(j);
			for (size_t k = 0; k < t.nrows * t.ncols; k++)
				free(t.cells[k]);
			free(t.cells);
		}
	} else {
		berth_table t = { .ncols = 5 };
		const char *head[] = { "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" };
		berth_table_add(&t, head);
		json_array_foreach(rows, i, r) {
			history_row(&t, r, no_trunc, human);
		}
		berth_table_print(&t);
	}
	ret = 0;
out:
	json_decref(rows);
	if (resolved)
		image_info_free(&info);
	if (s)
		store_close(s);
	options_free_values(v, 4);
	return ret;
}
