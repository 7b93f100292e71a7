//! The user-notify plumbing with a hand-built filter (independent of the policy
//! compiler): listener hand-off, target memory reads, the id-valid re-check, and the
//! three kinds of answers.
use std::path::PathBuf;
use std::process::{Command, Stdio};

use krsi_sandbox::launcher::spawn_command;
use krsi_sandbox::sys::{self, Listener, MemError, Notification, Reply, TargetMem};
use krsi_seccomp::bpf::{
    BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
    SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_USER_NOTIF,
};
use krsi_seccomp::{syscall_number, Arch, SockFilter};

const BIN: &str = env!("CARGO_BIN_EXE_krsi-sandbox-testbin");

/// mkdir → USER_NOTIF, everything else allowed, foreign arch killed.
fn mkdir_notify_filter() -> Vec<SockFilter> {
    let arch = Arch::native();
    let mkdir = syscall_number(arch, "mkdir")
        .or(syscall_number(arch, "mkdirat"))
        .unwrap();
    vec![
        SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 4),
        SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, arch.audit_arch(), 1, 0),
        SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
        SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, mkdir, 0, 1),
        SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    ]
}

/// A scratch directory, removed when the test passes.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
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
    let d = std::env::temp_dir().join(format!("krsi-notify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

fn start(dir: &std::path::Path) -> (std::process::Child, Listener, PathBuf) {
    let target = dir.join("made");
    let mut cmd = Command::new(BIN);
    cmd.args(["do", &format!("mkdir:{}", target.display()), "echo:after"])
        .stdout(Stdio::piped());
    let sp = spawn_command(
        cmd,
        &mkdir_notify_filter(),
        sys::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        true,
        |f, _| f.to_vec(),
    )
    .unwrap();
    (sp.child, sp.listener.expect("listener handed over"), target)
}

fn next(l: &Listener) -> Notification {
    loop {
        if let Some(n) = l.recv().unwrap() {
            return n;
        }
    }
}

fn output(child: std::process::Child) -> String {
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn id_valid_recheck_refuses_memory_of_a_dead_target() {
    let dir = scratch("idvalid");
    let (mut child, l, target) = start(&dir);
    let n = next(&l);
    assert_eq!(n.pid, child.id());
    let mut mem = TargetMem::new(&l, &n);
    assert_eq!(
        mem.read_cstr(n.data.args[0], 4096),
        Ok(target.to_str().unwrap().as_bytes().to_vec())
    );
    assert!(l.id_valid(n.id));
    // The target dies while blocked in the notification: its pid may now be anyone's.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!l.id_valid(n.id));
    // Both an already-open /proc/<pid>/mem and a fresh one are refused.
    assert_eq!(mem.read_cstr(n.data.args[0], 4096), Err(MemError::Gone));
    let mut fresh = TargetMem::new(&l, &n);
    assert_eq!(fresh.read_cstr(n.data.args[0], 4096), Err(MemError::Gone));
    // Answering a dead notification is reported, not an error.
    assert!(!l.respond(n.id, Reply::Continue).unwrap());
    assert!(!target.exists());
}

#[test]
fn continue_lets_the_kernel_run_the_call() {
    let dir = scratch("continue");
    let (child, l, target) = start(&dir);
    let n = next(&l);
    assert!(l.respond(n.id, Reply::Continue).unwrap());
    assert_eq!(output(child), "mkdir=0\nafter\n");
    assert!(target.is_dir());
}

#[test]
fn errno_fails_the_call() {
    let dir = scratch("errno");
    let (child, l, target) = start(&dir);
    let n = next(&l);
    assert!(l.respond(n.id, Reply::Errno(libc::EROFS)).unwrap());
    assert_eq!(output(child), "mkdir=err:EROFS(30)\nafter\n");
    assert!(!target.exists());
}

#[test]
fn emulated_result_skips_the_call() {
    let dir = scratch("emulate");
    let (child, l, target) = start(&dir);
    let n = next(&l);
    assert!(l.respond(n.id, Reply::Return(0)).unwrap());
    // The program sees success, yet the kernel never made the directory.
    assert_eq!(output(child), "mkdir=0\nafter\n");
    assert!(!target.exists());
}
