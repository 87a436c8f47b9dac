/* Answers of the API service: JSON, errors, streams, hijacked connections. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/http.h"
#include "util/log.h"

const char *api_query(const api_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool api_query_bool(const api_request *r, const char *name, bool dflt)
{
	const char *v = api_query(r, name);

	if (v == NULL)
		return dflt;
	return strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "") == 0;
}

long api_query_long(const api_request *r, const char *name, long dflt)
{
	const char *v = api_query(r, name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno || *end ? dflt : n;
}

const char *api_header(const api_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

json_t *api_body_json(const api_request *r, berth_error **err)
{
	json_error_t je;
	json_t *j;

	if (r->body == NULL || r->body_len == 0)
		return json_object();
	j = json_loadb(r->body, r->body_len, 0, &je);
	if (j == NULL)
		berth_error_request(err, EINVAL, "malformed JSON body: %s (line %d, column %d)", je.text, je.line,
				    je.column);
	else if (!json_is_object(j)) {
		json_decref(j);
		j = NULL;
		berth_error_request(err, EINVAL, "the JSON body must be an object");
	}
	return j;
}

static void common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Api-Version", API_VERSION);
	MHD_add_response_header(resp, "Docker-Experimental", "false");
	MHD_add_response_header(resp, "Ostype", "linux");
	MHD_add_response_header(resp, "Server", "berth");
}

static void queue(api_request *r, unsigned status, struct MHD_Response *resp)
{
	if (resp == NULL) {
		r->result = MHD_NO;
		r->answered = true;
		return;
	}
	common_headers(resp);
	if (r->extra_header && r->extra_value)
		MHD_add_response_header(resp, r->extra_header, r->extra_value);
	r->result = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
}

void api_reply_data(api_request *r, unsigned status, const char *content_type, const char *text, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);

	if (resp && content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	queue(r, status, resp);
}

void api_reply_json(api_request *r, unsigned status, json_t *j)
{
	char *text;

	if (j == NULL) {
		api_reply_data(r, status, NULL, "", 0);
		return;
	}
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (text == NULL) {
		api_reply_data(r, 500, "application/json", "{\"message\":\"out of memory\"}\n", 28);
		return;
	}
	api_reply_data(r, status, "application/json", text, strlen(text));
	free(text);
}

void api_reply_json_lines(api_request *r, json_t *lines)
{
	char *text = NULL;
	size_t size = 0, i;
	FILE *f = open_memstream(&text, &size);
	json_t *v;

	json_array_foreach(lines, i, v) {
		char *t = json_dumps(v, JSON_COMPACT);
		if (f && t)
			fprintf(f, "%s\n", t);
		free(t);
	}
	json_decref(lines);
	if (f == NULL || fclose(f) != 0) {
		free(text);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	api_reply_data(r, 200, "application/json", text, size);
	free(text);
}

void api_reply_error(api_request *r, unsigned status, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	berth_debug("api: %s %s: %u %s", r->method, r->path, status, msg ? msg : "");
	api_reply_json(r, status, json_pack("{s:s}", "message", msg ? msg : "out of memory"));
	free(msg);
}

void api_reply_berth_error(api_request *r, berth_error **e)
{
	unsigned status = 500;
	int code = *e ? (*e)->code : 0;

	if (code == ENOENT)
		status = 404;
	else if (code == EBUSY || code == EEXIST || code == ENOTEMPTY)
		status = 409;
	else if (code == EINVAL || code == ENOTSUP)
		status = 400;
	api_reply_error(r, status, "%s", *e && (*e)->msg ? (*e)->msg : "internal error");
	berth_error_free(e);
}

/* ---- streams: a producer thread writes into a pipe the answer reads ---- */

typedef struct stream {
	int rfd, wfd, conn_fd;
	api_producer produce;
	void *arg;
	void (*free_arg)(void *);
} stream;

bool api_stream_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP));
}

bool api_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool api_write_json_line(int fd, json_t *j, const char *eol)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL, *line = NULL;
	bool ok = false;

	json_decref(j);
	if (text && asprintf(&line, "%s%s", text, eol) >= 0)
		ok = api_write_all(fd, line, strlen(line));
	free(line);
	free(text);
	return ok;
}

bool api_write_frame(int fd, int stream_id, const void *data, size_t len)
{
	unsigned char h[8] = { (unsigned char)stream_id,
			       0,
			       0,
			       0,
			       (unsigned char)(len >> 24),
			       (unsigned char)(len >> 16),
			       (unsigned char)(len >> 8),
			       (unsigned char)len };

	return api_write_all(fd, h, sizeof(h)) && api_write_all(fd, data, len);
}

static void *producer_main(void *arg)
{
	stream *s = arg;

	s->produce(s->wfd, s->arg);
	close(s->wfd);
	if (s->free_arg)
		s->free_arg(s->arg);
	free(s);
	return NULL;
}

typedef struct reader {
	int rfd, conn_fd;
} reader;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	reader *rd = cls;

	for (;;) {
		struct pollfd p[2] = { { .fd = rd->rfd, .events = POLLIN },
				       { .fd = rd->conn_fd, .events = POLLRDHUP } };
		ssize_t n;
		if (poll(p, rd->conn_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (p[0].revents) {
			n = read(rd->rfd, buf, max);
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0)
				return n;
			return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
			return MHD_CONTENT_READER_END_WITH_ERROR; /* the client went */
	}
}

static void stream_free(void *cls)
{
	reader *rd = cls;

	close(rd->rfd);
	free(rd);
}

void api_reply_stream(api_request *r, unsigned status, const char *content_type, api_producer produce, void *arg,
		      void (*free_arg)(void *))
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct MHD_Response *resp;
	stream *s = calloc(1, sizeof(*s));
	reader *rd = calloc(1, sizeof(*rd));
	int p[2];
	pthread_t t;

	if (s == NULL || rd == NULL || pipe2(p, O_CLOEXEC) < 0) {
		free(s);
		free(rd);
		if (free_arg)
			free_arg(arg);
		api_reply_error(r, 500, "stream: %s", strerror(errno));
		return;
	}
	rd->rfd = p[0];
	rd->conn_fd = ci ? ci->connect_fd : -1;
	*s = (stream){ .rfd = p[0], .wfd = p[1], .produce = produce, .arg = arg, .free_arg = free_arg };
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, rd, stream_free);
	if (resp == NULL) {
		close(p[0]);
		close(p[1]);
		free(rd);
		free(s);
		if (free_arg)
			free_arg(arg);
		r->result = MHD_NO;
		r->answered = true;
		return;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (pthread_create(&t, NULL, producer_main, s) != 0) {
		close(p[1]);
		if (free_arg)
			free_arg(arg);
		free(s);
	} else {
		pthread_detach(t);
	}
	queue(r, status, resp);
}

/* ---- hijacked connections ---- */

typedef struct hijack {
	api_hijack_fn serve;
	void *arg;
	void (*free_arg)(void *);
	int sock;
	struct MHD_UpgradeResponseHandle *urh;
} hijack;

static void *hijack_main(void *arg)
{
	hijack *h = arg;
	int flags = fcntl(h->sock, F_GETFL);

	if (flags >= 0)
		fcntl(h->sock, F_SETFL, flags & ~O_NONBLOCK);
	h->serve(h->sock, h->arg);
	shutdown(h->sock, SHUT_RDWR);
	MHD_upgrade_action(h->urh, MHD_UPGRADE_ACTION_CLOSE);
	if (h->free_arg)
		h->free_arg(h->arg);
	free(h);
	return NULL;
}

static void upgraded(void *cls, struct MHD_Connection *connection, void *req_cls, const char *extra_in,
		     size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	hijack *h = cls;
	pthread_t t;

	h->sock = sock;
	h->urh = urh;
	if (pthread_create(&t, NULL, hijack_main, h) != 0) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		if (h->free_arg)
			h->free_arg(h->arg);
		free(h);
		return;
	}
	pthread_detach(t);
}

void api_reply_hijack(api_request *r, api_hijack_fn serve, void *arg, void (*free_arg)(void *))
{
	hijack *h = calloc(1, sizeof(*h));
	struct MHD_Response *resp;

	if (h == NULL) {
		if (free_arg)
			free_arg(arg);
		api_reply_error(r, 500, "out of memory");
		return;
	}
	*h = (hijack){ .serve = serve, .arg = arg, .free_arg = free_arg, .sock = -1 };
	resp = MHD_create_response_for_upgrade(upgraded, h);
	if (resp == NULL) {
		if (free_arg)
			free_arg(arg);
		free(h);
		api_reply_error(r, 500, "cannot upgrade the connection");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "tcp");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/vnd.docker.raw-stream");
	queue(r, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}
