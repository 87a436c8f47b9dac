/* spec's name tables used from several threads at once (parallel build
 * stages write one config each): a name is never seen half-written. A
 * table is filled once per process, so each round runs in a fresh child. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "spec/spec.h"

#define THREADS 8
#define ROUNDS	2000

static pthread_barrier_t start;

/* Every capability's name, in an order of the thread's own; 1 when one
 * was not what the kernel headers call it. */
static void *name_all(void *arg)
{
	uintptr_t offset = (uintptr_t)arg;
	int last = CAP_LAST_CAP, wrong = 0;

	pthread_barrier_wait(&start);
	for (int k = 0; k <= last; k++) {
		int cap = (int)((k + offset) % (uintptr_t)(last + 1));
		const char *name = spec_capability_name(cap);
		if (spec_capability_from_name(name) != cap)
			wrong = 1;
	}
	return (void *)(uintptr_t)wrong;
}

/* One round in this (fresh) process: 0 when every name was whole. */
static int round_in_child(void)
{
	pthread_t t[THREADS];
	int bad = 0;

	pthread_barrier_init(&start, NULL, THREADS);
	for (uintptr_t i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, name_all, (void *)(i % 2)) != 0)
			return 2;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad |= (int)(uintptr_t)r;
	}
	return bad;
}

static void test_capability_names_from_threads(void **state)
{
	int failed = 0;

	(void)state;
	for (int r = 0; r < ROUNDS; r++) {
		int status;
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(round_in_child());
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_not_equal(WEXITSTATUS(status), 2);
		failed += WEXITSTATUS(status) != 0;
	}
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capability_names_from_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
