#include "engine/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

static char *log_path(const engine_paths *p, const char *suffix)
{
	char *out = NULL;
	return asprintf(&out, "%s/events.log%s", p->store_root, suffix) < 0 ? NULL : out;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void engine_event(const engine_paths *p, const container *c, const char *action, const char *key, const char *value)
{
	_cleanup_free_ char *path = log_path(p, ""), *old = log_path(p, ".1"), *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	json_t *attrs, *labels = json_object_get(c->config, "Labels"), *v, *e;
	const char *image = record_config_string(c, "Image") ?: "", *k;
	int64_t t = now_ns();
	struct stat st;

	if (path == NULL || old == NULL)
		return;
	attrs = json_pack("{s:s, s:s}", "name", c->name, "image", image);
	json_object_foreach(labels, k, v) {
		if (json_is_string(v) && json_object_get(attrs, k) == NULL)
			json_object_set(attrs, k, v);
	}
	if (key && value)
		json_object_set_new(attrs, key, json_string(value));
	e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "status", action, "id", c->id, "from",
		      image, "Type", "container", "Action", action, "Actor", "ID", c->id, "Attributes", attrs, "scope",
		      "local", "time", (json_int_t)(t / 1000000000LL), "timeNano", (json_int_t)t);
	text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	if (text == NULL)
		return;
	/* a line per write(2) with O_APPEND: concurrent writers do not mix */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		berth_debug("events: open \"%s\": %s", path, strerror(errno));
		return;
	}
	{
		size_t len = strlen(text);
		char *line = realloc(text, len + 2);
		if (line == NULL)
			return;
		text = line;
		text[len] = '\n';
		text[len + 1] = '\0';
		if (write(fd, text, len + 1) != (ssize_t)(len + 1))
			berth_debug("events: write \"%s\": %s", path, strerror(errno));
	}
	if (fstat(fd, &st) == 0 && st.st_size > EVENTS_LOG_MAX)
		rename(path, old); /* two writers may both rotate: an event lands in .1, none is lost */
}

static bool any_matches(const char *const *list, const char *value, bool prefix_ok)
{
	if (list == NULL || list[0] == NULL)
		return true;
	for (; *list; list++) {
		if (value && strcmp(*list, value) == 0)
			return true;
		if (prefix_ok && value && strncmp(*list, value, strlen(*list)) == 0)
			return true;
	}
	return false;
}

bool engine_event_matches(json_t *e, const engine_event_filter *f)
{
	json_t *actor = json_object_get(e, "Actor"), *attrs = json_object_get(actor, "Attributes");
	const char *id = json_string_value(json_object_get(actor, "ID"));
	const char *name = json_string_value(json_object_get(attrs, "name"));
	const char *action = json_string_value(json_object_get(e, "Action"));
	const char *image = json_string_value(json_object_get(attrs, "image"));

	if (f->containers && f->containers[0]) {
		bool ok = false;
		for (const char *const *c = f->containers; *c && !ok; c++)
			ok = (name && strcmp(*c, name) == 0) || (id && strncmp(id, *c, strlen(*c)) == 0);
		if (!ok)
			return false;
	}
	/* docker: "health_status" matches "health_status: healthy" too */
	if (f->events && f->events[0]) {
		bool ok = false;
		for (const char *const *a = f->events; *a && !ok; a++)
			ok = action && (strcmp(*a, action) == 0 ||
					(strncmp(action, *a, strlen(*a)) == 0 && action[strlen(*a)] == ':'));
		if (!ok)
			return false;
	}
	if (!any_matches(f->images, image, false))
		return false;
	if (f->labels && f->labels[0]) {
		bool ok = false;
		for (const char *const *l = f->labels; *l && !ok; l++) {
			const char *eq = strchr(*l, '=');
			_cleanup_free_ char *k = eq ? strndup(*l, (size_t)(eq - *l)) : strdup(*l);
			json_t *v = k ? json_object_get(attrs, k) : NULL;
			ok = v && (!eq || strcmp(json_string_value(v) ?: "", eq + 1) == 0);
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Reads complete lines of FP from *OFFSET on; returns <0 when FN stops. */
static int read_lines(FILE *fp, int64_t since_ns, int64_t until_ns, engine_event_fn fn, void *arg, bool *past_until)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int ret = 0;

	while (ret >= 0) {
		long start = ftell(fp);
		len = getline(&line, &cap, fp);
		if (len <= 0)
			break;
		if (line[len - 1] != '\n') { /* a line being written: read it again later */
			fseek(fp, start, SEEK_SET);
			break;
		}
		json_t *e = json_loads(line, 0, NULL);
		int64_t t = (int64_t)json_integer_value(json_object_get(e, "timeNano"));
		if (e && t >= since_ns && (until_ns == 0 || t < until_ns))
			ret = fn(e, arg);
		if (until_ns && t >= until_ns)
			*past_until = true;
		json_decref(e);
	}
	free(line);
	clearerr(fp);
	return ret;
}

int engine_events_read(const engine_paths *p, int64_t since_ns, int64_t until_ns, bool follow, engine_event_fn fn,
		       void *arg, berth_error **err)
{
	_cleanup_free_ char *path = log_path(p, ""), *old = log_path(p, ".1");
	_cleanup_fclose_ FILE *fp = NULL;
	bool past = false;
	struct stat st, now;

	if (path == NULL || old == NULL)
		return berth_error_set(err, ENOMEM, "events");
	{
		_cleanup_fclose_ FILE *f1 = fopen(old, "re");
		if (f1 && read_lines(f1, since_ns, until_ns, fn, arg, &past) < 0)
			return 0;
	}
	for (;;) {
		if (fp == NULL && (fp = fopen(path, "re")) != NULL && fstat(fileno(fp), &st) < 0)
			return berth_error_set(err, errno, "events: \"%s\"", path);
		if (fp && read_lines(fp, since_ns, until_ns, fn, arg, &past) < 0)
			return 0;
		fflush(stdout);
		if (!follow || past || (until_ns && now_ns() >= until_ns))
			return 0;
		usleep(100 * 1000);
		if (fn(NULL, arg) < 0)
			return 0;
		/* rotated: the new file from its start */
		if (fp && (stat(path, &now) < 0 || now.st_ino != st.st_ino)) {
			read_lines(fp, since_ns, until_ns, fn, arg, &past);
			fclose(fp);
			fp = NULL;
		}
	}
}
