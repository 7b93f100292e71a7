/* try_module finit|init PATH: load a kernel module with finit_module(2)
 * (the kernel reads the file: kernel_read_file, READING_MODULE) or with
 * init_module(2) from a copy in memory (kernel_load_data, LOADING_MODULE).
 * Unlike busybox insmod, no fallback from one call to the other, so a denied
 * finit_module stays denied. Prints "ok" or "errno=<NAME> (<message>): ..."
 * (exit 126). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(int rc, const char *what)
{
	if (rc < 0) {
		int err = errno;
		const char *name = strerrorname_np(err);
		printf("errno=%s (%s): %s\n", name ? name : "?", strerror(err), what);
		return 126;
	}
	printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "finit") && strcmp(argv[1], "init"))) {
		fprintf(stderr, "usage: try_module finit|init PATH\n");
		return 2;
	}
	int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[2]);
		return 2;
	}
	if (!strcmp(argv[1], "finit"))
		return report(syscall(SYS_finit_module, fd, "", 0), "finit_module");

	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		perror("fstat");
		return 2;
	}
	char *buf = malloc(st.st_size);
	if (!buf)
		return 2;
	for (off_t got = 0; got < st.st_size;) {
		ssize_t n = read(fd, buf + got, st.st_size - got);
		if (n <= 0) {
			perror("read");
			return 2;
		}
		got += n;
	}
	return report(syscall(SYS_init_module, buf, (unsigned long)st.st_size, ""), "init_module");
}
