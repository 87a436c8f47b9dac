/* The HTTP side of the registry client: curl handles, requests with
 * authentication and retry on 401, the ping, and error messages. */
#include "image/registry_http.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1"
#endif

#define ERROR_BODY_MAX (64u << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void registry_response_free(registry_response *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->content_type);
	free(r->docker_content_digest);
	free(r->location);
	free(r->www_authenticate);
	*r = (registry_response){ .content_length = -1 };
}

static void response_clear_headers(registry_response *r)
{
	free(r->content_type);
	free(r->docker_content_digest);
	free(r->location);
	free(r->www_authenticate);
	r->content_type = r->docker_content_digest = r->location = r->www_authenticate = NULL;
	r->content_length = -1;
}

/* ---- one transfer ---- */

typedef struct transfer {
	registry_conn *conn;
	const registry_request *req;
	registry_response *resp;
	berth_error *sink_err;
	int64_t upload_off;
	int64_t counted; /* bytes reported to the progress display */
	bool too_big;
} transfer;

static bool status_ok(long status)
{
	return status >= 200 && status < 300;
}

static void header_set(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
}

static size_t on_header(char *buf, size_t size, size_t n, void *userdata)
{
	transfer *t = userdata;
	size_t len = size * n;
	_cleanup_free_ char *line = strndup(buf, len);
	char *colon, *value, *end;

	if (line == NULL)
		return 0;
	end = line + strlen(line);
	while (end > line && (end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		char *sp = strchr(line, ' ');
		response_clear_headers(t->resp);
		t->resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	colon = strchr(line, ':');
	if (colon == NULL)
		return len;
	*colon = '\0';
	value = colon + 1 + strspn(colon + 1, " \t");
	if (strcasecmp(line, "Content-Type") == 0)
		header_set(&t->resp->content_type, value);
	else if (strcasecmp(line, "Docker-Content-Digest") == 0)
		header_set(&t->resp->docker_content_digest, value);
	else if (strcasecmp(line, "Location") == 0)
		header_set(&t->resp->location, value);
	else if (strcasecmp(line, "WWW-Authenticate") == 0 && t->resp->www_authenticate == NULL)
		header_set(&t->resp->www_authenticate, value);
	else if (strcasecmp(line, "Content-Length") == 0)
		t->resp->content_length = strtoll(value, NULL, 10);
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *userdata)
{
	transfer *t = userdata;
	registry_response *r = t->resp;
	size_t len = size * n, max;
	char *grown;

	if (t->req->sink && status_ok(r->status)) {
		if (store_writer_write(t->req->sink, buf, len, &t->sink_err) < 0)
			return 0;
		if (t->req->tee)
			t->req->tee(t->req->tee_ctx, buf, len);
		return len;
	}
	max = t->req->max_body && status_ok(r->status) ? t->req->max_body : ERROR_BODY_MAX;
	if (r->len + len > max) {
		if (status_ok(r->status)) {
			t->too_big = true;
			return 0;
		}
		if (r->len >= max)
			return len; /* an error body: the start is enough */
		len = max - r->len;
	}
	grown = realloc(r->body, r->len + len + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + r->len, buf, len);
	r->body = grown;
	r->len += len;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
	transfer *t = userdata;
	const registry_request *req = t->req;
	size_t want = size * n;
	int64_t total = req->data ? (int64_t)req->data_len : req->upload_size;
	ssize_t got;

	if (t->upload_off >= total)
		return 0;
	if ((int64_t)want > total - t->upload_off)
		want = (size_t)(total - t->upload_off);
	if (req->data) {
		memcpy(buf, req->data + t->upload_off, want);
		got = (ssize_t)want;
	} else {
		do
			got = pread(req->upload_fd, buf, want, t->upload_off);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
	}
	t->upload_off += got;
	return (size_t)got;
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	transfer *t = userdata;

	if (origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	t->upload_off = offset;
	return CURL_SEEKFUNC_OK;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	transfer *t = userdata;
	registry_progress *p = t->conn->client->progress;
	int64_t now = t->req->sink ? dlnow : ulnow;

	if (t->conn->cancel && __atomic_load_n(t->conn->cancel, __ATOMIC_RELAXED))
		return 1;
	if (p && t->req->what && (t->req->upload_fd >= 0 || (t->req->sink && status_ok(t->resp->status)))) {
		registry_progress_add_moved(p, now - t->counted);
		t->counted = now;
	}
	return 0;
}

/* ---- curl setup ---- */

static char *absolute_url(const registry_client *c, const char *url)
{
	char *out = NULL;

	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		return strdup(url);
	return asprintf(&out, "%s%s", c->base ? c->base : "", url) < 0 ? NULL : out;
}

static void setup_tls(CURL *h, const registry_client *c)
{
	long verify = c->opts.tls_verify ? 1L : 0L;

	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	if (c->ca_blob) {
		struct curl_blob blob = { .data = c->ca_blob, .len = c->ca_len, .flags = CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->client_cert && c->client_key) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
	}
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, c->opts.tls_verify ? "https" : "http,https");
}

static void setup_method(CURL *h, const registry_request *req)
{
	bool has_body = req->data || req->upload_fd >= 0;

	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		int64_t size = req->data ? (int64_t)req->data_len : req->upload_size;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	/* blob GETs are redirected to storage; curl drops Authorization for another host */
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	}
}

static struct curl_slist *request_headers(const registry_request *req, const char *authorization)
{
	struct curl_slist *list = NULL, *next;
	char line[512];

	list = curl_slist_append(list, "Expect:");
	if (list && authorization && (next = curl_slist_append(list, authorization)))
		list = next;
	if (list && req->accept && snprintf(line, sizeof(line), "Accept: %s", req->accept) < (int)sizeof(line) &&
	    (next = curl_slist_append(list, line)))
		list = next;
	if (list && req->content_type &&
	    snprintf(line, sizeof(line), "Content-Type: %s", req->content_type) < (int)sizeof(line) &&
	    (next = curl_slist_append(list, line)))
		list = next;
	return list;
}

static int curl_failure(registry_conn *conn, CURLcode code, const char *url, berth_error **err)
{
	const registry_client *c = conn->client;
	const char *detail = conn->errbuf[0] ? conn->errbuf : curl_easy_strerror(code);
	long os_errno = 0;

	berth_debug("registry: %s: %s", url, detail);
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return registry_error(err, EHOSTUNREACH, "registry %s: unknown host", c->domain);
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(conn->curl, CURLINFO_OS_ERRNO, &os_errno);
		return berth_error_set(err, os_errno > 0 ? (int)os_errno : ECONNREFUSED, "connect to registry %s",
				       c->domain);
	case CURLE_OPERATION_TIMEDOUT:
		return registry_error(err, ETIMEDOUT, "registry %s: %s", c->domain, detail);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		return registry_error(err, EPROTO,
				      "registry %s: TLS: %s (--tls-verify=false allows plain http or a self-signed "
				      "certificate; --cert-dir adds CA certificates)",
				      c->domain, detail);
	case CURLE_ABORTED_BY_CALLBACK:
		return registry_error(err, ECANCELED, "%s: cancelled", url);
	default:
		return registry_error(err, EIO, "registry %s: %s: %s", c->domain, url, detail);
	}
}

static bool same_origin(const registry_client *c, const char *url)
{
	size_t n = c->base ? strlen(c->base) : 0;

	return n > 0 && strncmp(url, c->base, n) == 0 && (url[n] == '/' || url[n] == '\0' || url[n] == '?');
}

/* One HTTP exchange, no auth retry. LOGIN (may be NULL) is sent as basic auth
 * (token requests); else AUTHORIZATION is the header line to send. */
static int perform(registry_conn *conn, const registry_request *req, const char *authorization,
		   const auth_credentials *login, registry_response *resp, berth_error **err)
{
	registry_client *c = conn->client;
	CURL *h = conn->curl;
	transfer t = { .conn = conn, .req = req, .resp = resp };
	_cleanup_free_ char *url = absolute_url(c, req->url);
	struct curl_slist *headers;
	CURLcode code;

	*resp = (registry_response){ .content_length = -1 };
	if (url == NULL)
		return berth_error_set(err, ENOMEM, "request");
	/* credentials go to the registry only, not to a host a Location names */
	headers = request_headers(req, login || !same_origin(c, url) ? NULL : authorization);
	curl_easy_reset(h);
	conn->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conn->errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &t);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (req->sink)
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10); /* fewer, larger writes into the store */
	if (login) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, login->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, login->password);
	}
	setup_tls(h, c);
	setup_method(h, req);
	berth_debug("registry: %s %s", req->method, url);
	code = curl_easy_perform(h);
	curl_slist_free_all(headers);
	if (code == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (c->progress && t.counted && (code != CURLE_OK || !status_ok(resp->status)))
		registry_progress_add_moved(c->progress, -t.counted);
	if (t.sink_err || t.too_big || code != CURLE_OK)
		registry_response_free(resp);
	if (t.sink_err) {
		berth_error_free(err);
		if (err)
			*err = move_ptr(t.sink_err);
		berth_error_free(&t.sink_err);
		return -1;
	}
	if (t.too_big)
		return registry_error(err, EFBIG, "%s: response larger than %zu bytes", req->what ? req->what : url,
				      req->max_body);
	if (code != CURLE_OK)
		return curl_failure(conn, code, url, err);
	berth_debug("registry: %s %s: %ld", req->method, url, resp->status);
	return 0;
}

/* ---- authentication ---- */

#define MAX_SCOPES 16

typedef struct scope_entry {
	const char *resource; /* "repository:team/app" */
	char actions[64];     /* "pull,push" */
} scope_entry;

static bool has_action(const char *actions, const char *action, size_t len)
{
	for (const char *p = actions; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0))
		if (strncmp(p, action, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

/* Adds SCOPE ("type:name:actions", modified in place) to LIST, merging the
 * actions of a resource already there ("pull,push" and "push,pull" are one). */
static void scopes_add(scope_entry *list, size_t *n, char *scope)
{
	char *colon = strrchr(scope, ':'), *action;
	scope_entry *e = NULL;

	if (colon == NULL || colon == scope)
		return;
	*colon = '\0';
	for (size_t i = 0; i < *n && e == NULL; i++)
		if (strcmp(list[i].resource, scope) == 0)
			e = &list[i];
	if (e == NULL && *n < MAX_SCOPES) {
		e = &list[(*n)++];
		e->resource = scope;
		e->actions[0] = '\0';
	}
	for (action = colon + 1; e && *action;
	     action += strcspn(action, ",") + (action[strcspn(action, ",")] ? 1 : 0)) {
		size_t len = strcspn(action, ","), used = strlen(e->actions);
		if (len == 0 || has_action(e->actions, action, len) || used + len + 2 > sizeof(e->actions))
			continue;
		snprintf(e->actions + used, sizeof(e->actions) - used, "%s%.*s", used ? "," : "", (int)len, action);
	}
}

/* The query of a token request: the service, and our scope merged with those
 * the challenge names. */
static char *token_query(registry_client *c, const auth_challenge *ch)
{
	CURL *h = curl_easy_init();
	_cleanup_free_ char *wanted = NULL, *query = NULL;
	scope_entry scopes[MAX_SCOPES];
	size_t n = 0;
	char *save = NULL, *scope, *esc;

	if (h == NULL)
		return NULL;
	if (asprintf(&wanted, "%s%s%s %s", c->repository ? "repository:" : "", c->repository ? c->repository : "",
		     c->repository ? (c->push ? ":pull,push" : ":pull") : "", ch->scope ? ch->scope : "") < 0)
		wanted = NULL;
	for (scope = wanted ? strtok_r(wanted, " ", &save) : NULL; scope; scope = strtok_r(NULL, " ", &save))
		scopes_add(scopes, &n, scope);
	esc = ch->service ? curl_easy_escape(h, ch->service, 0) : NULL;
	if (asprintf(&query, "%s%s", esc ? "service=" : "", esc ? esc : "") < 0)
		query = NULL;
	curl_free(esc);
	for (size_t i = 0; query && i < n; i++) {
		_cleanup_free_ char *one = NULL;
		char *next = NULL;
		if (asprintf(&one, "%s:%s", scopes[i].resource, scopes[i].actions) < 0 ||
		    (esc = curl_easy_escape(h, one, 0)) == NULL) {
			free(move_ptr(query));
			break;
		}
		if (asprintf(&next, "%s%sscope=%s", query, query[0] ? "&" : "", esc) < 0)
			next = NULL;
		curl_free(esc);
		free(query);
		query = next;
	}
	curl_easy_cleanup(h);
	return move_ptr(query);
}

static int auth_required(const registry_client *c, berth_error **err)
{
	if (c->have_creds && c->login)
		return registry_error(err, EACCES, "authentication failed: %s rejected the credentials of \"%s\"",
				      c->domain, c->creds.username);
	if (c->have_creds)
		return registry_error(
		    err, EACCES, "authentication failed: %s rejected the credentials of \"%s\" (run berth login %s)",
		    c->domain, c->creds.username, c->domain);
	return registry_error(err, EACCES, "authentication required: run berth login %s", c->domain);
}

static int token_from_body(registry_client *c, const registry_response *resp, char **out, berth_error **err)
{
	json_auto_t *j = json_loadb(resp->body ? resp->body : "", resp->len, 0, NULL);
	const char *token = json_string_value(json_object_get(j, "token"));

	if (token == NULL || token[0] == '\0')
		token = json_string_value(json_object_get(j, "access_token"));
	if (token == NULL || token[0] == '\0')
		return registry_error(err, EPROTO, "registry %s: token response without a token", c->domain);
	*out = strdup(token);
	return *out ? 0 : berth_error_set(err, ENOMEM, "token");
}

static int fetch_token(registry_conn *conn, const auth_challenge *ch, berth_error **err)
{
	registry_client *c = conn->client;
	_cleanup_free_ char *query = token_query(c, ch), *url = NULL, *token = NULL, *header = NULL;
	registry_response resp = { 0 };
	registry_request req = { .method = "GET", .upload_fd = -1, .max_body = 1u << 20, .what = "token" };
	int ret;

	if (ch->realm == NULL || (strncmp(ch->realm, "https://", 8) != 0 && strncmp(ch->realm, "http://", 7) != 0))
		return registry_error(err, EPROTO, "registry %s: bearer challenge without an http(s) realm", c->domain);
	if (c->have_creds && c->opts.tls_verify && strncmp(ch->realm, "http://", 7) == 0)
		return registry_error(err, EPROTO,
				      "registry %s: refusing to send credentials to the plain http realm %s "
				      "(--tls-verify=false allows it)",
				      c->domain, ch->realm);
	if (query == NULL || asprintf(&url, "%s%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?", query) < 0)
		return berth_error_set(err, ENOMEM, "token request");
	req.url = url;
	ret = perform(conn, &req, NULL, c->have_creds ? &c->creds : NULL, &resp, err);
	if (ret == 0 && resp.status == 401) {
		registry_response_free(&resp);
		return auth_required(c, err);
	}
	if (ret == 0 && !status_ok(resp.status))
		ret = registry_status_error(&resp, "token request", err);
	if (ret == 0)
		ret = token_from_body(c, &resp, &token, err);
	registry_response_free(&resp);
	if (ret < 0)
		return berth_error_wrap(err, "auth %s", ch->realm);
	if (asprintf(&header, "Authorization: Bearer %s", token) < 0)
		return berth_error_set(err, ENOMEM, "token");
	free(c->authorization);
	c->authorization = move_ptr(header);
	return 0;
}

static int basic_header(registry_client *c, berth_error **err)
{
	_cleanup_free_ char *pair = NULL, *b64 = NULL;
	char *header = NULL;

	if (!c->have_creds)
		return auth_required(c, err);
	if (asprintf(&pair, "%s:%s", c->creds.username, c->creds.password) < 0 ||
	    (b64 = auth_base64_encode(pair, strlen(pair))) == NULL ||
	    asprintf(&header, "Authorization: Basic %s", b64) < 0)
		return berth_error_set(err, ENOMEM, "basic auth");
	free(c->authorization);
	c->authorization = header;
	return 0;
}

/* Applies CH (caller holds the lock). */
static int authenticate_locked(registry_conn *conn, auth_challenge *ch, berth_error **err)
{
	registry_client *c = conn->client;
	int ret;

	if (ch->scheme && strcmp(ch->scheme, "basic") == 0)
		ret = basic_header(c, err);
	else if (ch->scheme && strcmp(ch->scheme, "bearer") == 0)
		ret = fetch_token(conn, ch, err);
	else
		ret = registry_error(err, ENOTSUP, "registry %s: unsupported auth scheme \"%s\"", c->domain,
				     ch->scheme ? ch->scheme : "");
	if (ret < 0)
		return ret;
	auth_challenge_free(&c->challenge);
	c->challenge = *ch;
	*ch = (auth_challenge){ 0 };
	return 0;
}

/* After a 401 to a request sent with USED: authenticate again, unless another
 * thread did already (then the retry uses its header). */
static int reauthenticate(registry_conn *conn, const char *header, const char *used, berth_error **err)
{
	registry_client *c = conn->client;
	auth_challenge ch = { 0 };
	bool same;
	int ret = 0;

	if (header == NULL)
		return auth_required(c, err);
	if (auth_challenge_parse(header, &ch, err) < 0)
		return -1;
	pthread_mutex_lock(&c->lock);
	same = used == NULL ? c->authorization == NULL : c->authorization && strcmp(used, c->authorization) == 0;
	if (same)
		ret = authenticate_locked(conn, &ch, err);
	pthread_mutex_unlock(&c->lock);
	auth_challenge_free(&ch);
	return ret;
}

static char *current_authorization(registry_client *c)
{
	char *out;

	pthread_mutex_lock(&c->lock);
	out = c->authorization ? strdup(c->authorization) : NULL;
	pthread_mutex_unlock(&c->lock);
	return out;
}

int registry_do(registry_conn *conn, const registry_request *req, registry_response *resp, berth_error **err)
{
	for (int attempt = 0;; attempt++) {
		_cleanup_free_ char *used = current_authorization(conn->client);
		if (perform(conn, req, used, NULL, resp, err) < 0)
			return -1;
		if (resp->status != 401)
			return 0;
		if (attempt > 0)
			break;
		if (reauthenticate(conn, resp->www_authenticate, used, err) < 0) {
			registry_response_free(resp);
			return -1;
		}
		registry_response_free(resp);
		if (req->sink && store_writer_reset(req->sink, err) < 0)
			return -1;
	}
	registry_response_free(resp);
	return auth_required(conn->client, err);
}

/* ---- errors ---- */

int registry_error(berth_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	berth_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (err && *err)
		(*err)->code = code;
	return code > 0 ? -code : -1;
}

const char *registry_error_code(const registry_response *resp, char *buf, size_t size)
{
	json_auto_t *j = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
	const char *code = json_string_value(json_object_get(json_array_get(json_object_get(j, "errors"), 0), "code"));

	snprintf(buf, size, "%s", code ? code : "");
	return buf;
}

int registry_status_error(const registry_response *resp, const char *what, berth_error **err)
{
	json_auto_t *j = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
	json_t *first = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(first, "code"));
	const char *message = json_string_value(json_object_get(first, "message"));

	if (code || message)
		return berth_error_set(err, 0, "%s: HTTP %ld: %s%s%s", what, resp->status, code ? code : "",
				       code && message ? ": " : "", message ? message : "");
	return berth_error_set(err, 0, "%s: HTTP %ld", what, resp->status);
}

char *registry_path(const registry_client *c, const char *kind, const char *reference)
{
	char *out = NULL;

	return asprintf(&out, "/v2/%s/%s/%s", c->repository, kind, reference) < 0 ? NULL : out;
}

/* ---- connections ---- */

int registry_conn_init(registry_conn *conn, registry_client *c, berth_error **err)
{
	*conn = (registry_conn){ .client = c };
	conn->curl = curl_easy_init();
	if (conn->curl == NULL)
		return berth_error_set(err, ENOMEM, "curl_easy_init");
	return 0;
}

void registry_conn_cleanup(registry_conn *conn)
{
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	conn->curl = NULL;
}

/* ---- the client ---- */

static int append_file(const char *path, char **buf, size_t *len, berth_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	char *grown;

	if (fs_read_file(path, &data, &n, err) < 0)
		return -1;
	grown = realloc(*buf, *len + n + 2);
	if (grown == NULL)
		return berth_error_set(err, ENOMEM, "read \"%s\"", path);
	memcpy(grown + *len, data, n);
	*len += n;
	grown[(*len)++] = '\n';
	grown[*len] = '\0';
	*buf = grown;
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a > b && strcmp(s + a - b, suffix) == 0;
}

/* DIR's *.crt are CAs; a *.cert with its *.key is the client certificate
 * (the layout of /etc/containers/certs.d/HOST). */
static int load_cert_dir(registry_client *c, const char *dir, berth_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return berth_error_set(err, errno, "cert dir \"%s\"", dir);
	while ((e = readdir(d)) != NULL) {
		_cleanup_free_ char *path = fs_path_join(dir, e->d_name), *key = NULL;
		if (path == NULL)
			return berth_error_set(err, ENOMEM, "cert dir");
		if (has_suffix(e->d_name, ".crt")) {
			if (append_file(path, &c->ca_blob, &c->ca_len, err) < 0)
				return berth_error_wrap(err, "cert dir");
		} else if (has_suffix(e->d_name, ".cert") && c->client_cert == NULL) {
			if (asprintf(&key, "%.*s.key", (int)(strlen(path) - 5), path) < 0)
				return berth_error_set(err, ENOMEM, "cert dir");
			if (access(key, R_OK) < 0)
				return berth_error_set(err, errno, "cert dir: \"%s\" has no key \"%s\"", path, key);
			c->client_cert = move_ptr(path);
			c->client_key = move_ptr(key);
		}
	}
	return 0;
}

static int client_certs(registry_client *c, berth_error **err)
{
	static const char *const defaults[] = { "/etc/containers/certs.d", "/etc/docker/certs.d" };
	struct stat st;

	if (c->opts.cert_dir)
		return load_cert_dir(c, c->opts.cert_dir, err);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		_cleanup_free_ char *dir = fs_path_join(defaults[i], c->domain);
		if (dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return load_cert_dir(c, dir, err);
	}
	return 0;
}

static int client_credentials(registry_client *c, const auth_credentials *login, berth_error **err)
{
	_cleanup_free_ char *key = NULL;

	if (login) {
		c->creds.username = strdup(login->username);
		c->creds.password = strdup(login->password);
		if (c->creds.username == NULL || c->creds.password == NULL)
			return berth_error_set(err, ENOMEM, "credentials");
		c->have_creds = true;
		c->login = true;
		return 0;
	}
	if (c->opts.creds) {
		if (auth_parse_creds(c->opts.creds, &c->creds, err) < 0)
			return -1;
		c->have_creds = true;
		return 0;
	}
	if (c->repository ? asprintf(&key, "%s/%s", c->domain, c->repository) < 0 : (key = strdup(c->domain)) == NULL)
		return berth_error_set(err, ENOMEM, "credentials");
	return auth_lookup(c->opts.auth_file, key, &c->creds, &c->have_creds, err);
}

/* GET /v2/ over https, then over http when TLS verification is off and
 * https failed for another reason than an unknown host or a refused
 * connection. The error is the last attempt's. */
static int ping(registry_conn *conn, registry_response *resp, berth_error **err)
{
	registry_client *c = conn->client;
	static const char *const schemes[] = { "https", "http" };

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *url = NULL;
		registry_request req = { .method = "GET", .upload_fd = -1 };
		if (asprintf(&url, "%s://%s/v2/", schemes[i], c->host) < 0)
			return berth_error_set(err, ENOMEM, "ping");
		req.url = url;
		berth_error_free(err);
		if (perform(conn, &req, NULL, NULL, resp, err) == 0) {
			free(c->base);
			if (asprintf(&c->base, "%s://%s", schemes[i], c->host) < 0)
				return berth_error_set(err, ENOMEM, "ping");
			return 0;
		}
		berth_debug("registry: %s: %s", url, *err ? (*err)->msg : "failed");
		if (c->opts.tls_verify || (*err && ((*err)->code == EHOSTUNREACH || (*err)->code == ECONNREFUSED)))
			break;
	}
	return -1;
}

static int client_ping(registry_client *c, berth_error **err)
{
	registry_conn conn;
	registry_response resp = { 0 };
	auth_challenge ch = { 0 };
	int ret;

	if (registry_conn_init(&conn, c, err) < 0)
		return -1;
	ret = ping(&conn, &resp, err);
	if (ret == 0 && resp.status == 401) {
		if (resp.www_authenticate == NULL)
			ret = registry_error(err, EPROTO, "registry %s: 401 without WWW-Authenticate", c->domain);
		else if ((ret = auth_challenge_parse(resp.www_authenticate, &ch, err)) == 0 &&
			 (strcmp(ch.scheme, "basic") != 0 || c->have_creds))
			ret = authenticate_locked(&conn, &ch, err);
		else if (ret == 0) {
			c->challenge = ch; /* basic without credentials: a request will say so */
			ch = (auth_challenge){ 0 };
		}
	} else if (ret == 0 && !status_ok(resp.status)) {
		ret = registry_error(err, EPROTO, "registry %s: GET /v2/ answered HTTP %ld: not a registry?", c->domain,
				     resp.status);
	}
	auth_challenge_free(&ch);
	registry_response_free(&resp);
	registry_conn_cleanup(&conn);
	return ret;
}

int registry_client_open(const char *domain, const char *repository, bool push, const registry_options *opts,
			 const auth_credentials *login_creds, registry_client **out, berth_error **err)
{
	registry_client *c;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return berth_error_set(err, 0, "curl_global_init: %s", curl_easy_strerror(curl_init_result));
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return berth_error_set(err, ENOMEM, "registry client");
	pthread_mutex_init(&c->lock, NULL);
	c->opts = *opts;
	c->push = push;
	c->domain = strdup(domain);
	c->host = strdup(strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain);
	c->repository = repository ? strdup(repository) : NULL;
	if (c->domain == NULL || c->host == NULL || (repository && c->repository == NULL)) {
		registry_client_free(c);
		return berth_error_set(err, ENOMEM, "registry client");
	}
	if (client_credentials(c, login_creds, err) < 0 || client_certs(c, err) < 0 || client_ping(c, err) < 0) {
		registry_client_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int registry_client_verify_login(registry_client *c, registry_conn *conn, berth_error **err)
{
	registry_request req = { .method = "GET", .url = "/v2/", .upload_fd = -1 };
	registry_response resp = { 0 };
	int ret;

	if (c->challenge.scheme == NULL)
		return 0; /* the registry asks for nothing */
	if (!c->have_creds)
		return auth_required(c, err);
	ret = registry_do(conn, &req, &resp, err);
	if (ret == 0 && !status_ok(resp.status))
		ret = registry_status_error(&resp, "GET /v2/", err);
	registry_response_free(&resp);
	return ret;
}

void registry_client_free(registry_client *c)
{
	if (c == NULL)
		return;
	free(c->domain);
	free(c->host);
	free(c->base);
	free(c->repository);
	auth_credentials_free(&c->creds);
	free(c->ca_blob);
	free(c->client_cert);
	free(c->client_key);
	auth_challenge_free(&c->challenge);
	free(c->authorization);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
