/* berth pull [flags] IMAGE: pull from a registry, print the image id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/berth/commands.h"
#include "image/registry.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "platform", 0, true, "os/arch[/variant] to pick from a multi-platform image (default: this host's)" },
	{ "tls-verify", 0, false, "require https with a verified certificate (default true; false allows http)" },
	{ "authfile", 0, true, "credentials file (default: REGISTRY_AUTH_FILE, else containers' auth.json)" },
	{ "creds", 0, true, "USER:PASSWORD for the registry" },
	{ "cert-dir", 0, true, "CA certificates (*.crt) and a client certificate (*.cert + *.key)" },
	{ "jobs", 0, true, "parallel blob downloads (default 3)" },
	{ "quiet", 'q', false, "no progress output" },
	{ NULL, 0, false, NULL },
};

enum { O_PLATFORM, O_TLS_VERIFY, O_AUTHFILE, O_CREDS, O_CERT_DIR, O_JOBS, O_QUIET, O_COUNT };

static int parse_jobs(const option_value *v, int *jobs, berth_error **err)
{
	char *end = NULL;
	long n;

	*jobs = 0;
	if (!v->set)
		return 0;
	n = strtol(v->value, &end, 10);
	if (end == v->value || *end != '\0' || n < 1 || n > 32)
		return berth_error_set(err, 0, "pull: --jobs takes a number from 1 to 32, not \"%s\"", v->value);
	*jobs = (int)n;
	return 0;
}

static int options_from_values(const berth_globals *g, const option_value *v, pull_options *opts, berth_error **err)
{
	opts->platform = v[O_PLATFORM].value;
	opts->registry.tls_verify = !v[O_TLS_VERIFY].set || option_bool(&v[O_TLS_VERIFY]);
	opts->registry.auth_file = v[O_AUTHFILE].value;
	opts->registry.creds = v[O_CREDS].value;
	opts->registry.cert_dir = v[O_CERT_DIR].value;
	opts->registry.quiet = option_bool(&v[O_QUIET]);
	opts->unpack.rootless = g->rootless;
	opts->unpack.userxattr = g->rootless;
	return parse_jobs(&v[O_JOBS], &opts->registry.jobs, err);
}

static int run_pull(const berth_globals *g, const char *reference, const pull_options *opts, berth_error **err)
{
	image_info info = { 0 };
	store *s = NULL;
	int ret;

	if (berth_open_store(g, &s, err) < 0)
		return -1;
	ret = image_pull(s, reference, opts, &info, err);
	if (ret == 0)
		printf("%s\n", digest_hex(info.id));
	image_info_free(&info);
	store_close(s);
	return ret;
}

int cmd_pull(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[O_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	pull_options opts = { 0 };
	int npos = 0, ret;

	ret = berth_parse("pull", "pull [flags] IMAGE", specs, argc, argv, false, v, &pos, &npos, 1, 1, err);
	if (ret == 0)
		ret = options_from_values(g, v, &opts, err);
	if (ret == 0)
		ret = run_pull(g, pos[0], &opts, err);
	options_free_values(v, O_COUNT);
	return ret < 0 ? -1 : 0;
}
