/* `berth system service`: the Docker Engine API (version 1.41, what Debian
 * 12's docker 20.10 client speaks) on a unix socket or a loopback TCP port,
 * so the docker CLI, docker-compose and docker-py drive berth.
 *
 * The service is a front door only: every request is served by the same
 * engine functions the berth commands call, in this process; containers
 * keep their own monitors, so stopping the service stops no container. */
#ifndef BERTH_API_API_H
#define BERTH_API_API_H

#include <stdbool.h>

#include "util/error.h"

/* The API version served and the oldest one accepted in a /vN.NN/ prefix. */
#define API_VERSION	"1.41"
#define API_MIN_VERSION "1.24"

typedef struct api_options {
	const char *listen;	/* unix:///PATH or tcp://HOST:PORT; NULL: the default socket */
	int timeout_s;		/* exit after this many idle seconds; 0: never */
	bool insecure_loopback; /* allow plain TCP (loopback addresses only) */
	/* TLS on TCP, all three or none: the CA client certificates must be
	 * signed by (every client must present one), the service's own
	 * certificate and key; PEM files */
	const char *tls_ca, *tls_cert, *tls_key;
	const char *store_root;
	const char *run_root;
	bool rootless;
	const char *version; /* berth's version, for /version */
} api_options;

/* The default socket: /run/berth/docker.sock, rootless
 * $XDG_RUNTIME_DIR/berth/docker.sock. Heap. */
char *api_default_socket(bool rootless);

/* Checks O before anything is made: the listen address; TCP with TLS
 * (all three files), or without it only on loopback with
 * insecure_loopback; TLS only on TCP. */
int api_options_validate(const api_options *o, berth_error **err);

/* Listens (or takes the socket systemd passes in LISTEN_FDS) and serves
 * until SIGINT/SIGTERM or the idle timeout. */
int api_serve(const api_options *o, berth_error **err);

#endif
