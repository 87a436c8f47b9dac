/* The accomplice of the engine's CVE-2019-5736 tests
 * (tests/integration/engine-exe-guard.bats), outside the container and
 * outliving it: exe-thief --receive SOCK LOG STOP receives the fd that
 * exe-thief-interp sent from the container and tries to reopen it for
 * writing (/proc/self/fd/N, O_WRONLY|O_APPEND) until it succeeds or the
 * file STOP exists; writes to LOG what it received, then "WROTE" or the
 * last errno text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_listen.h"

static int recv_fd(int listener)
{
	char byte, buf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf) };
	struct cmsghdr *c;
	int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC), fd = -1;

	if (conn < 0 || recvmsg(conn, &msg, 0) <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	close(conn);
	return fd;
}

static int receive(const char *sock, const char *log, const char *stop)
{
	int listener = listen_on(sock), fd, w;
	char path[64], target[4096] = "";
	struct statvfs sv;
	FILE *out = fopen(log, "a");
	ssize_t n;

	if (listener < 0 || out == NULL)
		return 1;
	setvbuf(out, NULL, _IONBF, 0);
	fd = recv_fd(listener);
	if (fd < 0) {
		fprintf(out, "receive: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	fprintf(out, "received %s%s\n", target,
		fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY) ? " (read-only)" : "");
	for (;;) {
		int stopping = access(stop, F_OK) == 0;
		w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (w >= 0) {
			fprintf(out, "%s\n", write(w, "#PWNED", 6) == 6 ? "WROTE" : "write failed");
			return 0;
		}
		if (stopping)
			break;
		usleep(50000);
	}
	fprintf(out, "refused: %s\n", strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 || strcmp(argv[1], "--receive") != 0) {
		fprintf(stderr, "usage: exe-thief --receive SOCK LOG STOP\n");
		return 2;
	}
	return receive(argv[2], argv[3], argv[4]);
}
