/* What a root attacker would try against a sealed krsi policy, through
 * bpf(2) directly (no libbpf, so nothing hides an errno):
 *   tamper detach PIN      BPF_OBJ_GET a pinned link, then BPF_LINK_DETACH;
 *   tamper update PIN      BPF_OBJ_GET a pinned map, then BPF_MAP_UPDATE_ELEM
 *                          of key 0 with a zero value;
 *   tamper maps            open every map by id (BPF_MAP_GET_FD_BY_ID);
 *                          one line per id: "id=N name=NAME" or
 *                          "id=N errno=NAME"; exits 0.
 * detach/update print "ok" or "errno=<NAME> (<message>): CMD" (exit 126),
 * as the other try_* programs do. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int fail(const char *cmd)
{
	int err = errno;
	const char *name = strerrorname_np(err);

	printf("errno=%s (%s): %s\n", name ? name : "?", strerror(err), cmd);
	return 126;
}

static int obj_get(const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (unsigned long)path;
	return bpf(BPF_OBJ_GET, &attr);
}

static int detach(const char *pin)
{
	union bpf_attr attr;
	int fd = obj_get(pin);

	if (fd < 0)
		return fail("obj_get");
	memset(&attr, 0, sizeof(attr));
	attr.link_detach.link_fd = fd;
	if (bpf(BPF_LINK_DETACH, &attr) < 0)
		return fail("link_detach");
	puts("ok");
	return 0;
}

static int update(const char *pin)
{
	struct bpf_map_info info;
	union bpf_attr attr;
	void *key, *value;
	int fd = obj_get(pin);

	if (fd < 0)
		return fail("obj_get");
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (unsigned long)&info;
	if (bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
		return fail("obj_get_info_by_fd");
	/* Per-CPU values: one per possible CPU, 8-byte aligned. */
	key = calloc(1, info.key_size);
	value = calloc(256, (info.value_size + 7) & ~7u);
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = (unsigned long)key;
	attr.value = (unsigned long)value;
	if (bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0)
		return fail("map_update_elem");
	puts("ok");
	return 0;
}

static int maps(void)
{
	union bpf_attr attr;
	__u32 id = 0;

	for (;;) {
		struct bpf_map_info info;
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (bpf(BPF_MAP_GET_NEXT_ID, &attr) < 0)
			return errno == ENOENT ? 0 : fail("map_get_next_id");
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		attr.map_id = id;
		fd = bpf(BPF_MAP_GET_FD_BY_ID, &attr);
		if (fd < 0) {
			const char *name = strerrorname_np(errno);

			printf("id=%u errno=%s\n", id, name ? name : "?");
			continue;
		}
		memset(&info, 0, sizeof(info));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (unsigned long)&info;
		if (bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0)
			printf("id=%u name=%s\n", id, info.name);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "detach"))
		return detach(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "update"))
		return update(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "maps"))
		return maps();
	fprintf(stderr, "usage: tamper detach PIN | update PIN | maps\n");
	return 2;
}
