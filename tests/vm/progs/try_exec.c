/* try_exec PROGRAM [ARGS...]: execve PROGRAM with ARGS (argv[0] = PROGRAM).
 * On success PROGRAM replaces this process (same pid, so events name it).
 * On failure prints "errno=<NAME> (<message>): <PROGRAM>" on stdout and
 * exits 126, so scripts can assert the exact errno an LSM returned. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: try_exec PROGRAM [ARGS...]\n");
		return 2;
	}
	/* Paths are exec'd as given; bare names are looked up in PATH. */
	if (strchr(argv[1], '/'))
		execv(argv[1], argv + 1);
	else
		execvp(argv[1], argv + 1);
	int err = errno;
	const char *name = strerrorname_np(err);
	char num[16];
	if (!name) {
		snprintf(num, sizeof(num), "%d", err);
		name = num;
	}
	printf("errno=%s (%s): %s\n", name, strerror(err), argv[1]);
	fflush(stdout);
	return 126;
}
