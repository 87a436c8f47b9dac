/* berth image sign [--sign-by FPR | --sign-by-sigstore-private-key FILE]
 * [--directory DIR] IMAGE...: sign images in a registry, as `podman image
 * sign` does (image/registry.h). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/registry.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const option_spec specs[] = {
	BERTH_REGISTRY_FLAGS("unused (accepted like push's)"),
	{ "sign-by", 0, true, "sign with this GPG key (simple signing, to registries.d's lookaside)" },
	{ "sign-by-sigstore-private-key", 0, true,
	  "sign with this PEM private key (sigstore, attached in the registry)" },
	{ "directory", 'd', true, "write GPG signatures under this directory instead of the lookaside" },
	{ "registries.d", 0, true, "directory of registries.d YAML files (where signatures go)" },
	{ NULL, 0, false, NULL },
};

enum { O_REGISTRY, O_SIGN_BY = O_REGISTRY + 6, O_SIGN_BY_SIGSTORE, O_DIRECTORY, O_REGISTRIES_D, O_COUNT };

int cmd_image_sign(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *cwd = NULL, *directory = NULL;
	image_sign_options opts = { 0 };
	int npos = 0, ret;

	ret = berth_parse("image sign",
			  "image sign [--sign-by FPR | --sign-by-sigstore-private-key FILE] [--directory DIR] IMAGE...",
			  specs, argc, argv, false, v, &pos, &npos, 1, -1, err);
	if (ret != 0) {
		options_free_values(v, O_COUNT);
		return ret < 0 ? 125 : 0;
	}
	opts.sign_by = v[O_SIGN_BY].value;
	opts.sign_by_sigstore_key = v[O_SIGN_BY_SIGSTORE].value;
	opts.trust.registries_d = v[O_REGISTRIES_D].value;
	opts.trust.rootless = g->rootless;
	opts.directory = v[O_DIRECTORY].value;
	if (opts.directory && opts.directory[0] != '/') {
		cwd = getcwd(NULL, 0);
		directory = cwd ? fs_path_join(cwd, opts.directory) : NULL;
		if (directory == NULL)
			ret = berth_error_set(err, errno, "image sign: --directory \"%s\"", opts.directory);
		opts.directory = directory;
	}
	if (ret == 0)
		ret = berth_registry_options("image sign", &v[O_REGISTRY], &opts.registry, err);
	for (int i = 0; ret == 0 && i < npos; i++)
		ret = image_sign(pos[i], &opts, err);
	options_free_values(v, O_COUNT);
	return ret < 0 ? 125 : 0;
}
