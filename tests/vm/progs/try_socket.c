/* try_socket FAMILY TYPE [PROTOCOL]: socket(2) with numeric arguments (a
 * family whose module is not loaded makes the kernel request_module
 * "net-pf-FAMILY"). Prints "ok" or "errno=<NAME> (<message>): socket"
 * (exit 126). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: try_socket FAMILY TYPE [PROTOCOL]\n");
		return 2;
	}
	int fd = socket(atoi(argv[1]), atoi(argv[2]), argc == 4 ? atoi(argv[3]) : 0);
	if (fd < 0) {
		int err = errno;
		const char *name = strerrorname_np(err);
		printf("errno=%s (%s): socket\n", name ? name : "?", strerror(err));
		return 126;
	}
	close(fd);
	printf("ok\n");
	return 0;
}
