/* open_bench [-n RUNS] [-w WARMUP] [-b BATCH] [-o SAMPLES] PATH
 * open_bench -s SAMPLES
 * Times RUNS samples of BATCH (default 100) open(PATH, O_RDONLY) + close
 * pairs with CLOCK_MONOTONIC, after WARMUP untimed samples; a sample is the
 * mean time of one pair in its batch (one open is too short to time alone).
 * Prints one parseable line:
 *   open_bench runs=N p50_us=.. p90_us=.. p99_us=.. mean_us=.. min_us=.. max_us=..
 * -o appends the samples to SAMPLES; -s summarises such a file. Exits 1 if
 * an open fails (the figures would time a denied open). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "open_bench"
#define BENCH_FMT "%.2f"
#include "bench_stats.h"

int main(int argc, char **argv)
{
	long runs = 2000, warmup = 20, batch = 100;
	const char *out = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "n:w:b:o:s:")) != -1) {
		switch (opt) {
		case 'n':
			runs = atol(optarg);
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		case 'b':
			batch = atol(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			return summarize_file(optarg);
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || runs < 1 || batch < 1) {
		fprintf(stderr, "usage: open_bench [-n RUNS] [-w WARMUP] [-b BATCH] [-o SAMPLES] PATH\n");
		return 2;
	}
	const char *path = argv[optind];
	double *v = malloc(sizeof(double) * runs);
	if (!v)
		return 1;
	for (long r = -warmup; r < runs; r++) {
		double t0 = now_us();
		for (long i = 0; i < batch; i++) {
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				fprintf(stderr, "open_bench: %s: %s\n", path, strerror(errno));
				return 1;
			}
			close(fd);
		}
		if (r >= 0)
			v[r] = (now_us() - t0) / batch;
	}
	if (out) {
		FILE *f = fopen(out, "a");
		if (!f) {
			fprintf(stderr, "open_bench: %s: %s\n", out, strerror(errno));
			return 1;
		}
		for (long r = 0; r < runs; r++)
			fprintf(f, "%.3f\n", v[r]);
		fclose(f);
	}
	summarize(v, runs);
	return 0;
}
