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
	return krsi_decide(f);
}

/*
 * The hook's default is -ENOSYS ("not handled"): returning 0 lets the
 * prctl run as usual, -EPERM refuses it.
 */
SEC("lsm/task_prctl")
int BPF_PROG(krsi_task_prctl, int option, unsigned long arg2, unsigned long arg3,
	     unsigned long arg4, unsigned long arg5, int ret)
{
	struct krsi_facts *f;

	if (ret)
		return ret;
	f = krsi_begin(KRSI_HOOK_TASK_PRCTL);
	if (!f)
		return 0;
	f->num[KRSI_F_A0 + 2] = (__u32)option;
	f->num[KRSI_F_A0 + 3] = arg2;
	f->num[KRSI_F_A0 + 4] = arg3;
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
