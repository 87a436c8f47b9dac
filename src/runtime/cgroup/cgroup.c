/* The cgroup manager: mode detection, creation in every hierarchy,
 * dispatch to the v1/v2 backends, and the state.json form. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char *cgroup_mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_MODE_V1:
		return "v1";
	case CGROUP_MODE_HYBRID:
		return "hybrid";
	case CGROUP_MODE_V2:
		return "v2";
	}
	return "unknown";
}

static int mode_from_name(const char *name, enum cgroup_mode *mode)
{
	for (int i = CGROUP_MODE_V1; i <= CGROUP_MODE_V2; i++)
		if (strcmp(name, cgroup_mode_name((enum cgroup_mode)i)) == 0) {
			*mode = (enum cgroup_mode)i;
			return 0;
		}
	return -EINVAL;
}

int cgroup_detect_mode(const char *fs_root, enum cgroup_mode *mode, berth_error **err)
{
	_cleanup_free_ char *unified = cgroup_join(fs_root, "unified");
	struct statfs st;

	if (unified == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: detect mode");
	if (statfs(fs_root, &st) < 0)
		return berth_error_set(err, errno, "cgroup: statfs \"%s\"", fs_root);
	if (st.f_type == CGROUP2_SUPER_MAGIC) {
		*mode = CGROUP_MODE_V2;
		return 0;
	}
	if (st.f_type != TMPFS_MAGIC)
		return berth_error_set(err, EINVAL, "cgroup: \"%s\" is neither cgroup2 nor a tmpfs of v1 hierarchies",
				       fs_root);
	*mode = (statfs(unified, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) ? CGROUP_MODE_HYBRID : CGROUP_MODE_V1;
	return 0;
}

static void hierarchy_clear(cgroup_hierarchy *h)
{
	free(h->controllers);
	free(h->mount);
	free(h->dir);
	free(h->inner);
}

void cgroup_manager_free(cgroup_manager *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		hierarchy_clear(&m->h[i]);
	free(m->h);
	free(m->path);
	if (m->v2_fd >= 0)
		close(m->v2_fd);
	free(m);
}

cgroup_hierarchy *cgroup_find_v1(cgroup_manager *m, const char *controller)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->h[i].unified && cgroup_controllers_overlap(m->h[i].controllers, controller))
			return &m->h[i];
	return NULL;
}

cgroup_hierarchy *cgroup_find_unified(cgroup_manager *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->h[i].unified)
			return &m->h[i];
	return NULL;
}

/* The hierarchy that lists the processes (pids, memory, freezer, any). */
static cgroup_hierarchy *main_hierarchy(cgroup_manager *m)
{
	static const char *const order[] = { "pids", "memory", "freezer" };
	cgroup_hierarchy *h;

	if (m->mode == CGROUP_MODE_V2)
		return cgroup_find_unified(m);
	for (size_t i = 0; i < 3; i++)
		if ((h = cgroup_find_v1(m, order[i])) != NULL && !h->disabled)
			return h;
	for (size_t i = 0; i < m->n; i++)
		if (!m->h[i].unified && !m->h[i].disabled)
			return &m->h[i];
	return NULL;
}

/* The runtime's own cgroup in the hierarchy of MOUNT, relative to the
 * cgroup mounted there. */
static const char *own_cgroup(const cgroup_mount *mount, const cgroup_self_entry *self, size_t n_self)
{
	const char *path = NULL;
	size_t root_len = strlen(mount->root);

	for (size_t i = 0; i < n_self && path == NULL; i++) {
		if (mount->unified ? self[i].controllers[0] == '\0'
				   : cgroup_controllers_overlap(self[i].controllers, mount->controllers))
			path = self[i].path;
	}
	if (path == NULL) {
		berth_debug("cgroup: no own cgroup listed for \"%s\", using its root", mount->mount);
		return "/";
	}
	/* A bind-mounted subtree (mount root "/docker/x") shows below its root. */
	if (root_len > 1 && strncmp(path, mount->root, root_len) == 0 && (path[root_len] == '/' || !path[root_len]))
		return path[root_len] ? path + root_len : "/";
	return path;
}

static unsigned count_components(const char *p)
{
	unsigned n = 0;
	for (const char *c = p; *c; c++)
		if (*c != '/' && (c == p || c[-1] == '/'))
			n++;
	return n;
}

static int plan_hierarchies(cgroup_manager *m, const cgroup_options *opts, const char *request, bool absolute,
			    unsigned **first_levels, berth_error **err)
{
	cgroup_self_entry *self = NULL;
	cgroup_mount *mounts = NULL;
	size_t n_self = 0, n_mounts = 0;
	int ret = -1;

	if (!absolute) {
		_cleanup_free_ char *text = NULL;
		const char *file = opts->self_cgroup;
		if (fs_read_file(file, &text, NULL, err) < 0)
			return berth_error_wrap(err, "cgroup: read own cgroup");
		if (cgroup_self_parse(text, &self, &n_self, err) < 0)
			return berth_error_wrap(err, "%s", file);
	}
	if (opts->mounts != NULL) {
		n_mounts = opts->n_mounts;
	} else if (cgroup_discover_mounts(opts, m->mode, &mounts, &n_mounts, err) < 0) {
		goto out;
	}
	const cgroup_mount *found = opts->mounts != NULL ? opts->mounts : mounts;
	m->h = calloc(n_mounts, sizeof(*m->h));
	*first_levels = calloc(n_mounts, sizeof(unsigned));
	if (m->h == NULL || *first_levels == NULL) {
		berth_error_set(err, ENOMEM, "cgroup: create");
		goto out;
	}
	for (size_t i = 0; i < n_mounts; i++) {
		cgroup_hierarchy *h = &m->h[m->n++];
		const char *own = absolute ? "/" : own_cgroup(&found[i], self, n_self);

		h->controllers = strdup(found[i].controllers);
		h->mount = strdup(found[i].mount);
		h->unified = found[i].unified;
		if (asprintf(&h->inner, "%s%s%s", own, own[strlen(own) - 1] == '/' ? "" : "/", request) < 0)
			h->inner = NULL;
		h->dir = h->inner ? cgroup_join(h->mount, h->inner) : NULL;
		if (h->controllers == NULL || h->mount == NULL || h->dir == NULL) {
			berth_error_set(err, ENOMEM, "cgroup: create");
			goto out;
		}
		(*first_levels)[i] = count_components(own);
	}
	ret = 0;
out:
	cgroup_self_free(self, n_self);
	cgroup_mounts_free(mounts, n_mounts);
	return ret;
}

static bool has_controller(const cgroup_hierarchy *h, const char *name)
{
	return !h->unified && cgroup_controllers_overlap(h->controllers, name);
}

static void undo_create(cgroup_manager *m)
{
	uint64_t deadline = cgroup_deadline_after_ms(1000);

	for (size_t i = m->n; i-- > 0;) {
		berth_error *ignored = NULL;
		if (cgroup_remove_dirs(&m->h[i], deadline, &ignored) < 0) {
			berth_log(BERTH_LOG_WARNING, "%s", cgroup_error_text(ignored));
			berth_error_free(&ignored);
		}
	}
}

static int create_dirs(cgroup_manager *m, const unsigned *first_levels, berth_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		cgroup_hierarchy *h = &m->h[i];
		berth_error *inner = NULL;
		bool best_effort = m->rootless || (h->unified && m->mode == CGROUP_MODE_HYBRID);

		if (cgroup_make_dirs(h, has_controller(h, "cpuset"), &inner) < 0) {
			if (!best_effort) {
				undo_create(m);
				return cgroup_error_move(err, &inner);
			}
			/* Rootless without delegation, or a read-only unified mount:
			 * run without this hierarchy, as runc does. */
			berth_debug("%s; continuing without it", cgroup_error_text(inner));
			berth_error_free(&inner);
			h->disabled = true;
			continue;
		}
		if (m->mode == CGROUP_MODE_V2 && cgroup_v2_enable_controllers(h, first_levels[i], &inner) < 0) {
			/* Not fatal: a knob of a missing controller fails in apply,
			 * with an error that names it. EBUSY is the "no internal
			 * processes" rule: the runtime itself sits in that cgroup. */
			berth_log(BERTH_LOG_WARNING, "%s%s", cgroup_error_text(inner),
				  inner && inner->code == EBUSY ? " (processes in a parent cgroup keep its controllers "
								  "from being enabled for children)"
								: "");
			berth_error_free(&inner);
		}
	}
	return 0;
}

static int open_v2_fd(cgroup_manager *m)
{
	cgroup_hierarchy *h = cgroup_find_unified(m);

	if (m->mode == CGROUP_MODE_V1 || h == NULL || h->disabled)
		return -1;
	return open(h->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int cgroup_manager_create(const cgroup_options *options, cgroup_manager **out, berth_error **err)
{
	_cleanup_cgroup_manager_ cgroup_manager *m = NULL;
	_cleanup_free_ char *request = NULL;
	_cleanup_free_ char *fs_root = NULL;
	_cleanup_free_ unsigned *first_levels = NULL;
	cgroup_options defaults = *options;
	const cgroup_options *opts = &defaults;
	cgroup_hierarchy *main;
	bool absolute = false;
	size_t len;

	/* Defaults for the fields a caller may leave NULL; "/x/" is "/x". */
	fs_root = strdup(options->fs_root ? options->fs_root : "/sys/fs/cgroup");
	if (fs_root == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: create");
	for (len = strlen(fs_root); len > 1 && fs_root[len - 1] == '/'; len--)
		fs_root[len - 1] = '\0';
	if (fs_root[0] != '/' || len <= 1)
		return berth_error_set(err, EINVAL,
				       "cgroup: \"%s\": the cgroup file-system root must be an absolute path", fs_root);
	defaults.fs_root = fs_root;
	if (defaults.self_cgroup == NULL)
		defaults.self_cgroup = "/proc/self/cgroup";
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: create");
	m->v2_fd = -1;
	m->rootless = opts->rootless;
	if (opts->force_mode)
		m->mode = opts->forced_mode;
	else if (opts->mode_detected)
		m->mode = opts->detected_mode;
	else if (cgroup_detect_mode(opts->fs_root, &m->mode, err) < 0)
		return -1;
	if (cgroup_compute_request(opts, &request, &absolute, err) < 0)
		return -1;
	if (plan_hierarchies(m, opts, request, absolute, &first_levels, err) < 0)
		return -1;
	main = main_hierarchy(m);
	m->path = strdup(main ? main->inner : m->h[0].inner);
	if (m->path == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: create");
	if (create_dirs(m, first_levels, err) < 0)
		return -1;
	if (m->mode != CGROUP_MODE_V1) {
		cgroup_hierarchy *h = cgroup_find_unified(m);
		m->v2_fd = open_v2_fd(m);
		if (m->v2_fd < 0 && h && !h->disabled) {
			int ret = berth_error_set(err, errno, "cgroup: open \"%s\"", h->dir);
			undo_create(m);
			return ret;
		}
	}
	*out = move_ptr(m);
	return 0;
}

int cgroup_read_mounts(const cgroup_options *opts, enum cgroup_mode mode, cgroup_mount **out, size_t *n,
		       berth_error **err)
{
	cgroup_options defaults = *opts;

	if (defaults.fs_root == NULL)
		defaults.fs_root = "/sys/fs/cgroup";
	return cgroup_discover_mounts(&defaults, mode, out, n, err);
}

int cgroup_manager_v2_fd(cgroup_manager *m)
{
	return m->v2_fd;
}

const char *cgroup_manager_path(cgroup_manager *m)
{
	return m->path;
}

enum cgroup_mode cgroup_manager_mode(cgroup_manager *m)
{
	return m->mode;
}

int cgroup_manager_enter(cgroup_manager *m, pid_t pid, berth_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		cgroup_hierarchy *h = &m->h[i];
		berth_error *inner = NULL;

		if (h->disabled)
			continue;
		if (cgroup_writef(h->dir, "cgroup.procs", &inner, "%d", (int)pid) == 0)
			continue;
		if (m->rootless || (h->unified && m->mode == CGROUP_MODE_HYBRID)) {
			berth_log(BERTH_LOG_WARNING, "%s", cgroup_error_text(inner));
			berth_error_free(&inner);
			continue;
		}
		cgroup_error_move(err, &inner);
		return berth_error_wrap(err, "cgroup: move pid %d", (int)pid);
	}
	return 0;
}

int cgroup_manager_enter_unified(cgroup_manager *m, pid_t pid, berth_error **err)
{
	cgroup_hierarchy *h = cgroup_find_unified(m);
	berth_error *inner = NULL;

	if (h == NULL || h->disabled || cgroup_writef(h->dir, "cgroup.procs", &inner, "%d", (int)pid) == 0)
		return 0;
	if (m->rootless || m->mode == CGROUP_MODE_HYBRID) {
		berth_log(BERTH_LOG_WARNING, "%s", cgroup_error_text(inner));
		berth_error_free(&inner);
		return 0;
	}
	cgroup_error_move(err, &inner);
	return berth_error_wrap(err, "cgroup: move pid %d", (int)pid);
}

int cgroup_manager_open_join(cgroup_manager *m, cgroup_self_join *j, berth_error **err)
{
	j->n = 0;
	for (size_t i = 0; i < m->n; i++) {
		cgroup_hierarchy *h = &m->h[i];
		_cleanup_free_ char *path = NULL;
		int fd;

		if (h->disabled || h->unified)
			continue;
		if (j->n == CGROUP_JOIN_MAX) {
			cgroup_join_close(j);
			return berth_error_set(err, E2BIG, "cgroup: more than %d hierarchies", CGROUP_JOIN_MAX);
		}
		path = cgroup_join(h->dir, "tasks");
		if (path == NULL) {
			cgroup_join_close(j);
			return berth_error_set(err, ENOMEM, "cgroup: join \"%s\"", h->dir);
		}
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && m->rootless) {
			berth_log(BERTH_LOG_WARNING, "cgroup: join \"%s\": %s", path, strerror(errno));
			continue;
		}
		if (fd < 0) {
			int ret = berth_error_set(err, errno, "cgroup: join \"%s\"", path);
			cgroup_join_close(j);
			return ret;
		}
		j->fds[j->n] = fd;
		j->paths[j->n++] = move_ptr(path);
	}
	return 0;
}

int cgroup_join_self(const cgroup_self_join *j, berth_error **err)
{
	for (size_t i = 0; i < j->n; i++)
		if (write(j->fds[i], "0", 1) != 1)
			return berth_error_set(err, errno, "cgroup: join \"%s\"", j->paths[i]);
	return 0;
}

void cgroup_join_close(cgroup_self_join *j)
{
	for (size_t i = 0; i < j->n; i++) {
		close(j->fds[i]);
		free(j->paths[i]);
	}
	j->n = 0;
}

int cgroup_manager_apply(cgroup_manager *m, const spec_resources *r, berth_error **err)
{
	if (r == NULL)
		return 0;
	if (m->mode == CGROUP_MODE_V2)
		return cgroup_v2_apply(m, r, err);
	return cgroup_v1_apply(m, r, err);
}

int cgroup_manager_freeze(cgroup_manager *m, bool frozen, berth_error **err)
{
	if (m->mode == CGROUP_MODE_V2)
		return cgroup_v2_freeze(m, frozen, err);
	return cgroup_v1_freeze(m, frozen, err);
}

int cgroup_manager_is_frozen(cgroup_manager *m, bool *frozen, berth_error **err)
{
	*frozen = false;
	if (m->mode == CGROUP_MODE_V2)
		return cgroup_v2_is_frozen(m, frozen, err);
	return cgroup_v1_is_frozen(m, frozen, err);
}

int cgroup_manager_pids(cgroup_manager *m, pid_t **pids, size_t *n, berth_error **err)
{
	cgroup_hierarchy *h = main_hierarchy(m);

	*pids = NULL;
	*n = 0;
	if (h == NULL || h->disabled)
		return 0;
	/* A cgroup already removed holds no process. */
	if (access(h->dir, F_OK) < 0 && errno == ENOENT)
		return 0;
	return cgroup_read_pids(h->dir, pids, n, err);
}

bool cgroup_manager_made_cgroup(cgroup_manager *m)
{
	cgroup_hierarchy *h = main_hierarchy(m);

	return h != NULL && !h->disabled && h->created_levels > 0;
}

int cgroup_manager_kill_all(cgroup_manager *m, int signo, berth_error **err)
{
	cgroup_hierarchy *u = cgroup_find_unified(m);
	_cleanup_free_ pid_t *pids = NULL;
	berth_error *inner = NULL;
	bool frozen = false;
	size_t n = 0;
	int ret = 0;

	if (m->mode == CGROUP_MODE_V2 && signo == SIGKILL && u && !u->disabled &&
	    cgroup_file_exists(u->dir, "cgroup.kill"))
		return cgroup_write(u->dir, "cgroup.kill", "1", err);
	/* Freeze first so nothing forks between listing and signalling; the
	 * signal is delivered once thawed. */
	if (cgroup_manager_freeze(m, true, &inner) == 0) {
		frozen = true;
	} else {
		berth_debug("cgroup: kill without freezing: %s", cgroup_error_text(inner));
		berth_error_free(&inner);
	}
	if (cgroup_manager_pids(m, &pids, &n, err) < 0)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (pids[i] == getpid())
			continue;
		if (kill(pids[i], signo) < 0 && errno != ESRCH)
			ret = berth_error_set(err, errno, "cgroup: send signal %d to pid %d", signo, (int)pids[i]);
	}
	if (frozen && cgroup_manager_freeze(m, false, &inner) < 0) {
		if (ret == 0)
			return cgroup_error_move(err, &inner);
		berth_log(BERTH_LOG_WARNING, "%s", cgroup_error_text(inner));
		berth_error_free(&inner);
	}
	return ret;
}

int cgroup_manager_stats(cgroup_manager *m, json_t **out, berth_error **err)
{
	json_t *j = json_object();
	int ret;

	if (j == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: stats");
	ret = m->mode == CGROUP_MODE_V2 ? cgroup_v2_stats(m, j, err) : cgroup_v1_stats(m, j, err);
	if (ret < 0) {
		json_decref(j);
		return ret;
	}
	*out = j;
	return 0;
}

int cgroup_manager_destroy(cgroup_manager *m, berth_error **err)
{
	uint64_t deadline = cgroup_deadline_after_ms(1000);
	int ret = 0;

	if (m->v2_fd >= 0) {
		close(m->v2_fd);
		m->v2_fd = -1;
	}
	/* Every hierarchy is tried; the first failure is reported. */
	for (size_t i = m->n; i-- > 0;) {
		berth_error *inner = NULL;
		if (m->h[i].disabled)
			continue;
		if (cgroup_remove_dirs(&m->h[i], deadline, &inner) == 0)
			continue;
		if (ret == 0) {
			ret = inner && inner->code ? -inner->code : -1;
			cgroup_error_move(err, &inner);
		} else {
			berth_log(BERTH_LOG_WARNING, "%s", cgroup_error_text(inner));
			berth_error_free(&inner);
		}
	}
	return ret;
}

json_t *cgroup_manager_to_json(cgroup_manager *m)
{
	json_t *hs = json_array();
	json_t *j;

	for (size_t i = 0; hs && i < m->n; i++) {
		const cgroup_hierarchy *h = &m->h[i];
		json_array_append_new(hs, json_pack("{s:s, s:s, s:s, s:b, s:b, s:i, s:b}", "controllers",
						    h->controllers, "mount", h->mount, "dir", h->dir, "unified",
						    h->unified, "created", h->created_levels > 0, "created_levels",
						    (int)h->created_levels, "disabled", h->disabled));
	}
	j = json_pack("{s:s, s:s, s:b, s:o}", "mode", cgroup_mode_name(m->mode), "path", m->path, "rootless",
		      m->rootless, "hierarchies", hs);
	return j;
}

static bool has_dot_dot(const char *path)
{
	for (const char *p = strstr(path, ".."); p != NULL; p = strstr(p + 1, ".."))
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

static int hierarchy_from_json(json_t *item, size_t index, cgroup_hierarchy *h, berth_error **err)
{
	const char *controllers, *mount, *dir;
	int unified = 0, created = 0, disabled = 0, levels = 0;
	json_error_t jerr;
	size_t mlen;

	if (json_unpack_ex(item, &jerr, 0, "{s:s, s:s, s:s, s:b, s:b, s?i, s?b}", "controllers", &controllers, "mount",
			   &mount, "dir", &dir, "unified", &unified, "created", &created, "created_levels", &levels,
			   "disabled", &disabled) < 0)
		return berth_error_set(err, EINVAL, "cgroup: state hierarchies[%zu]: %s", index, jerr.text);
	mlen = strlen(mount);
	if (mount[0] != '/' || strncmp(dir, mount, mlen) != 0 || dir[mlen] != '/' || dir[mlen + 1] == '\0' ||
	    levels < 0 || has_dot_dot(dir) || (unsigned)levels > count_components(dir + mlen))
		return berth_error_set(err, EINVAL, "cgroup: state hierarchies[%zu]: inconsistent paths", index);
	h->controllers = strdup(controllers);
	h->mount = strdup(mount);
	h->dir = strdup(dir);
	h->inner = strdup(dir + mlen);
	h->unified = unified;
	h->disabled = disabled;
	h->created_levels = created ? (levels > 0 ? (unsigned)levels : 1) : 0;
	if (h->controllers == NULL || h->mount == NULL || h->dir == NULL || h->inner == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: state");
	return 0;
}

int cgroup_manager_from_json(json_t *j, cgroup_manager **out, berth_error **err)
{
	_cleanup_cgroup_manager_ cgroup_manager *m = NULL;
	const char *mode, *path;
	json_t *hs = NULL, *item;
	int rootless = 0;
	json_error_t jerr;
	size_t i;

	if (json_unpack_ex(j, &jerr, 0, "{s:s, s:s, s?b, s:o}", "mode", &mode, "path", &path, "rootless", &rootless,
			   "hierarchies", &hs) < 0)
		return berth_error_set(err, EINVAL, "cgroup: state: %s", jerr.text);
	if (!json_is_array(hs) || json_array_size(hs) == 0)
		return berth_error_set(err, EINVAL, "cgroup: state: \"hierarchies\" must be a non-empty array");
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: state");
	m->v2_fd = -1;
	m->rootless = rootless;
	if (mode_from_name(mode, &m->mode) < 0)
		return berth_error_set(err, EINVAL, "cgroup: state: unknown mode \"%s\"", mode);
	m->path = strdup(path);
	m->h = calloc(json_array_size(hs), sizeof(*m->h));
	if (m->path == NULL || m->h == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: state");
	json_array_foreach(hs, i, item) {
		m->n = i + 1;
		if (hierarchy_from_json(item, i, &m->h[i], err) < 0)
			return -1;
	}
	/* The cgroup may be gone already (delete after a crash): no fd then. */
	m->v2_fd = open_v2_fd(m);
	*out = move_ptr(m);
	return 0;
}
