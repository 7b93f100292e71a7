//! `cargo xtask`: krsi's build and test machinery.
//!
//! Every command works from any directory inside the workspace and honours
//! `CARGO_TARGET_DIR` (resolved through `cargo metadata`, so `.cargo/config.toml`
//! `build.target-dir` works too).
mod cpio;
mod deps;
mod initramfs;
#[cfg(test)]
mod libsh_tests;
mod testdevs;
mod util;
mod vm;
mod vmlinux;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "krsi build and test machinery"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install the Debian packages the project needs (only when some are missing).
    Deps,
    /// Run every test: deps, fmt, clippy, cargo test, then the VM tests.
    Test(vm::VmTestArgs),
    /// Build krsi in release mode and run `krsi run ARGS` (default policy without ARGS).
    Run {
        /// Arguments passed to `krsi run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Regenerate bpf/vmlinux/x86/vmlinux.h from the Debian kernel image in /boot.
    Vmlinux {
        /// Kernel image to read (default: the newest /boot/vmlinuz-*).
        #[arg(long)]
        kernel: Option<PathBuf>,
        /// Do not write; exit non-zero when the committed header differs.
        #[arg(long)]
        check: bool,
    },
    /// Boot the kernel in QEMU with an initramfs and run tests/vm scenarios.
    VmTest(vm::VmTestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Deps => deps::ensure(),
        Command::Test(args) => run_all_tests(&args),
        Command::Run { args } => run_krsi(&args),
        Command::Vmlinux { kernel, check } => vmlinux::regenerate(kernel.as_deref(), check),
        Command::VmTest(args) => vm::vm_test(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask test`: the single entry point CI calls. Stops at the first
/// failing stage and names it, so a red CI log says where to look.
fn run_all_tests(vm_args: &vm::VmTestArgs) -> Result<()> {
    let ws = util::workspace()?;
    let cargo = util::cargo();
    let stages: [(&str, &[&str]); 3] = [
        ("fmt", &["fmt", "--all", "--", "--check"]),
        (
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
        ("cargo test", &["test", "--workspace"]),
    ];
    let stage_result = |name: &str, r: Result<()>| -> Result<()> {
        match r {
            Ok(()) => {
                eprintln!("xtask: stage `{name}` passed");
                Ok(())
            }
            Err(e) => Err(e.context(format!("stage `{name}` failed"))),
        }
    };
    stage_result("deps", deps::ensure())?;
    for (name, args) in stages {
        eprintln!("xtask: stage `{name}`: cargo {}", args.join(" "));
        let mut cmd = std::process::Command::new(&cargo);
        cmd.args(args).current_dir(&ws.root);
        stage_result(name, util::run(&mut cmd))?;
    }
    eprintln!("xtask: stage `vm-test`");
    stage_result("vm-test", vm::vm_test(vm_args))
}

/// `cargo xtask run`: what the README tells a fresh machine to run.
fn run_krsi(args: &[String]) -> Result<()> {
    deps::ensure()?;
    let ws = util::workspace()?;
    let krsi = util::build_krsi_release(&ws)?;
    let mut cmd = std::process::Command::new(&krsi);
    cmd.arg("run").args(args);
    // exec so signals (Ctrl-C, SIGTERM, SIGHUP reload) reach krsi directly.
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context(format!("exec {}", krsi.display())))
}
