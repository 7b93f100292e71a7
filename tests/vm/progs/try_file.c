/* try_file OP ARGS: one file-system call, for unlink/rename/create scenarios.
 *   unlink PATH | rmdir PATH | rename OLD NEW | create PATH (O_CREAT|O_EXCL)
 *   mkdir PATH | symlink TARGET PATH
 *   unlink-self          unlink this program's own running executable
 *   pause                sleep until killed (a running executable to rename over)
 * Prints "ok" and exits 0, or "errno=<NAME> (<message>): OP" and exits 126,
 * like try_open, so scripts can assert the errno an LSM returned. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int report(int rc, const char *op)
{
	if (rc < 0) {
		int err = errno;
		const char *name = strerrorname_np(err);
		printf("errno=%s (%s): %s\n", name ? name : "?", strerror(err), op);
		return 126;
	}
	printf("ok\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: try_file unlink|rmdir|create|mkdir PATH | rename OLD NEW |"
			" symlink TARGET PATH | unlink-self | pause\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *op = argv[1];
	if (!strcmp(op, "pause") && argc == 2) {
		/* Say we run, so the caller knows the exe is mapped. */
		printf("running %d\n", getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	if (!strcmp(op, "unlink-self") && argc == 2) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return report(-1, "readlink /proc/self/exe");
		self[n] = 0;
		return report(unlink(self), self);
	}
	if (argc == 3) {
		const char *p = argv[2];
		if (!strcmp(op, "unlink"))
			return report(unlink(p), op);
		if (!strcmp(op, "rmdir"))
			return report(rmdir(p), op);
		if (!strcmp(op, "mkdir"))
			return report(mkdir(p, 0755), op);
		if (!strcmp(op, "create")) {
			int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd >= 0)
				close(fd);
			return report(fd, op);
		}
	}
	if (argc == 4) {
		if (!strcmp(op, "rename"))
			return report(rename(argv[2], argv[3]), op);
		if (!strcmp(op, "symlink"))
			return report(symlink(argv[2], argv[3]), op);
	}
	return usage();
}
