#include "storage/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/default.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Opens FILE of the image (never following links out of it) as a stream. */
static FILE *open_image_file(int rootfs_fd, const char *file)
{
	berth_error *ignored = NULL;
	int fd = rootfs_fd < 0 ? -1 : fs_open_in_root(rootfs_fd, file, O_RDONLY | O_CLOEXEC, 0, true, &ignored);
	FILE *f;

	berth_error_free(&ignored);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "re");
	if (f == NULL)
		close(fd);
	return f;
}

/* "user", "uid", "user:group", "uid:gid" → numeric ids, names looked up in
 * the image. A user without a group gets the user's primary group. */
int bundle_resolve_user(const char *spec, int rootfs_fd, long *uid, long *gid, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(spec ? spec : "");
	char *group;
	_cleanup_fclose_ FILE *pw = NULL;
	_cleanup_fclose_ FILE *gr = NULL;
	struct passwd *p = NULL;
	struct group *g = NULL;

	*uid = 0;
	*gid = 0;
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "user");
	if (copy[0] == '\0')
		return 0;
	group = strchr(copy, ':');
	if (group)
		*group++ = '\0';
	if (all_digits(copy)) {
		*uid = strtol(copy, NULL, 10);
		*gid = *uid == 0 ? 0 : -1;
	} else {
		*gid = -1;
	}
	pw = open_image_file(rootfs_fd, "/etc/passwd");
	while (pw && (p = fgetpwent(pw)) != NULL) {
		if (all_digits(copy) ? (long)p->pw_uid == *uid : strcmp(p->pw_name, copy) == 0) {
			*uid = p->pw_uid;
			*gid = p->pw_gid;
			break;
		}
	}
	if (!all_digits(copy) && (p == NULL || pw == NULL))
		return berth_error_set(err, ENOENT, "user \"%s\": not in the image's /etc/passwd", copy);
	if (group && all_digits(group)) {
		*gid = strtol(group, NULL, 10);
	} else if (group) {
		gr = open_image_file(rootfs_fd, "/etc/group");
		while (gr && (g = fgetgrent(gr)) != NULL)
			if (strcmp(g->gr_name, group) == 0)
				break;
		if (gr == NULL || g == NULL)
			return berth_error_set(err, ENOENT, "group \"%s\": not in the image's /etc/group", group);
		*gid = g->gr_gid;
	}
	if (*gid < 0)
		*gid = 0; /* a numeric uid unknown to the image: gid 0, as docker and podman give it */
	return 0;
}

static json_t *string_array(char *const *v)
{
	json_t *a = json_array();

	for (char *const *p = v; a && p && *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

static json_t *process_env(const image_config *c, bool terminal)
{
	json_t *env = json_array();
	bool has_path = false;

	for (char **e = c->env; e && *e; e++)
		has_path = has_path || strncmp(*e, "PATH=", 5) == 0;
	if (!has_path)
		json_array_append_new(env, json_string(DEFAULT_PATH));
	for (char **e = c->env; e && *e; e++)
		json_array_append_new(env, json_string(*e));
	if (terminal)
		json_array_append_new(env, json_string("TERM=xterm"));
	return env;
}

int bundle_config_from_image(const image_info *image, int rootfs_fd, const bundle_options *opts, json_t **out,
			     berth_error **err)
{
	const image_config *c = &image->config;
	json_t *cfg, *process, *args;
	long uid, gid;

	if (opts->args && opts->args[0]) {
		args = string_array(opts->args);
	} else {
		args = string_array(c->entrypoint);
		for (char **a = c->cmd; args && a && *a; a++)
			json_array_append_new(args, json_string(*a));
	}
	if (args == NULL || json_array_size(args) == 0) {
		json_decref(args);
		return berth_error_set(err, EINVAL, "image %.19s has no command (no Entrypoint or Cmd): give one",
				       image->id);
	}
	if (bundle_resolve_user(c->user, rootfs_fd, &uid, &gid, err) < 0) {
		json_decref(args);
		return berth_error_wrap(err, "image %.19s", image->id);
	}
	/* already root of a user namespace (berth rootless): no second one */
	cfg = spec_default_config(opts->rootless && geteuid() != 0);
	if (cfg == NULL) {
		json_decref(args);
		return berth_error_set(err, ENOMEM, "config");
	}
	process = json_object_get(cfg, "process");
	json_object_set_new(process, "terminal", json_boolean(opts->terminal));
	json_object_set_new(process, "args", args);
	json_object_set_new(process, "env", process_env(c, opts->terminal));
	json_object_set_new(process, "cwd", json_string(c->working_dir && c->working_dir[0] ? c->working_dir : "/"));
	json_object_set_new(process, "user", json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid));
	json_object_set_new(json_object_get(cfg, "root"), "readonly", json_false());
	json_object_set_new(cfg, "annotations",
			    json_pack("{s:s, s:s}", "org.opencontainers.image.digest", image->manifest_digest,
				      "berth.image.id", image->id));
	if (image->names[0])
		json_object_set_new(json_object_get(cfg, "annotations"), "org.opencontainers.image.ref.name",
				    json_string(image->names[0]));
	*out = cfg;
	return 0;
}

int bundle_create(store *s, const image_info *image, const char *dir, const bundle_options *opts, berth_error **err)
{
	_cleanup_free_ char *rootfs = NULL, *text = NULL;
	_cleanup_close_ int dirfd = -EBADF, rootfd = -EBADF;
	rootfs_options ro = { .userxattr = opts->rootless, .rootless = opts->rootless };
	json_t *cfg = NULL;
	bool fresh_dir;

	fresh_dir = mkdir(dir, 0700) == 0;
	if (!fresh_dir && errno != EEXIST)
		return berth_error_set(err, errno, "bundle \"%s\"", dir);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_error_set(err, errno, "bundle \"%s\"", dir);
	if (faccessat(dirfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return berth_error_set(err, EEXIST, "bundle \"%s\": config.json already exists", dir);
	if (storage_rootfs_mount(s, image, dir, &ro, &rootfs, err) < 0)
		goto fail;
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		berth_error_set(err, errno, "open \"%s\"", rootfs);
		goto fail;
	}
	if (bundle_config_from_image(image, rootfd, opts, &cfg, err) < 0)
		goto fail;
	text = json_dumps(cfg, JSON_INDENT(4));
	json_decref(cfg);
	if (text == NULL) {
		berth_error_set(err, ENOMEM, "config.json");
		goto fail;
	}
	if (fs_write_file_atomic(dirfd, "config.json", text, strlen(text), 0644, err) < 0)
		goto fail;
	return 0;
fail : {
	berth_error *cleanup_err = NULL;
	if (storage_rootfs_unmount(dir, true, &cleanup_err) < 0)
		berth_error_free(&cleanup_err);
	if (fresh_dir)
		rmdir(dir);
}
	return berth_error_wrap(err, "bundle \"%s\"", dir);
}

int bundle_remove(const char *dir, berth_error **err)
{
	_cleanup_free_ char *cfg = fs_path_join(dir, "config.json");

	if (cfg == NULL)
		return berth_error_set(err, ENOMEM, "bundle");
	if (storage_rootfs_unmount(dir, true, err) < 0)
		return berth_error_wrap(err, "bundle \"%s\"", dir);
	if (unlink(cfg) < 0 && errno != ENOENT)
		return berth_error_set(err, errno, "bundle \"%s\": remove config.json", dir);
	if (rmdir(dir) < 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		return berth_error_set(err, errno, "bundle \"%s\"", dir);
	return 0;
}
