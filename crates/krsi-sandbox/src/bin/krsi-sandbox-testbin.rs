//! Test helper for krsi-sandbox's integration tests (not part of the krsi install):
//! `sandbox ...` and `seccomp learn|check-rules ...` run the same entry points as
//! `krsi sandbox` and `krsi seccomp ...`; `do STEP...` performs scripted syscalls and prints one line
//! per step so tests can see which calls succeeded.
use std::ffi::CString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use krsi_sandbox::cli::{self, SandboxArgs, SeccompRuntimeCommand};
use krsi_sandbox::names::errno_display;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Sandbox(SandboxArgs),
    Seccomp {
        #[command(subcommand)]
        cmd: SeccompRuntimeCommand,
    },
    /// Steps: echo:TEXT getpid getppid mkdir:PATH open:PATH socket:FAMILY x32:NR
    /// thread:STEP tsync:POLICY:yes|no loop:N:getpid|getppid
    Do {
        steps: Vec<String>,
    },
}

fn result(name: &str, r: libc::c_long) {
    if r < 0 {
        println!("{name}=err:{}", errno_display(krsi_sandbox::sys::errno()));
    } else {
        println!("{name}={r}");
    }
}

fn step(s: &str) -> anyhow::Result<()> {
    let (op, arg) = s.split_once(':').unwrap_or((s, ""));
    // SAFETY (all blocks below): plain syscalls with valid, NUL-terminated arguments.
    match op {
        "echo" => println!("{arg}"),
        "getpid" => result("getpid", unsafe { libc::syscall(libc::SYS_getpid) }),
        "getppid" => result("getppid", unsafe { libc::syscall(libc::SYS_getppid) }),
        "mkdir" => {
            let p = CString::new(arg)?;
            result("mkdir", unsafe { libc::mkdir(p.as_ptr(), 0o755) }
                as libc::c_long);
        }
        "open" => {
            let p = CString::new(arg)?;
            let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            result("open", if fd < 0 { -1 } else { 0 });
            if fd >= 0 {
                unsafe { libc::close(fd) };
            }
        }
        "socket" => {
            let fam: i32 = arg.parse()?;
            let fd = unsafe { libc::socket(fam, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
            result("socket", if fd < 0 { -1 } else { 0 });
        }
        "x32" => {
            // An x32-ABI syscall: same arch value as x86_64, number with bit 30 set.
            let nr: libc::c_long = arg.parse()?;
            result("x32", unsafe { libc::syscall(0x4000_0000 | nr) });
        }
        "thread" => {
            // A raw pthread: std's threads abort the process if one vanishes, and a
            // seccomp kill-thread makes it vanish.
            extern "C" fn run(arg: *mut libc::c_void) -> *mut libc::c_void {
                // SAFETY: arg is the &String passed below, alive until join.
                let s = unsafe { &*(arg as *const String) };
                let _ = step(s);
                std::ptr::null_mut()
            }
            let inner = arg.to_string();
            let mut t: libc::pthread_t = 0;
            // SAFETY: `inner` outlives the thread (joined below).
            let rc = unsafe {
                libc::pthread_create(
                    &mut t,
                    std::ptr::null(),
                    run,
                    &inner as *const String as *mut libc::c_void,
                )
            };
            anyhow::ensure!(rc == 0, "pthread_create failed: {rc}");
            // SAFETY: t is a joinable thread we created.
            let rc = unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
            println!("thread-joined={}", rc == 0);
        }
        "tsync" => tsync(arg)?,
        "loop" => {
            // loop:N:STEP, for timing: STEP's output is suppressed.
            let (n, inner) = arg.split_once(':').unwrap_or((arg, "getpid"));
            let n: u64 = n.parse()?;
            let t = std::time::Instant::now();
            for _ in 0..n {
                let nr = match inner {
                    "getppid" => libc::SYS_getppid,
                    _ => libc::SYS_getpid,
                };
                // SAFETY: argument-less syscalls.
                unsafe { libc::syscall(nr) };
            }
            println!(
                "loop={n} ns_per_call={}",
                t.elapsed().as_nanos() / u128::from(n.max(1))
            );
        }
        _ => anyhow::bail!("unknown step {s:?}"),
    }
    Ok(())
}

/// Installs a policy from a multi-threaded process, with or without TSYNC, then has
/// the *other* thread call getppid: only a synchronised filter reaches that thread.
fn tsync(arg: &str) -> anyhow::Result<()> {
    use krsi_seccomp::{compile_file, Arch, CompileOptions, KillMode};
    let (policy, mode) = arg.rsplit_once(':').unwrap_or((arg, "no"));
    let sync = mode == "yes";
    let mut opts = CompileOptions::new(Arch::native());
    opts.kill = if sync {
        KillMode::Process
    } else {
        KillMode::Thread
    };
    let prog = compile_file(std::path::Path::new(policy), &opts)?;
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        go_rx.recv().ok();
        step("getppid")
    });
    krsi_sandbox::sys::set_no_new_privs().map_err(std::io::Error::from_raw_os_error)?;
    let flags = if sync {
        krsi_sandbox::sys::SECCOMP_FILTER_FLAG_TSYNC
    } else {
        0
    };
    krsi_sandbox::sys::install_filter(&prog.filter, flags)
        .map_err(std::io::Error::from_raw_os_error)?;
    println!("installed tsync={sync}");
    go_tx.send(()).ok();
    let r = worker.join();
    println!("worker-joined={}", r.is_ok());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Sandbox(a) => cli::run_sandbox(a),
        Cmd::Seccomp { cmd } => cli::run_seccomp(cmd),
        Cmd::Do { steps } => steps.iter().try_for_each(|s| step(s)).map(|()| 0),
    };
    match r {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("krsi: {e:#}");
            ExitCode::from(2)
        }
    }
}
