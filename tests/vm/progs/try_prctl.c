/* try_prctl: prctl(2) calls for the task_prctl hook. Each prints a line
 * starting "ok" (with what the kernel reports afterwards, so a test sees the
 * call really took effect) and exits 0, or the errno line and exits 126.
 *   set-name NAME     PR_SET_NAME (15), then "ok name=<PR_GET_NAME>"
 *   get-name          PR_GET_NAME (16): "ok name=..."
 *   set-dumpable N    PR_SET_DUMPABLE (4), then "ok dumpable=<PR_GET_DUMPABLE>"
 *   get-dumpable      PR_GET_DUMPABLE (3): "ok dumpable=N"
 *   raw OPT [A2 [A3]] prctl(OPT, A2, A3, 0, 0): "ok ret=N" */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <sys/prctl.h>

static void print_name(void)
{
	char name[17] = { 0 };

	if (prctl(PR_GET_NAME, name, 0, 0, 0) < 0)
		fail_errno("PR_GET_NAME");
	printf("ok name=%s\n", name);
}

static void print_dumpable(void)
{
	int d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

	if (d < 0)
		fail_errno("PR_GET_DUMPABLE");
	printf("ok dumpable=%d\n", d);
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	if (argc == 3 && !strcmp(op, "set-name")) {
		if (prctl(PR_SET_NAME, argv[2], 0, 0, 0) < 0)
			fail_errno("PR_SET_NAME");
		print_name();
	} else if (argc == 2 && !strcmp(op, "get-name")) {
		print_name();
	} else if (argc == 3 && !strcmp(op, "set-dumpable")) {
		if (prctl(PR_SET_DUMPABLE, num_arg(argv[2]), 0, 0, 0) < 0)
			fail_errno("PR_SET_DUMPABLE");
		print_dumpable();
	} else if (argc == 2 && !strcmp(op, "get-dumpable")) {
		print_dumpable();
	} else if (argc >= 3 && argc <= 5 && !strcmp(op, "raw")) {
		long a2 = argc > 3 ? num_arg(argv[3]) : 0, a3 = argc > 4 ? num_arg(argv[4]) : 0;
		int r = prctl((int)num_arg(argv[2]), a2, a3, 0, 0);

		if (r < 0)
			fail_errno("prctl");
		printf("ok ret=%d\n", r);
	} else {
		fprintf(stderr, "usage: try_prctl set-name NAME | get-name | set-dumpable N | "
				"get-dumpable | raw OPT [A2 [A3]]\n");
		return 2;
	}
	return 0;
}
