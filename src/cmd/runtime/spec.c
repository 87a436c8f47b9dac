/* `spec`: writes a default config.json, as `runc spec` does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/runtime/commands.h"
#include "spec/default.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const option_spec specs[] = {
	{ "bundle", 'b', true, "write config.json into this directory (default: current directory)" },
	{ "rootless", 0, false, "a config for an unprivileged user (user namespace, no cgroup limits)" },
	{ NULL, 0, false, NULL },
};

int cmd_spec(const runtime_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[3] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	const char *dir;
	json_t *cfg;
	int npos, ret = command_parse("spec", "spec [--rootless] [--bundle DIR]", specs, argc, argv, false, v, &pos,
				      &npos, 0, 0, err);

	(void)g;
	if (ret != 0)
		return ret < 0 ? 1 : 0;
	dir = v[0].set ? v[0].value : ".";
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return berth_error_set(err, errno, "spec: bundle \"%s\"", dir), 1;
	if (faccessat(dirfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return berth_error_set(err, EEXIST, "spec: \"%s/config.json\" already exists", dir), 1;
	cfg = spec_default_config(option_bool(&v[1]));
	text = json_dumps(cfg, JSON_INDENT(8));
	json_decref(cfg);
	if (text == NULL)
		return berth_error_set(err, ENOMEM, "spec"), 1;
	if (fs_write_file_atomic(dirfd, "config.json", text, strlen(text), 0644, err) < 0) {
		berth_error_wrap(err, "spec: \"%s\"", dir);
		return 1;
	}
	return 0;
}
