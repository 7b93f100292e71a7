/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Resolve a struct path to an absolute path string by walking dentries and
 * crossing mounts. bpf_d_path() would do this, but only from an allowlist of
 * hooks and never from tracepoints, and krsi must give the same answer from
 * both backends. The walk runs under bpf_loop() (5.17+) so the verifier
 * checks one step, not every combination of mount crossings. A path deeper
 * than the buffer is reported truncated, keeping its tail.
 */
#ifndef KRSI_PATH_H
#define KRSI_PATH_H

#include "krsi_abi.h"

#define KRSI_PATH_COMPONENTS 64
#define KRSI_PATH_MASK (KRSI_PATH_MAX - 1)

struct krsi_path_scratch {
	char buf[KRSI_PATH_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct krsi_path_scratch);
} krsi_path_scratch SEC(".maps");

struct krsi_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 off; /* start of the path built so far in the scratch buffer */
	bool truncated;
};

/* Prepends "/<name>"; keeps off >= 1 so the copy-out size stays masked.
 * Every index is masked, so the buffer bounds hold whatever off is. */
static __always_inline bool krsi_prepend_name(struct krsi_path_walk *w, struct dentry *dentry)
{
	__u32 zero = 0;
	struct krsi_path_scratch *s = bpf_map_lookup_elem(&krsi_path_scratch, &zero);
	__u32 len = BPF_CORE_READ(dentry, d_name.len) & 255;
	__u32 o = w->off;

	if (!s)
		return false;
	if (len + 1 >= o) {
		w->truncated = true;
		return false;
	}
	o -= len + 1;
	s->buf[o & KRSI_PATH_MASK] = '/';
	bpf_probe_read_kernel(&s->buf[(o + 1) & KRSI_PATH_MASK], len,
			      BPF_CORE_READ(dentry, d_name.name));
	w->off = o;
	return true;
}

static long krsi_path_step(__u32 i, void *data)
{
	struct krsi_path_walk *w = data;
	/* Locals, not w->...: BPF_CORE_READ would relocate krsi's own struct. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct mount *mnt_parent;

	if (dentry != mnt_root && dentry != parent) {
		if (!krsi_prepend_name(w, dentry))
			return 1;
		w->dentry = parent;
		return 0;
	}
	if (dentry != mnt_root) {
		/* An unmounted tree (memfd, anon inode): report its name. */
		krsi_prepend_name(w, dentry);
		return 1;
	}
	mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
	if (mnt == mnt_parent)
		return 1; /* the namespace's root */
	w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
	w->mnt = mnt_parent;
	w->vfsmnt = &mnt_parent->mnt;
	return 0;
}

/*
 * Writes the path of (dentry, vfsmnt) NUL-terminated into dst
 * (KRSI_PATH_MAX bytes) and returns its length without the NUL;
 * *truncated is set when components had to be dropped.
 */
static __always_inline __u32 krsi_resolve_path(struct dentry *dentry, struct vfsmount *vfsmnt,
						char *dst, bool *truncated)
{
	struct krsi_path_walk w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.off = KRSI_PATH_MAX - 1,
		.truncated = false,
	};
	__u32 zero = 0, len;
	struct krsi_path_scratch *s = bpf_map_lookup_elem(&krsi_path_scratch, &zero);

	*truncated = false;
	dst[0] = 0;
	if (!s || !dentry || !vfsmnt)
		return 0;
	s->buf[KRSI_PATH_MAX - 1] = 0;
	bpf_loop(KRSI_PATH_COMPONENTS, krsi_path_step, &w, 0);
	*truncated = w.truncated;
	if (w.off >= KRSI_PATH_MAX - 1) {
		/* The root itself, or a dentry with no ancestry at all. */
		dst[0] = '/';
		dst[1] = 0;
		return 1;
	}
	len = (KRSI_PATH_MAX - w.off) & KRSI_PATH_MASK; /* including the NUL */
	bpf_probe_read_kernel(dst, len, &s->buf[w.off & KRSI_PATH_MASK]);
	return len ? len - 1 : 0;
}

#endif
