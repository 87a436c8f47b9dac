/* `exec --cgroup`: a process joins a sub-cgroup of the container's cgroup,
 * named as runc names it: "PATH" for every hierarchy, or
 * "CONTROLLER[,CONTROLLER...]:PATH" for the v1 hierarchies of those
 * controllers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"

/* A relative path without "", "." or ".." components: it stays below the
 * container's cgroup. */
static bool sub_path_valid(const char *path)
{
	const char *p = path;

	if (*p == '\0' || *p == '/')
		return false;
	while (*p != '\0') {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	return true;
}

/* The sub-cgroup chosen for hierarchy H by SUBS, or NULL to stay. */
static const char *sub_for(const cgroup_hierarchy *h, const char *const *subs)
{
	for (size_t i = 0; subs[i] != NULL; i++) {
		const char *colon = strchr(subs[i], ':');
		_cleanup_free_ char *controllers = NULL;

		if (colon == NULL)
			return subs[i];
		controllers = strndup(subs[i], (size_t)(colon - subs[i]));
		if (controllers != NULL && !h->unified && cgroup_controllers_overlap(h->controllers, controllers))
			return colon + 1;
	}
	return NULL;
}

int cgroup_check_sub_cgroups(const char *const *subs, enum cgroup_mode mode, berth_error **err)
{
	size_t n = 0;

	while (subs[n] != NULL)
		n++;
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(subs[i], ':');
		const char *path = colon ? colon + 1 : subs[i];

		if (colon == NULL && n > 1)
			return berth_error_set(err, EINVAL,
					       "--cgroup \"%s\": with several --cgroup each names its controllers "
					       "(CONTROLLER:PATH)",
					       subs[i]);
		if (colon != NULL && mode == CGROUP_MODE_V2)
			return berth_error_set(err, EINVAL,
					       "--cgroup \"%s\": cgroup v2 has one hierarchy: give the sub-cgroup "
					       "without controllers",
					       subs[i]);
		if (colon == subs[i] ||
		    (colon != NULL && (colon[-1] == ',' || subs[i][0] == ',' || strstr(subs[i], ",,") != NULL)))
			return berth_error_set(err, EINVAL, "--cgroup \"%s\": an empty controller name", subs[i]);
		if (!sub_path_valid(path))
			return berth_error_set(err, EINVAL,
					       "--cgroup \"%s\": the sub-cgroup must be a relative path below the "
					       "container's cgroup, without \".\" or \"..\"",
					       subs[i]);
		for (size_t j = 0; colon != NULL && j < i; j++) {
			const char *other = strchr(subs[j], ':');
			_cleanup_free_ char *a = strndup(subs[i], (size_t)(colon - subs[i]));
			_cleanup_free_ char *b = other ? strndup(subs[j], (size_t)(other - subs[j])) : NULL;
			if (a != NULL && b != NULL && cgroup_controllers_overlap(a, b))
				return berth_error_set(err, EINVAL, "--cgroup \"%s\": a controller is named twice",
						       subs[i]);
		}
	}
	return 0;
}

static void free_dirs(char **dirs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

int cgroup_manager_select_sub(cgroup_manager *m, const char *const *subs, berth_error **err)
{
	char **dirs = NULL;

	if (cgroup_check_sub_cgroups(subs, m->mode, err) < 0)
		return -1;
	/* every controller named must be one of the container's hierarchies */
	for (size_t i = 0; subs[i] != NULL; i++) {
		const char *colon = strchr(subs[i], ':');
		_cleanup_free_ char *controllers = colon ? strndup(subs[i], (size_t)(colon - subs[i])) : NULL;
		for (char *save = NULL, *c = controllers ? strtok_r(controllers, ",", &save) : NULL; c != NULL;
		     c = strtok_r(NULL, ",", &save)) {
			bool found = false;
			for (size_t k = 0; k < m->n && !found; k++)
				found = !m->h[k].unified && !m->h[k].disabled &&
					cgroup_controllers_overlap(m->h[k].controllers, c);
			if (!found)
				return berth_error_set(err, ENOENT, "--cgroup \"%s\": the container has no %s cgroup",
						       subs[i], c);
		}
	}
	/* plan every directory first: nothing changes when one is missing */
	dirs = calloc(m->n + 1, sizeof(char *));
	if (dirs == NULL)
		return berth_error_set(err, ENOMEM, "--cgroup");
	for (size_t k = 0; k < m->n; k++) {
		cgroup_hierarchy *h = &m->h[k];
		const char *sub = h->disabled ? NULL : sub_for(h, subs);
		struct stat st;
		int e;

		if (sub == NULL)
			continue;
		dirs[k] = cgroup_join(h->dir, sub);
		if (dirs[k] == NULL) {
			free_dirs(dirs, m->n);
			return berth_error_set(err, ENOMEM, "--cgroup");
		}
		e = stat(dirs[k], &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
		if (e == 0)
			continue;
		/* hybrid's unified hierarchy has no controllers: a sub-cgroup
		 * made only in the v1 ones is fine */
		if (h->unified && m->mode == CGROUP_MODE_HYBRID) {
			free(dirs[k]);
			dirs[k] = NULL;
			continue;
		}
		berth_error_set(err, e, "--cgroup: sub-cgroup \"%s\"", dirs[k]);
		free_dirs(dirs, m->n);
		return -1;
	}
	for (size_t k = 0; k < m->n; k++)
		if (dirs[k] != NULL) {
			free(m->h[k].dir);
			m->h[k].dir = move_ptr(dirs[k]);
		}
	free_dirs(dirs, m->n);
	return 0;
}
