/* berth attach: the terminal to a running container: its output as the
 * monitor logs it, our input into its pty or stdin (engine/attach.h), until
 * it exits (our exit code is then its) or the detach keys are typed
 * (default ctrl-p ctrl-q: the container runs on). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/berth/engine_cmd.h"
#include "engine/attach.h"
#include "engine/container.h"
#include "engine/logfile.h"
#include "util/cleanup.h"

static const option_spec specs[] = {
	{ "detach-keys", 0, true, "keys that detach (default ctrl-p,ctrl-q)" },
	{ "no-stdin", 0, false, "do not pass our input to the container" },
	{ "sig-proxy", 0, false, "(accepted; signals typed in a terminal reach the container through it)" },
	{ NULL, 0, false, NULL },
};

enum { A_DETACH_KEYS, A_NO_STDIN, A_SIG_PROXY, A_COUNT };

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	winch = 1;
}

typedef struct attach_state {
	int log_fd;
	ino_t log_ino;
	char *log_path;
	char pending[65536];
	size_t have;
	int input; /* the container's input, -1: none */
	bool tty;
	unsigned char keys[8];
	int nkeys, matched; /* detach keys typed so far */
} attach_state;

/* Prints the complete lines of A->pending (a prompt without a newline is
 * a partial entry, printed as it comes). */
static void print_pending(attach_state *a)
{
	size_t start = 0;

	for (char *nl; (nl = memchr(a->pending + start, '\n', a->have - start)) != NULL;) {
		log_entry e;
		if (logfile_parse_line(a->pending + start, (size_t)(nl - (a->pending + start)), &e)) {
			FILE *out = e.is_stderr ? stderr : stdout;
			fwrite(e.text, 1, e.text_len, out);
			if (!e.partial)
				fputc('\n', out);
			fflush(out);
		}
		start = (size_t)(nl - a->pending) + 1;
	}
	memmove(a->pending, a->pending + start, a->have - start);
	a->have -= start;
}

/* What the monitor appended to the log since the last call. */
static void drain_log(attach_state *a)
{
	struct stat st;

	for (;;) {
		ssize_t n;
		while (a->log_fd >= 0 &&
		       (n = read(a->log_fd, a->pending + a->have, sizeof(a->pending) - a->have)) > 0) {
			a->have += (size_t)n;
			print_pending(a);
			if (a->have == sizeof(a->pending)) /* a line longer than the buffer */
				a->have = 0;
		}
		/* rotated (or not there yet): the new file from its start */
		if (stat(a->log_path, &st) < 0 || (a->log_fd >= 0 && st.st_ino == a->log_ino))
			return;
		if (a->log_fd >= 0)
			close(a->log_fd);
		a->log_fd = open(a->log_path, O_RDONLY | O_CLOEXEC);
		a->log_ino = st.st_ino;
		if (a->log_fd < 0)
			return;
	}
}

/* Our input to the container; true when the detach keys were typed. */
static bool pass_input(attach_state *a, bool *eof)
{
	unsigned char buf[4096], out[4096 + 8];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t o = 0;

	if (n <= 0) {
		*eof = true;
		return false;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == a->keys[a->matched]) {
			if (++a->matched == a->nkeys)
				return true;
			continue;
		}
		/* not the sequence after all: what was held back goes through */
		memcpy(out + o, a->keys, (size_t)a->matched);
		o += (size_t)a->matched;
		a->matched = 0;
		if (buf[i] == a->keys[0]) {
			a->matched = 1;
			continue;
		}
		out[o++] = buf[i];
	}
	if (o > 0 && a->input >= 0 && write(a->input, out, o) < 0 && errno == EPIPE)
		*eof = true;
	return false;
}

static void resize(const attach_state *a)
{
	struct winsize ws;

	if (a->tty && a->input >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(a->input, TIOCSWINSZ, &ws);
}

/* The loop; returns the container's exit code, or -2 when detached. */
static int attach_loop(const engine_paths *p, container *c, attach_state *a)
{
	bool stdin_eof = a->input < 0;
	int idle = 0;

	for (;;) {
		struct pollfd pfd = { .fd = stdin_eof ? -1 : STDIN_FILENO, .events = POLLIN };
		berth_error *ignored = NULL;
		if (winch) {
			winch = 0;
			resize(a);
		}
		if (poll(&pfd, 1, 50) > 0 && (pfd.revents & (POLLIN | POLLHUP)) && pass_input(a, &stdin_eof))
			return -2;
		drain_log(a);
		if (++idle % 5 != 0)
			continue;
		if (record_load_state(c, &ignored) < 0 || record_refresh(p, c, &ignored) < 0) {
			berth_error_free(&ignored);
			return 125; /* removed meanwhile (--rm) */
		}
		if (!engine_status_is_live(c->state.status)) {
			drain_log(a);
			return c->state.exit_code;
		}
	}
}

int cmd_attach(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[A_COUNT + 1] = { 0 };
	_cleanup_free_ char **keep = NULL, **pos = NULL;
	engine_paths paths = { 0 };
	attach_state a = { .log_fd = -1, .input = -1 };
	container *c = NULL;
	struct termios saved;
	bool raw = false;
	int npos, ret;

	ret = berth_parse_grouped("attach", "attach [--detach-keys KEYS] [--no-stdin] CONTAINER", specs, argc, argv,
				  false, v, &pos, &npos, 1, 1, &keep, err);
	if (ret != 0)
		return ret < 0 ? 125 : 0;
	ret = 125;
	if (attach_parse_detach_keys(v[A_DETACH_KEYS].value ?: "ctrl-p,ctrl-q", a.keys, &a.nkeys, err) < 0 ||
	    berth_engine_open(g, &paths, err) < 0 || record_open(&paths, pos[0], &c, err) < 0 ||
	    record_refresh(&paths, c, err) < 0)
		goto out;
	if (!engine_status_is_live(c->state.status) || c->state.unsupervised) {
		berth_error_set(err, 0, "container %s is not running under its monitor: cannot attach", c->name);
		goto out;
	}
	a.log_path = record_path(c, "ctr.log");
	if (a.log_path == NULL || attach_connect(c, &a.input, &a.tty, err) < 0)
		goto out;
	if (option_bool(&v[A_NO_STDIN]) && a.input >= 0) {
		close(a.input);
		a.input = -1;
	}
	/* from now on: what was logged before is not repeated */
	a.log_fd = open(a.log_path, O_RDONLY | O_CLOEXEC);
	if (a.log_fd >= 0) {
		struct stat st;
		a.log_ino = fstat(a.log_fd, &st) == 0 ? st.st_ino : 0;
		lseek(a.log_fd, 0, SEEK_END);
	}
	if (a.tty && a.input >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		struct sigaction sa = { .sa_handler = on_winch };
		cfmakeraw(&t);
		t.c_oflag |= OPOST;
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		sigaction(SIGWINCH, &sa, NULL);
		resize(&a);
	}
	signal(SIGPIPE, SIG_IGN);
	ret = attach_loop(&paths, c, &a);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (ret == -2) {
		fprintf(stderr, "\nberth: detached from %s (it keeps running)\n", c->name);
		ret = 0;
	}
out:
	if (a.input >= 0)
		close(a.input);
	if (a.log_fd >= 0)
		close(a.log_fd);
	free(a.log_path);
	container_free(c);
	engine_paths_free(&paths);
	options_free_values(v, A_COUNT);
	return ret;
}
