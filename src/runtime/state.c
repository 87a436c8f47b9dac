#include "runtime/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/proc.h"
#include "util/fs.h"

static const char *const status_names[] = {
	[STATUS_CREATING] = "creating", [STATUS_CREATED] = "created", [STATUS_RUNNING] = "running",
	[STATUS_PAUSED] = "paused",	[STATUS_STOPPED] = "stopped",
};

const char *state_status_name(enum container_status status)
{
	return status <= STATUS_STOPPED ? status_names[status] : "unknown";
}

char *state_default_root(bool rootless)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *out = NULL;

	if (!rootless)
		return strdup("/run/berth-runtime");
	if (xdg != NULL && xdg[0] == '/')
		return fs_path_join(xdg, "berth-runtime");
	if (asprintf(&out, "/tmp/berth-runtime-%u", (unsigned)geteuid()) < 0)
		return NULL;
	return out;
}

int state_dir_create(const char *root, const char *id, berth_error **err)
{
	_cleanup_close_ int rootfd = -EBADF;
	int fd;

	/* the root exists but for the first container: no mkdir of each of
	 * its components then */
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 && errno == ENOENT) {
		if (fs_mkdir_p(root, 0700, err) < 0)
			return berth_error_wrap(err, "state root");
		rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (rootfd < 0)
		return berth_error_set(err, errno, "open state root \"%s\"", root);
	if (mkdirat(rootfd, id, 0711) < 0) {
		if (errno == EEXIST)
			return berth_error_set(err, EEXIST, "container \"%s\" already exists", id);
		return berth_error_set(err, errno, "create state directory \"%s/%s\"", root, id);
	}
	fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return berth_error_set(err, errno, "open state directory \"%s/%s\"", root, id);
	return fd;
}

int state_dir_open(const char *root, const char *id, berth_error **err)
{
	_cleanup_free_ char *path = fs_path_join(root, id);
	int fd;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "state directory");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return berth_error_set(err, ENOENT, "container \"%s\" does not exist", id);
		return berth_error_set(err, errno, "open state directory \"%s\"", path);
	}
	return fd;
}

int state_lock(int dirfd, berth_error **err)
{
	int fd = openat(dirfd, STATE_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return berth_error_set(err, errno, "open the state lock");
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		return berth_error_set(err, e, "lock the state directory");
	}
	return fd;
}

int state_dir_remove(const char *root, const char *id, berth_error **err)
{
	static const char *const files[] = { STATE_FILE, STATE_LOCK_FILE, STATE_EXEC_FIFO };
	_cleanup_free_ char *path = fs_path_join(root, id);
	_cleanup_close_ int dirfd = -EBADF;

	if (path == NULL)
		return berth_error_set(err, ENOMEM, "remove state directory");
	/* The files the runtime makes there, then the directory; a walk of
	 * the tree only when something else is left in it. */
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd >= 0) {
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			unlinkat(dirfd, files[i], 0);
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
	}
	return fs_remove_tree(path, err);
}

int state_write_pid_file(const char *path, pid_t pid, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int dirfd = -EBADF;
	char buf[32], *slash;
	int len = snprintf(buf, sizeof(buf), "%d", (int)pid);

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "pid file");
	slash = strrchr(copy, '/');
	if (slash != NULL) {
		*slash = '\0';
		dirfd = open(copy[0] ? copy : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		dirfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (dirfd < 0)
		return berth_error_set(err, errno, "pid file \"%s\"", path);
	if (fs_write_file_replace(dirfd, slash ? slash + 1 : copy, buf, len, 0644, err) < 0)
		return berth_error_wrap(err, "pid file");
	return 0;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int state_write(int dirfd, const container_state *st, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	json_t *obj = json_object();

	json_object_set_new(obj, "ociVersion", string_or_null(st->oci_version));
	json_object_set_new(obj, "id", string_or_null(st->id));
	json_object_set_new(obj, "status", json_string(state_status_name(st->status)));
	json_object_set_new(obj, "pid", json_integer(st->pid));
	json_object_set_new(obj, "pidStartTime", json_integer((json_int_t)st->pid_start_time));
	json_object_set_new(obj, "bundle", string_or_null(st->bundle));
	json_object_set_new(obj, "rootfs", string_or_null(st->rootfs));
	json_object_set_new(obj, "configPath", string_or_null(st->config_path));
	json_object_set_new(obj, "created", string_or_null(st->created));
	json_object_set_new(obj, "owner", json_integer(st->owner));
	json_object_set_new(obj, "systemdCgroup", json_boolean(st->systemd_cgroup));
	json_object_set_new(obj, "rootless", json_boolean(st->rootless));
	json_object_set_new(obj, "poststartHooks", json_boolean(st->has_poststart_hooks));
	json_object_set_new(obj, "poststopHooks", json_boolean(st->has_poststop_hooks));
	json_object_set(obj, "annotations", st->annotations ? st->annotations : json_object());
	if (st->annotations == NULL)
		json_decref(json_object_get(obj, "annotations"));
	if (st->cgroup)
		json_object_set(obj, "cgroup", st->cgroup);
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "serialise state");
	return fs_write_file_replace(dirfd, STATE_FILE, text, strlen(text), 0600, err);
}

static char *dup_string(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int state_read(int dirfd, container_state **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	container_state *st;
	json_error_t jerr;
	json_t *obj, *v;
	const char *status;

	if (fs_read_file_at(dirfd, STATE_FILE, &text, NULL, err) < 0)
		return berth_error_wrap(err, "read container state");
	obj = json_loads(text, 0, &jerr);
	if (obj == NULL || !json_is_object(obj)) {
		json_decref(obj);
		return berth_error_set(err, EINVAL, "read container state: corrupt state.json: %s", jerr.text);
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		json_decref(obj);
		return berth_error_set(err, ENOMEM, "read container state");
	}
	st->id = dup_string(obj, "id");
	st->bundle = dup_string(obj, "bundle");
	st->rootfs = dup_string(obj, "rootfs");
	st->oci_version = dup_string(obj, "ociVersion");
	st->config_path = dup_string(obj, "configPath");
	st->created = dup_string(obj, "created");
	st->pid = json_integer_value(json_object_get(obj, "pid"));
	st->pid_start_time = json_integer_value(json_object_get(obj, "pidStartTime"));
	st->owner = json_integer_value(json_object_get(obj, "owner"));
	st->systemd_cgroup = json_is_true(json_object_get(obj, "systemdCgroup"));
	st->rootless = json_is_true(json_object_get(obj, "rootless"));
	st->has_poststart_hooks = json_is_true(json_object_get(obj, "poststartHooks"));
	st->has_poststop_hooks = json_is_true(json_object_get(obj, "poststopHooks"));
	status = json_string_value(json_object_get(obj, "status"));
	st->status = STATUS_STOPPED;
	for (int s = STATUS_CREATING; status && s <= STATUS_STOPPED; s++)
		if (strcmp(status, status_names[s]) == 0)
			st->status = s;
	v = json_object_get(obj, "annotations");
	st->annotations = json_is_object(v) ? json_incref(v) : json_object();
	v = json_object_get(obj, "cgroup");
	st->cgroup = v ? json_incref(v) : NULL;
	json_decref(obj);
	*out = st;
	return 0;
}

void state_free(container_state *st)
{
	if (st == NULL)
		return;
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->oci_version);
	free(st->config_path);
	free(st->created);
	json_decref(st->annotations);
	json_decref(st->cgroup);
	json_decref(st->config);
	free(st);
}

bool state_init_alive(const container_state *st)
{
	unsigned long long now;
	if (st->pid <= 0)
		return false;
	now = proc_pid_start_time(st->pid);
	return now != 0 && (st->pid_start_time == 0 || now == st->pid_start_time);
}

enum container_status state_current_status(int dirfd, const container_state *st)
{
	struct stat sb;

	if (st->status == STATUS_CREATING)
		return state_init_alive(st) || st->pid == 0 ? STATUS_CREATING : STATUS_STOPPED;
	if (!state_init_alive(st))
		return STATUS_STOPPED;
	if (fstatat(dirfd, STATE_EXEC_FIFO, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return STATUS_CREATED;
	if (st->cgroup != NULL) {
		_cleanup_cgroup_manager_ cgroup_manager *m = NULL;
		bool frozen = false;
		if (cgroup_manager_from_json(st->cgroup, &m, NULL) == 0 &&
		    cgroup_manager_is_frozen(m, &frozen, NULL) == 0 && frozen)
			return STATUS_PAUSED;
	}
	return STATUS_RUNNING;
}

json_t *state_to_oci_json(const container_state *st, enum container_status status)
{
	json_t *obj = json_object();

	json_object_set_new(obj, "ociVersion", json_string(st->oci_version ? st->oci_version : "1.2.0"));
	json_object_set_new(obj, "id", json_string(st->id));
	json_object_set_new(obj, "status", json_string(state_status_name(status)));
	if (status != STATUS_STOPPED && st->pid > 0)
		json_object_set_new(obj, "pid", json_integer(st->pid));
	else
		json_object_set_new(obj, "pid", json_integer(0));
	json_object_set_new(obj, "bundle", json_string(st->bundle ? st->bundle : ""));
	json_object_set_new(obj, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
	json_object_set_new(obj, "created", json_string(st->created ? st->created : ""));
	json_object_set(obj, "annotations", st->annotations ? st->annotations : json_object());
	if (st->annotations == NULL)
		json_decref(json_object_get(obj, "annotations"));
	return obj;
}

char *state_to_oci_string(const container_state *st, enum container_status status)
{
	json_t *obj = state_to_oci_json(st, status);
	char *text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return text;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_list_ids(const char *root, char ***ids, size_t *n, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	_cleanup_strv_ char **list = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;

	*n = 0;
	*ids = NULL;
	if (d == NULL) {
		if (errno == ENOENT) {
			*ids = calloc(1, sizeof(char *));
			return *ids ? 0 : berth_error_set(err, ENOMEM, "list");
		}
		return berth_error_set(err, errno, "open state root \"%s\"", root);
	}
	list = calloc(1, sizeof(char *));
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (faccessat(dirfd(d), de->d_name, F_OK, 0) < 0)
			continue;
		if (count + 1 >= cap) {
			char **grown;
			cap = cap ? cap * 2 : 16;
			grown = realloc(list, (cap + 1) * sizeof(char *));
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "list");
			list = grown;
		}
		list[count++] = strdup(de->d_name);
		list[count] = NULL;
	}
	qsort(list, count, sizeof(char *), compare_strings);
	*n = count;
	*ids = move_ptr(list);
	return 0;
}
