/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Resolve a struct path to an absolute path string by walking dentries and
 * crossing mounts. bpf_d_path() would do this, but only from an allowlist of
 * hooks and never from tracepoints, and krsi must give the same answer from
 * both backends. The walk is bounded; a deeper path is reported truncated
 * (its tail, the most useful part, is kept).
 */
#ifndef KRSI_PATH_H
#define KRSI_PATH_H

#include "krsi_abi.h"

#define KRSI_PATH_COMPONENTS 40

struct krsi_path_scratch {
	char buf[KRSI_PATH_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct krsi_path_scratch);
} krsi_path_scratch SEC(".maps");

/* Prepends "/<name>" at *off; keeps *off >= 1 so the copy-out size stays masked. */
static __always_inline bool krsi_prepend_name(struct krsi_path_scratch *s, __u32 *off,
					      struct dentry *dentry, bool *truncated)
{
	__u32 len = BPF_CORE_READ(dentry, d_name.len) & 255;
	__u32 o = *off;

	if (len + 1 >= o) {
		*truncated = true;
		return false;
	}
	o -= len + 1;
	s->buf[o & (KRSI_PATH_MAX - 1)] = '/';
	bpf_probe_read_kernel(&s->buf[(o + 1) & (KRSI_PATH_MAX - 1)], len,
			      BPF_CORE_READ(dentry, d_name.name));
	*off = o;
	return true;
}

/*
 * Writes the path of (dentry, vfsmnt) NUL-terminated into dst
 * (KRSI_PATH_MAX bytes) and returns its length without the NUL;
 * *truncated is set when components had to be dropped.
 */
static __always_inline __u32 krsi_resolve_path(struct dentry *dentry, struct vfsmount *vfsmnt,
						char *dst, bool *truncated)
{
	__u32 zero = 0;
	struct krsi_path_scratch *s = bpf_map_lookup_elem(&krsi_path_scratch, &zero);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 off = KRSI_PATH_MAX - 1;
	__u32 len;

	*truncated = false;
	if (!s || !dentry || !vfsmnt) {
		dst[0] = 0;
		return 0;
	}
	s->buf[KRSI_PATH_MAX - 1] = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < KRSI_PATH_COMPONENTS; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent;

			if (dentry != mnt_root) {
				/* An unmounted tree (memfd, anon inode): report its name. */
				krsi_prepend_name(s, &off, dentry, truncated);
				break;
			}
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt == mnt_parent)
				break; /* the namespace's root */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = &mnt->mnt;
			continue;
		}
		if (!krsi_prepend_name(s, &off, dentry, truncated))
			break;
		dentry = parent;
	}
	if (off == KRSI_PATH_MAX - 1) {
		/* The root itself, or a dentry with no ancestry at all. */
		dst[0] = '/';
		dst[1] = 0;
		return 1;
	}
	len = KRSI_PATH_MAX - off; /* including the NUL */
	bpf_probe_read_kernel(dst, len & (KRSI_PATH_MAX - 1), &s->buf[off & (KRSI_PATH_MAX - 1)]);
	return len - 1;
}

#endif
