//! `krsi seccomp compile|sim` subcommands; the `krsi` binary only dispatches here.
use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum SeccompCommand {
    /// Compile a minijail policy file to a raw seccomp cBPF filter.
    Compile(CompileArgs),
    /// Run the compiled filter on one seccomp_data and print the action.
    Sim(SimArgs),
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    pub policy: PathBuf,
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub disasm: bool,
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    pub policy: PathBuf,
    #[arg(long)]
    pub syscall: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub args: Vec<String>,
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    #[arg(long)]
    pub nr_raw: Option<String>,
}

pub fn run(cmd: SeccompCommand) -> anyhow::Result<i32> {
    match cmd {
        SeccompCommand::Compile(_) | SeccompCommand::Sim(_) => {
            anyhow::bail!("krsi seccomp: not built yet")
        }
    }
}
