/* open_then_exec FILE PROGRAM [ARGS...]: opens FILE for writing (the
 * "signal"), then forks a child that execs PROGRAM and execs PROGRAM itself
 * (the "later behaviour" of the process and of its child). Prints
 * "open=OK|errno=NAME", "child=OK|errno=NAME", "self=errno=NAME". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

int main(int argc, char **argv)
{
	int fd, status;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: open_then_exec FILE PROGRAM [ARGS...]\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0)
		printf("open=errno=%s\n", ename(errno));
	else
		printf("open=OK\n");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(argv[2], argv + 2);
		printf("child=errno=%s\n", ename(errno));
		fflush(stdout);
		_exit(126);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) != 126)
		printf("child=OK\n");
	fflush(stdout);
	execv(argv[2], argv + 2);
	printf("self=errno=%s\n", ename(errno));
	return 126;
}
