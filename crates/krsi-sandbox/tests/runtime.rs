//! End-to-end tests on real processes: seccomp, ptrace and user-notify all run for
//! real (CI runs as root on Linux). The helper binary runs the same entry points as
//! `krsi sandbox` / `krsi seccomp learn`. Syscall names assume x86_64 (CI's arch).
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use krsi_seccomp::bpf::{
    describe_ret, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_LOG,
};
use krsi_seccomp::{compile_file, syscall_number, Arch, CompileOptions};

const BIN: &str = env!("CARGO_BIN_EXE_krsi-sandbox-testbin");
const SIGSYS_EXIT: i32 = 128 + libc::SIGSYS;
/// linux/capability.h
const CAP_SYS_ADMIN: libc::c_ulong = 21;

/// A fresh scratch directory per test, removed when the test passes (kept for
/// inspection when it fails).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "krsi-sandbox-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    // SAFETY: setrlimit is async-signal-safe. No core files from SIGSYS kills.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &lim);
            Ok(())
        });
    }
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().expect("run test helper")
}

fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| 128 + o.status.signal().unwrap())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Learns a policy for `command` into `dir/name` and checks the traced run passed.
fn learn(dir: &Path, name: &str, command: &[&str]) -> PathBuf {
    learn_runs(dir, name, 1, command)
}

/// [`learn`] over several runs, for programs whose syscalls depend on timing.
fn learn_runs(dir: &Path, name: &str, runs: u32, command: &[&str]) -> PathBuf {
    let policy = dir.join(name);
    let runs = runs.to_string();
    let mut args = vec![
        "seccomp",
        "learn",
        "--runs",
        &runs,
        "-o",
        policy.to_str().unwrap(),
        "--",
    ];
    args.extend_from_slice(command);
    let o = run(&args);
    assert_eq!(code(&o), 0, "learn failed: {}", stderr(&o));
    policy
}

fn sandbox(extra: &[&str], policy: &Path, command: &[&str]) -> Output {
    let mut args = vec!["sandbox", "--seccomp", policy.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    run(&args)
}

fn append(policy: &Path, name: &str, lines: &str) -> PathBuf {
    let out = policy.with_file_name(name);
    let mut text = std::fs::read_to_string(policy).unwrap();
    text.push_str(lines);
    std::fs::write(&out, text).unwrap();
    out
}

/// The base policy for the helper's own startup and steps that only print.
fn base_policy(dir: &Path) -> PathBuf {
    learn(dir, "base.policy", &[BIN, "do", "echo:hi"])
}

#[test]
fn learn_then_sandbox_ls() {
    let dir = scratch("ls");
    std::fs::write(dir.join("a-file"), "x").unwrap();
    let d = dir.to_str().unwrap();
    let policy = learn(&dir, "ls.policy", &["/bin/ls", "-la", d]);
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(
        text.contains("\nexecve: 1\n"),
        "launcher's execve must be allowed:\n{text}"
    );
    assert!(text.contains("\ngetdents64: 1\n"), "{text}");
    let o = sandbox(&[], &policy, &["/bin/ls", "-la", d]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("a-file"));
    // PATH lookup gives the same single execve.
    let o = sandbox(&["--no-new-privs"], &policy, &["ls", "-la", d]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn learn_then_sandbox_cat_and_forbidden_call_blocked() {
    let dir = scratch("cat");
    let f = dir.join("in.txt");
    std::fs::write(&f, "hello from cat\n").unwrap();
    let policy = learn(&dir, "cat.policy", &["/bin/cat", f.to_str().unwrap()]);
    let o = sandbox(&[], &policy, &["/bin/cat", f.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "hello from cat\n");
    // ls needs getdents64, which cat never called: killed.
    let o = sandbox(&[], &policy, &["/bin/ls", dir.to_str().unwrap()]);
    assert_eq!(code(&o), SIGSYS_EXIT, "{}", stderr(&o));
    assert!(stderr(&o).contains("killed by SIGSYS"), "{}", stderr(&o));
}

#[test]
fn learn_then_sandbox_rust_program_and_forbidden_call_blocked() {
    let dir = scratch("rust");
    let policy = base_policy(&dir);
    let o = sandbox(&[], &policy, &[BIN, "do", "echo:hi"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
    let target = dir.join("made");
    let mk = format!("mkdir:{}", target.display());
    let o = sandbox(&[], &policy, &[BIN, "do", "echo:hi", &mk]);
    assert_eq!(code(&o), SIGSYS_EXIT, "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
    assert!(!target.exists(), "mkdir must not have run");
}

#[test]
fn learn_follows_forked_children() {
    let dir = scratch("sh");
    let script = "ls / | cat > /dev/null; echo done";
    let policy = learn(&dir, "sh.policy", &["/bin/sh", "-c", script]);
    let text = std::fs::read_to_string(&policy).unwrap();
    // getdents64 is only called by the forked ls, pipe2/wait4 by the shell.
    for call in ["getdents64", "pipe2", "wait4"] {
        assert!(
            text.contains(&format!("\n{call}: 1\n")),
            "{call} missing:\n{text}"
        );
    }
    let o = sandbox(&[], &policy, &["/bin/sh", "-c", script]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "done\n");
}

#[test]
fn learn_pins_socket_family() {
    let dir = scratch("sock");
    let policy = learn(&dir, "sock.policy", &[BIN, "do", "socket:1"]);
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains("\nsocket: arg0 == AF_UNIX\n"), "{text}");
    let o = sandbox(&[], &policy, &[BIN, "do", "socket:1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "socket=0\n");
    // Same syscall, unpinned family: the policy's default action kills.
    let o = sandbox(&[], &policy, &[BIN, "do", "socket:2"]);
    assert_eq!(code(&o), SIGSYS_EXIT, "{}", stderr(&o));
}

#[test]
fn learn_merges_several_runs() {
    let dir = scratch("runs");
    let policy = learn_runs(&dir, "r.policy", 2, &["/bin/true"]);
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains(" 2 tasks, "), "{text}");
    assert!(text.contains("# 2 call(s)\nexecve: 1\n"), "{text}");
    let o = run(&["seccomp", "learn", "--runs", "0", "--", "/bin/true"]);
    assert_eq!(code(&o), 2, "zero runs is refused by the argument parser");
}

#[test]
fn learn_reports_a_missing_command() {
    let o = run(&["seccomp", "learn", "--", "/nonexistent/prog"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("cannot execute /nonexistent/prog"),
        "{}",
        stderr(&o)
    );
}

/// Each step's real outcome under the sandbox matches what the simulator predicts.
#[test]
fn real_actions_match_simulator() {
    let dir = scratch("sim");
    let base = learn(&dir, "base.policy", &[BIN, "do", "echo:hi", "socket:1"]);
    let text = std::fs::read_to_string(&base).unwrap();
    // The learned socket line is replaced by one with an errno fallback.
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("socket:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let policy = dir.join("sim.policy");
    std::fs::write(
        &policy,
        format!(
            "{text}mkdir: return EPERM\ngetppid: log\nsocket: arg0 == AF_UNIX; return EAFNOSUPPORT\n"
        ),
    )
    .unwrap();
    let prog = compile_file(&policy, &CompileOptions::new(Arch::native())).unwrap();
    let nr = |n| syscall_number(Arch::native(), n).unwrap();
    let target = dir.join("d");
    let cases: Vec<(String, u32, [u64; 6], &str)> = vec![
        (
            format!("mkdir:{}", target.display()),
            nr("mkdir"),
            [0; 6],
            "mkdir",
        ),
        ("getppid".into(), nr("getppid"), [0; 6], "getppid"),
        (
            "socket:1".into(),
            nr("socket"),
            [1, 1, 0, 0, 0, 0],
            "socket",
        ),
        (
            "socket:2".into(),
            nr("socket"),
            [2, 1, 0, 0, 0, 0],
            "socket",
        ),
        ("getpid".into(), nr("getpid"), [0; 6], "getpid"),
    ];
    for (step, nr, args, label) in cases {
        let predicted = prog.eval(nr, args);
        let o = sandbox(&[], &policy, &[BIN, "do", &step]);
        let out = stdout(&o);
        match predicted & SECCOMP_RET_ACTION_FULL {
            SECCOMP_RET_ERRNO => {
                let e = (predicted & 0xffff) as i32;
                assert_eq!(code(&o), 0, "{step}: {}", stderr(&o));
                let want = format!("{label}=err:{}", krsi_sandbox::names::errno_display(e));
                assert_eq!(
                    out.trim(),
                    want,
                    "{step}: predicted {}",
                    describe_ret(predicted)
                );
            }
            SECCOMP_RET_ALLOW | SECCOMP_RET_LOG => {
                assert_eq!(code(&o), 0, "{step}: {}", stderr(&o));
                assert!(!out.contains("err:"), "{step}: predicted allow, got {out}");
            }
            _ => {
                assert_eq!(
                    code(&o),
                    SIGSYS_EXIT,
                    "{step}: predicted {}",
                    describe_ret(predicted)
                );
            }
        }
    }
    // And the expectations behind the table, so a broken simulator cannot pass it.
    assert_eq!(
        prog.eval(nr("mkdir"), [0; 6]),
        SECCOMP_RET_ERRNO | libc::EPERM as u32
    );
    assert_eq!(prog.eval(nr("getppid"), [0; 6]), SECCOMP_RET_LOG);
    // The two socket calls differ only in arg0; the filter must tell them apart.
    assert_ne!(
        prog.eval(nr("socket"), [1, 1, 0, 0, 0, 0]),
        prog.eval(nr("socket"), [2, 1, 0, 0, 0, 0])
    );
    assert!(!target.exists());
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_syscalls_are_rejected() {
    let dir = scratch("x32");
    let policy = append(&base_policy(&dir), "x32.policy", "getpid: 1\n");
    let prog = compile_file(&policy, &CompileOptions::new(Arch::native())).unwrap();
    let getpid = syscall_number(Arch::native(), "getpid").unwrap();
    let x32 = describe_ret(prog.eval(getpid | 0x4000_0000, [0; 6]));
    assert!(
        x32.starts_with("kill"),
        "the simulator must reject the x32 number: {x32}"
    );
    // Outside the sandbox the kernel answers the x32 call itself (ENOSYS without
    // CONFIG_X86_X32_ABI); inside, the filter kills before the kernel sees it.
    let o = run(&["do", &format!("x32:{getpid}")]);
    assert_eq!(code(&o), 0);
    let o = sandbox(
        &[],
        &policy,
        &[BIN, "do", "getpid", &format!("x32:{getpid}")],
    );
    assert_eq!(code(&o), SIGSYS_EXIT, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("getpid="),
        "native getpid passes: {}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("x32="));
}

#[test]
fn eacces_without_no_new_privs_or_cap_sys_admin_is_explained() {
    let dir = scratch("eacces");
    let policy = base_policy(&dir);
    let run_without_admin = |extra: &[&str]| {
        let mut args = vec!["sandbox", "--seccomp", policy.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", BIN, "do", "echo:hi"]);
        let mut c = cmd(&args);
        // SAFETY: prctl is async-signal-safe. Root exec'ing with CAP_SYS_ADMIN out of
        // the bounding set ends up without it.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c.output().unwrap()
    };
    let o = run_without_admin(&[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    for want in ["EACCES", "no_new_privs", "CAP_SYS_ADMIN", "--no-new-privs"] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
    assert_eq!(stdout(&o), "", "the command must not run");
    let o = run_without_admin(&["--no-new-privs"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
}

#[test]
fn tsync_makes_kill_take_the_whole_process() {
    let dir = scratch("tsync");
    // Threads make the syscall sequence timing-dependent: learn from several runs.
    let policy = learn_runs(
        &dir,
        "th.policy",
        3,
        &[BIN, "do", "thread:getpid", "echo:survived"],
    );
    // kill-thread: only the thread that called getppid dies.
    let o = sandbox(
        &[],
        &policy,
        &[BIN, "do", "thread:getppid", "echo:survived"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "thread-joined=true\nsurvived\n");
    // --tsync: kill-process.
    let o = sandbox(
        &["--tsync"],
        &policy,
        &[BIN, "do", "thread:getppid", "echo:survived"],
    );
    assert_eq!(code(&o), SIGSYS_EXIT, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn tsync_reaches_threads_that_already_exist() {
    let dir = scratch("tsync2");
    // Threads make the syscall sequence timing-dependent: learn from several runs.
    let policy = learn_runs(
        &dir,
        "th.policy",
        3,
        &[BIN, "do", "thread:getpid", "echo:survived"],
    );
    let arg = |m: &str| format!("tsync:{}:{m}", policy.display());
    // Without TSYNC the worker thread has no filter and getppid works.
    let o = run(&["do", &arg("no")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("installed tsync=false\ngetppid="), "{out}");
    assert!(out.ends_with("worker-joined=true\n"), "{out}");
    // With TSYNC the worker got the filter: its getppid kills the process.
    let o = run(&["do", &arg("yes")]);
    assert_eq!(code(&o), SIGSYS_EXIT, "{}", stderr(&o));
    assert_eq!(stdout(&o), "installed tsync=true\n");
}

#[test]
fn log_mode_allows_and_reports_by_name_with_arguments() {
    let dir = scratch("log");
    let policy = base_policy(&dir);
    // What the simulator says: enforced, mkdir is killed; log-only, it is logged.
    let mkdir = syscall_number(Arch::native(), "mkdir").unwrap();
    let mut opts = CompileOptions::new(Arch::native());
    let enforced = compile_file(&policy, &opts).unwrap();
    assert!(describe_ret(enforced.eval(mkdir, [0; 6])).starts_with("kill"));
    opts.log_only = true;
    let logged = compile_file(&policy, &opts).unwrap();
    assert_eq!(logged.eval(mkdir, [0; 6]), SECCOMP_RET_LOG);
    let target = dir.join("logged-dir");
    let mk = format!("mkdir:{}", target.display());
    let o = sandbox(
        &["--log"],
        &policy,
        &[BIN, "do", &mk, "getppid", "echo:done"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(target.is_dir(), "log mode must let mkdir run");
    assert_eq!(stdout(&o).lines().last(), Some("done"));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "mkdir(\"{}\", 0x1ed) -> blocked by policy, allowed (log mode) [policy: kill-thread]",
            target.display()
        )),
        "{err}"
    );
    assert!(err.contains("getppid() -> blocked by policy"), "{err}");
    // Calls the policy allows are not reported.
    assert!(!err.contains(" write("), "{err}");
}

fn notify_policy(dir: &Path) -> PathBuf {
    append(
        &base_policy(dir),
        "notify.policy",
        "getppid: user-notify\nmkdir: user-notify\nsendmsg: 1\n",
    )
}

#[test]
fn notify_rules_continue_errno_and_emulate() {
    let dir = scratch("notify");
    let policy = notify_policy(&dir);
    let ok = dir.join("ok-dir");
    let rules = dir.join("n.rules");
    std::fs::write(
        &rules,
        format!(
            "# test rules\ngetppid => return 4242\nmkdir if str(arg0) == \"{}\" => continue\nmkdir => errno EACCES\n",
            ok.display()
        ),
    )
    .unwrap();
    let denied = dir.join("denied-dir");
    let o = sandbox(
        &["--notify-rules", rules.to_str().unwrap()],
        &policy,
        &[
            BIN,
            "do",
            "getppid",
            &format!("mkdir:{}", ok.display()),
            &format!("mkdir:{}", denied.display()),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "getppid=4242\nmkdir=0\nmkdir=err:EACCES(13)\n");
    assert!(ok.is_dir());
    assert!(!denied.exists());
    let err = stderr(&o);
    assert!(
        err.contains("n.rules:3:"),
        "TOCTOU warning for the continue rule: {err}"
    );
    assert!(err.contains("getppid() -> return 4242 ["), "{err}");
    assert!(err.contains("-> errno EACCES(13) ["), "{err}");
    assert!(
        err.contains(
            "answered 3 notification(s): 1 continued, 1 errno, 1 emulated; 0 target(s) gone"
        ),
        "{err}"
    );
}

#[test]
fn notify_needs_rules_and_sendmsg() {
    let dir = scratch("notify-bad");
    let base = base_policy(&dir);
    let no_sendmsg = append(&base, "a.policy", "getppid: user-notify\n");
    let rules = dir.join("r.rules");
    std::fs::write(&rules, "* => continue\n").unwrap();
    let o = sandbox(&[], &no_sendmsg, &[BIN, "do", "getppid"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("pass --notify-rules"), "{}", stderr(&o));
    let o = sandbox(
        &["--notify-rules", rules.to_str().unwrap()],
        &no_sendmsg,
        &[BIN, "do", "getppid"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("must allow sendmsg"), "{}", stderr(&o));
    let o = sandbox(
        &["--notify-rules", rules.to_str().unwrap()],
        &base,
        &[BIN, "do", "getppid"],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("no user-notify action"),
        "{}",
        stderr(&o)
    );
    let bad = dir.join("bad.rules");
    std::fs::write(&bad, "getppid => return\n").unwrap();
    let o = sandbox(
        &["--notify-rules", bad.to_str().unwrap()],
        &notify_policy(&dir),
        &[BIN, "do", "getppid"],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("bad.rules:1:18: expected a number or constant at end of line"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_policy_and_missing_files_are_reported() {
    let dir = scratch("badpolicy");
    let p = dir.join("bad.policy");
    std::fs::write(&p, "read: 1\nfrobnicate: 1\n").unwrap();
    let o = sandbox(&[], &p, &["/bin/true"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("bad.policy:2:1: "), "{}", stderr(&o));
    let o = sandbox(&[], &dir.join("missing.policy"), &["/bin/true"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("cannot read policy"), "{}", stderr(&o));
    let ok = learn(&dir, "true.policy", &["/bin/true"]);
    let o = sandbox(&[], &ok, &["/nonexistent/cmd"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("cannot execute /nonexistent/cmd"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_rules_prints_canonical_form_or_located_error() {
    let dir = scratch("check");
    let good = dir.join("g.rules");
    std::fs::write(
        &good,
        "mkdir if arg1 & 0o7 == 0 => errno EPERM # no\n* => continue\n",
    )
    .unwrap();
    let o = run(&["seccomp", "check-rules", good.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "mkdir if arg1 & 0x7 == 0x0 => errno 1\n* => continue\n"
    );
    let bad = dir.join("b.rules");
    std::fs::write(&bad, "\nmkdir if arg1 === 0 => continue\n").unwrap();
    let o = run(&["seccomp", "check-rules", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("b.rules:2:17: "), "{}", stderr(&o));
}
