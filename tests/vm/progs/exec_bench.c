/* exec_bench [-n RUNS] [-w WARMUP] PROGRAM [ARGS...]
 * Times RUNS rounds of fork + execve(PROGRAM) + waitpid with CLOCK_MONOTONIC
 * after WARMUP untimed rounds, and prints one parseable line:
 *   exec_bench runs=N p50_us=.. p90_us=.. p99_us=.. mean_us=.. min_us=.. max_us=..
 * Exits 1 if any round's child does not exit 0 (e.g. the exec was denied),
 * since the figures would then time a failed exec. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long parse_count(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 10000000) {
		fprintf(stderr, "exec_bench: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One fork+exec+wait round; returns its duration in microseconds. */
static double round_us(char **argv)
{
	double t0 = now_us();
	pid_t pid = fork();
	if (pid < 0) {
		perror("exec_bench: fork");
		exit(1);
	}
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("exec_bench: waitpid");
			exit(1);
		}
	}
	double t1 = now_us();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "exec_bench: %s did not exit 0 (status 0x%x); exec denied?\n",
			argv[0], status);
		exit(1);
	}
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double pct(const double *v, long n, double p)
{
	long rank = (long)(p / 100.0 * n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

int main(int argc, char **argv)
{
	long runs = 2000, warmup = 100;
	int opt;
	while ((opt = getopt(argc, argv, "+n:w:")) != -1) {
		switch (opt) {
		case 'n':
			runs = parse_count(optarg, "-n");
			break;
		case 'w':
			warmup = parse_count(optarg, "-w");
			break;
		default:
			fprintf(stderr, "usage: exec_bench [-n RUNS] [-w WARMUP] PROGRAM [ARGS...]\n");
			return 2;
		}
	}
	if (optind >= argc || runs < 1) {
		fprintf(stderr, "usage: exec_bench [-n RUNS] [-w WARMUP] PROGRAM [ARGS...]\n");
		return 2;
	}
	char **prog = argv + optind;
	for (long i = 0; i < warmup; i++)
		round_us(prog);
	double *v = malloc(sizeof(double) * runs);
	if (!v) {
		perror("exec_bench: malloc");
		return 1;
	}
	double sum = 0;
	for (long i = 0; i < runs; i++) {
		v[i] = round_us(prog);
		sum += v[i];
	}
	qsort(v, runs, sizeof(double), cmp_double);
	printf("exec_bench runs=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n",
	       runs, pct(v, runs, 50), pct(v, runs, 90), pct(v, runs, 99), sum / runs, v[0],
	       v[runs - 1]);
	free(v);
	return 0;
}
