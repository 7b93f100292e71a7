//! The syscall-number decision tree: every number, including the ones between and
//! beyond the arch table's syscalls and the x32 range, reaches the right leaf
//! whatever the weights; hot syscalls are tested for before the range is split;
//! and the fixtures keep the issue-5 figures (fewer instructions per syscall than
//! libseccomp and minijail, worst case within one of the best other compiler).
mod common;

use common::libseccomp;
use krsi_seccomp::bpf::{self, SeccompData, SockFilter};
use krsi_seccomp::fuzzing::SplitMix;
use krsi_seccomp::policy::Policy;
use krsi_seccomp::{compile_policy, compiler, parse, syscall_number, Action, Arch, CompileOptions};

fn data(nr: u32, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: nr as i32,
        arch: Arch::X86_64.audit_arch(),
        instruction_pointer: 0,
        args,
    }
}

/// What the filter must return: the x32 rule, else the policy's own semantics.
fn reference(policy: &Policy, nr: u32, args: &[u64; 6]) -> Action {
    if nr >= 0x4000_0000 && nr != u32::MAX {
        Action::KillProcess
    } else {
        policy.action(nr, args)
    }
}

/// Fragmented policies: runs of alternating actions, argument filters, shared
/// blocks, so the tree has many intervals with many different leaves.
fn random_policy(rng: &mut SplitMix) -> String {
    let table = Arch::X86_64.syscalls();
    let mut r = |n: u64| rng.next_u64() % n;
    let mut text = String::from(
        [
            "@default return EPERM\n",
            "@default kill\n",
            "@default trap\n",
        ][r(3) as usize],
    );
    let actions = ["allow", "return 13", "trap", "log", "kill-process", "allow"];
    for (name, nr) in table {
        // Dense near the bottom (many small intervals), sparse above.
        if *nr >= 128 && r(6) != 0 {
            continue;
        }
        match r(4) {
            0 => text += &format!("{name}: {}\n", actions[r(actions.len() as u64) as usize]),
            1 => text += &format!("{name}: arg{} == {}\n", r(3), r(3)),
            _ => {}
        }
    }
    text
}

/// Heavy-tailed weights: a few syscalls dominate, as in real `@frequency` data.
fn random_weights(rng: &mut SplitMix) -> Vec<(u32, u64)> {
    let table = Arch::X86_64.syscalls();
    (0..1 + rng.next_u64() % 40)
        .map(|_| {
            let nr = table[(rng.next_u64() % table.len() as u64) as usize].1;
            (nr, 1 << (rng.next_u64() % 24))
        })
        .collect()
}

#[test]
fn every_number_reaches_its_leaf_whatever_the_weights() {
    let mut rng = SplitMix(0x0b71);
    let mut numbers: Vec<u32> = (0..1100).collect();
    numbers.extend([
        0x3fff_ffff,
        0x4000_0000,
        0x4000_0001,
        0x4000_0000 + 202,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        u32::MAX,
    ]);
    for round in 0..16 {
        let text = random_policy(&mut rng);
        let mut opts = CompileOptions::new(Arch::X86_64);
        opts.weights = random_weights(&mut rng);
        // Some rounds without any weights: the built-in hot-syscall table.
        if round % 4 == 0 {
            opts.weights.clear();
        }
        let policy = parse("r.policy", &text, &opts).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let prog = compile_policy("r.policy", policy.clone(), &opts).unwrap();
        for &nr in &numbers {
            for args in [[0u64; 6], [1; 6], [2, 0, 1, 0, 0, 0]] {
                let got = Action::from_ret(bpf::simulate(&prog.filter, &data(nr, args)));
                assert_eq!(
                    got,
                    reference(&policy, nr, &args),
                    "round {round} nr {nr:#x} args {args:?}\nweights {:?}\n{text}\n{}",
                    opts.weights,
                    prog.disasm()
                );
            }
        }
    }
}

/// A hot syscall inside a run of alternating allow/deny is pulled out with one
/// `jeq` right after the prologue (`ld arch; jeq; ld nr`), instead of sitting at
/// the bottom of the splits that separate its neighbours.
#[test]
fn hot_syscall_is_tested_before_splitting() {
    let body: String = Arch::X86_64
        .syscalls()
        .iter()
        .filter(|(_, nr)| nr % 2 == 0 && *nr < 300)
        .map(|(n, _)| format!("{n}: allow\n"))
        .collect();
    for hot in ["mincore", "getpid", "read", "futex"] {
        let mut opts = CompileOptions::new(Arch::X86_64);
        let nr = syscall_number(Arch::X86_64, hot).unwrap();
        opts.weights = vec![(nr, 1_000_000)];
        let policy = parse("h.policy", &body, &opts).unwrap();
        let prog = compile_policy("h.policy", policy, &opts).unwrap();
        let run = bpf::run(&prog.filter, &data(nr, [0; 6])).unwrap();
        assert_eq!(run.executed, 5, "{hot}\n{}", prog.disasm());
    }
}

struct Cost {
    mean_w: f64,
    worst: usize,
}

/// Instructions executed per x86_64 syscall (args 0), weighted as the compiler
/// weights them, and the worst case; what `examples/bench.rs` reports.
fn cost(filter: &[SockFilter], policy: &Policy) -> Cost {
    let weights = compiler::weights(policy, &[], true);
    let (mut sw, mut sc, mut worst) = (0f64, 0f64, 0);
    for &(_, nr) in Arch::X86_64.syscalls() {
        let c = bpf::run(filter, &data(nr, [0; 6])).unwrap().executed;
        let w = weights[&nr] as f64;
        sw += w;
        sc += w * c as f64;
        worst = worst.max(c);
    }
    Cost {
        mean_w: sc / sw,
        worst,
    }
}

#[test]
fn fixtures_beat_libseccomp_and_minijail() {
    // minijail's `bst` weighted means, measured by examples/bench.rs with
    // MINIJAIL_TOOLS (Python, not available to the test suite).
    let minijail = [
        ("allowlist-300.policy", 6.33),
        ("daemon.policy", 7.02),
        ("docker-default.json", 7.07),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let opts = CompileOptions::new(Arch::X86_64);
    for (f, minijail_mean) in minijail {
        let path = format!("{dir}{f}");
        let text = std::fs::read_to_string(&path).unwrap();
        let policy = parse(&path, &text, &opts).unwrap();
        let ours = cost(
            &compile_policy(&path, policy.clone(), &opts).unwrap().filter,
            &policy,
        );
        let theirs = cost(&libseccomp::compile(&policy, 2).unwrap(), &policy);
        assert!(
            ours.mean_w < minijail_mean && ours.mean_w < theirs.mean_w,
            "{f}: krsi {:.2}, minijail {minijail_mean}, libseccomp {:.2}",
            ours.mean_w,
            theirs.mean_w
        );
        assert!(
            ours.worst <= theirs.worst + 1,
            "{f}: worst case krsi {} vs libseccomp {}",
            ours.worst,
            theirs.worst
        );
    }
}

/// `@frequency` counts near u64::MAX are scaled down, not summed into an overflow.
#[test]
fn huge_weights_are_scaled_not_overflowed() {
    let mut opts = CompileOptions::new(Arch::X86_64);
    let nr = |n: &str| syscall_number(Arch::X86_64, n).unwrap();
    opts.weights = vec![
        (nr("read"), u64::MAX),
        (nr("write"), u64::MAX),
        (nr("futex"), u64::MAX / 2),
        (nr("close"), 1),
    ];
    let text = "read: allow\nwrite: allow\nfutex: allow\nclose: allow\nopenat: arg2 == 0\n";
    let policy = parse("w.policy", text, &opts).unwrap();
    let prog = compile_policy("w.policy", policy.clone(), &opts).unwrap();
    for n in 0..1100 {
        assert_eq!(
            Action::from_ret(bpf::simulate(&prog.filter, &data(n, [0; 6]))),
            reference(&policy, n, &[0; 6])
        );
    }
}
