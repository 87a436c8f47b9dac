/* berth system service: the Docker Engine API on a socket (src/api). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cmd/berth/engine_cmd.h"
#include "util/cleanup.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

static const option_spec specs[] = {
	{ "listen", 0, true,
	  "unix:///PATH (default /run/berth/docker.sock, rootless $XDG_RUNTIME_DIR/berth/docker.sock) or "
	  "tcp://HOST:PORT (with --tlscacert/--tlscert/--tlskey, or on loopback with --insecure-loopback)" },
	{ "timeout", 0, true, "exit after S idle seconds (0, the default: never)" },
	{ "insecure-loopback", 0, false, "allow TCP without TLS on a loopback address" },
	{ "tlscacert", 0, true, "TCP: the CA (PEM) that client certificates must be signed by" },
	{ "tlscert", 0, true, "TCP: the service's certificate (PEM)" },
	{ "tlskey", 0, true, "TCP: the service's private key (PEM)" },
	{ NULL, 0, false, NULL },
};

enum { S_LISTEN, S_TIMEOUT, S_INSECURE, S_TLSCA, S_TLSCERT, S_TLSKEY, S_COUNT };

int cmd_system_service(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[S_COUNT + 1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	api_options o = { 0 };
	int npos, ret;

	ret = berth_parse_grouped("system service",
				  "system service [--listen ADDR] [--timeout S] [--insecure-loopback] "
				  "[--tlscacert F --tlscert F --tlskey F]",
				  specs, argc, argv, false, v, &pos, &npos, 0, 1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	o.listen = v[S_LISTEN].value ?: (npos == 1 ? pos[0] : NULL); /* podman takes it as an argument */
	o.insecure_loopback = option_bool(&v[S_INSECURE]);
	o.tls_ca = v[S_TLSCA].value;
	o.tls_cert = v[S_TLSCERT].value;
	o.tls_key = v[S_TLSKEY].value;
	o.store_root = g->store_root;
	o.run_root = g->run_root;
	o.rootless = g->rootless;
	o.version = BERTH_VERSION;
	if (v[S_TIMEOUT].value) {
		char *end;
		errno = 0;
		o.timeout_s = (int)strtol(v[S_TIMEOUT].value, &end, 10);
		if (errno || *end || end == v[S_TIMEOUT].value) {
			berth_error_set(err, EINVAL, "system service: --timeout: invalid number \"%s\"",
					v[S_TIMEOUT].value);
			options_free_values(v, S_COUNT);
			return 125;
		}
	}
	ret = api_serve(&o, err) < 0 ? 125 : 0;
	options_free_values(v, S_COUNT);
	return ret;
}
