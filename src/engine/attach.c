#include "engine/attach.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

int attach_listen(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	unlink(ATTACH_SOCKET);
	strcpy(addr.sun_path, ATTACH_SOCKET);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 8) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int attach_serve(int listen_fd, int input, bool tty)
{
	int served = 0;

	char data[1] = { input < 0 ? 'N' : tty ? 'T' : 'P' }, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { data, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int conn;

	while ((conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		if (input >= 0) {
			msg.msg_control = cbuf;
			msg.msg_controllen = sizeof(cbuf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &input, sizeof(int));
		}
		/* one small message on a fresh socket: it fits the buffer */
		if (sendmsg(conn, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) > 0 && input >= 0)
			served++;
		close(conn);
	}
	return served;
}

int attach_connect(const container *c, int *input, bool *tty, berth_error **err)
{
	_cleanup_close_ int dirfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC), sock = -EBADF;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char data[1] = { 0 }, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	*input = -1;
	*tty = false;
	if (dirfd < 0)
		return berth_error_set(err, errno, "attach %s", c->name);
	/* the store path may be longer than sun_path: through the fd */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dirfd, ATTACH_SOCKET);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return berth_error_set(err, errno, "attach %s: its monitor does not answer", c->name);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return berth_error_set(err, errno ? errno : EPIPE, "attach %s: no answer from its monitor", c->name);
	if ((cm = CMSG_FIRSTHDR(&msg)) != NULL && cm->cmsg_type == SCM_RIGHTS)
		memcpy(input, CMSG_DATA(cm), sizeof(int));
	*tty = data[0] == 'T';
	return 0;
}

int attach_parse_detach_keys(const char *text, unsigned char *keys, int *n, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	*n = 0;
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "--detach-keys");
	for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		if (*n >= 8)
			return berth_error_request(err, EINVAL, "--detach-keys \"%s\": at most 8 keys", text);
		if (strncmp(k, "ctrl-", 5) == 0 && strlen(k) == 6 &&
		    (isalpha((unsigned char)k[5]) || strchr("@[\\]^_", k[5])))
			keys[(*n)++] = (unsigned char)(toupper((unsigned char)k[5]) & 0x1f);
		else if (strlen(k) == 1)
			keys[(*n)++] = (unsigned char)k[0];
		else
			return berth_error_request(
			    err, EINVAL, "--detach-keys \"%s\": \"%s\" is not a key (a letter, or ctrl-LETTER)", text,
			    k);
	}
	if (*n == 0)
		return berth_error_request(err, EINVAL, "--detach-keys: no key given");
	return 0;
}
