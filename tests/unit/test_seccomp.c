/* Unit tests of runtime/seccomp: compilation, the BPF cache, loading in a
 * forked child (the test process itself never gets a filter), argument
 * conditions, notify listeners and the shipped default profile. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/seccomp.h"
#include "spec/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static char *make_config(const char *seccomp_json)
{
	char *text = NULL;

	assert_true(asprintf(&text,
			     "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
			     "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}],\"seccomp\":%s}}",
			     seccomp_json) >= 0);
	return text;
}

static spec *parse_profile(const char *seccomp_json)
{
	_cleanup_free_ char *config = make_config(seccomp_json);
	_cleanup_error_ berth_error *err = NULL;
	spec *s = NULL;

	if (spec_parse(config, &s, &err) < 0)
		fail_msg("spec_parse: %s", err->msg);
	assert_true(s->seccomp.present);
	return s;
}

static void prepare_ok(const spec *s, const char *cache_dir, seccomp_filter *f)
{
	_cleanup_error_ berth_error *err = NULL;

	if (seccomp_filter_prepare(&s->seccomp, cache_dir, f, &err) < 0)
		fail_msg("seccomp_filter_prepare: %s", err->msg);
	assert_non_null(f->bpf);
	assert_true(f->bpf_len > 0);
	assert_int_equal(f->bpf_len % sizeof(struct sock_filter), 0);
}

static char *make_temp_dir(void)
{
	char *dir = strdup("/tmp/berth-test-seccomp.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_temp_dir(char *dir)
{
	_cleanup_error_ berth_error *err = NULL;

	fs_remove_tree(dir, &err);
	free(dir);
}

static char *cache_file(const char *dir, const spec *s)
{
	char *path = NULL;

	assert_true(asprintf(&path, "%s/%s.bpf", dir, s->seccomp.source_hash) >= 0);
	return path;
}

/* Runs FN in a forked child that first sets no_new_privs and loads F. The
 * child reports through its exit status: 0 is success, anything else names
 * the check that failed. Returns the raw wait status. */
typedef int (*child_fn)(void *arg, int listener_fd);

static pid_t spawn_filtered(const seccomp_filter *f, child_fn fn, void *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		berth_error *err = NULL;
		int listener = -1;

		setrlimit(RLIMIT_CORE, &no_core);
		alarm(20);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(100);
		if (seccomp_filter_load(f, &listener, &err) < 0) {
			fprintf(stderr, "child: %s\n", err->msg);
			_exit(101);
		}
		_exit(fn(arg, listener));
	}
	return pid;
}

static int run_filtered(const seccomp_filter *f, child_fn fn, void *arg)
{
	pid_t pid = spawn_filtered(f, fn, arg);
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_child_ok(int status)
{
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child failed check %d", WEXITSTATUS(status));
}

/* Fails with CODE unless the raw syscall result RET is -1 with errno E. */
#define EXPECT_ERRNO(ret, e, code)                                                                                     \
	do {                                                                                                           \
		errno = 0;                                                                                             \
		long r__ = (ret);                                                                                      \
		if (r__ != -1 || errno != (e))                                                                         \
			return (code);                                                                                 \
	} while (0)
#define EXPECT_OK(ret, code)                                                                                           \
	do {                                                                                                           \
		if ((long)(ret) < 0)                                                                                   \
			return (code);                                                                                 \
	} while (0)

static const char uname_errno_profile[] =
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
    "{\"names\":[\"uname\",\"berth_no_such_syscall\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":42},"
    "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}";

/* (a) fresh compile: non-empty BPF, cache file written, not from cache. */
static void test_prepare_compiles_and_writes_cache(void **state)
{
	_cleanup_spec_ spec *s = parse_profile(uname_errno_profile);
	char *dir = make_temp_dir();
	_cleanup_free_ char *cache = NULL;
	_cleanup_free_ char *sub = NULL;
	seccomp_filter f;
	struct stat st;

	assert_true(asprintf(&sub, "%s/a/b", dir) >= 0);
	cache = cache_file(sub, s);
	prepare_ok(s, sub, &f);
	assert_false(f.from_cache);
	assert_false(f.needs_listener);
	assert_int_equal(f.flags, 0);
	assert_int_equal(stat(cache, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((size_t)st.st_size, 64 + f.bpf_len);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	seccomp_filter_clear(&f);
	assert_null(f.bpf);

	/* No cache directory: compiles, writes nothing. */
	prepare_ok(s, NULL, &f);
	assert_false(f.from_cache);
	seccomp_filter_clear(&f);
	remove_temp_dir(dir);
}

/* (b) the second prepare reads the cache and yields the same program. */
static void test_prepare_reads_cache(void **state)
{
	_cleanup_spec_ spec *s = parse_profile(uname_errno_profile);
	char *dir = make_temp_dir();
	seccomp_filter fresh, cached;

	prepare_ok(s, dir, &fresh);
	assert_false(fresh.from_cache);
	prepare_ok(s, dir, &cached);
	assert_true(cached.from_cache);
	assert_int_equal(cached.bpf_len, fresh.bpf_len);
	assert_memory_equal(cached.bpf, fresh.bpf, fresh.bpf_len);
	assert_int_equal(cached.flags, fresh.flags);
	assert_int_equal(cached.needs_listener, fresh.needs_listener);
	seccomp_filter_clear(&fresh);
	seccomp_filter_clear(&cached);
	remove_temp_dir(dir);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

/* (c) a corrupted, truncated or foreign cache file is ignored: recompiled
 * and rewritten. */
static void test_corrupt_cache_is_recompiled(void **state)
{
	_cleanup_spec_ spec *s = parse_profile(uname_errno_profile);
	char *dir = make_temp_dir();
	_cleanup_free_ char *cache = cache_file(dir, s);
	_cleanup_free_ char *good = NULL;
	size_t good_len = 0;
	seccomp_filter ref, f;
	berth_error *err = NULL;

	prepare_ok(s, dir, &ref);
	assert_int_equal(fs_read_file(cache, &good, &good_len, &err), 0);

	for (int variant = 0; variant < 5; variant++) {
		_cleanup_free_ char *bad = malloc(good_len);
		size_t bad_len = good_len;

		assert_non_null(bad);
		memcpy(bad, good, good_len);
		switch (variant) {
		case 0: /* a flipped bit in the program: checksum mismatch */
			bad[good_len - 3] ^= 0x10;
			break;
		case 1: /* truncated */
			bad_len = good_len - 8;
			break;
		case 2: /* bad magic */
			bad[0] = 'X';
			break;
		case 3: /* header flags that do not match the profile */
			bad[16] = 1;
			break;
		case 4: /* only a header */
			bad_len = 64;
			break;
		}
		write_bytes(cache, bad, bad_len);
		prepare_ok(s, dir, &f);
		assert_false(f.from_cache);
		assert_int_equal(f.bpf_len, ref.bpf_len);
		assert_memory_equal(f.bpf, ref.bpf, ref.bpf_len);
		seccomp_filter_clear(&f);
		/* ... and the cache was repaired. */
		prepare_ok(s, dir, &f);
		assert_true(f.from_cache);
		seccomp_filter_clear(&f);
	}

	/* A cache file others may write is not trusted. */
	assert_int_equal(chmod(cache, 0666), 0);
	prepare_ok(s, dir, &f);
	assert_false(f.from_cache);
	seccomp_filter_clear(&f);

	/* A cache directory that cannot be created is not an error. */
	prepare_ok(s, "/dev/null/berth-cache", &f);
	assert_false(f.from_cache);
	seccomp_filter_clear(&f);

	seccomp_filter_clear(&ref);
	remove_temp_dir(dir);
}

static int child_uname_errno(void *arg, int listener)
{
	struct utsname u;

	if (listener != -1)
		return 1;
	EXPECT_ERRNO(syscall(SYS_uname, &u), 42, 2);
	EXPECT_OK(syscall(SYS_getppid), 3);
	if (syscall(SYS_getpid) != getpid())
		return 4;
	return 0;
}

/* (d) a loaded filter turns uname into errno 42 and leaves the rest alone,
 * whether compiled or read from the cache. */
static void test_load_errno_rule(void **state)
{
	_cleanup_spec_ spec *s = parse_profile(uname_errno_profile);
	char *dir = make_temp_dir();
	seccomp_filter f;

	prepare_ok(s, dir, &f);
	assert_child_ok(run_filtered(&f, child_uname_errno, NULL));
	seccomp_filter_clear(&f);
	prepare_ok(s, dir, &f);
	assert_true(f.from_cache);
	assert_child_ok(run_filtered(&f, child_uname_errno, NULL));
	seccomp_filter_clear(&f);
	remove_temp_dir(dir);
}

static int child_personality_eq(void *arg, int listener)
{
	EXPECT_ERRNO(syscall(SYS_personality, 0x20008UL), EACCES, 1);
	EXPECT_OK(syscall(SYS_personality, 0xffffffffUL), 2);
	return 0;
}

static int child_personality_masked(void *arg, int listener)
{
	/* denied when (arg & 0xff) == 0x08 */
	EXPECT_ERRNO(syscall(SYS_personality, 0x0008UL), EACCES, 1);
	EXPECT_ERRNO(syscall(SYS_personality, 0x20008UL), EACCES, 2);
	EXPECT_OK(syscall(SYS_personality, 0xffffffffUL), 3);
	EXPECT_OK(syscall(SYS_personality, 0x0UL), 4);
	return 0;
}

static int child_getpriority_or_and(void *arg, int listener)
{
	/* OR on arg 0: PRIO_PROCESS or PRIO_PGRP denied, PRIO_USER allowed. */
	EXPECT_ERRNO(syscall(SYS_getpriority, PRIO_PROCESS, 0), EACCES, 1);
	EXPECT_ERRNO(syscall(SYS_getpriority, PRIO_PGRP, 0), EACCES, 2);
	EXPECT_OK(syscall(SYS_getpriority, PRIO_USER, 0), 3);
	/* AND over args 0 and 1 of getrlimit: only (RLIMIT_NOFILE, NULL). */
	struct rlimit rl;
	EXPECT_ERRNO(syscall(SYS_getrlimit, RLIMIT_NOFILE, NULL), EXDEV, 4);
	EXPECT_OK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &rl), 5);
	EXPECT_ERRNO(syscall(SYS_getrlimit, RLIMIT_CORE, NULL), EFAULT, 6);
	return 0;
}

/* (e) argument conditions: EQ, MASKED_EQ (value is the mask, valueTwo the
 * datum), several conditions on one index (OR, like runc), and
 * conditions on different indexes (AND). */
static void test_load_argument_conditions(void **state)
{
	static const char eq[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"personality\"],"
				 "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
				 "\"args\":[{\"index\":0,\"value\":131080,\"op\":\"SCMP_CMP_EQ\"}]}]}";
	static const char masked[] =
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"personality\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
	    "\"args\":[{\"index\":0,\"value\":255,\"valueTwo\":8,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}";
	static const char or_and[] =
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	    "{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,\"args\":["
	    "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]},"
	    "{\"names\":[\"getrlimit\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18,\"args\":["
	    "{\"index\":0,\"value\":7,\"op\":\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}"
	    "]}";
	seccomp_filter f;
	spec *s;

	s = parse_profile(eq);
	prepare_ok(s, NULL, &f);
	assert_child_ok(run_filtered(&f, child_personality_eq, NULL));
	seccomp_filter_clear(&f);
	spec_free(s);

	s = parse_profile(masked);
	prepare_ok(s, NULL, &f);
	assert_child_ok(run_filtered(&f, child_personality_masked, NULL));
	seccomp_filter_clear(&f);
	spec_free(s);

	s = parse_profile(or_and);
	prepare_ok(s, NULL, &f);
	assert_child_ok(run_filtered(&f, child_getpriority_or_and, NULL));
	seccomp_filter_clear(&f);
	spec_free(s);
}

static int child_getpid(void *arg, int listener)
{
	return syscall(SYS_getpid) > 0 ? 0 : 1;
}

/* Rules that repeat the default action are dropped; flags are translated;
 * a profile for a foreign architecture only kills native syscalls. */
static void test_flags_default_rules_and_arches(void **state)
{
	static const char flags[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
				    "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],"
				    "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"},"
				    "{\"names\":[\"uname\"],\"action\":\"SCMP_ACT_LOG\"}]}";
	static const char tsync[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],"
				    "\"syscalls\":[{\"names\":[\"uname\"],\"action\":\"SCMP_ACT_ERRNO\"}]}";
	static const char foreign[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
				      "\"architectures\":[\"SCMP_ARCH_AARCH64\"],"
				      "\"syscalls\":[{\"names\":[\"uname\"],\"action\":\"SCMP_ACT_ERRNO\"}]}";
	seccomp_filter f;
	spec *s;
	int status;

	s = parse_profile(flags);
	prepare_ok(s, NULL, &f);
	assert_int_equal(f.flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
	assert_child_ok(run_filtered(&f, child_getpid, NULL));
	seccomp_filter_clear(&f);
	spec_free(s);

	s = parse_profile(tsync);
	prepare_ok(s, NULL, &f);
	assert_int_equal(f.flags, SECCOMP_FILTER_FLAG_TSYNC);
	assert_child_ok(run_filtered(&f, child_getpid, NULL));
	seccomp_filter_clear(&f);
	spec_free(s);

	/* Native x86_64 removed: its syscalls hit the bad-arch action (kill). */
	s = parse_profile(foreign);
	prepare_ok(s, NULL, &f);
	status = run_filtered(&f, child_getpid, NULL);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
	seccomp_filter_clear(&f);
	spec_free(s);
}

/* Load errors read as one clear sentence. */
static void test_load_error_message(void **state)
{
	/* An instruction the kernel refuses: an unknown BPF opcode. */
	struct sock_filter bad[] = { { 0xffff, 0, 0, 0 } };
	seccomp_filter f = { .bpf = bad, .bpf_len = sizeof(bad) };
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		berth_error *err = NULL;
		int listener = 0;

		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (seccomp_filter_load(&f, &listener, &err) == 0)
			_exit(1);
		if (strcmp(err->msg, "load seccomp filter: Invalid argument") != 0) {
			fprintf(stderr, "child: got \"%s\"\n", err->msg);
			_exit(2);
		}
		_exit(listener == -1 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_child_ok(status);
}

struct notify_test {
	const char *socket_path;
	const char *state_json;
};

static int child_notify(void *arg, int listener)
{
	struct notify_test *t = arg;
	berth_error *err = NULL;
	struct utsname u;

	if (listener < 0 || fcntl(listener, F_GETFD) != FD_CLOEXEC)
		return 1;
	if (seccomp_send_listener(t->socket_path, listener, t->state_json, &err) < 0) {
		fprintf(stderr, "child: %s\n", err->msg);
		return 2;
	}
	close(listener);
	/* The parent answers this call through the listener it received. */
	EXPECT_ERRNO(syscall(SYS_uname, &u), EDOM, 3);
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(addr.sun_path));
	strcpy(addr.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
}

/* Accepts one connection and reads the message: returns the fd passed. */
static int receive_listener(int listen_fd, char *buf, size_t size)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)
	};
	_cleanup_close_ int conn = -EBADF;
	struct cmsghdr *cmsg;
	ssize_t n;
	int fd;

	wait_readable(listen_fd);
	conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	wait_readable(conn);
	n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	buf[n] = '\0';
	cmsg = CMSG_FIRSTHDR(&msg);
	assert_non_null(cmsg);
	assert_int_equal(cmsg->cmsg_level, SOL_SOCKET);
	assert_int_equal(cmsg->cmsg_type, SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* (f) SCMP_ACT_NOTIFY: the child gets a listener, sends it to the listener
 * socket, and the notification is answered through the received fd. */
static void test_notify_listener(void **state)
{
	char *dir = make_temp_dir();
	_cleanup_free_ char *sock_path = fs_path_join(dir, "agent.sock");
	_cleanup_free_ char *profile = NULL;
	_cleanup_close_ int listen_fd = -EBADF;
	_cleanup_close_ int notify_fd = -EBADF;
	static const char state_json[] = "{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":1,"
					 "\"metadata\":\"m\",\"state\":{\"id\":\"c1\"}}";
	struct notify_test t = { .state_json = state_json };
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	char buf[4096];
	seccomp_filter f;
	int status = 0;
	pid_t pid;
	spec *s;

	assert_true(asprintf(&profile,
			     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\","
			     "\"listenerMetadata\":\"m\",\"syscalls\":[{\"names\":[\"uname\"],"
			     "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
			     sock_path) >= 0);
	s = parse_profile(profile);
	prepare_ok(s, dir, &f);
	assert_true(f.needs_listener);
	t.socket_path = s->seccomp.listener_path;
	listen_fd = listen_unix(sock_path);

	pid = spawn_filtered(&f, child_notify, &t);
	notify_fd = receive_listener(listen_fd, buf, sizeof(buf));
	assert_string_equal(buf, state_json);
	wait_readable(notify_fd);
	memset(&req, 0, sizeof(req));
	assert_int_equal(ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
	assert_int_equal(req.data.nr, SYS_uname);
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.error = -EDOM;
	assert_int_equal(ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_child_ok(status);

	/* Read back from the cache, the listener requirement stays. */
	seccomp_filter_clear(&f);
	prepare_ok(s, dir, &f);
	assert_true(f.from_cache);
	assert_true(f.needs_listener);
	seccomp_filter_clear(&f);
	spec_free(s);
	remove_temp_dir(dir);
}

/* (g) seccomp_send_listener passes the fd and the state JSON in one
 * message; errors name the path. */
static void test_send_listener(void **state)
{
	char *dir = make_temp_dir();
	_cleanup_free_ char *sock_path = fs_path_join(dir, "listener.sock");
	_cleanup_free_ char *missing = fs_path_join(dir, "missing.sock");
	_cleanup_close_ int listen_fd = -EBADF;
	_cleanup_close_ int received = -EBADF;
	static const char state_json[] = "{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":42,"
					 "\"metadata\":\"\",\"state\":{\"ociVersion\":\"1.2.0\",\"id\":\"c1\","
					 "\"status\":\"creating\",\"pid\":42,\"bundle\":\"/b\"}}";
	berth_error *err = NULL;
	int pipefd[2];
	char buf[4096];
	char c = 0;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	listen_fd = listen_unix(sock_path);
	/* The backlog takes the connection before accept(). */
	if (seccomp_send_listener(sock_path, pipefd[1], state_json, &err) < 0)
		fail_msg("seccomp_send_listener: %s", err->msg);
	received = receive_listener(listen_fd, buf, sizeof(buf));
	assert_string_equal(buf, state_json);
	assert_true(received >= 0 && received != pipefd[1]);
	close(pipefd[1]);
	assert_int_equal(write(received, "x", 1), 1);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(pipefd[0]);

	assert_true(seccomp_send_listener(missing, 0, state_json, &err) < 0);
	assert_non_null(strstr(err->msg, missing));
	assert_non_null(strstr(err->msg, "No such file or directory"));
	berth_error_free(&err);
	remove_temp_dir(dir);
}

static int child_default_profile(void *arg, int listener)
{
	char buf[256];
	pid_t pid;
	int fd, status;

	/* Ordinary work goes on. */
	if (syscall(SYS_getpid) != getpid())
		return 1;
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	EXPECT_OK(fd, 2);
	if (read(fd, buf, sizeof(buf)) <= 0)
		return 3;
	close(fd);
	pid = fork(); /* clone without namespace flags */
	EXPECT_OK(pid, 4);
	if (pid == 0)
		_exit(7);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
		return 5;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT_OK(fd, 6);
	close(fd);
	EXPECT_OK(syscall(SYS_personality, 0xffffffffUL), 7);

	/* The host stays out of reach. Arguments are invalid so nothing would
	 * happen even if a call got through. */
	EXPECT_ERRNO(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead0000UL), EPERM, 20);
	EXPECT_ERRNO(syscall(SYS_reboot, 0, 0, 0, NULL), EPERM, 21);
	EXPECT_ERRNO(mount("none", "/berth-no-such-dir", "tmpfs", 0, NULL), EPERM, 22);
	EXPECT_ERRNO(syscall(SYS_unshare, CLONE_NEWUSER), EPERM, 23);
	errno = 0;
	pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, 0UL);
	if (pid == 0)
		_exit(0); /* the filter let it through: the parent reports it */
	if (pid != -1 || errno != EPERM)
		return 24;
	EXPECT_ERRNO(syscall(SYS_clone3, NULL, 0UL), ENOSYS, 25);
	EXPECT_ERRNO(socket(AF_VSOCK, SOCK_STREAM, 0), EPERM, 26);
	EXPECT_ERRNO(syscall(SYS_personality, 0x0400000UL), EPERM, 27);
	EXPECT_ERRNO(syscall(SYS_bpf, 0, NULL, 0), EPERM, 28);
	EXPECT_ERRNO(syscall(SYS_setns, -1, 0), EPERM, 29);
	return 0;
}

static bool program_checks_arch(const seccomp_filter *f, uint32_t audit_arch)
{
	const struct sock_filter *insn = f->bpf;

	for (size_t i = 0; i < f->bpf_len / sizeof(*insn); i++)
		if (insn[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && insn[i].k == audit_arch)
			return true;
	return false;
}

/* (h) the shipped default profile parses, compiles, caches and confines. */
static void test_default_profile(void **state)
{
	const char *root = getenv("BERTH_SOURCE_ROOT");
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_spec_ spec *s = NULL;
	char *dir = make_temp_dir();
	berth_error *err = NULL;
	seccomp_filter f;
	size_t names = 0;

	assert_true(asprintf(&path, "%s/data/seccomp-default.json", root ? root : ".") >= 0);
	if (fs_read_file(path, &text, NULL, &err) < 0)
		fail_msg("%s (set BERTH_SOURCE_ROOT)", err->msg);
	s = parse_profile(text);
	for (size_t i = 0; i < s->seccomp.n_rules; i++)
		names += s->seccomp.rules[i].n_names;
	assert_true(names >= 300);
	prepare_ok(s, dir, &f);
	assert_false(f.from_cache);
	assert_true(f.bpf_len / sizeof(struct sock_filter) <= BPF_MAXINSNS);
#ifdef __x86_64__
	/* The arm group cannot run here and is left out. (Only 64-bit arch
	 * values: the 32-bit ones look like x32 syscall numbers.) */
	assert_true(program_checks_arch(&f, AUDIT_ARCH_X86_64));
	assert_false(program_checks_arch(&f, AUDIT_ARCH_AARCH64));
#endif
	assert_child_ok(run_filtered(&f, child_default_profile, NULL));
	seccomp_filter_clear(&f);
	prepare_ok(s, dir, &f);
	assert_true(f.from_cache);
	assert_child_ok(run_filtered(&f, child_default_profile, NULL));
	seccomp_filter_clear(&f);
	remove_temp_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepare_compiles_and_writes_cache),
		cmocka_unit_test(test_prepare_reads_cache),
		cmocka_unit_test(test_corrupt_cache_is_recompiled),
		cmocka_unit_test(test_load_errno_rule),
		cmocka_unit_test(test_load_argument_conditions),
		cmocka_unit_test(test_flags_default_rules_and_arches),
		cmocka_unit_test(test_load_error_message),
		cmocka_unit_test(test_notify_listener),
		cmocka_unit_test(test_send_listener),
		cmocka_unit_test(test_default_profile),
	};

	return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
