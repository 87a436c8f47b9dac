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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- runs that do not block */

typedef enum { JOB_DONE, JOB_CONNECT, JOB_SEND, JOB_RECEIVE, JOB_CHILD } job_phase;

struct kube_probe_job {
	job_phase phase;
	bool http, passed;
	int fd;	    /* the socket, or the child's pidfd (-1 without one) */
	pid_t pid;  /* the child (exec, or a connection from the pod's netns) */
	bool group; /* kill the child's process group (exec) */
	long long deadline;
	char request[2048];
	size_t request_len, sent;
	char reply[64];
	size_t got;
};

static int probe_timeout_ms(json_t *probe)
{
	json_t *t = json_object_get(probe, "timeoutSeconds");
	return (t ? (int)json_integer_value(t) : 1) * 1000;
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

static void job_finish(kube_probe_job *j, bool passed)
{
	if (j->pid <= 0 && j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
	}
	j->phase = JOB_DONE;
	j->passed = passed;
}

/* The HTTP/1.0 request of an httpGet action into J; false when it does
 * not fit. */
static bool http_request(kube_probe_job *j, json_t *action, const char *host)
{
	const char *path = json_string_value(json_object_get(action, "path")) ?: "/";
	size_t size = sizeof(j->request);
	json_t *h;
	size_t i;
	int len;

	len = snprintf(j->request, size, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: kube-probe/berth\r\n", path, host);
	json_array_foreach(json_object_get(action, "httpHeaders"), i, h)
		if (len > 0 && (size_t)len < size)
			len += snprintf(j->request + len, size - (size_t)len, "%s: %s\r\n",
					json_string_value(json_object_get(h, "name")),
					json_string_value(json_object_get(h, "value")));
	if (len < 0 || (size_t)len + 3 > size)
		return false;
	len += snprintf(j->request + len, size - (size_t)len, "\r\n");
	j->request_len = (size_t)len;
	return true;
}

/* Starts the connection of an httpGet or tcpSocket action from here. */
static void network_start(kube_probe_job *j, json_t *probe, const kube_probe_target *t, const char *pod_ip)
{
	json_t *action = json_object_get(probe, "httpGet") ?: json_object_get(probe, "tcpSocket");
	const char *host = json_string_value(json_object_get(action, "host")) ?: pod_ip;
	int port = action ? action_port(action, t->spec) : 0;
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	j->http = json_object_get(probe, "httpGet") != NULL;
	if (action == NULL) { /* no action of ours: exec is started elsewhere */
		job_finish(j, true);
		return;
	}
	if (host == NULL || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &in.sin_addr) != 1 ||
	    (j->http && (strcmp(json_string_value(json_object_get(action, "scheme")) ?: "HTTP", "HTTP") != 0 ||
			 !http_request(j, action, host)))) {
		job_finish(j, false);
		return;
	}
	j->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd < 0) {
		job_finish(j, false);
		return;
	}
	if (connect(j->fd, (struct sockaddr *)&in, sizeof(in)) == 0 || errno == EINPROGRESS)
		j->phase = JOB_CONNECT;
	else
		job_finish(j, false);
}

/* One step of a connection: as far as it goes without blocking. */
static void network_step(kube_probe_job *j)
{
	int soerr = 0, code;
	socklen_t len = sizeof(soerr);
	ssize_t n;

	if (j->phase == JOB_CONNECT) {
		struct pollfd p = { .fd = j->fd, .events = POLLOUT };
		if (poll(&p, 1, 0) != 1)
			return;
		if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
			job_finish(j, false);
			return;
		}
		if (!j->http) {
			job_finish(j, true);
			return;
		}
		j->phase = JOB_SEND;
	}
	if (j->phase == JOB_SEND) {
		n = send(j->fd, j->request + j->sent, j->request_len - j->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			job_finish(j, false);
			return;
		}
		j->sent += (size_t)n;
		if (j->sent < j->request_len)
			return;
		j->phase = JOB_RECEIVE;
	}
	while (j->got < sizeof(j->reply) - 1 && !memchr(j->reply, '\n', j->got)) {
		n = recv(j->fd, j->reply + j->got, sizeof(j->reply) - 1 - j->got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		j->got += (size_t)n;
	}
	j->reply[j->got] = '\0';
	job_finish(j, sscanf(j->reply, "HTTP/%*d.%*d %d", &code) == 1 && code >= 200 && code < 400);
}

/* A blocking run of an httpGet or tcpSocket action (in the child that
 * joined the pod's network namespace). */
static bool network_run(json_t *probe, const kube_probe_target *t, const char *pod_ip, long long deadline)
{
	kube_probe_job j = { .fd = -1, .pid = -1, .deadline = deadline };

	network_start(&j, probe, t, pod_ip);
	while (j.phase != JOB_DONE) {
		struct pollfd p;
		long long left = deadline - now_ms();
		kube_probe_job_pollfd(&j, &p);
		if (left <= 0 || poll(&p, 1, (int)left) < 0) {
			job_finish(&j, false);
			break;
		}
		network_step(&j);
	}
	return j.passed;
}

/* The child of an exec probe: the runtime's exec with nothing attached. */
static void exec_child(json_t *command, const kube_probe_target *t)
{
	size_t n = json_array_size(command), i;
	const char **argv = calloc(n + 6, sizeof(char *));
	int null = open("/dev/null", O_RDWR);

	if (argv == NULL || n == 0 || t->runtime == NULL || t->id == NULL)
		_exit(127);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	setpgid(0, 0);
	argv[0] = t->runtime;
	argv[1] = "--root";
	argv[2] = t->runtime_root;
	argv[3] = "exec";
	argv[4] = t->id;
	for (i = 0; i < n; i++)
		argv[5 + i] = json_string_value(json_array_get(command, i));
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

static void child_start(kube_probe_job *j, json_t *probe, const kube_probe_target *t)
{
	json_t *exec = json_object_get(probe, "exec");

	j->pid = fork();
	if (j->pid < 0) {
		job_finish(j, false);
		return;
	}
	if (j->pid == 0) {
		int fd;
		if (exec)
			exec_child(json_object_get(exec, "command"), t);
		fd = open(t->netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(2);
		/* pasta gives the pod no address of its own that berth knows */
		_exit(network_run(probe, t, t->pod_ip ? t->pod_ip : "127.0.0.1", j->deadline) ? 0 : 1);
	}
	if (exec) {
		j->group = true;
		setpgid(j->pid, j->pid); /* before the child does, if it has not yet */
	}
	j->fd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	j->phase = JOB_CHILD;
}

static void child_kill(kube_probe_job *j)
{
	int status;

	if (j->pid <= 0)
		return;
	/* the runtime's group; the process in the container is reaped by
	 * the container's init */
	if (j->group)
		kill(-j->pid, SIGKILL);
	kill(j->pid, SIGKILL);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	j->pid = -1;
}

static void child_step(kube_probe_job *j)
{
	int status;
	pid_t r = waitpid(j->pid, &status, WNOHANG);

	if (r == 0 || (r < 0 && errno == EINTR))
		return;
	j->pid = -1;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	job_finish(j, r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

kube_probe_job *kube_probe_job_start(json_t *probe, const kube_probe_target *t, long long now)
{
	kube_probe_job *j = calloc(1, sizeof(*j));
	bool exec = json_object_get(probe, "exec") != NULL;

	if (j == NULL)
		return NULL;
	j->fd = -1;
	j->pid = -1;
	/* the child in a netns gets a second to start and join it */
	j->deadline = now + probe_timeout_ms(probe) + (!exec && t->netns ? 1000 : 0);
	if (exec || t->netns)
		child_start(j, probe, t);
	else
		network_start(j, probe, t, t->pod_ip);
	return j;
}

void kube_probe_job_pollfd(const kube_probe_job *j, struct pollfd *p)
{
	*p = (struct pollfd){ .fd = j->phase == JOB_DONE ? -1 : j->fd, .events = POLLIN };
	if (j->phase == JOB_CONNECT || j->phase == JOB_SEND)
		p->events = POLLOUT;
}

long long kube_probe_job_wake(const kube_probe_job *j)
{
	if (j->phase == JOB_DONE)
		return 0;
	if (j->phase == JOB_CHILD && j->fd < 0 && now_ms() + 10 < j->deadline)
		return now_ms() + 10; /* no pidfd (an old kernel): look every 10 ms */
	return j->deadline;
}

int kube_probe_job_step(kube_probe_job *j, long long now)
{
	if (j->phase == JOB_CHILD)
		child_step(j);
	else if (j->phase != JOB_DONE)
		network_step(j);
	if (j->phase != JOB_DONE && now >= j->deadline) {
		child_kill(j);
		if (j->fd >= 0)
			close(j->fd);
		j->fd = -1;
		job_finish(j, false);
	}
	if (j->phase != JOB_DONE)
		return KUBE_PROBE_RUNNING;
	return j->passed ? KUBE_PROBE_PASSED : KUBE_PROBE_FAILED;
}

void kube_probe_job_free(kube_probe_job *j)
{
	if (j == NULL)
		return;
	child_kill(j);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

void kube_probe_job_forget(kube_probe_job *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

bool kube_exec_in(const char *runtime, const char *runtime_root, const char *id, json_t *command, int timeout_ms)
{
	kube_probe_target t = { .runtime = runtime, .id = id, .runtime_root = runtime_root };
	long long deadline = now_ms() + timeout_ms;
	int status;
	pid_t pid;

	if (json_array_size(command) == 0 || runtime == NULL || id == NULL)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		exec_child(command, &t);
	setpgid(pid, pid);
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
