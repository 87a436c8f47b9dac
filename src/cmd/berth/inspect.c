/* berth inspect: docker-like JSON of containers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/container.h"
#include "engine/gotemplate.h"
#include "engine/inspect.h"
#include "util/cleanup.h"

/* -f TEMPLATE: each container's line, as docker prints them. */
static int print_formatted(const gotemplate *t, json_t *j, berth_error **err)
{
	_cleanup_free_ char *text = NULL;

	if (gotemplate_execute(t, j, &text, err) < 0)
		return -1;
	puts(text);
	return 0;
}

int cmd_inspect(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	static const option_spec specs[] = {
		{ "format", 'f', true, "json (default), or a Go template: '{{.State.Status}}', '{{json .Config}}'" },
		{ "type", 0, true, "container (the only kind inspected here)" },
		{ NULL, 0, false, NULL },
	};
	option_value v[3] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	gotemplate *t = NULL;
	const char *format;
	json_t *arr;
	int npos, ret, failed = 0;

	ret = berth_parse_grouped("inspect", "inspect [-f FORMAT] CONTAINER...", specs, argc, argv, false, v, &pos,
				  &npos, 1, -1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	format = v[0].value;
	if (format && strcmp(format, "json") != 0 && gotemplate_parse(format, &t, err) < 0) {
		options_free_values(v, 2);
		return berth_error_wrap(err, "inspect --format"), 125;
	}
	if (v[1].value && strcmp(v[1].value, "container") != 0) {
		gotemplate_free(t);
		options_free_values(v, 2);
		return berth_error_set(err, EINVAL, "inspect --type %s: only containers (see berth %s inspect)",
				       v[1].value, v[1].value),
		       125;
	}
	options_free_values(v, 2);
	if (berth_engine_open(g, &paths, err) < 0) {
		gotemplate_free(t);
		return 125;
	}
	arr = json_array();
	for (int i = 0; i < npos; i++) {
		berth_error *e = NULL;
		container *c = NULL;
		if (record_open(&paths, pos[i], &c, &e) < 0 || record_refresh(&paths, c, &e) < 0) {
			berth_error_report("berth", &e);
			failed = 1;
		} else if (t) {
			json_t *j = engine_container_inspect_json(c);
			if (print_formatted(t, j, &e) < 0) {
				berth_error_report("berth: inspect", &e);
				failed = 1;
			}
			json_decref(j);
		} else {
			json_array_append_new(arr, engine_container_inspect_json(c));
		}
		container_free(c);
	}
	if (t == NULL)
		berth_print_json(arr);
	json_decref(arr);
	gotemplate_free(t);
	engine_paths_free(&paths);
	return failed ? 125 : 0;
}
