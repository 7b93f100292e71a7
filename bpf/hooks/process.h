/* SPDX-License-Identifier: GPL-2.0-only */
/* ptrace, uid/gid changes, prctl, signals. */
#ifndef KRSI_HOOKS_PROCESS_H
#define KRSI_HOOKS_PROCESS_H

/* ptrace.relation as fields::PTRACE_RELATIONS orders it. */
#define KRSI_REL_SELF 0
#define KRSI_REL_ANCESTOR 1
#define KRSI_REL_DESCENDANT 2
#define KRSI_REL_OTHER 3

struct ancestry_walk {
	struct task_struct *t;
	struct task_struct *want;
	bool found;
};

static long ancestry_step(__u32 i, void *data)
{
	struct ancestry_walk *w = data;
	/* Locals, not w->...: BPF_CORE_READ would relocate krsi's own struct. */
	struct task_struct *t = w->t;
	struct task_struct *want = w->want;
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);

	if (BPF_CORE_READ(t, tgid) == BPF_CORE_READ(want, tgid)) {
		w->found = true;
		return 1;
	}
	if (!parent || parent == t)
		return 1; /* init */
	w->t = parent;
	return 0;
}

/* Whether `want`'s process is `t`'s process or one of its ancestors. */
static __always_inline bool is_ancestor(struct task_struct *want, struct task_struct *t)
{
	struct ancestry_walk w = { .t = t, .want = want };

	bool found = false;

	bpf_loop(256, ancestry_step, &w, 0);
	/* Verifiers before 6.7 model a bpf_loop callback as running once:
	 * read the result opaquely so no branch is pruned as dead. */
	bpf_probe_read_kernel(&found, sizeof(found), &w.found);
	return found;
}

static __always_inline __u64 relation(struct task_struct *me, struct task_struct *other)
{
	if (BPF_CORE_READ(me, tgid) == BPF_CORE_READ(other, tgid))
		return KRSI_REL_SELF;
	if (is_ancestor(me, other))
		return KRSI_REL_DESCENDANT; /* other descends from me */
	if (is_ancestor(other, me))
		return KRSI_REL_ANCESTOR;
	return KRSI_REL_OTHER;
}

/*
 * PR_SET_PTRACER declarations, as Yama keeps them: the declaring process
 * (thread-group id) names a tracer pid, or any tracer. Kept whatever the
 * policy (declarations made before a Yama policy loads must count) and
 * checked against the declarer's start time, so a reused pid does not
 * inherit a dead process's declaration.
 *
 * The pid is a number in the declarer's pid namespace (yama_task_prctl
 * resolves it with find_get_task_by_vpid), so the namespace is recorded
 * with it: a tracer matches when its number at that namespace's level, in
 * that namespace, is the declared one. BPF cannot resolve a pid to a task
 * at declaration time (no pid lookup helper on 6.1), hence the number.
 */
#define KRSI_PR_SET_PTRACER 0x59616d61
#define KRSI_PTRACER_ANY 0xffffffffu

struct ptracer_decl {
	__u32 tracer; /* pid as the declarer passed it, or KRSI_PTRACER_ANY */
	__u32 level; /* of the declarer's pid namespace */
	__u64 start_time; /* the declarer's, against pid reuse */
	__u64 ns; /* the declarer's pid namespace (struct pid_namespace *) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ptracer_decl);
} krsi_ptracers SEC(".maps");

static __always_inline void record_ptracer(unsigned long tracer)
{
	struct task_struct *leader = current_leader();
	/* task_active_pid_ns(current): the namespace of the caller's own pid. */
	struct pid *pid = BPF_CORE_READ(bpf_get_current_task_btf(), thread_pid);
	__u32 level = BPF_CORE_READ(pid, level);
	__u32 tgid = BPF_CORE_READ(leader, tgid);
	struct ptracer_decl d = {
		.tracer = (__u32)tracer,
		.level = level,
		.start_time = BPF_CORE_READ(leader, start_time),
		.ns = (__u64)BPF_CORE_READ(pid, numbers[level].ns),
	};

	if (tracer == 0)
		bpf_map_delete_elem(&krsi_ptracers, &tgid);
	else
		bpf_map_update_elem(&krsi_ptracers, &tgid, &d, BPF_ANY);
}

/* Whether `pid` is numbered `nr` in pid namespace `ns` (at `level`); a pid
 * not visible there (a shallower one, or another branch) never is. */
static __always_inline bool pid_is(struct pid *pid, __u64 ns, __u32 level, __u32 nr)
{
	struct upid up = {};

	if (!pid || BPF_CORE_READ(pid, level) < level || level > 32 /* MAX_PID_NS_LEVEL */)
		return false;
	bpf_core_read(&up, sizeof(up), &pid->numbers[level]);
	return (__u64)up.ns == ns && (__u32)up.nr == nr;
}

/* Walks the tracer's ancestry looking for the declared tracer, comparing
 * thread-group leaders as task_is_descendant does. */
static long declared_step(__u32 i, void *data)
{
	struct krsi_facts *f = facts();
	struct task_struct *t, *parent;

	if (!f)
		return 1;
	/* Through a local: BPF_CORE_READ of f->... would relocate krsi's own struct. */
	t = (struct task_struct *)f->aw.t;
	t = BPF_CORE_READ(t, group_leader);
	if (pid_is(BPF_CORE_READ(t, thread_pid), f->aw.ns, f->aw.level, f->aw.set)) {
		f->aw.found = 1;
		return 1;
	}
	parent = BPF_CORE_READ(t, real_parent);
	if (!parent || parent == t || BPF_CORE_READ(parent, pid) == 0)
		return 1; /* past init: the kernel's walk stops at pid 0 */
	f->aw.t = (__u64)parent;
	return 0;
}

/* ptrace.declared: the tracee declared the tracer, one of its ancestors, or
 * any tracer (Yama's ptracer_exception_found). */
static __always_inline __u64 declared_tracer(struct krsi_facts *f, struct task_struct *tracer,
					     struct task_struct *tracee)
{
	struct task_struct *leader = BPF_CORE_READ(tracee, group_leader);
	__u32 tgid = BPF_CORE_READ(leader, tgid);
	struct ptracer_decl *d = bpf_map_lookup_elem(&krsi_ptracers, &tgid);

	if (!d || d->start_time != BPF_CORE_READ(leader, start_time))
		return 0;
	if (d->tracer == KRSI_PTRACER_ANY)
		return 1;
	/* A declared thread id: the kernel takes that thread's group leader,
	 * so the calling thread itself matches too. */
	if (pid_is(BPF_CORE_READ(tracer, thread_pid), d->ns, d->level, d->tracer))
		return 1;
	f->aw.t = (__u64)tracer;
	f->aw.set = d->tracer;
	f->aw.ns = d->ns;
	f->aw.level = d->level;
	f->aw.found = 0;
	bpf_loop(256, declared_step, NULL, 0);
	return f->aw.found;
}

/*
 * ptrace.capable: whether `cred` has CAP_SYS_PTRACE in user namespace `ns`,
 * decided as cap_capable() does (ns_capable is not callable from BPF): in
 * the credentials' own namespace by the effective set; in a descendant
 * namespace owned by the credentials' euid, always; elsewhere never.
 */
#define KRSI_CAP_SYS_PTRACE 19

static long capable_step(__u32 i, void *data)
{
	struct krsi_facts *f = facts();
	struct user_namespace *ns, *mine, *parent;
	const struct cred *cred;

	if (!f)
		return 1;
	ns = (struct user_namespace *)f->cw.ns;
	cred = (const struct cred *)f->cw.cred;
	mine = BPF_CORE_READ(cred, user_ns);
	if (ns == mine) {
		f->cw.result = (f->cw.caps >> KRSI_CAP_SYS_PTRACE) & 1;
		return 1;
	}
	if (BPF_CORE_READ(ns, level) <= BPF_CORE_READ(mine, level))
		return 1;
	parent = BPF_CORE_READ(ns, parent);
	if (parent == mine && BPF_CORE_READ(ns, owner.val) == BPF_CORE_READ(cred, euid.val)) {
		f->cw.result = 1;
		return 1;
	}
	f->cw.ns = (__u64)parent;
	return 0;
}

static __always_inline __u64 capable_in(struct krsi_facts *f, const struct cred *cred,
					struct user_namespace *ns)
{
	__u64 caps = 0;

	bpf_probe_read_kernel(&caps, sizeof(caps),
			      __builtin_preserve_access_index(&cred->cap_effective));
	f->cw.cred = (__u64)cred;
	f->cw.ns = (__u64)ns;
	f->cw.caps = caps;
	f->cw.result = 0;
	bpf_loop(33, capable_step, NULL, 0);
	return f->cw.result;
}

/* ptrace.mode in PTRACE_MODES order: read, attach, fscreds, realcreds, noaudit. */
static __always_inline __u64 ptrace_mode(unsigned int mode)
{
	__u64 out = 0;

	if (mode & 0x01)
		out |= 1 << 0;
	if (mode & 0x02)
		out |= 1 << 1;
	if (mode & 0x08)
		out |= 1 << 2;
	if (mode & 0x10)
		out |= 1 << 3;
	if (mode & 0x04)
		out |= 1 << 4;
	return out;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(krsi_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_PTRACE_ACCESS_CHECK);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = relation(bpf_get_current_task_btf(), child);
	f->num[KRSI_F_A0 + 3] = ptrace_mode(mode);
	f->num[KRSI_F_A0 + 4] = declared_tracer(f, bpf_get_current_task_btf(), child);
	/* Yama: ns_capable(__task_cred(child)->user_ns, CAP_SYS_PTRACE). */
	f->num[KRSI_F_A0 + 5] =
		capable_in(f, bpf_get_current_task_btf()->cred, BPF_CORE_READ(child, real_cred, user_ns));
	krsi_set_target(f, child);
	return krsi_decide(f);
}

/* PTRACE_TRACEME: the target is the would-be tracer (the parent). */
SEC("lsm/ptrace_traceme")
int BPF_PROG(krsi_ptrace_traceme, struct task_struct *parent, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_PTRACE_TRACEME);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = KRSI_REL_ANCESTOR;
	f->num[KRSI_F_A0 + 3] = 1 << 1; /* attach */
	/* Yama: has_ns_capability(parent, current_user_ns(), CAP_SYS_PTRACE). */
	f->num[KRSI_F_A0 + 5] = capable_in(f, BPF_CORE_READ(parent, real_cred),
					   bpf_get_current_task_btf()->cred->user_ns);
	krsi_set_target(f, parent);
	return krsi_decide(f);
}

SEC("lsm/task_fix_setuid")
int BPF_PROG(krsi_task_fix_setuid, struct cred *new, const struct cred *old, int flags, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_TASK_FIX_SETUID);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = BPF_CORE_READ(old, uid.val);
	f->num[KRSI_F_A0 + 3] = BPF_CORE_READ(new, uid.val);
	f->num[KRSI_F_A0 + 4] = BPF_CORE_READ(new, euid.val);
	f->num[KRSI_F_A0 + 5] = BPF_CORE_READ(new, suid.val);
	f->num[KRSI_F_A0 + 6] = BPF_CORE_READ(new, fsuid.val);
	f->num[KRSI_F_A0 + 7] = BPF_CORE_READ(old, euid.val);
	f->num[KRSI_F_A0 + 8] = BPF_CORE_READ(old, suid.val);
	return krsi_decide(f);
}

SEC("lsm/task_fix_setgid")
int BPF_PROG(krsi_task_fix_setgid, struct cred *new, const struct cred *old, int flags, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_TASK_FIX_SETGID);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = BPF_CORE_READ(old, gid.val);
	f->num[KRSI_F_A0 + 3] = BPF_CORE_READ(new, gid.val);
	f->num[KRSI_F_A0 + 4] = BPF_CORE_READ(new, egid.val);
	f->num[KRSI_F_A0 + 5] = BPF_CORE_READ(new, sgid.val);
	f->num[KRSI_F_A0 + 6] = BPF_CORE_READ(new, fsgid.val);
	f->num[KRSI_F_A0 + 7] = BPF_CORE_READ(old, egid.val);
	f->num[KRSI_F_A0 + 8] = BPF_CORE_READ(old, sgid.val);
	return krsi_decide(f);
}

/*
 * The hook's default is -ENOSYS ("not handled"): returning 0 lets the
 * prctl run as usual, an error (the rule's errno) refuses it.
 */
SEC("lsm/task_prctl")
int BPF_PROG(krsi_task_prctl, int option, unsigned long arg2, unsigned long arg3,
	     unsigned long arg4, unsigned long arg5, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	if (option == KRSI_PR_SET_PTRACER)
		record_ptracer(arg2);
	f = krsi_begin(KRSI_HOOK_TASK_PRCTL);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = (__u32)option;
	f->num[KRSI_F_A0 + 3] = arg2;
	f->num[KRSI_F_A0 + 4] = arg3;
	return krsi_decide(f);
}

/*
 * A capability check. Hot (privileged code makes many): with no rule on it
 * the program returns after two array lookups. The credentials checked are
 * not always the caller's (file_ns_capable checks the file's opener), so
 * their ids are facts of their own.
 */
SEC("lsm/capable")
int BPF_PROG(krsi_capable, const struct cred *cred, struct user_namespace *ns, int cap,
	     unsigned int opts, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_CAPABLE);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = cap;
	f->num[KRSI_F_A0 + 3] = (opts & 0x4 /* CAP_OPT_INSETID */) != 0;
	f->num[KRSI_F_A0 + 4] = BPF_CORE_READ(cred, uid.val);
	f->num[KRSI_F_A0 + 5] = BPF_CORE_READ(cred, gid.val);
	return krsi_decide(f);
}

SEC("lsm/task_kill")
int BPF_PROG(krsi_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_TASK_KILL);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = sig;
	krsi_set_target(f, p);
	return krsi_decide(f);
}

#endif
