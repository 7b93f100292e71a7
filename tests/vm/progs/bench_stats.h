/* Shared by the VM benchmark programs: timing, percentiles, and the one
 * parseable summary line. Define BENCH_NAME and BENCH_FMT (printf format of
 * one figure, e.g. "%.1f") before including. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
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

static void summarize(double *v, long n)
{
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += v[i];
	qsort(v, n, sizeof(double), cmp_double);
	printf(BENCH_NAME " runs=%ld p50_us=" BENCH_FMT " p90_us=" BENCH_FMT " p99_us=" BENCH_FMT
	       " mean_us=" BENCH_FMT " min_us=" BENCH_FMT " max_us=" BENCH_FMT "\n",
	       n, pct(v, n, 50), pct(v, n, 90), pct(v, n, 99), sum / n, v[0], v[n - 1]);
}

/* Read a samples file written with -o; errors name file:line:column. */
static int summarize_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, BENCH_NAME ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	long n = 0, cap = 1024, lineno = 0;
	double *v = malloc(sizeof(double) * cap);
	char line[128];
	while (v && fgets(line, sizeof(line), f)) {
		lineno++;
		char *end;
		double x = strtod(line, &end);
		if (end == line || (*end != '\n' && *end != '\0') || x < 0) {
			fprintf(stderr, "%s:%ld:%ld: not a sample in microseconds\n", path, lineno,
				(long)(end - line) + 1);
			fclose(f);
			free(v);
			return 1;
		}
		if (n == cap) {
			cap *= 2;
			double *nv = realloc(v, sizeof(double) * cap);
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[n++] = x;
	}
	fclose(f);
	if (!v) {
		perror(BENCH_NAME ": malloc");
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "%s:1:1: no samples\n", path);
		free(v);
		return 1;
	}
	summarize(v, n);
	free(v);
	return 0;
}

#endif
