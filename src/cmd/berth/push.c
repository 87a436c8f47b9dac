/* berth push [flags] IMAGE [DESTINATION]: push to a registry, print the
 * manifest digest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/registry.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	BERTH_REGISTRY_FLAGS("parallel blob uploads (default 3)"),
	{ "digestfile", 0, true, "also write the pushed manifest's digest to this file" },
	{ "sign-by", 0, true, "sign the image with this GPG key (simple signing, to registries.d's lookaside)" },
	{ "sign-by-sigstore-private-key", 0, true,
	  "sign with this PEM private key (sigstore, attached in the registry)" },
	{ "registries.d", 0, true, "directory of registries.d YAML files (where signatures go)" },
	{ NULL, 0, false, NULL },
};

enum { O_REGISTRY, O_DIGESTFILE = O_REGISTRY + 6, O_SIGN_BY, O_SIGN_BY_SIGSTORE, O_REGISTRIES_D, O_COUNT };

static int options_from_values(const berth_globals *g, const option_value *v, push_options *opts, berth_error **err)
{
	opts->sign_by = v[O_SIGN_BY].value;
	opts->sign_by_sigstore_key = v[O_SIGN_BY_SIGSTORE].value;
	opts->trust.registries_d = v[O_REGISTRIES_D].value;
	opts->trust.rootless = g->rootless;
	return berth_registry_options("push", &v[O_REGISTRY], &opts->registry, err);
}

static int write_digest_file(const char *path, const char *digest, berth_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(digest);

	if (fd < 0)
		return berth_error_set(err, errno, "push: --digestfile \"%s\"", path);
	if (write(fd, digest, len) != (ssize_t)len)
		return berth_error_set(err, errno ? errno : EIO, "push: write \"%s\"", path);
	return 0;
}

static int run_push(const berth_globals *g, const char *source, const char *destination, const push_options *opts,
		    const char *digest_file, berth_error **err)
{
	char digest[DIGEST_STRING_MAX] = "";
	store *s = NULL;
	int ret;

	if (berth_open_store(g, &s, err) < 0)
		return -1;
	ret = image_push(s, source, destination, opts, digest, err);
	store_close(s);
	if (ret < 0)
		return ret;
	printf("%s\n", digest);
	return digest_file ? write_digest_file(digest_file, digest, err) : 0;
}

int cmd_push(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	push_options opts = { 0 };
	int npos = 0, ret;

	ret = berth_parse("push", "push [flags] IMAGE [DESTINATION]", specs, argc, argv, false, v, &pos, &npos, 1, 2,
			  err);
	if (ret == 0)
		ret = options_from_values(g, v, &opts, err);
	if (ret == 0)
		ret = run_push(g, pos[0], npos > 1 ? pos[1] : NULL, &opts, v[O_DIGESTFILE].value, err);
	options_free_values(v, O_COUNT);
	return ret < 0 ? -1 : 0;
}
