/* ptracer_decl WHO: prctl(PR_SET_PTRACER, WHO) — a pid, "any"
 * (PR_SET_PTRACER_ANY) or "none" (0: no declaration) — then prints
 * "ready pid=N" and waits until killed: the "crashing program" of the Yama
 * demonstration that names its crash handler. Prints the errno line and
 * exits 126 if the prctl fails. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	unsigned long who;

	if (argc != 2) {
		fprintf(stderr, "usage: ptracer_decl PID|any|none\n");
		return 2;
	}
	if (!strcmp(argv[1], "any"))
		who = (unsigned long)-1; /* PR_SET_PTRACER_ANY */
	else if (!strcmp(argv[1], "none"))
		who = 0;
	else
		who = (unsigned long)num_arg(argv[1]);
	if (who && prctl(PR_SET_PTRACER, who, 0, 0, 0) < 0)
		fail_errno("PR_SET_PTRACER");
	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}
