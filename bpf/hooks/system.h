/* SPDX-License-Identifier: GPL-2.0-only */
/* Kernel reads and module requests, mounts, and the bpf() system call. */
#ifndef KRSI_HOOKS_SYSTEM_H
#define KRSI_HOOKS_SYSTEM_H

/*
 * LoadPin (security/loadpin/loadpin.c): the first file system a kernel read
 * comes from (since the agent started) is pinned, or the one the policy
 * configures (`loadpin: {root: PATH}`: the agent writes KRSI_PIN_DEV and its
 * s_dev); read.pinned says whether a read comes from it. Once the pinned
 * file system goes away, nothing is pinned any more and every read is
 * unpinned, as in the kernel (loadpin_sb_free_security under enforce).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct krsi_loadpin);
} krsi_loadpin SEC(".maps");

static __always_inline __u64 loadpin_check(struct file *file)
{
	struct krsi_loadpin *ls;
	struct super_block *s;
	__u32 zero = 0, st, dev;
	__u64 sb;

	ls = bpf_map_lookup_elem(&krsi_loadpin, &zero);
	if (!ls || !file)
		return 0;
	s = BPF_CORE_READ(file, f_path.mnt, mnt_sb);
	sb = (__u64)s;
	dev = BPF_CORE_READ(s, s_dev);
	st = ls->state;
	/* The first read (from the configured file system) pins its super
	 * block; of racing first reads, one wins the sb and all agree on it. */
	if (st == KRSI_PIN_NONE || (st == KRSI_PIN_DEV && ls->dev == dev)) {
		if (__sync_val_compare_and_swap(&ls->sb, 0, sb) == 0 && st == KRSI_PIN_NONE)
			ls->dev = dev; /* for the agent: which file system is pinned */
		/* Not over GONE: the pinned file system may have gone meanwhile. */
		__sync_val_compare_and_swap(&ls->state, st, KRSI_PIN_SET);
	}
	return ls->state == KRSI_PIN_SET && ls->sb == sb;
}

SEC("lsm/sb_free_security")
int BPF_PROG(krsi_sb_free_security, struct super_block *sb)
{
	struct krsi_loadpin *ls;
	__u32 zero = 0, st;

	ls = bpf_map_lookup_elem(&krsi_loadpin, &zero);
	if (!ls)
		return 0;
	st = ls->state;
	/* The pinned super block, or (configured, nothing read yet) the one
	 * with the configured device: s_dev is unique among live super blocks
	 * and may be reused once this one is gone, hence GONE for good. */
	if ((st == KRSI_PIN_SET && ls->sb == (__u64)sb) ||
	    (st == KRSI_PIN_DEV && BPF_CORE_READ(sb, s_dev) == ls->dev))
		__sync_val_compare_and_swap(&ls->state, st, KRSI_PIN_GONE);
	return 0;
}

/* read.id: enum kernel_read_file_id / kernel_load_data_id share one order. */
SEC("lsm/kernel_read_file")
int BPF_PROG(krsi_kernel_read_file, struct file *file, enum kernel_read_file_id id, bool contents,
	     int ret)
{
	struct krsi_facts *f;
	__u64 pinned;

	if (ret)
		return ret;
	/* Pinning happens whatever the policy, as the kernel's does from boot. */
	pinned = loadpin_check(file);
	f = krsi_begin(KRSI_HOOK_KERNEL_READ_FILE);
	if (!f)
		return 0;
	if (file) {
		krsi_set_inode(f, BPF_CORE_READ(file, f_inode));
		krsi_set_hash(f);
		krsi_set_path(f, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt));
	}
	f->num[KRSI_F_A0 + 2] = id;
	f->num[KRSI_F_A0 + 3] = pinned;
	return krsi_decide(f);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(krsi_kernel_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_KERNEL_LOAD_DATA);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = id;
	return krsi_decide(f);
}

SEC("lsm/kernel_module_request")
int BPF_PROG(krsi_kernel_module_request, char *kmod_name, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_KERNEL_MODULE_REQUEST);
	if (!f)
		return 0;
	krsi_set_name(f, kmod_name);
	return krsi_decide(f);
}

/* mount.flags in the policy's MOUNT_FLAGS order. */
static __always_inline __u64 mount_flags(unsigned long fl)
{
	__u64 out = 0;

	if (fl & 1) /* MS_RDONLY */
		out |= 1 << 0;
	if (fl & 2) /* MS_NOSUID */
		out |= 1 << 1;
	if (fl & 4) /* MS_NODEV */
		out |= 1 << 2;
	if (fl & 8) /* MS_NOEXEC */
		out |= 1 << 3;
	if (fl & 32) /* MS_REMOUNT */
		out |= 1 << 4;
	if (fl & 4096) /* MS_BIND */
		out |= 1 << 5;
	if (fl & 8192) /* MS_MOVE */
		out |= 1 << 6;
	if (fl & 16384) /* MS_REC */
		out |= 1 << 7;
	if (fl & (1 << 18)) /* MS_PRIVATE */
		out |= 1 << 8;
	if (fl & (1 << 20)) /* MS_SHARED */
		out |= 1 << 9;
	if (fl & (1 << 19)) /* MS_SLAVE */
		out |= 1 << 10;
	return out;
}

/* mount.source in name, mount.fstype in name2, mount.target in path. */
SEC("lsm/sb_mount")
int BPF_PROG(krsi_sb_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_SB_MOUNT);
	if (!f)
		return 0;
	/* dev_name and type were copied into kernel memory by the mount syscall. */
	if (dev_name)
		krsi_set_name(f, dev_name);
	if (type)
		krsi_set_name2(f, type);
	krsi_set_path(f, BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt));
	f->num[KRSI_F_A0 + 2] = mount_flags(flags);
	return krsi_decide(f);
}

/*
 * move_mount(2): mount.source is the moved mount's path (in path2) and
 * mount.fstype its file system type, so "no tmpfs under /etc" also holds for
 * mounts made with the new API (fsopen/fsmount or open_tree + move_mount),
 * which never pass through sb_mount.
 */
SEC("lsm/move_mount")
int BPF_PROG(krsi_move_mount, const struct path *from_path, const struct path *to_path, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_MOVE_MOUNT);
	if (!f)
		return 0;
	krsi_set_name2(f, BPF_CORE_READ(from_path, mnt, mnt_sb, s_type, name));
	krsi_set_path(f, BPF_CORE_READ(to_path, dentry), BPF_CORE_READ(to_path, mnt));
	krsi_set_path2(f, BPF_CORE_READ(from_path, dentry), BPF_CORE_READ(from_path, mnt));
	f->num[KRSI_F_A0 + 2] = 1 << 6; /* move */
	return krsi_decide(f);
}

SEC("lsm/bpf")
int BPF_PROG(krsi_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_BPF);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = cmd;
	return krsi_decide(f);
}

SEC("lsm/bpf_map")
int BPF_PROG(krsi_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_BPF_MAP);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = BPF_CORE_READ(map, id);
	krsi_set_name(f, map->name);
	return krsi_decide(f);
}

SEC("lsm/bpf_prog")
int BPF_PROG(krsi_bpf_prog, struct bpf_prog *prog, int ret)
{
	struct krsi_facts *f;
	struct bpf_prog_aux *aux;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_BPF_PROG);
	if (!f)
		return 0;
	aux = BPF_CORE_READ(prog, aux);
	f->num[KRSI_F_A0 + 2] = BPF_CORE_READ(aux, id);
	krsi_set_name(f, aux->name);
	return krsi_decide(f);
}

#endif
