//! The `krsi` command line: parses flags and dispatches to the crate that owns each command.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "krsi",
    version,
    about = "Kernel Runtime Security Instrumentation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load the BPF programs, apply a policy and stream events as JSON lines.
    Run(krsi_agent::cli::RunArgs),
    /// Per-rule counters of the running agent (root only).
    Status(krsi_agent::cli::StatusArgs),
    /// Check, explain and export the policy language.
    Policy {
        #[command(subcommand)]
        command: krsi_policy::cli::PolicyCommand,
    },
    /// SHA-256 list entries for `file.sha256` rules (files, or directories walked).
    Hash(krsi_policy::hash::HashArgs),
    /// Check what this kernel offers and prove enforcement with a live probe.
    Doctor(krsi_doctor::DoctorArgs),
    /// Seccomp policy toolkit (minijail-compatible).
    Seccomp {
        #[command(subcommand)]
        command: SeccompCommand,
    },
    /// Run a command under a seccomp policy (minijail0-like).
    Sandbox(krsi_sandbox::cli::SandboxArgs),
}

#[derive(Debug, Subcommand)]
enum SeccompCommand {
    #[command(flatten)]
    Core(krsi_seccomp::cli::SeccompCommand),
    #[command(flatten)]
    Runtime(krsi_sandbox::cli::SeccompRuntimeCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KRSI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_) | Command::Sandbox(_)) {
        // One-shot commands end quietly when their reader goes away (`| head`);
        // the agent instead ignores SIGPIPE and keeps enforcing.
        // SAFETY: setting a signal disposition at start-up, before any thread.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match cli.command {
        Command::Run(args) => krsi_agent::cli::run(args),
        Command::Status(args) => krsi_agent::cli::status(args),
        Command::Policy { command } => krsi_policy::cli::run(command),
        Command::Hash(args) => krsi_policy::hash::run(args),
        Command::Doctor(args) => krsi_doctor::run(args),
        Command::Seccomp { command } => match command {
            SeccompCommand::Core(c) => krsi_seccomp::cli::run(c),
            SeccompCommand::Runtime(c) => krsi_sandbox::cli::run_seccomp(c),
        },
        Command::Sandbox(args) => krsi_sandbox::cli::run_sandbox(args),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("krsi: {e:#}");
            ExitCode::from(2)
        }
    }
}
