/* try_mount: one mount call, for sb_mount / move_mount scenarios.
 *   mount SOURCE TARGET FSTYPE [FLAG,...]   mount(2); FLAG: rdonly nosuid nodev
 *                                           noexec remount bind move rec private
 *   move FROM TO                            open_tree(FROM) + move_mount(2) to TO
 *   umount TARGET                           umount2(TARGET, MNT_DETACH)
 *   fsmount SOURCE FSTYPE TARGET            the new mount API: fsopen(FSTYPE),
 *                                           fsconfig source=SOURCE, fsconfig
 *                                           CMD_CREATE, fsmount, move_mount
 * Prints "ok" or "errno=<NAME> (<message>): OP" (exit 126). "-" as FSTYPE
 * or SOURCE passes NULL (bind, move, remount). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long rc, const char *op)
{
	if (rc < 0) {
		int err = errno;
		const char *name = strerrorname_np(err);
		printf("errno=%s (%s): %s\n", name ? name : "?", strerror(err), op);
		return 126;
	}
	printf("ok\n");
	return 0;
}

static const struct {
	const char *name;
	unsigned long bit;
} flag_names[] = {
	{"rdonly", MS_RDONLY}, {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV},
	{"noexec", MS_NOEXEC}, {"remount", MS_REMOUNT}, {"bind", MS_BIND},
	{"move", MS_MOVE},     {"rec", MS_REC},	      {"private", MS_PRIVATE},
};

static int parse_flags(char *s, unsigned long *out)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		size_t i;
		for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			if (!strcmp(tok, flag_names[i].name))
				break;
		if (i == sizeof(flag_names) / sizeof(flag_names[0])) {
			fprintf(stderr, "try_mount: unknown flag %s\n", tok);
			return -1;
		}
		*out |= flag_names[i].bit;
	}
	return 0;
}

static const char *arg(const char *s)
{
	return strcmp(s, "-") ? s : NULL;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && argc <= 6 && !strcmp(argv[1], "mount")) {
		unsigned long flags = 0;
		if (argc == 6 && parse_flags(argv[5], &flags) < 0)
			return 2;
		return report(mount(arg(argv[2]), argv[3], arg(argv[4]), flags, NULL), "mount");
	}
	if (argc == 4 && !strcmp(argv[1], "move")) {
		/* The fd names the mount at FROM itself (no OPEN_TREE_CLONE). */
		int fd = syscall(SYS_open_tree, AT_FDCWD, argv[2], OPEN_TREE_CLOEXEC);
		if (fd < 0)
			return report(fd, "open_tree");
		return report(syscall(SYS_move_mount, fd, "", AT_FDCWD, argv[3],
				      MOVE_MOUNT_F_EMPTY_PATH),
			      "move_mount");
	}
	if (argc == 5 && !strcmp(argv[1], "fsmount")) {
		/* The super block is created (and an LSM may refuse it) at
		 * FSCONFIG_CMD_CREATE; the errno names the failing step. */
		int fs = syscall(SYS_fsopen, argv[3], FSOPEN_CLOEXEC);
		if (fs < 0)
			return report(fs, "fsopen");
		long rc = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", argv[2], 0);
		if (rc < 0)
			return report(rc, "fsconfig source");
		rc = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
		if (rc < 0)
			return report(rc, "fsconfig create");
		int mfd = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
		if (mfd < 0)
			return report(mfd, "fsmount");
		return report(syscall(SYS_move_mount, mfd, "", AT_FDCWD, argv[4],
				      MOVE_MOUNT_F_EMPTY_PATH),
			      "move_mount");
	}
	if (argc == 3 && !strcmp(argv[1], "umount"))
		return report(umount2(argv[2], MNT_DETACH), "umount");
	fprintf(stderr, "usage: try_mount mount SOURCE TARGET FSTYPE [FLAGS] | move FROM TO |"
			" umount TARGET | fsmount SOURCE FSTYPE TARGET\n");
	return 2;
}
