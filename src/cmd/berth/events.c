/* berth events: what happened to containers (engine/events.h), docker's
 * way: the history since --since, then new events as they come, until
 * --until (without it: until interrupted). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/events.h"
#include "engine/gotemplate.h"
#include "engine/logfile.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "since", 0, true, "from this time: RFC 3339, Unix seconds, or a duration ago (10m)" },
	{ "until", 0, true, "up to this time (same forms); without it, events are followed" },
	{ "filter", 'f', true, "container=NAME|ID, event=ACTION, image=IMAGE, label=K[=V], type=container" },
	{ "format", 0, true, "json (one object a line) or a Go template ('{{.Action}} {{.Actor.ID}}')" },
	{ NULL, 0, false, NULL },
};

enum { E_SINCE, E_UNTIL, E_FILTER, E_FORMAT, E_COUNT };

/* RFC 3339, Unix seconds[.fraction] or a duration before now -> ns. */
static int64_t parse_time(const char *text)
{
	char *end;
	bool numeric = text[0] != '\0';

	for (const char *c = text; *c; c++)
		numeric = numeric && (isdigit((unsigned char)*c) || *c == '.');
	if (numeric) {
		double s = strtod(text, &end);
		return *end == '\0' ? (int64_t)(s * 1e9) : -1;
	}
	return logfile_parse_since(text);
}

typedef struct view {
	engine_event_filter filter;
	gotemplate *template;
	bool json;
} view;

static int print_event(json_t *e, void *arg)
{
	view *v = arg;
	json_t *attrs = json_object_get(json_object_get(e, "Actor"), "Attributes");
	int64_t t = (int64_t)json_integer_value(json_object_get(e, "timeNano"));

	if (e == NULL)
		return 0; /* a tick while waiting: go on until interrupted */
	if (!engine_event_matches(e, &v->filter))
		return 0;
	if (v->json) {
		char *text = json_dumps(e, JSON_COMPACT);
		puts(text ? text : "");
		free(text);
	} else if (v->template) {
		char *text = NULL;
		berth_error *err = NULL;
		if (gotemplate_execute(v->template, e, &text, &err) < 0) {
			berth_error_report("berth: events --format", &err);
			return -1;
		}
		puts(text);
		free(text);
	} else {
		time_t secs = (time_t)(t / 1000000000LL);
		struct tm tm;
		char when[40];
		const char *k;
		json_t *val;
		size_t i = 0, n;
		const char **keys = calloc(json_object_size(attrs) + 1, sizeof(char *));
		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		printf("%s.%09lldZ container %s %s (", when, (long long)(t % 1000000000LL),
		       json_string_value(json_object_get(e, "Action")) ?: "",
		       json_string_value(json_object_get(e, "id")) ?: "");
		json_object_foreach(attrs, k, val) {
			(void)val;
			if (keys)
				keys[i++] = k;
		}
		n = i;
		for (i = 0; keys && i < n; i++) /* sorted, as docker prints them */
			for (size_t j = i + 1; j < n; j++)
				if (strcmp(keys[j], keys[i]) < 0) {
					const char *x = keys[i];
					keys[i] = keys[j];
					keys[j] = x;
				}
		for (i = 0; keys && i < n; i++)
			printf("%s%s=%s", i ? ", " : "", keys[i],
			       json_string_value(json_object_get(attrs, keys[i])) ?: "");
		printf(")\n");
		free(keys);
	}
	return 0;
}

/* FILTERS into the lists of V (pointers into FILTERS' strings). */
static int split_filters(const option_value *f, const char ***lists, berth_error **err)
{
	static const char *const keys[] = { "container", "event", "image", "label" };

	for (int i = 0; i < f->count; i++) {
		const char *eq = strchr(f->all[i], '=');
		size_t klen = eq ? (size_t)(eq - f->all[i]) : 0;
		bool known = false;
		if (eq && klen == 4 && strncmp(f->all[i], "type", 4) == 0) {
			if (strcmp(eq + 1, "container") != 0)
				return berth_error_request(
				    err, EINVAL, "events --filter %s: berth has container events only", f->all[i]);
			continue;
		}
		for (int k = 0; eq && k < 4; k++) {
			if (strlen(keys[k]) != klen || strncmp(f->all[i], keys[k], klen) != 0)
				continue;
			size_t n = 0;
			while (lists[k] && lists[k][n])
				n++;
			const char **grown = realloc(lists[k], (n + 2) * sizeof(char *));
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "events");
			grown[n] = eq + 1;
			grown[n + 1] = NULL;
			lists[k] = grown;
			known = true;
		}
		if (!known)
			return berth_error_request(
			    err, EINVAL,
			    "events --filter \"%s\": expected container=, event=, image=, label= or "
			    "type=container",
			    f->all[i]);
	}
	return 0;
}

int cmd_events(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[E_COUNT + 1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	const char **lists[4] = { NULL, NULL, NULL, NULL };
	engine_paths paths = { 0 };
	view out = { 0 };
	int64_t since = 0, until = 0;
	int npos, ret;

	ret = berth_parse_grouped("events", "events [--since T] [--until T] [-f K=V] [--format F]", specs, argc, argv,
				  false, v, &pos, &npos, 0, 0, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 125;
	if (v[E_SINCE].value && (since = parse_time(v[E_SINCE].value)) < 0) {
		berth_error_request(err, EINVAL, "events --since: invalid time \"%s\"", v[E_SINCE].value);
		goto out;
	}
	if (v[E_UNTIL].value && (until = parse_time(v[E_UNTIL].value)) <= 0) {
		berth_error_request(err, EINVAL, "events --until: invalid time \"%s\"", v[E_UNTIL].value);
		goto out;
	}
	if (split_filters(&v[E_FILTER], lists, err) < 0)
		goto out;
	out.filter = (engine_event_filter){ lists[0], lists[1], lists[2], lists[3] };
	out.json = v[E_FORMAT].value && strcmp(v[E_FORMAT].value, "json") == 0;
	if (v[E_FORMAT].value && !out.json && gotemplate_parse(v[E_FORMAT].value, &out.template, err) < 0) {
		berth_error_wrap(err, "events --format");
		goto out;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (berth_engine_open(g, &paths, err) == 0 &&
	    engine_events_read(&paths, since, until, true, print_event, &out, err) == 0)
		ret = 0;
out:
	for (int k = 0; k < 4; k++)
		free(lists[k]);
	gotemplate_free(out.template);
	engine_paths_free(&paths);
	options_free_values(v, E_COUNT);
	return ret;
}
