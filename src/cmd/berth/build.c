/* berth build [-f FILE] [-t NAME]... [--build-arg K=V]... [--target STAGE]
 * [--no-cache] [--label K=V]... [--iidfile F] [--network none|default|host]
 * [-q] CONTEXT|-: an image from a Containerfile (src/build). Prints the
 * image id on stdout; progress goes to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/context.h"
#include "build/executor.h"
#include "build/strv.h"
#include "cmd/berth/commands.h"
#include "cmd/berth/engine_cmd.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const option_spec specs[] = {
	{ "file", 'f', true, "the Containerfile (default CONTEXT/Containerfile, else CONTEXT/Dockerfile)" },
	{ "tag", 't', true, "name the image (repeatable)" },
	{ "build-arg", 0, true, "KEY=VALUE for an ARG (KEY alone: from the environment; repeatable)" },
	{ "target", 0, true, "build up to this stage" },
	{ "no-cache", 0, false, "run every step again" },
	{ "label", 0, true, "KEY=VALUE label on the image (repeatable)" },
	{ "iidfile", 0, true, "write the image id to this file" },
	{ "network", 0, true, "network of RUN: none, default or host (default: default, the host's)" },
	{ "quiet", 'q', false, "no progress output; print only the image id" },
	{ "platform", 0, true, "only this host's platform is supported" },
	{ "cgroup-parent", 0, true, "cgroup parent of RUN's containers" },
	{ "pull", 0, false, "pull every base image, even when the store has it" },
	{ "tls-verify", 0, false, "pulls of base images require https (default true; false allows http)" },
	{ "secret", 0, true, "id=ID,src=FILE or id=ID,env=VAR for RUN --mount=type=secret (repeatable)" },
	{ "output", 'o', true,
	  "also write the result: type=local,dest=DIR | type=oci,dest=FILE | type=docker,dest=FILE" },
	{ NULL, 0, false, NULL },
};

enum {
	O_FILE,
	O_TAG,
	O_BUILD_ARG,
	O_TARGET,
	O_NO_CACHE,
	O_LABEL,
	O_IIDFILE,
	O_NETWORK,
	O_QUIET,
	O_PLATFORM,
	O_CGROUP_PARENT,
	O_PULL,
	O_TLS_VERIFY,
	O_SECRET,
	O_OUTPUT,
	O_COUNT
};

#define USAGE                                                                                                          \
	"build [-f FILE] [-t NAME]... [--build-arg K=V]... [--target STAGE] [--no-cache] [--label K=V]... "            \
	"[--iidfile F] [--network none|default|host] [--pull] [-q] CONTEXT|-"

/* --build-arg KEY takes KEY's value from the environment (docker's rule);
 * unset there, it is left out. */
static int build_args(char *const *given, char ***out, berth_error **err)
{
	*out = calloc(1, sizeof(char *));
	if (*out == NULL)
		return berth_error_set(err, ENOMEM, "build");
	for (size_t i = 0; given && given[i]; i++) {
		const char *value = strchr(given[i], '=') ? NULL : getenv(given[i]);
		char *pair = NULL;
		if (given[i][0] == '=' || given[i][0] == '\0')
			return berth_error_request(err, EINVAL, "--build-arg \"%s\": expected KEY=VALUE", given[i]);
		if (strchr(given[i], '='))
			pair = strdup(given[i]);
		else if (value && asprintf(&pair, "%s=%s", given[i], value) < 0)
			pair = NULL;
		else if (value == NULL)
			continue;
		if (build_strv_take(out, pair) < 0)
			return berth_error_set(err, ENOMEM, "build");
	}
	return 0;
}

static int check_flags(const option_value *v, berth_error **err)
{
	const char *net = v[O_NETWORK].value, *platform = v[O_PLATFORM].value;

	if (net && strcmp(net, "none") != 0 && strcmp(net, "default") != 0 && strcmp(net, "host") != 0)
		return berth_error_request(err, EINVAL, "build: --network: expected none, default or host, not \"%s\"",
					   net);
	for (size_t i = 0; v[O_LABEL].all && v[O_LABEL].all[i]; i++)
		if (v[O_LABEL].all[i][0] == '=' || v[O_LABEL].all[i][0] == '\0')
			return berth_error_request(err, EINVAL, "build: --label \"%s\": expected KEY=VALUE",
						   v[O_LABEL].all[i]);
	if (platform) {
		oci_platform want = { 0 }, host = { 0 };
		bool same;
		if (platform_parse(platform, &want, err) < 0 || platform_parse(NULL, &host, err) < 0) {
			platform_free(&want);
			return berth_error_wrap(err, "build: --platform");
		}
		same = strcmp(want.os, host.os) == 0 && strcmp(want.architecture, host.architecture) == 0;
		platform_free(&want);
		platform_free(&host);
		if (!same)
			return berth_error_request(
			    err, EINVAL, "build: --platform=%s: berth builds for this host's platform only", platform);
	}
	return 0;
}

static int run_build(const berth_globals *g, const option_value *v, const char *context, berth_error **err)
{
	_cleanup_strv_ char **args = NULL;
	_cleanup_free_ char *tmp_context = NULL, *tmp_parent = NULL;
	build_options o = { 0 };
	engine_paths p = { 0 };
	char id[DIGEST_STRING_MAX];
	store *s = NULL;
	int ret;

	if (check_flags(v, err) < 0 || build_args((char *const *)v[O_BUILD_ARG].all, &args, err) < 0)
		return -1;
	if (berth_engine_open(g, &p, err) < 0)
		return -1;
	ret = berth_open_store(g, &s, err);
	if (ret == 0 && strcmp(context, "-") == 0) {
		if (isatty(STDIN_FILENO))
			ret = berth_error_request(err, EINVAL, "build: stdin is a terminal: give a CONTEXT or a tar");
		tmp_parent = fs_path_join(store_root(s), "build-tmp");
		if (ret == 0 && tmp_parent == NULL)
			ret = berth_error_set(err, ENOMEM, "build");
		if (ret == 0)
			ret = build_context_from_tar(STDIN_FILENO, tmp_parent, &tmp_context, err);
		context = tmp_context;
	}
	if (ret == 0) {
		o.context = context;
		o.file = v[O_FILE].value;
		o.tags = (char *const *)v[O_TAG].all;
		o.build_args = args;
		o.labels = (char *const *)v[O_LABEL].all;
		o.target = v[O_TARGET].value;
		o.network = v[O_NETWORK].value;
		o.no_cache = option_bool(&v[O_NO_CACHE]);
		o.quiet = option_bool(&v[O_QUIET]);
		o.rootless = g->rootless;
		o.runtime_root = p.runtime_root;
		o.engine = &p;
		o.iidfile = v[O_IIDFILE].value;
		o.cgroup_parent = v[O_CGROUP_PARENT].value;
		o.pull = option_bool(&v[O_PULL]);
		o.secrets = (char *const *)v[O_SECRET].all;
		o.output = v[O_OUTPUT].value;
		o.pull_insecure = v[O_TLS_VERIFY].set && !option_bool(&v[O_TLS_VERIFY]);
		ret = build_image(s, &o, id, err);
	}
	if (ret == 0)
		printf("%s\n", id);
	if (tmp_context) {
		berth_error *ignored = NULL;
		if (fs_remove_tree(tmp_context, &ignored) < 0)
			berth_error_free(&ignored);
	}
	if (s)
		store_close(s);
	engine_paths_free(&p);
	return ret;
}

int cmd_build(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	int npos, ret;

	ret = berth_parse("build", USAGE, specs, argc, argv, false, v, &pos, &npos, 1, 1, err);
	if (ret == 0)
		ret = run_build(g, v, pos[0], err);
	options_free_values(v, O_COUNT);
	if (ret > 0)
		return 0; /* --help */
	return ret < 0 ? 125 : 0;
}
