/* berth-init: the init of `berth run --init`, PID 1 of a container.
 *
 *   berth-init [--] COMMAND [ARG...]
 *   berth-init --pause
 *
 * Runs COMMAND as its child in a process group of its own, forwards the
 * signals a container is sent (SIGTERM from `berth stop`, SIGINT, SIGHUP,
 * SIGWINCH, ...) to that group, reaps every zombie that gets reparented to
 * it, and exits with COMMAND's exit code, or 128+N when a signal N killed
 * it. Outside a PID namespace it makes itself a child subreaper, so orphans
 * of COMMAND are still reaped by it.
 *
 * With --pause it runs nothing: it is the process that holds a pod's
 * namespaces (the image berth kube makes for pods runs it), reaping what
 * gets reparented to it until SIGTERM, SIGINT or SIGHUP ends it with 0.
 *
 * Every signal is blocked and taken with sigwaitinfo(): no handler runs
 * asynchronously, and nothing is allocated once it runs. Linked statically so
 * the engine can bind it into any image. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_INIT_FAILED 125 /* berth-init itself failed, like `docker run` */

static void usage(void)
{
	fprintf(stderr, "usage: berth-init [--] COMMAND [ARG...] | berth-init --pause\n");
}

/* Signals that report a fault of berth-init itself, or cannot be caught:
 * not taken over by sigwaitinfo. */
static int synchronous_signal(int sig)
{
	return sig == SIGFPE || sig == SIGILL || sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGTRAP ||
	       sig == SIGSYS || sig == SIGKILL || sig == SIGSTOP;
}

/* The child: its own process group (the foreground one when it has the
 * terminal), the caller's signal mask back, then COMMAND. */
static void exec_child(char **argv, const sigset_t *original_mask)
{
	setpgid(0, 0);
	/* SIGTTOU is still blocked here, so a background caller does not stop us */
	if (isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgid(getppid()))
		tcsetpgrp(STDIN_FILENO, getpid());
	sigprocmask(SIG_SETMASK, original_mask, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "berth-init: exec \"%s\": %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Sends SIG to the child's group, or to the child alone when it left it. */
static void forward(pid_t child, int sig)
{
	if (kill(-child, sig) < 0 && errno == ESRCH)
		kill(child, sig);
}

/* Reaps every exited child. Returns 1 once CHILD is among them (its exit
 * code in *CODE), 0 otherwise. */
static int reap(pid_t child, int *code)
{
	int found = 0, status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid != child)
			continue;
		found = 1;
		if (WIFEXITED(status))
			*code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			*code = 128 + WTERMSIG(status);
	}
	return found;
}

/* --pause: no command, only reaping until told to stop. */
static int hold(const sigset_t *all)
{
	siginfo_t info;
	int ignored;
	for (;;) {
		int sig = sigwaitinfo(all, &info);
		if (sig < 0 && errno != EINTR) {
			fprintf(stderr, "berth-init: sigwaitinfo: %s\n", strerror(errno));
			return EXIT_INIT_FAILED;
		}
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
			return 0;
		if (sig == SIGCHLD)
			reap(0, &ignored);
	}
}

int main(int argc, char **argv)
{
	sigset_t all, original;
	siginfo_t info;
	pid_t child;
	int code = EXIT_INIT_FAILED;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage();
		return 0;
	}
	argv++;
	bool pause = argv[0] != NULL && strcmp(argv[0], "--pause") == 0 && argv[1] == NULL;
	if (argv[0] != NULL && strcmp(argv[0], "--") == 0)
		argv++;
	if (argv[0] == NULL) {
		usage();
		return EXIT_INIT_FAILED;
	}

	/* take every signal we can through sigwaitinfo() */
	sigfillset(&all);
	for (int sig = 1; sig < NSIG; sig++)
		if (synchronous_signal(sig))
			sigdelset(&all, sig);
	if (sigprocmask(SIG_BLOCK, &all, &original) < 0) {
		fprintf(stderr, "berth-init: block signals: %s\n", strerror(errno));
		return EXIT_INIT_FAILED;
	}
	/* outside a PID namespace, orphans of the command come to us, not to the host's init */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fprintf(stderr, "berth-init: warning: cannot become a subreaper: %s\n", strerror(errno));

	if (pause)
		return hold(&all);

	child = fork();
	if (child < 0) {
		fprintf(stderr, "berth-init: fork: %s\n", strerror(errno));
		return EXIT_INIT_FAILED;
	}
	if (child == 0)
		exec_child(argv, &original);
	/* in the parent too: a signal forwarded before the child's setpgid must find the group */
	setpgid(child, child);

	for (;;) {
		int sig = sigwaitinfo(&all, &info);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "berth-init: sigwaitinfo: %s\n", strerror(errno));
			return EXIT_INIT_FAILED;
		}
		if (sig != SIGCHLD) {
			forward(child, sig);
			continue;
		}
		if (reap(child, &code))
			return code;
	}
}
