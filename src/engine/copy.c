/* berth cp (copy.h): a source (a tree walked by fds, or a tar reader) feeds
 * entries to a sink (a directory written by fds, or a tar writer). */
#include "engine/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* One file, directory, symlink or node of a copy. */
typedef struct copy_entry {
	const char *path; /* below the top of the copy; "" is the top itself */
	struct stat st;
	const char *link_target;  /* symlinks */
	int data_fd;		  /* a regular file's content from a tree, or -1 */
	struct archive *data_tar; /* ... or from a tar */
} copy_entry;

typedef struct copy_sink {
	int (*put)(struct copy_sink *k, const copy_entry *e, berth_error **err);
} copy_sink;

static void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

/* ---- paths ---- */

/* PATH as docker reads it: the parent, the last component, whether it ends
 * in "/" and whether it names only a directory's content ("/." or "/"). */
typedef struct split_path {
	char *dir;
	char *base; /* "." for the content of the directory DIR/.. */
	bool slash;
	bool contents;
} split_path;

static void split_path_free(split_path *s)
{
	free(s->dir);
	free(s->base);
}

static int split_path_parse(const char *path, split_path *out, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(*path ? path : "/");
	size_t len;
	char *slash;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "copy \"%s\"", path);
	len = strlen(copy);
	out->slash = len > 1 && copy[len - 1] == '/';
	out->contents = strcmp(copy, ".") == 0 || (len >= 2 && strcmp(copy + len - 2, "/.") == 0);
	for (;;) {
		while (len > 1 && copy[len - 1] == '/')
			copy[--len] = '\0';
		if (len > 2 && strcmp(copy + len - 2, "/.") == 0)
			copy[len -= 2] = '\0';
		else
			break;
	}
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		out->dir = strdup(".");
		out->base = strdup(copy);
	} else {
		out->base = strdup(slash[1] ? slash + 1 : ".");
		*slash = '\0';
		out->dir = strdup(slash == copy ? "/" : copy);
	}
	if (strcmp(out->base, ".") == 0 || strcmp(out->base, "..") == 0)
		out->contents = true;
	if (out->dir == NULL || out->base == NULL)
		return berth_error_set(err, ENOMEM, "copy \"%s\"", path);
	return 0;
}

/* Opens PATH of LOC: resolved inside the rootfs for a container, a plain
 * open on the host (whose paths the caller trusts). */
static int location_open(const copy_location *loc, const char *path, int flags, bool follow, berth_error **err)
{
	int fd;

	if (loc->rootfd >= 0)
		return fs_open_in_root(loc->rootfd, *path ? path : "/", flags, 0, follow, err);
	fd = open(path, flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	return fd;
}

/* DIR/"PATH" for messages, heap. */
static char *label_of(const char *label, const char *path)
{
	char *out = NULL;

	if (asprintf(&out, "%s%s%s", label, *path && label[strlen(label) - 1] != '/' ? "/" : "", path) < 0)
		return NULL;
	return out;
}

/* ---- the tree source ---- */

static int walk_tree(int fd, const struct stat *st, const char *path, const char *label, copy_sink *k,
		     berth_error **err);

/* Every child of the directory FD is opened O_PATH|O_NOFOLLOW relative to
 * it: a symlink is an entry of the copy, never a way out of the tree. */
static int walk_children(int fd, const char *path, const char *label, copy_sink *k, berth_error **err)
{
	_cleanup_free_ char *where = label_of(label, path);
	_cleanup_closedir_ DIR *d = NULL;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return berth_error_set(err, e, "read directory \"%s\"", where);
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		_cleanup_close_ int child = -EBADF;
		_cleanup_free_ char *sub = NULL;
		struct stat cst;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", de->d_name) < 0)
			return berth_error_set(err, ENOMEM, "read directory \"%s\"", where);
		child = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0 && errno == ENOENT)
			continue; /* removed while we read */
		if (child < 0 || fstat(child, &cst) < 0)
			return berth_error_set(err, errno, "open \"%s/%s\"", where, de->d_name);
		if (walk_tree(child, &cst, sub, label, k, err) < 0)
			return -1;
	}
	if (errno != 0)
		return berth_error_set(err, errno, "read directory \"%s\"", where);
	return 0;
}

/* Emits FD (an O_PATH fd, ST its fstat) as entry PATH, then its children. A
 * regular file is reopened through /proc/self/fd only after fstat said it
 * is regular, so a device node or fifo of the container is never opened. */
static int walk_tree(int fd, const struct stat *st, const char *path, const char *label, copy_sink *k,
		     berth_error **err)
{
	_cleanup_close_ int datafd = -EBADF;
	copy_entry e = { .path = path, .st = *st, .data_fd = -1 };
	char target[PATH_MAX], proc[32];

	if (S_ISREG(st->st_mode)) {
		struct stat again;
		datafd = open(fs_proc_fd_path(fd, proc), O_RDONLY | O_NOCTTY | O_CLOEXEC);
		if (datafd < 0 || fstat(datafd, &again) < 0) {
			_cleanup_free_ char *where = label_of(label, path);
			return berth_error_set(err, errno, "open \"%s\"", where);
		}
		if (!S_ISREG(again.st_mode) || again.st_ino != st->st_ino || again.st_dev != st->st_dev) {
			_cleanup_free_ char *where = label_of(label, path);
			return berth_error_set(err, EAGAIN, "\"%s\" changed while being copied", where);
		}
		e.data_fd = datafd;
	} else if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
		if (n < 0) {
			_cleanup_free_ char *where = label_of(label, path);
			return berth_error_set(err, errno, "read link \"%s\"", where);
		}
		target[n] = '\0';
		e.link_target = target;
	}
	if (k->put(k, &e, err) < 0)
		return -1;
	return S_ISDIR(st->st_mode) ? walk_children(fd, path, label, k, err) : 0;
}

/* ---- the directory sink ---- */

typedef struct dir_meta {
	char *path;
	struct stat st;
} dir_meta;

typedef struct dir_sink {
	copy_sink base;
	int dirfd;	   /* the directory TOP goes into */
	const char *top;   /* a name, or "." for DIRFD itself */
	const char *label; /* the destination as typed */
	bool to_host;
	const copy_options *o;
	dir_meta *dirs; /* created or merged, for their metadata at the end */
	size_t n_dirs;
} dir_sink;

static void dir_sink_free(dir_sink *k)
{
	for (size_t i = 0; i < k->n_dirs; i++)
		free(k->dirs[i].path);
	free(k->dirs);
}

/* TOP/PATH without "." and empty components; ".." is refused. */
static int normalize(const char *top, const char *path, char **out, berth_error **err)
{
	_cleanup_free_ char *copy = NULL, *clean = NULL;
	char *save = NULL, *comp;
	size_t used = 0;

	if (asprintf(&copy, "%s/%s", top, path) < 0 || (clean = calloc(1, strlen(copy) + 1)) == NULL)
		return berth_error_set(err, ENOMEM, "copy \"%s\"", path);
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0)
			return berth_error_set(err, EINVAL, "refusing the path \"%s\": it contains \"..\"", path);
		if (strlen(comp) > NAME_MAX)
			return berth_error_set(err, ENAMETOOLONG, "copy \"%s\"", path);
		used += (size_t)sprintf(clean + used, "%s%s", used ? "/" : "", comp);
	}
	*out = move_ptr(clean);
	return 0;
}

/* Opens the directory holding entry PATH (below TOP) one component at a
 * time with O_NOFOLLOW, creating missing ones; NAME gets the entry's own
 * name ("." for the directory DIRFD itself). */
static int open_parent(dir_sink *k, const char *path, char name[NAME_MAX + 1], berth_error **err)
{
	_cleanup_free_ char *clean = NULL;
	_cleanup_close_ int cur = -EBADF;
	char *save = NULL, *comp, *last;

	if (normalize(k->top, path, &clean, err) < 0)
		return -1;
	last = strrchr(clean, '/');
	snprintf(name, NAME_MAX + 1, "%s", last ? last + 1 : *clean ? clean : ".");
	cur = fcntl(k->dirfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return berth_error_set(err, errno, "copy to \"%s\"", k->label);
	if (last == NULL)
		return move_fd(cur);
	*last = '\0';
	for (comp = strtok_r(clean, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && mkdirat(cur, comp, 0755) == 0)
			next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return berth_error_set(err, errno == ELOOP ? ENOTDIR : errno,
					       "copy to \"%s\": \"%s\" in \"%s\" is not a directory", k->label, comp,
					       path);
		close(cur);
		cur = next;
	}
	return move_fd(cur);
}

static mode_t entry_mode(const dir_sink *k, const copy_entry *e)
{
	mode_t mode = e->st.st_mode & 07777;

	/* a set-id file of the container must not become the caller's */
	if (k->to_host && !k->o->archive)
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	return mode;
}

static int put_dir(dir_sink *k, int parent, const char *name, const copy_entry *e, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	dir_meta *grown;

	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return berth_error_set(err, errno, "copy to \"%s\": mkdir \"%s\"", k->label, e->path);
	fd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, 0, "copy to \"%s\": cannot overwrite non-directory \"%s\" with a directory",
				       k->label, *e->path ? e->path : name);
	grown = realloc(k->dirs, (k->n_dirs + 1) * sizeof(*grown));
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "copy to \"%s\"", k->label);
	k->dirs = grown;
	if ((grown[k->n_dirs].path = strdup(e->path)) == NULL)
		return berth_error_set(err, ENOMEM, "copy to \"%s\"", k->label);
	grown[k->n_dirs++].st = e->st;
	return 0;
}

static int write_content(int fd, const copy_entry *e)
{
	char buf[1 << 16];

	for (;;) {
		ssize_t n =
		    e->data_tar ? archive_read_data(e->data_tar, buf, sizeof(buf)) : read(e->data_fd, buf, sizeof(buf));
		if (n < 0 && e->data_tar == NULL && errno == EINTR)
			continue;
		if (n < 0)
			return e->data_tar ? -EIO : -errno;
		if (n == 0)
			return 0;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				return -errno;
			done += w > 0 ? w : 0;
		}
	}
}

/* Creates TMP in PARENT as E's type; returns an fd for a regular file, 0
 * for others, or -errno. */
static int create_tmp(int parent, const char *tmp, const copy_entry *e)
{
	int fd;

	switch (e->st.st_mode & S_IFMT) {
	case S_IFREG:
		fd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		return fd < 0 ? -errno : fd;
	case S_IFLNK:
		return symlinkat(e->link_target ? e->link_target : "", parent, tmp) < 0 ? -errno : 0;
	default:
		return mknodat(parent, tmp, (e->st.st_mode & S_IFMT) | 0600, e->st.st_rdev) < 0 ? -errno : 0;
	}
}

/* Metadata of the new TMP: on its fd for a regular file; by name with
 * AT_SYMLINK_NOFOLLOW otherwise, so a swapped-in symlink is never followed. */
static int apply_tmp_metadata(dir_sink *k, int parent, const char *tmp, int fd, const copy_entry *e)
{
	struct timespec times[2] = { e->st.st_atim, e->st.st_mtim };
	bool is_link = S_ISLNK(e->st.st_mode);

	if (fd >= 0) {
		if (k->o->archive && fchown(fd, e->st.st_uid, e->st.st_gid) < 0)
			return -errno;
		if (fchmod(fd, entry_mode(k, e)) < 0 || futimens(fd, times) < 0)
			return -errno;
		return 0;
	}
	if (k->o->archive && fchownat(parent, tmp, e->st.st_uid, e->st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!is_link && fchmodat(parent, tmp, entry_mode(k, e), AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return utimensat(parent, tmp, times, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* A file, symlink or node: made under a temporary name in its directory,
 * then renamed over NAME, so no half-written file is ever visible. */
static int put_node(dir_sink *k, int parent, const char *name, const copy_entry *e, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	const char *what = *e->path ? e->path : name;
	char tmp[32];
	int r = -EEXIST;

	if ((S_ISCHR(e->st.st_mode) || S_ISBLK(e->st.st_mode)) && k->to_host) {
		berth_log(BERTH_LOG_WARNING, "copy to \"%s\": skipping the device node \"%s\"", k->label, what);
		return 0;
	}
	for (int i = 0; i < 100 && r == -EEXIST; i++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) < 0)
			rnd = (uint32_t)rand();
		snprintf(tmp, sizeof(tmp), ".berth-cp-%08x", rnd);
		r = create_tmp(parent, tmp, e);
	}
	if (r < 0)
		return berth_error_set(err, -r, "copy to \"%s\": create \"%s\"", k->label, what);
	fd = S_ISREG(e->st.st_mode) ? r : -EBADF;
	if (fd >= 0 && (r = write_content(fd, e)) < 0) {
		unlinkat(parent, tmp, 0);
		if (e->data_tar)
			return berth_error_set(err, 0, "copy to \"%s\": read \"%s\" from the tar: %s", k->label, what,
					       archive_error_string(e->data_tar));
		return berth_error_set(err, -r, "copy to \"%s\": write \"%s\"", k->label, what);
	}
	if ((r = apply_tmp_metadata(k, parent, tmp, fd, e)) < 0) {
		unlinkat(parent, tmp, 0);
		return berth_error_set(err, -r, "copy to \"%s\": set the owner, mode or times of \"%s\"", k->label,
				       what);
	}
	if (renameat(parent, tmp, parent, name) < 0) {
		int saved = errno;
		unlinkat(parent, tmp, 0);
		if (saved == EISDIR || saved == ENOTEMPTY || saved == EEXIST || saved == EBUSY)
			return berth_error_set(err, 0,
					       "copy to \"%s\": cannot overwrite directory \"%s\" with a non-directory",
					       k->label, what);
		return berth_error_set(err, saved, "copy to \"%s\": rename into \"%s\"", k->label, what);
	}
	return 0;
}

static int dir_put(copy_sink *base, const copy_entry *e, berth_error **err)
{
	dir_sink *k = (dir_sink *)base;
	_cleanup_close_ int parent = -EBADF;
	char name[NAME_MAX + 1];

	if (S_ISSOCK(e->st.st_mode))
		return 0; /* as docker: sockets are not copied */
	parent = open_parent(k, e->path, name, err);
	if (parent < 0)
		return -1;
	if (S_ISDIR(e->st.st_mode))
		return put_dir(k, parent, name, e, err);
	if (strcmp(name, ".") == 0)
		return berth_error_set(err, EINVAL, "copy to \"%s\": an entry that is not a directory names \"%s\"",
				       k->label, e->path);
	return put_node(k, parent, name, e, err);
}

/* Mode, owner and times of the directories, deepest first, on fds opened
 * without following symlinks: creating their entries changed their times. */
static int dir_sink_finish(dir_sink *k, berth_error **err)
{
	for (size_t i = k->n_dirs; i-- > 0;) {
		const dir_meta *m = &k->dirs[i];
		struct timespec times[2] = { m->st.st_atim, m->st.st_mtim };
		copy_entry e = { .path = m->path, .st = m->st };
		_cleanup_close_ int parent = -EBADF, fd = -EBADF;
		char name[NAME_MAX + 1];

		parent = open_parent(k, m->path, name, err);
		if (parent < 0)
			return -1;
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || (k->o->archive && fchown(fd, m->st.st_uid, m->st.st_gid) < 0) ||
		    fchmod(fd, entry_mode(k, &e)) < 0 || futimens(fd, times) < 0)
			return berth_error_set(err, errno, "copy to \"%s\": set the owner, mode or times of \"%s\"",
					       k->label, *m->path ? m->path : name);
	}
	return 0;
}

/* ---- the tar sink and source ---- */

typedef struct tar_sink {
	copy_sink base;
	struct archive *a;
	const char *prefix; /* the name of the top entry */
} tar_sink;

static int tar_write_content(tar_sink *k, const copy_entry *e, const char *name, berth_error **err)
{
	char buf[1 << 16];
	off_t left = e->st.st_size;

	/* no more than the header said, however the file grew */
	while (left > 0) {
		ssize_t n = read(e->data_fd, buf, (size_t)(left < (off_t)sizeof(buf) ? left : (off_t)sizeof(buf)));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "read \"%s\"", name);
		if (n == 0)
			break; /* shrunk: libarchive pads the rest */
		if (archive_write_data(k->a, buf, (size_t)n) < 0)
			return berth_error_set(err, 0, "write the tar: %s", archive_error_string(k->a));
		left -= n;
	}
	return 0;
}

static int tar_put(copy_sink *base, const copy_entry *e, berth_error **err)
{
	tar_sink *k = (tar_sink *)base;
	_cleanup_free_ char *name = NULL;
	struct archive_entry *ae;
	int r;

	if (S_ISSOCK(e->st.st_mode))
		return 0;
	if (asprintf(&name, "%s%s%s", k->prefix, *e->path ? "/" : "", e->path) < 0 ||
	    (ae = archive_entry_new()) == NULL)
		return berth_error_set(err, ENOMEM, "write the tar");
	archive_entry_copy_stat(ae, &e->st);
	archive_entry_set_pathname(ae, name);
	if (!S_ISREG(e->st.st_mode))
		archive_entry_set_size(ae, 0);
	if (S_ISLNK(e->st.st_mode))
		archive_entry_set_symlink(ae, e->link_target);
	r = archive_write_header(k->a, ae);
	archive_entry_free(ae);
	if (r < ARCHIVE_WARN)
		return berth_error_set(err, 0, "write the tar: \"%s\": %s", name, archive_error_string(k->a));
	return S_ISREG(e->st.st_mode) ? tar_write_content(k, e, name, err) : 0;
}

static int tar_read_all(int in_fd, copy_sink *k, berth_error **err)
{
	__attribute__((cleanup(archive_read_freep))) struct archive *a = archive_read_new();
	struct archive_entry *ae;

	if (a == NULL)
		return berth_error_set(err, ENOMEM, "read the tar");
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	archive_read_support_filter_gzip(a);
	if (archive_read_open_fd(a, in_fd, 1 << 16) != ARCHIVE_OK)
		return berth_error_set(err, 0, "read the tar: %s", archive_error_string(a));
	for (;;) {
		copy_entry e = { .data_fd = -1, .data_tar = a };
		int r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return berth_error_set(err, 0, "read the tar: %s", archive_error_string(a));
		e.path = archive_entry_pathname(ae);
		if (e.path == NULL)
			return berth_error_set(err, EINVAL, "read the tar: an entry has no name");
		if (archive_entry_hardlink(ae) != NULL)
			return berth_error_set(err, ENOTSUP, "read the tar: \"%s\" is a hard link (not supported)",
					       e.path);
		e.st = *archive_entry_stat(ae);
		e.link_target = archive_entry_symlink(ae);
		if (k->put(k, &e, err) < 0)
			return -1;
	}
}

/* ---- the commands ---- */

int copy_open_rootfs(const char *dir, berth_error **err)
{
	_cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct statx stx;
	struct stat self, parent;

	if (fd < 0)
		return berth_error_set(err, errno, "open the rootfs \"%s\"", dir);
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
		if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
			return berth_error_set(err, 0, "the rootfs \"%s\" is not mounted", dir);
	} else if (fstat(fd, &self) < 0 || fstatat(fd, "..", &parent, 0) < 0 || self.st_dev == parent.st_dev) {
		return berth_error_set(err, 0, "the rootfs \"%s\" is not mounted", dir);
	}
	return move_fd(fd);
}

/* Opens SRC (following a last symlink with -L or a trailing "/"). */
static int open_source(const copy_location *src, const split_path *sp, const copy_options *o, struct stat *st,
		       berth_error **err)
{
	_cleanup_close_ int fd =
	    location_open(src, src->path, O_PATH, o->follow_link || sp->slash || sp->contents, err);

	if (fd < 0) {
		if ((*err)->code == ENOENT || (*err)->code == ENOTDIR) {
			int code = (*err)->code;
			berth_error_free(err);
			return berth_error_set(err, code, "copy \"%s\"", src->label);
		}
		return berth_error_wrap(err, "copy \"%s\"", src->label);
	}
	if (fstat(fd, st) < 0)
		return berth_error_set(err, errno, "copy \"%s\": stat", src->label);
	if (sp->contents && !S_ISDIR(st->st_mode))
		return berth_error_set(err, ENOTDIR, "copy \"%s\"", src->label);
	return move_fd(fd);
}

/* Where the copy of SRC goes: *DIRFD and the name *TOP (heap) within it. */
static int plan_destination(const copy_location *dest, const split_path *dp, const split_path *sp,
			    const struct stat *src_st, const copy_location *src, int *dirfd, char **top,
			    berth_error **err)
{
	_cleanup_close_ int fd = location_open(dest, dest->path, O_PATH, true, err);
	struct stat st;

	if (fd < 0 && (*err)->code != ENOENT)
		return berth_error_wrap(err, "copy to \"%s\"", dest->label);
	berth_error_free(err);
	if (fd >= 0 && fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "copy to \"%s\": stat", dest->label);
	if (fd >= 0 && S_ISDIR(st.st_mode)) {
		*top = strdup(sp->contents ? "." : sp->base);
		*dirfd = move_fd(fd);
		return *top ? 0 : berth_error_set(err, ENOMEM, "copy to \"%s\"", dest->label);
	}
	if (fd >= 0 && S_ISDIR(src_st->st_mode))
		return berth_error_set(err, ENOTDIR, "cannot copy the directory \"%s\" onto the file \"%s\"",
				       src->label, dest->label);
	if (fd >= 0 && dp->slash)
		return berth_error_set(err, ENOTDIR, "copy to \"%s\"", dest->label);
	if (fd < 0 && dp->slash && !S_ISDIR(src_st->st_mode))
		return berth_error_set(err, ENOENT, "copy to \"%s\": the destination directory does not exist",
				       dest->label);
	fd = location_open(dest, dp->dir, O_PATH | O_DIRECTORY, true, err);
	if (fd < 0) {
		int code = (*err)->code;
		berth_error_free(err);
		return berth_error_set(err, code, "copy to \"%s\": the directory \"%s\"", dest->label, dp->dir);
	}
	*top = strdup(dp->base);
	*dirfd = move_fd(fd);
	return *top ? 0 : berth_error_set(err, ENOMEM, "copy to \"%s\"", dest->label);
}

int copy_paths(const copy_location *src, const copy_location *dest, const copy_options *o, berth_error **err)
{
	_cleanup_close_ int srcfd = -EBADF, dirfd = -EBADF;
	_cleanup_free_ char *top = NULL;
	dir_sink k = { .base.put = dir_put, .label = dest->label, .to_host = dest->rootfd < 0, .o = o };
	split_path sp = { 0 }, dp = { 0 };
	struct stat st;
	int ret = -1;

	/* everything the arguments can be judged by, before any write */
	if (split_path_parse(src->path, &sp, err) == 0 && split_path_parse(dest->path, &dp, err) == 0 &&
	    (srcfd = open_source(src, &sp, o, &st, err)) >= 0 &&
	    plan_destination(dest, &dp, &sp, &st, src, &dirfd, &top, err) == 0) {
		k.dirfd = dirfd;
		k.top = top;
		ret = walk_tree(srcfd, &st, "", src->label, &k.base, err);
		if (ret == 0)
			ret = dir_sink_finish(&k, err);
	}
	dir_sink_free(&k);
	split_path_free(&sp);
	split_path_free(&dp);
	return ret;
}

int copy_to_tar(const copy_location *src, int out_fd, const copy_options *o, berth_error **err)
{
	__attribute__((cleanup(archive_write_freep))) struct archive *a = archive_write_new();
	_cleanup_close_ int srcfd = -EBADF;
	tar_sink k = { .base.put = tar_put };
	split_path sp = { 0 };
	struct stat st;
	int ret = -1;

	if (a == NULL)
		return berth_error_set(err, ENOMEM, "write the tar");
	if (split_path_parse(src->path, &sp, err) < 0 || (srcfd = open_source(src, &sp, o, &st, err)) < 0)
		goto out;
	k.a = a;
	k.prefix = sp.contents ? "." : sp.base;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, out_fd) != ARCHIVE_OK) {
		ret = berth_error_set(err, 0, "write the tar: %s", archive_error_string(a));
		goto out;
	}
	ret = walk_tree(srcfd, &st, "", src->label, &k.base, err);
	if (ret == 0 && archive_write_close(a) != ARCHIVE_OK)
		ret = berth_error_set(err, 0, "write the tar: %s", archive_error_string(a));
out:
	split_path_free(&sp);
	return ret;
}

int copy_from_tar(int in_fd, const copy_location *dest, const copy_options *o, berth_error **err)
{
	dir_sink k = { .base.put = dir_put, .top = ".", .label = dest->label, .to_host = dest->rootfd < 0, .o = o };
	_cleanup_close_ int fd = location_open(dest, dest->path, O_PATH | O_DIRECTORY, true, err);
	int ret;

	if (fd < 0)
		return berth_error_wrap(err, "copy to \"%s\" (the destination must be a directory)", dest->label);
	k.dirfd = fd;
	ret = tar_read_all(in_fd, &k.base, err);
	if (ret == 0)
		ret = dir_sink_finish(&k, err);
	dir_sink_free(&k);
	return ret;
}
