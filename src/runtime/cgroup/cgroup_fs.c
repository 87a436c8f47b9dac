/* cgroupfs file helpers: knob reads and writes with errors that name the
 * file, recursive pid listing, and mkdir/rmdir of the levels we own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

void (*cgroup_write_observer)(const char *path, const char *value);

char *cgroup_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	char *out = NULL;

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (*b == '\0')
		return strndup(a, la);
	if (asprintf(&out, "%.*s%s%s", (int)la, a, (la == 1 && a[0] == '/') ? "" : "/", b) < 0)
		return NULL;
	return out;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int cgroup_write_kept(const char *dir, const char *file, int *fd, const char *value, berth_error **err)
{
	_cleanup_free_ char *path = cgroup_join(dir, file);
	int ret;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "cgroup \"%s\"", file);
	if (cgroup_write_observer != NULL)
		cgroup_write_observer(path, value);
	/* O_TRUNC as runc does: harmless on cgroupfs, and a fake tree in tests
	 * then holds exactly the last value written. */
	if (*fd < 0)
		*fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return berth_error_set(err, errno, "cgroup \"%s\": write \"%s\" to \"%s\"", file, value, path);
	ret = write_all(*fd, value, strlen(value));
	if (ret < 0)
		return berth_error_set(err, -ret, "cgroup \"%s\": write \"%s\" to \"%s\"", file, value, path);
	return 0;
}

int cgroup_write(const char *dir, const char *file, const char *value, berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;

	return cgroup_write_kept(dir, file, &fd, value, err);
}

int cgroup_writef(const char *dir, const char *file, berth_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *value = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		value = NULL;
		return berth_error_set(err, ENOMEM, "cgroup \"%s\"", file);
	}
	return cgroup_write(dir, file, value, err);
}

int cgroup_read(const char *dir, const char *file, char **out, berth_error **err)
{
	_cleanup_free_ char *path = cgroup_join(dir, file);
	berth_error *inner = NULL;
	int ret;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "cgroup \"%s\"", file);
	ret = fs_read_file(path, out, NULL, &inner);
	if (ret < 0) {
		int code = inner ? inner->code : EIO;
		berth_error_free(&inner);
		return berth_error_set(err, code, "cgroup \"%s\": read \"%s\"", file, path);
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || s[3] == '\n' || s[3] == ' ')) {
		*out = UINT64_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != '\n' && *end != ' '))
		return -EINVAL;
	*out = v;
	return 0;
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;

	if (cgroup_read(dir, file, &text, err) < 0)
		return -1;
	if (parse_u64(text, out) < 0)
		return berth_error_set(err, EINVAL, "cgroup \"%s\": \"%s/%s\" does not hold a number", file, dir, file);
	return 0;
}

int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
	_cleanup_free_ char *text = NULL;
	size_t klen = strlen(key);

	if (cgroup_read(dir, file, &text, NULL) < 0)
		return -ENOENT;
	for (char *line = text; line != NULL && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return parse_u64(line + klen + 1, out) < 0 ? -EINVAL : 0;
		line = next;
	}
	return -ENOENT;
}

bool cgroup_file_exists(const char *dir, const char *file)
{
	_cleanup_free_ char *path = cgroup_join(dir, file);
	return path != NULL && access(path, F_OK) == 0;
}

typedef struct pid_list {
	pid_t *v;
	size_t n, cap;
} pid_list;

static int pid_list_add(pid_list *l, pid_t pid)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		pid_t *grown = realloc(l->v, cap * sizeof(pid_t));
		if (grown == NULL)
			return -ENOMEM;
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n++] = pid;
	return 0;
}

static int read_pids_at(const char *dir, pid_list *l, int depth, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (depth > 64)
		return berth_error_set(err, ELOOP, "cgroup: \"%s\" is nested too deeply", dir);
	if (cgroup_read(dir, "cgroup.procs", &text, err) < 0)
		return -1;
	for (char *p = text; *p;) {
		char *end = NULL;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 0 && pid_list_add(l, (pid_t)v) < 0)
			return berth_error_set(err, ENOMEM, "cgroup: list pids of \"%s\"", dir);
		p = end;
		while (*p == '\n' || *p == ' ')
			p++;
	}
	d = opendir(dir);
	if (d == NULL)
		return berth_error_set(err, errno, "cgroup: list \"%s\"", dir);
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *child = NULL;
		berth_error *inner = NULL;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		child = cgroup_join(dir, de->d_name);
		if (child == NULL)
			return berth_error_set(err, ENOMEM, "cgroup: list \"%s\"", dir);
		if (read_pids_at(child, l, depth + 1, &inner) < 0) {
			/* A child cgroup that vanished meanwhile is not an error. */
			if (inner != NULL && inner->code == ENOENT) {
				berth_error_free(&inner);
				continue;
			}
			return cgroup_error_move(err, &inner);
		}
	}
	return 0;
}

static int compare_pids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int cgroup_read_pids(const char *dir, pid_t **pids, size_t *n, berth_error **err)
{
	pid_list l = { 0 };
	size_t out = 0;

	if (read_pids_at(dir, &l, 0, err) < 0) {
		free(l.v);
		return -1;
	}
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(pid_t), compare_pids);
	for (size_t i = 0; i < l.n; i++)
		if (out == 0 || l.v[out - 1] != l.v[i])
			l.v[out++] = l.v[i];
	*pids = l.v;
	*n = out;
	return 0;
}

/* Reads a cpuset file into *out with the trailing newline cut; 1 when the
 * file is missing (a fake tree in the tests lacks it; the kernel always has
 * it). */
static int read_cpuset_file(const char *dir, const char *file, char **out, berth_error **err)
{
	berth_error *inner = NULL;

	if (cgroup_read(dir, file, out, &inner) < 0) {
		if (inner != NULL && inner->code == ENOENT) {
			berth_error_free(&inner);
			return 1;
		}
		return cgroup_error_move(err, &inner);
	}
	(*out)[strcspn(*out, "\n")] = '\0';
	return 0;
}

/* A new cpuset cgroup starts with empty cpus/mems and refuses tasks until
 * they are set: copy them from the parent. *parent_empty (when given) is set
 * when the parent had nothing to copy, i.e. it needs filling first. FRESH:
 * DIR was just made, so its values are empty (or, with the parent's
 * cgroup.clone_children, the parent's already): not read first. */
static int copy_cpuset_from_parent(const char *parent, const char *dir, bool fresh, bool *parent_empty,
				   berth_error **err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	berth_error *inner = NULL;

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *current = NULL;
		_cleanup_free_ char *value = NULL;
		int missing = 0, parent_missing;

		if (!fresh) {
			missing = read_cpuset_file(dir, files[i], &current, err);
			if (missing < 0)
				return -1;
			if (!missing && current[strspn(current, " ")] != '\0')
				continue;
		}
		parent_missing = read_cpuset_file(parent, files[i], &value, err);
		if (parent_missing < 0)
			return -1;
		if (!parent_missing && value[0] == '\0' && parent_empty != NULL)
			*parent_empty = true;
		if (missing || parent_missing || value[0] == '\0')
			continue;
		if (cgroup_write(dir, files[i], value, &inner) < 0) {
			if (fresh && inner->code == ENOENT) {
				berth_error_free(&inner); /* a fake tree's new level has no files */
				continue;
			}
			return cgroup_error_move(err, &inner);
		}
	}
	return 0;
}

static unsigned count_components(const char *inner)
{
	unsigned n = 0;
	for (const char *p = inner; *p; p++)
		if (*p != '/' && (p == inner || p[-1] == '/'))
			n++;
	return n;
}

static void rollback_dirs(const char *dir, unsigned levels)
{
	_cleanup_free_ char *copy = strdup(dir);

	if (copy == NULL)
		return;
	for (unsigned i = 0; i < levels; i++) {
		char *slash;
		if (rmdir(copy) < 0 && errno != ENOENT)
			berth_log(BERTH_LOG_WARNING, "cgroup: remove \"%s\": %s", copy, strerror(errno));
		slash = strrchr(copy, '/');
		if (slash == NULL || slash == copy)
			break;
		*slash = '\0';
	}
}

/* The usual case first: the parent exists (a cgroupsPath below an existing
 * cgroup), so one mkdir makes the leaf and only the parent's cpuset is read.
 * Otherwise every level is walked from the mount down. */
static int make_leaf(cgroup_hierarchy *h, bool copy_cpuset, bool *walk, berth_error **err)
{
	_cleanup_free_ char *parent = strdup(h->dir);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	bool parent_empty = false, made;

	*walk = true;
	if (parent == NULL || slash == NULL || slash == parent || slash[1] == '\0' ||
	    strlen(parent) <= strlen(h->mount))
		return 0;
	*slash = '\0';
	if (mkdir(h->dir, 0755) == 0)
		made = true;
	else if (errno == EEXIST)
		made = false;
	else if (errno == ENOENT)
		return 0;
	else
		return berth_error_set(err, errno, "cgroup: create \"%s\"", h->dir);
	if (copy_cpuset && copy_cpuset_from_parent(parent, h->dir, made, &parent_empty, err) < 0) {
		if (made)
			rollback_dirs(h->dir, 1);
		return -1;
	}
	if (parent_empty) {
		/* an ancestor with an empty cpuset: the walk fills it first */
		if (made)
			rollback_dirs(h->dir, 1);
		return 0;
	}
	h->created_levels = made ? 1 : 0;
	*walk = false;
	return 0;
}

int cgroup_make_dirs(cgroup_hierarchy *h, bool copy_cpuset, berth_error **err)
{
	_cleanup_free_ char *path = strdup(h->mount);
	_cleanup_free_ char *inner = strdup(h->inner);
	unsigned total = count_components(h->inner), level = 0, first = 0;
	char *save = NULL;
	bool walk, made;

	if (path == NULL || inner == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: create \"%s\"", h->dir);
	h->created_levels = 0;
	if (make_leaf(h, copy_cpuset, &walk, err) < 0)
		return -1;
	if (!walk)
		return 0;
	for (char *c = strtok_r(inner, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		_cleanup_free_ char *parent = move_ptr(path);
		path = cgroup_join(parent, c);
		if (path == NULL) {
			rollback_dirs(parent, first ? level - first + 1 : 0);
			return berth_error_set(err, ENOMEM, "cgroup: create \"%s\"", h->dir);
		}
		level++;
		made = mkdir(path, 0755) == 0;
		if (made) {
			if (first == 0)
				first = level;
		} else if (errno != EEXIST) {
			int saved = errno;
			rollback_dirs(parent, first ? level - first : 0);
			return berth_error_set(err, saved, "cgroup: create \"%s\"", path);
		}
		if (copy_cpuset && copy_cpuset_from_parent(parent, path, made, NULL, err) < 0) {
			rollback_dirs(path, first ? level - first + 1 : 0);
			return -1;
		}
	}
	h->created_levels = first ? total - first + 1 : 0;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t cgroup_deadline_after_ms(long ms)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec + (uint64_t)ms * 1000000ULL;
}

static bool past(uint64_t deadline)
{
	return cgroup_deadline_after_ms(0) >= deadline;
}

/* rmdir that waits for exiting tasks: the kernel refuses (EBUSY) until the
 * last one is gone. DEADLINE (CLOCK_MONOTONIC ns) is shared by every
 * directory of one destroy, so it waits about a second in all. */
static int rmdir_retry(const char *path, uint64_t deadline)
{
	for (;;) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || past(deadline))
			return -errno;
		sleep_ms(10);
	}
}

/* Child cgroups made inside the container (nested runtimes, systemd) keep
 * the parent busy: remove them depth first. Only directories are touched. */
static int remove_children(const char *dir, int depth, uint64_t deadline, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "cgroup: list \"%s\"", dir);
	if (depth > 64)
		return berth_error_set(err, ELOOP, "cgroup: \"%s\" is nested too deeply", dir);
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *child = NULL;
		struct stat st;
		int ret;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* cgroupfs fills d_type: no stat of each control file */
		if (de->d_type != DT_DIR &&
		    (de->d_type != DT_UNKNOWN || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISDIR(st.st_mode)))
			continue;
		child = cgroup_join(dir, de->d_name);
		if (child == NULL)
			return berth_error_set(err, ENOMEM, "cgroup: remove \"%s\"", dir);
		if (remove_children(child, depth + 1, deadline, err) < 0)
			return -1;
		ret = rmdir_retry(child, deadline);
		if (ret < 0)
			return berth_error_set(err, -ret, "cgroup: remove \"%s\"", child);
	}
	return 0;
}

int cgroup_remove_dirs(cgroup_hierarchy *h, uint64_t deadline, berth_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (h->created_levels == 0)
		return 0;
	path = strdup(h->dir);
	if (path == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: remove \"%s\"", h->dir);
	/* Usually empty: the walk for children is needed only when rmdir
	 * says busy (children, or tasks still exiting). */
	if (rmdir(path) < 0 && errno != ENOENT) {
		int ret;

		if (remove_children(path, 0, deadline, err) < 0)
			return -1;
		ret = rmdir_retry(path, deadline);
		if (ret == -EBUSY)
			return berth_error_set(err, EBUSY, "cgroup: remove \"%s\" (processes are still in it)", path);
		if (ret < 0)
			return berth_error_set(err, -ret, "cgroup: remove \"%s\"", path);
	}
	/* Parents this container's create made may be shared by now (x/a
	 * and x/b): remove them only when empty, never wait. */
	for (unsigned i = 1; i < h->created_levels; i++) {
		char *slash = strrchr(path, '/');

		if (slash == NULL || slash == path)
			break;
		*slash = '\0';
		if (rmdir(path) < 0)
			break;
	}
	h->created_levels = 0;
	return 0;
}

int cgroup_hugepage_size_name(const char *page_size, char *buf, size_t len, berth_error **err)
{
	unsigned long long v, bytes;
	char *end = NULL;

	errno = 0;
	v = strtoull(page_size, &end, 10);
	if (errno != 0 || end == page_size || v == 0)
		goto invalid;
	if (strcmp(end, "") == 0 || strcmp(end, "B") == 0)
		bytes = v;
	else if (strcmp(end, "K") == 0 || strcmp(end, "KB") == 0)
		bytes = v << 10;
	else if (strcmp(end, "M") == 0 || strcmp(end, "MB") == 0)
		bytes = v << 20;
	else if (strcmp(end, "G") == 0 || strcmp(end, "GB") == 0)
		bytes = v << 30;
	else
		goto invalid;
	if (v > (1ULL << 33))
		goto invalid;
	/* The kernel's own naming (mm/hugetlb_cgroup.c mem_fmt). */
	if (bytes >= (1ULL << 30))
		snprintf(buf, len, "%lluGB", bytes >> 30);
	else if (bytes >= (1ULL << 20))
		snprintf(buf, len, "%lluMB", bytes >> 20);
	else if (bytes >= (1ULL << 10))
		snprintf(buf, len, "%lluKB", bytes >> 10);
	else
		goto invalid;
	return 0;
invalid:
	return berth_error_set(err, EINVAL, "cgroup: hugepage size \"%s\" is not a size like \"2MB\"", page_size);
}
