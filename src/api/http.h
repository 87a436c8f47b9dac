/* The HTTP side of the API service (libmicrohttpd, one thread per
 * connection): the request as handlers see it and the ways to answer it,
 * a whole JSON body, an error as the Docker API words it, a stream fed by a
 * producer thread, or the connection hijacked (attach, exec start). */
#ifndef BERTH_API_HTTP_H
#define BERTH_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "engine/record.h"
#include "util/error.h"

/* The largest request body read (a container create is a few kB; a bigger
 * body is answered 413). */
#define API_BODY_MAX (4 * 1024 * 1024)

typedef struct api_server {
	const api_options *options;
	engine_paths paths;
	bool tls; /* HTTPS: every request's client certificate is checked */
} api_server;

typedef struct api_upload api_upload;

typedef struct api_request {
	api_server *server;
	struct MHD_Connection *conn;
	const char *method;
	char *path;	 /* without the /vN.NN prefix and the query */
	char *params[4]; /* the {id} parts of the route, heap */
	char *body;	 /* NUL-terminated, heap, may be NULL */
	size_t body_len;
	bool too_big;
	bool answered;
	bool refused; /* TLS without a valid client certificate: answered 403 */
	/* one more header of the answer (X-Docker-Container-Path-Stat), heap */
	const char *extra_header;
	char *extra_value;
	/* PUT /containers/{id}/archive: the body goes to the extraction as it
	 * comes (archive.c), not into BODY */
	api_upload *upload;
	/* POST /build, /images/load: the body (a tar of any size) goes to this
	 * unnamed file (build.c) instead of BODY; -1 for other requests */
	int body_fd;
	char *body_error; /* why the body could not be kept, heap */
	enum MHD_Result result;
} api_request;

/* The query parameter NAME, or NULL. */
const char *api_query(const api_request *r, const char *name);
/* A query boolean ("1", "true", "True"); DFLT when absent. */
bool api_query_bool(const api_request *r, const char *name, bool dflt);
/* A query integer; DFLT when absent or not a number. */
long api_query_long(const api_request *r, const char *name, long dflt);
/* A request header, or NULL. */
const char *api_header(const api_request *r, const char *name);
/* The body as JSON (an empty body: an empty object); NULL with ERR. */
json_t *api_body_json(const api_request *r, berth_error **err);

/* Answers STATUS with J (stolen; NULL: no body). */
void api_reply_json(api_request *r, unsigned status, json_t *j);
/* Answers 200 with each element of LINES (stolen) as a JSON line. */
void api_reply_json_lines(api_request *r, json_t *lines);
/* Answers STATUS with TEXT of LEN bytes (copied) and CONTENT_TYPE. */
void api_reply_data(api_request *r, unsigned status, const char *content_type, const char *text, size_t len);
/* Answers {"message": ...} with STATUS. */
void api_reply_error(api_request *r, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Answers the error E (freed), its status from its code: ENOENT 404,
 * EBUSY/EEXIST 409, EINVAL 400, else 500. */
void api_reply_berth_error(api_request *r, berth_error **e);

/* A streamed answer: PRODUCE runs in a thread of its own and writes to FD
 * (a pipe; a write fails with EPIPE once the client went), then returns; the
 * answer ends when it does. ARG is freed with FREE_ARG afterwards. */
typedef void (*api_producer)(int fd, void *arg);
void api_reply_stream(api_request *r, unsigned status, const char *content_type, api_producer produce, void *arg,
		      void (*free_arg)(void *));
/* Whether FD (a producer's pipe) has lost its reader. */
bool api_stream_closed(int fd);
/* Writes all of DATA to FD; false when the reader went. */
bool api_write_all(int fd, const void *data, size_t len);
/* J (stolen) as compact JSON and EOL ("\n", "\r\n") in one write, so a
 * line never reaches the client in two pieces (docker-py's stream parser
 * fails on a chunk of whitespace alone); false when the reader went. */
bool api_write_json_line(int fd, json_t *j, const char *eol);

/* Whether REFERENCE names a registry on loopback (localhost, 127.x,
 * [::1]), which docker reaches over plain http. */
bool api_loopback_registry(const char *reference);
/* One frame of docker's multiplexed stream (stdcopy): STREAM 1 stdout,
 * 2 stderr; a header of 8 bytes, then the data. */
bool api_write_frame(int fd, int stream, const void *data, size_t len);

/* The connection hijacked (101 UPGRADED, docker's raw stream): SERVE runs
 * in a thread of its own with the socket, which is closed when it returns. */
typedef void (*api_hijack_fn)(int sock, void *arg);
void api_reply_hijack(api_request *r, api_hijack_fn serve, void *arg, void (*free_arg)(void *));

/* PUT /containers/ID/archive?path=PATH (archive.c): begins the extraction
 * into PATH of container ID when the request starts (an error found then is
 * answered at the end, the body discarded), takes the body's pieces, and
 * answers at its end. */
api_upload *api_upload_begin(api_server *s, const char *id, const char *path);
void api_upload_data(api_upload *u, const char *data, size_t len);
void api_upload_end(api_request *r, api_upload *u);
void api_upload_free(api_upload *u);

/* An unnamed file in STORE/build-tmp for the body of POST /build or
 * POST /images/load, or -1 with ERR (build.c). */
int api_body_file_open(api_server *s, berth_error **err);

/* Whether the TLS connection C's client sent a certificate signed by the
 * trusted CA (GnuTLS' verification of the peer; microhttpd_loader.c). */
bool api_tls_peer_verified(struct MHD_Connection *c);

/* Why libmicrohttpd could not be loaded, or NULL (microhttpd_loader.c). */
const char *api_microhttpd_error(void);

/* The handlers of the routes (system.c, containers.c, streams.c, exec.c,
 * images.c); each answers R. */
void api_ping(api_request *r);
void api_version(api_request *r);
void api_info(api_request *r);
void api_events(api_request *r);
void api_containers_list(api_request *r);
void api_container_create(api_request *r);
void api_container_inspect(api_request *r);
void api_container_start(api_request *r);
void api_container_stop(api_request *r);
void api_container_restart(api_request *r);
void api_container_kill(api_request *r);
void api_container_pause(api_request *r);
void api_container_unpause(api_request *r);
void api_container_wait(api_request *r);
void api_container_remove(api_request *r);
void api_container_resize(api_request *r);
void api_container_logs(api_request *r);
void api_container_attach(api_request *r);
void api_container_archive(api_request *r);
void api_exec_create(api_request *r);
void api_exec_start(api_request *r);
void api_exec_inspect(api_request *r);
void api_exec_resize(api_request *r);
void api_networks_list(api_request *r);
void api_network_inspect(api_request *r);
void api_network_create(api_request *r);
void api_network_remove(api_request *r);
void api_network_connect(api_request *r);
void api_network_disconnect(api_request *r);
void api_volumes_list(api_request *r);
void api_volume_inspect(api_request *r);
void api_volume_create(api_request *r);
void api_volume_remove(api_request *r);
void api_images_list(api_request *r);
void api_image_inspect(api_request *r);
void api_image_create(api_request *r);
void api_image_tag(api_request *r);
void api_image_remove(api_request *r);
void api_build(api_request *r);
void api_container_top(api_request *r);
void api_container_stats(api_request *r);
void api_container_rename(api_request *r);
void api_container_update(api_request *r);
void api_containers_prune(api_request *r);
void api_image_push(api_request *r);
void api_auth(api_request *r);
void api_images_get(api_request *r);
void api_images_load(api_request *r);
void api_images_prune(api_request *r);
void api_networks_prune(api_request *r);
void api_volumes_prune(api_request *r);
void api_system_df(api_request *r);
void api_container_changes(api_request *r);
void api_container_export(api_request *r);
void api_commit(api_request *r);
void api_image_history(api_request *r);
void api_build_prune(api_request *r);

#endif
