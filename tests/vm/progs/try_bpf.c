/* try_bpf map|prog NAME: bpf(2) BPF_MAP_CREATE of a one-entry array map, or
 * BPF_PROG_LOAD of a two-instruction socket filter, named NAME (at most 15
 * bytes). Prints "ok id=<id>" or "errno=<NAME> (<message>): CMD" (exit 126).
 * try_bpf maps|progs: walk every map (program) id and open it by id, as a
 * tool tampering with another loader's objects would; one line per id,
 * "id=<id> name=<name>" or "id=<id> errno=<NAME>"; exits 0.
 * try_bpf hold NAME: create the map as `map` does, print "held id=<id>" and
 * keep it open until killed (an object of someone else's to walk over). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long fd, const char *cmd)
{
	if (fd < 0) {
		int err = errno;
		const char *name = strerrorname_np(err);
		printf("errno=%s (%s): %s\n", name ? name : "?", strerror(err), cmd);
		return 126;
	}
	/* The id the kernel gave it, as bpf.map.id / bpf.prog.id report it. */
	union bpf_attr attr;
	struct bpf_map_info minfo;
	struct bpf_prog_info pinfo;
	int is_map = !strcmp(cmd, "map_create");
	memset(&attr, 0, sizeof(attr));
	memset(&minfo, 0, sizeof(minfo));
	memset(&pinfo, 0, sizeof(pinfo));
	attr.info.bpf_fd = fd;
	attr.info.info_len = is_map ? sizeof(minfo) : sizeof(pinfo);
	attr.info.info = is_map ? (unsigned long)&minfo : (unsigned long)&pinfo;
	if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) < 0) {
		perror("BPF_OBJ_GET_INFO_BY_FD");
		return 1;
	}
	printf("ok id=%u\n", is_map ? minfo.id : pinfo.id);
	return 0;
}

/* Open every map or program by id; report its name or why it was refused. */
static int walk(int maps)
{
	union bpf_attr attr;
	__u32 id = 0;

	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(SYS_bpf, maps ? BPF_MAP_GET_NEXT_ID : BPF_PROG_GET_NEXT_ID, &attr,
			    sizeof(attr)) < 0)
			return errno == ENOENT ? 0 : report(-1, "get_next_id");
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		if (maps)
			attr.map_id = id;
		else
			attr.prog_id = id;
		int fd = syscall(SYS_bpf, maps ? BPF_MAP_GET_FD_BY_ID : BPF_PROG_GET_FD_BY_ID, &attr,
				 sizeof(attr));
		if (fd < 0) {
			const char *name = strerrorname_np(errno);
			printf("id=%u errno=%s\n", id, name ? name : "?");
			continue;
		}
		struct bpf_map_info minfo;
		struct bpf_prog_info pinfo;
		memset(&minfo, 0, sizeof(minfo));
		memset(&pinfo, 0, sizeof(pinfo));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = fd;
		attr.info.info_len = maps ? sizeof(minfo) : sizeof(pinfo);
		attr.info.info = maps ? (unsigned long)&minfo : (unsigned long)&pinfo;
		if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) < 0)
			printf("id=%u name=?\n", id);
		else
			printf("id=%u name=%s\n", id, maps ? minfo.name : pinfo.name);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	union bpf_attr attr;

	if (argc == 2 && (!strcmp(argv[1], "maps") || !strcmp(argv[1], "progs")))
		return walk(!strcmp(argv[1], "maps"));

	if (argc != 3 || strlen(argv[2]) >= BPF_OBJ_NAME_LEN) {
		fprintf(stderr, "usage: try_bpf map|prog|hold NAME (NAME < 16 bytes) | maps | progs\n");
		return 2;
	}
	memset(&attr, 0, sizeof(attr));
	if (!strcmp(argv[1], "map") || !strcmp(argv[1], "hold")) {
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 8;
		attr.max_entries = 1;
		memcpy(attr.map_name, argv[2], strlen(argv[2]));
		long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
		if (!strcmp(argv[1], "map") || fd < 0)
			return report(fd, "map_create");
		printf("held ");
		report(fd, "map_create");
		fflush(stdout);
		for (;;)
			pause();
	}
	if (!strcmp(argv[1], "prog")) {
		/* r0 = 0; exit: a socket filter that drops everything. */
		struct bpf_insn insns[] = {
			{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
			{.code = BPF_JMP | BPF_EXIT},
		};
		attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		attr.insns = (unsigned long)insns;
		attr.insn_cnt = 2;
		attr.license = (unsigned long)"GPL";
		memcpy(attr.prog_name, argv[2], strlen(argv[2]));
		return report(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)), "prog_load");
	}
	fprintf(stderr, "usage: try_bpf map|prog|hold NAME | maps | progs\n");
	return 2;
}
