// SPDX-License-Identifier: GPL-2.0-only
/*
 * krsi's LSM programs and the maps they share.
 *
 * exec: report every exec and deny executables by identity.
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

/* Counts a match in the rule's per-CPU counters; returns them (or NULL). */
static __always_inline struct krsi_rule_stats *count_match(__u32 slot, __u32 rule, __u32 action)
{
	struct krsi_rule_stats *rs = rule_stats(slot, rule);

	if (!rs)
		return NULL;
	__sync_fetch_and_add(&rs->hits, 1);
	if (action == KRSI_ACTION_DENY)
		__sync_fetch_and_add(&rs->denies, 1);
	else if (action == KRSI_ACTION_WOULD_DENY)
		__sync_fetch_and_add(&rs->would_denies, 1);
	else
		__sync_fetch_and_add(&rs->audits, 1);
	return rs;
}

static __always_inline struct krsi_state *state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&krsi_state, &zero);
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

	count_match(slot, ref->rule, KRSI_ACTION_DENY);
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
	count_match(slot, rule, action);
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

/*
 * file_open: rules are clauses indexed by the opened file's identity (hash)
 * or by a prefix of its path (LPM trie). The agent folds every shorter
 * matching prefix's clauses into each prefix's chain, so the longest match
 * alone sees every clause that applies. Cost per open: one hash lookup, one
 * trie lookup (only when prefix rules exist), and the chain walk.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KRSI_MAX_IDENTITIES);
	__type(key, struct krsi_exec_key);
	__type(value, __u32); /* head clause */
} krsi_open_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct krsi_prefix_key);
	__type(value, __u32); /* head clause */
} krsi_open_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KRSI_SLOTS * KRSI_MAX_CLAUSES);
	__type(key, __u32);
	__type(value, struct krsi_clause);
} krsi_clauses SEC(".maps");

struct open_scratch {
	struct krsi_prefix_key key;
	char path[KRSI_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_scratch);
} krsi_open_scratch SEC(".maps");

struct chain_walk {
	__u32 slot;
	__u32 next;
	__u32 flags;
	__u32 best_action;
	__u32 best_rule;
};

/* Strongest action wins (deny > would_deny > audit); the first clause on ties. */
static __always_inline __u32 strength(__u32 action)
{
	switch (action) {
	case KRSI_ACTION_DENY:
		return 3;
	case KRSI_ACTION_WOULD_DENY:
		return 2;
	case KRSI_ACTION_AUDIT:
		return 1;
	default:
		return 0;
	}
}

static long chain_step(__u32 i, void *data)
{
	struct chain_walk *w = data;
	struct krsi_clause *c;
	__u32 idx;

	if (w->next >= KRSI_MAX_CLAUSES)
		return 1;
	idx = w->slot * KRSI_MAX_CLAUSES + w->next;
	c = bpf_map_lookup_elem(&krsi_clauses, &idx);
	if (!c)
		return 1;
	if ((!c->flags_any || (c->flags_any & w->flags)) &&
	    strength(c->action) > strength(w->best_action)) {
		w->best_action = c->action;
		w->best_rule = c->rule;
	}
	w->next = c->next;
	return 0;
}

static __always_inline void walk_chain(struct chain_walk *w, __u32 head)
{
	w->next = head;
	bpf_loop(KRSI_MAX_CHAIN, chain_step, w, 0);
}

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

SEC("lsm/file_open")
int BPF_PROG(krsi_file_open, struct file *file, int ret)
{
	struct krsi_state *st = state();
	struct krsi_slot_config *cfg;
	struct chain_walk w = {};
	struct krsi_rule_stats *rs;
	struct krsi_file_event *e;
	struct open_scratch *sc;
	__u32 zero = 0, slot, dev, path_len = 0;
	bool have_path = false, truncated = false;
	__u64 ino;
	__u32 *head;

	if (ret)
		return ret;
	if (!st || !st->enforce)
		return 0;
	slot = st->active_slot & 1;
	cfg = bpf_map_lookup_elem(&krsi_slot_config, &slot);
	if (!cfg || !(cfg->flags & (KRSI_CFG_OPEN_IDENTITY | KRSI_CFG_OPEN_PREFIX)))
		return 0; /* the hot path when no policy is about opens */
	sc = bpf_map_lookup_elem(&krsi_open_scratch, &zero);
	if (!sc)
		return 0;

	w.slot = slot;
	w.flags = open_flags(file);
	file_identity(file, &dev, &ino);
	if (cfg->flags & KRSI_CFG_OPEN_IDENTITY) {
		struct krsi_exec_key key = { .slot = slot, .dev = dev, .ino = ino };

		head = bpf_map_lookup_elem(&krsi_open_rules, &key);
		if (head)
			walk_chain(&w, *head);
	}
	if (cfg->flags & KRSI_CFG_OPEN_PREFIX) {
		path_len = krsi_resolve_path(BPF_CORE_READ(file, f_path.dentry),
					     BPF_CORE_READ(file, f_path.mnt), sc->path, &truncated);
		have_path = true;
		sc->key.data[0] = slot;
		bpf_probe_read_kernel(&sc->key.data[1], KRSI_PREFIX_PATH, sc->path);
		sc->key.prefixlen = 8 * (1 + (path_len < KRSI_PREFIX_PATH ? path_len : KRSI_PREFIX_PATH));
		head = bpf_map_lookup_elem(&krsi_open_prefix, &sc->key);
		if (head)
			walk_chain(&w, *head);
	}
	if (!w.best_action)
		return 0;

	rs = count_match(slot, w.best_rule, w.best_action);
	e = bpf_ringbuf_reserve(&krsi_events, sizeof(*e), 0);
	if (!e) {
		count(KRSI_CNT_EVENTS_LOST);
		if (rs)
			__sync_fetch_and_add(&rs->dropped, 1);
	} else {
		e->flags = 0;
		fill_hdr_type(&e->hdr, KRSI_EVENT_FILE, KRSI_SRC_LSM_FILE_OPEN, w.best_action,
			      w.best_rule, slot);
		e->dev = dev;
		e->ino = ino;
		e->open_flags = w.flags;
		if (!have_path) {
			path_len = krsi_resolve_path(BPF_CORE_READ(file, f_path.dentry),
						     BPF_CORE_READ(file, f_path.mnt), e->path, &truncated);
		} else {
			bpf_probe_read_kernel(e->path, sizeof(e->path), sc->path);
		}
		if (truncated)
			e->flags |= KRSI_F_PATH_TRUNCATED;
		e->path_len = path_len;
		e->exe_len = current_exe(e->exe, &e->flags);
		bpf_ringbuf_submit(e, 0);
	}
	return w.best_action == KRSI_ACTION_DENY ? -EPERM : 0;
}

const volatile __u32 krsi_abi_file_event_size = sizeof(struct krsi_file_event);
