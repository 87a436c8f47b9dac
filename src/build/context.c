#include "build/context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/strv.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

/* ---- paths ---- */

char *build_clean_path(const char *path)
{
	_cleanup_strv_ char **parts = calloc(1, sizeof(char *));
	_cleanup_free_ char *copy = strdup(path);
	char *save = NULL, *out;
	size_t len = 1, n;

	if (parts == NULL || copy == NULL)
		return NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			n = build_strv_len(parts);
			if (n == 0)
				return NULL;
			free(parts[n - 1]);
			parts[n - 1] = NULL;
			continue;
		}
		if (build_strv_add(&parts, c, (size_t)-1) < 0)
			return NULL;
	}
	for (size_t i = 0; parts[i]; i++)
		len += strlen(parts[i]) + 1;
	out = calloc(1, len);
	for (size_t i = 0; out && parts[i]; i++) {
		if (i)
			strcat(out, "/");
		strcat(out, parts[i]);
	}
	return out;
}

/* ---- ignore files ---- */

typedef struct ignore_pattern {
	regex_t re;
	bool exception;
} ignore_pattern;

struct build_ignore {
	ignore_pattern *v;
	size_t n;
	bool has_exceptions;
};

void build_ignore_free(build_ignore *ig)
{
	if (ig == NULL)
		return;
	for (size_t i = 0; i < ig->n; i++)
		regfree(&ig->v[i].re);
	free(ig->v);
	free(ig);
}

/* Docker's pattern to a POSIX extended regex. */
static char *pattern_regex(const char *p)
{
	size_t cap = strlen(p) * 8 + 8, o = 0;
	char *re = malloc(cap);

	if (re == NULL)
		return NULL;
	re[o++] = '^';
	for (size_t i = 0; p[i]; i++) {
		char c = p[i];
		if (c == '*' && p[i + 1] == '*') {
			i++;
			if (p[i + 1] == '/')
				i++;
			if (p[i + 1] == '\0')
				o += (size_t)sprintf(re + o, ".*");
			else
				o += (size_t)sprintf(re + o, "(.*/)?");
		} else if (c == '*') {
			o += (size_t)sprintf(re + o, "[^/]*");
		} else if (c == '?') {
			o += (size_t)sprintf(re + o, "[^/]");
		} else if (c == '[') {
			size_t end = i + 1;
			while (p[end] && p[end] != ']')
				end++;
			if (p[end] == ']') {
				re[o++] = '[';
				for (size_t k = i + 1; k < end; k++)
					re[o++] = p[k] == '!' && k == i + 1 ? '^' : p[k];
				re[o++] = ']';
				i = end;
			} else {
				o += (size_t)sprintf(re + o, "\\[");
			}
		} else if (c == '\\' && p[i + 1]) {
			o += (size_t)sprintf(re + o, "\\%c", p[++i]);
		} else if (strchr(".+()|{}^$", c)) {
			o += (size_t)sprintf(re + o, "\\%c", c);
		} else {
			re[o++] = c;
		}
	}
	re[o++] = '$';
	re[o] = '\0';
	return re;
}

int build_ignore_parse(const char *text, build_ignore **out, berth_error **err)
{
	build_ignore *ig = calloc(1, sizeof(*ig));
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	if (ig == NULL || copy == NULL) {
		free(ig);
		return berth_error_set(err, ENOMEM, "ignore file");
	}
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *clean = NULL, *re = NULL;
		bool exception = false;
		size_t n = strlen(line);
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (*line == '!') {
			exception = true;
			line++;
		}
		clean = build_clean_path(line);
		if (clean == NULL || clean[0] == '\0')
			continue;
		re = pattern_regex(clean);
		ignore_pattern *p = realloc(ig->v, (ig->n + 1) * sizeof(ignore_pattern));
		if (re == NULL || p == NULL) {
			build_ignore_free(ig);
			return berth_error_set(err, ENOMEM, "ignore file");
		}
		ig->v = p;
		if (regcomp(&ig->v[ig->n].re, re, REG_EXTENDED | REG_NOSUB) != 0) {
			build_ignore_free(ig);
			return berth_error_request(err, EINVAL, "ignore file: invalid pattern \"%s\"", line);
		}
		ig->v[ig->n++].exception = exception;
		ig->has_exceptions = ig->has_exceptions || exception;
	}
	*out = ig;
	return 0;
}

int build_ignore_load(int context_fd, build_ignore **out, berth_error **err)
{
	static const char *const names[] = { ".containerignore", ".dockerignore", NULL };

	*out = NULL;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		_cleanup_close_ int fd = openat(context_fd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fs_read_file_at(context_fd, names[i], &text, &len, err) < 0)
			return -1;
		if (build_ignore_parse(text, out, err) < 0)
			return berth_error_wrap(err, "%s", names[i]);
		return 0;
	}
	return 0;
}

static bool matches_or_parent(const regex_t *re, const char *path)
{
	_cleanup_free_ char *prefix = strdup(path);

	if (prefix == NULL)
		return false;
	if (regexec(re, path, 0, NULL, 0) == 0)
		return true;
	for (char *slash = strrchr(prefix, '/'); slash; slash = strrchr(prefix, '/')) {
		*slash = '\0';
		if (regexec(re, prefix, 0, NULL, 0) == 0)
			return true;
	}
	return false;
}

bool build_ignore_match(const build_ignore *ig, const char *path)
{
	bool matched = false;

	if (ig == NULL)
		return false;
	for (size_t i = 0; i < ig->n; i++)
		if (matches_or_parent(&ig->v[i].re, path))
			matched = !ig->v[i].exception;
	return matched;
}

/* ---- globs ---- */

static char *join_rel(const char *dir, const char *name)
{
	char *out = NULL;

	if (asprintf(&out, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
		return NULL;
	return out;
}

static int glob_step(int root_fd, const char *dir, char **parts, const build_ignore *ig, char ***out)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (parts[0] == NULL) {
		struct stat st;
		if (dir[0] == '\0' || fstatat(root_fd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		/* an excluded directory may still hold exceptions ("!dir/keep") */
		if (build_ignore_match(ig, dir) && !(S_ISDIR(st.st_mode) && ig->has_exceptions))
			return 0;
		return build_strv_add(out, dir, (size_t)-1);
	}
	if (strpbrk(parts[0], "*?[\\") == NULL) {
		_cleanup_free_ char *next = join_rel(dir, parts[0]);
		return next ? glob_step(root_fd, next, parts + 1, ig, out) : -1;
	}
	fd = dir[0] ? fs_open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, true, NULL)
		    : openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fnmatch(parts[0], de->d_name, 0) != 0)
			continue;
		_cleanup_free_ char *next = join_rel(dir, de->d_name);
		if (next == NULL || glob_step(root_fd, next, parts + 1, ig, out) < 0)
			return -1;
	}
	return 0;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int build_glob(int root_fd, const char *pattern, const build_ignore *ig, char ***out, berth_error **err)
{
	_cleanup_free_ char *clean = build_clean_path(pattern);
	_cleanup_strv_ char **parts = calloc(1, sizeof(char *)), **found = calloc(1, sizeof(char *));
	char *save = NULL;

	if (clean == NULL)
		return berth_error_request(err, EINVAL, "\"%s\": forbidden path outside the build context", pattern);
	if (parts == NULL || found == NULL)
		return berth_error_set(err, ENOMEM, "glob");
	if (clean[0] == '\0') {
		/* the whole root ("." or "/") */
		if (build_strv_add(&found, ".", (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "glob");
		*out = move_ptr(found);
		return 0;
	}
	for (char *c = strtok_r(clean, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (build_strv_add(&parts, c, (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "glob");
	if (glob_step(root_fd, "", parts, ig, &found) < 0)
		return berth_error_set(err, ENOMEM, "glob");
	if (found[0] == NULL)
		return berth_error_request(err, ENOENT, "\"%s\": no such file or directory", pattern);
	qsort(found, build_strv_len(found), sizeof(char *), compare_strings);
	*out = move_ptr(found);
	return 0;
}

/* ---- walking a source tree ---- */

typedef int (*visit_fn)(int dirfd, const char *name, const char *rel, const struct stat *st, void *arg,
			berth_error **err);

static int sorted_names(int dirfd, char ***out, berth_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **names = calloc(1, sizeof(char *));
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0 || names == NULL || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return berth_error_set(err, errno ? errno : ENOMEM, "read directory");
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    build_strv_add(&names, de->d_name, (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "read directory");
	qsort(names, build_strv_len(names), sizeof(char *), compare_strings);
	*out = move_ptr(names);
	return 0;
}

/* ---- content digests ---- */

static int hash_file(int fd, digester *d, berth_error **err)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		digester_update(d, buf, (size_t)n);
	return n < 0 ? berth_error_set(err, errno, "read") : 0;
}

static int hash_entry(int dirfd, const char *name, const char *rel, const build_ignore *ig, digester *d,
		      berth_error **err)
{
	struct stat st;
	char head[128];

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "\"%s\"", rel);
	if (build_ignore_match(ig, rel) && !S_ISDIR(st.st_mode))
		return 0;
	snprintf(head, sizeof(head), "%o %lld ", (unsigned)st.st_mode, (long long)st.st_size);
	digester_update(d, rel, strlen(rel) + 1);
	digester_update(d, head, strlen(head));
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
		if (n < 0)
			return berth_error_set(err, errno, "readlink \"%s\"", rel);
		digester_update(d, target, (size_t)n);
	} else if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || hash_file(fd, d, err) < 0)
			return fd < 0 ? berth_error_set(err, errno, "open \"%s\"", rel) : -1;
	} else if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_strv_ char **names = NULL;
		if (fd < 0 || sorted_names(fd, &names, err) < 0)
			return fd < 0 ? berth_error_set(err, errno, "open \"%s\"", rel) : -1;
		for (size_t i = 0; names[i]; i++) {
			_cleanup_free_ char *child = join_rel(strcmp(rel, ".") == 0 ? "" : rel, names[i]);
			if (child == NULL || hash_entry(fd, names[i], child, ig, d, err) < 0)
				return child ? -1 : berth_error_set(err, ENOMEM, "hash");
		}
	}
	return 0;
}

int build_hash_tree(int root_fd, const char *path, const build_ignore *ig, digester *d, berth_error **err)
{
	_cleanup_free_ char *parent = NULL;
	_cleanup_close_ int pfd = -EBADF;
	const char *slash = strrchr(path, '/');

	if (strcmp(path, ".") == 0)
		return hash_entry(root_fd, ".", ".", NULL, d, err) < 0 ? -1 : 0;
	parent = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (parent == NULL)
		return berth_error_set(err, ENOMEM, "hash");
	pfd = slash ? fs_open_in_root(root_fd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, true, err)
		    : openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return slash ? -1 : berth_error_set(err, errno, "open the source root");
	return hash_entry(pfd, slash ? slash + 1 : path, path, ig, d, err);
}

/* ---- copying ---- */

static int set_owner_mode(int fd, const struct stat *st, const build_copy_options *o, bool is_link, berth_error **err)
{
	uid_t uid = o->chown ? o->uid : (o->keep_owner ? st->st_uid : 0);
	gid_t gid = o->chown ? o->gid : (o->keep_owner ? st->st_gid : 0);
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "chown");
	if (!is_link) {
		char proc[32];
		mode_t mode = o->chmod ? o->mode : (st->st_mode & 07777);
		if (fchmodat(AT_FDCWD, fs_proc_fd_path(fd, proc), mode, 0) < 0)
			return berth_error_set(err, errno, "chmod");
	}
	times[0] = st->st_mtim;
	if (is_link)
		return 0; /* a link's own times cannot be set through an O_PATH fd */
	if (utimensat(fd, "", times, AT_EMPTY_PATH) < 0) {
		/* kernels before 5.8 lack AT_EMPTY_PATH here */
		char proc[32];
		if (utimensat(AT_FDCWD, fs_proc_fd_path(fd, proc), times, 0) < 0)
			return berth_error_set(err, errno, "utimes");
	}
	return 0;
}

static int copy_bytes(int in, int out, berth_error **err)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return berth_error_set(err, errno, "copy");
		break;
	}
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return berth_error_set(err, errno, "write");
	return n < 0 ? berth_error_set(err, errno, "read") : 0;
}

/* Makes room for a new entry NAME in DIRFD: an existing non-directory goes
 * (a directory stays when WANT_DIR). */
static void clear_entry(int dirfd, const char *name, bool want_dir)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		if (!want_dir)
			fs_remove_tree_at(dirfd, name);
		return;
	}
	unlinkat(dirfd, name, 0);
}

/* Where a copy writes: the rootfs and the absolute path of the directory
 * being filled (for resolving a directory symlink of the image). */
typedef struct copy_dest {
	int root;
	const char *dir;
} copy_dest;

static int copy_entry(int sdir, const char *sname, const char *rel, const copy_dest *dd, int ddir, const char *dname,
		      const build_copy_options *o, berth_error **err);

static int copy_children(int sfd, const char *rel, const copy_dest *dd, int dfd, const build_copy_options *o,
			 berth_error **err)
{
	_cleanup_strv_ char **names = NULL;

	if (sorted_names(sfd, &names, err) < 0)
		return berth_error_wrap(err, "\"%s\"", rel);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *child = join_rel(strcmp(rel, ".") == 0 ? "" : rel, names[i]);
		if (child == NULL)
			return berth_error_set(err, ENOMEM, "copy");
		if (copy_entry(sfd, names[i], child, dd, dfd, names[i], o, err) < 0)
			return -1;
	}
	return 0;
}

/* A directory DNAME in DDIR to copy into: an existing directory is merged;
 * a symlink of the image to a directory (/lib -> usr/lib) is followed
 * inside the rootfs, as Docker does; anything else is replaced. */
static int dest_dir_open(const copy_dest *dd, int ddir, const char *dname, char **path, berth_error **err)
{
	struct stat st;
	int fd;

	*path = NULL;
	if (asprintf(path, "%s%s%s", dd->dir, strcmp(dd->dir, "/") == 0 ? "" : "/", dname) < 0) {
		*path = NULL;
		return berth_error_set(err, ENOMEM, "copy");
	}
	if (fstatat(ddir, dname, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		fd = fs_mkdir_p_in_root(dd->root, *path, 0755, err);
		if (fd < 0)
			return berth_error_wrap(err, "\"%s\"", *path);
		close(fd);
		return fs_open_in_root(dd->root, *path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, true, err);
	}
	clear_entry(ddir, dname, true);
	if (mkdirat(ddir, dname, 0755) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "mkdir \"%s\"", *path);
	fd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", *path);
	return fd;
}

static int copy_entry(int sdir, const char *sname, const char *rel, const copy_dest *dd, int ddir, const char *dname,
		      const build_copy_options *o, berth_error **err)
{
	_cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
	bool ignored = build_ignore_match(o->ignore, rel), self = sname[0] == '\0';
	struct stat st;
	char proc[32];

	/* SNAME "": SDIR is an O_PATH fd of the source itself */
	if (self ? fstat(sdir, &st) < 0 : fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, errno, "\"%s\"", rel);
	if (ignored && !S_ISDIR(st.st_mode))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return berth_error_set(err, errno, "open \"%s\"", rel);
		if (ignored && !(o->ignore && o->ignore->has_exceptions))
			return 0;
		_cleanup_free_ char *dpath = NULL;
		dfd = dest_dir_open(dd, ddir, dname, &dpath, err);
		if (dfd < 0)
			return -1;
		copy_dest sub = { .root = dd->root, .dir = dpath };
		if (copy_children(sfd, rel, &sub, dfd, o, err) < 0)
			return -1;
		return set_owner_mode(dfd, &st, o, false, err) < 0 ? berth_error_wrap(err, "\"%s\"", rel) : 0;
	}
	clear_entry(ddir, dname, false);
	if (S_ISREG(st.st_mode)) {
		sfd = self ? open(fs_proc_fd_path(sdir, proc), O_RDONLY | O_CLOEXEC)
			   : openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return berth_error_set(err, errno, "open \"%s\"", rel);
		dfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dfd < 0)
			return berth_error_set(err, errno, "create \"%s\"", dname);
		if (copy_bytes(sfd, dfd, err) < 0)
			return berth_error_wrap(err, "\"%s\"", rel);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(sdir, sname, target, PATH_MAX);
		if (n < 0)
			return berth_error_set(err, errno, "readlink \"%s\"", rel);
		target[n] = '\0';
		if (symlinkat(target, ddir, dname) < 0)
			return berth_error_set(err, errno, "symlink \"%s\"", dname);
		struct timespec times[2] = { st.st_mtim, st.st_mtim };
		utimensat(ddir, dname, times, AT_SYMLINK_NOFOLLOW); /* best effort, as tar does */
		dfd = openat(ddir, dname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	} else {
		if (mknodat(ddir, dname, st.st_mode, st.st_rdev) < 0)
			return berth_error_set(err, errno, "mknod \"%s\"", dname);
		dfd = openat(ddir, dname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (dfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", dname);
	return set_owner_mode(dfd, &st, o, S_ISLNK(st.st_mode), err) < 0 ? berth_error_wrap(err, "\"%s\"", rel) : 0;
}

/* mkdir -p of PATH inside ROOT; the directories it creates get --chown's
 * owner (Docker: "all new files and directories" get it). Returns an O_PATH
 * fd of PATH. */
static int make_dirs(int root, const char *path, const build_copy_options *o, berth_error **err)
{
	_cleanup_strv_ char **created = calloc(1, sizeof(char *));
	_cleanup_free_ char *prefix = strdup(path);
	int fd;

	if (created == NULL || prefix == NULL)
		return berth_error_set(err, ENOMEM, "copy");
	/* the missing prefixes, from PATH up to the first that exists */
	while (o && o->chown && prefix[0] && strcmp(prefix, "/") != 0) {
		berth_error *ignored = NULL;
		int e = fs_open_in_root(root, prefix, O_PATH | O_CLOEXEC, 0, true, &ignored);
		berth_error_free(&ignored);
		if (e >= 0) {
			close(e);
			break;
		}
		if (build_strv_add(&created, prefix, (size_t)-1) < 0)
			return berth_error_set(err, ENOMEM, "copy");
		char *slash = strrchr(prefix, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
	}
	fd = fs_mkdir_p_in_root(root, path, 0755, err);
	if (fd < 0)
		return berth_error_wrap(err, "\"%s\"", path);
	for (size_t i = 0; created[i]; i++) {
		_cleanup_close_ int d =
		    fs_open_in_root(root, created[i], O_PATH | O_DIRECTORY | O_CLOEXEC, 0, true, err);
		if (d < 0 || fchownat(d, "", o->uid, o->gid, AT_EMPTY_PATH) < 0) {
			close(fd);
			return d < 0 ? -1 : berth_error_set(err, errno, "chown \"%s\"", created[i]);
		}
	}
	return fd;
}

/* The parent of DEST made inside ROOT; *NAME points into DEST. */
static int dest_parent(int dst_root, const char *dest, const char **name, const build_copy_options *o,
		       berth_error **err)
{
	_cleanup_free_ char *parent = NULL;
	const char *slash = strrchr(dest, '/');

	*name = slash ? slash + 1 : dest;
	parent = slash && slash != dest ? strndup(dest, (size_t)(slash - dest)) : strdup("/");
	if (parent == NULL)
		return berth_error_set(err, ENOMEM, "copy");
	return make_dirs(dst_root, parent, o, err);
}

bool build_is_dir_in_root(int dst_root, const char *dest)
{
	_cleanup_close_ int fd = fs_open_in_root(dst_root, dest, O_PATH | O_CLOEXEC, 0, true, NULL);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

int build_copy(int src_root, const char *src, int dst_root, const char *dest, const build_copy_options *o,
	       berth_error **err)
{
	_cleanup_close_ int sfd = fs_open_in_root(src_root, src, O_PATH | O_CLOEXEC, 0, true, err);
	_cleanup_close_ int pfd = -EBADF, dfd = -EBADF;
	const char *name;
	struct stat st;

	if (sfd < 0)
		return -1;
	if (fstat(sfd, &st) < 0)
		return berth_error_set(err, errno, "\"%s\"", src);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int rd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int made = make_dirs(dst_root, dest, o, err);
		if (made < 0)
			return -1;
		close(made);
		dfd = fs_open_in_root(dst_root, dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, true, err);
		if (rd < 0 || dfd < 0)
			return rd < 0 ? berth_error_set(err, errno, "open \"%s\"", src) : -1;
		copy_dest dd = { .root = dst_root, .dir = dest };
		return copy_children(rd, src, &dd, dfd, o, err);
	}
	pfd = dest_parent(dst_root, dest, &name, o, err);
	if (pfd < 0)
		return -1;
	/* the source itself was resolved (a symlink followed inside the root) */
	copy_dest dd = { .root = dst_root, .dir = "/" }; /* a file: never a directory to resolve */
	return copy_entry(sfd, "", src, &dd, pfd, name,
			  &(build_copy_options){ .chown = o->chown,
						 .uid = o->uid,
						 .gid = o->gid,
						 .keep_owner = o->keep_owner,
						 .chmod = o->chmod,
						 .mode = o->mode },
			  err);
}

int build_copy_data(int dst_root, const char *dest, const char *data, const build_copy_options *o, berth_error **err)
{
	_cleanup_close_ int pfd = -EBADF, fd = -EBADF;
	const char *name;
	size_t len = strlen(data);

	pfd = dest_parent(dst_root, dest, &name, o, err);
	if (pfd < 0)
		return -1;
	clear_entry(pfd, name, false);
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return berth_error_set(err, errno, "create \"%s\"", dest);
	if (write(fd, data, len) != (ssize_t)len)
		return berth_error_set(err, errno, "write \"%s\"", dest);
	if (fchown(fd, o->chown ? o->uid : 0, o->chown ? o->gid : 0) < 0 || fchmod(fd, o->chmod ? o->mode : 0644) < 0)
		return berth_error_set(err, errno, "\"%s\"", dest);
	return 0;
}

int build_context_from_tar(int fd, const char *parent, char **dir, berth_error **err)
{
	_cleanup_free_ char *tmpl = NULL;
	_cleanup_close_ int dfd = -EBADF;
	unpack_options uo = { 0 };
	unpack_result res;

	if (fs_mkdir_p(parent, 0700, err) < 0)
		return -1;
	if (asprintf(&tmpl, "%s/context-%d-%llu-XXXXXX", parent, (int)getpid(), proc_pid_start_time(getpid())) < 0)
		return berth_error_set(err, ENOMEM, "context");
	if (mkdtemp(tmpl) == NULL)
		return berth_error_set(err, errno, "mkdtemp \"%s\"", tmpl);
	dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || layer_unpack(fd, dfd, &uo, &res, err) < 0) {
		int ret = dfd < 0 ? berth_error_set(err, errno, "open \"%s\"", tmpl)
				  : berth_error_wrap(err, "context from stdin");
		berth_error *ignored = NULL;
		if (fs_remove_tree(tmpl, &ignored) < 0)
			berth_error_free(&ignored);
		return ret;
	}
	*dir = move_ptr(tmpl);
	return 0;
}
