/* as_user UID PROG [ARGS...]: drops to UID (gid too, no supplementary
 * groups, no capabilities left) and execs PROG: an unprivileged tracer. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <grp.h>

int main(int argc, char **argv)
{
	long uid;

	if (argc < 3) {
		fprintf(stderr, "usage: as_user UID PROG [ARGS...]\n");
		return 2;
	}
	uid = num_arg(argv[1]);
	if (setgroups(0, NULL) < 0)
		fail_errno("setgroups");
	if (setresgid(uid, uid, uid) < 0)
		fail_errno("setresgid");
	if (setresuid(uid, uid, uid) < 0)
		fail_errno("setresuid");
	execv(argv[2], argv + 2);
	fail_errno("execv");
}
