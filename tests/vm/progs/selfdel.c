/* selfdel MODE: a program that deletes a running executable, for the
 * self-delete detection (policies/detect/self-delete.yaml).
 *   self           unlink argv[0] (run it by an absolute path): a dropper
 *                  removing itself
 *   parent HELPER  fork a child that execs `HELPER unlink ARGV0` (try_file):
 *                  the child deletes its parent's running executable
 *   rename-self NEW  rename NEW over argv[0]: the running file is replaced
 * Prints "ok" or "errno=NAME (message): WHAT" (exit 126) like try_file; in
 * parent mode the child's line and exit status are passed on. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "self")) {
		if (unlink(argv[0]))
			fail_errno(argv[0]);
		printf("ok\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "rename-self")) {
		if (rename(argv[2], argv[0]))
			fail_errno(argv[0]);
		printf("ok\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "parent")) {
		int status;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		if (pid < 0)
			fail_errno("fork");
		if (pid == 0) {
			execl(argv[2], argv[2], "unlink", argv[0], (char *)NULL);
			fail_errno(argv[2]);
		}
		if (waitpid(pid, &status, 0) < 0)
			fail_errno("waitpid");
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	fprintf(stderr, "usage: selfdel self | parent HELPER | rename-self NEW\n");
	return 2;
}
