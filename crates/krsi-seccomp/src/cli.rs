//! `krsi seccomp compile|sim` subcommands; the `krsi` binary only dispatches here.
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::{bpf, compile_file, Action, Arch, CompileOptions, KillMode, SeccompData};

#[derive(Debug, Subcommand)]
pub enum SeccompCommand {
    /// Compile a minijail policy (or OCI/Docker JSON profile) to a raw seccomp cBPF filter.
    Compile(CompileArgs),
    /// Run the compiled filter on one seccomp_data and print the action.
    Sim(SimArgs),
}

/// Options shared by `compile` and `sim`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Policy file: minijail `.policy` syntax, or an OCI/Docker JSON profile.
    pub policy: PathBuf,
    /// Target architecture (picks the syscall table and AUDIT_ARCH value).
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// Plain `kill` means SECCOMP_RET_KILL_PROCESS instead of KILL_THREAD.
    #[arg(long)]
    pub kill_process: bool,
    /// Turn every non-allow action into SECCOMP_RET_LOG (audit mode).
    #[arg(long)]
    pub log_only: bool,
    /// Override the policy's default action (e.g. `kill-process`, `trap`, `return EPERM`).
    #[arg(long)]
    pub default_action: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Write the raw filter (array of struct sock_filter, native endian) here.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Print a readable listing of the filter.
    #[arg(long)]
    pub disasm: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Syscall name or number.
    #[arg(long)]
    pub syscall: Option<String>,
    /// Syscall arguments a0,a1,... (decimal or 0x hex, up to 64 bits; missing ones are 0).
    #[arg(long, value_delimiter = ',')]
    pub args: Vec<String>,
    /// Raw value for seccomp_data.nr (e.g. an x32 number like 0x40000000); overrides --syscall.
    #[arg(long, allow_hyphen_values = true)]
    pub nr_raw: Option<String>,
    /// Raw value for seccomp_data.arch (defaults to the --arch AUDIT_ARCH value).
    #[arg(long)]
    pub audit_arch: Option<String>,
    /// Also print how many instructions ran (to stderr).
    #[arg(long)]
    pub count: bool,
}

/// Parses decimal, 0x hex or negative decimal (wrapped) into 64 bits.
fn parse_u64(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(n) = t.strip_prefix('-') {
        n.parse::<u64>()
            .ok()
            .filter(|&v| v <= 1 << 63)
            .map(u64::wrapping_neg)
    } else {
        t.parse::<u64>().ok()
    };
    r.with_context(|| format!("invalid number {s:?} (decimal or 0x hex, up to 64 bits)"))
}

fn options(p: &PolicyArgs) -> anyhow::Result<CompileOptions> {
    let arch: Arch = p.arch.parse().map_err(anyhow::Error::msg)?;
    let mut opts = CompileOptions::new(arch);
    opts.kill = if p.kill_process {
        KillMode::Process
    } else {
        KillMode::Thread
    };
    opts.log_only = p.log_only;
    if let Some(d) = &p.default_action {
        opts.default_override = Some(parse_action(d, &opts)?);
    }
    Ok(opts)
}

/// Parses an action as written in a policy (`allow`, `kill`, `return EPERM`, ...).
pub fn parse_action(s: &str, opts: &CompileOptions) -> anyhow::Result<Action> {
    let s = s.trim();
    Ok(match s {
        "allow" | "1" => Action::Allow,
        "kill" => opts.kill.action(),
        "kill-process" => Action::KillProcess,
        "kill-thread" => Action::KillThread,
        "trap" => Action::Trap,
        "trace" => Action::Trace,
        "log" => Action::Log,
        "user-notify" => Action::UserNotify,
        _ => {
            let Some(e) = s.strip_prefix("return").map(str::trim) else {
                bail!("invalid action {s:?}");
            };
            let v = match crate::consts::errno(e) {
                Some(v) => v,
                None => parse_u64(e)?,
            };
            Action::Errno(
                u16::try_from(v).with_context(|| format!("errno {e} does not fit in 16 bits"))?,
            )
        }
    })
}

/// Runs `sim`: the action in the policy's words and the instructions executed.
pub fn sim(a: &SimArgs) -> anyhow::Result<(String, usize)> {
    let opts = options(&a.policy)?;
    let prog = compile_file(&a.policy.policy, &opts)?;
    let nr: u32 = match (&a.nr_raw, &a.syscall) {
        (Some(raw), _) => {
            let v = parse_u64(raw)?;
            // Accept both 0xffffffff and -1 (sign-extended) for the 32-bit nr.
            if v > u64::from(u32::MAX) && v < 0xffff_ffff_8000_0000 {
                bail!("--nr-raw {raw} does not fit in 32 bits");
            }
            v as u32
        }
        (None, Some(s)) => match crate::syscall_number(opts.arch, s) {
            Some(nr) => nr,
            None => match parse_u64(s) {
                Ok(v) if v <= u64::from(u32::MAX) => v as u32,
                _ => bail!("unknown syscall {s:?} on {}", opts.arch),
            },
        },
        (None, None) => bail!("give --syscall NAME|NUMBER or --nr-raw N"),
    };
    if a.args.len() > 6 {
        bail!("at most 6 arguments (got {})", a.args.len());
    }
    let mut args = [0u64; 6];
    for (slot, s) in args.iter_mut().zip(&a.args) {
        *slot = parse_u64(s)?;
    }
    let arch = match &a.audit_arch {
        Some(s) => u32::try_from(parse_u64(s)?).context("--audit-arch must fit in 32 bits")?,
        None => opts.arch.audit_arch(),
    };
    let data = SeccompData {
        nr: nr as i32,
        arch,
        instruction_pointer: 0,
        args,
    };
    let out = bpf::run(&prog.filter, &data)
        .map_err(|e| anyhow::anyhow!("filter failed to run: {e:?}"))?;
    Ok((bpf::describe_ret(out.ret), out.executed))
}

pub fn run(cmd: SeccompCommand) -> anyhow::Result<i32> {
    match cmd {
        SeccompCommand::Compile(a) => {
            let opts = options(&a.policy)?;
            let prog = compile_file(&a.policy.policy, &opts)?;
            if let Some(out) = &a.output {
                std::fs::write(out, prog.to_bytes())
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            let mut stdout = std::io::stdout().lock();
            if a.disasm {
                stdout.write_all(prog.disasm().as_bytes())?;
            }
            if a.output.is_none() && !a.disasm {
                writeln!(
                    stdout,
                    "{}: {} instructions for {} (use -o FILE to write it, --disasm to list it)",
                    a.policy.policy.display(),
                    prog.filter.len(),
                    prog.arch
                )?;
            }
            Ok(0)
        }
        SeccompCommand::Sim(a) => {
            let (line, executed) = sim(&a)?;
            println!("{line}");
            if a.count {
                eprintln!("{executed} instructions executed");
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: SeccompCommand,
    }

    fn policy(text: &str) -> tempfile_path::Tmp {
        tempfile_path::Tmp::new(text)
    }

    /// A policy file removed on drop.
    mod tempfile_path {
        pub struct Tmp(pub std::path::PathBuf);
        impl Tmp {
            pub fn new(text: &str) -> Tmp {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "krsi-cli-{}-{}.policy",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, text).unwrap();
                Tmp(p)
            }
        }
        impl Drop for Tmp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn sim_cmd(args: &[&str]) -> anyhow::Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))?;
        match cli.cmd {
            SeccompCommand::Sim(a) => Ok(sim(&a)?.0),
            _ => unreachable!(),
        }
    }

    #[test]
    fn sim_prints_actions_in_policy_words() {
        let p = policy(
            "@default return EPERM\nread: allow\nwrite: arg0 == 0xffffffff00000001\nclose: kill\n",
        );
        let f = p.0.to_str().unwrap();
        assert_eq!(sim_cmd(&["sim", f, "--syscall", "read"]).unwrap(), "allow");
        assert_eq!(sim_cmd(&["sim", f, "--syscall", "0"]).unwrap(), "allow");
        assert_eq!(
            sim_cmd(&[
                "sim",
                f,
                "--syscall",
                "write",
                "--args",
                "0xffffffff00000001"
            ])
            .unwrap(),
            "allow"
        );
        assert_eq!(
            sim_cmd(&["sim", f, "--syscall", "write", "--args", "1"]).unwrap(),
            "return 1"
        );
        assert_eq!(
            sim_cmd(&["sim", f, "--syscall", "close"]).unwrap(),
            "kill-thread"
        );
        assert_eq!(
            sim_cmd(&["sim", f, "--syscall", "close", "--kill-process"]).unwrap(),
            "kill-process"
        );
        assert_eq!(
            sim_cmd(&["sim", f, "--syscall", "close", "--log-only"]).unwrap(),
            "log"
        );
        assert_eq!(
            sim_cmd(&["sim", f, "--nr-raw", "0x40000000"]).unwrap(),
            "kill-process"
        );
        assert_eq!(sim_cmd(&["sim", f, "--nr-raw", "-1"]).unwrap(), "return 1");
        assert_eq!(
            sim_cmd(&["sim", f, "--syscall", "read", "--arch", "aarch64"]).unwrap(),
            "allow"
        );
        assert_eq!(
            sim_cmd(&["sim", f, "--syscall", "read", "--audit-arch", "0x40000003"]).unwrap(),
            "kill-process"
        );
        assert_eq!(
            sim_cmd(&[
                "sim",
                f,
                "--syscall",
                "getpid",
                "--default-action",
                "return EACCES"
            ])
            .unwrap(),
            "return 13"
        );
    }

    #[test]
    fn sim_rejects_bad_input() {
        let p = policy("read: allow\n");
        let f = p.0.to_str().unwrap();
        let e = |args: &[&str]| sim_cmd(args).unwrap_err().to_string();
        assert_eq!(
            e(&["sim", f, "--syscall", "nope"]),
            "unknown syscall \"nope\" on x86_64"
        );
        assert!(e(&["sim", f, "--syscall", "read", "--args", "0x1g"])
            .contains("invalid number \"0x1g\""));
        assert!(e(&[
            "sim",
            f,
            "--syscall",
            "read",
            "--args",
            "18446744073709551616"
        ])
        .contains("up to 64 bits"));
        assert_eq!(
            e(&["sim", f, "--syscall", "read", "--args", "1,2,3,4,5,6,7"]),
            "at most 6 arguments (got 7)"
        );
        assert_eq!(
            e(&["sim", f, "--nr-raw", "0x100000000"]),
            "--nr-raw 0x100000000 does not fit in 32 bits"
        );
        assert_eq!(e(&["sim", f]), "give --syscall NAME|NUMBER or --nr-raw N");
        assert!(
            e(&["sim", f, "--syscall", "read", "--arch", "mips"]).contains("unknown architecture")
        );
        let bad = policy("read: allw\n");
        let e2 = sim_cmd(&["sim", bad.0.to_str().unwrap(), "--syscall", "read"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e2,
            format!("{}:1:7: invalid action \"allw\"", bad.0.display())
        );
    }

    #[test]
    fn compile_writes_raw_filter() {
        let p = policy("read: allow\n");
        let out = p.0.with_extension("bpf");
        let cli = Cli::try_parse_from([
            "t",
            "compile",
            p.0.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(run(cli.cmd).unwrap(), 0);
        let bytes = std::fs::read(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        let prog = crate::compile_file(&p.0, &CompileOptions::new(Arch::X86_64)).unwrap();
        assert_eq!(bytes, prog.to_bytes());
    }

    #[test]
    fn actions_and_numbers() {
        let o = CompileOptions::new(Arch::X86_64);
        assert_eq!(parse_action("return EPERM", &o).unwrap(), Action::Errno(1));
        assert_eq!(parse_action("return 0x10", &o).unwrap(), Action::Errno(16));
        assert_eq!(parse_action("kill", &o).unwrap(), Action::KillThread);
        assert!(parse_action("return 70000", &o).is_err());
        assert!(parse_action("frob", &o).is_err());
        assert_eq!(parse_u64("-1").unwrap(), u64::MAX);
        assert_eq!(parse_u64("0xffffffffffffffff").unwrap(), u64::MAX);
        assert!(parse_u64("0x10000000000000000").is_err());
    }
}
