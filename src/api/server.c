/* The API service: the listening socket (unix, loopback TCP, or systemd's
 * LISTEN_FDS), the libmicrohttpd daemon, the routes, the idle timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "api/route.h"
#include "api/routes.h"
#include "image/trust.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

typedef struct route {
	const char *method;
	const char *pattern;
	void (*handle)(api_request *r);
} route;

#define ROUTE_ENTRY(m, p, h) { m, p, h },
static const route routes[] = { API_ROUTES(ROUTE_ENTRY){ NULL, NULL, NULL } };

static atomic_int active_connections;
static atomic_long last_activity;
static int stop_pipe[2] = { -1, -1 };

static void params_free(api_request *r)
{
	for (int i = 0; i < 4; i++) {
		free(r->params[i]);
		r->params[i] = NULL;
	}
}

/* "/v1.41/containers/json" -> "/containers/json"; false (answered) for a
 * version not served. */
static bool strip_version(api_request *r, const char *url)
{
	unsigned major = 0, minor = 0;
	const char *rest = NULL;
	int v = api_url_version(url, &rest, &major, &minor);

	if (v > 0) {
		api_reply_error(r, 400, "client version %u.%u is too new. Maximum supported API version is %s", major,
				minor, API_VERSION);
		return false;
	}
	if (v < 0) {
		api_reply_error(r, 400, "client version %u.%u is too old. Minimum supported API version is %s", major,
				minor, API_MIN_VERSION);
		return false;
	}
	r->path = strdup(*rest ? rest : "/");
	return true;
}

static void dispatch(api_request *r, const char *url)
{
	bool path_known = false;

	if (!strip_version(r, url))
		return;
	if (r->path == NULL) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	for (const route *rt = routes; rt->method; rt++) {
		if (!api_route_match(rt->pattern, r->path, r->params)) {
			params_free(r);
			continue;
		}
		path_known = true;
		if (strcmp(rt->method, r->method) != 0) {
			params_free(r);
			continue;
		}
		berth_debug("api: %s %s", r->method, url);
		rt->handle(r);
		if (!r->answered)
			api_reply_error(r, 500, "no answer");
		return;
	}
	if (path_known)
		api_reply_error(r, 405, "%s %s: method not allowed", r->method, r->path);
	else
		api_reply_error(r, 404, "page not found: %s %s is not part of berth's API (see docs/api.md)", r->method,
				r->path);
}

/* URL without a /vN.NN prefix; NULL for a version not served (answered
 * by dispatch, at the end). */
static const char *unversioned(const char *url)
{
	unsigned major, minor;
	const char *rest = NULL;

	return api_url_version(url, &rest, &major, &minor) == 0 ? rest : NULL;
}

/* Bodies that are not read into memory: the tar of PUT
 * /containers/{id}/archive is streamed into the container, the context
 * of POST /build goes to a file. */
static void start_upload(api_request *r, const char *url)
{
	api_request probe = { .server = r->server, .conn = r->conn, .method = r->method };
	const char *path;

	url = unversioned(url);
	if (url == NULL)
		return;
	if (strcmp(r->method, "POST") == 0 && (strcmp(url, "/build") == 0 || strcmp(url, "/images/load") == 0)) {
		berth_error *e = NULL;
		r->body_fd = api_body_file_open(r->server, &e);
		if (r->body_fd < 0) {
			r->body_error = strdup(e && e->msg ? e->msg : "request body");
			berth_error_free(&e);
		}
		return;
	}
	if (strcmp(r->method, "PUT") != 0)
		return;
	if (api_route_match("/containers/{}/archive", url, probe.params)) {
		path = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "path");
		r->upload = api_upload_begin(r->server, probe.params[0], path);
	}
	params_free(&probe);
}

/* A piece of a body kept in a file (build, load); a failure is kept to be
 * answered at the end. */
static void body_to_file(api_request *r, const char *data, size_t len)
{
	while (len > 0 && r->body_error == NULL) {
		ssize_t n = write(r->body_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (asprintf(&r->body_error, "request body: write: %s", strerror(n < 0 ? errno : EIO)) < 0)
				r->body_error = NULL;
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	api_request *r = *req_cls;

	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->server = cls;
		r->conn = conn;
		r->method = method;
		r->body_fd = -1;
		*req_cls = r;
		if (r->server->tls && !api_tls_peer_verified(conn)) {
			r->refused = true;
			r->result = MHD_YES;
			api_reply_error(r, 403,
					"a client certificate signed by the service's CA (--tlscacert) is required");
			return r->result;
		}
		start_upload(r, url);
		return MHD_YES;
	}
	if (r->refused) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->upload) {
		if (*upload_data_size > 0) {
			api_upload_data(r->upload, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (!r->answered) {
			r->result = MHD_YES;
			api_upload_end(r, r->upload);
		}
		return r->result;
	}
	if (r->body_fd >= 0 && *upload_data_size > 0) {
		body_to_file(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!r->too_big && r->body_len + *upload_data_size <= API_BODY_MAX) {
			char *b = realloc(r->body, r->body_len + *upload_data_size + 1);
			if (b == NULL) {
				r->too_big = true;
			} else {
				memcpy(b + r->body_len, upload_data, *upload_data_size);
				r->body = b;
				r->body_len += *upload_data_size;
				r->body[r->body_len] = '\0';
			}
		} else {
			r->too_big = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	r->result = MHD_YES;
	if (r->too_big)
		api_reply_error(r, 413, "request body over %d bytes", API_BODY_MAX);
	else
		dispatch(r, url);
	return r->result;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	api_request *r = *req_cls;

	if (r == NULL)
		return;
	params_free(r);
	api_upload_free(r->upload);
	free(r->extra_value);
	if (r->body_fd >= 0)
		close(r->body_fd);
	free(r->body_error);
	free(r->path);
	free(r->body);
	free(r);
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&active_connections, 1);
	else
		atomic_fetch_sub(&active_connections, 1);
	atomic_store(&last_activity, (long)time(NULL));
}

static void on_stop_signal(int sig)
{
	int saved = errno;

	if (write(stop_pipe[1], "x", 1) < 0) {
	}
	errno = saved;
}

/* ---- listening ---- */

char *api_default_socket(bool rootless)
{
	char *path = NULL;
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (rootless && xdg && *xdg) {
		if (asprintf(&path, "%s/berth/docker.sock", xdg) < 0)
			return NULL;
		return path;
	}
	return strdup("/run/berth/docker.sock");
}

static bool is_loopback(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	bool ok = true;

	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		return false;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET)
			ok = ok && (ntohl(((struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr) >> 24) == 127;
		else if (a->ai_family == AF_INET6)
			ok = ok && IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr);
		else
			ok = false;
	}
	freeaddrinfo(res);
	return ok;
}

/* "tcp://HOST:PORT" -> HOST (heap, brackets of [::1] removed) and PORT. */
static int split_tcp(const char *addr, char **host, char **port, berth_error **err)
{
	const char *hp = addr + 6, *colon = strrchr(hp, ':');

	if (colon == NULL || colon == hp || colon[1] == '\0')
		return berth_error_request(err, EINVAL, "--listen %s: expected tcp://HOST:PORT", addr);
	if (*hp == '[' && colon[-1] == ']')
		*host = strndup(hp + 1, (size_t)(colon - hp - 2));
	else
		*host = strndup(hp, (size_t)(colon - hp));
	*port = strdup(colon + 1);
	if (*host == NULL || *port == NULL)
		return berth_error_set(err, ENOMEM, "--listen");
	return 0;
}

int api_options_validate(const api_options *o, berth_error **err)
{
	int given = (o->tls_ca != NULL) + (o->tls_cert != NULL) + (o->tls_key != NULL);
	bool tls = given == 3;

	if (given != 0 && given != 3)
		return berth_error_request(err, EINVAL,
					   "--tlscacert, --tlscert and --tlskey go together (client certificates are "
					   "always verified)");
	if (tls && (o->listen == NULL || strncmp(o->listen, "tcp://", 6) != 0))
		return berth_error_request(err, EINVAL, "--tlscacert/--tlscert/--tlskey: TLS is for --listen tcp://");
	if (o->timeout_s < 0)
		return berth_error_request(err, EINVAL, "--timeout %d: must be 0 or more seconds", o->timeout_s);
	if (o->listen == NULL || strncmp(o->listen, "unix://", 7) == 0) {
		if (o->listen && o->listen[7] != '/')
			return berth_error_request(err, EINVAL, "--listen %s: expected unix:///ABSOLUTE/PATH",
						   o->listen);
		if (o->listen && strlen(o->listen + 7) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return berth_error_request(err, EINVAL, "--listen %s: the path is too long", o->listen);
		return 0;
	}
	if (strncmp(o->listen, "tcp://", 6) == 0) {
		_cleanup_free_ char *host = NULL, *port = NULL;
		if (split_tcp(o->listen, &host, &port, err) < 0)
			return -1;
		if (tls)
			return 0;
		if (!o->insecure_loopback)
			return berth_error_request(
			    err, EINVAL,
			    "--listen %s: TCP without TLS is refused: give --tlscacert, --tlscert "
			    "and --tlskey, or --insecure-loopback on a loopback address",
			    o->listen);
		if (!is_loopback(host))
			return berth_error_request(
			    err, EINVAL, "--listen %s: --insecure-loopback serves loopback addresses only", o->listen);
		return 0;
	}
	return berth_error_request(err, EINVAL, "--listen %s: expected unix:///PATH or tcp://HOST:PORT", o->listen);
}

/* The group "berth" (made when missing, as docker's installer makes
 * "docker"); -1 when it cannot be had. */
static gid_t berth_group(void)
{
	struct group *g = getgrnam("berth");
	pid_t pid;
	int status;

	if (g)
		return g->gr_gid;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("groupadd", "groupadd", "--system", "berth", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return (gid_t)-1;
	g = getgrnam("berth");
	return g ? g->gr_gid : (gid_t)-1;
}

static int listen_unix(const char *path, bool rootless, berth_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	_cleanup_free_ char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	struct stat st;

	if (fd < 0)
		return berth_error_set(err, errno, "socket");
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return berth_error_set(err, errno, "mkdir \"%s\"", dir);
	}
	/* a socket left by a service that was killed goes; anything else stays */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return berth_error_request(err, EEXIST, "\"%s\" exists and is not a socket", path);
		unlink(path);
	}
	strcpy(sa.sun_path, path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return berth_error_set(err, errno, "bind \"%s\"", path);
	if (!rootless) {
		gid_t gid = berth_group();
		if (gid != (gid_t)-1 && chown(path, 0, gid) < 0)
			berth_debug("chown %s: %s", path, strerror(errno));
		if (chmod(path, gid != (gid_t)-1 ? 0660 : 0600) < 0)
			return berth_error_set(err, errno, "chmod \"%s\"", path);
	} else if (chmod(path, 0600) < 0) {
		return berth_error_set(err, errno, "chmod \"%s\"", path);
	}
	if (listen(fd, 128) < 0)
		return berth_error_set(err, errno, "listen \"%s\"", path);
	return move_fd(fd);
}

static int listen_tcp(const char *addr, berth_error **err)
{
	_cleanup_free_ char *host = NULL, *port = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
	int fd = -1, one = 1, rc;

	if (split_tcp(addr, &host, &port, err) < 0)
		return -1;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return berth_error_request(err, EINVAL, "--listen %s: %s", addr, gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		berth_error_set(err, errno, "listen on %s", addr);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* systemd's socket activation: the first fd of LISTEN_FDS (fd 3) when
 * LISTEN_PID is this process; -1 otherwise. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid() || atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(3, F_SETFD, FD_CLOEXEC);
	return 3;
}

static void serve_loop(const api_options *o)
{
	for (;;) {
		struct pollfd p = { .fd = stop_pipe[0], .events = POLLIN };
		if (poll(&p, 1, 1000) > 0)
			return;
		if (o->timeout_s > 0 && atomic_load(&active_connections) == 0 &&
		    time(NULL) - atomic_load(&last_activity) >= o->timeout_s) {
			berth_debug("api: idle for %d s, exiting", o->timeout_s);
			return;
		}
	}
}

int api_serve(const api_options *o, berth_error **err)
{
	api_server server = { .options = o, .tls = o->tls_ca != NULL };
	_cleanup_free_ char *socket_path = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	unsigned flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
	size_t len;
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct MHD_Daemon *d;
	int fd;

	if (api_options_validate(o, err) < 0)
		return -1;
	trust_prepare_environment(); /* before any thread: setenv */
	if (server.tls &&
	    (fs_read_file(o->tls_ca, &ca, &len, err) < 0 || fs_read_file(o->tls_cert, &cert, &len, err) < 0 ||
	     fs_read_file(o->tls_key, &key, &len, err) < 0))
		return berth_error_wrap(err, "TLS");
	if (engine_paths_init(&server.paths, o->store_root, o->run_root, err) < 0)
		return -1;
	fd = activated_socket();
	if (fd < 0 && o->listen && strncmp(o->listen, "tcp://", 6) == 0) {
		fd = listen_tcp(o->listen, err);
	} else if (fd < 0) {
		socket_path = o->listen ? strdup(o->listen + 7) : api_default_socket(o->rootless);
		fd = socket_path ? listen_unix(socket_path, o->rootless, err) : berth_error_set(err, ENOMEM, "socket");
	}
	if (fd < 0) {
		engine_paths_free(&server.paths);
		return -1;
	}
	if (pipe2(stop_pipe, O_CLOEXEC) < 0) {
		close(fd);
		engine_paths_free(&server.paths);
		return berth_error_set(err, errno, "pipe");
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	atomic_store(&last_activity, (long)time(NULL));
	/* with TLS, libmicrohttpd asks for a client certificate (the trust
	 * given) and on_request refuses a request without a valid one */
	if (server.tls)
		d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, &server, MHD_OPTION_LISTEN_SOCKET,
				     fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
				     on_connection, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
				     MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
				     MHD_OPTION_HTTPS_MEM_TRUST, ca, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &server, MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
				     on_connection, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
	if (d == NULL) {
		close(fd);
		engine_paths_free(&server.paths);
		return berth_error_set(
		    err, 0, "cannot start the HTTP service: %s",
		    api_microhttpd_error()
			?: (server.tls ? "libmicrohttpd refused the socket or the TLS certificate, key or CA"
				       : "libmicrohttpd refused the socket"));
	}
	fprintf(stderr, "berth: API %s listening on %s\n", API_VERSION, o->listen ? o->listen : socket_path);
	serve_loop(o);
	/* not MHD_stop_daemon: it would wait for every follow, wait and attach
	 * to end; the process exits and the containers run on */
	(void)d;
	close(fd);
	if (socket_path)
		unlink(socket_path);
	engine_paths_free(&server.paths);
	return 0;
}
