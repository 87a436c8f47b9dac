#include "runtime/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int terminal_open_pty(int ptmx_fd, unsigned rows, unsigned cols, int *master, int *peer, berth_error **err)
{
	char path[32];
	_cleanup_close_ int m = -EBADF;
	int unlock = 0, s;

	m = open(fs_proc_fd_path(ptmx_fd, path), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return berth_error_set(err, errno, "open ptmx");
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return berth_error_set(err, errno, "unlock pty");
	/* TIOCGPTPEER opens the peer without a path lookup in /dev/pts. */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return berth_error_set(err, errno, "open the pty peer");
	if (rows > 0 && cols > 0) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		ioctl(m, TIOCSWINSZ, &ws);
	}
	*peer = s;
	*master = move_fd(m);
	return 0;
}

int terminal_make_controlling(int peer, uid_t owner, berth_error **err)
{
	/* The process's own pty, as runc gives it (the uid only: the group
	 * stays devpts's tty group). A devpts the user namespace does not own
	 * (EPERM), an unmapped uid (EINVAL) or a read-only one is left as is. */
	if (fchown(peer, owner, (gid_t)-1) < 0 && errno != EPERM && errno != EINVAL && errno != EROFS)
		return berth_error_set(err, errno, "give the terminal to uid %u", (unsigned)owner);
	if (setsid() < 0 && errno != EPERM)
		return berth_error_set(err, errno, "setsid");
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		return berth_error_set(err, errno, "set the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(peer, fd) < 0)
			return berth_error_set(err, errno, "dup the terminal to fd %d", fd);
	return 0;
}

int terminal_connect_console_socket(const char *path, berth_error **err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;

	if (strlen(path) >= sizeof(addr.sun_path))
		return berth_error_set(err, ENAMETOOLONG, "console socket \"%s\"", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_error_set(err, errno, "console socket \"%s\"", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return berth_error_set(err, errno, "connect to console socket \"%s\"", path);
	return move_fd(fd);
}

static int copy_once(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += w;
	}
	return 1;
}

int terminal_proxy(int master, int stop_fd, berth_error **err)
{
	struct termios saved, raw;
	bool restore = false, stdin_open = true;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct winsize ws;
		raw = saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			restore = true;
		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = master, .events = POLLIN },
			{ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = stop_fd, .events = POLLIN },
		};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			if (copy_once(master, STDOUT_FILENO) < 0)
				break;
			continue;
		}
		if (p[0].revents & (POLLHUP | POLLERR))
			break;
		if (p[1].revents & (POLLIN | POLLHUP)) {
			if (copy_once(STDIN_FILENO, master) <= 0)
				stdin_open = false;
		}
		if (p[2].revents & POLLIN) {
			/* drain what the container wrote before it exited */
			int flags = fcntl(master, F_GETFL);
			fcntl(master, F_SETFL, flags | O_NONBLOCK);
			while (copy_once(master, STDOUT_FILENO) > 0)
				;
			break;
		}
	}
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	(void)err;
	return 0;
}
