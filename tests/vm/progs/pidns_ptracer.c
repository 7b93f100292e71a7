/* pidns_ptracer UID: PR_SET_PTRACER inside a pid namespace (Yama's
 * yama_task_prctl resolves the declared pid with find_get_task_by_vpid, in
 * the declarer's namespace). Run as root; every tracer and the target run
 * as UID, so the kernel's own uid checks pass and Yama's rules decide.
 *
 *   impostor  a process of the initial namespace, forked first: its global
 *             pid G is the number the target declares
 *   ns init   unshare(CLONE_NEWPID) + fork; sets ns_last_pid so that
 *   tracer    gets pid G *in the new namespace*
 *   target    declares prctl(PR_SET_PTRACER, G) there, then waits
 *   other     another process of the namespace, not declared
 *
 * The target is a sibling of every tracer (no ancestry), so only the
 * declaration can let one attach. Order: the impostor attaches to the
 * target by its global pid, then the tracer and the other one by its
 * namespace pid. Prints
 *   pids impostor=G target=GLOBAL target_ns=N tracer=GLOBAL other=GLOBAL
 * then one line per attach, "NAME: ok" or "NAME: errno=EPERM (...)", and
 * exits 0 (126 if the setup fails, with its errno line). */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static long uid;

static void drop(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		fail_errno("dropping to UID");
}

/* The caller's pid in the initial namespace: /proc is that namespace's. */
static pid_t global_pid(void)
{
	char buf[32] = { 0 };

	if (readlink("/proc/self", buf, sizeof(buf) - 1) < 0)
		fail_errno("readlink /proc/self");
	return (pid_t)num_arg(buf);
}

static void read_all(int fd, void *buf, size_t n)
{
	if (read(fd, buf, n) != (ssize_t)n)
		fail_errno("pipe read");
}

static void write_all(int fd, const void *buf, size_t n)
{
	if (write(fd, buf, n) != (ssize_t)n)
		fail_errno("pipe write");
}

/* Waits for a pid on `go`, PTRACE_ATTACHes to it, reports, detaches. */
static __attribute__((noreturn)) void attacher(const char *name, int go)
{
	pid_t pid;
	int st;

	drop();
	read_all(go, &pid, sizeof(pid));
	if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0) {
		int err = errno;

		printf("%s: errno=%s (%s)\n", name, strerrorname_np(err), strerror(err));
		fflush(stdout);
		_exit(1);
	}
	if (waitpid(pid, &st, __WALL) < 0 || !WIFSTOPPED(st))
		fail_errno("waitpid tracee");
	if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
		fail_errno("PTRACE_DETACH");
	printf("%s: ok\n", name);
	fflush(stdout);
	_exit(0);
}

static pid_t fork_or_die(void)
{
	pid_t p = fork();

	if (p < 0)
		fail_errno("fork");
	return p;
}

/* pipe(), checked. */
static void mkpipe(int p[2])
{
	if (pipe(p) < 0)
		fail_errno("pipe");
}

/* Reads what a just forked child reports on its own pipe: a child that
 * dies first (its errno line printed) ends the setup. */
static void report_of(int p[2], void *buf, size_t n)
{
	close(p[1]);
	if (read(p[0], buf, n) != (ssize_t)n) {
		printf("a namespace process died during setup\n");
		fflush(stdout);
		_exit(126);
	}
	close(p[0]);
}

/* The namespace's init: tracer (pid G here), target, other, each reporting
 * its global pid; then runs the two attaches when the outer process says
 * so. */
static __attribute__((noreturn)) void ns_init(pid_t g, int info_w, int go_r)
{
	int tgo[2], ogo[2], rep[2];
	pid_t tracer, target, other, ids[4], one;
	char buf[32];
	int fd, len, st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The next pid allocated here is G. */
	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
	len = snprintf(buf, sizeof(buf), "%d", g - 1);
	if (fd < 0 || write(fd, buf, len) != len)
		fail_errno("ns_last_pid");
	close(fd);
	mkpipe(tgo);
	mkpipe(ogo);
	mkpipe(rep);
	tracer = fork_or_die();
	if (tracer == 0) {
		pid_t gp = global_pid();

		if (getpid() != g) {
			printf("tracer got pid %d in the namespace, not %d\n", getpid(), g);
			_exit(3);
		}
		write_all(rep[1], &gp, sizeof(gp));
		attacher("tracer", tgo[0]);
	}
	report_of(rep, &ids[0], sizeof(ids[0]));
	mkpipe(rep);
	target = fork_or_die();
	if (target == 0) {
		pid_t mine[2];

		drop();
		/* setresuid cleared dumpable; an exec would have restored it. */
		prctl(PR_SET_DUMPABLE, 1);
		/* Without the kernel's Yama the prctl is unknown (EINVAL), and
		 * krsi has recorded the declaration all the same. */
		if (prctl(PR_SET_PTRACER, (unsigned long)g, 0, 0, 0) < 0 &&
		    (errno != EINVAL || access("/proc/sys/kernel/yama", F_OK) == 0))
			fail_errno("PR_SET_PTRACER");
		mine[0] = global_pid();
		mine[1] = getpid();
		write_all(rep[1], mine, sizeof(mine));
		for (;;)
			pause();
	}
	report_of(rep, &ids[1], 2 * sizeof(ids[1]));
	mkpipe(rep);
	other = fork_or_die();
	if (other == 0) {
		pid_t gp = global_pid();

		write_all(rep[1], &gp, sizeof(gp));
		attacher("other", ogo[0]);
	}
	report_of(rep, &ids[3], sizeof(ids[3]));
	write_all(info_w, ids, sizeof(ids));
	/* The outer process says when: after the impostor's attempt. */
	read_all(go_r, &one, sizeof(one));
	write_all(tgo[1], &target, sizeof(target));
	waitpid(tracer, &st, 0);
	write_all(ogo[1], &target, sizeof(target));
	waitpid(other, &st, 0);
	kill(target, SIGKILL);
	waitpid(target, &st, 0);
	_exit(0);
}

int main(int argc, char **argv)
{
	int xgo[2], info[2], go[2];
	pid_t impostor, init, g, ids[4], one = 1;
	int st;

	if (argc != 2) {
		fprintf(stderr, "usage: pidns_ptracer UID\n");
		return 2;
	}
	uid = num_arg(argv[1]);
	mkpipe(xgo);
	mkpipe(info);
	mkpipe(go);
	impostor = fork_or_die();
	if (impostor == 0) {
		close(info[1]);
		attacher("impostor", xgo[0]);
	}
	g = impostor;
	if (unshare(CLONE_NEWPID) < 0)
		fail_errno("unshare(CLONE_NEWPID)");
	init = fork_or_die();
	if (init == 0)
		ns_init(g, info[1], go[0]);
	close(info[1]); /* a namespace init that dies ends the read below */
	/* tracer, target, target's namespace pid, other */
	read_all(info[0], ids, sizeof(ids));
	printf("pids impostor=%d target=%d target_ns=%d tracer=%d other=%d\n", g, ids[1], ids[2],
	       ids[0], ids[3]);
	fflush(stdout);
	write_all(xgo[1], &ids[1], sizeof(ids[1]));
	waitpid(impostor, &st, 0);
	write_all(go[1], &one, sizeof(one));
	waitpid(init, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("namespace init failed (status 0x%x)\n", st);
		return 1;
	}
	return 0;
}
