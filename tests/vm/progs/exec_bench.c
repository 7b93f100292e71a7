/* exec_bench [-n RUNS] [-w WARMUP] [-o SAMPLES] PROGRAM [ARGS...]
 * exec_bench -s SAMPLES
 * Times RUNS rounds of fork + execve(PROGRAM) + waitpid with CLOCK_MONOTONIC
 * after WARMUP untimed rounds, and prints one parseable line:
 *   exec_bench runs=N p50_us=.. p90_us=.. p99_us=.. mean_us=.. min_us=.. max_us=..
 * -o appends each sample (microseconds, one per line) to SAMPLES, so a bench
 * can interleave configurations in blocks and -s summarises a file of them
 * in the same format.
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

#define BENCH_NAME "exec_bench"
#define BENCH_FMT "%.1f"
#include "bench_stats.h"

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

static int usage(void)
{
	fprintf(stderr, "usage: exec_bench [-n RUNS] [-w WARMUP] [-o SAMPLES] PROGRAM [ARGS...]\n"
			"       exec_bench -s SAMPLES\n");
	return 2;
}

int main(int argc, char **argv)
{
	long runs = 2000, warmup = 100;
	const char *out_path = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+n:w:o:s:")) != -1) {
		switch (opt) {
		case 'n':
			runs = parse_count(optarg, "-n");
			break;
		case 'w':
			warmup = parse_count(optarg, "-w");
			break;
		case 'o':
			out_path = optarg;
			break;
		case 's':
			return summarize_file(optarg);
		default:
			return usage();
		}
	}
	if (optind >= argc || runs < 1)
		return usage();
	char **prog = argv + optind;
	FILE *out = NULL;
	if (out_path && !(out = fopen(out_path, "a"))) {
		fprintf(stderr, "exec_bench: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	for (long i = 0; i < warmup; i++)
		round_us(prog);
	double *v = malloc(sizeof(double) * runs);
	if (!v) {
		perror("exec_bench: malloc");
		return 1;
	}
	for (long i = 0; i < runs; i++)
		v[i] = round_us(prog);
	/* Written after timing so file I/O never lands inside a sample. */
	if (out) {
		for (long i = 0; i < runs; i++)
			fprintf(out, "%.1f\n", v[i]);
		if (fclose(out) != 0) {
			fprintf(stderr, "exec_bench: writing %s: %s\n", out_path, strerror(errno));
			return 1;
		}
	}
	summarize(v, runs);
	free(v);
	return 0;
}
