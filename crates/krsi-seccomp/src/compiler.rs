//! Policy → classic BPF.
//!
//! Layout: `ld arch; jeq AUDIT_ARCH; ret KILL_PROCESS; ld nr;` then a weighted
//! decision tree over the syscall number whose leaves are either a `ret` or a
//! per-syscall argument block. On x86_64 the x32 range `[0x40000000, 0xfffffffe]`
//! is a leaf of that tree returning KILL_PROCESS (libseccomp's rule), so hot
//! syscalls pay nothing for it; `-1` (tracer skip) keeps the default action.
//!
//! Code is emitted backwards so every jump target already exists; a conditional
//! jump whose target is more than 255 instructions away goes through a `ja`
//! trampoline (or a fresh copy of the `ret` it wanted).
use std::collections::HashMap;

use crate::bpf::*;
use crate::policy::{Atom, Filter, Op, Policy};
use crate::{syscall_number, Action, Arch};

/// Above this many intervals the split search is narrowed with Knuth's bounds.
const KNUTH_ABOVE: usize = 500;

/// Tuning knobs for the tree builder.
#[derive(Clone, Debug)]
pub struct TreeOptions {
    /// Each interval's weight gets `total / (smoothing * intervals)` added so rare
    /// syscalls cannot sink arbitrarily deep (bounds the worst case).
    pub smoothing: u64,
    /// Longest chain of `jeq` "holes" in an otherwise uniform range.
    pub max_holes: usize,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            smoothing: 32,
            max_holes: 10,
        }
    }
}

/// Syscalls a typical Linux process makes most; used as weights when the policy
/// has no `@frequency` data.
const HOT_SYSCALLS: &[(&str, u64)] = &[
    ("read", 1000),
    ("write", 1000),
    ("futex", 800),
    ("epoll_wait", 500),
    ("epoll_pwait", 500),
    ("recvfrom", 400),
    ("sendto", 400),
    ("recvmsg", 400),
    ("sendmsg", 400),
    ("mmap", 300),
    ("munmap", 200),
    ("close", 300),
    ("openat", 300),
    ("fstat", 300),
    ("newfstatat", 300),
    ("statx", 200),
    ("lseek", 200),
    ("poll", 200),
    ("ppoll", 200),
    ("clock_gettime", 300),
    ("gettimeofday", 100),
    ("nanosleep", 100),
    ("clock_nanosleep", 100),
    ("brk", 100),
    ("madvise", 100),
    ("mprotect", 100),
    ("getpid", 100),
    ("gettid", 100),
    ("rt_sigprocmask", 200),
    ("rt_sigaction", 50),
    ("ioctl", 200),
    ("readv", 150),
    ("writev", 150),
    ("pread64", 150),
    ("pwrite64", 150),
    ("select", 50),
    ("pselect6", 100),
    ("getrandom", 50),
    ("fcntl", 150),
    ("io_uring_enter", 100),
    ("accept4", 50),
    ("sched_yield", 100),
    ("epoll_ctl", 150),
    ("getdents64", 50),
];

/// What a range of syscall numbers leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Leaf {
    Ret(u32),
    /// Index into the unique argument-filter lists.
    Args(usize),
}

#[derive(Clone, Copy, Debug)]
struct Interval {
    lo: u32,
    hi: u32,
    leaf: Leaf,
    weight: u64,
}

#[derive(Debug)]
enum Node {
    Leaf(Leaf),
    /// `A >= k` goes right.
    Split {
        k: u32,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// Test each `[lo, hi]` in order (`jeq` for one number, `jge`+`jgt` for a
    /// range); otherwise `rest`.
    Holes {
        holes: Vec<(u32, u32, Leaf)>,
        rest: Leaf,
    },
}

/// Cuts the filters at the first unconditional one and drops the conditional
/// filters just before it that pick the same action (they cannot change the
/// outcome; earlier ones can, since the first match wins).
fn simplify(filters: &[Filter]) -> Vec<Filter> {
    let end = filters
        .iter()
        .position(|f| f.expr.is_none())
        .expect("rules end with an unconditional filter");
    let last = filters[end].clone();
    let mut out: Vec<Filter> = filters[..end].to_vec();
    while out.last().is_some_and(|f| f.action == last.action) {
        out.pop();
    }
    out.push(last);
    out
}

/// Weight of every syscall number in the arch table.
pub fn weights(policy: &Policy, extra: &[(u32, u64)], builtin: bool) -> HashMap<u32, u64> {
    let mut explicit: HashMap<u32, u64> =
        policy.frequencies.iter().map(|(&k, &v)| (k, v)).collect();
    for &(nr, w) in extra {
        *explicit.entry(nr).or_insert(0) += w;
    }
    let mut out = HashMap::new();
    for &(_, nr) in policy.arch.syscalls() {
        out.insert(nr, 1);
    }
    if !explicit.is_empty() {
        out.extend(explicit);
    } else if builtin {
        for &(name, w) in HOT_SYSCALLS {
            if let Some(nr) = syscall_number(policy.arch, name) {
                out.insert(nr, w);
            }
        }
    }
    out
}

struct Builder<'a> {
    iv: &'a [Interval],
    lc: Vec<u64>,
    prefix: Vec<u64>,
    max_holes: usize,
}

impl Builder<'_> {
    fn w(&self, i: usize, j: usize) -> u64 {
        self.prefix[j + 1] - self.prefix[i]
    }

    /// A chain of tests, hottest first, for the non-`x` intervals in `i..=j`
    /// (minijail's linear chain inside a tree); returns (cost, holes in order).
    fn holes(&self, i: usize, j: usize, x: Leaf) -> Option<(u64, Vec<usize>)> {
        let mut holes = Vec::new();
        let mut xw = 0u64;
        let mut xcost = 0u64;
        for k in i..=j {
            let it = &self.iv[k];
            if it.leaf == x {
                xw += it.weight;
                xcost = self.lc[k];
            } else if holes.len() < self.max_holes {
                holes.push(k);
            } else {
                return None;
            }
        }
        if xw == 0 {
            return None;
        }
        holes.sort_by_key(|&k| std::cmp::Reverse(self.iv[k].weight));
        // A singleton costs one `jeq`; a range `jge` + `jgt` (counted as 2 whether
        // it matches or is passed, an upper bound).
        let test = |k: usize| {
            if self.iv[k].lo == self.iv[k].hi {
                1u64
            } else {
                2
            }
        };
        let mut passed = 0u64;
        let mut cost = 0u64;
        for &k in &holes {
            let here = passed + test(k) + self.lc[k];
            cost = cost.saturating_add(self.iv[k].weight.saturating_mul(here));
            passed += test(k);
        }
        cost = cost.saturating_add(xw.saturating_mul(passed + xcost));
        Some((cost, holes))
    }

    /// Optimal weighted tree over the intervals (Knuth's bounds on the split point
    /// keep it quadratic).
    fn build(&self) -> Node {
        let n = self.iv.len();
        let mut cost = vec![0u64; n * n];
        let mut root = vec![0usize; n * n];
        // 0 = split, else hole candidate index + 1.
        let mut kind = vec![0u8; n * n];
        let at = |i: usize, j: usize| i * n + j;
        for i in 0..n {
            cost[at(i, i)] = self.iv[i].weight.saturating_mul(self.lc[i]);
            root[at(i, i)] = i;
        }
        for len in 2..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                // Knuth's bound on the root only holds for the classic cost model;
                // use it just to keep very large policies fast.
                let (lo, hi) = if n <= KNUTH_ABOVE {
                    (i + 1, j)
                } else {
                    let lo = root[at(i, j - 1)].max(i + 1);
                    (lo, root[at(i + 1, j)].max(lo).min(j))
                };
                let mut best = u64::MAX;
                let mut best_m = lo;
                for m in lo..=hi {
                    let c = cost[at(i, m - 1)].saturating_add(cost[at(m, j)]);
                    if c < best {
                        best = c;
                        best_m = m;
                    }
                }
                best = best.saturating_add(self.w(i, j));
                root[at(i, j)] = best_m;
                if len <= 2 * self.max_holes + 1 && len > 2 {
                    for (ci, x) in [self.iv[i].leaf, self.iv[i + 1].leaf, self.iv[j].leaf]
                        .into_iter()
                        .enumerate()
                    {
                        if let Some((c, _)) = self.holes(i, j, x) {
                            if c < best {
                                best = c;
                                kind[at(i, j)] = ci as u8 + 1;
                            }
                        }
                    }
                }
                cost[at(i, j)] = best;
            }
        }
        self.tree(0, n - 1, &root, &kind)
    }

    fn tree(&self, i: usize, j: usize, root: &[usize], kind: &[u8]) -> Node {
        let n = self.iv.len();
        if i == j {
            return Node::Leaf(self.iv[i].leaf);
        }
        let k = kind[i * n + j];
        if k > 0 {
            let x = [self.iv[i].leaf, self.iv[i + 1].leaf, self.iv[j].leaf][k as usize - 1];
            let (_, holes) = self.holes(i, j, x).expect("chosen by build");
            return Node::Holes {
                holes: holes
                    .iter()
                    .map(|&h| (self.iv[h].lo, self.iv[h].hi, self.iv[h].leaf))
                    .collect(),
                rest: x,
            };
        }
        let m = root[i * n + j];
        Node::Split {
            k: self.iv[m].lo,
            left: Box::new(self.tree(i, m - 1, root, kind)),
            right: Box::new(self.tree(m, j, root, kind)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Ret(u32),
    Pos(usize),
}

/// Builds the program back to front; positions count from the end.
#[derive(Default)]
struct Emitter {
    rev: Vec<SockFilter>,
    rets: HashMap<u32, usize>,
}

impl Emitter {
    fn push(&mut self, ins: SockFilter) -> usize {
        self.rev.push(ins);
        self.rev.len() - 1
    }

    fn ret(&mut self, k: u32) -> usize {
        let p = self.push(SockFilter::stmt(BPF_RET | BPF_K, k));
        self.rets.insert(k, p);
        p
    }

    /// Resolves `t` to a position reachable by an 8-bit offset from the next two
    /// instructions pushed (slack for the other target's trampoline).
    fn near(&mut self, t: Target) -> usize {
        let reach = |len: usize, p: usize| len + 2 - p - 1 <= 255;
        match t {
            Target::Ret(k) => match self.rets.get(&k) {
                Some(&p) if reach(self.rev.len(), p) => p,
                _ => self.ret(k),
            },
            Target::Pos(p) if reach(self.rev.len(), p) => p,
            Target::Pos(p) => {
                let off = self.rev.len() - p - 1;
                self.push(SockFilter::stmt(BPF_JMP | BPF_JA, off as u32))
            }
        }
    }

    fn jump(&mut self, op: u16, k: u32, jt: Target, jf: Target) -> Target {
        if jt == jf {
            return jt;
        }
        let t = self.near(jt);
        let f = self.near(jf);
        let here = self.rev.len();
        let jt = (here - t - 1) as u8;
        let jf = (here - f - 1) as u8;
        Target::Pos(self.push(SockFilter::jump(BPF_JMP | op | BPF_K, k, jt, jf)))
    }

    fn load(&mut self, off: u32, next: Target) -> Target {
        // A load falls through to the instruction after it, which must be `next`;
        // callers arrange that, but never risk running into unrelated code.
        let adjacent = matches!(next, Target::Pos(p) if p + 1 == self.rev.len());
        if !adjacent {
            match next {
                Target::Ret(k) => {
                    self.ret(k);
                }
                Target::Pos(p) => {
                    let off = self.rev.len() - p - 1;
                    self.push(SockFilter::stmt(BPF_JMP | BPF_JA, off as u32));
                }
            }
        }
        Target::Pos(self.push(SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, off)))
    }

    fn and(&mut self, mask: u32) -> Target {
        Target::Pos(self.push(SockFilter::stmt(BPF_ALU | BPF_AND | BPF_K, mask)))
    }

    /// `ld half; [and mask;] jeq value` → t / f.
    fn half_eq(&mut self, off: u32, mask: u32, value: u32, t: Target, f: Target) -> Target {
        if mask == 0 {
            return if value == 0 { t } else { f };
        }
        if value == 0 && mask != u32::MAX {
            // (A & mask) == 0 is one `jset` instead of `and` + `jeq`.
            let j = self.jump(BPF_JSET, mask, f, t);
            if j == t || j == f {
                return j;
            }
            return self.load(off, j);
        }
        let j = self.jump(BPF_JEQ, value, t, f);
        if j == t || j == f {
            return j;
        }
        let mut next = j;
        if mask != u32::MAX {
            next = self.and(mask);
        }
        self.load(off, next)
    }

    /// Emits a 64-bit comparison over the two 32-bit halves of one argument.
    fn atom(&mut self, atom: &Atom, t: Target, f: Target) -> Target {
        if t == f {
            return t; // the comparison cannot change the outcome
        }
        let (lo_off, hi_off) = (
            arg_lo_offset(atom.arg as usize),
            arg_hi_offset(atom.arg as usize),
        );
        let hi = |v: u64| (v >> 32) as u32;
        let lo = |v: u64| v as u32;
        match atom.op {
            Op::Eq(v) => {
                let l = self.half_eq(lo_off, u32::MAX, lo(v), t, f);
                self.half_eq(hi_off, u32::MAX, hi(v), l, f)
            }
            Op::Ne(v) => {
                let l = self.half_eq(lo_off, u32::MAX, lo(v), f, t);
                self.half_eq(hi_off, u32::MAX, hi(v), l, t)
            }
            // arg > v: hi > vhi, or hi == vhi and lo > vlo (and >= for Ge).
            Op::Gt(v) | Op::Ge(v) => {
                let lo_op = if matches!(atom.op, Op::Gt(_)) {
                    BPF_JGT
                } else {
                    BPF_JGE
                };
                self.ordered(lo_off, hi_off, hi(v), lo(v), lo_op, t, f)
            }
            // arg < v == !(arg >= v); arg <= v == !(arg > v).
            Op::Lt(v) => self.ordered(lo_off, hi_off, hi(v), lo(v), BPF_JGE, f, t),
            Op::Le(v) => self.ordered(lo_off, hi_off, hi(v), lo(v), BPF_JGT, f, t),
            Op::AnyBits(m) => {
                let mut next = f;
                if lo(m) != 0 {
                    let j = self.jump(BPF_JSET, lo(m), t, next);
                    next = self.load(lo_off, j);
                }
                if hi(m) != 0 {
                    let j = self.jump(BPF_JSET, hi(m), t, next);
                    next = self.load(hi_off, j);
                }
                next
            }
            Op::MaskedEq { mask, value } => {
                if value & !mask != 0 {
                    return f;
                }
                let l = self.half_eq(lo_off, lo(mask), lo(value), t, f);
                self.half_eq(hi_off, hi(mask), hi(value), l, f)
            }
        }
    }

    /// `ld hi; jgt vhi → t; jeq vhi → (ld lo; lo_op vlo → t, f), f`.
    #[allow(clippy::too_many_arguments)]
    fn ordered(
        &mut self,
        lo_off: u32,
        hi_off: u32,
        vhi: u32,
        vlo: u32,
        lo_op: u16,
        t: Target,
        f: Target,
    ) -> Target {
        let lo_entry = if lo_op == BPF_JGE && vlo == 0 {
            t // lo >= 0 always holds
        } else {
            let j = self.jump(lo_op, vlo, t, f);
            if j == t || j == f {
                j
            } else {
                self.load(lo_off, j)
            }
        };
        // hi == vhi → lo check; hi > vhi → t; else f.
        let eq = self.jump(BPF_JEQ, vhi, lo_entry, f);
        let gt = if vhi == u32::MAX {
            eq
        } else {
            self.jump(BPF_JGT, vhi, t, eq)
        };
        if gt == t || gt == f {
            return gt;
        }
        self.load(hi_off, gt)
    }

    /// `argN == v1 || argN == v2 || ...`: one load per half, then a `jeq` chain
    /// (the common ioctl/fcntl/prctl allowlist shape).
    fn eq_set(&mut self, arg: usize, values: &[u64], t: Target, f: Target) -> Target {
        if t == f {
            return t;
        }
        let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
        for &v in values {
            let (hi, lo) = ((v >> 32) as u32, v as u32);
            match groups.iter_mut().find(|g| g.0 == hi) {
                Some(g) if !g.1.contains(&lo) => g.1.push(lo),
                Some(_) => {}
                None => groups.push((hi, vec![lo])),
            }
        }
        let mut entries = Vec::new();
        for (_, los) in &groups {
            let mut next = f;
            for &lo in los.iter().rev() {
                next = self.jump(BPF_JEQ, lo, t, next);
            }
            entries.push(self.load(arg_lo_offset(arg), next));
        }
        let mut next = f;
        for ((hi, _), entry) in groups.iter().zip(entries).rev() {
            next = self.jump(BPF_JEQ, *hi, entry, next);
        }
        self.load(arg_hi_offset(arg), next)
    }

    /// The arg index and values when `dnf` is `argN == a || argN == b || ...`.
    fn as_eq_set(dnf: &[Vec<Atom>]) -> Option<(usize, Vec<u64>)> {
        let first = dnf.first()?.first()?.arg;
        let mut values = Vec::new();
        for clause in dnf {
            match clause.as_slice() {
                [Atom { arg, op: Op::Eq(v) }] if *arg == first => values.push(*v),
                _ => return None,
            }
        }
        (values.len() > 1).then_some((first as usize, values))
    }

    fn filters(&mut self, filters: &[Filter]) -> Target {
        let (last, rest) = filters.split_last().expect("non-empty");
        let mut next = Target::Ret(last.action.ret());
        for f in rest.iter().rev() {
            let on_true = Target::Ret(f.action.ret());
            let dnf = f
                .expr
                .as_ref()
                .expect("only the last filter is unconditional");
            if let Some((arg, values)) = Self::as_eq_set(dnf) {
                next = self.eq_set(arg, &values, on_true, next);
                continue;
            }
            let mut fail = next;
            for clause in dnf.iter().rev() {
                let mut t = on_true;
                for atom in clause.iter().rev() {
                    t = self.atom(atom, t, fail);
                }
                fail = t;
            }
            next = fail;
        }
        next
    }
}

/// Per-compile state: unique argument blocks and where they were emitted.
struct Codegen<'a> {
    e: Emitter,
    blocks: &'a [Vec<Filter>],
    emitted: HashMap<usize, Target>,
}

impl Codegen<'_> {
    fn leaf(&mut self, l: Leaf) -> Target {
        match l {
            Leaf::Ret(k) => Target::Ret(k),
            Leaf::Args(i) => {
                if let Some(&t) = self.emitted.get(&i) {
                    return t;
                }
                let t = self.e.filters(&self.blocks[i]);
                self.emitted.insert(i, t);
                t
            }
        }
    }

    fn size_hint(node: &Node) -> usize {
        match node {
            Node::Leaf(Leaf::Args(_)) => 8,
            Node::Leaf(_) => 0,
            Node::Split { left, right, .. } => 1 + Self::size_hint(left) + Self::size_hint(right),
            Node::Holes { holes, .. } => 2 * holes.len(),
        }
    }

    fn node(&mut self, node: &Node) -> Target {
        match node {
            Node::Leaf(l) => self.leaf(*l),
            Node::Split { k, left, right } => {
                // Emit the bigger side first so it lands further away and the
                // smaller one sits right after the jump (fewer trampolines).
                let (l, r) = if Self::size_hint(left) > Self::size_hint(right) {
                    let l = self.node(left);
                    (l, self.node(right))
                } else {
                    let r = self.node(right);
                    (self.node(left), r)
                };
                self.e.jump(BPF_JGE, *k, r, l)
            }
            Node::Holes { holes, rest } => {
                let mut next = self.leaf(*rest);
                for &(lo, hi, l) in holes.iter().rev() {
                    let t = self.leaf(l);
                    next = if lo == hi {
                        self.e.jump(BPF_JEQ, lo, t, next)
                    } else {
                        let inner = self.e.jump(BPF_JGT, hi, next, t);
                        self.e.jump(BPF_JGE, lo, inner, next)
                    };
                }
                next
            }
        }
    }
}

/// Compiles a parsed policy. Errors are plain messages (the caller adds the location).
pub fn compile_policy(
    policy: &Policy,
    extra_weights: &[(u32, u64)],
    builtin_weights: bool,
    tree: &TreeOptions,
) -> Result<Vec<SockFilter>, String> {
    let arch_fail = Action::KillProcess.ret();
    let default = Leaf::Ret(policy.default_action.ret());

    // Unique argument blocks; rules whose outcome never depends on arguments
    // become plain returns.
    let mut blocks: Vec<Vec<Filter>> = Vec::new();
    let mut block_ids: HashMap<Vec<Filter>, usize> = HashMap::new();
    let mut by_nr: Vec<(u32, Leaf)> = Vec::new();
    for rule in &policy.rules {
        let f = simplify(&rule.filters);
        let leaf = if f.len() == 1 {
            Leaf::Ret(f[0].action.ret())
        } else {
            let id = *block_ids.entry(f.clone()).or_insert_with(|| {
                blocks.push(f);
                blocks.len() - 1
            });
            Leaf::Args(id)
        };
        by_nr.push((rule.nr, leaf));
    }
    by_nr.sort_by_key(|e| e.0);
    by_nr.dedup_by_key(|e| e.0);

    // Partition [0, 2^32) into intervals, merging neighbours with the same leaf.
    let w = weights(policy, extra_weights, builtin_weights);
    let mut iv: Vec<Interval> = Vec::new();
    let mut add = |lo: u32, hi: u32, leaf: Leaf| {
        if let Some(last) = iv.last_mut() {
            if last.leaf == leaf && last.hi.wrapping_add(1) == lo {
                last.hi = hi;
                return;
            }
        }
        iv.push(Interval {
            lo,
            hi,
            leaf,
            weight: 0,
        });
    };
    let top = if policy.arch == Arch::X86_64 {
        X32_BOUNDARY - 1
    } else {
        u32::MAX
    };
    let mut next = 0u32;
    for &(nr, leaf) in &by_nr {
        if nr > top {
            return Err(format!(
                "syscall number {nr} is out of range for {}",
                policy.arch
            ));
        }
        if nr > next {
            add(next, nr - 1, default);
        }
        add(nr, nr, leaf);
        next = nr + 1;
    }
    if next <= top {
        add(next, top, default);
    }
    if policy.arch == Arch::X86_64 {
        add(X32_BOUNDARY, u32::MAX - 1, Leaf::Ret(arch_fail));
        add(u32::MAX, u32::MAX, default);
    }
    for it in iv.iter_mut() {
        it.weight = w
            .iter()
            .filter(|(&nr, _)| nr >= it.lo && nr <= it.hi)
            .map(|(_, &w)| w)
            .sum();
    }
    let total: u64 = iv.iter().map(|i| i.weight).sum();
    let bump = (total / (tree.smoothing.max(1) * iv.len() as u64)).max(1);
    for it in iv.iter_mut() {
        it.weight = it.weight.saturating_add(bump);
    }

    // Leaf costs: 1 for a return; the block length for argument checks.
    let lc: Vec<u64> = iv
        .iter()
        .map(|i| match i.leaf {
            Leaf::Ret(_) => 1,
            Leaf::Args(b) => {
                let mut e = Emitter::default();
                e.filters(&blocks[b]);
                e.rev.len().max(1) as u64
            }
        })
        .collect();
    let mut prefix = vec![0u64; iv.len() + 1];
    for (i, it) in iv.iter().enumerate() {
        prefix[i + 1] = prefix[i] + it.weight;
    }
    let b = Builder {
        iv: &iv,
        lc,
        prefix,
        max_holes: tree.max_holes,
    };
    let root = b.build();

    let mut cg = Codegen {
        e: Emitter::default(),
        blocks: &blocks,
        emitted: HashMap::new(),
    };
    let entry = cg.node(&root);
    let e = &mut cg.e;
    let entry = match entry {
        Target::Ret(k) => Target::Pos(e.ret(k)),
        Target::Pos(p) if e.rev.len() - p - 1 > 0 => Target::Pos(e.push(SockFilter::stmt(
            BPF_JMP | BPF_JA,
            (e.rev.len() - p - 1) as u32,
        ))),
        t => t,
    };
    let ld_nr = e.load(NR_OFFSET, entry);
    let check = e.jump(
        BPF_JEQ,
        policy.arch.audit_arch(),
        ld_nr,
        Target::Ret(arch_fail),
    );
    e.load(ARCH_OFFSET, check);
    let mut filter = std::mem::take(&mut e.rev);
    filter.reverse();
    if filter.len() > BPF_MAXINSNS {
        return Err(format!(
            "compiled filter has {} instructions; the kernel accepts at most {BPF_MAXINSNS}",
            filter.len()
        ));
    }
    Ok(filter)
}

/// Numbers from here up (except -1) are x32 syscalls on x86_64.
pub const X32_BOUNDARY: u32 = crate::arch::X32_SYSCALL_BIT;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::SplitMix;
    use crate::policy::Rule;

    fn one_atom_policy(op: Op) -> Policy {
        Policy {
            arch: Arch::X86_64,
            default_action: Action::Errno(2),
            rules: vec![Rule {
                name: "read".into(),
                nr: 0,
                filters: vec![
                    Filter {
                        expr: Some(vec![vec![Atom { arg: 1, op }]]),
                        action: Action::Allow,
                    },
                    Filter {
                        expr: None,
                        action: Action::Errno(1),
                    },
                ],
            }],
            frequencies: Default::default(),
            denylist: false,
        }
    }

    /// Every operator against values around the constant and around both halves.
    #[test]
    fn single_atoms_match_reference() {
        let mut rng = SplitMix(7);
        let mut consts: Vec<u64> = vec![
            0,
            1,
            0xffff_ffff,
            0x1_0000_0000,
            0xffff_ffff_0000_0000,
            u64::MAX,
            0x8000_0000_0000_0000,
        ];
        for _ in 0..30 {
            consts.push(rng.next_u64() >> (rng.next_u64() % 64));
        }
        for &c in &consts {
            let c2 = rng.next_u64();
            for op in [
                Op::Eq(c),
                Op::Ne(c),
                Op::Lt(c),
                Op::Le(c),
                Op::Gt(c),
                Op::Ge(c),
                Op::AnyBits(c),
                Op::MaskedEq {
                    mask: c,
                    value: c & c2,
                },
                Op::MaskedEq { mask: !c, value: 0 },
            ] {
                let p = one_atom_policy(op);
                let f = compile_policy(&p, &[], true, &TreeOptions::default()).unwrap();
                let hi = c & 0xffff_ffff_0000_0000;
                let mut vals = vec![
                    c,
                    c.wrapping_sub(1),
                    c.wrapping_add(1),
                    hi,
                    hi.wrapping_sub(1),
                    hi | 0xffff_ffff,
                    hi.wrapping_add(0x1_0000_0000),
                    c ^ 0xffff_ffff,
                    c ^ 0xffff_ffff_0000_0000,
                    0,
                    u64::MAX,
                ];
                for _ in 0..20 {
                    vals.push(rng.next_u64());
                }
                for v in vals {
                    let data = SeccompData {
                        nr: 0,
                        arch: Arch::X86_64.audit_arch(),
                        instruction_pointer: 0,
                        args: [0, v, 0, 0, 0, 0],
                    };
                    let want = if op.eval(v) {
                        Action::Allow
                    } else {
                        Action::Errno(1)
                    };
                    assert_eq!(
                        Action::from_ret(simulate(&f, &data)),
                        want,
                        "{op:?} on {v:#x}\n{}",
                        disasm(&f)
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod regressions {
    use crate::{compile_str, Arch, CompileOptions};

    /// Found by cargo-fuzz: an `==` set whose success and failure targets end up
    /// equal must not leave a dangling load behind.
    #[test]
    fn eq_set_with_equal_targets() {
        let mut o = CompileOptions::new(Arch::Aarch64);
        o.log_only = true;
        let text = "@default kill-process\nnanosleep: {arg0 == 0x0 || arg0 == 0x0 || arg0 == 0x0; user-notify, \
                    arg3 in AT_FDCWD|-1; user-notify, arg3 in 0xffffffff00000000; allow, kill}\n";
        let p = compile_str("t", text, &o).unwrap();
        let nr = crate::syscall_number(Arch::Aarch64, "nanosleep").unwrap();
        assert_eq!(crate::bpf::describe_ret(p.eval(nr, [0; 6])), "log");
        assert_eq!(
            crate::bpf::describe_ret(p.eval(nr, [1, 0, 0, 0xffff_ffff_0000_0000, 0, 0])),
            "log"
        );
    }
}
