#include "engine/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/runtime_call.h"
#include "storage/rootfs.h"
#include "util/cleanup.h"
#include "util/proc.h"
#include "util/fs.h"

#define RECORD_TRASH_PREFIX ".removing-"

int engine_paths_init(engine_paths *p, const char *store_root, const char *run_root, berth_error **err)
{
	memset(p, 0, sizeof(*p));
	p->store_root = store_root;
	p->run_root = run_root;
	p->containers = fs_path_join(store_root, "containers");
	p->names = fs_path_join(p->containers ? p->containers : "", "names");
	p->runtime_root = fs_path_join(run_root, "runtime");
	if (!p->containers || !p->names || !p->runtime_root)
		return berth_error_set(err, ENOMEM, "paths");
	if (fs_mkdir_p(p->names, 0700, err) < 0)
		return berth_error_wrap(err, "containers");
	return 0;
}

void engine_paths_free(engine_paths *p)
{
	free(p->containers);
	free(p->names);
	free(p->runtime_root);
	memset(p, 0, sizeof(*p));
}

const char *engine_now_rfc3339(char *buf)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 40 - n, ".%09dZ", (int)(ts.tv_nsec % 1000000000));
	return buf;
}

bool engine_status_is_live(const char *status)
{
	return strcmp(status, "running") == 0 || strcmp(status, "restarting") == 0 || strcmp(status, "paused") == 0;
}

char *record_path(const container *c, const char *name)
{
	return fs_path_join(c->dir, name);
}

const char *record_config_string(const container *c, const char *key)
{
	return json_string_value(json_object_get(c->config, key));
}

int64_t record_config_int(const container *c, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(c->config, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool record_config_bool(const container *c, const char *key)
{
	return json_is_true(json_object_get(c->config, key));
}

static void state_clear(container_state *s)
{
	free(s->started_at);
	free(s->finished_at);
	free(s->health);
	free(s->error);
	json_decref(s->health_log);
	memset(s, 0, sizeof(*s));
}

void container_free(container *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->name);
	free(c->dir);
	json_decref(c->config);
	state_clear(&c->state);
	free(c);
}

static char *dup_or_null(json_t *j)
{
	const char *s = json_string_value(j);
	return s && s[0] ? strdup(s) : NULL;
}

int record_load_state(container *c, berth_error **err)
{
	_cleanup_free_ char *path = record_path(c, "state.json");
	container_state *s = &c->state;
	json_error_t jerr;
	json_t *j, *h;

	j = json_load_file(path, 0, &jerr);
	if (j == NULL)
		return berth_error_set(err, 0, "container %.12s: state.json: %s", c->id, jerr.text);
	state_clear(s);
	snprintf(s->status, sizeof(s->status), "%s", json_string_value(json_object_get(j, "Status")) ?: "unknown");
	s->pid = (pid_t)json_integer_value(json_object_get(j, "Pid"));
	s->monitor_pid = (pid_t)json_integer_value(json_object_get(j, "MonitorPid"));
	s->monitor_start = (uint64_t)json_integer_value(json_object_get(j, "MonitorStartTime"));
	s->exit_code = (int)json_integer_value(json_object_get(j, "ExitCode"));
	s->started_at = dup_or_null(json_object_get(j, "StartedAt"));
	s->finished_at = dup_or_null(json_object_get(j, "FinishedAt"));
	s->restart_count = (int)json_integer_value(json_object_get(j, "RestartCount"));
	s->stopped_by_user = json_is_true(json_object_get(j, "StoppedByUser"));
	s->oom_killed = json_is_true(json_object_get(j, "OOMKilled"));
	s->error = dup_or_null(json_object_get(j, "Error"));
	h = json_object_get(j, "Health");
	if (h) {
		s->health = dup_or_null(json_object_get(h, "Status"));
		s->health_failures = (int)json_integer_value(json_object_get(h, "FailingStreak"));
		s->health_log = json_incref(json_object_get(h, "Log"));
	}
	json_decref(j);
	return 0;
}

int record_save_state(const container *c, berth_error **err)
{
	const container_state *s = &c->state;
	_cleanup_close_ int dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL;
	json_t *j;

	if (dirfd < 0)
		return berth_error_set(err, errno, "container %.12s", c->id);
	j = json_pack("{s:s, s:i, s:i, s:I, s:i, s:s, s:s, s:i, s:b, s:s}", "Status", s->status, "Pid", (int)s->pid,
		      "MonitorPid", (int)s->monitor_pid, "MonitorStartTime", (json_int_t)s->monitor_start, "ExitCode",
		      s->exit_code, "StartedAt", s->started_at ?: "", "FinishedAt", s->finished_at ?: "",
		      "RestartCount", s->restart_count, "StoppedByUser", s->stopped_by_user, "Error", s->error ?: "");
	if (j && s->oom_killed)
		json_object_set_new(j, "OOMKilled", json_true());
	if (j && s->health)
		json_object_set_new(j, "Health",
				    json_pack("{s:s, s:i, s:o}", "Status", s->health, "FailingStreak",
					      s->health_failures, "Log",
					      s->health_log ? json_incref(s->health_log) : json_array()));
	text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "state.json");
	/* replaced atomically but not fsynced: it changes several times per run,
	 * and after a crash the truth comes from the monitor and the runtime
	 * (the first write, in a record being made, is in place) */
	return fs_write_file_fresh(dirfd, "state.json", text, strlen(text), 0600, err);
}

int record_lock(const container *c, berth_error **err)
{
	_cleanup_free_ char *path = record_path(c, "lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return berth_error_set(err, errno, "container %.12s: lock", c->id);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return berth_error_set(err, errno, "container %.12s: lock", c->id);
		}
	}
	return fd;
}

void record_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static const char *const adjectives[] = { "brave", "calm",   "eager", "fancy", "gentle", "happy", "jolly",  "keen",
					  "lucid", "mellow", "noble", "proud", "quiet",	 "swift", "tender", "witty" };
static const char *const nouns[] = { "anchor", "beacon", "buoy", "cove", "dock",   "ferry", "harbor", "jetty",
				     "keel",   "mast",	 "pier", "quay", "rudder", "sail",  "tide",   "wharf" };

static int reserve_name(const engine_paths *p, const char *name, const char *id, berth_error **err)
{
	_cleanup_close_ int dirfd = open(p->names, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char other[RECORD_ID_LEN + 1] = "";
	ssize_t n;

	if (dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", p->names);
	if (symlinkat(id, dirfd, name) == 0)
		return 0;
	if (errno != EEXIST)
		return berth_error_set(err, errno, "reserve name \"%s\"", name);
	n = readlinkat(dirfd, name, other, sizeof(other) - 1);
	if (n > 0)
		other[n] = '\0';
	return berth_error_set(err, 0, "name \"%s\" is already in use by container %.12s", name, other);
}

static int check_name(const char *name, berth_error **err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 128 ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
	      (name[0] >= '0' && name[0] <= '9')))
		goto bad;
	for (const char *s = name; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
			goto bad;
	return 0;
bad:
	return berth_error_set(err, EINVAL, "invalid container name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			       name);
}

static int reserve_some_name(const engine_paths *p, const char *id, char **out, berth_error **err)
{
	unsigned char r[8];
	char buf[64];

	for (int i = 0; i < 8; i++) {
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			break;
		if (i < 6)
			snprintf(buf, sizeof(buf), "%s_%s", adjectives[r[0] % 16], nouns[r[1] % 16]);
		else
			snprintf(buf, sizeof(buf), "berth-%.12s", id);
		if (reserve_name(p, buf, id, err) == 0) {
			*out = strdup(buf);
			return *out ? 0 : berth_error_set(err, ENOMEM, "name");
		}
		berth_error_free(err);
	}
	return berth_error_set(err, EEXIST, "no free container name");
}

static void new_id(char *id)
{
	unsigned char r[RECORD_ID_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(rand() ^ getpid());
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(id + 2 * i, "%02x", r[i]);
}

int record_save_config(const container *c, berth_error **err)
{
	_cleanup_close_ int dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *text = json_dumps(c->config, JSON_INDENT(2));

	if (dirfd < 0 || text == NULL)
		return berth_error_set(err, errno ?: ENOMEM, "container %.12s: config.json", c->id);
	/* a --rm container's record does not outlive it: no fsync */
	if (json_is_true(json_object_get(c->config, "AutoRemove")))
		return fs_write_file_fresh(dirfd, "config.json", text, strlen(text), 0600, err);
	return fs_write_file_atomic(dirfd, "config.json", text, strlen(text), 0600, err);
}

static void unreserve(const engine_paths *p, const char *name)
{
	_cleanup_free_ char *link = fs_path_join(p->names, name);
	if (link)
		unlink(link);
}

int record_create(const engine_paths *p, const char *name, json_t *config, container **out, berth_error **err)
{
	container *c = calloc(1, sizeof(*c));
	char id[RECORD_ID_LEN + 1], now[40];
	berth_error *ignored = NULL;

	if (c == NULL)
		return berth_error_set(err, ENOMEM, "container");
	if (name && check_name(name, err) < 0) {
		free(c);
		return -1;
	}
	new_id(id);
	c->id = strdup(id);
	c->dir = fs_path_join(p->containers, id);
	if (!c->id || !c->dir || mkdir(c->dir, 0700) < 0) {
		berth_error_set(err, errno ?: ENOMEM, "create container directory");
		container_free(c);
		return -1;
	}
	if (name ? reserve_name(p, name, id, err) : reserve_some_name(p, id, &c->name, err)) {
		fs_remove_tree(c->dir, &ignored);
		berth_error_free(&ignored);
		container_free(c);
		return -1;
	}
	if (name)
		c->name = strdup(name);
	c->config = json_incref(config);
	json_object_set_new(c->config, "Id", json_string(id));
	json_object_set_new(c->config, "Name", json_string(c->name));
	json_object_set_new(c->config, "Created", json_string(engine_now_rfc3339(now)));
	snprintf(c->state.status, sizeof(c->state.status), "created");
	if (record_save_config(c, err) < 0 || record_save_state(c, err) < 0) {
		unreserve(p, c->name);
		fs_remove_tree(c->dir, &ignored);
		berth_error_free(&ignored);
		container_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static int load(const engine_paths *p, const char *id, container **out, berth_error **err)
{
	container *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *cfg = NULL;
	json_error_t jerr;

	if (c == NULL)
		return berth_error_set(err, ENOMEM, "container");
	c->id = strdup(id);
	c->dir = fs_path_join(p->containers, id);
	cfg = c->dir ? fs_path_join(c->dir, "config.json") : NULL;
	c->config = cfg ? json_load_file(cfg, 0, &jerr) : NULL;
	if (c->config == NULL) {
		container_free(c);
		return berth_error_set(err, ENOENT, "container %.12s: config.json unreadable", id);
	}
	c->name = strdup(json_string_value(json_object_get(c->config, "Name")) ?: "");
	if (record_load_state(c, err) < 0) {
		container_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static bool is_id(const char *s)
{
	size_t n = strlen(s);
	return n == RECORD_ID_LEN && strspn(s, "0123456789abcdef") == n;
}

int record_open(const engine_paths *p, const char *text, container **out, berth_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	char id[RECORD_ID_LEN + 1] = "";
	struct dirent *e;
	int matches = 0;
	_cleanup_close_ int names = open(p->names, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ssize_t n = names >= 0 && check_name(text, NULL) == 0 ? readlinkat(names, text, id, RECORD_ID_LEN) : -1;

	if (n == RECORD_ID_LEN) {
		id[n] = '\0';
		return load(p, id, out, err);
	}
	d = opendir(p->containers);
	while (d && (e = readdir(d)) != NULL) {
		if (!is_id(e->d_name) || strncmp(e->d_name, text, strlen(text)) != 0)
			continue;
		if (++matches == 1)
			snprintf(id, sizeof(id), "%s", e->d_name);
	}
	if (matches > 1)
		return berth_error_set(err, EINVAL, "container id prefix \"%s\" is ambiguous", text);
	if (matches == 0 || text[0] == '\0')
		return berth_error_set(err, 0, "no such container: %s", text);
	return load(p, id, out, err);
}

static int by_created_desc(const void *a, const void *b)
{
	const container *x = *(container *const *)a, *y = *(container *const *)b;
	const char *cx = record_config_string(x, "Created") ?: "", *cy = record_config_string(y, "Created") ?: "";
	return strcmp(cy, cx);
}

/* A record directory retired (record_retire) more than a few seconds ago
 * and still there: its remover was killed. The runtime's container and
 * the files go now. */
static void sweep_trash(const engine_paths *p, int dirfd, const char *name)
{
	const char *id = name + strlen(RECORD_TRASH_PREFIX);
	_cleanup_free_ char *trash = NULL, *cfg_path = NULL, *bundle = NULL;
	const char *args[] = { "delete", "--force", id, NULL };
	berth_error *ignored = NULL;
	struct stat st;
	json_t *cfg;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || time(NULL) - st.st_ctime < 10 || !is_id(id))
		return;
	trash = fs_path_join(p->containers, name);
	cfg_path = trash ? fs_path_join(trash, "config.json") : NULL;
	bundle = trash ? fs_path_join(trash, "bundle") : NULL;
	cfg = cfg_path ? json_load_file(cfg_path, 0, NULL) : NULL;
	if (runtime_call(json_string_value(json_object_get(cfg, "Runtime")) ?: "berth-runtime", p->runtime_root, args,
			 NULL, &ignored) < 0)
		berth_error_free(&ignored);
	json_decref(cfg);
	/* unmounted before the rename, unless the remover died first */
	if (bundle && storage_rootfs_unmount(bundle, false, &ignored) < 0)
		berth_error_free(&ignored);
	fs_remove_tree_at(dirfd, name);
}

int record_list(const engine_paths *p, container ***out, size_t *n, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(p->containers);
	container **list = NULL, *c;
	struct dirent *e;
	size_t count = 0;

	if (d == NULL)
		return berth_error_set(err, errno, "open \"%s\"", p->containers);
	while ((e = readdir(d)) != NULL) {
		container **grown;
		berth_error *skip = NULL;
		if (strncmp(e->d_name, RECORD_TRASH_PREFIX, strlen(RECORD_TRASH_PREFIX)) == 0) {
			sweep_trash(p, dirfd(d), e->d_name);
			continue;
		}
		if (!is_id(e->d_name))
			continue;
		if (load(p, e->d_name, &c, &skip) < 0) {
			berth_error_free(&skip); /* being created or removed */
			continue;
		}
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (grown == NULL) {
			container_free(c);
			record_list_free(list, count);
			return berth_error_set(err, ENOMEM, "list");
		}
		list = grown;
		list[count++] = c;
	}
	if (count > 1)
		qsort(list, count, sizeof(*list), by_created_desc);
	*out = list;
	*n = count;
	return 0;
}

void record_list_free(container **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		container_free(list[i]);
	free(list);
}

bool record_monitor_alive(const container *c)
{
	if (c->state.monitor_pid <= 0)
		return false;
	return proc_pid_start_time(c->state.monitor_pid) == c->state.monitor_start && c->state.monitor_start != 0;
}

void record_apply_dead_monitor(container *c, const char *runtime_status)
{
	char now[40];

	if (runtime_status && (strcmp(runtime_status, "running") == 0 || strcmp(runtime_status, "paused") == 0)) {
		/* the process outlived its monitor: it runs, nothing supervises it */
		snprintf(c->state.status, sizeof(c->state.status), "%s", runtime_status);
		c->state.unsupervised = true;
		return;
	}
	snprintf(c->state.status, sizeof(c->state.status), "exited");
	if (c->state.exit_code == 0)
		c->state.exit_code = 255;
	c->state.pid = 0;
	if (c->state.finished_at == NULL)
		c->state.finished_at = strdup(engine_now_rfc3339(now));
	free(c->state.error);
	c->state.error = strdup("the container's monitor died");
}

int record_refresh(const engine_paths *p, container *c, berth_error **err)
{
	_cleanup_free_ char *rt_status = NULL;
	const char *runtime = record_config_string(c, "Runtime") ?: "berth-runtime";
	int lock;

	if (!engine_status_is_live(c->state.status) || record_monitor_alive(c))
		return 0;
	lock = record_lock(c, err);
	if (lock < 0)
		return -1;
	if (record_load_state(c, err) < 0 || !engine_status_is_live(c->state.status) || record_monitor_alive(c)) {
		record_unlock(lock);
		return *err ? -1 : 0;
	}
	rt_status = runtime_status(runtime, p->runtime_root, c->id);
	record_apply_dead_monitor(c, rt_status);
	if (!c->state.unsupervised && record_save_state(c, err) < 0) {
		record_unlock(lock);
		return -1;
	}
	record_unlock(lock);
	return 0;
}

int record_retire(const engine_paths *p, container *c, char **trash, berth_error **err)
{
	_cleanup_free_ char *link = fs_path_join(p->names, c->name);
	char target[RECORD_ID_LEN + 1];
	ssize_t n = link ? readlink(link, target, RECORD_ID_LEN) : -1;

	*trash = NULL;
	if (n == RECORD_ID_LEN && strncmp(target, c->id, RECORD_ID_LEN) == 0)
		unlink(link);
	if (asprintf(trash, "%s/" RECORD_TRASH_PREFIX "%s", p->containers, c->id) < 0) {
		*trash = NULL;
		return berth_error_set(err, ENOMEM, "remove container %.12s", c->id);
	}
	if (rename(c->dir, *trash) < 0) {
		int e = errno;
		free(*trash);
		*trash = NULL;
		if (e == ENOENT)
			return 0; /* removed already */
		return berth_error_set(err, e, "remove container %.12s", c->id);
	}
	return 0;
}
