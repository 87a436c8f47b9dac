#include "runtime/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/cleanup.h"

/* One sendmsg of IOV (and the N_FDS FDS): returns the bytes sent or -errno. */
static ssize_t send_iov_with_fds(int sock, struct iovec *iov, size_t n_iov, const int *fds, size_t n_fds)
{
	char control[CMSG_SPACE(sizeof(int) * SYNC_FDS_MAX)] = { 0 };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n_iov };

	if (n_fds > SYNC_FDS_MAX)
		return -E2BIG;
	if (n_fds > 0) {
		struct cmsghdr *cm;
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

static int send_with_fd(int sock, const void *data, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	ssize_t n = send_iov_with_fds(sock, &iov, 1, &fd, fd >= 0 ? 1 : 0);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EPIPE;
}

/* Receives into DATA and up to MAX_FDS fds (*N_FDS of them; more are
 * closed). */
static int recv_with_fds(int sock, void *data, size_t len, int *fds, size_t max_fds, size_t *n_fds)
{
	char control[CMSG_SPACE(sizeof(int) * SYNC_FDS_MAX)] = { 0 };
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
	};
	struct cmsghdr *cm;
	ssize_t n;

	*n_fds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t count;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*n_fds < max_fds)
				fds[(*n_fds)++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0) {
		while (*n_fds > 0)
			close(fds[--*n_fds]);
		return -ECONNRESET;
	}
	return (int)n;
}

static int recv_with_fd(int sock, void *data, size_t len, int *fd)
{
	int got[1];
	size_t n_fds;
	int ret = recv_with_fds(sock, data, len, got, 1, &n_fds);

	if (fd)
		*fd = n_fds > 0 ? got[0] : -1;
	else if (n_fds > 0)
		close(got[0]);
	return ret;
}

static int read_full(int sock, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(sock, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

int sync_send(int sock, int type, int value, const char *payload, int fd, berth_error **err)
{
	return sync_send_fds(sock, type, value, payload, &fd, fd >= 0 ? 1 : 0, err);
}

int sync_send_fds(int sock, int type, int value, const char *payload, const int *fds, size_t n_fds, berth_error **err)
{
	sync_msg msg = { .type = type, .value = value, .len = payload ? strlen(payload) : 0 };
	/* Header and payload in one sendmsg: the exec intermediate and its
	 * child share the socket, and a header sent apart from its payload
	 * could have the other's message land between them. */
	struct iovec iov[2] = { { .iov_base = &msg, .iov_len = sizeof(msg) },
				{ .iov_base = (void *)payload, .iov_len = msg.len } };
	size_t total = sizeof(msg) + msg.len;
	ssize_t n = send_iov_with_fds(sock, iov, msg.len > 0 ? 2 : 1, fds, n_fds);
	size_t off = n > 0 ? (size_t)n : 0;

	/* a large payload may go out in parts */
	while (n >= 0 && off < total) {
		const char *from = off < sizeof(msg) ? (const char *)&msg + off : payload + (off - sizeof(msg));
		size_t len = off < sizeof(msg) ? sizeof(msg) - off : total - off;
		n = write(sock, from, len);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			n = -errno;
		else
			off += (size_t)n;
	}
	if (n < 0)
		return berth_error_set(err, (int)-n, "sync with the container init");
	return 0;
}

int sync_recv(int sock, sync_msg *msg, char **payload, int *fd, berth_error **err)
{
	int got[1];
	size_t n_fds;
	int ret = sync_recv_fds(sock, msg, payload, got, 1, &n_fds, err);

	if (fd)
		*fd = n_fds > 0 ? got[0] : -1;
	else if (n_fds > 0)
		close(got[0]);
	return ret;
}

static void close_fds(int *fds, size_t *n_fds)
{
	while (*n_fds > 0)
		close(fds[--*n_fds]);
}

int sync_recv_fds(int sock, sync_msg *msg, char **payload, int *fds, size_t max_fds, size_t *n_fds, berth_error **err)
{
	_cleanup_free_ char *buf = NULL;
	int ret = recv_with_fds(sock, msg, sizeof(*msg), fds, max_fds, n_fds);

	if (payload)
		*payload = NULL;
	if (ret == -ECONNRESET)
		return berth_error_set(err, 0, "the container init exited during setup");
	if (ret < 0)
		return berth_error_set(err, -ret, "sync with the container init");
	if ((size_t)ret != sizeof(*msg)) {
		close_fds(fds, n_fds);
		return berth_error_set(err, EPROTO, "sync with the container init: short message");
	}
	if (msg->len > 0) {
		if (msg->len > (1 << 24)) {
			close_fds(fds, n_fds);
			return berth_error_set(err, EPROTO, "sync with the container init: oversized message");
		}
		buf = calloc(1, msg->len + 1);
		if (buf == NULL) {
			close_fds(fds, n_fds);
			return berth_error_set(err, ENOMEM, "sync with the container init");
		}
		ret = read_full(sock, buf, msg->len);
		if (ret < 0) {
			close_fds(fds, n_fds);
			return berth_error_set(err, -ret, "sync with the container init");
		}
		if (payload)
			*payload = move_ptr(buf);
	}
	return 0;
}

int sync_expect(int sock, int type, char **payload, int *fd, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	sync_msg msg;
	int got_fd = -1;

	if (sync_recv(sock, &msg, &text, &got_fd, err) < 0)
		return -1;
	if (msg.type == SYNC_ERROR) {
		if (got_fd >= 0)
			close(got_fd);
		return berth_error_set(err, 0, "%s", text ? text : "the container init failed");
	}
	if (msg.type != type) {
		if (got_fd >= 0)
			close(got_fd);
		return berth_error_set(err, EPROTO, "sync: expected message %d, got %d", type, msg.type);
	}
	if (payload)
		*payload = move_ptr(text);
	if (fd)
		*fd = got_fd;
	else if (got_fd >= 0)
		close(got_fd);
	return 0;
}

int sync_send_fd(int sock, int fd, const char *name, berth_error **err)
{
	const char *data = name ? name : "fd";
	int ret = send_with_fd(sock, data, strlen(data), fd);
	if (ret < 0)
		return berth_error_set(err, -ret, "send fd over unix socket");
	return 0;
}

int sync_recv_named_fd(int sock, char *name, size_t size, int *fd)
{
	int ret = recv_with_fd(sock, name, size - 1, fd);

	if (ret == -ECONNRESET)
		return 0;
	if (ret >= 0)
		name[ret] = '\0';
	return ret;
}

int sync_recv_fd(int sock, int *fd, berth_error **err)
{
	char buf[4096];
	int ret = recv_with_fd(sock, buf, sizeof(buf), fd);
	if (ret < 0)
		return berth_error_set(err, -ret, "receive fd over unix socket");
	if (*fd < 0)
		return berth_error_set(err, EPROTO, "receive fd over unix socket: no fd in the message");
	return 0;
}
