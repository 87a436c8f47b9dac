/* seccomp-agent: the other end of linux.seccomp.listenerPath, for the
 * integration tests.
 *
 *   seccomp-agent [-e ERRNO | -v VALUE] [-n COUNT] [-s STATE_FILE] SOCKET_PATH
 *
 * Listens on the unix socket SOCKET_PATH, accepts one connection, receives
 * the container state JSON (the payload) and the seccomp notify fd (in
 * SCM_RIGHTS), writes the JSON to STATE_FILE (default: stdout), then answers
 * COUNT (default 1) notifications: with -e, the syscall fails with ERRNO;
 * with -v, it is not run and returns VALUE (a fake success). One line per
 * notification goes to stdout: "syscall NR pid PID". Exit status: 0 when
 * COUNT notifications were answered, 1 otherwise. */
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_listen.h"

static int fail(const char *what)
{
	fprintf(stderr, "seccomp-agent: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Reads the whole state (until the runtime closes) and the fd sent with it. */
static int receive_state(int conn, char *state, size_t size, int *notify_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	size_t used = 0;

	*notify_fd = -1;
	for (;;) {
		struct iovec iov = { .iov_base = state + used, .iov_len = size - 1 - used };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct cmsghdr *cmsg;
		ssize_t n;

		if (*notify_fd < 0) {
			msg.msg_control = control.buf;
			msg.msg_controllen = sizeof(control.buf);
		}
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (cmsg = msg.msg_control ? CMSG_FIRSTHDR(&msg) : NULL; cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
			if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
				memcpy(notify_fd, CMSG_DATA(cmsg), sizeof(int));
		if (n == 0 || used + n >= size - 1)
			break;
		used += n;
	}
	state[used] = '\0';
	if (*notify_fd < 0) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char state[1 << 16];
	const char *state_file = NULL;
	long answer_errno = -1, answer_value = 0;
	int count = 1, answered = 0, opt, sock, conn, notify_fd;

	while ((opt = getopt(argc, argv, "e:v:n:s:")) != -1) {
		switch (opt) {
		case 'e':
			answer_errno = atol(optarg);
			break;
		case 'v':
			answer_value = atol(optarg);
			answer_errno = 0;
			break;
		case 'n':
			count = atoi(optarg);
			break;
		case 's':
			state_file = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: seccomp-agent [-e ERRNO | -v VALUE] [-n COUNT] [-s STATE_FILE] SOCKET_PATH\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: seccomp-agent [-e ERRNO | -v VALUE] [-n COUNT] [-s STATE_FILE] SOCKET_PATH\n");
		return 2;
	}
	if (answer_errno < 0)
		answer_errno = EPERM;
	sock = listen_on(argv[optind]);
	if (sock < 0)
		return fail("listen");
	conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return fail("accept");
	unlink(argv[optind]);
	close(sock);
	if (receive_state(conn, state, sizeof(state), &notify_fd) < 0)
		return fail("receive the state and the notify fd");
	close(conn);
	if (state_file != NULL) {
		FILE *f = fopen(state_file, "w");
		if (f == NULL)
			return fail(state_file);
		fputs(state, f);
		fclose(f);
	} else {
		printf("%s\n", state);
	}
	fflush(stdout);

	while (answered < count) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		struct pollfd p = { .fd = notify_fd, .events = POLLIN };

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll");
		}
		if (!(p.revents & POLLIN))
			break; /* every process of the filter is gone */
		memset(&req, 0, sizeof(req));
		if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			return fail("SECCOMP_IOCTL_NOTIF_RECV");
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.error = answer_errno ? (int)-answer_errno : 0;
		resp.val = answer_errno ? 0 : answer_value;
		if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
			return fail("SECCOMP_IOCTL_NOTIF_SEND");
		printf("syscall %d pid %u\n", req.data.nr, req.pid);
		fflush(stdout);
		answered++;
	}
	return answered == count ? 0 : 1;
}
