#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/runtime/commands.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "format", 'f', true, "table or json" },
	{ "quiet", 'q', false, "print only the container ids" },
	{ NULL, 0, false, NULL },
};

/* Reads /etc/passwd directly (fgetpwent): no NSS, so the static binary
 * needs no shared libraries at run time. */
static const char *owner_name(json_int_t uid)
{
	static char buf[64];
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;

	snprintf(buf, sizeof(buf), "#%lld", (long long)uid);
	if (f == NULL)
		return buf;
	while ((pw = fgetpwent(f)) != NULL)
		if ((json_int_t)pw->pw_uid == uid) {
			snprintf(buf, sizeof(buf), "%s", pw->pw_name);
			break;
		}
	fclose(f);
	return buf;
}

int cmd_list(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	const char *format;
	json_t *list = NULL, *item;
	size_t i;
	int npos, ret = command_parse("list", "list [--format table|json] [-q]", specs, argc, argv, false, v, &pos,
				      &npos, 0, 0, err);

	if (ret != 0)
		return ret < 0 ? 1 : 0;
	format = v[0].set ? v[0].value : "table";
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return berth_error_set(err, EINVAL, "list: --format: expected table or json, not \"%s\"", format), 1;
	if (container_list_json(g, &list, err) < 0)
		return 1;
	if (option_bool(&v[1])) {
		json_array_foreach(list, i, item)
			printf("%s\n", json_string_value(json_object_get(item, "id")));
	} else if (strcmp(format, "json") == 0) {
		command_print_json(list, false);
	} else {
		printf("%-20s %-8s %-10s %-50s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
		json_array_foreach(list, i, item)
			printf("%-20s %-8lld %-10s %-50s %-30s %s\n", json_string_value(json_object_get(item, "id")),
			       (long long)json_integer_value(json_object_get(item, "pid")),
			       json_string_value(json_object_get(item, "status")),
			       json_string_value(json_object_get(item, "bundle")),
			       json_string_value(json_object_get(item, "created")),
			       owner_name(json_integer_value(json_object_get(item, "owner"))));
	}
	json_decref(list);
	return 0;
}
