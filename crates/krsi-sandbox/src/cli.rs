//! `krsi sandbox` and `krsi seccomp learn|check-rules`; the `krsi` binary only
//! dispatches here.
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use krsi_seccomp::{compile_file, Arch, CompileOptions, KillMode};

use crate::launcher::{describe_status, exit_code, Sandbox};
use crate::learn;
use crate::rules;

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// minijail policy file to enforce.
    #[arg(long, value_name = "POLICY")]
    pub seccomp: PathBuf,
    /// Set no_new_privs first (needed to install a filter without CAP_SYS_ADMIN).
    #[arg(long)]
    pub no_new_privs: bool,
    /// Allow what the policy blocks, and report each such call by name and arguments.
    #[arg(long)]
    pub log: bool,
    /// Install with SECCOMP_FILTER_FLAG_TSYNC; `kill` then means kill-process.
    #[arg(long)]
    pub tsync: bool,
    /// Rule set answering the policy's user-notify actions (see docs/sandbox.md).
    #[arg(long, value_name = "FILE")]
    pub notify_rules: Option<PathBuf>,
    /// Command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

/// Seccomp subcommands that need the runtime (they live beside `compile`/`sim`).
#[derive(Debug, Subcommand)]
pub enum SeccompRuntimeCommand {
    /// Run a command, record its syscalls and write a minimal policy that lets it pass.
    Learn(LearnArgs),
    /// Check a user-notify rule file and print it in canonical form.
    CheckRules(CheckRulesArgs),
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Where to write the policy (default: stdout, after the command's own output;
    /// the command's stdio is left alone since it changes which syscalls it makes).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Trace the command this many times and allow the union (for runs that are not
    /// deterministic).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct CheckRulesArgs {
    pub rules: PathBuf,
}

pub fn run_sandbox(args: SandboxArgs) -> anyhow::Result<i32> {
    let arch = Arch::native();
    let mut opts = CompileOptions::new(arch);
    // With TSYNC every thread shares the filter, so a kill must take the whole process.
    opts.kill = if args.tsync {
        KillMode::Process
    } else {
        KillMode::Thread
    };
    let enforced = compile_file(&args.seccomp, &opts)?;
    let (filter, enforced) = if args.log {
        opts.log_only = true;
        let logged = compile_file(&args.seccomp, &opts)?;
        (logged.filter, Some(enforced.filter))
    } else {
        (enforced.filter, None)
    };
    let rules = match &args.notify_rules {
        Some(p) => {
            let r = rules::parse_file(p)?;
            for w in &r.warnings {
                eprintln!("{w}");
            }
            Some(r)
        }
        None => None,
    };
    let sandbox = Sandbox {
        filter,
        enforced,
        arch,
        no_new_privs: args.no_new_privs,
        tsync: args.tsync,
        log: args.log,
        rules,
        command: args.command,
        ignore_terminal_signals: true,
    };
    let mut err = std::io::stderr();
    let outcome = sandbox.run(&mut err)?;
    let st = outcome.stats;
    if st != Default::default() {
        eprintln!(
            "krsi: answered {} notification(s): {} continued, {} errno, {} emulated; {} target(s) gone before an answer",
            st.continued + st.errno + st.emulated,
            st.continued,
            st.errno,
            st.emulated,
            st.gone
        );
    }
    if let Some(msg) = describe_status(outcome.status) {
        eprintln!("krsi: {msg}");
    }
    Ok(exit_code(outcome.status))
}

pub fn run_seccomp(cmd: SeccompRuntimeCommand) -> anyhow::Result<i32> {
    match cmd {
        SeccompRuntimeCommand::Learn(args) => run_learn(args),
        SeccompRuntimeCommand::CheckRules(args) => {
            let r = rules::parse_file(&args.rules)?;
            for w in &r.warnings {
                eprintln!("{w}");
            }
            print!("{r}");
            Ok(0)
        }
    }
}

fn run_learn(args: LearnArgs) -> anyhow::Result<i32> {
    let arch = Arch::native();
    let mut observed = learn::Observed::default();
    let mut code = 0;
    for _ in 0..args.runs {
        let learned = learn::trace(&args.command, arch)?;
        observed.merge(learned.observed);
        // The policy is only trustworthy if every run succeeded: report the first failure.
        if code == 0 {
            code = learn::wait_exit_code(learned.status);
        }
    }
    let text = observed.render(arch, &args.command);
    match &args.output {
        Some(p) => std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    eprintln!(
        "krsi: learned {} syscalls from {} task(s){}; the command exited with {}",
        observed.counts.len(),
        observed.tasks,
        args.output
            .as_ref()
            .map(|p| format!(", wrote {}", p.display()))
            .unwrap_or_default(),
        code
    );
    if code != 0 {
        eprintln!("krsi: warning: a traced run failed; the policy only covers what it did");
    }
    Ok(code)
}
