/* Internal to the registry client (registry.c, pull.c, push.c): one
 * registry_client per registry and repository, shared by the transfer
 * threads, and one registry_conn (a curl easy handle) per thread.
 *
 * registry_client_open pings GET /v2/: over https, and over plain http too
 * when TLS verification is off (like podman). A 401 there tells how to
 * authenticate: Basic sends the credentials with every request; Bearer
 * fetches a token from the challenge's realm for the repository's scope
 * ("repository:PATH:pull" or ":pull,push"). A 401 on a later request
 * (token expired, or a new scope such as a cross-repository mount's source)
 * authenticates again once and retries. */
#ifndef BERTH_IMAGE_REGISTRY_HTTP_H
#define BERTH_IMAGE_REGISTRY_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "image/auth.h"
#include "image/registry.h"
#include "image/store.h"
#include "util/error.h"

/* The Accept header of manifest requests: every type berth can read. */
#define REGISTRY_MANIFEST_ACCEPT                                                                                       \
	"application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "                        \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                                                  \
	"application/vnd.docker.distribution.manifest.v2+json"

typedef struct registry_progress registry_progress;

typedef struct registry_client {
	char *domain;	  /* as in the reference: "127.0.0.1:5000", "docker.io" */
	char *host;	  /* the API host: "registry-1.docker.io" for docker.io */
	char *base;	  /* "https://HOST" or "http://HOST" once pinged */
	char *repository; /* "team/app", NULL for login */
	bool push;
	registry_options opts; /* pointers borrowed from the caller */
	auth_credentials creds;
	bool have_creds;
	bool login;    /* the credentials are being tried by login */
	char *ca_blob; /* cert-dir's *.crt, concatenated (NULL: system CAs) */
	size_t ca_len;
	char *client_cert, *client_key; /* cert-dir's *.cert and *.key */
	pthread_mutex_t lock;		/* guards what follows */
	auth_challenge challenge;	/* scheme NULL: anonymous */
	char *authorization;		/* "Authorization: ..." header, or NULL */
	registry_progress *progress;	/* NULL: no progress output */
} registry_client;

typedef struct registry_conn {
	registry_client *client;
	void *curl;	    /* CURL * */
	const bool *cancel; /* set: abort the transfer (registry_parallel) */
	char errbuf[256];
} registry_conn;

typedef struct registry_request {
	const char *method; /* "GET", "HEAD", "PUT", "POST", "PATCH" */
	const char *url;    /* "/v2/..." below the base, or an absolute URL (Location) */
	const char *accept;
	const char *content_type;
	const char *data; /* upload from memory ... */
	size_t data_len;
	int upload_fd; /* ... or from a file (pread from 0); -1 for none */
	int64_t upload_size;
	store_writer *sink; /* a 2xx body goes here instead of memory */
	/* and, when set, to TEE too, each block once the sink has it (a layer
	 * unpacked as it downloads) */
	void (*tee)(void *ctx, const void *data, size_t len);
	void *tee_ctx;
	size_t max_body;  /* largest body kept in memory (0: 64 KiB, for error messages) */
	const char *what; /* for progress and messages: "blob sha256:..." */
} registry_request;

typedef struct registry_response {
	long status;
	char *body; /* NUL-terminated (or NULL) */
	size_t len;
	char *content_type;
	char *docker_content_digest;
	char *location;
	char *www_authenticate;
	int64_t content_length; /* -1 when unknown */
} registry_response;

void registry_response_free(registry_response *r);

/* Resolves the host of DOMAIN, loads credentials (OPTS->creds, else the auth
 * file, unless LOGIN_CREDS is given), reads the cert dir, pings the registry
 * and prepares authentication. REPOSITORY may be NULL (login). */
int registry_client_open(const char *domain, const char *repository, bool push, const registry_options *opts,
			 const auth_credentials *login_creds, registry_client **out, berth_error **err);
void registry_client_free(registry_client *c);

/* For login: makes sure the credentials work (a Basic request or a token
 * fetched with them succeeds). */
int registry_client_verify_login(registry_client *c, registry_conn *conn, berth_error **err);

int registry_conn_init(registry_conn *conn, registry_client *c, berth_error **err);
void registry_conn_cleanup(registry_conn *conn);

/* Sends REQ with the current authorization, authenticating and retrying once
 * on a 401. Returns 0 with any HTTP status but 401 (the error then says to
 * log in); <0 on transport errors (refused, unknown host, TLS, sink write). */
int registry_do(registry_conn *conn, const registry_request *req, registry_response *resp, berth_error **err);

/* Like berth_error_set, but the message is complete without strerror(CODE):
 * CODE only classifies the failure (ECONNREFUSED, EACCES, ENOENT, ...). */
int registry_error(berth_error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An error for an unexpected status: "WHAT: HTTP 404 Not Found: MANIFEST_UNKNOWN: manifest unknown". */
int registry_status_error(const registry_response *resp, const char *what, berth_error **err);
/* The first "errors[].code" of a registry error body, or "" (static/borrowed). */
const char *registry_error_code(const registry_response *resp, char *buf, size_t size);

/* "/v2/REPOSITORY/KIND/REFERENCE" (heap); KIND is "manifests" or "blobs". */
char *registry_path(const registry_client *c, const char *kind, const char *reference);

/* Runs FN(CTX, CONN, I) for I in [0, N) on up to JOBS threads, each with its
 * own connection. Stops handing out work after the first failure, whose
 * error is returned. */
typedef int (*registry_task_fn)(void *ctx, registry_conn *conn, size_t i, berth_error **err);
int registry_parallel(registry_client *c, size_t n, int jobs, registry_task_fn fn, void *ctx, berth_error **err);

/* Progress on stderr (only when it is a TTY and not quiet). */
registry_progress *registry_progress_new(bool quiet);
void registry_progress_free(registry_progress *p);
void registry_progress_add_total(registry_progress *p, int64_t bytes);
/* Bytes moved (negative: a failed attempt's bytes taken back). */
void registry_progress_add_moved(registry_progress *p, int64_t delta);
void registry_progress_done(registry_progress *p, const char *verb, const char *digest, int64_t size);
/* A blob of C's transfer is done: the progress line and C's on_blob. */
void registry_blob_done(registry_client *c, const char *verb, const char *digest, int64_t size);
/* A line of text above the bar (or nothing when progress is off). */
void registry_progress_note(registry_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
