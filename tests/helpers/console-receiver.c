/* console-receiver: the other end of --console-socket, for the integration
 * tests (like runc's recvtty).
 *
 *   console-receiver [-i INPUT] [-n NAME_FILE] SOCKET_PATH
 *
 * Listens on the unix socket SOCKET_PATH, accepts one connection, receives
 * the pty master over SCM_RIGHTS, writes INPUT (if given) into the pty and
 * copies what the pty outputs to stdout until every peer is closed. With -n
 * it writes the peer's name ("/dev/pts/N", as numbered in the container's
 * devpts) to NAME_FILE once the master arrives. The socket is removed when
 * the connection has been accepted. Exit status: 0 when a master was
 * received, 1 otherwise. */
#include <errno.h>
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
	fprintf(stderr, "console-receiver: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Receives one fd; the runtime sends a short payload with it. */
static int receive_fd(int conn)
{
	char data[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)
	};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			return fd;
		}
	}
	errno = EBADMSG;
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_peer_name(int master, const char *path)
{
	unsigned int n;
	FILE *f;

	if (ioctl(master, TIOCGPTN, &n) < 0)
		return -1;
	f = fopen(path, "we");
	if (f == NULL)
		return -1;
	fprintf(f, "/dev/pts/%u\n", n);
	return fclose(f);
}

int main(int argc, char **argv)
{
	const char *input = NULL, *name_file = NULL;
	int opt, sock, conn, master;

	while ((opt = getopt(argc, argv, "i:n:")) != -1) {
		switch (opt) {
		case 'i':
			input = optarg;
			break;
		case 'n':
			name_file = optarg;
			break;
		default:
			fprintf(stderr, "usage: console-receiver [-i INPUT] [-n NAME_FILE] SOCKET_PATH\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: console-receiver [-i INPUT] [-n NAME_FILE] SOCKET_PATH\n");
		return 2;
	}
	sock = listen_on(argv[optind]);
	if (sock < 0)
		return fail("listen");
	do
		conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return fail("accept");
	close(sock);
	unlink(argv[optind]);
	master = receive_fd(conn);
	if (master < 0)
		return fail("receive the pty master");
	close(conn);
	if (name_file != NULL && write_peer_name(master, name_file) < 0)
		return fail("write the pty name");
	if (input != NULL && write_all(master, input, strlen(input)) < 0)
		return fail("write to the pty");
	for (;;) {
		char buf[4096];
		ssize_t n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		/* EIO: the last peer of the pty was closed */
		if (n <= 0)
			break;
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			return fail("write to stdout");
	}
	close(master);
	return 0;
}
