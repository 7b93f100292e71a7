//! `krsi run`.
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Policy file (YAML). Without it, the embedded default policy audits every exec.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write events here (appended) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail instead of falling back to report-only when the kernel cannot deny.
    #[arg(long)]
    pub require_enforcement: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    crate::run::run(args)
}
