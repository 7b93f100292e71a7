/* fileless MODE PROG [ARGS]: run PROG without a name on disk, for the
 * fileless-exec detection (policies/detect/fileless-exec.yaml).
 *   memfd PROG [ARGS]        copy PROG into a memfd (memfd_create), then
 *                            execveat(fd, "", AT_EMPTY_PATH), as fexecve does
 *   deleted DIR PROG [ARGS]  copy PROG to DIR, open it, unlink it, then
 *                            execve("/proc/self/fd/N")
 * On success PROG replaces this program; a refused exec prints
 * "errno=NAME (message): WHAT" and exits 126. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "try_report.h"

extern char **environ;

static void copy(int to, const char *from)
{
	char b[65536];
	int fd = open(from, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		fail_errno(from);
	while ((n = read(fd, b, sizeof(b))) > 0)
		if (write(to, b, n) != n)
			fail_errno("write");
	if (n < 0)
		fail_errno("read");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "memfd")) {
		int fd = memfd_create("payload", 0);

		if (fd < 0)
			fail_errno("memfd_create");
		copy(fd, argv[2]);
		syscall(SYS_execveat, fd, "", &argv[2], environ, AT_EMPTY_PATH);
		fail_errno("execveat memfd");
	}
	if (argc >= 4 && !strcmp(argv[1], "deleted")) {
		char path[4096], self[64];
		int w, fd;

		snprintf(path, sizeof(path), "%s/payload.%d", argv[2], getpid());
		w = open(path, O_WRONLY | O_CREAT | O_EXCL, 0755);
		if (w < 0)
			fail_errno(path);
		copy(w, argv[3]);
		close(w); /* a file open for writing cannot be executed (ETXTBSY) */
		fd = open(path, O_RDONLY);
		if (fd < 0)
			fail_errno(path);
		if (unlink(path))
			fail_errno(path);
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		execve(self, &argv[3], environ);
		fail_errno("execve /proc/self/fd");
	}
	fprintf(stderr, "usage: fileless memfd PROG [ARGS] | deleted DIR PROG [ARGS]\n");
	return 2;
}
