// SPDX-License-Identifier: GPL-2.0-only
/*
 * krsi exec programs: report every exec and deny executables by identity.
 *
 * bprm_check_security decides (a deny is -EPERM from the hook itself);
 * bprm_committed_creds reports allowed execs once the new image's stack is
 * current->mm, so argv is read from kernel-prepared memory, not the caller's.
 * Without the BPF LSM the agent loads only sched_process_exec, which can
 * report but never deny.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "krsi_abi.h"
#include "krsi_path.h"

#define EPERM 1

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} krsi_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct krsi_state);
} krsi_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS);
	__type(key, __u32);
	__type(value, struct krsi_slot_config);
} krsi_slot_config SEC(".maps");

/* Executable identity -> rule; the key's slot keeps two policies apart. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KRSI_MAX_IDENTITIES);
	__type(key, struct krsi_exec_key);
	__type(value, struct krsi_rule_ref);
} krsi_exec_rules SEC(".maps");

/* Per-rule counters, index slot * KRSI_MAX_RULES + rule. Denies are counted
 * here even when the ring buffer is full, so no deny is ever silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_MAX_RULES);
	__type(key, __u32);
	__type(value, struct krsi_rule_stats);
} krsi_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KRSI_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} krsi_counters SEC(".maps");

/* argv as the caller passed it to execve, kept only to describe a denied
 * exec (before the point of no return the new stack is not readable). */
struct argv_stash {
	__u32 len;
	__u32 argc;
	__u32 flags;
	char argv[KRSI_ARGV_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct argv_stash);
} krsi_argv_stash SEC(".maps");

/* Built here, then copied into the stash: each string is read with a fixed
 * size at a masked offset, so the slack keeps every read inside the buffer
 * without the verifier having to relate offset and size. */
struct argv_scratch {
	struct argv_stash stash;
	char slack[KRSI_ARGV_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct argv_scratch);
} krsi_argv_scratch SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&krsi_counters, &which);

	if (c)
		*c += 1;
}

static __always_inline struct krsi_rule_stats *rule_stats(__u32 slot, __u32 rule)
{
	__u32 idx;

	if (rule >= KRSI_MAX_RULES)
		return NULL;
	idx = (slot & 1) * KRSI_MAX_RULES + rule;
	return bpf_map_lookup_elem(&krsi_rule_stats, &idx);
}

static __always_inline struct krsi_state *state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&krsi_state, &zero);
}

static __always_inline void fill_hdr(struct krsi_event_hdr *h, __u32 source, __u32 action,
				     __u32 rule, __u32 slot)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->boot_ns = bpf_ktime_get_boot_ns();
	h->type = KRSI_EVENT_EXEC;
	h->source = source;
	h->action = action;
	h->rule = rule;
	h->slot = slot;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline void fill_exe(struct krsi_exec_event *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	bool truncated = false;

	if (!exe) {
		e->exe[0] = 0;
		e->exe_len = 0;
		return;
	}
	e->exe_len = krsi_resolve_path(BPF_CORE_READ(exe, f_path.dentry),
				       BPF_CORE_READ(exe, f_path.mnt), e->exe, &truncated);
	if (truncated) {
		e->flags |= KRSI_F_EXE_TRUNCATED;
		count(KRSI_CNT_PATH_TRUNCATED);
	}
}

static __always_inline void file_identity(struct file *file, __u32 *dev, __u64 *ino)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	*dev = BPF_CORE_READ(inode, i_sb, s_dev);
	*ino = BPF_CORE_READ(inode, i_ino);
}

/* Bounds a copy size so the verifier can prove it fits the argv buffer;
 * the last byte is given up for that, and the cut is flagged. */
static __always_inline __u32 argv_copy_len(unsigned long len, __u32 *flags)
{
	if (len > KRSI_ARGV_MAX - 1) {
		len = KRSI_ARGV_MAX - 1;
		*flags |= KRSI_F_ARGV_TRUNCATED;
	}
	return len & (KRSI_ARGV_MAX - 1);
}

/* Copies NUL-separated strings (argv, then envp) from the new image's memory. */
static __always_inline void read_user_strings(struct krsi_exec_event *e, unsigned long start,
					      unsigned long end, __u32 argc)
{
	__u32 len = argv_copy_len(end > start ? end - start : 0, &e->flags);

	e->argc = argc;
	e->argv_len = 0;
	if (!len || bpf_probe_read_user(e->argv, len, (void *)start)) {
		e->flags |= KRSI_F_ARGV_MISSING;
		return;
	}
	e->argv_len = len;
}

static __always_inline struct krsi_exec_event *reserve(__u32 slot, __u32 rule)
{
	struct krsi_exec_event *e = bpf_ringbuf_reserve(&krsi_events, sizeof(*e), 0);

	if (!e) {
		struct krsi_rule_stats *st = rule_stats(slot, rule);

		count(KRSI_CNT_EVENTS_LOST);
		if (st)
			__sync_fetch_and_add(&st->dropped, 1);
		return NULL;
	}
	e->flags = 0;
	return e;
}

static __always_inline void fill_filename(struct krsi_exec_event *e, const char *filename)
{
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);

	e->filename_len = n > 0 ? n - 1 : 0;
}

/* Looks the executed file up in the active slot: the matching rule, if any. */
static __always_inline struct krsi_rule_ref *lookup_exec(__u32 slot, __u32 dev, __u64 ino)
{
	struct krsi_exec_key key = { .slot = slot, .dev = dev, .ino = ino };

	return bpf_map_lookup_elem(&krsi_exec_rules, &key);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(krsi_bprm_check_security, struct linux_binprm *bprm, int ret)
{
	struct krsi_state *st = state();
	struct krsi_rule_ref *ref;
	struct krsi_rule_stats *rs;
	struct krsi_exec_event *e;
	struct argv_stash *stash;
	__u32 dev, tid, slot;
	__u64 ino;

	if (ret)
		return ret; /* an earlier LSM already said no */
	if (!st || !st->enforce)
		return 0;
	slot = st->active_slot & 1;
	file_identity(bprm->file, &dev, &ino);
	ref = lookup_exec(slot, dev, ino);
	if (!ref || ref->action != KRSI_ACTION_DENY)
		return 0;

	rs = rule_stats(slot, ref->rule);
	if (rs) {
		__sync_fetch_and_add(&rs->hits, 1);
		__sync_fetch_and_add(&rs->denies, 1);
	}
	e = reserve(slot, ref->rule);
	if (!e)
		return -EPERM;
	fill_hdr(&e->hdr, KRSI_SRC_LSM_BPRM_CHECK_SECURITY, KRSI_ACTION_DENY, ref->rule, slot);
	e->dev = dev;
	e->ino = ino;
	fill_filename(e, BPF_CORE_READ(bprm, filename));
	fill_exe(e);
	tid = e->hdr.tid;
	stash = bpf_map_lookup_elem(&krsi_argv_stash, &tid);
	if (stash) {
		__u32 len = argv_copy_len(stash->len, &e->flags);

		e->argc = stash->argc;
		e->flags |= stash->flags;
		e->argv_len = len;
		bpf_probe_read_kernel(e->argv, len, stash->argv);
		bpf_map_delete_elem(&krsi_argv_stash, &tid);
	} else {
		e->argc = 0;
		e->argv_len = 0;
		e->flags |= KRSI_F_ARGV_MISSING;
	}
	bpf_ringbuf_submit(e, 0);
	return -EPERM;
}

/* Shared by the LSM and tracepoint backends: report an exec that happened. */
static __always_inline void report_exec(struct linux_binprm *bprm, __u32 source,
					unsigned long args_start, unsigned long args_end,
					__u32 argc)
{
	struct krsi_state *st = state();
	struct krsi_slot_config *cfg;
	struct krsi_rule_ref *ref;
	struct krsi_rule_stats *rs;
	struct krsi_exec_event *e;
	__u32 dev, slot, rule, action;
	__u64 ino;

	if (!st || !st->enforce)
		return;
	slot = st->active_slot & 1;
	file_identity(bprm->file, &dev, &ino);
	ref = lookup_exec(slot, dev, ino);
	if (ref) {
		rule = ref->rule;
		action = ref->action;
		/* Reached only when the deny could not be enforced. */
		if (action == KRSI_ACTION_DENY)
			action = KRSI_ACTION_WOULD_DENY;
	} else {
		cfg = bpf_map_lookup_elem(&krsi_slot_config, &slot);
		if (!cfg || cfg->exec_audit_rule == KRSI_NO_RULE)
			return;
		rule = cfg->exec_audit_rule;
		action = KRSI_ACTION_AUDIT;
	}
	rs = rule_stats(slot, rule);
	if (rs) {
		__sync_fetch_and_add(&rs->hits, 1);
		if (action == KRSI_ACTION_WOULD_DENY)
			__sync_fetch_and_add(&rs->would_denies, 1);
		else
			__sync_fetch_and_add(&rs->audits, 1);
	}
	e = reserve(slot, rule);
	if (!e)
		return;
	fill_hdr(&e->hdr, source, action, rule, slot);
	e->dev = dev;
	e->ino = ino;
	fill_filename(e, BPF_CORE_READ(bprm, filename));
	fill_exe(e);
	read_user_strings(e, args_start, args_end, argc);
	bpf_ringbuf_submit(e, 0);
}

SEC("lsm/bprm_committed_creds")
int BPF_PROG(krsi_bprm_committed_creds, struct linux_binprm *bprm)
{
	/* exec_mmap() has made the new mm current; argv and envp sit in
	 * [bprm->p, bprm->exec) on the new stack, argv first. */
	report_exec(bprm, KRSI_SRC_LSM_BPRM_COMMITTED_CREDS, BPF_CORE_READ(bprm, p),
		    BPF_CORE_READ(bprm, exec), BPF_CORE_READ(bprm, argc));
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(krsi_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct mm_struct *mm = BPF_CORE_READ(p, mm);

	report_exec(bprm, KRSI_SRC_TP_SCHED_PROCESS_EXEC, BPF_CORE_READ(mm, arg_start),
		    BPF_CORE_READ(mm, arg_end), BPF_CORE_READ(bprm, argc));
	return 0;
}

/* Copies the caller's argv for a possible deny event (LSM backend only). */
static __always_inline int stash_argv(const char *const *argv)
{
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	struct argv_scratch *sc = bpf_map_lookup_elem(&krsi_argv_scratch, &zero);
	struct krsi_state *st = state();
	struct argv_stash *s;
	__u32 off = 0;

	if (!sc || !st || !st->enforce)
		return 0;
	s = &sc->stash;
	s->argc = 0;
	s->flags = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 64; i++) {
		const char *arg = NULL;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		if (off >= KRSI_ARGV_MAX) {
			s->flags |= KRSI_F_ARGV_TRUNCATED;
			break;
		}
		n = bpf_probe_read_user_str(&s->argv[off & (KRSI_ARGV_MAX - 1)], KRSI_ARGV_MAX, arg);
		if (n <= 0)
			break;
		off += n;
		s->argc++;
	}
	if (off > KRSI_ARGV_MAX) {
		off = KRSI_ARGV_MAX;
		s->flags |= KRSI_F_ARGV_TRUNCATED;
	}
	s->len = off;
	bpf_map_update_elem(&krsi_argv_stash, &tid, s, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int krsi_sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return stash_argv((const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int krsi_sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return stash_argv((const char *const *)ctx->args[2]);
}

/* Lets the agent check at start-up that its mirror of the record matches. */
const volatile __u32 krsi_abi_exec_event_size = sizeof(struct krsi_exec_event);
