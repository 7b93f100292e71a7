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
    /// Trial run: every rule reports (would_deny, would_kill) and nothing is
    /// denied or killed, whatever `mode` the policy files set.
    #[arg(long)]
    pub monitor: bool,
    /// Fail instead of falling back to report-only when the kernel cannot deny.
    #[arg(long)]
    pub require_enforcement: bool,
    /// Do not reload when the policy file (or directory) changes; SIGHUP still reloads.
    #[arg(long)]
    pub no_watch: bool,
    /// Where `krsi status` reaches the agent (a root-only Unix socket).
    #[arg(long, value_name = "PATH", default_value = crate::status::DEFAULT_SOCKET)]
    pub status_socket: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the agent's answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// The agent's status socket.
    #[arg(long, value_name = "PATH", default_value = crate::status::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

pub fn status(args: StatusArgs) -> anyhow::Result<i32> {
    let v = crate::status::query(&args.socket)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        crate::status::print_table(&v);
    }
    Ok(0)
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    crate::run::run(args)
}
