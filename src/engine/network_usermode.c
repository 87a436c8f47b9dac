/* User-mode networking for rootless containers: pasta, else slirp4netns
 * (network.h, docs/networking.md). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/network_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/proc.h"

/* A helper exec'd from a process that ignores SIGPIPE or blocks signals (a
 * monitor, the kube controller) would inherit both: pasta of Debian 12
 * then fails ("Couldn't install signal handlers": it takes signal()'s
 * return of SIG_IGN for an error), and a blocked SIGTERM would not stop
 * it. */
static void helper_signals_default(void)
{
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- rootless: pasta ---- */

#define PASTA_BINARY "pasta"

/* "-t 8080:80" style arguments of PORTS for pasta, appended to ARGV. */
static int pasta_port_args(const net_port *ports, size_t n, char **argv, size_t *argc)
{
	bool tcp = false, udp = false;

	for (size_t i = 0; i < n; i++) {
		char *spec = NULL;
		bool is_udp = strcmp(ports[i].proto, "udp") == 0;
		if (asprintf(&spec, "%s%s%u:%u", ports[i].host_ip, ports[i].host_ip[0] ? "/" : "", ports[i].host_port,
			     ports[i].ctr_port) < 0)
			return -1;
		argv[(*argc)++] = strdup(is_udp ? "-u" : "-t");
		argv[(*argc)++] = spec;
		tcp |= !is_udp;
		udp |= is_udp;
	}
	if (!tcp) {
		argv[(*argc)++] = strdup("-t");
		argv[(*argc)++] = strdup("none");
	}
	if (!udp) {
		argv[(*argc)++] = strdup("-u");
		argv[(*argc)++] = strdup("none");
	}
	return 0;
}

pid_t network_pasta_start(const char *nspath, const char *pidfile, const char *ifname, bool config_net,
			  const net_port *ports, size_t n_ports, berth_error **err)
{
	char **argv = calloc(24 + 2 * n_ports, sizeof(char *)); /* 15 fixed, 4 "none", NULL */
	size_t argc = 0;
	int errpipe[2] = { -1, -1 }, status;
	pid_t child;
	char msg[4096] = "", *last = NULL;
	ssize_t len = 0;
	_cleanup_free_ char *text = NULL;

	if (argv == NULL)
		return berth_error_set(err, ENOMEM, "pasta");
	argv[argc++] = strdup(PASTA_BINARY);
	if (config_net)
		argv[argc++] = strdup("--config-net");
	argv[argc++] = strdup("--quiet");
	/* this pasta drops to nobody when started as uid 0, even of a user
	 * namespace, and then cannot enter the container's namespace */
	argv[argc++] = strdup("--runas");
	argv[argc++] = strdup("0:0");
	argv[argc++] = strdup("--ns-ifname");
	argv[argc++] = strdup(ifname);
	argv[argc++] = strdup("--netns");
	argv[argc++] = strdup(nspath);
	argv[argc++] = strdup("--pid");
	argv[argc++] = strdup(pidfile);
	argv[argc++] = strdup("-T");
	argv[argc++] = strdup("none");
	argv[argc++] = strdup("-U");
	argv[argc++] = strdup("none");
	if (pasta_port_args(ports, n_ports, argv, &argc) < 0 || pipe2(errpipe, O_CLOEXEC) < 0) {
		strv_free(argv);
		return berth_error_set(err, errno ? errno : ENOMEM, "pasta");
	}
	child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		helper_signals_default();
		dup2(null, 0);
		dup2(null, 1);
		dup2(errpipe[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	strv_free(argv);
	close(errpipe[1]);
	if (child < 0) {
		close(errpipe[0]);
		return berth_error_set(err, errno, "fork pasta");
	}
	/* pasta's first process exits once the namespace is set up and its
	 * daemon runs (whose stderr is /dev/null by then) */
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	fcntl(errpipe[0], F_SETFL, O_NONBLOCK);
	len = read(errpipe[0], msg, sizeof(msg) - 1);
	close(errpipe[0]);
	msg[len > 0 ? len : 0] = '\0';
	/* its last line says why; it also complains that syslog is missing */
	for (char *l = strtok(msg, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, "Failed to send ", 15) != 0 || strstr(l, "syslog") == NULL)
			last = l;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return berth_error_set(err, EIO, "pasta (rootless networking) failed: %s",
				       last ? last : "no message (is the passt package installed?)");
	if (fs_read_file(pidfile, &text, NULL, err) < 0)
		return berth_error_wrap(err, "pasta pid file");
	return (pid_t)strtol(text, NULL, 10);
}

int network_setup_pasta(const engine_paths *p, container *c, const network_request *r, json_t *settings,
			berth_error **err)
{
	_cleanup_free_ char *nspath = NULL, *pidfile = record_path(c, "pasta.pid");
	_cleanup_free_ net_port *ports = NULL;
	size_t n_ports = 0;
	pid_t pid;

	if (pidfile == NULL)
		return berth_error_set(err, ENOMEM, "network");
	if (network_collect_ports(r, &ports, &n_ports, err) < 0 ||
	    (nspath = network_netns_make(p, c, settings, err)) == NULL)
		return -1;
	pid = network_pasta_start(nspath, pidfile, "eth0", true, ports, n_ports, err);
	if (pid < 0)
		return -1;
	json_object_set_new(settings, "HelperPid", json_integer(pid));
	json_object_set_new(settings, "HelperStart", json_integer((json_int_t)proc_pid_start_time(pid)));
	json_object_set_new(settings, "Ports", network_ports_json(ports, n_ports, ""));
	return 0;
}

/* ---- rootless fallback: slirp4netns ---- */

#define SLIRP_GUEST "10.0.2.100" /* its address in the namespace (--configure) */

/* One request on slirp4netns' API socket; its answer must not be an error. */
static int slirp_api(const char *sock, const char *request, berth_error **err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char reply[512];
	ssize_t n;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(sock) >= sizeof(a.sun_path))
		return berth_error_set(err, ENAMETOOLONG, "slirp4netns API socket %s", sock);
	strcpy(a.sun_path, sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request))
		return berth_error_set(err, errno, "slirp4netns API %s", sock);
	shutdown(fd, SHUT_WR);
	n = read(fd, reply, sizeof(reply) - 1);
	reply[n > 0 ? n : 0] = '\0';
	if (n <= 0 || strstr(reply, "\"error\""))
		return berth_error_set(err, EIO, "slirp4netns: %s: %s", request, n > 0 ? reply : "no answer");
	return 0;
}

/* Starts slirp4netns for NSPATH in a session of its own and waits until it
 * configured tap0; then adds the port forwards. Returns its pid. */
static pid_t start_slirp(const char *nspath, const char *sock, const net_port *ports, size_t n_ports, berth_error **err)
{
	int ready[2];
	char c = 0, readyfd[16];
	struct pollfd pfd;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return berth_error_set(err, errno, "slirp4netns: pipe");
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		helper_signals_default();
		setsid();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		fcntl(ready[1], F_SETFD, 0);
		snprintf(readyfd, sizeof(readyfd), "%d", ready[1]);
		execlp("slirp4netns", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
		       "--netns-type=path", "--ready-fd", readyfd, "--api-socket", sock, nspath, "eth0", (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	if (pid < 0) {
		close(ready[0]);
		return berth_error_set(err, errno, "fork slirp4netns");
	}
	pfd = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return berth_error_set(err, EIO,
				       "slirp4netns did not come up (is it installed? is /dev/net/tun usable?)");
	}
	close(ready[0]);
	for (size_t i = 0; i < n_ports; i++) {
		char req[256];
		snprintf(req, sizeof(req),
			 "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"%s\", \"host_addr\": \"%s\", "
			 "\"host_port\": %u, \"guest_addr\": \"" SLIRP_GUEST "\", \"guest_port\": %u}}",
			 ports[i].proto, ports[i].host_ip[0] ? ports[i].host_ip : "0.0.0.0", ports[i].host_port,
			 ports[i].ctr_port);
		if (slirp_api(sock, req, err) < 0) {
			kill(pid, SIGKILL);
			return -1;
		}
	}
	/* not reaped here: it outlives this command, as pasta does */
	return pid;
}

int network_setup_slirp(const engine_paths *p, container *c, const network_request *r, json_t *settings,
			berth_error **err)
{
	_cleanup_free_ char *nspath = NULL, *sock = NULL;
	_cleanup_free_ net_port *ports = NULL;
	size_t n_ports = 0;
	pid_t pid;

	if (network_collect_ports(r, &ports, &n_ports, err) < 0 ||
	    (nspath = network_netns_make(p, c, settings, err)) == NULL)
		return -1;
	/* its API socket, beside the namespace (a short name: sun_path) */
	if (asprintf(&sock, "%s/netns/slirp-%.12s.sock", p->run_root, c->id) < 0)
		return berth_error_set(err, ENOMEM, "network");
	pid = start_slirp(nspath, sock, ports, n_ports, err);
	unlink(sock); /* the forwards are set; nothing else talks to it */
	if (pid < 0)
		return -1;
	json_object_set_new(settings, "HelperPid", json_integer(pid));
	json_object_set_new(settings, "HelperStart", json_integer((json_int_t)proc_pid_start_time(pid)));
	json_object_set_new(settings, "IPAddress", json_string(SLIRP_GUEST));
	json_object_set_new(settings, "Ports", network_ports_json(ports, n_ports, SLIRP_GUEST));
	return 0;
}
