#include "runtime/exe_guard.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <link.h>
#include <linux/mount.h>
#include <linux/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "spec/spec.h"

extern char **environ;

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif

/* FD (the binary) is on a read-only mount or a sealed memfd. */
static bool file_is_sealed(int fd)
{
	struct statvfs sv;
	int seals;

	if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return true;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL);
}

bool exe_guard_is_sealed(void)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	return fd >= 0 && file_is_sealed(fd);
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A detached, read-only clone of the mount at PATH. */
static int readonly_detached_clone(const char *path)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int tree = syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (tree < 0)
		return -1;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -1;
	return move_fd(tree);
}

/* The detached tree of exe_guard_seal_self's read-only view, kept open:
 * closing the last fd of such a tree unmounts it, which waits for an
 * expedited RCU grace period (exe_guard_release). */
static int view_tree = -EBADF;

/* The binary PATH (the file SELF has open) through a read-only clone of its
 * directory (so /proc/PID/exe reads "/berth-runtime"), or of the file. With
 * KEEP_TREE the directory's tree goes to view_tree instead of being closed. */
static int open_readonly_binary(const char *path, int self, bool keep_tree)
{
	_cleanup_close_ int dir = -EBADF;
	char dircopy[PATH_MAX], basecopy[PATH_MAX];
	size_t n = path ? strlen(path) : 0;
	int fd;

	if (n > 0 && n < PATH_MAX && path[0] == '/') {
		memcpy(dircopy, path, n + 1);
		memcpy(basecopy, path, n + 1);
		dir = readonly_detached_clone(dirname(dircopy));
		if (dir >= 0) {
			fd = openat(dir, basename(basecopy), O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && same_file(fd, self)) {
				if (keep_tree) {
					exe_guard_release();
					view_tree = move_fd(dir);
				}
				return fd;
			}
			if (fd >= 0)
				close(fd);
		}
	}
	return readonly_detached_clone(path ? path : "/proc/self/exe");
}

static int sealed_memfd_copy(int self)
{
	_cleanup_close_ int memfd = memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct stat st;
	off_t off = 0;

	if (memfd < 0 || fstat(self, &st) < 0)
		return -1;
	while (off < st.st_size) {
		ssize_t n = sendfile(memfd, self, &off, st.st_size - off);
		if (n <= 0)
			return -1;
	}
	if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -1;
	return move_fd(memfd);
}

static int open_sealed(const char *path, bool keep_tree, berth_error **err)
{
	char self_path[PATH_MAX];
	_cleanup_close_ int self = -EBADF;
	int sealed;

	if (path == NULL) {
		ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
		if (n > 0) {
			self_path[n] = '\0';
			path = self_path;
		}
		self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	} else {
		self = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (self < 0)
		return berth_error_set(err, errno, "open \"%s\"", path ? path : "/proc/self/exe");
	sealed = open_readonly_binary(path, self, keep_tree);
	if (sealed < 0) {
		berth_debug("read-only mount of the runtime binary: %s; using a sealed copy", strerror(errno));
		sealed = sealed_memfd_copy(self);
	}
	if (sealed < 0)
		return berth_error_set(err, errno,
				       "protect the runtime binary (CVE-2019-5736): no read-only or sealed copy");
	return sealed;
}

int exe_guard_open_sealed(const char *path, berth_error **err)
{
	return open_sealed(path, false, err);
}

void exe_guard_release(void)
{
	if (view_tree >= 0)
		close(view_tree);
	view_tree = -EBADF;
}

/* Moving this process's image onto the sealed binary without an execve.
 *
 * The kernel keeps two references to the file a process executes: mm's
 * exe_file (/proc/PID/exe) and the file of every mapping of the binary
 * (/proc/PID/map_files). Both are moved here: every mapping of the binary is
 * replaced by the same range of SEALED (the same file through a read-only
 * mount, or a sealed copy), and exe_file is set with PR_SET_MM_MAP (which
 * refuses while a mapping of the old file is left, but cannot tell on
 * overlayfs: each mapping must be found here). Pages the process may have
 * written (data, relocations) are copied into the new mapping first; clean
 * ones are mapped again from the file, whose content is the same.
 * Single-threaded only: another thread could write a page between copy and
 * swap. */

#define IMAGE_MAPPINGS_MAX 64

typedef struct {
	uintptr_t start, end;
	off_t offset;
	int prot;
	bool written; /* private pages may exist: copy it */
} image_mapping;

/* Reads the small proc file PATH whole into BUF (SIZE bytes, NUL added):
 * no allocation, which in a fresh fork would copy heap pages. */
static int read_proc_small(const char *path, char *buf, size_t size, berth_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	if (fd < 0)
		return berth_error_set(err, errno, "open %s", path);
	for (;;) {
		ssize_t n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "read %s", path);
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == size - 1)
			return berth_error_set(err, E2BIG, "%s: over %zu bytes", path, size - 1);
	}
	buf[used] = '\0';
	return 0;
}

/* Field N (1-based, as in proc(5)) of /proc/self/stat; FIELDS holds 52. */
static int read_self_stat(unsigned long long *fields, berth_error **err)
{
	char buf[1024];
	char *p, *end;
	int n;

	if (read_proc_small("/proc/self/stat", buf, sizeof(buf), err) < 0)
		return -1;
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (p == NULL)
		return berth_error_set(err, EINVAL, "parse /proc/self/stat");
	p++;
	for (n = 3; n < 52; n++) {
		while (*p == ' ')
			p++;
		if (n == 3) { /* state: a letter */
			fields[n] = 0;
			p++;
			continue;
		}
		errno = 0;
		fields[n] = strtoull(p, &end, 10);
		if (end == p || errno != 0)
			return berth_error_set(err, EINVAL, "parse /proc/self/stat field %d", n);
		p = end;
	}
	return 0;
}

static const char *next_line(const char *line)
{
	const char *nl = strchr(line, '\n');
	return nl != NULL && nl[1] != '\0' ? nl + 1 : NULL;
}

/* The number in BASE at *P, which must end with SEP; *P moves past SEP. */
static bool parse_field(const char **p, int base, char sep, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(*p, &end, base);
	if (end == *p || errno != 0 || *end != sep)
		return false;
	*p = end + 1;
	return true;
}

/* Parses a line of /proc/self/maps: "START-END PERMS OFFSET MAJOR:MINOR
 * INODE PATH". */
static bool parse_maps_line(const char *line, image_mapping *m, unsigned long *dev_ino, char *share)
{
	unsigned long start, end, offset, ino, major, minor;
	const char *p = line;
	char perms[4], *stop;

	if (!parse_field(&p, 16, '-', &start) || !parse_field(&p, 16, ' ', &end))
		return false;
	for (int i = 0; i < 4; i++) {
		if (*p == '\0' || *p == ' ' || *p == '\n')
			return false;
		perms[i] = *p++;
	}
	if (*p++ != ' ' || !parse_field(&p, 16, ' ', &offset) || !parse_field(&p, 16, ':', &major) ||
	    !parse_field(&p, 16, ' ', &minor))
		return false;
	errno = 0;
	ino = strtoul(p, &stop, 10);
	if (errno != 0 || stop == p)
		return false;
	*m = (image_mapping){
		.start = start,
		.end = end,
		.offset = (off_t)offset,
		.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
			(perms[2] == 'x' ? PROT_EXEC : 0),
	};
	dev_ino[0] = major;
	dev_ino[1] = minor;
	dev_ino[2] = ino;
	*share = perms[3];
	return true;
}

typedef struct {
	uintptr_t relro_start, relro_end;
	bool textrel;
	bool found;
} image_layout;

/* The first object dl_iterate_phdr reports is the program itself. */
static int read_layout(struct dl_phdr_info *info, size_t size, void *data)
{
	image_layout *l = data;

	(void)size;
	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_GNU_RELRO) {
			l->relro_start = info->dlpi_addr + ph->p_vaddr;
			l->relro_end = l->relro_start + ph->p_memsz;
		} else if (ph->p_type == PT_DYNAMIC) {
			for (const ElfW(Dyn) *d = (const void *)(info->dlpi_addr + ph->p_vaddr); d->d_tag != DT_NULL;
			     d++)
				if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)))
					l->textrel = true;
		}
	}
	l->found = true;
	return 1;
}

/* The mappings of the binary this process executes: those of the file that
 * holds the entry point (its device and inode as /proc/self/maps prints
 * them: on overlayfs those of the real file, like every mapping of the
 * binary). Private pages exist where the binary is writable and where the
 * loader wrote relocations before making them read-only (PT_GNU_RELRO);
 * the rest is the file's content. */
static int image_mappings(image_mapping *out, int max, berth_error **err)
{
	_cleanup_free_ char *heap = NULL;
	char small[16384];
	const char *buf = small;
	uintptr_t entry = getauxval(AT_ENTRY);
	unsigned long image[3] = { 0 }, id[3];
	image_layout layout = { 0 };
	image_mapping m;
	int n = 0;
	char share;

	dl_iterate_phdr(read_layout, &layout);
	if (!layout.found || layout.textrel)
		return berth_error_set(err, ENOTSUP, "the binary relocates its text (DT_TEXTREL)");
	if (read_proc_small("/proc/self/maps", small, sizeof(small), NULL) < 0) {
		if (fs_read_file("/proc/self/maps", &heap, NULL, err) < 0)
			return -1;
		buf = heap;
	}
	for (const char *line = buf; line != NULL; line = next_line(line))
		if (parse_maps_line(line, &m, id, &share) && entry >= m.start && entry < m.end)
			memcpy(image, id, sizeof(image));
	if (image[2] == 0)
		return berth_error_set(err, ENOENT, "/proc/self/maps: no mapping holds the entry point");
	for (const char *line = buf; line != NULL; line = next_line(line)) {
		if (!parse_maps_line(line, &m, id, &share) || memcmp(id, image, sizeof(image)) != 0)
			continue;
		if (share != 'p')
			return berth_error_set(err, EINVAL, "/proc/self/maps: a shared mapping of the binary");
		if (n == max)
			return berth_error_set(err, E2BIG, "/proc/self/maps: over %d mappings of the binary", max);
		m.written = (m.prot & PROT_WRITE) || (m.start < layout.relro_end && m.end > layout.relro_start);
		if (m.written && !(m.prot & PROT_READ))
			return berth_error_set(err, EINVAL, "/proc/self/maps: written pages that cannot be read");
		out[n++] = m;
	}
	return n;
}

/* Replaces mapping M by the same range of FD, keeping its content. A
 * written mapping becomes anonymous memory holding its pages (populated at
 * once: no page fault per page of the copy), so no reference to any file
 * is left there. */
static int remap_from(const image_mapping *m, int fd, berth_error **err)
{
	size_t len = m->end - m->start;
	void *copy;

	if (!m->written) {
		if (mmap((void *)m->start, len, m->prot, MAP_PRIVATE | MAP_FIXED, fd, m->offset) == MAP_FAILED)
			return berth_error_set(err, errno, "mmap %#lx-%#lx", (unsigned long)m->start,
					       (unsigned long)m->end);
		return 0;
	}
	copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (copy == MAP_FAILED)
		return berth_error_set(err, errno, "mmap a copy of %#lx-%#lx", (unsigned long)m->start,
				       (unsigned long)m->end);
	memcpy(copy, (void *)m->start, len);
	if ((m->prot != (PROT_READ | PROT_WRITE) && mprotect(copy, len, m->prot) < 0) ||
	    mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)m->start) == MAP_FAILED) {
		int saved = errno;
		munmap(copy, len);
		return berth_error_set(err, saved, "move the copy of %#lx-%#lx", (unsigned long)m->start,
				       (unsigned long)m->end);
	}
	return 0;
}

/* Sets /proc/self/exe to FD. PR_SET_MM_MAP (CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE) rewrites the whole memory layout record, so the
 * current values go back unchanged; PR_SET_MM_EXE_FILE alone would need
 * CAP_SYS_RESOURCE. */
static int set_exe_file(const unsigned long long *stat, int fd, berth_error **err)
{
	struct prctl_mm_map map = {
		.start_code = stat[26],
		.end_code = stat[27],
		.start_stack = stat[28],
		.start_data = stat[45],
		.end_data = stat[46],
		.start_brk = stat[47],
		.brk = (uint64_t)syscall(SYS_brk, 0),
		.arg_start = stat[48],
		.arg_end = stat[49],
		.env_start = stat[50],
		.env_end = stat[51],
		.exe_fd = (uint32_t)fd,
	};

	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0) < 0)
		return berth_error_set(err, errno, "prctl(PR_SET_MM_MAP)");
	return 0;
}

static int seal_in_place(int sealed, berth_error **err)
{
	image_mapping maps[IMAGE_MAPPINGS_MAX];
	unsigned long long stat[52] = { 0 };

#ifdef __SANITIZE_ADDRESS__
	/* the move copies whole written mappings, ASan's red zones between
	 * globals included: a sanitizer build takes the re-exec (runtime) or
	 * the sealed runtime binary (the engine's monitor) instead */
	(void)maps;
	(void)stat;
	(void)sealed;
	return berth_error_set(err, ENOTSUP, "sealing in place is not done in an AddressSanitizer build");
#endif
	char proc_path[64];
	_cleanup_close_ int reopened = -EBADF;
	int fd = sealed, flags = fcntl(sealed, F_GETFL), n;

	/* sealed may be O_PATH: mmap and PR_SET_MM_MAP need an open file */
	if (flags < 0 || (flags & O_PATH)) {
		snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", sealed);
		fd = reopened = open(proc_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return berth_error_set(err, errno, "reopen the sealed binary");
	}
	/* PR_SET_MM_MAP below makes this file /proc/self/exe */
	if (!file_is_sealed(fd))
		return berth_error_set(err, EINVAL, "the binary to move onto is neither read-only nor sealed");
	if (read_self_stat(stat, err) < 0)
		return -1;
	if (stat[20] != 1)
		return berth_error_set(err, EBUSY, "%llu threads", stat[20]);
	n = image_mappings(maps, IMAGE_MAPPINGS_MAX, err);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (remap_from(&maps[i], fd, err) < 0)
			return -1;
	return set_exe_file(stat, fd, err);
}

int exe_guard_seal_in_place(berth_error **err)
{
	_cleanup_close_ int sealed = -EBADF;
	const char *mode = getenv("BERTH_EXE_GUARD");

	if (exe_guard_is_sealed())
		return 0;
	if (mode != NULL && strcmp(mode, "reexec") == 0)
		return berth_error_set(err, ENOTSUP, "BERTH_EXE_GUARD=reexec");
	sealed = open_sealed(NULL, true, err);
	if (sealed < 0)
		return -1;
	if (seal_in_place(sealed, err) < 0) {
		exe_guard_release();
		return -1;
	}
	return 0;
}

/* The binary bound read-only onto itself in this mount namespace: the
 * bind goes with the namespace (or the old root after pivot_root) and is
 * never a detached tree whose last close would wait for a grace period. */
static int bind_readonly_in_place(const char *path, int self, berth_error **err)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int tree = -EBADF;
	_cleanup_close_ int fd = -EBADF;

	tree = syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return berth_error_set(err, errno, "open_tree \"%s\"", path);
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return berth_error_set(err, errno, "make the bind of \"%s\" read-only", path);
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return berth_error_set(err, errno, "bind \"%s\" onto itself", path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", path);
	/* its read-only mount is checked where it is moved onto (seal_in_place) */
	if (!same_file(fd, self))
		return berth_error_set(err, EINVAL, "\"%s\" is not the running binary", path);
	return move_fd(fd);
}

static bool id_in_mappings(uint32_t id, const spec_id_mapping *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].host_id && id - m[i].host_id < m[i].size)
			return true;
	return false;
}

bool exe_guard_unwritable_in_userns(const spec_id_mapping *uids, size_t n_uids, const spec_id_mapping *gids,
				    size_t n_gids)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & S_IWOTH))
		return false;
	if (n_uids == 0 || n_gids == 0 || id_in_mappings(st.st_uid, uids, n_uids) ||
	    id_in_mappings(st.st_gid, gids, n_gids))
		return false;
	/* no ACL: the file system has none or the file carries none */
	return fgetxattr(fd, "system.posix_acl_access", NULL, 0) < 0 && (errno == ENODATA || errno == ENOTSUP);
}

bool exe_guard_in_place_possible(void)
{
	const char *mode = getenv("BERTH_EXE_GUARD");
	unsigned int size = 0;
#ifdef __SANITIZE_ADDRESS__
	return false;
#endif
	if (mode != NULL && strcmp(mode, "reexec") == 0)
		return false;
	/* PR_SET_MM_MAP exists (CONFIG_CHECKPOINT_RESTORE) */
	return prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) == 0 && size > 0;
}

/* The binary's path as the runtime saw it before it cloned the init
 * (exe_guard_note_path). */
static char noted_path[PATH_MAX];

void exe_guard_note_path(void)
{
	ssize_t n = readlink("/proc/self/exe", noted_path, sizeof(noted_path) - 1);

	noted_path[n > 0 && noted_path[0] == '/' ? n : 0] = '\0';
}

int exe_guard_seal_in_mount_ns(berth_error **err)
{
	_cleanup_close_ int self = -EBADF;
	_cleanup_close_ int sealed = -EBADF;
	char path[PATH_MAX];
	ssize_t n;

	self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return berth_error_set(err, errno, "open /proc/self/exe");
	if (file_is_sealed(self))
		return 0;
	if (noted_path[0] != '\0') {
		memcpy(path, noted_path, sizeof(path));
	} else {
		n = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (n <= 0 || path[0] != '/')
			return berth_error_set(err, n < 0 ? errno : EINVAL, "readlink /proc/self/exe");
		path[n] = '\0';
	}
	sealed = bind_readonly_in_place(path, self, err);
	if (sealed < 0 || seal_in_place(sealed, err) < 0)
		return -1;
	berth_debug("runtime binary: sealed in place (in the init's mount namespace)");
	return 0;
}

int exe_guard_seal_self(char **argv, berth_error **err)
{
	_cleanup_close_ int sealed = -EBADF;
	_cleanup_error_ berth_error *why = NULL;
	const char *mode = getenv("BERTH_EXE_GUARD");

	if (exe_guard_is_sealed())
		return 0;
	sealed = open_sealed(NULL, true, err);
	if (sealed < 0)
		return -1;
	if (mode != NULL && strcmp(mode, "reexec") == 0)
		berth_error_set(&why, 0, "BERTH_EXE_GUARD=reexec");
	else if (seal_in_place(sealed, &why) == 0) {
		berth_debug("runtime binary: sealed in place");
		return 0;
	}
	berth_debug("runtime binary: not sealed in place (%s); re-executing", why->msg);
	syscall(SYS_execveat, sealed, "", argv, environ, AT_EMPTY_PATH);
	return berth_error_set(err, errno, "protect the runtime binary (CVE-2019-5736): re-execute");
}

int exe_guard_make_undumpable(berth_error **err)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return berth_error_set(err, errno, "prctl(PR_SET_DUMPABLE, 0)");
	return 0;
}
