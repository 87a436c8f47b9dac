/* COPY and ADD: sources from the context, a stage or an image, written
 * into the stage's overlay; the upper dir becomes the layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "build/executor_internal.h"
#include "build/fetch.h"
#include "build/strv.h"
#include "image/unpack.h"
#include "storage/bundle.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

void copy_source_release(copy_source *src)
{
	if (src->mount_dir) {
		if (src->root_fd >= 0)
			close(src->root_fd);
		stage_unmount(src->mount_dir);
		free(src->mount_dir);
	}
	memset(src, 0, sizeof(*src));
	src->root_fd = -EBADF;
}

int copy_source_open(build_ctx *c, size_t stage, const char *from, copy_source *src, berth_error **err)
{
	stage_state image = { 0 }, *si;
	_cleanup_free_ char *rootfs = NULL;
	long ref;

	memset(src, 0, sizeof(*src));
	src->root_fd = -EBADF;
	if (from == NULL) {
		src->root_fd = c->context_fd;
		src->ig = c->ignore;
		return 0;
	}
	src->keep_owner = true;
	ref = build_plan_stage_ref(c->plan, from, stage);
	if (ref >= 0) {
		si = &c->stages[ref];
	} else {
		/* an image: a scratch stage FROM it, built no further */
		image_info info;
		if (build_resolve_image(c, from, &info, err) < 0)
			return berth_error_wrap(err, "--from=%s", from);
		image.image = json_pack("{s:{}, s:{s:s, s:[]}}", "config", "rootfs", "type", "layers", "diff_ids");
		image.layers = json_array();
		for (size_t i = 0; image.image && image.layers && i < info.manifest.n_layers; i++) {
			json_array_append_new(image.layers, oci_descriptor_to_json(&info.manifest.layers[i]));
			json_array_append_new(json_object_get(json_object_get(image.image, "rootfs"), "diff_ids"),
					      json_string(info.config.diff_ids[i]));
		}
		image_info_free(&info);
		si = &image;
	}
	stage_chain_id(si, src->chain);
	int ret = stage_mount(c, si, &src->mount_dir, err);
	json_decref(image.image);
	json_decref(image.layers);
	if (ret < 0)
		return berth_error_wrap(err, "--from=%s", from);
	rootfs = fs_path_join(src->mount_dir, "rootfs");
	src->root_fd = rootfs ? open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (src->root_fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", rootfs ? rootfs : "rootfs");
	return 0;
}

static bool is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 || strncmp(s, "git@", 4) == 0;
}

static bool is_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* ADD's downloads: source I's file is NAMES[I] in DIRS[I] (one directory
 * each: two URLs may end in the same name), all below DIR. */
typedef struct url_downloads {
	char *dir; /* STORE/build-tmp/step-PID-START-*: swept when a build is killed */
	int *fds;
	char **names;
	size_t n;
} url_downloads;

static void url_downloads_release(url_downloads *u)
{
	berth_error *ignored = NULL;

	for (size_t i = 0; i < u->n; i++) {
		if (u->fds[i] >= 0)
			close(u->fds[i]);
		free(u->names[i]);
	}
	free(u->fds);
	free(u->names);
	if (u->dir && fs_remove_tree(u->dir, &ignored) < 0)
		berth_error_free(&ignored);
	free(u->dir);
	memset(u, 0, sizeof(*u));
}

/* Downloads every http(s) source of ST (ADD), checks --checksum, and adds
 * each URL and its content's digest to the key (BuildKit keys a download
 * by its content). */
static int fetch_urls(build_ctx *c, const build_step *st, url_downloads *u, digester *d, berth_error **err)
{
	size_t urls = 0;

	for (size_t i = 0; i < st->n_sources; i++)
		urls += st->kind == DF_ADD && !st->sources[i].content && is_http_url(st->sources[i].path);
	if (st->checksum && (urls != 1 || st->n_sources != 1))
		return berth_error_request(err, EINVAL, "--checksum=%s: only for ADD of one http(s) URL", st->checksum);
	if (urls == 0)
		return 0;
	u->fds = calloc(st->n_sources, sizeof(int));
	u->names = calloc(st->n_sources, sizeof(char *));
	if (u->fds == NULL || u->names == NULL ||
	    asprintf(&u->dir, "%s/step-%d-%llu-XXXXXX", c->tmp_root, (int)getpid(), proc_pid_start_time(getpid())) < 0)
		return berth_error_set(err, ENOMEM, "ADD");
	u->n = st->n_sources;
	for (size_t i = 0; i < u->n; i++)
		u->fds[i] = -EBADF;
	if (mkdtemp(u->dir) == NULL) {
		int saved = errno;
		free(u->dir);
		u->dir = NULL;
		return berth_error_set(err, saved, "ADD: a download directory in \"%s\"", c->tmp_root);
	}
	for (size_t i = 0; i < st->n_sources; i++) {
		const char *url = st->sources[i].path;
		char digest[DIGEST_STRING_MAX], sub[32];
		_cleanup_close_ int top = -EBADF;
		if (st->kind != DF_ADD || st->sources[i].content || !is_http_url(url))
			continue;
		snprintf(sub, sizeof(sub), "%zu", i);
		top = open(u->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (top < 0 || mkdirat(top, sub, 0700) < 0 ||
		    (u->fds[i] = openat(top, sub, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return berth_error_set(err, errno, "ADD: download directory");
		u->names[i] = build_url_file_name(url);
		if (u->names[i] == NULL)
			return berth_error_set(err, ENOMEM, "ADD");
		if (build_fetch_url(url, u->fds[i], u->names[i], st->checksum, digest, err) < 0)
			return -1;
		cache_key_add(d, "url", url);
		cache_key_add(d, "content", digest);
	}
	return 0;
}

/* Every source matched, and the cache key over their contents. */
static int match_sources(const build_step *st, const copy_source *src, char ****matches, digester *d, berth_error **err)
{
	char ***m = calloc(st->n_sources + 1, sizeof(char **));

	if (m == NULL)
		return berth_error_set(err, ENOMEM, "COPY");
	*matches = m;
	for (size_t i = 0; i < st->n_sources; i++) {
		const build_source *bs = &st->sources[i];
		digester_update(d, bs->path, strlen(bs->path) + 1);
		if (bs->content) {
			digester_update(d, bs->content, strlen(bs->content) + 1);
			continue;
		}
		if (st->kind == DF_ADD && is_http_url(bs->path)) {
			/* downloaded by fetch_urls, which keys its content */
			if (build_strv_add(&m[i], bs->path, (size_t)-1) < 0)
				return berth_error_set(err, ENOMEM, "ADD");
			continue;
		}
		if (st->kind == DF_ADD && is_url(bs->path))
			return berth_error_request(err, ENOTSUP, "\"%s\": ADD of a git URL is not supported yet",
						   bs->path);
		if (build_glob(src->root_fd, bs->path, src->ig, &m[i], err) < 0)
			return -1;
		for (size_t k = 0; m[i][k]; k++)
			if (build_hash_tree(src->root_fd, m[i][k], src->ig, d, err) < 0)
				return berth_error_wrap(err, "\"%s\"", m[i][k]);
	}
	return 0;
}

static void matches_free(char ***m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		strv_free(m[i]);
	free(m);
}

static int parse_chmod(const char *text, mode_t *mode, berth_error **err)
{
	char *end;
	long v = strtol(text, &end, 8);

	if (*text == '\0' || *end || v < 0 || v > 07777)
		return berth_error_request(err, EINVAL, "--chmod=%s: expected an octal mode", text);
	*mode = (mode_t)v;
	return 0;
}

/* Is the file at PATH in ROOT a tar archive, plain or compressed in a way
 * layer_unpack reads (gzip, zstd)? */
static bool is_archive(int root, const char *path)
{
	_cleanup_close_ int fd = fs_open_in_root(root, path, O_RDONLY | O_CLOEXEC, 0, true, NULL);
	struct archive *a;
	struct archive_entry *e;
	struct stat st;
	bool yes;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	a = archive_read_new();
	if (a == NULL)
		return false;
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	yes = archive_read_open_fd(a, fd, 65536) == ARCHIVE_OK && archive_read_next_header(a, &e) == ARCHIVE_OK;
	archive_read_free(a);
	return yes;
}

static int extract_archive(int src_root, const char *path, int dst_root, const char *dest, berth_error **err)
{
	_cleanup_close_ int fd = fs_open_in_root(src_root, path, O_RDONLY | O_CLOEXEC, 0, true, err);
	_cleanup_close_ int made = -EBADF, dirfd = -EBADF;
	unpack_options uo = { 0 };
	unpack_result res;

	if (fd < 0)
		return -1;
	made = fs_mkdir_p_in_root(dst_root, dest, 0755, err);
	if (made < 0)
		return -1;
	dirfd = fs_open_in_root(dst_root, dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, true, err);
	if (dirfd < 0)
		return -1;
	if (layer_unpack(fd, dirfd, &uo, &res, err) < 0)
		return berth_error_wrap(err, "extract \"%s\"", path);
	return 0;
}

static char *join_dest(const char *dir, const char *name)
{
	const char *base = strrchr(name, '/');
	char *out = NULL;

	base = base ? base + 1 : name;
	if (asprintf(&out, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", base) < 0)
		return NULL;
	return out;
}

static int copy_all(build_ctx *c, const build_step *st, const copy_source *src, char ***matches, const url_downloads *u,
		    int root, const char *dest, bool dest_dir, const build_copy_options *co, berth_error **err)
{
	for (size_t i = 0; i < st->n_sources; i++) {
		const build_source *bs = &st->sources[i];
		if (u->fds && u->fds[i] >= 0) {
			/* a download: mode 0600 unless --chmod, never extracted (docker's rules) */
			build_copy_options url_co = *co;
			_cleanup_free_ char *target = dest_dir ? join_dest(dest, u->names[i]) : strdup(dest);
			if (!url_co.chmod) {
				url_co.chmod = true;
				url_co.mode = 0600;
			}
			url_co.ignore = NULL;
			if (target == NULL || build_copy(u->fds[i], u->names[i], root, target, &url_co, err) < 0)
				return target ? berth_error_wrap(err, "\"%s\"", bs->path)
					      : berth_error_set(err, ENOMEM, "ADD");
			continue;
		}
		if (bs->content) {
			_cleanup_free_ char *target = dest_dir ? join_dest(dest, bs->path) : strdup(dest);
			if (target == NULL || build_copy_data(root, target, bs->content, co, err) < 0)
				return target ? berth_error_wrap(err, "<<%s", bs->path)
					      : berth_error_set(err, ENOMEM, "COPY");
			continue;
		}
		for (size_t k = 0; matches[i][k]; k++) {
			const char *m = matches[i][k];
			_cleanup_free_ char *target = NULL;
			bool dir = build_is_dir_in_root(src->root_fd, m);
			if (st->kind == DF_ADD && st->from == NULL && !dir && is_archive(src->root_fd, m)) {
				if (extract_archive(src->root_fd, m, root, dest, err) < 0)
					return -1;
				continue;
			}
			target = dir || !dest_dir ? strdup(dest) : join_dest(dest, m);
			if (target == NULL)
				return berth_error_set(err, ENOMEM, "COPY");
			if (build_copy(src->root_fd, m, root, target, co, err) < 0)
				return berth_error_wrap(err, "\"%s\"", m);
		}
	}
	(void)c;
	return 0;
}

static int copy_into_stage(build_ctx *c, stage_state *si, const build_step *st, const copy_source *src, char ***matches,
			   const url_downloads *u, const char *key, berth_error **err)
{
	_cleanup_free_ char *dir = NULL, *rootfs = NULL, *dest = NULL;
	_cleanup_close_ int root = -EBADF;
	const char *workdir = json_string_value(json_object_get(stage_config(si), "WorkingDir"));
	build_copy_options co = { .keep_owner = src->keep_owner, .ignore = src->ig };
	size_t total = 0;
	bool dest_dir;
	int ret;

	for (size_t i = 0; i < st->n_sources; i++)
		total += st->sources[i].content ? 1 : build_strv_len(matches[i]);
	if (st->chmod && parse_chmod(st->chmod, &co.mode, err) < 0)
		return -1;
	co.chmod = st->chmod != NULL;
	if (st->dest[0] == '/')
		dest = strdup(st->dest);
	else if (asprintf(&dest, "%s/%s", workdir && workdir[0] ? workdir : "", st->dest) < 0)
		dest = NULL;
	if (dest == NULL)
		return berth_error_set(err, ENOMEM, "COPY");
	if (stage_mount(c, si, &dir, err) < 0)
		return -1;
	rootfs = fs_path_join(dir, "rootfs");
	root = rootfs ? open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (root < 0) {
		ret = berth_error_set(err, errno, "open \"%s\"", rootfs ? rootfs : "rootfs");
		goto out;
	}
	dest_dir = dest[strlen(dest) - 1] == '/' || build_is_dir_in_root(root, dest);
	if (total > 1 && !dest_dir) {
		ret = berth_error_request(err, EINVAL,
					  "with more than one source file, the destination must be a directory and "
					  "end with a /");
		goto out;
	}
	if (st->chown) {
		long uid, gid;
		ret = bundle_resolve_user(st->chown, root, &uid, &gid, err);
		if (ret < 0)
			goto out;
		co.chown = true;
		co.uid = (uid_t)uid;
		co.gid = (gid_t)gid;
	}
	ret = copy_all(c, st, src, matches, u, root, dest, dest_dir, &co, err);
	if (ret == 0)
		ret = stage_commit_upper(c, si, dir, key, st->created_by, err);
out:
	stage_unmount(dir);
	return ret;
}

int build_do_copy(build_ctx *c, size_t stage, const build_step *st, bool *cached, berth_error **err)
{
	stage_state *si = &c->stages[stage];
	char chain[DIGEST_STRING_MAX], key[DIGEST_STRING_MAX];
	const char *workdir = json_string_value(json_object_get(stage_config(si), "WorkingDir"));
	copy_source src;
	url_downloads urls = { 0 };
	char ***matches = NULL;
	digester d;
	int ret;

	if (copy_source_open(c, stage, st->from, &src, err) < 0) {
		copy_source_release(&src);
		return -1;
	}
	stage_chain_id(si, chain);
	digester_init(&d);
	digester_update(&d, df_kind_name(st->kind), strlen(df_kind_name(st->kind)) + 1);
	digester_update(&d, chain, strlen(chain) + 1);
	digester_update(&d, src.chain, strlen(src.chain) + 1);
	digester_update(&d, st->dest, strlen(st->dest) + 1);
	digester_update(&d, workdir ? workdir : "", strlen(workdir ? workdir : "") + 1);
	digester_update(&d, st->chown ? st->chown : "", strlen(st->chown ? st->chown : "") + 1);
	digester_update(&d, st->chmod ? st->chmod : "", strlen(st->chmod ? st->chmod : "") + 1);
	ret = match_sources(st, &src, &matches, &d, err);
	if (ret == 0)
		ret = fetch_urls(c, st, &urls, &d, err);
	if (ret == 0) {
		digester_final(&d, key);
		if (cache_lookup(c, key, si, st->created_by))
			*cached = true;
		else
			ret = copy_into_stage(c, si, st, &src, matches, &urls, key, err);
	}
	url_downloads_release(&urls);
	matches_free(matches, st->n_sources);
	copy_source_release(&src);
	return ret;
}
