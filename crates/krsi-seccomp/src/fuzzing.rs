//! Fuzz bodies, shared by the cargo-fuzz targets in `fuzz/` and by `cargo test`
//! (which feeds them a deterministic pseudo-random stream so stable CI runs them).
//!
//! `fuzz_compile` builds a random policy *together with its own model of what the
//! policy means*, renders it as minijail text, then parses, compiles and simulates
//! it and checks the simulator against the model: parser and compiler are both
//! checked against semantics computed independently of them.
use std::fmt::Write as _;

use crate::bpf::{self, SeccompData};
use crate::{arch::X32_SYSCALL_BIT, consts, parse, Action, Arch, CompileOptions, KillMode};

/// Reads fuzz input as a stream of numbers (zeros once exhausted).
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    pub fn below(&mut self, n: usize) -> usize {
        let v = u16::from_le_bytes([self.u8(), self.u8()]) as usize;
        v % n.max(1)
    }
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.u8()))
    }
    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// A tiny deterministic PRNG (splitmix64) for generating fuzz inputs in tests.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Parse arbitrary text: must never panic; a policy that parses must compile (or
/// fail with a located error) and its filter must agree with the parsed policy.
pub fn fuzz_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let opts = CompileOptions::new(arch);
        let Ok(policy) = parse("fuzz.policy", &text, &opts) else {
            continue;
        };
        for rule in &policy.rules {
            assert!(rule.filters.last().is_some_and(|f| f.expr.is_none()));
        }
        match crate::compile_policy("fuzz.policy", policy.clone(), &opts) {
            Ok(prog) => {
                for rule in policy.rules.iter().take(16) {
                    for args in [[0u64; 6], [u64::MAX; 6], [1, 2, 3, 4, 5, 6]] {
                        let want = policy.action(rule.nr, &args).ret();
                        assert_eq!(prog.eval(rule.nr, args), want, "{text:?} nr {}", rule.nr);
                    }
                }
            }
            Err(e) => assert!(e.message.contains("instructions"), "{e}"),
        }
    }
}

#[derive(Clone, Debug)]
struct MAtom {
    arg: usize,
    op: &'static str,
    value: u64,
}

impl MAtom {
    fn eval(&self, args: &[u64; 6]) -> bool {
        let a = args[self.arg];
        let v = self.value;
        match self.op {
            "==" => a == v,
            "!=" => a != v,
            "<" => a < v,
            "<=" => a <= v,
            ">" => a > v,
            ">=" => a >= v,
            "&" => a & v != 0,
            "in" => a & !v == 0,
            _ => unreachable!(),
        }
    }
}

type MFilter = (Option<Vec<Vec<MAtom>>>, Action);

/// The generator's own model of a policy.
struct Model {
    arch: Arch,
    default: Action,
    rules: Vec<(u32, Vec<MFilter>)>,
}

impl Model {
    fn action(&self, nr: u32, args: &[u64; 6]) -> Action {
        if self.arch == Arch::X86_64 && nr >= X32_SYSCALL_BIT && nr != u32::MAX {
            return Action::KillProcess;
        }
        let Some((_, filters)) = self.rules.iter().find(|r| r.0 == nr) else {
            return self.default;
        };
        for (expr, action) in filters {
            let hit = match expr {
                None => true,
                Some(dnf) => dnf.iter().any(|c| c.iter().all(|a| a.eval(args))),
            };
            if hit {
                return *action;
            }
        }
        self.default
    }
}

const NAMED: &[&str] = &[
    "O_RDONLY",
    "O_WRONLY",
    "O_RDWR",
    "O_CLOEXEC",
    "O_CREAT",
    "PROT_READ",
    "PROT_WRITE",
    "PROT_EXEC",
    "MAP_SHARED",
    "MAP_PRIVATE",
    "MAP_ANONYMOUS",
    "CLONE_NEWUSER",
    "CLONE_THREAD",
    "TCGETS",
    "FIONREAD",
    "AT_FDCWD",
    "EPERM",
    "F_GETFL",
];

fn gen_value(b: &mut Bytes, arch: Arch, depth: u32) -> (String, u64) {
    match b.below(if depth > 1 { 6 } else { 9 }) {
        0 => {
            let v = [
                0,
                1,
                2,
                0xffff_ffff,
                0x1_0000_0000,
                0xffff_ffff_0000_0000,
                u64::MAX,
                0x8000_0000,
            ][b.below(8)];
            (format!("{v:#x}"), v)
        }
        1 => {
            let v = b.u64() >> b.below(64);
            (format!("{v}"), v)
        }
        2 => {
            let v = b.u64() >> (b.below(64) | 1);
            (format!("{:#o}", v).replacen("0o", "0", 1), v)
        }
        3 => {
            let v = (b.u64() >> b.below(64)) as i64;
            let v = if v == i64::MIN { -1 } else { -v.abs() };
            (format!("{v}"), v as u64)
        }
        4 | 5 => {
            let n = NAMED[b.below(NAMED.len())];
            (
                n.to_string(),
                consts::lookup(arch, n).expect("known constant"),
            )
        }
        6 => {
            let (t1, v1) = gen_value(b, arch, depth + 1);
            let (t2, v2) = gen_value(b, arch, depth + 1);
            (format!("{t1}|{t2}"), v1 | v2)
        }
        7 => {
            let (t, v) = gen_value(b, arch, depth + 1);
            if t.starts_with('~') || t.contains('|') {
                (format!("~({t})"), !v)
            } else {
                (format!("~{t}"), !v)
            }
        }
        _ => {
            let (t, v) = gen_value(b, arch, depth + 1);
            (format!("({t})"), v)
        }
    }
}

fn gen_action(b: &mut Bytes, kill: KillMode) -> (String, Action) {
    match b.below(11) {
        0 => ("allow".into(), Action::Allow),
        1 => ("1".into(), Action::Allow),
        2 => ("kill".into(), kill.action()),
        3 => ("kill-process".into(), Action::KillProcess),
        4 => ("kill-thread".into(), Action::KillThread),
        5 => ("trap".into(), Action::Trap),
        6 => ("trace".into(), Action::Trace),
        7 => ("log".into(), Action::Log),
        8 => ("user-notify".into(), Action::UserNotify),
        9 => ("return EACCES".into(), Action::Errno(13)),
        _ => {
            let e = b.below(4096) as u16;
            (format!("return {e}"), Action::Errno(e))
        }
    }
}

fn gen_expr(b: &mut Bytes, arch: Arch) -> (String, Vec<Vec<MAtom>>) {
    let mut text = String::new();
    let mut dnf = Vec::new();
    for c in 0..=b.below(3) {
        if c > 0 {
            text.push_str(" || ");
        }
        let mut clause = Vec::new();
        for a in 0..=b.below(3) {
            if a > 0 {
                text.push_str(" && ");
            }
            let arg = b.below(6);
            let op = ["==", "!=", "<", "<=", ">", ">=", "&", "in"][b.below(8)];
            let (vt, v) = gen_value(b, arch, 0);
            let _ = write!(text, "arg{arg} {op} {vt}");
            clause.push(MAtom { arg, op, value: v });
        }
        dnf.push(clause);
    }
    (text, dnf)
}

/// Generates a policy text and its model from fuzz bytes.
fn gen_policy(b: &mut Bytes) -> (String, Model, CompileOptions) {
    let arch = if b.below(4) == 0 {
        Arch::Aarch64
    } else {
        Arch::X86_64
    };
    let mut opts = CompileOptions::new(arch);
    opts.kill = if b.below(2) == 0 {
        KillMode::Thread
    } else {
        KillMode::Process
    };
    opts.builtin_weights = b.below(3) != 0;
    let table = arch.syscalls();
    let mut text = String::from("# generated\n");
    let mut default = opts.kill.action();
    match b.below(5) {
        0 => {
            text.push_str("@default trap\n");
            default = Action::Trap;
        }
        1 => {
            text.push_str("@default return EPERM\n");
            default = Action::Errno(1);
        }
        2 => {
            text.push_str("@default kill-process\n");
            default = Action::KillProcess;
        }
        _ => {}
    }
    let mut model = Model {
        arch,
        default,
        rules: Vec::new(),
    };
    let mut done: Vec<u32> = Vec::new();
    // Big policies now and then, to exercise trampolines and the tree builder.
    let n = if b.below(8) == 0 {
        40 + b.below(300)
    } else {
        1 + b.below(24)
    };
    for _ in 0..n {
        if b.exhausted() && !model.rules.is_empty() {
            break;
        }
        let (name, nr) = table[b.below(table.len())];
        if done.contains(&nr) {
            continue;
        }
        done.push(nr);
        let mut filters: Vec<MFilter> = Vec::new();
        match b.below(5) {
            0 | 1 => {
                let (at, a) = gen_action(b, opts.kill);
                let _ = writeln!(text, "{name}: {at}");
                filters.push((None, a));
            }
            2 => {
                let (et, e) = gen_expr(b, arch);
                let _ = writeln!(text, "{name}: {et}");
                filters.push((Some(e), Action::Allow));
            }
            3 => {
                let (et, e) = gen_expr(b, arch);
                let (at, a) = gen_action(b, opts.kill);
                // Continuation lines are part of the language too.
                let _ = writeln!(text, "{name}: {et} \\\n    ; {at}");
                // Classic form: allow when the expression holds, else the action.
                filters.push((Some(e), Action::Allow));
                filters.push((None, a));
            }
            _ => {
                let mut parts = Vec::new();
                for _ in 0..=b.below(3) {
                    let (et, e) = gen_expr(b, arch);
                    let (at, a) = gen_action(b, opts.kill);
                    parts.push(format!("{et}; {at}"));
                    filters.push((Some(e), a));
                }
                if b.below(2) == 0 {
                    let (at, a) = gen_action(b, opts.kill);
                    parts.push(at);
                    filters.push((None, a));
                }
                let _ = writeln!(text, "{name}: {{{}}}", parts.join(", "));
            }
        }
        model.rules.push((nr, filters));
    }
    (text, model, opts)
}

fn probes(b: &mut Bytes, model: &Model) -> Vec<(u32, [u64; 6])> {
    let mut out = Vec::new();
    let edges = [
        0u64,
        1,
        0xffff_ffff,
        0x1_0000_0000,
        0xffff_ffff_0000_0000,
        u64::MAX,
        0x7fff_ffff_ffff_ffff,
    ];
    for (nr, filters) in &model.rules {
        let mut values: Vec<u64> = edges.to_vec();
        for (expr, _) in filters {
            for a in expr.iter().flatten().flatten() {
                values.extend([
                    a.value.wrapping_sub(1),
                    a.value,
                    a.value.wrapping_add(1),
                    !a.value,
                ]);
            }
        }
        out.push((*nr, [0; 6]));
        for _ in 0..24 {
            let mut args = [0u64; 6];
            for slot in &mut args {
                *slot = if b.below(4) == 0 {
                    b.u64()
                } else {
                    values[b.below(values.len())]
                };
            }
            out.push((*nr, args));
        }
    }
    for nr in [
        0,
        1,
        59,
        200,
        439,
        500,
        X32_SYSCALL_BIT,
        X32_SYSCALL_BIT + 1,
        0xffff_fffe,
        u32::MAX,
    ] {
        out.push((nr, [0; 6]));
    }
    out
}

/// Generate → parse → compile → simulate, checked against the generator's model.
pub fn fuzz_compile(data: &[u8]) {
    let mut b = Bytes::new(data);
    let (text, mut model, mut opts) = gen_policy(&mut b);
    opts.log_only = b.below(8) == 0;
    let policy = match parse("gen.policy", &text, &opts) {
        Ok(p) => p,
        Err(e) => panic!("generated policy failed to parse: {e}\n{text}"),
    };
    let prog = match crate::compile_policy("gen.policy", policy, &opts) {
        Ok(p) => p,
        Err(e) if e.message.contains("at most 4096") => return,
        Err(e) => panic!("compile failed: {e}\n{text}"),
    };
    let log = |a: Action| if a == Action::Allow { a } else { Action::Log };
    if opts.log_only {
        model.default = log(model.default);
        for (_, filters) in &mut model.rules {
            for f in filters.iter_mut() {
                f.1 = log(f.1);
            }
        }
    }
    for (nr, args) in probes(&mut b, &model) {
        // x32 numbers stay kill-process even in log-only mode (see Model::action).
        let want = model.action(nr, &args);
        let got = prog.eval(nr, args);
        assert_eq!(
            bpf::describe_ret(got),
            want.to_string(),
            "nr {nr:#x} args {args:x?}\n{text}\n{}",
            prog.disasm()
        );
    }
    // The wrong architecture is always refused, even in log-only mode.
    let wrong = SeccompData {
        nr: 0,
        arch: 0x4000_0003,
        ..Default::default()
    };
    assert_eq!(
        bpf::simulate(&prog.filter, &wrong),
        Action::KillProcess.ret()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_fuzz_body_deterministic() {
        let mut rng = SplitMix(0x5eed);
        for _ in 0..1000 {
            let n = 64 + (rng.next_u64() % 4000) as usize;
            fuzz_compile(&rng.bytes(n));
        }
        fuzz_compile(&[]);
    }

    #[test]
    fn parse_fuzz_body_deterministic() {
        let mut rng = SplitMix(42);
        let seeds = [
            "read: allow\nwrite: arg0 == 1 || arg1 != ~0; return EPERM\n",
            "@default trap\n{open[arch=x86_64], openat}: arg2 in O_RDONLY|O_CLOEXEC\n",
            "ioctl: {arg1 == TCGETS; return 25, arg1 & 0x1, kill}\n@denylist\n",
            "mmap: arg2 & (PROT_EXEC|PROT_WRITE); kill \\\n",
        ];
        for i in 0..3000 {
            let mut text = seeds[i % seeds.len()].as_bytes().to_vec();
            for _ in 0..(rng.next_u64() % 6) {
                let pos = (rng.next_u64() as usize) % text.len();
                match rng.next_u64() % 3 {
                    0 => text[pos] = rng.next_u64() as u8,
                    1 => text.insert(
                        pos,
                        b"~|&(){}[];:,=<>!\\#@-0x9 \n"[(rng.next_u64() % 25) as usize],
                    ),
                    _ => {
                        text.remove(pos);
                    }
                }
            }
            fuzz_parse(&text);
        }
        for _ in 0..500 {
            fuzz_parse(&rng.bytes(64));
        }
    }
}
