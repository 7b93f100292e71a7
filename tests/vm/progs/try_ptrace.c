/* try_ptrace: ptrace requests for the ptrace_access_check and
 * ptrace_traceme hooks. Each prints "ok" and exits 0, or prints the errno
 * line and exits 126.
 *   attach PID    PTRACE_ATTACH to PID (e.g. a sibling: relation "other")
 *   seize PID     PTRACE_SEIZE + PTRACE_INTERRUPT
 *   child-attach  fork a child, PTRACE_ATTACH to it (relation "descendant");
 *                 prints "child=PID" first
 *   traceme       fork a child that calls PTRACE_TRACEME (its target is
 *                 this process); prints "parent=PID" first, then the
 *                 child's result, and exits with the child's status
 * A successful attach waits for the tracee's stop and detaches, so the
 * tracee runs on unchanged. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

/* Waits for the tracee's ptrace stop and detaches without a signal. */
static void stop_and_detach(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, __WALL) < 0)
		fail_errno("waitpid");
	if (!WIFSTOPPED(st)) {
		printf("tracee %d not stopped (status 0x%x)\n", pid, st);
		exit(1);
	}
	if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
		fail_errno("PTRACE_DETACH");
}

static void attach(pid_t pid)
{
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
		fail_errno("PTRACE_ATTACH");
	stop_and_detach(pid);
}

static void seize(pid_t pid)
{
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		fail_errno("PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		fail_errno("PTRACE_INTERRUPT");
	stop_and_detach(pid);
}

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	if (argc == 3 && !strcmp(argv[1], "attach")) {
		attach((pid_t)num_arg(argv[2]));
	} else if (argc == 3 && !strcmp(argv[1], "seize")) {
		seize((pid_t)num_arg(argv[2]));
	} else if (argc == 2 && !strcmp(argv[1], "child-attach")) {
		pid = fork();
		if (pid < 0)
			fail_errno("fork");
		if (pid == 0) {
			for (;;)
				pause();
		}
		printf("child=%d\n", pid);
		fflush(stdout);
		/* The child's pid exists from fork on: no race with the attach. */
		int err = ptrace(PTRACE_ATTACH, pid, 0, 0) < 0 ? errno : 0;
		if (!err)
			stop_and_detach(pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (err) {
			errno = err;
			fail_errno("PTRACE_ATTACH");
		}
	} else if (argc == 2 && !strcmp(argv[1], "traceme")) {
		printf("parent=%d\n", getpid());
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			fail_errno("fork");
		if (pid == 0) {
			if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
				fail_errno("PTRACE_TRACEME");
			printf("ok\n");
			fflush(stdout);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) < 0)
			fail_errno("waitpid");
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	} else {
		fprintf(stderr, "usage: try_ptrace attach|seize PID | child-attach | traceme\n");
		return 2;
	}
	printf("ok\n");
	return 0;
}
