//! Prints a table: instructions executed per syscall (weighted mean, uniform mean,
//! worst case) and filter length, krsi vs libseccomp (optimize=1 and =2) and,
//! when MINIJAIL_TOOLS points at minijail's `tools/` directory, minijail's `bst`.
//!
//!     cargo run -p krsi-seccomp --example bench
//!     git -C /work/.mirror/google+minijail/repo archive HEAD tools | tar -x -C /tmp/minijail
//!     MINIJAIL_TOOLS=/tmp/minijail/tools cargo run -p krsi-seccomp --example bench
#[path = "../tests/common/libseccomp.rs"]
mod libseccomp;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use krsi_seccomp::bpf::{self, SeccompData, SockFilter};
use krsi_seccomp::policy::Policy;
use krsi_seccomp::{compile_policy, compiler, parse, Arch, CompileOptions};

struct Row {
    name: String,
    len: usize,
    mean_w: f64,
    mean_u: f64,
    worst: usize,
    costs: HashMap<u32, usize>,
}

fn measure(name: &str, filter: &[SockFilter], weights: &HashMap<u32, u64>) -> Row {
    let mut costs = HashMap::new();
    let (mut sw, mut sc, mut su) = (0f64, 0f64, 0f64);
    let mut worst = 0;
    for &(_, nr) in Arch::X86_64.syscalls() {
        let data = SeccompData {
            nr: nr as i32,
            arch: Arch::X86_64.audit_arch(),
            instruction_pointer: 0,
            args: [0; 6],
        };
        let c = bpf::run(filter, &data).expect("filter runs").executed;
        let w = weights[&nr] as f64;
        sw += w;
        sc += w * c as f64;
        su += c as f64;
        worst = worst.max(c);
        costs.insert(nr, c);
    }
    Row {
        name: name.into(),
        len: filter.len(),
        mean_w: sc / sw,
        mean_u: su / Arch::X86_64.syscalls().len() as f64,
        worst,
        costs,
    }
}

/// Compiles `policy` with minijail's Python compiler (`bst` strategy) using an arch
/// JSON built from krsi's tables, so both see the same syscall numbers.
fn minijail(
    tools: &str,
    policy: &Policy,
    weights: &HashMap<u32, u64>,
) -> Result<Vec<SockFilter>, String> {
    let dir = std::env::temp_dir().join(format!("krsi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let syscalls: serde_json::Map<String, serde_json::Value> = Arch::X86_64
        .syscalls()
        .iter()
        .map(|(n, nr)| (n.to_string(), (*nr).into()))
        .collect();
    let arch = serde_json::json!({
        "arch_nr": Arch::X86_64.audit_arch(), "arch_name": "x86_64", "bits": 64,
        "syscalls": syscalls, "constants": {"EPERM": 1}, "syscall_groups": {}
    });
    std::fs::write(dir.join("arch.json"), arch.to_string()).map_err(|e| e.to_string())?;
    let text = policy.to_minijail()?;
    // minijail's @default only takes kill/trap/user-notify; pass it on the command line.
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("@default"))
        .map(|l| format!("{l}\n"))
        .collect();
    let freq: String = weights
        .iter()
        .filter_map(|(nr, w)| {
            krsi_seccomp::syscall_name(Arch::X86_64, *nr).map(|n| format!("{n}: {w}\n"))
        })
        .collect();
    std::fs::write(dir.join("freq.txt"), freq).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("p.policy"),
        format!("@frequency ./freq.txt\n{body}"),
    )
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new("python3");
    cmd.arg(format!("{tools}/compile_seccomp_policy.py"))
        .arg("--arch-json")
        .arg(dir.join("arch.json"))
        .arg("--use-kill-process");
    if !policy.denylist {
        cmd.arg("--default-action")
            .arg(policy.default_action.to_string());
    } else {
        cmd.arg("--denylist");
    }
    let out = cmd
        .arg(dir.join("p.policy"))
        .arg(dir.join("p.bpf"))
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let bytes = std::fs::read(dir.join("p.bpf")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    bpf::from_bytes(&bytes).ok_or_else(|| "odd-sized bpf".into())
}

/// Refuses to benchmark a filter that does not implement the policy (args 0 and
/// all-ones on every syscall).
fn check(policy: &Policy, filter: &[SockFilter], what: &str) {
    for &(_, nr) in Arch::X86_64.syscalls() {
        for args in [[0u64; 6], [u64::MAX; 6]] {
            let data = SeccompData {
                nr: nr as i32,
                arch: Arch::X86_64.audit_arch(),
                instruction_pointer: 0,
                args,
            };
            let got = krsi_seccomp::Action::from_ret(bpf::simulate(filter, &data));
            let want = policy.action(nr, &args);
            assert_eq!(got, want, "{what}: nr {nr} args {:#x}", args[0]);
        }
    }
}

fn main() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let minijail_tools = std::env::var("MINIJAIL_TOOLS").ok();
    let opts = CompileOptions::new(Arch::X86_64);
    println!(
        "x86_64; cost = BPF instructions executed for one syscall (args 0), over all {} syscalls.",
        Arch::X86_64.syscalls().len()
    );
    println!("mean(w): weighted by @frequency or krsi's built-in hot-syscall weights; mean(u): every syscall alike.\n");
    println!(
        "{:<22} {:<16} {:>6} {:>8} {:>8} {:>6} {:>12}",
        "policy", "compiler", "insns", "mean(w)", "mean(u)", "worst", "max excess"
    );
    for f in [
        "allowlist-300.policy",
        "daemon.policy",
        "docker-default.json",
    ] {
        let path = format!("{fixtures}{f}");
        let text = std::fs::read_to_string(&path).unwrap();
        let policy = parse(&path, &text, &opts).unwrap();
        let weights = compiler::weights(&policy, &[], true);
        let krsi = compile_policy(&path, policy.clone(), &opts).unwrap().filter;
        if std::env::var("BENCH_DISASM").as_deref() == Ok(f) {
            println!("krsi:\n{}", bpf::disasm(&krsi));
        }
        let mut rows = vec![measure("krsi", &krsi, &weights)];
        for o in [1, 2] {
            match libseccomp::compile(&policy, o) {
                Ok(flt) => {
                    check(&policy, &flt, &format!("{f} libseccomp opt={o}"));
                    rows.push(measure(&format!("libseccomp opt={o}"), &flt, &weights))
                }
                Err(e) => println!("{f}: libseccomp opt={o}: {e}"),
            }
        }
        if let Some(tools) = &minijail_tools {
            match minijail(tools, &policy, &weights) {
                Ok(flt) => {
                    if std::env::var("BENCH_DISASM").as_deref() == Ok(f) {
                        println!("minijail:\n{}", bpf::disasm(&flt));
                    }
                    check(&policy, &flt, &format!("{f} minijail"));
                    rows.push(measure("minijail bst", &flt, &weights))
                }
                Err(e) => println!("{f}: minijail: {}", e.lines().last().unwrap_or("")),
            }
        }
        if std::env::var("BENCH_DETAIL").is_ok() {
            // Syscalls where krsi loses most weighted cost against any other compiler.
            let mut d: Vec<(f64, String)> = Vec::new();
            for (nr, &c) in &rows[0].costs {
                for r in &rows[1..] {
                    let diff = (c as f64 - r.costs[nr] as f64) * weights[nr] as f64;
                    if diff > 0.0 {
                        let name = krsi_seccomp::syscall_name(Arch::X86_64, *nr).unwrap_or("?");
                        d.push((
                            diff,
                            format!("{name}: krsi {c} vs {} {}", r.name, r.costs[nr]),
                        ));
                    }
                }
            }
            d.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (w, line) in d.iter().take(12) {
                println!("    {w:>10.0} {line}");
            }
        }
        // Worst per-syscall excess of krsi over the best other compiler.
        let krsi = &rows[0].costs;
        for (i, r) in rows.iter().enumerate() {
            let excess = if i == 0 {
                let others = &rows[1..];
                krsi.iter()
                    .map(|(nr, &c)| {
                        c as i64
                            - others
                                .iter()
                                .map(|o| o.costs[nr] as i64)
                                .min()
                                .unwrap_or(c as i64)
                    })
                    .max()
                    .unwrap_or(0)
                    .to_string()
            } else {
                String::new()
            };
            println!(
                "{:<22} {:<16} {:>6} {:>8.2} {:>8.2} {:>6} {:>12}",
                if i == 0 { f } else { "" },
                r.name,
                r.len,
                r.mean_w,
                r.mean_u,
                r.worst,
                excess
            );
        }
    }
    let _ = Path::new(fixtures);
}
