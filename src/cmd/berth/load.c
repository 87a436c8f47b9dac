/* berth load [-i FILE] [-q]: images from a docker-archive, an OCI archive
 * or an OCI layout directory (stdin without -i). */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/archive.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "input", 'i', true, "read from FILE (an archive or an OCI layout directory) instead of stdin" },
	{ "quiet", 'q', false, "no progress output" },
	BERTH_TRUST_FLAGS,
	{ NULL, 0, false, NULL },
};

enum { O_INPUT, O_QUIET, O_TRUST, O_COUNT = O_TRUST + BERTH_TRUST_FLAG_COUNT };

static int load(const berth_globals *g, const char *input, const trust_options *trust, berth_error **err)
{
	struct stat st;
	_cleanup_strv_ char **loaded = NULL;
	unpack_options unpack = { .rootless = g->rootless, .userxattr = g->rootless };
	store *s = NULL;
	int ret;

	if (input == NULL && isatty(STDIN_FILENO))
		return berth_error_set(err, 0, "load: stdin is a terminal: use -i FILE or redirect stdin");
	/* before anything is read into the store */
	if (trust_check_archive(trust, input && stat(input, &st) == 0 && S_ISDIR(st.st_mode), err) < 0)
		return berth_error_wrap(err, "load");
	if (berth_open_store(g, &s, err) < 0)
		return -1;
	ret = image_archive_load(s, input ? input : "-", &unpack, &loaded, err);
	store_close(s);
	if (ret < 0)
		return -1;
	for (char **l = loaded; l && *l; l++)
		printf("Loaded image: %s\n", *l);
	return 0;
}

int cmd_load(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos, ret;

	ret = berth_parse("load", "load [-i FILE] [-q]", specs, argc, argv, false, v, &pos, &npos, 0, 0, err);
	if (ret == 0) {
		trust_options trust;
		berth_trust_options(g, &v[O_TRUST], &trust);
		ret = load(g, v[O_INPUT].value, &trust, err);
	}
	options_free_values(v, O_COUNT);
	return ret < 0 ? 125 : 0;
}
