/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy lock (`lock: until-reboot`). These programs load only in a
 * sealed instance: a second copy of this object that holds just the locked
 * policy. Once the agent has pinned its links, frozen its maps and armed
 * krsi_lock (itself frozen then), they refuse everything that could lift
 * the sealed policy before the next boot, whoever asks, root included:
 *
 * - BPF_LINK_DETACH / BPF_LINK_UPDATE on a sealed link;
 * - a new file descriptor for a sealed map (BPF_MAP_GET_FD_BY_ID,
 *   BPF_OBJ_GET): frozen maps refuse syscall writes, and without an fd no
 *   new BPF program can be loaded to write them either;
 * - removing or renaming the pins (a link whose last reference goes away
 *   is detached), and unmounting the bpffs that holds them.
 *
 * Killing the agent only closes its descriptors: the pins keep the links.
 * Each refusal is reported as a tamper record.
 */
#ifndef KRSI_HOOKS_LOCK_H
#define KRSI_HOOKS_LOCK_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct krsi_lock);
} krsi_lock SEC(".maps");

/* The sealed links and maps, by id (the ring buffer and the rule counters
 * are left out: a restarted agent reopens them to go on reporting). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KRSI_LOCK_MAX_IDS);
	__type(key, __u64);
	__type(value, __u32);
} krsi_lock_ids SEC(".maps");

static __always_inline struct krsi_lock *lock_armed(void)
{
	__u32 zero = 0;
	struct krsi_lock *l = bpf_map_lookup_elem(&krsi_lock, &zero);

	return l && l->armed ? l : NULL;
}

static __always_inline bool lock_sealed(__u64 kind, __u32 id)
{
	__u64 key = kind << 32 | id;

	return bpf_map_lookup_elem(&krsi_lock_ids, &key) != NULL;
}

/* Reports the refusal; the hook's return value. */
static __always_inline int lock_refuse(__u32 source, __u32 what, __u32 id, __u64 ino)
{
	struct krsi_tamper_event *e = bpf_ringbuf_reserve(&krsi_events, sizeof(*e), 0);

	if (e) {
		fill_hdr_type(&e->hdr, KRSI_EVENT_TAMPER, source, KRSI_ACTION_DENY, KRSI_NO_RULE,
			      0);
		e->what = what;
		e->id = id;
		e->ino = ino;
		bpf_ringbuf_submit(e, 0);
	} else {
		count(KRSI_CNT_EVENTS_LOST);
	}
	return -EPERM;
}

/* The file behind the caller's descriptor `fd`, or NULL. */
static __always_inline struct file *lock_fd_file(__u32 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_core_read(&f, sizeof(f), &fds[fd]);
	return f;
}

SEC("lsm/bpf")
int BPF_PROG(krsi_lock_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	struct bpf_link *link;
	struct file *f;
	__u32 fd, id;

	if (ret)
		return ret;
	if (cmd != BPF_LINK_DETACH && cmd != BPF_LINK_UPDATE)
		return 0;
	if (!lock_armed())
		return 0;
	fd = cmd == BPF_LINK_DETACH ? BPF_CORE_READ(attr, link_detach.link_fd) :
				      BPF_CORE_READ(attr, link_update.link_fd);
	f = lock_fd_file(fd);
	if (!f)
		return 0;
	/* Not a link fd: the command fails on its own, and the id read from
	 * whatever private_data is cannot be trusted to mean anything. */
	link = BPF_CORE_READ(f, private_data);
	id = BPF_CORE_READ(link, id);
	if (!lock_sealed(KRSI_LOCK_LINK, id))
		return 0;
	return lock_refuse(KRSI_SRC_LSM_HOOK + KRSI_HOOK_BPF, KRSI_TAMPER_LINK, id, 0);
}

SEC("lsm/bpf_map")
int BPF_PROG(krsi_lock_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	__u32 id;

	if (ret)
		return ret;
	if (!lock_armed())
		return 0;
	id = BPF_CORE_READ(map, id);
	if (!lock_sealed(KRSI_LOCK_MAP, id))
		return 0;
	return lock_refuse(KRSI_SRC_LSM_BPF_MAP, KRSI_TAMPER_MAP, id, 0);
}

static __always_inline bool lock_pin_dir(struct krsi_lock *l, struct inode *dir)
{
	return dir && BPF_CORE_READ(dir, i_sb, s_dev) == l->pin_dev &&
	       BPF_CORE_READ(dir, i_ino) == l->pin_dir_ino;
}

static __always_inline __u64 lock_ino(struct dentry *d)
{
	return BPF_CORE_READ(d, d_inode, i_ino);
}

SEC("lsm/inode_unlink")
int BPF_PROG(krsi_lock_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	struct krsi_lock *l;

	if (ret)
		return ret;
	l = lock_armed();
	if (!l || !lock_pin_dir(l, dir))
		return 0;
	return lock_refuse(KRSI_SRC_LSM_INODE_UNLINK, KRSI_TAMPER_PIN, 0, lock_ino(dentry));
}

SEC("lsm/inode_rmdir")
int BPF_PROG(krsi_lock_inode_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	struct krsi_lock *l;

	if (ret)
		return ret;
	l = lock_armed();
	/* The pin directory, or one in it (the record layout mark). */
	if (!l || (!lock_pin_dir(l, dir) && !lock_pin_dir(l, BPF_CORE_READ(dentry, d_inode))))
		return 0;
	return lock_refuse(KRSI_SRC_LSM_INODE_RMDIR, KRSI_TAMPER_PIN, 0, lock_ino(dentry));
}

/* Out of the pin directory, into it (over a pin), or the directory itself. */
SEC("lsm/inode_rename")
int BPF_PROG(krsi_lock_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	struct krsi_lock *l;

	if (ret)
		return ret;
	l = lock_armed();
	if (!l)
		return 0;
	if (!lock_pin_dir(l, old_dir) && !lock_pin_dir(l, new_dir) &&
	    !lock_pin_dir(l, BPF_CORE_READ(old_dentry, d_inode)))
		return 0;
	return lock_refuse(KRSI_SRC_LSM_INODE_RENAME, KRSI_TAMPER_PIN, 0, lock_ino(old_dentry));
}

/* Every mount of the pins' bpffs (bind mounts and other namespaces' copies
 * share its super block): the last unmount would drop the pins. */
SEC("lsm/sb_umount")
int BPF_PROG(krsi_lock_sb_umount, struct vfsmount *mnt, int flags, int ret)
{
	struct krsi_lock *l;

	if (ret)
		return ret;
	l = lock_armed();
	if (!l || BPF_CORE_READ(mnt, mnt_sb, s_dev) != l->pin_dev)
		return 0;
	return lock_refuse(KRSI_SRC_LSM_SB_UMOUNT, KRSI_TAMPER_UMOUNT, 0, 0);
}

#endif
