// SPDX-License-Identifier: GPL-2.0-only
/*
 * `krsi doctor`'s live enforcement probe: deny one harmless action (opening
 * one file that the probe created) of one process (the probe) only. An LSM
 * program attaches fine while the BPF LSM is not active, then enforces
 * nothing; only an observed -EPERM proves enforcement.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 probe_tgid = 0;
const volatile __u64 probe_ino = 0;
const volatile __u32 probe_dev = 0;
__u64 probe_hits = 0;

SEC("lsm/file_open")
int BPF_PROG(krsi_probe_file_open, struct file *file, int ret)
{
	struct inode *inode;

	if (ret)
		return ret;
	if ((bpf_get_current_pid_tgid() >> 32) != probe_tgid)
		return 0;
	inode = file->f_inode;
	if (inode->i_ino != probe_ino || inode->i_sb->s_dev != probe_dev)
		return 0;
	__sync_fetch_and_add(&probe_hits, 1);
	return -EPERM;
}
