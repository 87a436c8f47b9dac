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

#include "engine/record_sweep.h"
#include "engine/runtime_call.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

/* A record that cannot be read and names no owner (an older berth was
 * killed while making it) is left this long to its maker. */
#define UNREADABLE_GRACE_S 10

#define STALE_MESSAGE "container %s was left unfinished by a killed command and is removed now"

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

/* The record ID behind a claim that is in the way: true when it was a
 * leftover (no directory ID, or an unfinished record whose creator is
 * gone) and is gone now with its claim. */
static bool clear_stale_claim(const engine_paths *p, const char *name, const char *id);

static int reserve_name(const engine_paths *p, const char *name, const char *id, berth_error **err)
{
	_cleanup_close_ int dirfd = open(p->names, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char other[RECORD_ID_LEN + 1] = "";
	ssize_t n;

	if (dirfd < 0)
		return berth_error_set(err, errno, "open \"%s\"", p->names);
	for (int attempt = 0;; attempt++) {
		if (symlinkat(id, dirfd, name) == 0)
			return 0;
		if (errno != EEXIST)
			return berth_error_set(err, errno, "reserve name \"%s\"", name);
		n = readlinkat(dirfd, name, other, sizeof(other) - 1);
		other[n > 0 ? n : 0] = '\0';
		if (attempt > 0 || !clear_stale_claim(p, name, other))
			break;
	}
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

/* Makes the directory ID with its first config.json and state.json in
 * place: they are written in .creating-PID-START-ID, which is then renamed,
 * so a record directory never exists without them. Not fsynced: the
 * record is complete only with record_commit's write. */
static int make_record_dir(const engine_paths *p, container *c, berth_error **err)
{
	_cleanup_close_ int parent = open(p->containers, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_free_ char *text = json_dumps(c->config, JSON_INDENT(2));
	unsigned long long start;
	char tmp[sizeof(RECORD_CREATING_PREFIX) + 48 + RECORD_ID_LEN];
	pid_t pid;

	if (parent < 0 || text == NULL)
		return berth_error_set(err, text ? errno : ENOMEM, "open \"%s\"", p->containers);
	record_owner_self(&pid, &start);
	snprintf(tmp, sizeof(tmp), RECORD_CREATING_PREFIX "%d-%llu-%s", (int)pid, start, c->id);
	if (mkdirat(parent, tmp, 0700) < 0)
		return berth_error_set(err, errno, "create container directory");
	free(c->dir);
	c->dir = fs_path_join(p->containers, tmp);
	dirfd = openat(parent, tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || c->dir == NULL) {
		berth_error_set(err, c->dir ? errno : ENOMEM, "create container directory");
		goto fail;
	}
	if (fs_write_file_fresh(dirfd, "config.json", text, strlen(text), 0600, err) < 0 ||
	    record_save_state(c, err) < 0)
		goto fail;
	if (renameat(parent, tmp, parent, c->id) < 0) {
		berth_error_set(err, errno, "create container directory");
		goto fail;
	}
	free(c->dir);
	c->dir = fs_path_join(p->containers, c->id);
	return c->dir ? 0 : berth_error_set(err, ENOMEM, "container");
fail:
	fs_remove_tree_at(parent, tmp);
	return -1;
}

int record_create(const engine_paths *p, const char *name, json_t *config, container **out, berth_error **err)
{
	container *c = calloc(1, sizeof(*c));
	char id[RECORD_ID_LEN + 1], now[40];
	unsigned long long start;
	pid_t pid;

	if (c == NULL)
		return berth_error_set(err, ENOMEM, "container");
	if (name && check_name(name, err) < 0) {
		free(c);
		return -1;
	}
	new_id(id);
	record_owner_self(&pid, &start);
	c->id = strdup(id);
	c->config = json_incref(config);
	json_object_set_new(c->config, "Id", json_string(id));
	/* a generated name is only known once claimed: it is written with
	 * record_commit */
	if (name)
		json_object_set_new(c->config, "Name", json_string(name));
	json_object_set_new(c->config, "Created", json_string(engine_now_rfc3339(now)));
	/* unfinished until record_commit: a killed creator's record is
	 * recognised and removed by the next command that meets it */
	json_object_set_new(c->config, "Creating",
			    json_pack("{s:i, s:I}", "Pid", (int)pid, "StartTime", (json_int_t)start));
	snprintf(c->state.status, sizeof(c->state.status), "created");
	if (c->id == NULL || make_record_dir(p, c, err) < 0) {
		if (*err == NULL)
			berth_error_set(err, ENOMEM, "container");
		container_free(c);
		return -1;
	}
	if (name ? reserve_name(p, name, id, err) : reserve_some_name(p, id, &c->name, err)) {
		_cleanup_close_ int parent = open(p->containers, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent >= 0)
			fs_remove_tree_at(parent, id);
		container_free(c);
		return -1;
	}
	if (name)
		c->name = strdup(name);
	json_object_set_new(c->config, "Name", json_string(c->name));
	*out = c;
	return 0;
}

int record_commit(container *c, berth_error **err)
{
	json_object_del(c->config, "Creating");
	return record_save_config(c, err);
}

/* A record whose files do not parse and that names no owner (an older
 * berth killed while making it): left to a maker for a few seconds. */
static int load_unreadable(const engine_paths *p, const char *id, const char *dir, berth_error **err)
{
	char short_id[13];
	struct stat st;

	snprintf(short_id, sizeof(short_id), "%s", id);
	if (stat(dir, &st) < 0)
		return berth_error_request(err, ENOENT, "no such container: %s", short_id);
	if (time(NULL) - st.st_ctime < UNREADABLE_GRACE_S)
		return berth_error_request(err, EBUSY, "container %.12s is being created", id);
	record_sweep_unfinished(p, id);
	return berth_error_request(err, ESTALE, STALE_MESSAGE, short_id);
}

/* Loads the record ID. Errors, with ->code: ENOENT (no such record),
 * EBUSY (being created by a process that runs), ESTALE (left unfinished
 * by a process that is gone: removed now). */
static int load(const engine_paths *p, const char *id, container **out, berth_error **err)
{
	container *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *cfg = NULL;
	json_t *creating;
	int ret;

	if (c == NULL)
		return berth_error_set(err, ENOMEM, "container");
	c->id = strdup(id);
	c->dir = fs_path_join(p->containers, id);
	cfg = c->dir ? fs_path_join(c->dir, "config.json") : NULL;
	c->config = cfg ? json_load_file(cfg, 0, NULL) : NULL;
	if (c->config == NULL || record_load_state(c, NULL) < 0) {
		ret = c->dir ? load_unreadable(p, id, c->dir, err) : berth_error_set(err, ENOMEM, "container");
		container_free(c);
		return ret;
	}
	c->name = strdup(json_string_value(json_object_get(c->config, "Name")) ?: "");
	creating = json_object_get(c->config, "Creating");
	if (creating) {
		pid_t pid = (pid_t)json_integer_value(json_object_get(creating, "Pid"));
		unsigned long long start =
		    (unsigned long long)json_integer_value(json_object_get(creating, "StartTime"));
		if (record_owner_alive(pid, start))
			ret = berth_error_request(err, EBUSY, "container %s is being created", c->name);
		else if (record_sweep_unfinished(p, id))
			ret = berth_error_request(err, ESTALE, STALE_MESSAGE, c->name[0] ? c->name : id);
		else
			ret = berth_error_request(err, ENOENT, "no such container: %s", c->name);
		container_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static bool is_id(const char *s)
{
	size_t n = strlen(s);
	return n == RECORD_ID_LEN && strspn(s, "0123456789abcdef") == n;
}

static bool clear_stale_claim(const engine_paths *p, const char *name, const char *id)
{
	_cleanup_free_ char *dir = NULL;
	container *c = NULL;
	berth_error *e = NULL;
	bool stale;

	if (!is_id(id))
		return false;
	dir = fs_path_join(p->containers, id);
	if (dir && access(dir, F_OK) < 0 && errno == ENOENT) {
		/* renamed away by a remover (perhaps killed before it dropped
		 * the claim), or never there */
		record_release_name(p, name, id);
		record_sweep_removing(p, id);
		return true;
	}
	if (load(p, id, &c, &e) == 0) {
		container_free(c);
		return false;
	}
	stale = e->code == ESTALE || e->code == ENOENT;
	berth_error_free(&e);
	if (stale)
		record_release_name(p, name, id);
	return stale;
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
		if (load(p, id, out, err) == 0)
			return 0;
		if ((*err)->code != ENOENT)
			return -1; /* EBUSY, or ESTALE: removed now with its name */
		berth_error_free(err);
		if (clear_stale_claim(p, text, id))
			return berth_error_request(err, ESTALE, STALE_MESSAGE, text);
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
		return berth_error_request(err, ENOENT, "no such container: %s", text);
	return load(p, id, out, err);
}

static int by_created_desc(const void *a, const void *b)
{
	const container *x = *(container *const *)a, *y = *(container *const *)b;
	const char *cx = record_config_string(x, "Created") ?: "", *cy = record_config_string(y, "Created") ?: "";
	return strcmp(cy, cx);
}

int record_list(const engine_paths *p, container ***out, size_t *n, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(p->containers);
	container **list = NULL, *c;
	struct dirent *e;
	size_t count = 0;

	if (d == NULL)
		return berth_error_set(err, errno, "open \"%s\"", p->containers);
	record_sweep_exit_codes(p);
	while ((e = readdir(d)) != NULL) {
		container **grown;
		berth_error *skip = NULL;
		if (e->d_name[0] == '.') {
			record_sweep_hidden(p, dirfd(d), e->d_name);
			continue;
		}
		if (!is_id(e->d_name))
			continue;
		if (load(p, e->d_name, &c, &skip) < 0) {
			/* being created, or left by a killed command (and removed now) */
			berth_error_free(&skip);
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
	/* nobody saw it exit: the code is unknown, and none is made up */
	c->state.exit_code = RECORD_EXIT_CODE_UNKNOWN;
	c->state.pid = 0;
	if (c->state.finished_at == NULL)
		c->state.finished_at = strdup(engine_now_rfc3339(now));
	free(c->state.error);
	/* without a monitor by design (a pod's holder) that is no error */
	c->state.error = record_config_bool(c, "NoMonitor")
			     ? NULL
			     : strdup("the container's monitor died: its exit code is unknown");
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
	if (rt_status && !c->state.unsupervised) {
		/* what its monitor would have done: the runtime's state and
		 * cgroup go, so a start can create the container again */
		const char *args[] = { "delete", "--force", c->id, NULL };
		berth_error *ignored = NULL;
		if (runtime_call(runtime, p->runtime_root, args, NULL, &ignored) < 0)
			berth_error_free(&ignored);
	}
	if (!c->state.unsupervised && record_save_state(c, err) < 0) {
		record_unlock(lock);
		return -1;
	}
	record_unlock(lock);
	return 0;
}

int record_retire(const engine_paths *p, container *c, char **trash, berth_error **err)
{
	_cleanup_close_ int dirfd = open(p->containers, O_PATH | O_DIRECTORY | O_CLOEXEC);
	unsigned long long start;
	pid_t pid;

	*trash = NULL;
	if (dirfd < 0)
		return berth_error_set(err, errno, "remove container %.12s", c->id);
	/* the remover's pid and start time in the new name: if it is killed,
	 * the next listing finishes the job (record_sweep.h) */
	record_owner_self(&pid, &start);
	if (asprintf(trash, "%s/" RECORD_TRASH_PREFIX "%d-%llu-%s", p->containers, (int)pid, start, c->id) < 0) {
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
	/* after the rename: the claim is stale from then on, whoever drops it */
	record_release_name(p, c->name, c->id);
	return 0;
}

int record_retire_now(const engine_paths *p, container *c, berth_error **err)
{
	_cleanup_free_ char *trash = NULL;

	if (record_retire(p, c, &trash, err) < 0)
		return -1;
	return trash ? fs_remove_tree(trash, err) : 0;
}

static char *exit_code_path(const engine_paths *p, const char *id)
{
	char *path = NULL;

	if (asprintf(&path, "%s/exits/%s", p->run_root, id) < 0)
		return NULL;
	return path;
}

void record_save_exit_code(const engine_paths *p, const container *c, int code)
{
	_cleanup_free_ char *dir = fs_path_join(p->run_root, "exits");
	_cleanup_close_ int dirfd = -EBADF;
	berth_error *ignored = NULL;
	char text[16];

	if (dir == NULL)
		return;
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && fs_mkdir_p(dir, 0700, &ignored) == 0)
		dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	berth_error_free(&ignored);
	snprintf(text, sizeof(text), "%d\n", code);
	if (dirfd >= 0 && fs_write_file_replace(dirfd, c->id, text, strlen(text), 0600, &ignored) < 0)
		berth_error_free(&ignored);
}

bool record_read_exit_code(const engine_paths *p, const container *c, int *code)
{
	_cleanup_free_ char *path = exit_code_path(p, c->id), *text = NULL;
	berth_error *ignored = NULL;
	char *end;
	long v;

	if (path == NULL || fs_read_file(path, &text, NULL, &ignored) < 0) {
		berth_error_free(&ignored);
		return false;
	}
	v = strtol(text, &end, 10);
	if (end == text)
		return false;
	*code = (int)v;
	return true;
}

/* Exit codes outlive their records this long: for a `wait` that comes
 * late (podman keeps them 5 minutes too). */
#define EXIT_CODE_KEEP_S 300

void record_sweep_exit_codes(const engine_paths *p)
{
	_cleanup_free_ char *dir = fs_path_join(p->run_root, "exits");
	_cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
	time_t now = time(NULL);
	struct dirent *e;
	struct stat st;

	while (d && (e = readdir(d)) != NULL)
		if (is_id(e->d_name) && fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
		    now - st.st_mtime > EXIT_CODE_KEEP_S)
			unlinkat(dirfd(d), e->d_name, 0);
}
