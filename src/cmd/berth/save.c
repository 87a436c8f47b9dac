/* berth save [-o FILE] [--format docker-archive|oci-archive|oci-dir] IMAGE...:
 * images to an archive (docker-archive by default, as docker and podman). */
#include <stdio.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/archive.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "output", 'o', true, "write to FILE (a directory for oci-dir) instead of stdout" },
	{ "format", 0, true, "docker-archive (default), oci-archive or oci-dir" },
	{ NULL, 0, false, NULL },
};

enum { O_OUTPUT, O_FORMAT, O_COUNT };

static int save(const berth_globals *g, char **images, const char *output, const char *format_text, berth_error **err)
{
	image_archive_format format;
	store *s = NULL;
	int ret;

	if (archive_format_parse(format_text, &format, err) < 0)
		return berth_error_wrap(err, "save");
	if (output == NULL && isatty(STDOUT_FILENO))
		return berth_error_set(err, 0,
				       "save: refusing to write an archive to a terminal: use -o FILE or "
				       "redirect stdout");
	if (berth_open_store(g, &s, err) < 0)
		return -1;
	ret = image_archive_save(s, images, format, output ? output : "-", err);
	store_close(s);
	return ret;
}

int cmd_save(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos, ret;

	ret = berth_parse("save", "save [-o FILE] [--format docker-archive|oci-archive|oci-dir] IMAGE...", specs, argc,
			  argv, false, v, &pos, &npos, 1, -1, err);
	if (ret == 0)
		ret = save(g, pos, v[O_OUTPUT].value, v[O_FORMAT].value, err);
	options_free_values(v, O_COUNT);
	return ret < 0 ? 125 : 0;
}
