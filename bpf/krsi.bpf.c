// SPDX-License-Identifier: GPL-2.0-only
/*
 * krsi's LSM programs and the maps they share: one rule engine (below),
 * exec and file_open here, every other hook in hooks/.
 *
 * Without the BPF LSM the agent loads only the sched_process_exec and
 * sched_process_fork tracepoints, which report (and kill) but never deny.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

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

/* Counts a match in the rule's per-CPU counters; returns them (or NULL). */
static __always_inline struct krsi_rule_stats *count_match(__u32 slot, __u32 rule, __u32 action)
{
	struct krsi_rule_stats *rs = rule_stats(slot, rule);

	if (!rs)
		return NULL;
	__sync_fetch_and_add(&rs->hits, 1);
	switch (action) {
	case KRSI_ACTION_DENY:
		__sync_fetch_and_add(&rs->denies, 1);
		break;
	case KRSI_ACTION_KILL:
		__sync_fetch_and_add(&rs->kills, 1);
		break;
	case KRSI_ACTION_WOULD_DENY:
	case KRSI_ACTION_WOULD_KILL:
		__sync_fetch_and_add(&rs->would_denies, 1);
		break;
	case KRSI_ACTION_TAINT:
		__sync_fetch_and_add(&rs->taints, 1);
		break;
	default:
		__sync_fetch_and_add(&rs->audits, 1);
	}
	return rs;
}

static __always_inline struct krsi_state *state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&krsi_state, &zero);
}

/*
 * Taint labels (bit i = label i of the policy's label table), kept on the
 * thread-group leader: task storage is per thread, and a label set by one
 * thread belongs to the whole process. task_alloc copies them to children.
 */
struct krsi_taint {
	__u64 labels;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct krsi_taint);
} krsi_taint SEC(".maps");

static __always_inline struct task_struct *current_leader(void)
{
	struct task_struct *t = bpf_get_current_task_btf();

	return t->group_leader;
}

static __always_inline __u64 current_taint(void)
{
	struct krsi_taint *t = bpf_task_storage_get(&krsi_taint, current_leader(), 0, 0);

	return t ? t->labels : 0;
}

static __always_inline void fill_hdr_type(struct krsi_event_hdr *h, __u32 type, __u32 source,
					  __u32 action, __u32 rule, __u32 slot)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->boot_ns = bpf_ktime_get_boot_ns();
	h->type = type;
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
	h->taint = current_taint();
}

static __always_inline void fill_hdr(struct krsi_event_hdr *h, __u32 source, __u32 action,
				     __u32 rule, __u32 slot)
{
	fill_hdr_type(h, KRSI_EVENT_EXEC, source, action, rule, slot);
}

/* The current task's executable path into exe (KRSI_PATH_MAX); its length. */
static __always_inline __u16 current_exe(char *exe, __u32 *flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f = BPF_CORE_READ(task, mm, exe_file);
	bool truncated = false;
	__u16 len;

	if (!f) {
		exe[0] = 0;
		return 0;
	}
	len = krsi_resolve_path(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), exe,
				&truncated);
	if (truncated) {
		*flags |= KRSI_F_EXE_TRUNCATED;
		count(KRSI_CNT_PATH_TRUNCATED);
	}
	return len;
}

static __always_inline void fill_exe(struct krsi_exec_event *e)
{
	e->exe_len = current_exe(e->exe, &e->flags);
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

/*
 * The rule engine shared by every hook.
 *
 * A hook program fills the facts of one invocation (numbers for the acting
 * process and the hook's own values, strings resolved only when some rule
 * needs them), then krsi_decide() looks up the clauses that can apply:
 *   - by the primary file's identity (hash: exact paths, hard links too),
 *   - by the longest listed prefix of its path (LPM trie; every shorter
 *     listed prefix's clauses are folded into each chain by the agent),
 *   - the hook's clauses without an index key (walked in order).
 * A clause is a conjunction of predicates; set membership is one hash or
 * trie lookup whatever the set's size. The strongest matching action wins
 * (kill > deny > would_kill > would_deny > taint > audit); every matching
 * taint label is applied.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_HOOKS);
	__type(key, __u32);
	__type(value, struct krsi_hook_config);
} krsi_hook_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_MAX_RULES);
	__type(key, __u32);
	__type(value, struct krsi_rule_config);
} krsi_rule_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_MAX_RULES);
	__type(key, __u32);
	__type(value, struct krsi_rate);
} krsi_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_MAX_CLAUSES);
	__type(key, __u32);
	__type(value, struct krsi_clause);
} krsi_clauses SEC(".maps");

/* (slot, hook, dev, ino) -> head clause. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KRSI_MAX_IDENTITIES);
	__type(key, struct krsi_index_key);
	__type(value, __u32);
} krsi_index_identity SEC(".maps");

/* (slot, hook, path prefix) -> head clause. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct krsi_prefix_key);
	__type(value, __u32);
} krsi_index_prefix SEC(".maps");

/* Numeric and identity sets: (set, a, b) present or not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KRSI_MAX_IDENTITIES);
	__type(key, struct krsi_num_set_key);
	__type(value, __u8);
} krsi_num_sets SEC(".maps");

/* String and address sets: exact entries end with their NUL, prefix and
 * CIDR entries do not, so one longest-prefix lookup answers both. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KRSI_MAX_IDENTITIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct krsi_set_key);
	__type(value, __u8);
} krsi_str_sets SEC(".maps");

struct krsi_facts {
	__u64 num[KRSI_FACTS];
	__u32 hook;
	__u32 slot;
	__u32 cfg;
	__u32 any_head;
	__u32 flags; /* KRSI_F_*_TRUNCATED */
	__u16 path_len;
	__u16 path2_len;
	__u16 name_len;
	__u16 name2_len;
	__u16 exe_len;
	__u16 comm_len;
	__u64 path_dentry; /* set by the hook; resolved on demand */
	__u64 path_mnt;
	__u64 path2_dentry;
	__u64 path2_mnt;
	__u8 have_path;
	__u8 have_path2;
	__u8 have_exe;
	__u8 have_cgroup;
	__u8 _pad[4];
	__u16 cgroup_len;
	__u16 hash_len;
	__u16 _pad3[2];
	/* walk results */
	__u32 best_action;
	__u32 best_rule;
	__u64 taint_set;
	__u32 last_taint_rule;
	__u32 _pad2;
	struct krsi_set_key skey;
	struct krsi_prefix_key pkey;
	struct krsi_num_set_key nkey;
	/* States of the loops predicates run (bpf_loop gets no stack context:
	 * three frames of stack must fit in 512 bytes). */
	struct {
		__u32 glob;
		__u32 k;
		__u32 p;
		__u32 last;
		__u32 found;
		__u32 slen;
		__u32 pos;
		__u32 ok;
	} gs;
	struct {
		__u64 ptr;
			__u32 skip;
		__u32 left;
		__u32 set;
		__u32 found;
		__u32 env; /* an environment fact: keep the matched entry */
		__u32 _pad;
	} sw;
	struct {
		__u64 t;
		__u32 set;
		__u32 found;
		__u64 ns; /* ptrace.declared: the declarer's pid namespace */
		__u32 level;
		__u32 _pad;
	} aw;
	struct {
		__u64 ptr;
		__u64 env_start;
		__u64 exec_id;
		__u32 argv_left;
		__u32 env_left;
		__u32 dups;
		__u32 fault;
	} es;
	struct {
		__u64 cred;
		__u64 ns;
		__u64 caps;
		__u64 result;
	} cw;
	char comm[KRSI_COMM_LEN];
	char path[KRSI_PATH_MAX];
	char path2[KRSI_PATH_MAX];
	char name[KRSI_NAME_MAX];
	char name2[KRSI_NAME_MAX];
	char exe[KRSI_PATH_MAX];
	/* cgroup path built root first; the slack keeps masked writes inside */
	char cgroup[KRSI_NAME_MAX * 2];
	char hash[72]; /* file.sha256 in hex */
	char strbuf[1024]; /* to skip long argv/env strings */
	char gstr[KRSI_PATH_MAX + KRSI_GLOB_SEG_LEN]; /* the string a glob is matched on */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct krsi_facts);
} krsi_facts SEC(".maps");

static __always_inline struct krsi_facts *facts(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&krsi_facts, &zero);
}

/* The facts of the current task that cost a few loads. */
static __always_inline void fill_process(struct krsi_facts *f)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct file *exe = task->mm ? task->mm->exe_file : NULL;
	__u64 caps = 0;

	f->num[KRSI_F_PID] = pid_tgid >> 32;
	f->num[KRSI_F_TID] = (__u32)pid_tgid;
	f->num[KRSI_F_PPID] = BPF_CORE_READ(task, real_parent, tgid);
	f->num[KRSI_F_UID] = (__u32)uid_gid;
	f->num[KRSI_F_GID] = uid_gid >> 32;
	f->num[KRSI_F_EUID] = BPF_CORE_READ(cred, euid.val);
	f->num[KRSI_F_CGROUP_ID] = bpf_get_current_cgroup_id();
	/* kernel_cap_t is u32[2] before 6.3 and one u64 after: same bytes. */
	bpf_probe_read_kernel(&caps, sizeof(caps), __builtin_preserve_access_index(&cred->cap_effective));
	f->num[KRSI_F_CAPS] = caps;
	f->num[KRSI_F_TAINT] = current_taint();
	if (f->cfg & KRSI_HC_NEED_NS) {
		f->num[KRSI_F_NS_PID] = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, ns.inum);
		f->num[KRSI_F_NS_MNT] = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
		f->num[KRSI_F_NS_USER] = BPF_CORE_READ(cred, user_ns, ns.inum);
	}
	if (exe) {
		f->num[KRSI_F_EXE_DEV] = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		f->num[KRSI_F_EXE_INO] = BPF_CORE_READ(exe, f_inode, i_ino);
	} else {
		f->num[KRSI_F_EXE_DEV] = 0;
		f->num[KRSI_F_EXE_INO] = 0;
	}
	bpf_get_current_comm(f->comm, sizeof(f->comm));
	f->comm_len = 0;
#pragma unroll
	for (int i = 0; i < KRSI_COMM_LEN; i++) {
		if (f->comm[i] == 0)
			break;
		f->comm_len = i + 1;
	}
}

/*
 * Starts a hook invocation: NULL when the active policy has no rule for
 * this hook (the hot path: two array lookups). Hook arguments start zeroed.
 */
static __always_inline struct krsi_facts *krsi_begin(__u32 hook)
{
	struct krsi_state *st = state();
	struct krsi_hook_config *hc;
	struct krsi_facts *f;
	__u32 slot, idx;

	if (!st || !st->enforce)
		return NULL;
	slot = st->active_slot & 1;
	idx = slot * KRSI_HOOKS + (hook & (KRSI_HOOKS - 1));
	hc = bpf_map_lookup_elem(&krsi_hook_config, &idx);
	if (!hc || !(hc->flags & KRSI_HC_ACTIVE))
		return NULL;
	f = facts();
	if (!f)
		return NULL;
	f->hook = hook;
	f->slot = slot;
	f->cfg = hc->flags;
	f->any_head = hc->any_head;
	f->flags = 0;
	f->path_len = f->path2_len = f->name_len = f->name2_len = f->exe_len = 0;
	f->path_dentry = f->path_mnt = f->path2_dentry = f->path2_mnt = 0;
	f->have_path = f->have_path2 = f->have_exe = f->have_cgroup = 0;
	f->cgroup_len = 0;
	f->hash_len = 0;
	f->hash[0] = 0;
	f->path[0] = f->path2[0] = f->name[0] = f->name2[0] = f->exe[0] = 0;
	f->best_action = KRSI_ACTION_NONE;
	f->best_rule = KRSI_NO_RULE;
	f->taint_set = 0;
	f->last_taint_rule = KRSI_NO_RULE;
#pragma unroll
	for (int i = KRSI_F_A0; i < KRSI_FACTS; i++)
		f->num[i] = 0;
	fill_process(f);
	return f;
}

static __always_inline void krsi_set_path(struct krsi_facts *f, struct dentry *d, struct vfsmount *m)
{
	f->path_dentry = (__u64)d;
	f->path_mnt = (__u64)m;
}

static __always_inline void krsi_set_path2(struct krsi_facts *f, struct dentry *d, struct vfsmount *m)
{
	f->path2_dentry = (__u64)d;
	f->path2_mnt = (__u64)m;
}

static __always_inline void krsi_set_name(struct krsi_facts *f, const char *s)
{
	long n = bpf_probe_read_kernel_str(f->name, KRSI_NAME_MAX, s);

	f->name_len = n > 0 ? n - 1 : 0;
}

static __always_inline void krsi_set_name2(struct krsi_facts *f, const char *s)
{
	long n = bpf_probe_read_kernel_str(f->name2, KRSI_NAME_MAX, s);

	f->name2_len = n > 0 ? n - 1 : 0;
}

/* The primary file's identity into A0/A1. */
static __always_inline void krsi_set_inode(struct krsi_facts *f, struct inode *inode)
{
	f->num[KRSI_F_A0] = BPF_CORE_READ(inode, i_sb, s_dev);
	f->num[KRSI_F_A0 + 1] = BPF_CORE_READ(inode, i_ino);
}

/* Target process facts (ptrace, signals): A8.. and target.comm in name2. */
#define KRSI_A_TARGET (KRSI_F_A0 + 8)
static __always_inline void krsi_set_target(struct krsi_facts *f, struct task_struct *t)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);

	f->num[KRSI_A_TARGET] = BPF_CORE_READ(t, tgid);
	f->num[KRSI_A_TARGET + 1] = BPF_CORE_READ(t, real_cred, uid.val);
	f->num[KRSI_A_TARGET + 2] = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	if (exe) {
		f->num[KRSI_A_TARGET + 3] = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		f->num[KRSI_A_TARGET + 4] = BPF_CORE_READ(exe, f_inode, i_ino);
		krsi_set_path2(f, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt));
	}
	bpf_probe_read_kernel_str(f->name2, KRSI_COMM_LEN, BPF_CORE_READ(t, comm));
	f->name2_len = 0;
#pragma unroll
	for (int i = 0; i < KRSI_COMM_LEN; i++) {
		if (f->name2[i] == 0)
			break;
		f->name2_len = i + 1;
	}
}

/*
 * File hashes (file.sha256). bpf_ima_file_hash() may sleep, so a sleepable
 * program on the same hook hashes the file first (attached after the rule
 * program: a trampoline runs the last attached first) and leaves the digest
 * in the thread's storage; the rules then read it as facts A12..A15 and as
 * 64 hex digits. Digests are cached per file (dev, inode, generation) until
 * the file is opened for writing or truncated: exec holds writers off
 * (ETXTBSY) for as long as it reads the file.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct krsi_hash_key);
	__type(value, struct krsi_hash_value);
} krsi_hash_cache SEC(".maps");

struct krsi_task_hash {
	__u64 ino;
	__u32 dev;
	__u32 ok;
	__u8 sha256[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct krsi_task_hash);
} krsi_task_hash SEC(".maps");

#define KRSI_HASH_ALGO_SHA256 4 /* enum hash_algo */
#define KRSI_READING_MODULE 2 /* enum kernel_read_file_id / kernel_load_data_id */

static __always_inline bool hook_needs_hash(struct krsi_state *st, __u32 hook)
{
	struct krsi_hook_config *hc;
	__u32 idx;

	idx = (st->active_slot & 1) * KRSI_HOOKS + (hook & (KRSI_HOOKS - 1));
	hc = bpf_map_lookup_elem(&krsi_hook_config, &idx);
	return hc && (hc->flags & KRSI_HC_NEED_HASH);
}

static __always_inline void hash_key(struct inode *inode, struct krsi_hash_key *k)
{
	k->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	k->generation = BPF_CORE_READ(inode, i_generation);
	k->ino = BPF_CORE_READ(inode, i_ino);
}

/* Sleepable programs only: the digest of `file` into the thread's storage
 * when a rule of `hook` (or of `hook2`) compares it. */
static __always_inline void hash_file(struct file *file, __u32 hook, __u32 hook2)
{
	struct krsi_state *st = state();
	struct krsi_hash_value v;
	struct krsi_task_hash *th;
	struct krsi_hash_key k;
	struct krsi_hash_value *cached;
	long algo;

	if (!file || !st || !st->enforce ||
	    !(hook_needs_hash(st, hook) || hook_needs_hash(st, hook2)))
		return;
	th = bpf_task_storage_get(&krsi_task_hash, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!th)
		return;
	__builtin_memset(&k, 0, sizeof(k));
	hash_key(BPF_CORE_READ(file, f_inode), &k);
	th->dev = k.dev;
	th->ino = k.ino;
	th->ok = 0;
	if (!st->hash_nocache) {
		cached = bpf_map_lookup_elem(&krsi_hash_cache, &k);
		if (cached) {
			__builtin_memcpy(th->sha256, cached->sha256, sizeof(th->sha256));
			th->ok = 1;
			return;
		}
	}
	/* IMA's digest, computed now when IMA has none (its default algorithm
	 * must be SHA-256, as Debian's is). */
	algo = bpf_ima_file_hash(file, th->sha256, sizeof(th->sha256));
	if (algo != KRSI_HASH_ALGO_SHA256)
		return;
	th->ok = 1;
	__builtin_memcpy(v.sha256, th->sha256, sizeof(v.sha256));
	bpf_map_update_elem(&krsi_hash_cache, &k, &v, BPF_ANY);
}

/* Drops a file's cached digest: it may be about to change. */
static __always_inline void hash_forget(struct inode *inode)
{
	struct krsi_state *st = state();
	struct krsi_hash_key k;

	if (!inode || !st || !st->hash_live)
		return;
	__builtin_memset(&k, 0, sizeof(k));
	hash_key(inode, &k);
	bpf_map_delete_elem(&krsi_hash_cache, &k);
}

/* The primary file's digest (identity in A0/A1) as facts, when asked for. */
static __always_inline void krsi_set_hash(struct krsi_facts *f)
{
	static const char hex[] = "0123456789abcdef";
	struct krsi_task_hash *th;

	if (!(f->cfg & KRSI_HC_NEED_HASH))
		return;
	th = bpf_task_storage_get(&krsi_task_hash, bpf_get_current_task_btf(), 0, 0);
	if (!th || !th->ok || th->dev != f->num[KRSI_F_A0] || th->ino != f->num[KRSI_F_A0 + 1]) {
		/* Fails closed: an allow list does not hold a missing digest. */
		f->flags |= KRSI_F_HASH_MISSING;
		return;
	}
	__builtin_memcpy(&f->num[KRSI_A_HASH], th->sha256, 32);
#pragma unroll
	for (int i = 0; i < 32; i++) {
		__u8 b = th->sha256[i];

		f->hash[2 * i] = hex[b >> 4];
		f->hash[2 * i + 1] = hex[b & 15];
	}
	f->hash[64] = 0;
	f->hash_len = 64;
	f->flags |= KRSI_F_HASH;
}

/*
 * inode_* hooks receive a dentry but no mount: the caller's mount of the
 * file's super block is looked up in its mount namespace (a mount of the
 * whole file system preferred over a bind mount of a part of it).
 */
struct mount_search {
	struct list_head *head;
	struct list_head *pos;
	struct super_block *sb;
	struct vfsmount *found;
	bool whole; /* found mounts the file system's root */
};

static long mount_step(__u32 i, void *data)
{
	struct mount_search *s = data;
	struct list_head *pos = s->pos;
	struct mount *m;
	struct super_block *sb;

	if (!pos || pos == s->head)
		return 1;
	m = container_of(pos, struct mount, mnt_list);
	sb = BPF_CORE_READ(m, mnt.mnt_sb);
	if (sb == s->sb) {
		bool whole = BPF_CORE_READ(m, mnt.mnt_root) == BPF_CORE_READ(sb, s_root);

		if (!s->found || (whole && !s->whole)) {
			s->found = &m->mnt;
			s->whole = whole;
		}
		if (whole)
			return 1;
	}
	s->pos = BPF_CORE_READ(pos, next);
	return 0;
}

/* The caller's mount of `sb` (NULL if none found within 1024 mounts). */
static __always_inline struct vfsmount *find_mount(struct super_block *sb)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mnt_namespace *ns = BPF_CORE_READ(task, nsproxy, mnt_ns);
	struct mount_search s = { .sb = sb };

	/* Linux 6.8 keeps mounts in an rbtree instead; the path is then
	 * resolved from the file system's root. */
	if (!bpf_core_field_exists(ns->list))
		return NULL;
	s.head = __builtin_preserve_access_index(&ns->list);
	s.pos = BPF_CORE_READ(ns, list.next);
	struct vfsmount *found = NULL;

	bpf_loop(1024, mount_step, &s, 0);
	/* Opaque read: see resolve_cgroup(). */
	bpf_probe_read_kernel(&found, sizeof(found), &s.found);
	return found;
}

static __always_inline struct vfsmount *mount_of(__u64 dentry, __u64 mnt)
{
	if (mnt)
		return (struct vfsmount *)mnt;
	return find_mount(BPF_CORE_READ((struct dentry *)dentry, d_sb));
}

static __always_inline void resolve_path(struct krsi_facts *f)
{
	bool truncated = false;

	if (f->have_path || !f->path_dentry)
		return;
	f->path_len = krsi_resolve_path((struct dentry *)f->path_dentry,
					mount_of(f->path_dentry, f->path_mnt), f->path, &truncated);
	f->have_path = 1;
	if (truncated) {
		f->flags |= KRSI_F_PATH_TRUNCATED;
		count(KRSI_CNT_PATH_TRUNCATED);
	}
}

static __always_inline void resolve_path2(struct krsi_facts *f)
{
	bool truncated = false;

	if (f->have_path2 || !f->path2_dentry)
		return;
	f->path2_len = krsi_resolve_path((struct dentry *)f->path2_dentry,
					 mount_of(f->path2_dentry, f->path2_mnt), f->path2, &truncated);
	f->have_path2 = 1;
	if (truncated) {
		f->flags |= KRSI_F_PATH2_TRUNCATED;
		count(KRSI_CNT_PATH_TRUNCATED);
	}
}

static __always_inline void resolve_exe(struct krsi_facts *f)
{
	if (f->have_exe)
		return;
	f->exe_len = current_exe(f->exe, &f->flags);
	f->have_exe = 1;
}

/*
 * process.cgroup.path: the kernfs names from the cgroup v2 root down,
 * "/" for the root. Deeper than KRSI_CGROUP_DEPTH levels or longer than
 * KRSI_NAME_MAX bytes is cut (the deepest part is lost) and flagged.
 */
/* Linux 6.15 renamed kernfs_node.parent to __parent. */
struct kernfs_node___v615 {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->parent))
		return BPF_CORE_READ(kn, parent);
	return BPF_CORE_READ((struct kernfs_node___v615 *)kn, __parent);
}

struct cgroup_walk {
	__u64 kn[KRSI_CGROUP_DEPTH];
	__u32 n;
};

static long cgroup_up(__u32 i, void *data)
{
	struct cgroup_walk *w = data;
	struct kernfs_node *kn;

	if (w->n == 0 || w->n >= KRSI_CGROUP_DEPTH)
		return 1;
	kn = (struct kernfs_node *)w->kn[(w->n - 1) & (KRSI_CGROUP_DEPTH - 1)];
	kn = kn_parent(kn);
	if (!kn)
		return 1;
	w->kn[w->n & (KRSI_CGROUP_DEPTH - 1)] = (__u64)kn;
	w->n++;
	return 0;
}

static __always_inline void resolve_cgroup(struct krsi_facts *f)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cgroup_walk w = {};
	__u32 off = 0, depth = 0;

	if (f->have_cgroup)
		return;
	f->have_cgroup = 1;
	w.kn[0] = (__u64)BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	w.n = w.kn[0] ? 1 : 0;
	bpf_loop(KRSI_CGROUP_DEPTH, cgroup_up, &w, 0);
	/* Verifiers before 6.7 model the callback as running once and would
	 * prune the deeper levels as dead code: read n opaquely. */
	bpf_probe_read_kernel(&depth, sizeof(depth), &w.n);
	/* kn[depth-1] is the root (its name is empty): start below it. */
#pragma unroll
	for (int i = KRSI_CGROUP_DEPTH - 2; i >= 0; i--) {
		struct kernfs_node *kn;
		long n;

		if (i + 1 >= depth)
			continue;
		if (off >= KRSI_NAME_MAX - 1) {
			f->flags |= KRSI_F_PATH2_TRUNCATED;
			break;
		}
		kn = (struct kernfs_node *)w.kn[i];
		f->cgroup[off & (KRSI_NAME_MAX - 1)] = '/';
		off++;
		n = bpf_probe_read_kernel_str(&f->cgroup[off & (KRSI_NAME_MAX - 1)], KRSI_NAME_MAX,
					      BPF_CORE_READ(kn, name));
		if (n > 1)
			off += n - 1;
	}
	if (off == 0) {
		f->cgroup[0] = '/';
		off = 1;
	}
	if (off > KRSI_NAME_MAX - 1)
		off = KRSI_NAME_MAX - 1;
	f->cgroup[off & (KRSI_NAME_MAX * 2 - 1)] = 0;
	f->cgroup_len = off;
}

static long ancestor_step(__u32 i, void *data)
{
	struct krsi_facts *f = facts();
	struct task_struct *t, *parent;
	struct file *exe;

	if (!f)
		return 1;
	t = (struct task_struct *)f->aw.t;
	parent = BPF_CORE_READ(t, real_parent);
	if (!parent || parent == t)
		return 1;
	exe = BPF_CORE_READ(parent, mm, exe_file);
	if (exe) {
		f->nkey.set = f->aw.set;
		f->nkey._pad = 0;
		f->nkey.a = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		f->nkey.b = BPF_CORE_READ(exe, f_inode, i_ino);
		if (bpf_map_lookup_elem(&krsi_num_sets, &f->nkey)) {
			f->aw.found = 1;
			return 1;
		}
	}
	f->aw.t = (__u64)parent;
	return 0;
}

/* process.ancestors contains FILES: some ancestor runs one of them. */
static __always_inline bool ancestor_in(struct krsi_facts *f, __u32 set)
{
	f->aw.t = (__u64)bpf_get_current_task_btf();
	f->aw.set = set;
	f->aw.found = 0;
	bpf_loop(KRSI_MAX_ANCESTORS, ancestor_step, NULL, 0);
	return f->aw.found;
}

/*
 * exec.argv / exec.env*: the strings of the new image, NUL-separated from
 * A5 (user address: bprm->p, or mm->arg_start), argv (A4 of them) first,
 * then the environment (A3). Each string is one trie lookup: up to 251
 * bytes compared exactly, a longer one only against prefix entries.
 */
struct skip_walk {
	__u64 ptr;
	__u32 done;
};

/* Moves past one string longer than the key buffer. */
static long skip_step(__u32 i, void *data)
{
	struct skip_walk *s = data;
	struct krsi_facts *f = facts();
	long n;

	if (!f)
		return 1;
	n = bpf_probe_read_user_str(f->strbuf, sizeof(f->strbuf), (void *)s->ptr);
	if (n <= 0) {
		s->done = 1;
		return 1;
	}
	if (n < (long)sizeof(f->strbuf)) {
		s->ptr += n;
		return 1;
	}
	s->ptr += n - 1;
	return 0;
}

/* The address after the user string at ptr, of which n bytes (its NUL
 * included) fitted a buffer of `size`: one that filled it is skipped. */
static __always_inline __u64 past_string(__u64 ptr, long n, long size)
{
	struct skip_walk sk;

	if (n < size)
		return ptr + n;
	sk.ptr = ptr + n - 1;
	sk.done = 0;
	bpf_loop(256, skip_step, &sk, 0);
	return sk.ptr;
}

static long strs_step(__u32 i, void *data)
{
	struct krsi_facts *f = facts();
	bool examine;
	long n;

	if (!f || f->sw.left == 0)
		return 1;
	examine = f->sw.skip == 0;
	__builtin_memcpy(f->skey.data, &f->sw.set, 4);
	n = bpf_probe_read_user_str(&f->skey.data[4], KRSI_SET_STR, (void *)f->sw.ptr);
	if (n <= 0)
		return 1;
	if (examine) {
		/* A string cut to the buffer ends in a NUL of our making: let it
		 * match prefix entries only. */
		__u32 bits = n < KRSI_SET_STR ? n : KRSI_SET_STR - 1;

		f->skey.prefixlen = 8 * (4 + (bits & 511));
		if (bpf_map_lookup_elem(&krsi_str_sets, &f->skey)) {
			f->sw.found = 1;
			/* The event shows the entry (NAME=value) that matched. */
			if (f->sw.env && !f->name_len) {
				long m = bpf_probe_read_kernel_str(f->name, KRSI_NAME_MAX,
								   &f->skey.data[4]);

				f->name_len = m > 0 ? m - 1 : 0;
			}
			return 1;
		}
		f->sw.left--;
	} else {
		f->sw.skip--;
	}
	f->sw.ptr = past_string(f->sw.ptr, n, KRSI_SET_STR);
	return 0;
}

static __always_inline bool strs_in(struct krsi_facts *f, __u8 fact, __u32 set)
{
	f->sw.ptr = f->num[KRSI_F_A0 + 5];
	f->sw.set = set;
	f->sw.found = 0;
	f->sw.env = fact != KRSI_F_ARGV;
	if (fact == KRSI_F_ARGV) {
		f->sw.skip = 0;
		f->sw.left = f->num[KRSI_F_A0 + 4];
	} else {
		f->sw.skip = f->num[KRSI_F_A0 + 4];
		f->sw.left = f->num[KRSI_F_A0 + 3];
	}
	if (!f->sw.ptr)
		return false;
	bpf_loop(KRSI_MAX_STRS, strs_step, NULL, 0);
	return f->sw.found;
}

/*
 * The committed exec's environment, walked once when a rule asks for
 * exec.env.bytes/duplicates/overflow: each name (up to '=', first 128
 * bytes) is hashed and inserted for this exec; an insert that finds it
 * already there is a variable set twice. The first such variable's two
 * settings are kept (name, name2) for the event.
 */
struct env_name_key {
	__u64 exec;
	__u64 hash;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct env_name_key);
	__type(value, __u64); /* where the first setting is */
} krsi_env_names SEC(".maps");

static long env_scan_step(__u32 i, void *data)
{
	struct krsi_facts *f = facts();
	struct env_name_key key;
	__u64 h = 14695981039346656037ull, *first;
	long n;

	if (!f || (f->es.argv_left == 0 && f->es.env_left == 0))
		return 1;
	n = bpf_probe_read_user_str(f->strbuf, sizeof(f->strbuf), (void *)f->es.ptr);
	if (n <= 0) {
		f->es.fault = 1;
		return 1;
	}
	if (f->es.argv_left) {
		f->es.argv_left--;
	} else {
		if (!f->es.env_start)
			f->es.env_start = f->es.ptr;
#pragma clang loop unroll(disable)
		for (int j = 0; j < 128; j++) {
			char c = f->strbuf[j];

			if (c == '=' || c == 0)
				break;
			h = (h ^ (__u8)c) * 1099511628211ull;
		}
		key.exec = f->es.exec_id;
		key.hash = h;
		if (bpf_map_update_elem(&krsi_env_names, &key, &f->es.ptr, BPF_NOEXIST) &&
		    (first = bpf_map_lookup_elem(&krsi_env_names, &key))) {
			if (!f->es.dups) {
				long a = bpf_probe_read_user_str(f->name, KRSI_NAME_MAX, (void *)*first);
				long b = bpf_probe_read_user_str(f->name2, KRSI_NAME_MAX,
								 (void *)f->es.ptr);

				f->name_len = a > 0 ? a - 1 : 0;
				f->name2_len = b > 0 ? b - 1 : 0;
			}
			f->es.dups++;
		}
		f->es.env_left--;
	}
	f->es.ptr = past_string(f->es.ptr, n, sizeof(f->strbuf));
	return 0;
}

/* exec.env.bytes (A6), exec.env.duplicates (A7), exec.env.overflow (A8). */
static __always_inline void env_scan(struct krsi_facts *f, unsigned long strings,
				     unsigned long end)
{
	if (!(f->cfg & KRSI_HC_NEED_ENV) || !strings)
		return;
	f->es.ptr = strings;
	f->es.env_start = 0;
	f->es.exec_id = bpf_ktime_get_ns() ^ (bpf_get_current_pid_tgid() << 40);
	f->es.argv_left = f->num[KRSI_F_A0 + 4];
	f->es.env_left = f->num[KRSI_F_A0 + 3];
	f->es.dups = 0;
	f->es.fault = 0;
	bpf_loop(KRSI_MAX_STRS, env_scan_step, NULL, 0);
	if (f->es.argv_left == 0 && f->num[KRSI_F_A0 + 3] == 0)
		f->es.env_start = f->es.ptr;
	/* Exact once argv was walked; the strings' whole size otherwise. */
	f->num[KRSI_F_A0 + 6] = f->es.env_start && end >= f->es.env_start ?
					end - f->es.env_start : end - strings;
	f->num[KRSI_F_A0 + 7] = f->es.dups;
	f->num[KRSI_F_A0 + 8] = f->es.env_left || f->es.argv_left || f->es.fault;
	f->flags |= KRSI_F_ENV;
	if (f->num[KRSI_F_A0 + 8])
		f->flags |= KRSI_F_ENV_OVERFLOW;
}

/*
 * Globs: the string is copied to gstr, then each literal segment is found
 * in order (the first and last pinned to the ends unless the glob starts
 * or ends with '*'). Leftmost-first is exact for '*'-only globs. Cost:
 * linear in the string's length per segment.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_MAX_GLOBS);
	__type(key, __u32);
	__type(value, struct krsi_glob);
} krsi_globs SEC(".maps");

/* Whether segment k of g is at position p of gstr (p + len <= slen checked
 * by the caller). Branch-free, so the verifier walks it once. */
static __always_inline bool seg_at(struct krsi_facts *f, struct krsi_glob *g, __u32 k, __u32 p)
{
	__u32 kk = k & (KRSI_GLOB_SEGS - 1), base = p & (KRSI_PATH_MAX - 1);
	__u8 diff = 0;

	/* Not unrolled: a small frame matters more than speed here. */
#pragma clang loop unroll(disable)
	for (int j = 0; j < KRSI_GLOB_SEG_LEN; j++)
		diff |= (f->gstr[base + j] ^ g->seg[kk][j]) & g->mask[kk][j];
	return diff == 0;
}

static long glob_step(__u32 i, void *data)
{
	struct krsi_facts *f = facts();
	struct krsi_glob *g;

	if (!f)
		return 1;
	g = bpf_map_lookup_elem(&krsi_globs, &f->gs.glob);
	if (!g || f->gs.p > f->gs.last)
		return 1;
	if (seg_at(f, g, f->gs.k, f->gs.p)) {
		f->gs.found = f->gs.p + 1;
		return 1;
	}
	f->gs.p++;
	return 0;
}

static __always_inline const char *str_fact(struct krsi_facts *f, __u8 fact, __u32 *len)
{
	switch (fact) {
	case KRSI_S_COMM:
		*len = f->comm_len;
		return f->comm;
	case KRSI_S_EXE:
		*len = f->exe_len;
		return f->exe;
	case KRSI_S_PATH:
		*len = f->path_len;
		return f->path;
	case KRSI_S_PATH2:
		*len = f->path2_len;
		return f->path2;
	case KRSI_S_NAME:
		*len = f->name_len;
		return f->name;
	case KRSI_S_NAME2:
		*len = f->name2_len;
		return f->name2;
	case KRSI_S_CGROUP:
		*len = f->cgroup_len;
		return f->cgroup;
	case KRSI_S_HASH:
		*len = f->hash_len;
		return f->hash;
	default:
		*len = 0;
		return NULL;
	}
}

/* One segment of the glob in gs.glob per call: gs.pos advances, gs.ok
 * drops to 0 on a mismatch. */
static long glob_seg_step(__u32 k, void *data)
{
	struct krsi_facts *f = facts();
	struct krsi_glob *g;
	__u32 len, slen, pos;

	if (!f)
		return 1;
	g = bpf_map_lookup_elem(&krsi_globs, &f->gs.glob);
	if (!g || k >= g->nseg || k >= KRSI_GLOB_SEGS)
		return 1;
	len = g->len[k & (KRSI_GLOB_SEGS - 1)];
	slen = f->gs.slen;
	pos = f->gs.pos;
	if (len > slen) {
		f->gs.ok = 0;
		return 1;
	}
	if (k == 0 && g->anchored_start) {
		if (!seg_at(f, g, 0, 0) || (g->nseg == 1 && g->anchored_end && slen != len)) {
			f->gs.ok = 0;
			return 1;
		}
		f->gs.pos = len;
		return 0;
	}
	if (k == g->nseg - 1 && g->anchored_end) {
		if (slen - len < pos || !seg_at(f, g, k, slen - len))
			f->gs.ok = 0;
		f->gs.pos = slen;
		return 1;
	}
	f->gs.k = k;
	f->gs.p = pos;
	f->gs.last = slen - len;
	f->gs.found = 0;
	bpf_loop(KRSI_PATH_MAX, glob_step, NULL, 0);
	if (!f->gs.found) {
		f->gs.ok = 0;
		return 1;
	}
	f->gs.pos = f->gs.found - 1 + len;
	return 0;
}

static __always_inline bool glob_match(struct krsi_facts *f, __u8 fact, __u32 id)
{
	struct krsi_glob *g;
	const char *src;
	__u32 slen = 0;

	f->gs.glob = f->slot * KRSI_MAX_GLOBS + (id & (KRSI_MAX_GLOBS - 1));
	g = bpf_map_lookup_elem(&krsi_globs, &f->gs.glob);
	src = str_fact(f, fact, &slen);
	if (!g || !src)
		return false;
	if (slen > KRSI_PATH_MAX - 1)
		slen = KRSI_PATH_MAX - 1;
	bpf_probe_read_kernel(f->gstr, KRSI_PATH_MAX, src);
	if (g->nseg == 0)
		return !(g->anchored_start && g->anchored_end) || slen == 0;
	f->gs.slen = slen;
	f->gs.pos = 0;
	f->gs.ok = 1;
	bpf_loop(KRSI_GLOB_SEGS, glob_seg_step, NULL, 0);
	return f->gs.ok;
}

/*
 * SafeSetID (security/safesetid/lsm.c): a real id with listed transitions
 * (marked by the pair (from, ~0)) may set only ids it already holds (real,
 * effective, saved) or listed ones. Facts: A2 old real, A3-A6 new real,
 * effective, saved, fs; A7-A8 old effective, saved.
 */
static __always_inline bool setid_ok(struct krsi_facts *f, __u32 set)
{
	__u64 old = f->num[KRSI_F_A0 + 2];

	f->nkey.set = set;
	f->nkey._pad = 0;
	f->nkey.a = old;
	f->nkey.b = ~0ull;
	if (!bpf_map_lookup_elem(&krsi_num_sets, &f->nkey))
		return true; /* no transitions listed for it: not constrained */
#pragma unroll
	for (int i = 3; i <= 6; i++) {
		__u64 id = f->num[KRSI_F_A0 + i];

		if (id == old || id == f->num[KRSI_F_A0 + 7] || id == f->num[KRSI_F_A0 + 8])
			continue;
		f->nkey.b = id;
		if (!bpf_map_lookup_elem(&krsi_num_sets, &f->nkey))
			return false;
	}
	return true;
}

/* Strongest action wins. */
static __always_inline __u32 strength(__u32 action)
{
	switch (action) {
	case KRSI_ACTION_KILL:
		return 6;
	case KRSI_ACTION_DENY:
		return 5;
	case KRSI_ACTION_WOULD_KILL:
		return 4;
	case KRSI_ACTION_WOULD_DENY:
		return 3;
	case KRSI_ACTION_TAINT:
		return 2;
	case KRSI_ACTION_AUDIT:
		return 1;
	default:
		return 0;
	}
}

/* A string fact against a trie set: exact entries carry their NUL. */
static __always_inline bool str_in_set(struct krsi_facts *f, __u8 fact, __u32 set)
{
	__u32 len = 0, n;
	const char *src = str_fact(f, fact, &len);

	if (!src)
		return false;
	/* With its NUL when it fits; a longer string can only match a prefix. */
	n = len < KRSI_SET_STR ? len + 1 : KRSI_SET_STR;
	n &= 511;
	if (n > KRSI_SET_STR)
		n = KRSI_SET_STR;
	__builtin_memcpy(f->skey.data, &set, 4);
	bpf_probe_read_kernel(&f->skey.data[4], n, src);
	f->skey.prefixlen = 8 * (4 + n);
	return bpf_map_lookup_elem(&krsi_str_sets, &f->skey) != NULL;
}

/* 16 address bytes (IPv4 as ::ffff:a.b.c.d) at facts (n, n+1). */
static __always_inline bool addr_in_set(struct krsi_facts *f, __u8 fact, __u32 set)
{
	__builtin_memcpy(f->skey.data, &set, 4);
	bpf_probe_read_kernel(&f->skey.data[4], 16, &f->num[fact & (KRSI_FACTS - 1)]);
	f->skey.prefixlen = 8 * (4 + 16);
	return bpf_map_lookup_elem(&krsi_str_sets, &f->skey) != NULL;
}

static __always_inline bool pred_true(struct krsi_facts *f, struct krsi_pred *p)
{
	__u8 fact = p->fact;
	__u64 n = f->num[fact & (KRSI_FACTS - 1)];
	struct krsi_num_set_key *k = &f->nkey;
	bool r;

	switch (p->op) {
	case KRSI_OP_EQ:
		r = n == p->v;
		break;
	case KRSI_OP_LT:
		r = n < p->v;
		break;
	case KRSI_OP_GT:
		r = n > p->v;
		break;
	case KRSI_OP_ANY:
		r = (n & p->v) != 0;
		break;
	case KRSI_OP_ALL:
		r = (n & p->v) == p->v;
		break;
	case KRSI_OP_IN:
		k->set = p->set;
		k->_pad = 0;
		k->a = n;
		k->b = 0;
		r = bpf_map_lookup_elem(&krsi_num_sets, k) != NULL;
		break;
	case KRSI_OP_ID_EQ:
		r = n == p->v && f->num[(fact + 1) & (KRSI_FACTS - 1)] == p->v2;
		break;
	case KRSI_OP_ID_IN:
		k->set = p->set;
		k->_pad = 0;
		k->a = n;
		k->b = f->num[(fact + 1) & (KRSI_FACTS - 1)];
		r = bpf_map_lookup_elem(&krsi_num_sets, k) != NULL;
		break;
	case KRSI_OP_STR:
		r = str_in_set(f, fact, p->set);
		break;
	case KRSI_OP_CIDR:
		r = addr_in_set(f, fact, p->set);
		break;
	case KRSI_OP_ANC_IN:
		r = ancestor_in(f, p->set);
		break;
	case KRSI_OP_STRS_IN:
		r = strs_in(f, fact, p->set);
		break;
	case KRSI_OP_GLOB:
		r = glob_match(f, fact, p->set);
		break;
	case KRSI_OP_SETID_OK:
		r = setid_ok(f, p->set);
		break;
	default:
		r = false;
	}
	return r != (p->neg != 0);
}

struct clause_walk {
	__u32 next;
	__u32 slot;
};

static long pred_step(__u32 i, void *data);

struct pred_walk {
	__u32 clause;
	__u32 ok;
};

static long pred_step(__u32 i, void *data)
{
	struct pred_walk *pw = data;
	struct krsi_facts *f = facts();
	struct krsi_clause *c = bpf_map_lookup_elem(&krsi_clauses, &pw->clause);

	if (!f || !c || i >= KRSI_MAX_PREDS) {
		pw->ok = 0;
		return 1;
	}
	if (i >= c->npred)
		return 1;
	if (!pred_true(f, &c->pred[i & (KRSI_MAX_PREDS - 1)])) {
		pw->ok = 0;
		return 1;
	}
	return 0;
}

static long clause_step(__u32 i, void *data)
{
	struct clause_walk *w = data;
	struct pred_walk pw;
	struct krsi_facts *f = facts();
	struct krsi_clause *c;
	__u32 idx;

	if (!f || w->next >= KRSI_MAX_CLAUSES)
		return 1;
	idx = w->slot * KRSI_MAX_CLAUSES + w->next;
	c = bpf_map_lookup_elem(&krsi_clauses, &idx);
	if (!c)
		return 1;
	w->next = c->next;
	pw.clause = idx;
	pw.ok = 1;
	if (c->npred)
		bpf_loop(KRSI_MAX_PREDS, pred_step, &pw, 0);
	if (!pw.ok)
		return 0;
	if (c->taint != KRSI_NO_TAINT) {
		f->taint_set |= 1ull << (c->taint & 63);
		/* Counted once per rule even when several of its clauses match. */
		if (f->last_taint_rule != c->rule && c->action != KRSI_ACTION_TAINT) {
			struct krsi_rule_stats *rs = rule_stats(w->slot, c->rule);

			if (rs)
				__sync_fetch_and_add(&rs->taints, 1);
		}
		f->last_taint_rule = c->rule;
	}
	if (strength(c->action) > strength(f->best_action)) {
		f->best_action = c->action;
		f->best_rule = c->rule;
	}
	return 0;
}

static __always_inline void walk(__u32 slot, __u32 head, __u32 max)
{
	struct clause_walk w = { .next = head, .slot = slot };

	bpf_loop(max, clause_step, &w, 0);
}

/* Applies taint labels to the acting process (its thread-group leader). */
static __always_inline void apply_taint(struct krsi_facts *f)
{
	struct krsi_taint *t;

	if (!f->taint_set)
		return;
	t = bpf_task_storage_get(&krsi_taint, current_leader(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t) {
		__sync_fetch_and_or(&t->labels, f->taint_set);
		f->num[KRSI_F_TAINT] = t->labels;
	}
}

/* Evaluates the facts: f->best_action / f->best_rule, taint applied. */
static __always_inline void krsi_eval(struct krsi_facts *f)
{
	__u32 slot = f->slot, *head;
	__u32 zero = 0;

	if (f->cfg & KRSI_HC_NEED_PATH)
		resolve_path(f);
	if (f->cfg & KRSI_HC_NEED_PATH2)
		resolve_path2(f);
	if (f->cfg & KRSI_HC_NEED_EXE)
		resolve_exe(f);
	if (f->cfg & KRSI_HC_NEED_CGROUP)
		resolve_cgroup(f);
	if (f->cfg & KRSI_HC_IDENTITY) {
		struct krsi_index_key key = {
			.slot = slot,
			.hook = f->hook,
			.dev = f->num[KRSI_F_A0],
			.ino = f->num[KRSI_F_A0 + 1],
		};

		head = bpf_map_lookup_elem(&krsi_index_identity, &key);
		if (head)
			walk(slot, *head, KRSI_MAX_CHAIN);
	}
	if (f->cfg & KRSI_HC_PREFIX) {
		__u32 n;

		resolve_path(f);
		n = f->path_len < KRSI_PREFIX_PATH ? f->path_len : KRSI_PREFIX_PATH;
		f->pkey.data[0] = slot;
		f->pkey.data[1] = f->hook;
		bpf_probe_read_kernel(&f->pkey.data[2], KRSI_PREFIX_PATH, f->path);
		f->pkey.prefixlen = 8 * (2 + n);
		head = bpf_map_lookup_elem(&krsi_index_prefix, &f->pkey);
		if (head)
			walk(slot, *head, KRSI_MAX_CHAIN);
	}
	if (f->cfg & KRSI_HC_ANY)
		walk(slot, f->any_head, KRSI_MAX_ANY_CHAIN);
	(void)zero;
	apply_taint(f);
}

/* Whether the rule's rate_limit lets one more event out (denies and kills
 * are always reported). */
static __always_inline bool rate_ok(__u32 slot, __u32 rule, __u32 action)
{
	struct krsi_rule_config *rc;
	struct krsi_rate *r;
	__u32 idx;
	__u64 now;

	if (action == KRSI_ACTION_DENY || action == KRSI_ACTION_KILL || rule >= KRSI_MAX_RULES)
		return true;
	idx = slot * KRSI_MAX_RULES + rule;
	rc = bpf_map_lookup_elem(&krsi_rule_config, &idx);
	if (!rc || !rc->rate_events)
		return true;
	r = bpf_map_lookup_elem(&krsi_rate, &idx);
	if (!r)
		return true;
	now = bpf_ktime_get_boot_ns();
	if (now - r->window_start_ns >= (__u64)rc->rate_period_s * 1000000000ull) {
		/* Racing CPUs may both open a window: a few extra events at worst. */
		r->window_start_ns = now;
		r->count = 0;
	}
	if (__sync_fetch_and_add(&r->count, 1) < rc->rate_events)
		return true;
	{
		struct krsi_rule_stats *rs = rule_stats(slot, rule);

		if (rs)
			__sync_fetch_and_add(&rs->suppressed, 1);
	}
	return false;
}

/* What a deny or kill of the rule returns: its `errno`, EPERM by default. */
static __always_inline int deny_errno(__u32 slot, __u32 rule)
{
	struct krsi_rule_config *rc;
	__u32 idx;

	if (rule >= KRSI_MAX_RULES)
		return -EPERM;
	idx = (slot & 1) * KRSI_MAX_RULES + rule;
	rc = bpf_map_lookup_elem(&krsi_rule_config, &idx);
	/* 4095 is MAX_ERRNO: anything above would read as a pointer. */
	if (!rc || !rc->deny_errno || rc->deny_errno > 4095)
		return -EPERM;
	return -(int)rc->deny_errno;
}

/* Counts the decision, kills when told to; the hook's return value. */
static __always_inline int krsi_enforce(struct krsi_facts *f)
{
	__u32 a = f->best_action;

	if (!a)
		return 0;
	count_match(f->slot, f->best_rule, a);
	if (a == KRSI_ACTION_KILL) {
		bpf_send_signal(9 /* SIGKILL */);
		return deny_errno(f->slot, f->best_rule);
	}
	return a == KRSI_ACTION_DENY ? deny_errno(f->slot, f->best_rule) : 0;
}

/* The generic record of a hook invocation. */
static __always_inline void krsi_emit_hook(struct krsi_facts *f)
{
	struct krsi_hook_event *e;

	if (!rate_ok(f->slot, f->best_rule, f->best_action))
		return;
	resolve_path(f);
	resolve_path2(f);
	resolve_exe(f);
	e = bpf_ringbuf_reserve(&krsi_events, sizeof(*e), 0);
	if (!e) {
		struct krsi_rule_stats *rs = rule_stats(f->slot, f->best_rule);

		count(KRSI_CNT_EVENTS_LOST);
		if (rs)
			__sync_fetch_and_add(&rs->dropped, 1);
		return;
	}
	fill_hdr_type(&e->hdr, KRSI_EVENT_HOOK, KRSI_SRC_LSM_HOOK + f->hook, f->best_action,
		      f->best_rule, f->slot);
	e->hook = f->hook;
	e->flags = f->flags;
	bpf_probe_read_kernel(e->args, sizeof(e->args), &f->num[KRSI_F_A0]);
	e->path_len = f->path_len;
	e->path2_len = f->path2_len;
	e->name_len = f->name_len;
	e->name2_len = f->name2_len;
	e->exe_len = f->exe_len;
	bpf_probe_read_kernel(e->path, sizeof(e->path), f->path);
	bpf_probe_read_kernel(e->path2, sizeof(e->path2), f->path2);
	bpf_probe_read_kernel(e->name, sizeof(e->name), f->name);
	bpf_probe_read_kernel(e->name2, sizeof(e->name2), f->name2);
	bpf_probe_read_kernel(e->exe, sizeof(e->exe), f->exe);
	bpf_ringbuf_submit(e, 0);
}

/* Evaluate, enforce, report: the whole tail of a generic hook program. */
static __always_inline int krsi_decide(struct krsi_facts *f)
{
	int ret;

	krsi_eval(f);
	ret = krsi_enforce(f);
	if (f->best_action)
		krsi_emit_hook(f);
	return ret;
}

/* Labels follow a new process (not a new thread: those share the leader's). */
SEC("lsm/task_alloc")
int BPF_PROG(krsi_task_alloc, struct task_struct *task, unsigned long clone_flags, int ret)
{
	struct krsi_taint *parent, *child;

	if (ret || (clone_flags & 0x00010000 /* CLONE_THREAD */))
		return ret;
	parent = bpf_task_storage_get(&krsi_taint, current_leader(), 0, 0);
	if (!parent || !parent->labels)
		return 0;
	child = bpf_task_storage_get(&krsi_taint, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (child)
		child->labels = parent->labels;
	return 0;
}

/*
 * exec: rules are evaluated in bprm_check_security, where a deny is an error
 * from the hook itself. An allowed exec that a rule reports is described
 * from bprm_committed_creds, once the new image's stack is current->mm, so
 * argv is read from kernel-prepared memory, not the caller's.
 */
struct exec_pending {
	__u64 bprm; /* which exec the decision belongs to */
	__u32 rule;
	__u32 action;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tid */
	__type(value, struct exec_pending);
} krsi_exec_pending SEC(".maps");

/*
 * Fileless execution: the executed file has no name any process could open.
 * A file on an internal mount (kern_mount: in no mount namespace) is a memfd
 * (shmem/hugetlbfs, dentry "memfd:NAME") or another kernel-internal file;
 * a file whose last link is gone (unlinked while open, O_TMPFILE) has
 * i_nlink 0. The kind is what exec events report as `fileless`.
 */
#define KRSI_FILELESS_NONE 0
#define KRSI_FILELESS_MEMFD 1
#define KRSI_FILELESS_DELETED 2
#define KRSI_FILELESS_INTERNAL 3
#define KRSI_MNT_NS_INTERNAL ((void *)-22L) /* ERR_PTR(-EINVAL) */
static __always_inline __u32 fileless_kind(struct file *file)
{
	struct vfsmount *vm = BPF_CORE_READ(file, f_path.mnt);
	struct mount *m = container_of(vm, struct mount, mnt);
	char name[6] = {};

	if ((void *)BPF_CORE_READ(m, mnt_ns) == KRSI_MNT_NS_INTERNAL) {
		bpf_probe_read_kernel(name, sizeof(name),
				      BPF_CORE_READ(file, f_path.dentry, d_name.name));
		if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
		    name[4] == 'd' && name[5] == ':')
			return KRSI_FILELESS_MEMFD;
		return KRSI_FILELESS_INTERNAL;
	}
	if (BPF_CORE_READ(file, f_inode, i_nlink) == 0)
		return KRSI_FILELESS_DELETED;
	return KRSI_FILELESS_NONE;
}

/* exec.fileless, file.nlink, file.memfd. */
static __always_inline void exec_fileless_facts(struct krsi_facts *f, struct file *file)
{
	__u32 kind = fileless_kind(file);

	f->num[KRSI_F_A0 + 9] = kind != KRSI_FILELESS_NONE;
	f->num[KRSI_F_A0 + 10] = BPF_CORE_READ(file, f_inode, i_nlink);
	f->num[KRSI_F_A0 + 11] = kind == KRSI_FILELESS_MEMFD;
}

static __always_inline void exec_facts(struct krsi_facts *f, struct linux_binprm *bprm)
{
	struct file *file = BPF_CORE_READ(bprm, file);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct vfsmount *mnt = BPF_CORE_READ(file, f_path.mnt);
	__u32 mode = BPF_CORE_READ(inode, i_mode);

	krsi_set_inode(f, inode);
	krsi_set_hash(f);
	krsi_set_path(f, BPF_CORE_READ(file, f_path.dentry), mnt);
	/* exec.setuid: a set-user/group-id file on a mount that honours it. */
	f->num[KRSI_F_A0 + 2] = (mode & 06000) && !(BPF_CORE_READ(mnt, mnt_flags) & 0x02);
	exec_fileless_facts(f, file);
}

static __always_inline void exec_record_ids(struct krsi_exec_event *e, struct linux_binprm *bprm)
{
	struct krsi_task_hash *th;

	file_identity(BPF_CORE_READ(bprm, file), &e->dev, &e->ino);
	e->fileless = fileless_kind(BPF_CORE_READ(bprm, file));
	fill_filename(e, BPF_CORE_READ(bprm, filename));
	fill_exe(e);
	/* The digest the sleepable program left for this file, if any. */
	th = bpf_task_storage_get(&krsi_task_hash, bpf_get_current_task_btf(), 0, 0);
	if (th && th->ok && th->dev == e->dev && th->ino == e->ino) {
		__builtin_memcpy(e->sha256, th->sha256, sizeof(e->sha256));
		e->flags |= KRSI_F_HASH;
	}
}

SEC("lsm/bprm_check_security")
int BPF_PROG(krsi_bprm_check_security, struct linux_binprm *bprm, int ret)
{
	struct krsi_exec_event *e;
	struct exec_pending *p;
	struct argv_stash *stash;
	struct krsi_facts *f;
	__u32 tid, rule, action, slot;
	int err;

	if (ret)
		return ret; /* an earlier LSM already said no */
	f = krsi_begin(KRSI_HOOK_BPRM_CHECK_SECURITY);
	if (!f)
		return 0;
	exec_facts(f, bprm);
	krsi_eval(f);
	err = krsi_enforce(f);
	action = f->best_action;
	rule = f->best_rule;
	slot = f->slot;
	tid = (__u32)bpf_get_current_pid_tgid();
	if (!action)
		return 0;
	if (!err) {
		/* Reported once the exec is committed; a script's interpreter is
		 * checked too, and the stronger decision of the two is kept. */
		struct exec_pending np = { .bprm = (__u64)bprm, .rule = rule, .action = action };

		p = bpf_map_lookup_elem(&krsi_exec_pending, &tid);
		if (p && p->bprm == (__u64)bprm && strength(p->action) >= strength(action))
			return 0;
		bpf_map_update_elem(&krsi_exec_pending, &tid, &np, BPF_ANY);
		return 0;
	}
	e = reserve(slot, rule);
	if (!e)
		return err;
	fill_hdr(&e->hdr, KRSI_SRC_LSM_BPRM_CHECK_SECURITY, action, rule, slot);
	exec_record_ids(e, bprm);
	e->flags |= f->flags & KRSI_F_HASH_MISSING;
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
	return err;
}

/* `env`: the facts of the committed stage when it ran (its environment
 * summary goes into the record), else NULL. */
static __always_inline void report_exec(struct linux_binprm *bprm, __u32 source, __u32 slot,
					__u32 rule, __u32 action, unsigned long args_start,
					unsigned long args_end, __u32 argc, struct krsi_facts *env)
{
	struct krsi_exec_event *e;

	if (!rate_ok(slot, rule, action))
		return;
	e = reserve(slot, rule);
	if (!e)
		return;
	fill_hdr(&e->hdr, source, action, rule, slot);
	exec_record_ids(e, bprm);
	read_user_strings(e, args_start, args_end, argc);
	e->env_len[0] = e->env_len[1] = 0;
	if (env && (env->name_len || (env->flags & KRSI_F_ENV))) {
		e->flags |= env->flags & (KRSI_F_ENV | KRSI_F_ENV_OVERFLOW);
		e->env_count = env->num[KRSI_F_A0 + 3];
		e->env_bytes = env->num[KRSI_F_A0 + 6];
		e->env_duplicates = env->num[KRSI_F_A0 + 7];
		e->env_len[0] = env->name_len;
		e->env_len[1] = env->name2_len;
		bpf_probe_read_kernel(e->env[0], sizeof(e->env[0]), env->name);
		bpf_probe_read_kernel(e->env[1], sizeof(e->env[1]), env->name2);
	}
	bpf_ringbuf_submit(e, 0);
}

/* The new image's facts: argv and environment start at `strings` (user
 * address) in the now current mm. */
static __always_inline void exec_post_facts(struct krsi_facts *f, struct linux_binprm *bprm,
					    unsigned long strings, unsigned long end)
{
	exec_facts(f, bprm);
	f->num[KRSI_F_A0 + 3] = BPF_CORE_READ(bprm, envc);
	f->num[KRSI_F_A0 + 4] = BPF_CORE_READ(bprm, argc);
	f->num[KRSI_F_A0 + 5] = strings;
	env_scan(f, strings, end);
}

/*
 * Evaluates one exec stage on the committed exec (the new image's facts)
 * and keeps its decision when stronger than *action. A deny cannot be
 * enforced any more: it is reported as would_deny; a kill still kills.
 */
static __always_inline struct krsi_facts *exec_stage(__u32 hook, struct linux_binprm *bprm,
						      unsigned long strings, unsigned long end,
						      __u32 *action, __u32 *rule, __u32 *slot)
{
	struct krsi_facts *f = krsi_begin(hook);

	if (!f)
		return NULL;
	exec_post_facts(f, bprm, strings, end);
	krsi_eval(f);
	if (f->best_action == KRSI_ACTION_DENY)
		f->best_action = KRSI_ACTION_WOULD_DENY;
	krsi_enforce(f);
	if (strength(f->best_action) > strength(*action)) {
		*action = f->best_action;
		*rule = f->best_rule;
		*slot = f->slot;
	}
	return f;
}

SEC("lsm/bprm_committed_creds")
int BPF_PROG(krsi_bprm_committed_creds, struct linux_binprm *bprm)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct krsi_state *st = state();
	struct exec_pending *p;
	struct krsi_facts *f;
	__u32 slot, rule = KRSI_NO_RULE, action = KRSI_ACTION_NONE;

	if (!st)
		return 0;
	slot = st->active_slot & 1;
	p = bpf_map_lookup_elem(&krsi_exec_pending, &tid);
	if (p) {
		if (p->bprm == (__u64)bprm) {
			rule = p->rule;
			action = p->action;
		}
		bpf_map_delete_elem(&krsi_exec_pending, &tid);
	}
	/* Rules on argv/environment: exec_mmap() has made the new mm current;
	 * argv and envp sit in [bprm->p, bprm->exec), argv first. A kill here
	 * lands before the new program runs one instruction. */
	f = exec_stage(KRSI_HOOK_BPRM_COMMITTED_CREDS, bprm, BPF_CORE_READ(bprm, p),
		       BPF_CORE_READ(bprm, exec), &action, &rule, &slot);
	if (action)
		report_exec(bprm, KRSI_SRC_LSM_BPRM_COMMITTED_CREDS, slot, rule, action,
			    BPF_CORE_READ(bprm, p), BPF_CORE_READ(bprm, exec),
			    BPF_CORE_READ(bprm, argc), f);
	return 0;
}

/* Report-only fallback: the exec has happened. Both exec stages' rules are
 * evaluated; a deny becomes would_deny; a kill still kills, before the new
 * program runs an instruction. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(krsi_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long args = BPF_CORE_READ(mm, arg_start);
	__u32 slot = 0, rule = KRSI_NO_RULE, action = KRSI_ACTION_NONE;

	unsigned long env_end = BPF_CORE_READ(mm, env_end);
	struct krsi_facts *f;

	exec_stage(KRSI_HOOK_BPRM_CHECK_SECURITY, bprm, args, env_end, &action, &rule, &slot);
	f = exec_stage(KRSI_HOOK_BPRM_COMMITTED_CREDS, bprm, args, env_end, &action, &rule, &slot);
	if (action)
		report_exec(bprm, KRSI_SRC_TP_SCHED_PROCESS_EXEC, slot, rule, action, args,
			    BPF_CORE_READ(mm, arg_end), BPF_CORE_READ(bprm, argc), f);
	return 0;
}

/* Labels follow a new process; threads share their leader's. Fork's
 * tracepoint runs before the child first runs, on both backends. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(krsi_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct krsi_taint *pt, *ct;

	if (child->pid != child->tgid)
		return 0;
	pt = bpf_task_storage_get(&krsi_taint, parent->group_leader, 0, 0);
	if (!pt || !pt->labels)
		return 0;
	ct = bpf_task_storage_get(&krsi_taint, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ct)
		ct->labels = pt->labels;
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

/* Lets the agent check at start-up that its mirror of the records matches. */
const volatile __u32 krsi_abi_exec_event_size = sizeof(struct krsi_exec_event);
const volatile __u32 krsi_abi_file_event_size = sizeof(struct krsi_file_event);
const volatile __u32 krsi_abi_hook_event_size = sizeof(struct krsi_hook_event);
const volatile __u32 krsi_abi_clause_size = sizeof(struct krsi_clause);

/* The open's flags in the policy's terms. */
static __always_inline __u32 open_flags(struct file *file)
{
	__u32 mode = BPF_CORE_READ(file, f_mode);
	__u32 fl = BPF_CORE_READ(file, f_flags);
	__u32 out = 0;

	if (mode & 0x1) /* FMODE_READ */
		out |= KRSI_OPEN_READ;
	if (mode & 0x2) /* FMODE_WRITE */
		out |= KRSI_OPEN_WRITE;
	if (mode & 0x20) /* FMODE_EXEC */
		out |= KRSI_OPEN_EXEC;
	if (fl & 02000) /* O_APPEND */
		out |= KRSI_OPEN_APPEND;
	if (fl & 0100) /* O_CREAT (cleared only after security_file_open) */
		out |= KRSI_OPEN_CREATE;
	if (fl & 01000) /* O_TRUNC */
		out |= KRSI_OPEN_TRUNCATE;
	if (fl & 0200000) /* O_DIRECTORY */
		out |= KRSI_OPEN_DIRECTORY;
	if (fl & 0400000) /* O_NOFOLLOW */
		out |= KRSI_OPEN_NOFOLLOW;
	return out;
}

/* file.type as fields::INODE_TYPES orders it. */
static __always_inline __u64 inode_type(__u32 mode)
{
	switch (mode & 0170000) {
	case 0100000:
		return 0;
	case 0040000:
		return 1;
	case 0120000:
		return 2;
	case 0020000:
		return 3;
	case 0060000:
		return 4;
	case 0010000:
		return 5;
	default:
		return 6;
	}
}

/*
 * Per-process procfs files (/proc/PID/..., /proc/PID/task/TID/...): the
 * inode is a proc_inode whose pid names the task; file.proc.pid is its
 * thread group (as the initial pid namespace numbers it), file.proc.self
 * whether that is the opener's, file.proc.entry the file's name ("mem").
 * Other procfs inodes (sysctl, /proc/net entries, /proc/self) have no pid.
 */
#define KRSI_PROC_SUPER_MAGIC 0x9fa0
static __always_inline void proc_facts(struct krsi_facts *f, struct file *file, struct inode *inode)
{
	struct proc_inode *pi;
	struct hlist_node *first;
	struct task_struct *t;
	struct pid *pid;
	__u64 tgid;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != KRSI_PROC_SUPER_MAGIC)
		return;
	pi = container_of(inode, struct proc_inode, vfs_inode);
	pid = BPF_CORE_READ(pi, pid);
	if (!pid)
		return;
	first = BPF_CORE_READ(pid, tasks[0].first); /* PIDTYPE_PID */
	if (!first)
		return; /* the task is gone: the open fails anyway */
	t = container_of(first, struct task_struct, pid_links[0]);
	tgid = BPF_CORE_READ(t, tgid);
	f->num[KRSI_F_A0 + 4] = tgid;
	f->num[KRSI_F_A0 + 5] = tgid == f->num[KRSI_F_PID];
	krsi_set_name2(f, (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name));
}

SEC("lsm/file_open")
int BPF_PROG(krsi_file_open, struct file *file, int ret)
{
	struct krsi_file_event *e;
	struct krsi_facts *f;
	struct inode *inode;
	int err;

	if (ret)
		return ret;
	if (BPF_CORE_READ(file, f_mode) & 0x2 /* FMODE_WRITE */)
		hash_forget(BPF_CORE_READ(file, f_inode));
	f = krsi_begin(KRSI_HOOK_FILE_OPEN);
	if (!f)
		return 0; /* the hot path when no policy is about opens */
	inode = BPF_CORE_READ(file, f_inode);
	krsi_set_inode(f, inode);
	krsi_set_path(f, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt));
	f->num[KRSI_F_A0 + 2] = open_flags(file);
	f->num[KRSI_F_A0 + 3] = inode_type(BPF_CORE_READ(inode, i_mode));
	krsi_set_name(f, BPF_CORE_READ(inode, i_sb, s_type, name));
	proc_facts(f, file, inode);
	krsi_eval(f);
	err = krsi_enforce(f);
	if (!f->best_action || !rate_ok(f->slot, f->best_rule, f->best_action))
		return err;
	resolve_path(f);
	e = bpf_ringbuf_reserve(&krsi_events, sizeof(*e), 0);
	if (!e) {
		struct krsi_rule_stats *rs = rule_stats(f->slot, f->best_rule);

		count(KRSI_CNT_EVENTS_LOST);
		if (rs)
			__sync_fetch_and_add(&rs->dropped, 1);
		return err;
	}
	e->flags = f->flags;
	fill_hdr_type(&e->hdr, KRSI_EVENT_FILE, KRSI_SRC_LSM_FILE_OPEN, f->best_action,
		      f->best_rule, f->slot);
	e->dev = f->num[KRSI_F_A0];
	e->ino = f->num[KRSI_F_A0 + 1];
	e->open_flags = f->num[KRSI_F_A0 + 2];
	e->proc_pid = f->num[KRSI_F_A0 + 4];
	e->proc_self = f->num[KRSI_F_A0 + 5];
	e->path_len = f->path_len;
	bpf_probe_read_kernel(e->path, sizeof(e->path), f->path);
	e->exe_len = current_exe(e->exe, &e->flags);
	bpf_ringbuf_submit(e, 0);
	return err;
}

/* Truncation by path needs no open for writing: the digest goes too. */
SEC("lsm/path_truncate")
int BPF_PROG(krsi_path_truncate, const struct path *path, int ret)
{
	if (!ret)
		hash_forget(BPF_CORE_READ(path, dentry, d_inode));
	return ret;
}

/* The sleepable halves: digests for file.sha256 before the rules run. */
SEC("lsm.s/bprm_check_security")
int BPF_PROG(krsi_hash_bprm_check_security, struct linux_binprm *bprm, int ret)
{
	if (!ret)
		hash_file(bprm->file, KRSI_HOOK_BPRM_CHECK_SECURITY, KRSI_HOOK_BPRM_COMMITTED_CREDS);
	return ret;
}

SEC("lsm.s/kernel_read_file")
int BPF_PROG(krsi_hash_kernel_read_file, struct file *file, enum kernel_read_file_id id,
	     bool contents, int ret)
{
	if (!ret)
		/* module_load names the module file's digest too. */
		hash_file(file, KRSI_HOOK_KERNEL_READ_FILE,
			  id == KRSI_READING_MODULE ? KRSI_HOOK_MODULE_LOAD : KRSI_HOOK_KERNEL_READ_FILE);
	return ret;
}

#include "hooks/files.h"
#include "hooks/system.h"
#include "hooks/process.h"
#include "hooks/net.h"
#include "hooks/kernel.h"
#include "hooks/lock.h"
