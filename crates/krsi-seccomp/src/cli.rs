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
            let opts = options(&a.policy)?;
            let prog = compile_file(&a.policy.policy, &opts)?;
            let nr: u32 = match (&a.nr_raw, &a.syscall) {
                (Some(raw), _) => {
                    let v = parse_u64(raw)?;
                    // Accept both 0xffffffff and -1 (sign-extended) for 32-bit nr.
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
                Some(s) => {
                    u32::try_from(parse_u64(s)?).context("--audit-arch must fit in 32 bits")?
                }
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
            println!("{}", bpf::describe_ret(out.ret));
            if a.count {
                eprintln!("{} instructions executed", out.executed);
            }
            Ok(0)
        }
    }
}
