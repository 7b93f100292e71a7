/* memwrite MODE ...: another process's memory, written and read, for the
 * proc-mem-write detection (policies/detect/proc-mem-write.yaml).
 *   victim              print "ready pid=N addr=0xA" (A: a 16-byte buffer
 *                       holding "original"), then wait (30 s at most) until
 *                       the buffer changes: print "changed to TEXT", exit 0
 *   write PID ADDR      open /proc/PID/mem for writing, write "patched" at ADDR
 *   write-task PID ADDR the same through /proc/PID/task/PID/mem
 *   read PID ADDR       open /proc/PID/mem read-only, read 16 bytes at ADDR
 *   vmwrite PID ADDR    process_vm_writev "patched" to ADDR
 *   poke PID ADDR       PTRACE_ATTACH, PTRACE_POKEDATA "patched", detach
 *   self                write to this program's own memory via /proc/self/mem
 * Prints "ok ..." and exits 0, or "errno=NAME (message): WHAT" and exits 126. */
#include "try_report.h" /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>


static volatile char buf[16] = "original";
static const char patch[8] = "patched";

static int mem_open(const char *pid, int flags, int task)
{
	char path[64];
	int fd;

	if (task)
		snprintf(path, sizeof(path), "/proc/%s/task/%s/mem", pid, pid);
	else
		snprintf(path, sizeof(path), "/proc/%s/mem", pid);
	fd = open(path, flags);
	if (fd < 0)
		fail_errno(path);
	return fd;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "victim") && argc == 2) {
		printf("ready pid=%d addr=%p\n", getpid(), (void *)buf);
		fflush(stdout);
		for (int i = 0; i < 600; i++) {
			if (memcmp((const void *)buf, "original", 9)) {
				printf("changed to %s\n", (const char *)buf);
				return 0;
			}
			usleep(50000);
		}
		printf("unchanged\n");
		return 1;
	}
	if (!strcmp(mode, "self") && argc == 2) {
		int fd = mem_open("self", O_RDWR, 0);

		if (pwrite(fd, patch, sizeof(patch), (off_t)(uintptr_t)buf) != sizeof(patch))
			fail_errno("pwrite /proc/self/mem");
		printf("ok %s\n", (const char *)buf);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: memwrite victim | self | write|write-task|read|vmwrite|poke PID ADDR\n");
		return 2;
	}
	pid_t pid = num_arg(argv[2]);
	uintptr_t addr = num_arg(argv[3]);

	if (!strcmp(mode, "write") || !strcmp(mode, "write-task")) {
		int fd = mem_open(argv[2], O_WRONLY, !strcmp(mode, "write-task"));

		if (pwrite(fd, patch, sizeof(patch), (off_t)addr) != sizeof(patch))
			fail_errno("pwrite");
		printf("ok\n");
		return 0;
	}
	if (!strcmp(mode, "read")) {
		char got[16] = {};
		int fd = mem_open(argv[2], O_RDONLY, 0);

		if (pread(fd, got, sizeof(got) - 1, (off_t)addr) < 0)
			fail_errno("pread");
		printf("ok %s\n", got);
		return 0;
	}
	if (!strcmp(mode, "vmwrite")) {
		struct iovec local = { (void *)patch, sizeof(patch) };
		struct iovec remote = { (void *)addr, sizeof(patch) };

		if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != sizeof(patch))
			fail_errno("process_vm_writev");
		printf("ok\n");
		return 0;
	}
	if (!strcmp(mode, "poke")) {
		long word;

		if (ptrace(PTRACE_ATTACH, pid, 0, 0))
			fail_errno("PTRACE_ATTACH");
		if (waitpid(pid, NULL, 0) < 0)
			fail_errno("waitpid");
		memcpy(&word, patch, sizeof(word));
		if (ptrace(PTRACE_POKEDATA, pid, (void *)addr, (void *)word))
			fail_errno("PTRACE_POKEDATA");
		ptrace(PTRACE_DETACH, pid, 0, 0);
		printf("ok\n");
		return 0;
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
