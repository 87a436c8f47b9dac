/* A UDP server and client for the service tests (tests/integration/
 * engine-service.bats), static so it runs in a busybox rootfs, whose nc
 * has no UDP:
 *
 *   udp-echo serve PORT TEXT   answers every datagram with TEXT, forever
 *   udp-echo ask IP PORT [FROM] sends one datagram (from local port FROM:
 *                              the same flow each time), prints the
 *                              answer; exit 1 after 2 s without one */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int serve(int port, const char *text)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("udp-echo: bind");
		return 1;
	}
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		char buf[512];

		if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len) < 0)
			continue;
		sendto(fd, text, strlen(text), 0, (struct sockaddr *)&peer, len);
	}
}

static int ask(const char *ip, int port, int from)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = htons((uint16_t)from) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[512];
	ssize_t n;

	if (fd >= 0 && from > 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	     bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0)) {
		perror("udp-echo: bind");
		return 1;
	}
	if (fd < 0 || inet_pton(AF_INET, ip, &addr.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || send(fd, "?", 1, 0) < 0) {
		perror("udp-echo: send");
		return 1;
	}
	if (poll(&p, 1, 2000) != 1 || (n = recv(fd, buf, sizeof(buf) - 1, 0)) < 0) {
		fprintf(stderr, "udp-echo: no answer from %s:%d\n", ip, port);
		return 1;
	}
	buf[n] = '\0';
	printf("%s\n", buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]), argv[3]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "ask") == 0)
		return ask(argv[2], atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 0);
	fprintf(stderr, "usage: udp-echo serve PORT TEXT | ask IP PORT [FROM]\n");
	return 2;
}
