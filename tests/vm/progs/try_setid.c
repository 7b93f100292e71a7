/* try_setid OP ARGS [OP ARGS]...: uid/gid changes for the task_fix_setuid
 * and task_fix_setgid hooks, done in order (-1 leaves an id unchanged where
 * the call allows it). OPs:
 *   setuid N | seteuid N | setresuid R E S | setgid N | setegid N | setresgid R E S
 *   scmcred U G: send SCM_CREDENTIALS claiming uid U and gid G over a
 *     socketpair; other ids than one's own need CAP_SETUID/CAP_SETGID
 *     outside any set*id call (what SafeSetID restricts)
 * Prints "ok uid=R,E,S gid=R,E,S" (the ids afterwards) and exits 0, or the
 * errno line of the first failing call and exits 126. Raw syscalls: one
 * call, one hook invocation. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <sys/socket.h>
#include <sys/syscall.h>

/* sendmsg with SCM_CREDENTIALS {own pid, uid, gid}: 0 or -1 (errno). */
static long send_creds(long uid, long gid)
{
	struct ucred uc = { .pid = getpid(), .uid = uid, .gid = gid };
	char cbuf[CMSG_SPACE(sizeof(uc))] = { 0 };
	char byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		return -1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(uc));
	memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	return sendmsg(sv[0], &msg, 0) < 0 ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: try_setid OP ARGS [OP ARGS]...; OP: setuid|seteuid|setgid|setegid N, "
			"setresuid|setresgid R E S, scmcred U G\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int i = 1;

	if (argc < 3)
		usage();
	while (i < argc) {
		const char *op = argv[i];
		int n = !strcmp(op, "setresuid") || !strcmp(op, "setresgid") ? 3
			: !strcmp(op, "scmcred")			       ? 2
									       : 1;
		long a[3] = { -1, -1, -1 }, r;

		if (i + n >= argc)
			usage();
		for (int k = 0; k < n; k++)
			a[k] = num_arg(argv[i + 1 + k]);
		i += 1 + n;
		if (!strcmp(op, "setuid"))
			r = syscall(SYS_setuid, a[0]);
		else if (!strcmp(op, "seteuid"))
			r = syscall(SYS_setresuid, -1, a[0], -1);
		else if (!strcmp(op, "setresuid"))
			r = syscall(SYS_setresuid, a[0], a[1], a[2]);
		else if (!strcmp(op, "setgid"))
			r = syscall(SYS_setgid, a[0]);
		else if (!strcmp(op, "setegid"))
			r = syscall(SYS_setresgid, -1, a[0], -1);
		else if (!strcmp(op, "setresgid"))
			r = syscall(SYS_setresgid, a[0], a[1], a[2]);
		else if (!strcmp(op, "scmcred"))
			r = send_creds(a[0], a[1]);
		else
			usage();
		if (r < 0)
			fail_errno(op);
	}
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	printf("ok uid=%u,%u,%u gid=%u,%u,%u\n", ru, eu, su, rg, eg, sg);
	return 0;
}
