#include "kube/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int timeout_ms(json_t *probe)
{
	json_t *t = json_object_get(probe, "timeoutSeconds");
	return (t ? (int)json_integer_value(t) : 1) * 1000;
}

bool kube_exec_in(const char *runtime, const char *runtime_root, const char *id, json_t *command, int timeout_ms)
{
	size_t n = json_array_size(command), i;
	_cleanup_free_ const char **argv = calloc(n + 6, sizeof(char *));
	long long deadline = now_ms() + timeout_ms;
	int status;
	pid_t pid;

	if (argv == NULL || n == 0 || runtime == NULL || id == NULL)
		return false;
	argv[0] = runtime;
	argv[1] = "--root";
	argv[2] = runtime_root;
	argv[3] = "exec";
	argv[4] = id;
	for (i = 0; i < n; i++)
		argv[5 + i] = json_string_value(json_array_get(command, i));
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		setpgid(0, 0);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (r < 0 && errno != EINTR)
			return false;
		if (now_ms() >= deadline) {
			/* the runtime's group; the process in the container is
			 * reaped by the container's init */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return false;
		}
		usleep(10000);
	}
}

static bool exec_probe(json_t *probe, json_t *exec, json_t *ctr, const char *runtime_root)
{
	return kube_exec_in(json_string_value(json_object_get(ctr, "runtime")), runtime_root,
			    json_string_value(json_object_get(ctr, "id")), json_object_get(exec, "command"),
			    timeout_ms(probe));
}

/* The port of a probe action: a number or the name of a container port. */
static int action_port(json_t *action, json_t *spec)
{
	json_t *port = json_object_get(action, "port"), *p;
	size_t i;

	if (json_is_integer(port))
		return (int)json_integer_value(port);
	json_array_foreach(json_object_get(spec, "ports"), i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")) ?: "", json_string_value(port) ?: "") == 0)
			return (int)json_integer_value(json_object_get(p, "containerPort"));
	return atoi(json_string_value(port) ?: "0");
}

/* A connected TCP socket to HOST:PORT within the deadline, or -1. */
static int connect_to(const char *host, int port, long long deadline)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd pfd;
	int fd, soerr = 0;
	socklen_t len = sizeof(soerr);

	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &in.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0)) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool tcp_probe(json_t *probe, json_t *action, json_t *spec, const char *pod_ip)
{
	const char *host = json_string_value(json_object_get(action, "host")) ?: pod_ip;
	int fd = host ? connect_to(host, action_port(action, spec), now_ms() + timeout_ms(probe)) : -1;

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool http_probe(json_t *probe, json_t *action, json_t *spec, const char *pod_ip)
{
	const char *host = json_string_value(json_object_get(action, "host")) ?: pod_ip;
	const char *path = json_string_value(json_object_get(action, "path")) ?: "/";
	long long deadline = now_ms() + timeout_ms(probe);
	_cleanup_close_ int fd = host ? connect_to(host, action_port(action, spec), deadline) : -1;
	char request[2048], reply[64];
	size_t got = 0;
	json_t *h;
	size_t i;
	int len, code;

	if (fd < 0 || strcmp(json_string_value(json_object_get(action, "scheme")) ?: "HTTP", "HTTP") != 0)
		return false;
	len = snprintf(request, sizeof(request), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: kube-probe/berth\r\n",
		       path, host);
	json_array_foreach(json_object_get(action, "httpHeaders"), i, h)
		if (len > 0 && (size_t)len < sizeof(request))
			len += snprintf(request + len, sizeof(request) - (size_t)len, "%s: %s\r\n",
					json_string_value(json_object_get(h, "name")),
					json_string_value(json_object_get(h, "value")));
	if (len < 0 || (size_t)len + 3 > sizeof(request))
		return false;
	len += snprintf(request + len, sizeof(request) - (size_t)len, "\r\n");
	if (send(fd, request, (size_t)len, MSG_NOSIGNAL) != len)
		return false;
	while (got < sizeof(reply) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		long long left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
			return false;
		n = recv(fd, reply + got, sizeof(reply) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(reply, '\n', got))
			break;
	}
	reply[got] = '\0';
	if (sscanf(reply, "HTTP/%*d.%*d %d", &code) != 1)
		return false;
	return code >= 200 && code < 400;
}

static bool network_probe(json_t *probe, json_t *spec, const char *pod_ip)
{
	json_t *action;

	if ((action = json_object_get(probe, "httpGet")) != NULL)
		return http_probe(probe, action, spec, pod_ip);
	if ((action = json_object_get(probe, "tcpSocket")) != NULL)
		return tcp_probe(probe, action, spec, pod_ip);
	return true;
}

/* network_probe from inside the network namespace NETNS, in a child (a
 * rootless controller could not come back to its own namespace). */
static bool network_probe_in(json_t *probe, json_t *spec, const char *pod_ip, const char *netns)
{
	long long deadline = now_ms() + timeout_ms(probe) + 1000;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open(netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(2);
		/* pasta gives the pod no address of its own that berth knows */
		_exit(network_probe(probe, spec, pod_ip ? pod_ip : "127.0.0.1") ? 0 : 1);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if ((r < 0 && errno != EINTR) || now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return false;
		}
		usleep(2000);
	}
}

bool kube_probe_run(json_t *probe, json_t *spec, json_t *ctr, const char *pod_ip, const char *netns,
		    const char *runtime_root)
{
	json_t *action;

	if ((action = json_object_get(probe, "exec")) != NULL)
		return exec_probe(probe, action, ctr, runtime_root);
	return netns ? network_probe_in(probe, spec, pod_ip, netns) : network_probe(probe, spec, pod_ip);
}
