/* Shared by the try_* test programs: report a failed call the way
 * try_exec/try_open do ("errno=<NAME> (<message>): <what>" on stdout, exit
 * 126), so scenarios can assert the exact errno an LSM hook returned. */
#ifndef KRSI_TRY_REPORT_H
#define KRSI_TRY_REPORT_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Prints the errno line for `what` and exits 126. */
static inline __attribute__((noreturn)) void fail_errno(const char *what)
{
	int err = errno;
	const char *name = strerrorname_np(err);

	if (name)
		printf("errno=%s (%s): %s\n", name, strerror(err), what);
	else
		printf("errno=%d (%s): %s\n", err, strerror(err), what);
	fflush(stdout);
	_exit(126);
}

/* A decimal argument (may be negative); exits 2 on junk. */
static inline long num_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "not a number: %s\n", s);
		exit(2);
	}
	return v;
}
#endif
