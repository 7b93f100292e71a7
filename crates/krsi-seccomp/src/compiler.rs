//! Policy → classic BPF.
//!
//! Layout: `ld arch; jeq AUDIT_ARCH; ret KILL_PROCESS; ld nr;` then a weighted
//! decision tree over the syscall number (`jge` splits, and `jeq`/range tests
//! that take hot syscalls out first) whose leaves are either a `ret` or a
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
/// Budget of split candidates examined for the extraction states (about
/// `n^3 / 6` per extraction level for `n` intervals).
const EXTRACT_WORK: u64 = 3_000_000;

/// Tuning knobs for the tree builder.
#[derive(Clone, Debug)]
pub struct TreeOptions {
    /// Each interval's weight gets `total / (smoothing * intervals)` added so rare
    /// syscalls cannot sink arbitrarily deep (bounds the worst case).
    pub smoothing: u64,
    /// Longest chain of `jeq` "holes" closing an otherwise uniform range.
    pub max_holes: usize,
    /// Most hot intervals one subtree may test for before splitting (fewer for
    /// very large policies, to bound compile time).
    pub max_extract: usize,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            smoothing: 32,
            max_holes: 10,
            max_extract: 4,
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
        let e = explicit.entry(nr).or_insert(0);
        *e = e.saturating_add(w);
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

/// Decision tree over the syscall number.
#[derive(Debug)]
enum Node {
    Leaf(Leaf),
    /// `A >= k` goes right.
    Split {
        k: u32,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// Numbers in `[lo, hi]` go to `hit` (`jeq`, or `jge` + `jgt` for a range),
    /// all others to `rest`: pulls a hot syscall out before the range is split.
    Test {
        lo: u32,
        hi: u32,
        hit: Leaf,
        rest: Box<Node>,
    },
}

/// What the dynamic program chose for one state.
#[derive(Clone, Copy)]
enum Choice {
    /// Everything left in the state leads to one leaf.
    Uniform,
    /// Test the next hottest interval on its own.
    Extract,
    /// `jge` at this interval's start.
    Split(u32),
    /// Test every interval left whose leaf is not this one (by id), hottest
    /// first; the rest share that leaf.
    Chain(u32),
}

/// Optimal decision tree over the intervals.
///
/// A state is `(i, j, r)`: the intervals `i..=j`, of which the `r` hottest have
/// already been tested for and routed away. Because "hottest" is one strict
/// order everywhere, the intervals already taken out of either half of a split
/// are exactly that half's own hottest ones, so the states are closed under
/// splitting and the program is exact for trees built from `jge` splits and
/// `jeq`/range tests that take out hot syscalls hottest first (minijail's
/// linear chains, but allowed anywhere in the tree and followed by more splits).
struct Builder<'a> {
    iv: &'a [Interval],
    n: usize,
    /// Most intervals any state may have taken out.
    r_max: usize,
    prefix: Vec<u64>,
    /// The `r_max` hottest intervals of every `i..=j`, hottest first.
    top: Vec<u32>,
    top_len: Vec<u8>,
    /// Dense leaf ids and, per id, prefix counts of intervals with that leaf.
    leaf_id: Vec<u32>,
    leaf_prefix: Vec<u32>,
    /// Longest closing chain.
    max_chain: usize,
}

/// Cost of an impossible state; twice it plus any weight total still fits in u64.
const INF: u64 = u64::MAX / 4;
/// Interval weights are scaled to sum to at most this (costs stay below 2^52).
const MAX_TOTAL_WEIGHT: u64 = 1 << 40;

impl<'a> Builder<'a> {
    fn new(iv: &'a [Interval], r_max: usize, max_chain: usize) -> Self {
        let n = iv.len();
        let mut prefix = vec![0u64; n + 1];
        for (k, it) in iv.iter().enumerate() {
            prefix[k + 1] = prefix[k].saturating_add(it.weight);
        }
        let hotter = |a: usize, b: usize| {
            (std::cmp::Reverse(iv[a].weight), a) < (std::cmp::Reverse(iv[b].weight), b)
        };
        let mut top = vec![0u32; n * n * r_max.max(1)];
        let mut top_len = vec![0u8; n * n];
        let mut list: Vec<usize> = Vec::with_capacity(r_max + 1);
        for i in 0..n {
            list.clear();
            for j in i..n {
                let pos = list
                    .iter()
                    .position(|&a| hotter(j, a))
                    .unwrap_or(list.len());
                list.insert(pos, j);
                list.truncate(r_max);
                let s = (i * n + j) * r_max.max(1);
                for (t, &a) in list.iter().enumerate() {
                    top[s + t] = a as u32;
                }
                top_len[i * n + j] = list.len() as u8;
            }
        }
        let mut ids: HashMap<Leaf, u32> = HashMap::new();
        let leaf_id: Vec<u32> = iv
            .iter()
            .map(|it| {
                let next = ids.len() as u32;
                *ids.entry(it.leaf).or_insert(next)
            })
            .collect();
        let mut leaf_prefix = vec![0u32; ids.len() * (n + 1)];
        for id in 0..ids.len() {
            let row = &mut leaf_prefix[id * (n + 1)..(id + 1) * (n + 1)];
            for k in 0..n {
                row[k + 1] = row[k] + u32::from(leaf_id[k] == id as u32);
            }
        }
        Builder {
            iv,
            n,
            r_max,
            prefix,
            top,
            top_len,
            leaf_id,
            leaf_prefix,
            max_chain,
        }
    }

    fn w(&self, i: usize, j: usize) -> u64 {
        self.prefix[j + 1] - self.prefix[i]
    }

    fn top(&self, i: usize, j: usize) -> &[u32] {
        let s = (i * self.n + j) * self.r_max.max(1);
        &self.top[s..s + self.top_len[i * self.n + j] as usize]
    }

    fn count(&self, id: u32, i: usize, j: usize) -> u32 {
        let row = id as usize * (self.n + 1);
        self.leaf_prefix[row + j + 1] - self.leaf_prefix[row + i]
    }

    /// The intervals of `i..=j` not in `out` whose leaf is not `x`, hottest first,
    /// and the cost of testing them in that order before `x`; `None` when there
    /// are more than `max_chain`.
    fn chain(
        &self,
        i: usize,
        j: usize,
        out: &[usize],
        x: u32,
        holes: &mut Vec<usize>,
    ) -> Option<u64> {
        let x_out = out.iter().filter(|&&k| self.leaf_id[k] == x).count() as u32;
        let others = (j + 1 - i - out.len()) as u32 - (self.count(x, i, j) - x_out);
        if others as usize > self.max_chain {
            return None;
        }
        // Neighbouring intervals never share a leaf, so `i..=j` is at most about
        // twice `others` long here.
        holes.clear();
        let mut skip = out.iter().peekable();
        for k in i..=j {
            if skip.next_if_eq(&&k).is_none() && self.leaf_id[k] != x {
                holes.push(k);
            }
        }
        holes.sort_unstable_by_key(|&k| (std::cmp::Reverse(self.iv[k].weight), k));
        // One `jeq` for a single number; `jge` + `jgt` for a range (counted as two
        // whether it matches or not: an upper bound).
        let mut passed = 0u64;
        let mut cost = 0u64;
        let mut rest_w = self.w(i, j);
        for &k in out {
            rest_w -= self.iv[k].weight;
        }
        for &k in holes.iter() {
            let test = if self.iv[k].lo == self.iv[k].hi { 1 } else { 2 };
            passed += test;
            cost = cost.saturating_add(self.iv[k].weight.saturating_mul(passed));
            rest_w -= self.iv[k].weight;
        }
        Some(cost.saturating_add(rest_w.saturating_mul(passed)))
    }

    /// First and last interval of `i..=j` not in `out` (sorted; fewer than `j - i + 1`).
    fn ends(i: usize, j: usize, out: &[usize]) -> (usize, usize) {
        let mut first = i;
        for &k in out {
            if k == first {
                first += 1;
            } else if k > first {
                break;
            }
        }
        let mut last = j;
        for &k in out.iter().rev() {
            if k == last {
                last -= 1;
            } else if k < last {
                break;
            }
        }
        (first, last)
    }

    /// States per `(i, j)`.
    fn rs(&self) -> usize {
        self.r_max + 1
    }

    fn st(&self, i: usize, j: usize, r: usize) -> usize {
        (i * self.n + j) * self.rs() + r
    }

    /// Builds the tree minimising the weighted number of tests executed.
    fn build(&self) -> Node {
        let n = self.n;
        let size = n * n * self.rs();
        let mut cost = vec![INF; size];
        let mut choice = vec![Choice::Uniform; size];
        // Knuth's bound on the split point (valid for plain split trees) keeps very
        // large policies fast; they get no extraction states.
        let knuth = n > KNUTH_ABOVE && self.r_max == 0;
        let mut root = if knuth { vec![0u32; n * n] } else { Vec::new() };
        let mut taken: Vec<usize> = Vec::with_capacity(self.r_max);
        let mut holes: Vec<usize> = Vec::new();
        for len in 1..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                let top = self.top(i, j);
                let r_hi = top.len().min(len - 1);
                for r in (0..=r_hi).rev() {
                    let s = self.st(i, j, r);
                    let out = &top[..r];
                    taken.clear();
                    taken.extend(out.iter().map(|&k| k as usize));
                    taken.sort_unstable();
                    let out_w: u64 = out.iter().map(|&k| self.iv[k as usize].weight).sum();
                    let rem_w = self.w(i, j) - out_w;
                    let (first, last) = Self::ends(i, j, &taken);
                    // Uniform: everything still here shares the first one's leaf.
                    let x = self.leaf_id[first];
                    let x_out = out
                        .iter()
                        .filter(|&&k| self.leaf_id[k as usize] == x)
                        .count() as u32;
                    if self.count(x, i, j) - x_out == (len - r) as u32 {
                        cost[s] = 0;
                        choice[s] = Choice::Uniform;
                        continue;
                    }
                    let mut best = INF;
                    let mut pick = Choice::Uniform;
                    if r < r_hi {
                        let k = top[r] as usize;
                        let it = &self.iv[k];
                        let test = if it.lo == it.hi {
                            rem_w
                        } else {
                            // `jge lo` then `jgt hi`: numbers below the range pay one.
                            let below = (self.prefix[k] - self.prefix[i])
                                - out
                                    .iter()
                                    .filter(|&&o| (o as usize) < k)
                                    .map(|&o| self.iv[o as usize].weight)
                                    .sum::<u64>();
                            rem_w * 2 - below
                        };
                        let c = test.saturating_add(cost[self.st(i, j, r + 1)]);
                        if c < best {
                            best = c;
                            pick = Choice::Extract;
                        }
                    }
                    if self.max_chain > 0 {
                        // A closing chain ends in the leaf of an end of the state or
                        // of its hottest interval (the ones worth not testing).
                        let mut xs = [x, self.leaf_id[last], x];
                        if r < top.len() {
                            xs[2] = self.leaf_id[top[r] as usize];
                        }
                        for (t, &x) in xs.iter().enumerate() {
                            if xs[..t].contains(&x) {
                                continue;
                            }
                            if let Some(c) = self.chain(i, j, &taken, x, &mut holes) {
                                if c < best {
                                    best = c;
                                    pick = Choice::Chain(x);
                                }
                            }
                        }
                    }
                    let (lo, hi) = if knuth && len > 1 {
                        let lo = (root[i * n + j - 1] as usize).max(i + 1);
                        (lo, (root[(i + 1) * n + j] as usize).max(lo).min(j))
                    } else {
                        (i + 1, j)
                    };
                    // Splits: `rl` of the taken-out intervals lie left of `m`; it only
                    // changes at their positions, so walk the stretches between them
                    // with both sides' state indices stepping by a constant.
                    let rs = self.rs();
                    let mut best_split = (INF, lo);
                    let mut rl = taken.partition_point(|&k| k < lo);
                    let mut m = lo;
                    while m <= hi {
                        let stretch_end = taken.get(rl).map_or(hi, |&k| k.min(hi));
                        let rr = r - rl;
                        // Both sides must keep something: m - i > rl, j + 1 - m > rr.
                        let a = m.max(i + rl + 1);
                        let b = stretch_end.min(j.saturating_sub(rr));
                        if a <= b {
                            let mut left = (i * n + a - 1) * rs + rl;
                            let mut right = (a * n + j) * rs + rr;
                            for mm in a..=b {
                                let c = cost[left] + cost[right];
                                if c < best_split.0 {
                                    best_split = (c, mm);
                                }
                                left += rs;
                                right += n * rs;
                            }
                        }
                        m = stretch_end + 1;
                        rl += 1;
                    }
                    // A split costs one test for everything still here.
                    best_split.0 = best_split.0.saturating_add(rem_w);
                    if best_split.0 < best {
                        best = best_split.0;
                        pick = Choice::Split(best_split.1 as u32);
                    }
                    if knuth {
                        root[i * n + j] = best_split.1 as u32;
                    }
                    cost[s] = best.min(INF);
                    choice[s] = pick;
                }
                if knuth && len == 1 {
                    root[i * n + j] = i as u32;
                }
            }
        }
        self.tree(0, n - 1, 0, &choice)
    }

    fn tree(&self, i: usize, j: usize, r: usize, choice: &[Choice]) -> Node {
        let out = &self.top(i, j)[..r];
        match choice[self.st(i, j, r)] {
            Choice::Uniform => {
                let first = (i..=j)
                    .find(|k| !out.contains(&(*k as u32)))
                    .expect("state has intervals");
                Node::Leaf(self.iv[first].leaf)
            }
            Choice::Chain(x) => {
                let mut taken: Vec<usize> = out.iter().map(|&k| k as usize).collect();
                taken.sort_unstable();
                let mut holes = Vec::new();
                self.chain(i, j, &taken, x, &mut holes)
                    .expect("chosen by build");
                let rest = (i..=j)
                    .find(|&k| self.leaf_id[k] == x)
                    .expect("chain leaf is in the state");
                let mut node = Node::Leaf(self.iv[rest].leaf);
                for &k in holes.iter().rev() {
                    let it = &self.iv[k];
                    node = Node::Test {
                        lo: it.lo,
                        hi: it.hi,
                        hit: it.leaf,
                        rest: Box::new(node),
                    };
                }
                node
            }
            Choice::Extract => {
                let it = &self.iv[self.top(i, j)[r] as usize];
                Node::Test {
                    lo: it.lo,
                    hi: it.hi,
                    hit: it.leaf,
                    rest: Box::new(self.tree(i, j, r + 1, choice)),
                }
            }
            Choice::Split(m) => {
                let m = m as usize;
                let rl = out.iter().filter(|&&k| (k as usize) < m).count();
                debug_assert_eq!(
                    {
                        let mut a: Vec<u32> =
                            out.iter().copied().filter(|&k| (k as usize) < m).collect();
                        a.sort_unstable();
                        a
                    },
                    {
                        let mut b = self.top(i, m - 1)[..rl].to_vec();
                        b.sort_unstable();
                        b
                    }
                );
                Node::Split {
                    k: self.iv[m].lo,
                    left: Box::new(self.tree(i, m - 1, rl, choice)),
                    right: Box::new(self.tree(m, j, r - rl, choice)),
                }
            }
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
            Node::Test { lo, hi, rest, .. } => 1 + usize::from(lo != hi) + Self::size_hint(rest),
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
            Node::Test { lo, hi, hit, rest } => {
                let next = self.node(rest);
                let t = self.leaf(*hit);
                if lo == hi {
                    self.e.jump(BPF_JEQ, *lo, t, next)
                } else {
                    let inner = self.e.jump(BPF_JGT, *hi, next, t);
                    self.e.jump(BPF_JGE, *lo, inner, next)
                }
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
            .fold(0u64, |a, (_, &w)| a.saturating_add(w));
    }
    // Only ratios matter: scale huge `@frequency` counts down so no cost sum in the
    // tree builder can overflow.
    let total = iv.iter().fold(0u64, |a, i| a.saturating_add(i.weight));
    if total > MAX_TOTAL_WEIGHT {
        let div = total / MAX_TOTAL_WEIGHT + 1;
        for it in iv.iter_mut() {
            it.weight /= div;
        }
    }
    let total: u64 = iv.iter().map(|i| i.weight).sum();
    let bump = (total / (tree.smoothing.max(1) * iv.len() as u64)).max(1);
    for it in iv.iter_mut() {
        it.weight = it.weight.saturating_add(bump);
    }

    // Argument blocks cost the same wherever their leaf sits in the tree, so only
    // the tests on the way there are minimised.
    let n = iv.len() as u64;
    // Each level of take-outs costs about n^3 / 6 more steps, so large policies get
    // fewer (but at least one: the hottest syscall of a subtree is worth most); the
    // biggest fall back to plain Knuth-bounded splits.
    let r_max = if iv.len() > KNUTH_ABOVE {
        0
    } else {
        let levels = EXTRACT_WORK / (n * n * n / 6).max(1);
        levels.max(1).min(tree.max_extract.min(64) as u64) as usize
    };
    let root = Builder::new(&iv, r_max, tree.max_holes).build();

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
