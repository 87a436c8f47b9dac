/* Paired start latency: runs each command once per round, in turn (the
 * order reversed every other round), so that load changes on a shared
 * machine hit every runtime alike instead of one block of runs. Prints one
 * line per command: name, rounds, wall p25/median/p75/mean (ms) and the CPU
 * per run (ms, the command and all it waited for, from RUSAGE_CHILDREN).
 *
 *   paired ROUNDS NAME1 CMD1 [NAME2 CMD2 ...]
 *
 * Each CMD is split into words at spaces (no quoting), as `hyperfine -N`
 * does; stdout and stderr go to /dev/null; a failing run stops everything
 * with exit status 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8
#define MAX_WORDS 32

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double children_cpu_ms(void)
{
	struct rusage r;

	getrusage(RUSAGE_CHILDREN, &r);
	return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char *words[MAX_CMDS][MAX_WORDS + 1];
	const char *names[MAX_CMDS];
	double *wall[MAX_CMDS], cpu[MAX_CMDS] = { 0 };
	int rounds, n = 0, devnull = open("/dev/null", O_WRONLY);

	if (argc < 4 || (argc - 2) % 2 != 0 || (rounds = atoi(argv[1])) < 1 || devnull < 0) {
		fprintf(stderr, "usage: paired ROUNDS NAME CMD [NAME CMD ...]\n");
		return 2;
	}
	for (int a = 2; a + 1 < argc && n < MAX_CMDS; a += 2, n++) {
		int w = 0;
		names[n] = argv[a];
		for (char *tok = strtok(argv[a + 1], " "); tok != NULL && w < MAX_WORDS; tok = strtok(NULL, " "))
			words[n][w++] = tok;
		words[n][w] = NULL;
		wall[n] = calloc(rounds, sizeof(double));
		if (w == 0 || wall[n] == NULL)
			return 2;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < n; k++) {
			int c = r % 2 ? n - 1 - k : k, status;
			double c0 = children_cpu_ms(), t0 = now_ms();
			pid_t pid = fork();

			if (pid == 0) {
				dup2(devnull, 1);
				dup2(devnull, 2);
				execvp(words[c][0], words[c]);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "paired: %s failed in round %d\n", names[c], r + 1);
				return 1;
			}
			wall[c][r] = now_ms() - t0;
			cpu[c] += children_cpu_ms() - c0;
		}
	}
	for (int c = 0; c < n; c++) {
		double sum = 0;
		for (int r = 0; r < rounds; r++)
			sum += wall[c][r];
		qsort(wall[c], rounds, sizeof(double), cmp);
		printf("%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", names[c], rounds, wall[c][rounds / 4], wall[c][rounds / 2],
		       wall[c][3 * rounds / 4], sum / rounds, cpu[c] / rounds);
	}
	return 0;
}
