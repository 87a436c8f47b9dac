/* berth import [--change INSTRUCTION]... [--message M] [--platform P]
 * TARBALL|- [NAME]: a one-layer image from a rootfs tarball. Prints the
 * image id ("sha256:..."). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/archive.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "change", 'c', true, "a Dockerfile instruction for the config (CMD, ENTRYPOINT, ENV, WORKDIR, ...)" },
	{ "message", 'm', true, "history comment of the image" },
	{ "platform", 0, true, "OS/ARCH[/VARIANT] of the image (default: this host's)" },
	{ "quiet", 'q', false, "no progress output" },
	{ NULL, 0, false, NULL },
};

enum { O_CHANGE, O_MESSAGE, O_PLATFORM, O_QUIET, O_COUNT };

static int import(const berth_globals *g, const char *path, const import_options *opts, berth_error **err)
{
	char id[DIGEST_STRING_MAX];
	store *s = NULL;
	int ret;

	if (strcmp(path, "-") == 0 && isatty(STDIN_FILENO))
		return berth_error_set(err, 0, "import: stdin is a terminal: give a TARBALL or redirect stdin");
	if (berth_open_store(g, &s, err) < 0)
		return -1;
	ret = image_import(s, path, opts, id, err);
	store_close(s);
	if (ret < 0)
		return -1;
	printf("%s\n", id);
	return 0;
}

int cmd_import(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	import_options opts = { 0 };
	int npos, ret;

	ret = berth_parse("import", "import [flags] TARBALL|- [NAME]", specs, argc, argv, false, v, &pos, &npos, 1, 2,
			  err);
	if (ret == 0) {
		opts.name = npos > 1 ? pos[1] : NULL;
		opts.changes = (char *const *)v[O_CHANGE].all;
		opts.message = v[O_MESSAGE].value;
		opts.platform = v[O_PLATFORM].value;
		opts.unpack.rootless = g->rootless;
		opts.unpack.userxattr = g->rootless;
		ret = import(g, pos[0], &opts, err);
	}
	options_free_values(v, O_COUNT);
	return ret < 0 ? 125 : 0;
}
