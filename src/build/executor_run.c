/* RUN: the command as a container on an overlay of the stage's layers; the
 * upper dir becomes the layer. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/executor_internal.h"
#include "build/strv.h"
#include "engine/network.h"
#include "engine/run_config.h"
#include "engine/runtime_call.h"
#include "storage/bundle.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* "none", "host", or "default": the engine's default network (a bridge
 * with NAT, as docker's RUN gets docker0 and buildah's a CNI bridge), the
 * host's when the build has no engine paths. */
static const char *run_network(const build_ctx *c, const build_step *st)
{
	const char *n = st->network ? st->network : c->o->network;

	if (n && strcmp(n, "none") == 0)
		return "none";
	if ((n && strcmp(n, "host") == 0) || c->o->engine == NULL)
		return "host";
	return "default";
}

/* A RUN's network: the engine sees a container of its own (ID, its files
 * in the step's DIR) for the length of the command. Setup and teardown of
 * parallel stages are serialized: the network code keeps host-wide records
 * and is not written for threads. */
static pthread_mutex_t network_lock = PTHREAD_MUTEX_INITIALIZER;

#define RUN_HOSTNAME "buildkitsandbox"

typedef struct run_net {
	container ctr;
	char hex[DIGEST_STRING_MAX]; /* the network's id of the step: 64 hex like a container's */
	bool attached;
} run_net;

static int run_network_attach(build_ctx *c, const char *dir, const char *id, json_t *cfg, run_net *rn,
			      berth_error **err)
{
	network_request r = { .hostname = RUN_HOSTNAME };
	int ret;

	digest_buffer(id, strlen(id), rn->hex);
	rn->ctr = (container){
		.id = (char *)digest_hex(rn->hex), .name = (char *)id, .dir = (char *)dir, .config = json_object()
	};
	if (rn->ctr.config == NULL)
		return berth_error_set(err, ENOMEM, "RUN");
	pthread_mutex_lock(&network_lock);
	ret = engine_network_setup(c->o->engine, &rn->ctr, &r, cfg, err);
	pthread_mutex_unlock(&network_lock);
	rn->attached = ret == 0;
	return ret < 0 ? berth_error_wrap(err, "network of RUN") : 0;
}

static void run_network_detach(build_ctx *c, run_net *rn)
{
	if (rn->attached) {
		pthread_mutex_lock(&network_lock);
		engine_network_teardown(c->o->engine, &rn->ctr);
		pthread_mutex_unlock(&network_lock);
	}
	json_decref(rn->ctr.config);
	memset(rn, 0, sizeof(*rn));
}

/* The mount destinations of CFG missing from ROOTFD: the runtime creates
 * them, and they are taken out of the layer again after the run (BuildKit
 * does the same), deepest first. Entries are "PATH"; for an existing parent
 * of one, "=MODE:UID:GID:PATH" records how it looked, so that its copy-up
 * (with nothing else changed in it) can go too. */
static bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static char **missing_mountpoints(json_t *cfg, int rootfd)
{
	char **missing = calloc(1, sizeof(char *));
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(cfg, "mounts"), i, m) {
		const char *dest = json_string_value(json_object_get(m, "destination"));
		_cleanup_free_ char *parent = NULL;
		berth_error *ignored = NULL;
		struct stat st;
		int fd;
		if (missing == NULL || dest == NULL || dest[0] != '/' || strcmp(dest, "/") == 0)
			continue;
		fd = fs_open_in_root(rootfd, dest, O_PATH | O_CLOEXEC, 0, false, &ignored);
		berth_error_free(&ignored);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (fd != -ENOENT || build_strv_add(&missing, dest, (size_t)-1) < 0)
			continue;
		/* missing parents are made by the runtime too (/mnt of /mnt/src) */
		parent = strndup(dest, (size_t)(strrchr(dest, '/') - dest));
		while (parent && parent[0]) {
			fd = fs_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, false, &ignored);
			berth_error_free(&ignored);
			if (fd != -ENOENT)
				break;
			if (!strv_contains(missing, parent) && build_strv_add(&missing, parent, (size_t)-1) < 0)
				break;
			*strrchr(parent, '/') = '\0';
		}
		if (parent == NULL || parent[0] == '\0')
			continue;
		if (fd >= 0 && fstat(fd, &st) == 0) {
			char *entry = NULL;
			if (asprintf(&entry, "=%o:%u:%u:%s", (unsigned)st.st_mode, (unsigned)st.st_uid,
				     (unsigned)st.st_gid, parent) >= 0)
				build_strv_take(&missing, entry);
		}
		if (fd >= 0)
			close(fd);
	}
	/* deepest first; the parents' records after every mount point */
	for (size_t a = 0; missing && missing[a]; a++)
		for (size_t b = a + 1; missing[b]; b++) {
			bool pa = missing[a][0] == '=', pb = missing[b][0] == '=';
			if ((pa && !pb) || (pa == pb && strlen(missing[b]) > strlen(missing[a]))) {
				char *t = missing[a];
				missing[a] = missing[b];
				missing[b] = t;
			}
		}
	return missing;
}

/* Removes the empty mount points the runtime made from the upper dir, and
 * a parent's copy-up when it is empty and its owner and mode unchanged. */
static void remove_mountpoints(const char *dir, char *const *missing)
{
	_cleanup_free_ char *upper = fs_path_join(dir, "upper");
	_cleanup_close_ int ufd = upper ? open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC) : -EBADF;

	for (size_t i = 0; ufd >= 0 && missing && missing[i]; i++) {
		unsigned mode = 0, uid = 0, gid = 0;
		int off = 0;
		bool is_parent = missing[i][0] == '=';
		if (is_parent && sscanf(missing[i], "=%o:%u:%u:%n", &mode, &uid, &gid, &off) < 3)
			continue;
		_cleanup_free_ char *parent = strdup(missing[i] + off);
		char *slash = parent ? strrchr(parent, '/') : NULL;
		berth_error *ignored = NULL;
		struct stat st;
		if (slash == NULL)
			continue;
		*slash = '\0';
		_cleanup_close_ int pfd = fs_open_in_root(ufd, parent[0] ? parent : "/",
							  O_PATH | O_DIRECTORY | O_CLOEXEC, 0, false, &ignored);
		berth_error_free(&ignored);
		if (pfd < 0 || fstatat(pfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (is_parent) {
			if (S_ISDIR(st.st_mode) && st.st_mode == mode && st.st_uid == uid && st.st_gid == gid)
				unlinkat(pfd, slash + 1, AT_REMOVEDIR); /* only when empty */
		} else if (S_ISDIR(st.st_mode)) {
			unlinkat(pfd, slash + 1, AT_REMOVEDIR); /* only when empty */
		} else if (S_ISREG(st.st_mode) && st.st_size == 0) {
			unlinkat(pfd, slash + 1, 0);
		}
	}
}

/* With a network, RUN sees the host's resolver and hosts files (read-only
 * binds, as buildah does); a mount point the image lacks is created by the
 * runtime and taken out of the layer again. */
static void add_dns_binds(json_t *cfg)
{
	static const char *const files[] = { "/etc/resolv.conf", "/etc/hosts", NULL };
	json_t *mounts = json_object_get(cfg, "mounts");

	for (size_t i = 0; json_is_array(mounts) && files[i]; i++) {
		struct stat st;
		if (stat(files[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "destination", files[i],
							"type", "bind", "source", files[i], "options", "rbind", "ro",
							"nosuid", "nodev"));
	}
}

/* RUN --mount: what each mount needs while the step runs. */
typedef struct run_mounts {
	copy_source *sources; /* bind: one per mount (unused for others) */
	char **host_paths;    /* bind, cache: the host path to bind, NULL-terminated per index */
	size_t n;
} run_mounts;

static void run_mounts_release(run_mounts *rm)
{
	for (size_t i = 0; i < rm->n; i++) {
		copy_source_release(&rm->sources[i]);
		free(rm->host_paths[i]);
	}
	free(rm->sources);
	free(rm->host_paths);
	memset(rm, 0, sizeof(*rm));
}

/* STORE/build-cache-mounts/<sha256 of the id>, made with the mount's mode
 * and owner the first time. */
static int cache_mount_dir(build_ctx *c, const build_mount *m, char **out, berth_error **err)
{
	_cleanup_free_ char *parent = fs_path_join(store_root(c->s), "build-cache-mounts");
	char digest[DIGEST_STRING_MAX];

	digest_buffer(m->id, strlen(m->id), digest);
	if (parent == NULL || (*out = fs_path_join(parent, digest_hex(digest))) == NULL)
		return berth_error_set(err, ENOMEM, "--mount");
	if (fs_mkdir_p(parent, 0700, err) < 0)
		return -1;
	if (mkdir(*out, m->mode) == 0) {
		if (chown(*out, m->uid, m->gid) < 0 || chmod(*out, m->mode) < 0)
			return berth_error_set(err, errno, "cache mount \"%s\"", m->id);
	} else if (errno != EEXIST) {
		return berth_error_set(err, errno, "cache mount \"%s\"", m->id);
	}
	return 0;
}

/* The secret M names as a file of its own (mode, owner) in the build's
 * secrets dir; *OUT stays NULL when the build has no such secret and the
 * mount is not required. */
static int secret_file(build_ctx *c, const build_mount *m, char **out, berth_error **err)
{
	static unsigned counter;
	const build_secret *sec = NULL;
	_cleanup_close_ int fd = -EBADF;
	char name[32];

	for (size_t i = 0; i < c->n_secrets && sec == NULL; i++)
		if (strcmp(c->secrets[i].id, m->id) == 0)
			sec = &c->secrets[i];
	if (sec == NULL) {
		if (m->required)
			return berth_error_request(err, ENOENT,
						   "--mount: secret \"%s\" is required but the build has none "
						   "(--secret id=%s,src=FILE)",
						   m->id, m->id);
		return 0;
	}
	snprintf(name, sizeof(name), "%u", __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST));
	*out = fs_path_join(c->secrets_dir, name);
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "secret");
	fd = open(*out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, sec->data, sec->len) != (ssize_t)sec->len || fchown(fd, m->uid, m->gid) < 0 ||
	    fchmod(fd, m->mode) < 0)
		return berth_error_set(err, errno, "secret \"%s\"", m->id);
	return 0;
}

/* Opens every mount's source and adds what identifies its content to D. */
static int prepare_mounts(build_ctx *c, size_t stage, const build_step *st, run_mounts *rm, digester *d,
			  berth_error **err)
{
	rm->sources = calloc(st->n_mounts + 1, sizeof(copy_source));
	rm->host_paths = calloc(st->n_mounts + 1, sizeof(char *));
	if (rm->sources == NULL || rm->host_paths == NULL)
		return berth_error_set(err, ENOMEM, "--mount");
	for (size_t i = 0; i < st->n_mounts; i++) {
		const build_mount *m = &st->mounts[i];
		char line[128];
		rm->sources[i].root_fd = -EBADF;
		rm->n = i + 1;
		snprintf(line, sizeof(line), "%d %o %u %u %llu %d", (int)m->type, (unsigned)m->mode, (unsigned)m->uid,
			 (unsigned)m->gid, (unsigned long long)m->size, (int)m->readonly);
		cache_key_add(d, "mount", line);
		cache_key_add(d, "target", m->target);
		if (m->type == BUILD_MOUNT_CACHE) {
			cache_key_add(d, "id", m->id);
			if (cache_mount_dir(c, m, &rm->host_paths[i], err) < 0)
				return -1;
		} else if (m->type == BUILD_MOUNT_SECRET) {
			/* the id, never the content, is part of the key (BuildKit's rule) */
			cache_key_add(d, "secret", m->id);
			if (secret_file(c, m, &rm->host_paths[i], err) < 0)
				return -1;
		} else if (m->type == BUILD_MOUNT_BIND) {
			_cleanup_free_ char *clean = build_clean_path(m->source);
			_cleanup_close_ int fd = -EBADF;
			char proc[32], resolved[PATH_MAX];
			ssize_t n;
			if (clean == NULL)
				return berth_error_request(err, EINVAL, "--mount: source=%s: outside the build context",
							   m->source);
			if (copy_source_open(c, stage, m->from, &rm->sources[i], err) < 0)
				return berth_error_wrap(err, "--mount");
			cache_key_add(d, "from", rm->sources[i].chain);
			if (build_hash_tree(rm->sources[i].root_fd, clean[0] ? clean : ".", rm->sources[i].ig, d, err) <
			    0)
				return berth_error_wrap(err, "--mount: source=%s", m->source);
			fd = clean[0] ? fs_open_in_root(rm->sources[i].root_fd, clean, O_PATH | O_CLOEXEC, 0, true, err)
				      : openat(rm->sources[i].root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				return berth_error_wrap(err, "--mount: source=%s", m->source);
			n = readlink(fs_proc_fd_path(fd, proc), resolved, sizeof(resolved) - 1);
			if (n < 0)
				return berth_error_set(err, errno, "--mount: source=%s", m->source);
			resolved[n] = '\0';
			rm->host_paths[i] = strdup(resolved);
			if (rm->host_paths[i] == NULL)
				return berth_error_set(err, ENOMEM, "--mount");
		}
	}
	return 0;
}

static void add_step_mounts(json_t *cfg, const build_step *st, const run_mounts *rm)
{
	json_t *mounts = json_object_get(cfg, "mounts");

	for (size_t i = 0; json_is_array(mounts) && i < st->n_mounts; i++) {
		const build_mount *m = &st->mounts[i];
		json_t *j;
		if (m->type == BUILD_MOUNT_SECRET && rm->host_paths[i] == NULL)
			continue; /* an optional secret the build was not given */
		if (m->type == BUILD_MOUNT_TMPFS) {
			j = json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", m->target, "type", "tmpfs",
				      "source", "tmpfs", "options", "nosuid", "nodev", "mode=755");
			if (j && m->size) {
				char size[48];
				snprintf(size, sizeof(size), "size=%llu", (unsigned long long)m->size);
				json_array_append_new(json_object_get(j, "options"), json_string(size));
			}
		} else {
			j = json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination", m->target, "type", "bind", "source",
				      rm->host_paths[i], "options", "rbind", m->readonly ? "ro" : "rw");
		}
		json_array_append_new(mounts, j);
	}
}

static int write_run_config(build_ctx *c, stage_state *si, const build_step *st, const run_mounts *rm, const char *dir,
			    const char *id, run_net *rn, char ***missing, berth_error **err)
{
	_cleanup_free_ char *rootfs = fs_path_join(dir, "rootfs"), *text = NULL;
	_cleanup_close_ int rootfd = -EBADF, dirfd = -EBADF;
	bundle_options bo = { .args = st->command, .rootless = c->o->rootless };
	const char *network = run_network(c, st);
	/* a namespace of its own first; the engine's network puts its path in */
	run_options ro = { .network = strcmp(network, "default") == 0 ? "none" : network,
			   .cgroup_parent = c->o->cgroup_parent };
	run_plan plan = { 0 };
	json_auto_t *cfg = NULL;
	image_info info;
	int ret;

	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", rootfs);
	if (stage_info(si, &info, err) < 0)
		return -1;
	free(info.config.env);
	info.config.env = st->run_env;
	ret = bundle_config_from_image(&info, rootfd, &bo, &cfg, err);
	info.config.env = NULL;
	stage_info_release(&info);
	if (ret < 0)
		return -1;
	if (run_options_validate(&ro, &plan, err) < 0)
		return -1;
	ret = run_config_apply(cfg, &ro, &plan, id, err);
	run_plan_free(&plan);
	if (ret < 0)
		return -1;
	/* BuildKit's hostname for every RUN */
	json_object_set_new(cfg, "hostname", json_string(RUN_HOSTNAME));
	if (strcmp(network, "default") == 0) {
		/* hosts, resolv.conf and hostname of the engine's network */
		if (run_network_attach(c, dir, id, cfg, rn, err) < 0)
			return -1;
	} else if (strcmp(network, "host") == 0) {
		add_dns_binds(cfg);
	}
	add_step_mounts(cfg, st, rm);
	*missing = missing_mountpoints(cfg, rootfd);
	text = json_dumps(cfg, JSON_INDENT(2));
	if (text == NULL || *missing == NULL)
		return berth_error_set(err, ENOMEM, "config.json");
	return fs_write_file_atomic(dirfd, "config.json", text, strlen(text), 0644, err);
}

static int run_container(build_ctx *c, const char *dir, const char *id, berth_error **err)
{
	const char *args[] = { "run", "--bundle", dir, id, NULL };
	const char *del[] = { "delete", "--force", id, NULL };
	int out = c->o->run_output_fd > 0 ? c->o->run_output_fd : STDERR_FILENO;
	runtime_io io = { .in = RUNTIME_NULL, .out = out, .err = out };
	berth_error *ignored = NULL;
	int rc;

	if (c->o->quiet)
		io.out = io.err = RUNTIME_CAPTURE;
	fflush(c->out);
	rc = runtime_call(c->runtime, c->o->runtime_root, args, &io, err);
	if (runtime_call(c->runtime, c->o->runtime_root, del, NULL, &ignored) < 0)
		berth_error_free(&ignored);
	if (rc > 0 && c->o->quiet) {
		if (io.out_text)
			dprintf(out, "%s", io.out_text);
		if (io.err_text)
			dprintf(out, "%s\n", io.err_text);
	}
	free(io.out_text);
	free(io.err_text);
	if (rc < 0)
		return -1;
	if (rc != 0)
		return berth_error_request(err, rc, "the command exited with code %d", rc);
	return 0;
}

static unsigned run_counter;

int build_do_run(build_ctx *c, size_t stage, const build_step *st, bool *cached, berth_error **err)
{
	stage_state *si = &c->stages[stage];
	_cleanup_free_ char *dir = NULL;
	run_mounts rm = { 0 };
	_cleanup_strv_ char **missing = NULL;
	run_net rn = { 0 };
	char chain[DIGEST_STRING_MAX], key[DIGEST_STRING_MAX], id[64];
	json_t *cfg = stage_config(si);
	digester d;
	int ret;

	stage_chain_id(si, chain);
	digester_init(&d);
	cache_key_add(&d, "RUN", chain);
	cache_key_add_strv(&d, "command", st->command);
	cache_key_add_strv(&d, "env", st->run_env);
	cache_key_add(&d, "user", json_string_value(json_object_get(cfg, "User")));
	cache_key_add(&d, "workdir", json_string_value(json_object_get(cfg, "WorkingDir")));
	cache_key_add(&d, "network", run_network(c, st));
	if (prepare_mounts(c, stage, st, &rm, &d, err) < 0) {
		run_mounts_release(&rm);
		return -1;
	}
	digester_final(&d, key);
	if (cache_lookup(c, key, si, st->created_by)) {
		run_mounts_release(&rm);
		*cached = true;
		return 0;
	}
	/* unique among parallel stages (the same step may run in two) and
	 * among concurrent builds */
	snprintf(id, sizeof(id), "berth-build-%.8s-%x-%u", digest_hex(key), (unsigned)getpid(),
		 __atomic_add_fetch(&run_counter, 1, __ATOMIC_SEQ_CST));
	if (stage_mount(c, si, &dir, err) < 0) {
		run_mounts_release(&rm);
		return -1;
	}
	ret = write_run_config(c, si, st, &rm, dir, id, &rn, &missing, err);
	if (ret == 0)
		ret = run_container(c, dir, id, err);
	run_network_detach(c, &rn);
	if (ret == 0)
		ret = storage_rootfs_unmount(dir, false, err);
	if (ret == 0) {
		remove_mountpoints(dir, missing);
		ret = stage_commit_upper(c, si, dir, key, st->created_by, err);
	}
	stage_unmount(dir);
	run_mounts_release(&rm);
	return ret;
}
