/* Named volumes of the local driver (see volume.h). */
#include "storage/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define VOLUME_NAME_MAX 255
/* deeper image trees than this are refused rather than exhausting fds */
#define COPY_MAX_DEPTH 200
/* a ".new-*" directory older than this is a crashed create */
#define STALE_CREATE_SECONDS 3600

static void cleanup_volume_infop(volume_info *v)
{
	volume_info_free(v);
}
#define _cleanup_volume_ __attribute__((cleanup(cleanup_volume_infop)))

void volume_info_free(volume_info *v)
{
	if (v == NULL)
		return;
	free(v->name);
	free(v->driver);
	free(v->created);
	free(v->mountpoint);
	json_decref(v->labels);
	json_decref(v->options);
	memset(v, 0, sizeof(*v));
}

json_t *volume_info_to_json(const volume_info *v)
{
	return json_pack("{s:s, s:s, s:O, s:s, s:s, s:O, s:s}", "CreatedAt", v->created ? v->created : "", "Driver",
			 v->driver ? v->driver : VOLUME_DRIVER_LOCAL, "Labels", v->labels, "Mountpoint",
			 v->mountpoint ? v->mountpoint : "", "Name", v->name, "Options", v->options, "Scope", "local");
}

bool volume_name_valid(const char *name)
{
	size_t len;

	if (name == NULL || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
			      (name[0] >= '0' && name[0] <= '9')))
		return false;
	len = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	return name[len] == '\0' && len <= VOLUME_NAME_MAX;
}

static int check_name(const char *name, berth_error **err)
{
	if (volume_name_valid(name))
		return 0;
	return berth_error_set(err, EINVAL,
			       "invalid volume name \"%s\": names are 1 to 255 characters of [a-zA-Z0-9][a-zA-Z0-9_.-]",
			       name);
}

static int not_found(const char *name, berth_error **err)
{
	berth_error_set(err, 0, "no such volume: %s", name);
	if (err && *err)
		(*err)->code = ENOENT;
	return -ENOENT;
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	if (bytes > sizeof(r))
		bytes = sizeof(r);
	if (getrandom(r, bytes, 0) != (ssize_t)bytes) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		srand((unsigned)(ts.tv_nsec ^ getpid()));
		for (size_t i = 0; i < bytes; i++)
			r[i] = (unsigned char)rand();
	}
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

static const char *now_rfc3339(char *buf)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static char *volumes_dir(const char *store_root)
{
	return fs_path_join(store_root, "volumes");
}

/* Opens STORE/volumes (creating it with MKDIR), O_RDONLY|O_DIRECTORY. */
static int open_volumes_dir(const char *store_root, bool mkdir, berth_error **err)
{
	_cleanup_free_ char *dir = volumes_dir(store_root);
	int fd;

	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "volumes");
	if (mkdir && fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(err, errno, "open \"%s\"", dir);
	return fd;
}

static json_t *record_json(const volume_info *v)
{
	return json_pack("{s:s, s:s, s:s, s:O, s:O, s:b, s:b}", "Name", v->name, "Driver", v->driver, "CreatedAt",
			 v->created, "Labels", v->labels, "Options", v->options, "Anonymous", v->anonymous, "Populated",
			 v->populated);
}

static int write_record(int voldir, const volume_info *v, berth_error **err)
{
	json_t *j = record_json(v);
	_cleanup_free_ char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

	json_decref(j);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "volume %s: volume.json", v->name);
	if (fs_write_file_atomic(voldir, "volume.json", text, strlen(text), 0600, err) < 0)
		return berth_error_wrap(err, "volume %s", v->name);
	return 0;
}

static json_t *string_object(json_t *j)
{
	json_t *out = json_object(), *value;
	const char *key;

	if (json_is_object(j)) {
		json_object_foreach(j, key, value)
			if (json_is_string(value))
				json_object_set(out, key, value);
	}
	return out;
}

/* Reads VOLDIR/volume.json of NAME into OUT. */
static int read_record(const char *store_root, const char *name, int voldir, volume_info *out, berth_error **err)
{
	_cleanup_free_ char *text = NULL, *dir = NULL;
	json_error_t jerr;
	json_t *j;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (fs_read_file_at(voldir, "volume.json", &text, &len, err) < 0)
		return berth_error_wrap(err, "volume %s", name);
	j = json_loadb(text, len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		return berth_error_set(err, EINVAL, "volume %s: volume.json: %s", name, jerr.text);
	}
	out->name = strdup(name);
	out->driver = strdup(json_string_value(json_object_get(j, "Driver")) ?: VOLUME_DRIVER_LOCAL);
	out->created = strdup(json_string_value(json_object_get(j, "CreatedAt")) ?: "");
	out->labels = string_object(json_object_get(j, "Labels"));
	out->options = string_object(json_object_get(j, "Options"));
	out->anonymous = json_is_true(json_object_get(j, "Anonymous"));
	out->populated = json_is_true(json_object_get(j, "Populated"));
	json_decref(j);
	dir = volumes_dir(store_root);
	out->mountpoint = dir ? fs_path_join(dir, name) : NULL;
	if (out->mountpoint) {
		char *data = fs_path_join(out->mountpoint, "_data");
		free(out->mountpoint);
		out->mountpoint = data;
	}
	if (!out->name || !out->driver || !out->created || !out->labels || !out->options || !out->mountpoint) {
		volume_info_free(out);
		return berth_error_set(err, ENOMEM, "volume %s", name);
	}
	return 0;
}

/* Opens the directory of volume NAME; ENOENT is `no such volume`. */
static int open_volume(int volsfd, const char *name, berth_error **err)
{
	int fd = openat(volsfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
		return not_found(name, err);
	if (fd < 0)
		return berth_error_set(err, errno, "volume %s", name);
	return fd;
}

/* Takes the volume's lock and checks VOLDIR is still STORE/volumes/NAME (a
 * concurrent rm renames it away before deleting it). */
static int lock_volume(int volsfd, int voldir, const char *name, berth_error **err)
{
	struct stat a, b;

	if (flock(voldir, LOCK_EX) < 0)
		return berth_error_set(err, errno, "volume %s: lock", name);
	if (fstat(voldir, &a) < 0)
		return berth_error_set(err, errno, "volume %s", name);
	if (fstatat(volsfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return not_found(name, err);
	return 0;
}

static int labels_to_json(const char *const *labels, json_t *obj, berth_error **err)
{
	for (const char *const *l = labels; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *key = eq ? strndup(*l, (size_t)(eq - *l)) : strdup(*l);
		if (key == NULL)
			return berth_error_set(err, ENOMEM, "label");
		if (key[0] == '\0')
			return berth_error_set(err, EINVAL, "invalid label \"%s\": the key is empty", *l);
		json_object_set_new(obj, key, json_string(eq ? eq + 1 : ""));
	}
	return 0;
}

/* docker's local driver options: type=tmpfs [o=MOUNT OPTIONS], or
 * type=none|bind o=bind device=/HOST/DIR (an existing directory). */
static int options_to_json(const char *const *opts, json_t *obj, berth_error **err)
{
	const char *type, *o, *device;

	for (const char *const *l = opts; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *key = eq ? strndup(*l, (size_t)(eq - *l)) : NULL;
		if (key == NULL || (strcmp(key, "type") != 0 && strcmp(key, "o") != 0 && strcmp(key, "device") != 0))
			return berth_error_request(err, EINVAL, "--opt \"%s\": expected type=, o= or device=", *l);
		json_object_set_new(obj, key, json_string(eq + 1));
	}
	if (json_object_size(obj) == 0)
		return 0;
	type = json_string_value(json_object_get(obj, "type"));
	o = json_string_value(json_object_get(obj, "o"));
	device = json_string_value(json_object_get(obj, "device"));
	if (type == NULL)
		return berth_error_request(err, EINVAL,
					   "--opt: type=tmpfs or type=none (with o=bind,device=DIR) is needed");
	if (strcmp(type, "tmpfs") == 0) {
		if (device && strcmp(device, "tmpfs") != 0)
			return berth_error_request(err, EINVAL, "--opt device=%s: a tmpfs volume has no device",
						   device);
		return 0;
	}
	if (strcmp(type, "none") == 0 || strcmp(type, "bind") == 0) {
		struct stat st;
		if (o == NULL || strstr(o, "bind") == NULL || device == NULL || device[0] != '/')
			return berth_error_request(err, EINVAL, "--opt type=%s: needs o=bind and device=/ABSOLUTE/DIR",
						   type);
		if (stat(device, &st) < 0 || !S_ISDIR(st.st_mode))
			return berth_error_set(err, errno ? errno : ENOTDIR, "--opt device=%s", device);
		return 0;
	}
	return berth_error_request(err, EINVAL, "--opt type=%s: only tmpfs, none or bind", type);
}

int volume_create(const char *store_root, const char *name, const char *const *labels, bool exclusive, volume_info *out,
		  berth_error **err)
{
	return volume_create_with_options(store_root, name, labels, NULL, exclusive, out, err);
}

int volume_create_with_options(const char *store_root, const char *name, const char *const *labels,
			       const char *const *options, bool exclusive, volume_info *out, berth_error **err)
{
	_cleanup_volume_ volume_info v = { 0 };
	_cleanup_close_ int volsfd = -EBADF, tmpfd = -EBADF;
	char created[40], tmp[40] = ".new-", random_name[65];
	int ret;

	if (name != NULL && check_name(name, err) < 0)
		return -EINVAL;
	if (name == NULL) {
		random_hex(random_name, 32);
		name = random_name;
	}
	v.name = strdup(name);
	v.driver = strdup(VOLUME_DRIVER_LOCAL);
	v.created = strdup(now_rfc3339(created));
	v.labels = json_object();
	v.options = json_object();
	v.anonymous = name == random_name;
	if (!v.name || !v.driver || !v.created || !v.labels || !v.options)
		return berth_error_set(err, ENOMEM, "volume create");
	if (labels_to_json(labels, v.labels, err) < 0 || options_to_json(options, v.options, err) < 0)
		return berth_error_wrap(err, "volume create %s", name);
	volsfd = open_volumes_dir(store_root, true, err);
	if (volsfd < 0)
		return berth_error_wrap(err, "volume create %s", name);

	/* built aside, then renamed into place: a volume appears whole */
	random_hex(tmp + 5, 16);
	if (mkdirat(volsfd, tmp, 0700) < 0)
		return berth_error_set(err, errno, "volume create %s: mkdir", name);
	tmpfd = openat(volsfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ret = tmpfd < 0 ? -errno : 0;
	if (ret == 0 && mkdirat(tmpfd, "_data", 0755) < 0)
		ret = -errno;
	/* 0755 whatever the umask */
	if (ret == 0 && fchmodat(tmpfd, "_data", 0755, 0) < 0)
		ret = -errno;
	if (ret < 0) {
		berth_error_set(err, -ret, "volume create %s: _data", name);
	} else if (write_record(tmpfd, &v, err) < 0) {
		ret = -1;
	} else if (renameat2(volsfd, tmp, volsfd, name, RENAME_NOREPLACE) < 0) {
		ret = -errno;
		if (ret == -EINVAL) /* a file system without RENAME_NOREPLACE: _data makes the target non-empty */
			ret = renameat(volsfd, tmp, volsfd, name) < 0 ? -errno : 0;
		if (ret == -ENOTEMPTY)
			ret = -EEXIST;
		if (ret < 0 && ret != -EEXIST)
			berth_error_set(err, -ret, "volume create %s: rename", name);
	}
	if (ret < 0) {
		_cleanup_free_ char *dir = volumes_dir(store_root), *path = dir ? fs_path_join(dir, tmp) : NULL;
		if (path)
			fs_remove_tree(path, NULL);
	}
	if (ret == -EEXIST) {
		if (exclusive)
			return berth_error_set(err, EEXIST, "volume create %s: a volume of that name exists", name);
		return out ? volume_inspect(store_root, name, out, err) : 0;
	}
	if (ret < 0)
		return ret;
	return out ? read_record(store_root, name, tmpfd, out, err) : 0;
}

int volume_inspect(const char *store_root, const char *name, volume_info *out, berth_error **err)
{
	_cleanup_close_ int volsfd = -EBADF, voldir = -EBADF;

	if (check_name(name, err) < 0)
		return -EINVAL;
	volsfd = open_volumes_dir(store_root, false, NULL);
	if (volsfd < 0)
		return not_found(name, err);
	voldir = open_volume(volsfd, name, err);
	if (voldir < 0)
		return voldir;
	return read_record(store_root, name, voldir, out, err);
}

static int compare_info(const void *a, const void *b)
{
	return strcmp(((const volume_info *)a)->name, ((const volume_info *)b)->name);
}

void volume_list_free(volume_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		volume_info_free(&list[i]);
	free(list);
}

int volume_list(const char *store_root, volume_info **out, size_t *n, berth_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	volume_info *list = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	int fd;

	*out = NULL;
	*n = 0;
	fd = open_volumes_dir(store_root, false, NULL);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return berth_error_set(err, errno, "volume ls");
	}
	while ((de = readdir(d)) != NULL) {
		berth_error *skip = NULL;
		_cleanup_close_ int voldir = -EBADF;
		if (!volume_name_valid(de->d_name))
			continue; /* ".new-*", ".rm-*", strays */
		if (count == cap) {
			volume_info *grown = realloc(list, (cap = cap ? cap * 2 : 16) * sizeof(*list));
			if (grown == NULL) {
				volume_list_free(list, count);
				return berth_error_set(err, ENOMEM, "volume ls");
			}
			list = grown;
		}
		voldir = open_volume(dirfd(d), de->d_name, &skip);
		if (voldir < 0 || read_record(store_root, de->d_name, voldir, &list[count], &skip) < 0) {
			/* gone meanwhile (a concurrent rm) is no news */
			if (skip && skip->code != ENOENT)
				berth_log(BERTH_LOG_WARNING, "volume ls: skipping %s", skip->msg);
			berth_error_free(&skip);
			continue;
		}
		count++;
	}
	if (count > 1)
		qsort(list, count, sizeof(*list), compare_info);
	*out = list;
	*n = count;
	return 0;
}

static bool mounts_name(json_t *config, const char *name)
{
	json_t *mounts = json_object_get(config, "Mounts"), *m;
	size_t i;

	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));
		const char *mname = json_string_value(json_object_get(m, "Name"));
		if (type && mname && strcmp(type, "volume") == 0 && strcmp(mname, name) == 0)
			return true;
	}
	return false;
}

/* The first container record that uses NAME: its id in USER (at least 13 bytes). */
static int find_user(const char *store_root, const char *name, char *user, berth_error **err)
{
	_cleanup_free_ char *dir = fs_path_join(store_root, "containers");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	user[0] = '\0';
	if (dir == NULL)
		return berth_error_set(err, ENOMEM, "containers");
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_set(err, errno, "open \"%s\"", dir);
	while ((de = readdir(d)) != NULL) {
		_cleanup_close_ int cfd = -EBADF;
		_cleanup_free_ char *text = NULL;
		berth_error *ignored = NULL;
		json_t *config;
		size_t len;
		bool used;
		if (de->d_name[0] == '.')
			continue;
		cfd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue; /* "names" symlinks, strays */
		if (fs_read_file_at(cfd, "config.json", &text, &len, &ignored) < 0) {
			berth_error_free(&ignored);
			continue;
		}
		config = json_loadb(text, len, 0, NULL);
		used = mounts_name(config, name);
		json_decref(config);
		if (used) {
			snprintf(user, 13, "%.12s", de->d_name);
			return 0;
		}
	}
	return 0;
}

int volume_in_use(const char *store_root, const char *name, bool *used, berth_error **err)
{
	char user[13];

	*used = false;
	if (find_user(store_root, name, user, err) < 0)
		return -1;
	*used = user[0] != '\0';
	return 0;
}

int volume_remove(const char *store_root, const char *name, bool force, berth_error **err)
{
	_cleanup_close_ int volsfd = -EBADF, voldir = -EBADF;
	_cleanup_free_ char *dir = NULL, *path = NULL;
	char user[13], gone[40] = ".rm-";
	int ret;

	if (check_name(name, err) < 0)
		return -EINVAL;
	volsfd = open_volumes_dir(store_root, false, NULL);
	voldir = volsfd < 0 ? not_found(name, err) : open_volume(volsfd, name, err);
	if (voldir >= 0)
		ret = lock_volume(volsfd, voldir, name, err);
	else
		ret = voldir;
	if (ret == -ENOENT && force) {
		berth_error_free(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (find_user(store_root, name, user, err) < 0)
		return berth_error_wrap(err, "volume rm %s", name);
	if (user[0] != '\0') {
		berth_error_set(err, 0, "volume rm %s: volume is in use by container %s", name, user);
		if (err && *err)
			(*err)->code = EBUSY;
		return -EBUSY;
	}
	/* renamed away first: never a half-removed volume under its name */
	random_hex(gone + 4, 16);
	if (renameat(volsfd, name, volsfd, gone) < 0)
		return berth_error_set(err, errno, "volume rm %s", name);
	dir = volumes_dir(store_root);
	path = dir ? fs_path_join(dir, gone) : NULL;
	if (path == NULL)
		return berth_error_set(err, ENOMEM, "volume rm %s", name);
	if (fs_remove_tree(path, err) < 0) {
		/* a mount under it, most likely: give the rest back its name */
		renameat2(volsfd, gone, volsfd, name, RENAME_NOREPLACE);
		return berth_error_wrap(err, "volume rm %s", name);
	}
	return 0;
}

/* Bytes of the regular files under DIR (hard links counted each time). */
static uint64_t tree_size(int dir, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint64_t total = 0;
	int fd;

	if (depth > COPY_MAX_DEPTH || (fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			total += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
			    openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += tree_size(sub, depth + 1);
		}
	}
	return total;
}

/* Deletes ".rm-*" leftovers of interrupted removals and ".new-*" ones of
 * creates that crashed long ago. */
static void remove_stale(const char *store_root)
{
	_cleanup_free_ char *dir = volumes_dir(store_root);
	_cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d)) != NULL) {
		struct stat st;
		bool rm = strncmp(de->d_name, ".rm-", 4) == 0, created = strncmp(de->d_name, ".new-", 5) == 0;
		if (created && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime >= STALE_CREATE_SECONDS)
			rm = true;
		if (rm) {
			_cleanup_free_ char *path = fs_path_join(dir, de->d_name);
			if (path)
				fs_remove_tree(path, NULL);
		}
	}
}

int volume_prune(const char *store_root, bool all, char ***removed, uint64_t *reclaimed, berth_error **err)
{
	volume_info *list = NULL;
	char **names;
	size_t n = 0, count = 0;
	uint64_t bytes = 0;
	int ret = 0;

	if (removed)
		*removed = NULL;
	if (reclaimed)
		*reclaimed = 0;
	remove_stale(store_root);
	if (volume_list(store_root, &list, &n, err) < 0)
		return -1;
	names = calloc(n + 1, sizeof(*names));
	if (names == NULL) {
		volume_list_free(list, n);
		return berth_error_set(err, ENOMEM, "volume prune");
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		_cleanup_close_ int data = -EBADF;
		uint64_t size = 0;
		bool used;
		if (!all && !list[i].anonymous)
			continue;
		if (volume_in_use(store_root, list[i].name, &used, err) < 0) {
			ret = -1;
			break;
		}
		if (used)
			continue;
		data = open(list[i].mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (data >= 0)
			size = tree_size(data, 0);
		ret = volume_remove(store_root, list[i].name, true, err);
		if (ret == -EBUSY) { /* a container took it meanwhile */
			berth_error_free(err);
			ret = 0;
			continue;
		}
		if (ret == 0) {
			names[count++] = move_ptr(list[i].name);
			bytes += size;
		}
	}
	volume_list_free(list, n);
	if (removed)
		*removed = names;
	else
		cleanup_strvp(&names);
	if (reclaimed)
		*reclaimed = bytes;
	return ret < 0 ? berth_error_wrap(err, "volume prune") : 0;
}

/* ---------------------------------------------------------------------------
 * Filling a new volume from the image: a copy that never follows a symlink
 * of the (untrusted) source and keeps what the caller may keep. */

typedef struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path; /* relative to the copy's top */
} hardlink;

typedef struct copy_ctx {
	int top;	     /* _data */
	char path[PATH_MAX]; /* of the current entry, relative to top */
	size_t path_len;
	hardlink *links;
	size_t nlinks, cap;
	char *buf; /* read/write fallback buffer */
} copy_ctx;

#define COPY_BUF_SIZE (128 * 1024)

static bool ignorable(int e)
{
	return e == EPERM || e == EACCES || e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == ENODATA ||
	       e == ERANGE || e == E2BIG || e == EROFS;
}

/* Copies the xattrs of SRC to DST: by fd, or (FD -1) by the "/proc/self/fd/N/NAME" paths without following. */
static void copy_xattrs(int src, int dst, const char *src_path, const char *dst_path)
{
	_cleanup_free_ char *names = NULL, *value = NULL;
	ssize_t len = src >= 0 ? flistxattr(src, NULL, 0) : llistxattr(src_path, NULL, 0);

	if (len <= 0 || (names = malloc((size_t)len)) == NULL)
		return;
	len = src >= 0 ? flistxattr(src, names, (size_t)len) : llistxattr(src_path, names, (size_t)len);
	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *n = names + off;
		ssize_t vlen;
		int r;
		/* overlay's own bookkeeping is not content */
		if (strncmp(n, "trusted.overlay.", 16) == 0 || strncmp(n, "user.overlay.", 13) == 0)
			continue;
		vlen = src >= 0 ? fgetxattr(src, n, NULL, 0) : lgetxattr(src_path, n, NULL, 0);
		if (vlen < 0)
			continue;
		free(value);
		value = malloc((size_t)vlen + 1);
		if (value == NULL)
			return;
		vlen = src >= 0 ? fgetxattr(src, n, value, (size_t)vlen) : lgetxattr(src_path, n, value, (size_t)vlen);
		if (vlen < 0)
			continue;
		r = dst >= 0 ? fsetxattr(dst, n, value, (size_t)vlen, 0)
			     : lsetxattr(dst_path, n, value, (size_t)vlen, 0);
		if (r < 0)
			berth_debug("volume: xattr %s not copied: %s", n, strerror(errno));
	}
}

/* Owner, mode, xattrs and times of ST onto the open DST (a file or directory). */
static int apply_metadata_fd(int src, int dst, const struct stat *st)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (fchown(dst, st->st_uid, st->st_gid) < 0 && !ignorable(errno))
		return -errno;
	/* after chown, which clears set-id bits */
	if (fchmod(dst, st->st_mode & 07777) < 0)
		return -errno;
	/* after chown too: it drops security.capability */
	copy_xattrs(src, dst, NULL, NULL);
	if (futimens(dst, times) < 0 && !ignorable(errno))
		return -errno;
	return 0;
}

/* The same for a symlink or device node DST/NAME, never following it. */
static int apply_metadata_at(int srcdir, int dstdir, const char *name, const struct stat *st)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	char src_path[PATH_MAX], dst_path[PATH_MAX];

	if (fchownat(dstdir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 && !ignorable(errno))
		return -errno;
	if (!S_ISLNK(st->st_mode) && fchmodat(dstdir, name, st->st_mode & 07777, 0) < 0)
		return -errno;
	snprintf(src_path, sizeof(src_path), "/proc/self/fd/%d/%s", srcdir, name);
	snprintf(dst_path, sizeof(dst_path), "/proc/self/fd/%d/%s", dstdir, name);
	copy_xattrs(-1, -1, src_path, dst_path);
	if (utimensat(dstdir, name, times, AT_SYMLINK_NOFOLLOW) < 0 && !ignorable(errno))
		return -errno;
	return 0;
}

static int copy_data(copy_ctx *ctx, int src, int dst)
{
	for (;;) {
		ssize_t n = copy_file_range(src, NULL, dst, NULL, COPY_BUF_SIZE * 8, 0);
		if (n == 0)
			return 0;
		if (n > 0 || errno == EINTR)
			continue;
		/* across file systems on older kernels, or one that cannot: read and write */
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF)
			break;
		return -errno;
	}
	if (ctx->buf == NULL && (ctx->buf = malloc(COPY_BUF_SIZE)) == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(src, ctx->buf, COPY_BUF_SIZE), w = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		while (w < n) {
			ssize_t k = write(dst, ctx->buf + w, (size_t)(n - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			w += k;
		}
	}
}

static const char *find_link(copy_ctx *ctx, const struct stat *st)
{
	for (size_t i = 0; i < ctx->nlinks; i++)
		if (ctx->links[i].dev == st->st_dev && ctx->links[i].ino == st->st_ino)
			return ctx->links[i].path;
	return NULL;
}

static int remember_link(copy_ctx *ctx, const struct stat *st)
{
	if (ctx->nlinks == ctx->cap) {
		hardlink *grown = realloc(ctx->links, (ctx->cap = ctx->cap ? ctx->cap * 2 : 16) * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		ctx->links = grown;
	}
	ctx->links[ctx->nlinks].path = strndup(ctx->path, ctx->path_len);
	if (ctx->links[ctx->nlinks].path == NULL)
		return -ENOMEM;
	ctx->links[ctx->nlinks].dev = st->st_dev;
	ctx->links[ctx->nlinks++].ino = st->st_ino;
	return 0;
}

static int copy_dir(copy_ctx *ctx, int src, int dst, int depth);

static int copy_entry(copy_ctx *ctx, int srcdir, int dstdir, const char *name, int depth)
{
	_cleanup_close_ int s = -EBADF, d = -EBADF;
	const char *linked;
	struct stat st;
	int ret = 0;

	if (fstatat(srcdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && (linked = find_link(ctx, &st)) != NULL)
		return linkat(ctx->top, linked, dstdir, name, 0) < 0 ? -errno : 0;

	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(dstdir, name, 0700) < 0)
			return -errno;
		s = openat(srcdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		d = openat(dstdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0)
			return -errno;
		ret = copy_dir(ctx, s, d, depth + 1);
		return ret < 0 ? ret : apply_metadata_fd(s, d, &st);
	case S_IFREG:
		s = openat(srcdir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (s < 0)
			return -errno;
		d = openat(dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (d < 0)
			return -errno;
		ret = copy_data(ctx, s, d);
		if (ret == 0)
			ret = apply_metadata_fd(s, d, &st);
		break;
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlinkat(srcdir, name, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, dstdir, name) < 0)
			return -errno;
		ret = apply_metadata_at(srcdir, dstdir, name, &st);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (mknodat(dstdir, name, st.st_mode & (S_IFMT | 0777), st.st_rdev) < 0) {
			if (errno == EPERM) { /* device nodes need privilege */
				berth_debug("volume: %.*s not copied: %s", (int)ctx->path_len, ctx->path,
					    strerror(errno));
				return 0;
			}
			return -errno;
		}
		ret = apply_metadata_at(srcdir, dstdir, name, &st);
		break;
	default: /* sockets mean nothing once copied */
		return 0;
	}
	if (ret == 0 && st.st_nlink > 1)
		ret = remember_link(ctx, &st);
	return ret;
}

static int copy_dir(copy_ctx *ctx, int src, int dst, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (depth > COPY_MAX_DEPTH)
		return -ELOOP;
	fd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		size_t saved = ctx->path_len, l = strlen(de->d_name);
		int ret;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (saved + l + 2 > sizeof(ctx->path))
			return -ENAMETOOLONG;
		if (saved > 0)
			ctx->path[ctx->path_len++] = '/';
		memcpy(ctx->path + ctx->path_len, de->d_name, l + 1);
		ctx->path_len += l;
		ret = copy_entry(ctx, dirfd(d), dst, de->d_name, depth);
		if (ret < 0)
			return ret; /* path left naming the failed entry */
		ctx->path_len = saved;
		ctx->path[saved] = '\0';
	}
	return errno ? -errno : 0;
}

static bool dir_empty(int fd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dup_fd < 0 || (d = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return false;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return false;
	return true;
}

/* Empties DIRFD after a failed copy, so the next mount tries again. */
static void empty_dir(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		_cleanup_free_ char *child = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = fs_path_join(path, de->d_name);
		if (child)
			fs_remove_tree(child, NULL);
	}
}

/* Copies IMAGE_ROOTFS/DEST (resolved inside it) into the empty DATA. */
static int populate(const char *name, int data, const char *data_path, const char *image_rootfs, const char *dest,
		    berth_error **err)
{
	_cleanup_close_ int rootfd = -EBADF, src = -EBADF;
	copy_ctx ctx = { .top = data };
	berth_error *missing = NULL;
	struct stat st;
	int ret;

	rootfd = open(image_rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return berth_error_set(err, errno, "volume %s: open the image rootfs \"%s\"", name, image_rootfs);
	src = fs_open_in_root(rootfd, dest, O_RDONLY | O_DIRECTORY, 0, true, &missing);
	if (src < 0) {
		int code = missing ? missing->code : 0;
		if (code == ENOENT || code == ENOTDIR) { /* nothing at DEST in the image: nothing to copy */
			berth_error_free(&missing);
			return 0;
		}
		*err = missing;
		return berth_error_wrap(err, "volume %s: copy from the image", name);
	}
	if (fstat(src, &st) < 0)
		return berth_error_set(err, errno, "volume %s: stat \"%s\" in the image", name, dest);
	ret = copy_dir(&ctx, src, data, 0);
	if (ret == 0)
		ret = apply_metadata_fd(src, data, &st);
	for (size_t i = 0; i < ctx.nlinks; i++)
		free(ctx.links[i].path);
	free(ctx.links);
	free(ctx.buf);
	if (ret < 0) {
		berth_error_set(err, -ret, "volume %s: copy \"%s%s%.*s\" from the image", name, dest,
				ctx.path_len ? "/" : "", (int)ctx.path_len, ctx.path);
		empty_dir(data_path);
		return ret;
	}
	return 0;
}

int volume_prepare_mount(const char *store_root, const char *name, const char *image_rootfs, const char *dest,
			 char **host_data_path, berth_error **err)
{
	_cleanup_volume_ volume_info v = { 0 };
	_cleanup_close_ int volsfd = -EBADF, voldir = -EBADF, data = -EBADF;
	int ret = -ENOENT;

	*host_data_path = NULL;
	if (check_name(name, err) < 0)
		return -EINVAL;
	/* a concurrent rm may take the volume away between create and lock: retry */
	for (int attempt = 0; attempt < 3 && ret == -ENOENT; attempt++) {
		if (attempt > 0)
			berth_error_free(err);
		if (volume_create(store_root, name, NULL, false, NULL, err) < 0)
			return -1;
		if (volsfd < 0 && (volsfd = open_volumes_dir(store_root, false, err)) < 0)
			return -1;
		cleanup_closep(&voldir);
		voldir = open_volume(volsfd, name, err);
		ret = voldir < 0 ? voldir : lock_volume(volsfd, voldir, name, err);
	}
	if (ret < 0)
		return berth_error_wrap(err, "mount volume %s", name);
	if (read_record(store_root, name, voldir, &v, err) < 0)
		return -1;
	if (!v.populated) {
		data = openat(voldir, "_data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (data < 0)
			return berth_error_set(err, errno, "volume %s: _data", name);
		if (image_rootfs && dest && dir_empty(data) &&
		    populate(name, data, v.mountpoint, image_rootfs, dest, err) < 0)
			return -1;
		v.populated = true;
		if (write_record(voldir, &v, err) < 0)
			return -1;
	}
	*host_data_path = move_ptr(v.mountpoint);
	return 0;
}
