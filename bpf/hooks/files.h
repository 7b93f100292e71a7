/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * File hooks: unlink, rename, creation. inode_* hooks receive no mount:
 * resolve_path() finds it (see find_mount) when a path is needed.
 */
#ifndef KRSI_HOOKS_FILES_H
#define KRSI_HOOKS_FILES_H

static __always_inline __u64 running_exe(struct inode *inode)
{
	/* exec denies writes to the file it maps for as long as it runs. */
	return BPF_CORE_READ(inode, i_writecount.counter) < 0;
}

/*
 * file.running_exe_of, as fields::EXE_OWNERS orders it: whose running
 * executable the file is. self and parent compare the inode with the
 * executables of the caller's mm and of its real parent's (a NULL mm, a
 * kernel thread's, reads as no inode); other falls back on the write denial
 * running_exe() tests, which 6.1 also holds for files the kernel is reading
 * (kernel_read_file: finit_module, firmware, kexec), for an interpreter
 * during the exec that loads it, and for binfmt_misc 'F' interpreters.
 */
#define KRSI_EXE_OF_NONE 0
#define KRSI_EXE_OF_SELF 1
#define KRSI_EXE_OF_PARENT 2
#define KRSI_EXE_OF_OTHER 3
static __always_inline __u64 running_exe_of(struct inode *inode)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (!inode)
		return KRSI_EXE_OF_NONE;
	if (BPF_CORE_READ(task, mm, exe_file, f_inode) == inode)
		return KRSI_EXE_OF_SELF;
	if (BPF_CORE_READ(task, real_parent, mm, exe_file, f_inode) == inode)
		return KRSI_EXE_OF_PARENT;
	return running_exe(inode) ? KRSI_EXE_OF_OTHER : KRSI_EXE_OF_NONE;
}

static __always_inline int unlink_common(__u32 hook, struct dentry *dentry, struct vfsmount *mnt)
{
	struct krsi_facts *f = krsi_begin(hook);
	struct inode *inode;

	if (!f)
		return 0;
	inode = BPF_CORE_READ(dentry, d_inode);
	krsi_set_inode(f, inode);
	f->num[KRSI_F_A0 + 2] = running_exe(inode);
	f->num[KRSI_F_A0 + 6] = running_exe_of(inode);
	krsi_set_path(f, dentry, mnt);
	return krsi_decide(f);
}

SEC("lsm/inode_unlink")
int BPF_PROG(krsi_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return unlink_common(KRSI_HOOK_INODE_UNLINK, dentry, NULL);
}

SEC("lsm/path_unlink")
int BPF_PROG(krsi_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return unlink_common(KRSI_HOOK_PATH_UNLINK, dentry, BPF_CORE_READ(dir, mnt));
}

SEC("lsm/inode_rename")
int BPF_PROG(krsi_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	struct krsi_facts *f;
	struct inode *inode;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_INODE_RENAME);
	if (!f)
		return 0;
	inode = BPF_CORE_READ(old_dentry, d_inode);
	krsi_set_inode(f, inode);
	f->num[KRSI_F_A0 + 2] = running_exe(inode);
	f->num[KRSI_F_A0 + 6] = running_exe_of(inode);
	/* Renaming over a running executable replaces it too. */
	inode = BPF_CORE_READ(new_dentry, d_inode);
	if (inode) {
		f->num[KRSI_F_A0 + 3] = BPF_CORE_READ(inode, i_sb, s_dev);
		f->num[KRSI_F_A0 + 4] = BPF_CORE_READ(inode, i_ino);
		f->num[KRSI_F_A0 + 5] = running_exe(inode);
		f->num[KRSI_F_A0 + 7] = running_exe_of(inode);
	}
	krsi_set_path(f, old_dentry, NULL);
	krsi_set_path2(f, new_dentry, NULL);
	return krsi_decide(f);
}

static __always_inline int create_common(__u32 hook, struct dentry *dentry, __u64 mode)
{
	struct krsi_facts *f = krsi_begin(hook);

	if (!f)
		return 0;
	/* file.parent is the directory, file.name the new entry. */
	krsi_set_path(f, BPF_CORE_READ(dentry, d_parent), NULL);
	krsi_set_name(f, (const char *)BPF_CORE_READ(dentry, d_name.name));
	f->num[KRSI_F_A0 + 2] = mode;
	return krsi_decide(f);
}

SEC("lsm/inode_create")
int BPF_PROG(krsi_inode_create, struct inode *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return create_common(KRSI_HOOK_INODE_CREATE, dentry, mode);
}

SEC("lsm/inode_mkdir")
int BPF_PROG(krsi_inode_mkdir, struct inode *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return create_common(KRSI_HOOK_INODE_MKDIR, dentry, mode);
}

SEC("lsm/inode_symlink")
int BPF_PROG(krsi_inode_symlink, struct inode *dir, struct dentry *dentry, const char *old_name,
	     int ret)
{
	if (ret)
		return ret;
	return create_common(KRSI_HOOK_INODE_SYMLINK, dentry, 0);
}

#endif
