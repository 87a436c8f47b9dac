/* A small HTTP server for bench/service.sh, static so it runs in a busybox
 * rootfs: one process, no fork per connection (busybox httpd forks one,
 * whose cost swings with the machine's load and drowns what a service hop
 * adds), so requests/s measure the network path more than the server.
 *
 *   http-fixed PORT [BYTES]   answers every request with 200 and BYTES
 *                             (default 512) of 'x', then closes the
 *                             connection (HTTP/1.0), forever */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	size_t body = argc > 2 ? strtoul(argv[2], NULL, 10) : 512;
	char *answer;
	int one = 1, fd, head;

	if (argc < 2 || body > (1u << 20)) {
		fprintf(stderr, "usage: http-fixed PORT [BYTES, at most 1 MiB]\n");
		return 2;
	}
	addr.sin_port = htons((uint16_t)atoi(argv[1]));
	answer = malloc(body + 128);
	if (answer == NULL)
		return 1;
	head =
	    snprintf(answer, 128, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", body);
	memset(answer + head, 'x', body);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1024) < 0) {
		perror("http-fixed: listen");
		return 1;
	}
	for (;;) {
		char buf[4096];
		size_t have = 0;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		struct timeval limit = { .tv_sec = 2 };

		if (c < 0)
			continue;
		/* a client that sends nothing does not hold the only process */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
		/* the request's head, up to its empty line */
		while (have < sizeof(buf) - 1) {
			ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = '\0';
			if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
				break;
		}
		if (have > 0 && write(c, answer, (size_t)head + body) < 0)
			perror("http-fixed: write");
		close(c);
	}
}
