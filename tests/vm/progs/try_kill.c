/* try_kill PID SIG: kill(2) PID with signal number SIG (0 = existence
 * check). Prints "ok" and exits 0, or the errno line and exits 126. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <signal.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: try_kill PID SIG\n");
		return 2;
	}
	if (kill((pid_t)num_arg(argv[1]), (int)num_arg(argv[2])) < 0)
		fail_errno("kill");
	printf("ok\n");
	return 0;
}
