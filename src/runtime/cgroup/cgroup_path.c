/* Where the cgroup goes: the hierarchies mounted under fs_root, the
 * runtime's own cgroup in each (/proc/self/cgroup), and the requested
 * cgroupsPath (absolute, relative, systemd "slice:prefix:name"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* v1 controllers a container joins; other named hierarchies are left alone. */
static const char *const known_controllers[] = { "cpu",	    "cpuacct",	  "cpuset", "memory",  "devices",
						 "freezer", "blkio",	  "pids",   "net_cls", "net_prio",
						 "hugetlb", "perf_event", "rdma",   "misc",    "name=systemd" };

static bool is_known_controller(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(known_controllers) / sizeof(known_controllers[0]); i++)
		if (strlen(known_controllers[i]) == len && strncmp(known_controllers[i], name, len) == 0)
			return true;
	return false;
}

bool cgroup_controllers_overlap(const char *a, const char *b)
{
	for (const char *p = a; *p;) {
		size_t len = strcspn(p, ",");
		for (const char *q = b; *q;) {
			size_t qlen = strcspn(q, ",");
			if (len == qlen && strncmp(p, q, len) == 0)
				return true;
			q += qlen;
			if (*q == ',')
				q++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

void cgroup_self_free(cgroup_self_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].controllers);
		free(e[i].path);
	}
	free(e);
}

int cgroup_self_parse(const char *text, cgroup_self_entry **out, size_t *n, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	cgroup_self_entry *v = NULL;
	size_t count = 0, lineno = 0;
	char *save = NULL;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: parse own cgroup");
	for (char *line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		cgroup_self_entry *grown;

		lineno++;
		if (c2 == NULL || c2[1] != '/') {
			cgroup_self_free(v, count);
			return berth_error_set(
			    err, EINVAL, "cgroup: own cgroup line %zu: expected \"ID:CONTROLLERS:/PATH\"", lineno);
		}
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (grown == NULL) {
			cgroup_self_free(v, count);
			return berth_error_set(err, ENOMEM, "cgroup: parse own cgroup");
		}
		v = grown;
		v[count].controllers = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
		v[count].path = strdup(c2 + 1);
		count++;
		if (v[count - 1].controllers == NULL || v[count - 1].path == NULL) {
			cgroup_self_free(v, count);
			return berth_error_set(err, ENOMEM, "cgroup: parse own cgroup");
		}
	}
	*out = v;
	*n = count;
	return 0;
}

void cgroup_mounts_free(cgroup_mount *m, size_t n)
{
	for (size_t i = 0; m != NULL && i < n; i++) {
		free(m[i].controllers);
		free(m[i].mount);
		free(m[i].root);
	}
	free(m);
}

static int add_mount(cgroup_mount **v, size_t *n, const char *controllers, const char *mount, const char *root,
		     bool unified)
{
	cgroup_mount *grown = realloc(*v, (*n + 1) * sizeof(**v));

	if (grown == NULL)
		return -ENOMEM;
	*v = grown;
	grown[*n] = (cgroup_mount){
		.controllers = strdup(controllers), .mount = strdup(mount), .root = strdup(root), .unified = unified
	};
	(*n)++;
	if (grown[*n - 1].controllers == NULL || grown[*n - 1].mount == NULL || grown[*n - 1].root == NULL)
		return -ENOMEM;
	return 0;
}

/* Fake tree: every subdirectory of fs_root is a v1 hierarchy named after
 * its controllers ("cpu,cpuacct"; "systemd" is name=systemd). */
static int discover_fake_v1(const char *fs_root, cgroup_mount **v, size_t *n, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(fs_root);
	struct dirent *de;

	if (d == NULL)
		return berth_error_set(err, errno, "cgroup: list \"%s\"", fs_root);
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *mount = NULL;
		const char *controllers = de->d_name;
		struct stat st;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "unified") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strcmp(de->d_name, "systemd") == 0)
			controllers = "name=systemd";
		else if (!is_known_controller(de->d_name, strcspn(de->d_name, ",")))
			continue;
		mount = cgroup_join(fs_root, de->d_name);
		if (mount == NULL || add_mount(v, n, controllers, mount, "/", false) < 0)
			return berth_error_set(err, ENOMEM, "cgroup: list \"%s\"", fs_root);
	}
	return 0;
}

/* Undoes mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape_mountinfo(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* The controllers of a v1 mount from its super options ("rw,cpu,cpuacct"). */
static char *controllers_from_options(const char *options)
{
	_cleanup_free_ char *out = calloc(1, strlen(options) + 1);

	if (out == NULL)
		return NULL;
	for (const char *p = options; *p;) {
		size_t len = strcspn(p, ",");
		if (is_known_controller(p, len)) {
			if (out[0])
				strcat(out, ",");
			strncat(out, p, len);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return move_ptr(out);
}

/* Real host: cgroup and cgroup2 mounts directly below fs_root (or fs_root
 * itself for v2), with the cgroup each mount shows (its root field).
 * mountinfo is read a line at a time: it has a line for every mount of the
 * host (each container's rootfs among them), and the monitors that create
 * containers keep the heap they once used. */
static int discover_mountinfo(const char *fs_root, enum cgroup_mode mode, cgroup_mount **v, size_t *n,
			      berth_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	_cleanup_free_ char *unified = cgroup_join(fs_root, "unified");
	size_t cap = 0;
	ssize_t len;

	if (unified == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: read mounts");
	if (f == NULL)
		return berth_error_set(err, errno, "cgroup: read mounts: open \"/proc/self/mountinfo\"");
	while ((len = getline(&line, &cap, f)) > 0) {
		char *field[6] = { 0 }, *dash, *fstype, *options, *p = line, *fsave = NULL;
		_cleanup_free_ char *controllers = NULL;
		char *slash;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		for (int i = 0; i < 6 && p; i++) {
			field[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		dash = p ? strstr(p, "- ") : NULL;
		if (field[4] == NULL || dash == NULL)
			continue;
		fstype = strtok_r(dash + 2, " ", &fsave);
		options = fstype ? strtok_r(NULL, " ", &fsave) : NULL; /* the source */
		options = options ? strtok_r(NULL, " ", &fsave) : NULL;
		if (fstype == NULL || options == NULL)
			continue;
		unescape_mountinfo(field[3]);
		unescape_mountinfo(field[4]);
		if (strcmp(fstype, "cgroup2") == 0) {
			bool wanted =
			    mode == CGROUP_MODE_V2 ? strcmp(field[4], fs_root) == 0 : strcmp(field[4], unified) == 0;
			if (wanted && add_mount(v, n, "", field[4], field[3], true) < 0)
				return berth_error_set(err, ENOMEM, "cgroup: read mounts");
			continue;
		}
		if (strcmp(fstype, "cgroup") != 0 || mode == CGROUP_MODE_V2)
			continue;
		slash = strrchr(field[4], '/');
		if (slash == NULL || (size_t)(slash - field[4]) != strlen(fs_root) ||
		    strncmp(field[4], fs_root, strlen(fs_root)) != 0)
			continue;
		controllers = controllers_from_options(options);
		if (controllers == NULL)
			return berth_error_set(err, ENOMEM, "cgroup: read mounts");
		if (controllers[0] == '\0')
			continue;
		/* The same hierarchy mounted twice: keep the first. */
		bool seen = false;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = !(*v)[i].unified && strcmp((*v)[i].controllers, controllers) == 0;
		if (!seen && add_mount(v, n, controllers, field[4], field[3], false) < 0)
			return berth_error_set(err, ENOMEM, "cgroup: read mounts");
	}
	if (ferror(f))
		return berth_error_set(err, errno ?: EIO, "cgroup: read mounts: read \"/proc/self/mountinfo\"");
	return 0;
}

/* statmount(2) and listmount(2) (Linux 6.8; mount options 6.11). The uapi
 * headers here predate them: the ABI as the kernel defines it. */
#define CGROUP_SYS_STATMOUNT	   457
#define CGROUP_SYS_LISTMOUNT	   458
#define CGROUP_STATX_MNT_ID_UNIQUE 0x4000U
#define CGROUP_STATMOUNT_SB_BASIC  0x1U
#define CGROUP_STATMOUNT_MNT_ROOT  0x8U
#define CGROUP_STATMOUNT_MNT_POINT 0x10U
#define CGROUP_STATMOUNT_MNT_OPTS  0x80U
#define CGROUP_V1_MAGIC		   0x27e0ebU
#define CGROUP_V2_MAGIC		   0x63677270U

struct cgroup_mnt_id_req {
	uint32_t size; /* 24: MNT_ID_REQ_SIZE_VER0 */
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
};

/* The fixed 512-byte head of struct statmount; the strings follow it. */
struct cgroup_statmount {
	uint32_t size;
	uint32_t mnt_opts;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags;
	uint32_t fs_type;
	uint64_t mnt_id, mnt_parent_id;
	uint32_t mnt_id_old, mnt_parent_id_old;
	uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
	uint32_t mnt_root;
	uint32_t mnt_point;
	uint64_t rest[50];
	char str[];
};

/* One mount found by listmount: adds it when it is a cgroup hierarchy
 * mounted right below FS_ROOT (or FS_ROOT itself on v2). Returns 1 when
 * statmount cannot tell (an older kernel): the caller reads mountinfo. */
static int statmount_one(uint64_t id, const char *fs_root, const char *unified, enum cgroup_mode mode, cgroup_mount **v,
			 size_t *n)
{
	const uint64_t want = CGROUP_STATMOUNT_SB_BASIC | CGROUP_STATMOUNT_MNT_ROOT | CGROUP_STATMOUNT_MNT_POINT |
			      CGROUP_STATMOUNT_MNT_OPTS;
	struct cgroup_mnt_id_req req = { .size = 24, .mnt_id = id, .param = want };
	union {
		struct cgroup_statmount sm;
		char bytes[4096]; /* a cgroup mount's strings are short */
	} buf;
	_cleanup_free_ char *controllers = NULL;
	const char *point, *root, *options, *slash;
	size_t fs_root_len = strlen(fs_root);

	if (syscall(CGROUP_SYS_STATMOUNT, &req, &buf, sizeof(buf), 0) < 0) {
		if (errno == ENOENT)
			return 0; /* unmounted meanwhile */
		if (errno != EOVERFLOW)
			return 1;
		/* long options (an overlay's layers): no cgroup mount has them */
		req.param = CGROUP_STATMOUNT_SB_BASIC;
		if (syscall(CGROUP_SYS_STATMOUNT, &req, &buf, sizeof(buf), 0) < 0 ||
		    !(buf.sm.mask & CGROUP_STATMOUNT_SB_BASIC))
			return 1;
		return buf.sm.sb_magic == CGROUP_V1_MAGIC || buf.sm.sb_magic == CGROUP_V2_MAGIC ? 1 : 0;
	}
	/* no options string is returned where a mount has none (cgroup2) */
	if ((buf.sm.mask & (want & ~CGROUP_STATMOUNT_MNT_OPTS)) != (want & ~CGROUP_STATMOUNT_MNT_OPTS) ||
	    buf.sm.size > sizeof(buf))
		return 1;
	if (buf.sm.sb_magic != CGROUP_V1_MAGIC && buf.sm.sb_magic != CGROUP_V2_MAGIC)
		return 0;
	/* a v1 hierarchy always has options (its controllers or name=): none
	 * means a kernel without STATMOUNT_MNT_OPTS (before 6.11) */
	if (buf.sm.sb_magic == CGROUP_V1_MAGIC && !(buf.sm.mask & CGROUP_STATMOUNT_MNT_OPTS))
		return 1;
	point = buf.sm.str + buf.sm.mnt_point;
	root = buf.sm.str + buf.sm.mnt_root;
	options = buf.sm.str + buf.sm.mnt_opts;
	if (buf.sm.sb_magic == CGROUP_V2_MAGIC) {
		bool wanted = mode == CGROUP_MODE_V2 ? strcmp(point, fs_root) == 0 : strcmp(point, unified) == 0;
		return wanted && add_mount(v, n, "", point, root, true) < 0 ? -ENOMEM : 0;
	}
	slash = strrchr(point, '/');
	if (mode == CGROUP_MODE_V2 || slash == NULL || (size_t)(slash - point) != fs_root_len ||
	    strncmp(point, fs_root, fs_root_len) != 0)
		return 0;
	controllers = controllers_from_options(options);
	if (controllers == NULL)
		return -ENOMEM;
	if (controllers[0] == '\0')
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (!(*v)[i].unified && strcmp((*v)[i].controllers, controllers) == 0)
			return 0; /* the same hierarchy mounted twice: keep the first */
	return add_mount(v, n, controllers, point, root, false) < 0 ? -ENOMEM : 0;
}

/* The mounts below FS_ROOT through listmount and statmount: a few
 * microseconds each, where mountinfo makes the kernel print every mount of
 * the host (about 150 us for 42 mounts on the test VM, more on a node full
 * of container rootfs). Returns 1 (nothing added) where the kernel lacks
 * them or a filter refuses them: the caller reads mountinfo instead. */
static int discover_statmount(const char *fs_root, enum cgroup_mode mode, cgroup_mount **v, size_t *n,
			      berth_error **err)
{
	_cleanup_free_ char *unified = cgroup_join(fs_root, "unified");
	struct statx stx;
	uint64_t ids[64];
	struct cgroup_mnt_id_req req = { .size = 24 };
	long got;
	int ret;

	if (unified == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: read mounts");
	if (statx(AT_FDCWD, fs_root, 0, CGROUP_STATX_MNT_ID_UNIQUE, &stx) < 0 ||
	    !(stx.stx_mask & CGROUP_STATX_MNT_ID_UNIQUE))
		return 1;
	if (mode == CGROUP_MODE_V2) {
		ret = statmount_one(stx.stx_mnt_id, fs_root, unified, mode, v, n);
		goto out;
	}
	/* The children of the mount that holds fs_root: every hierarchy
	 * mounted on a directory of it. */
	req.mnt_id = stx.stx_mnt_id;
	do {
		got = syscall(CGROUP_SYS_LISTMOUNT, &req, ids, sizeof(ids) / sizeof(ids[0]), 0);
		if (got < 0) {
			ret = 1;
			goto out;
		}
		for (long i = 0; i < got; i++) {
			ret = statmount_one(ids[i], fs_root, unified, mode, v, n);
			if (ret != 0)
				goto out;
		}
		if (got > 0)
			req.param = ids[got - 1]; /* the next batch starts after it */
	} while (got == (long)(sizeof(ids) / sizeof(ids[0])));
	ret = 0;
out:
	if (ret < 0)
		return berth_error_set(err, -ret, "cgroup: read mounts");
	if (ret > 0) {
		cgroup_mounts_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return ret;
}

int cgroup_discover_mounts(const cgroup_options *opts, enum cgroup_mode mode, cgroup_mount **out, size_t *n,
			   berth_error **err)
{
	cgroup_mount *v = NULL;
	size_t count = 0;
	int ret = 0;

	if (opts->force_mode) {
		if (mode == CGROUP_MODE_V2) {
			if (add_mount(&v, &count, "", opts->fs_root, "/", true) < 0)
				ret = berth_error_set(err, ENOMEM, "cgroup: list \"%s\"", opts->fs_root);
		} else {
			ret = discover_fake_v1(opts->fs_root, &v, &count, err);
			if (ret == 0 && mode == CGROUP_MODE_HYBRID) {
				_cleanup_free_ char *unified = cgroup_join(opts->fs_root, "unified");
				struct stat st;
				if (unified && stat(unified, &st) == 0 && S_ISDIR(st.st_mode) &&
				    add_mount(&v, &count, "", unified, "/", true) < 0)
					ret = berth_error_set(err, ENOMEM, "cgroup: list \"%s\"", opts->fs_root);
			}
		}
	} else {
		ret = discover_statmount(opts->fs_root, mode, &v, &count, err);
		if (ret > 0)
			ret = discover_mountinfo(opts->fs_root, mode, &v, &count, err);
	}
	if (ret == 0 && count == 0)
		ret =
		    berth_error_set(err, ENOENT, "cgroup: no cgroup hierarchy is mounted under \"%s\"", opts->fs_root);
	if (ret < 0) {
		cgroup_mounts_free(v, count);
		return ret;
	}
	*out = v;
	*n = count;
	return 0;
}

/* Appends the components of SRC to DST ("a/b"), dropping empty and "."
 * components and rejecting "..". WHAT names the input in errors. */
static int append_components(char **dst, const char *src, const char *what, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(src);
	char *save = NULL;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: %s", what);
	for (char *c = strtok_r(copy, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		char *joined = NULL;
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0)
			return berth_error_set(err, EINVAL, "cgroup: %s \"%s\": \"..\" is not allowed in a cgroup path",
					       what, src);
		if (asprintf(&joined, "%s%s%s", *dst ? *dst : "", *dst && **dst ? "/" : "", c) < 0)
			return berth_error_set(err, ENOMEM, "cgroup: %s", what);
		free(*dst);
		*dst = joined;
	}
	return 0;
}

int cgroup_expand_slice(const char *slice, char **out, berth_error **err)
{
	size_t len = strlen(slice);
	_cleanup_free_ char *path = strdup("");
	_cleanup_free_ char *stem = NULL;

	if (len < 6 || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/') != NULL)
		return berth_error_set(err, EINVAL, "cgroup: systemd slice \"%s\": expected a name like \"a-b.slice\"",
				       slice);
	if (path == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: systemd slice \"%s\"", slice);
	if (strcmp(slice, "-.slice") == 0) {
		*out = move_ptr(path);
		return 0;
	}
	stem = strndup(slice, len - 6);
	if (stem == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: systemd slice \"%s\"", slice);
	if (stem[0] == '-' || stem[strlen(stem) - 1] == '-' || strstr(stem, "--") != NULL)
		return berth_error_set(err, EINVAL, "cgroup: systemd slice \"%s\": invalid dashes", slice);
	/* "a-b-c.slice" lives in "a.slice/a-b.slice/a-b-c.slice". */
	for (char *dash = stem;; dash++) {
		if (*dash == '-' || *dash == '\0') {
			char *joined = NULL;
			if (asprintf(&joined, "%s%s%.*s.slice", path, path[0] ? "/" : "", (int)(dash - stem), stem) < 0)
				return berth_error_set(err, ENOMEM, "cgroup: systemd slice \"%s\"", slice);
			free(path);
			path = joined;
		}
		if (*dash == '\0')
			break;
	}
	*out = move_ptr(path);
	return 0;
}

static int systemd_request(const cgroup_options *opts, char **path, berth_error **err)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ char *slice = NULL;
	_cleanup_free_ char *unit = NULL;
	char *prefix, *name;

	if (opts->cgroups_path == NULL || opts->cgroups_path[0] == '\0') {
		if (asprintf(&copy, "system.slice:berth:%s", opts->container_id) < 0)
			return berth_error_set(err, ENOMEM, "cgroup: cgroupsPath");
	} else {
		copy = strdup(opts->cgroups_path);
		if (copy == NULL)
			return berth_error_set(err, ENOMEM, "cgroup: cgroupsPath");
	}
	prefix = strchr(copy, ':');
	name = prefix ? strchr(prefix + 1, ':') : NULL;
	if (name == NULL || strchr(name + 1, ':') != NULL)
		return berth_error_set(err, EINVAL,
				       "cgroup: cgroupsPath \"%s\": expected \"slice:prefix:name\" with "
				       "systemd cgroups",
				       opts->cgroups_path);
	*prefix++ = '\0';
	*name++ = '\0';
	if (name[0] == '\0' || strchr(name, '/') || strchr(prefix, '/') || strcmp(name, "..") == 0 ||
	    strcmp(name, ".") == 0)
		return berth_error_set(err, EINVAL, "cgroup: cgroupsPath \"%s\": invalid unit name",
				       opts->cgroups_path);
	if (strlen(name) > 6 && strcmp(name + strlen(name) - 6, ".slice") == 0)
		return cgroup_expand_slice(name, path, err) < 0 ? berth_error_wrap(err, "cgroupsPath") : 0;
	if (cgroup_expand_slice(copy[0] ? copy : "system.slice", &slice, err) < 0)
		return berth_error_wrap(err, "cgroupsPath \"%s\"", opts->cgroups_path);
	if (asprintf(&unit, "%s%s%s%s%s.scope", slice, slice[0] ? "/" : "", prefix, prefix[0] ? "-" : "", name) < 0)
		return berth_error_set(err, ENOMEM, "cgroup: cgroupsPath");
	*path = move_ptr(unit);
	return 0;
}

int cgroup_compute_request(const cgroup_options *opts, char **path, bool *absolute, berth_error **err)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *raw = NULL;
	const char *src = opts->cgroups_path;

	if (opts->systemd) {
		if (systemd_request(opts, &raw, err) < 0)
			return -1;
		src = raw;
		*absolute = true;
	} else if (src == NULL || src[0] == '\0') {
		if (opts->container_id == NULL || opts->container_id[0] == '\0')
			return berth_error_set(err, EINVAL, "cgroup: neither cgroupsPath nor a container id is set");
		src = opts->container_id;
		*absolute = false;
	} else {
		*absolute = src[0] == '/';
	}
	if (append_components(&out, src, "cgroupsPath", err) < 0)
		return -1;
	if (out == NULL || out[0] == '\0')
		return berth_error_set(err, EINVAL, "cgroup: cgroupsPath \"%s\" names the root of the hierarchy", src);
	*path = move_ptr(out);
	return 0;
}
