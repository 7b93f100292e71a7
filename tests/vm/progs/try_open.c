/* try_open PATH MODE: open(2) PATH with MODE r (O_RDONLY), w (O_WRONLY),
 * rw (O_RDWR), a (O_WRONLY|O_APPEND) or c (O_WRONLY|O_CREAT|O_TRUNC).
 * Prints "ok" and exits 0, or prints "errno=<NAME> (<message>): PATH" and
 * exits 126, so scripts can assert the exact errno an LSM returned. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int flags;

	if (argc != 3) {
		fprintf(stderr, "usage: try_open PATH r|w|rw|a|c\n");
		return 2;
	}
	if (!strcmp(argv[2], "r"))
		flags = O_RDONLY;
	else if (!strcmp(argv[2], "w"))
		flags = O_WRONLY;
	else if (!strcmp(argv[2], "rw"))
		flags = O_RDWR;
	else if (!strcmp(argv[2], "a"))
		flags = O_WRONLY | O_APPEND;
	else if (!strcmp(argv[2], "c"))
		flags = O_WRONLY | O_CREAT | O_TRUNC;
	else {
		fprintf(stderr, "try_open: unknown mode %s\n", argv[2]);
		return 2;
	}
	int fd = open(argv[1], flags, 0644);
	if (fd < 0) {
		int err = errno;
		const char *name = strerrorname_np(err);
		printf("errno=%s (%s): %s\n", name ? name : "?", strerror(err), argv[1]);
		return 126;
	}
	close(fd);
	printf("ok\n");
	return 0;
}
