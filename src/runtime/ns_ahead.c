#include "runtime/ns_ahead.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/cpu_affinity.h"
#include "util/log.h"

static const struct {
	int type;
	int flag;
	const char *proc;
} ahead_types[] = {
	{ NS_NETWORK, CLONE_NEWNET, "/proc/thread-self/ns/net" },
	{ NS_IPC, CLONE_NEWIPC, "/proc/thread-self/ns/ipc" },
	{ NS_UTS, CLONE_NEWUTS, "/proc/thread-self/ns/uts" },
};

#define AHEAD_FLAGS (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
#define AHEAD_STACK (64 * 1024)

/* The thread: its namespaces leave with it, their fds stay. */
static void *make_namespaces(void *arg)
{
	ns_ahead *a = arg;

	if (unshare(a->flags) < 0) {
		a->error = errno;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(ahead_types) / sizeof(ahead_types[0]); i++) {
		if (!(a->flags & ahead_types[i].flag))
			continue;
		a->fds[ahead_types[i].type] = open(ahead_types[i].proc, O_RDONLY | O_CLOEXEC);
		if (a->fds[ahead_types[i].type] < 0) {
			a->error = errno;
			return NULL;
		}
	}
	return NULL;
}

void ns_ahead_start(ns_ahead *a, const spec *s, int clone_flags)
{
	pthread_attr_t attr;
	cpu_spread spread;

	*a = (ns_ahead){ .flags = clone_flags & AHEAD_FLAGS };
	for (int t = 0; t < NS_TYPES; t++)
		a->fds[t] = -1;
	/* Only with a network namespace to make: the others alone cost less
	 * than a thread. None owned by the init's own user namespace, which
	 * the clone makes. */
	if (!(a->flags & CLONE_NEWNET) || (clone_flags & CLONE_NEWUSER) || s->namespaces[NS_USER].path != NULL)
		return;
	/* on a single CPU the thread would only add its own cost */
	cpu_spread_plan(&spread);
	if (!spread.on)
		return;
	a->stack = mmap(NULL, AHEAD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (a->stack == MAP_FAILED) {
		a->stack = NULL;
		return;
	}
	if (pthread_attr_init(&attr) == 0) {
		/* on this process's other CPUs, as the init (cpu_spread) */
		pthread_attr_setaffinity_np(&attr, sizeof(spread.others), &spread.others);
		a->started = pthread_attr_setstack(&attr, a->stack, AHEAD_STACK) == 0 &&
			     pthread_create(&a->thread, &attr, make_namespaces, a) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!a->started) {
		munmap(a->stack, AHEAD_STACK);
		a->stack = NULL;
	}
}

/* Joins the thread and frees its stack; false when none was started. */
static bool join(ns_ahead *a)
{
	if (!a->started)
		return false;
	pthread_join(a->thread, NULL);
	munmap(a->stack, AHEAD_STACK);
	a->stack = NULL;
	a->started = false;
	return true;
}

void ns_ahead_cancel(ns_ahead *a)
{
	if (!join(a))
		return;
	for (int t = 0; t < NS_TYPES; t++)
		if (a->fds[t] >= 0) {
			close(a->fds[t]);
			a->fds[t] = -1;
		}
}

void ns_ahead_finish(ns_ahead *a, int ns_fds[NS_TYPES], int *clone_flags)
{
	if (!join(a))
		return;
	for (size_t i = 0; i < sizeof(ahead_types) / sizeof(ahead_types[0]); i++) {
		int t = ahead_types[i].type;
		if (a->fds[t] < 0)
			continue;
		if (a->error == 0 && ns_fds[t] < 0) {
			ns_fds[t] = a->fds[t];
			*clone_flags &= ~ahead_types[i].flag;
		} else {
			close(a->fds[t]);
		}
		a->fds[t] = -1;
	}
	if (a->error != 0)
		berth_debug("namespaces made ahead: %s; made by the clone instead", strerror(a->error));
}
