//! `krsi sandbox` and `krsi seccomp learn`; the `krsi` binary only dispatches here.
use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[arg(long)]
    pub seccomp: PathBuf,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long)]
    pub log: bool,
    #[arg(long)]
    pub tsync: bool,
    /// Command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Seccomp subcommands that need the runtime (they live beside `compile`/`sim`).
#[derive(Debug, Subcommand)]
pub enum SeccompRuntimeCommand {
    /// Run a command, record its syscalls and write a minimal policy that lets it pass.
    Learn(LearnArgs),
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn run_sandbox(_args: SandboxArgs) -> anyhow::Result<i32> {
    anyhow::bail!("krsi sandbox: not built yet")
}

pub fn run_seccomp(cmd: SeccompRuntimeCommand) -> anyhow::Result<i32> {
    match cmd {
        SeccompRuntimeCommand::Learn(_) => anyhow::bail!("krsi seccomp learn: not built yet"),
    }
}
