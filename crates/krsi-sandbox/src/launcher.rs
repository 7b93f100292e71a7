//! `krsi sandbox`: fork, install the filter in the child, exec the command, and (when
//! the filter can notify) supervise it from the parent.
//!
//! Listener hand-off: the child installs the filter with
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER` and sends the listener fd to the parent over a
//! close-on-exec `SOCK_SEQPACKET` socketpair with SCM_RIGHTS, then execs. So after the
//! filter is in place the launcher itself makes only `sendmsg` (notify and log modes)
//! and `execve`; a failed exec additionally needs `write` and `exit_group`.
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};

use anyhow::{bail, Context};
use krsi_seccomp::bpf::{
    arg_hi_offset, arg_lo_offset, BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W,
    SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_LOG, SECCOMP_RET_USER_NOTIF,
};
use krsi_seccomp::{simulate, syscall_number, Arch, SeccompData, SockFilter};

use crate::names;
use crate::notify::{Mode, Stats, Supervisor};
use crate::rules::RuleSet;
use crate::sys::{self, Listener};

/// Everything `krsi sandbox` needs once the policy is compiled.
pub struct Sandbox {
    /// The compiled policy (for `--log`, compiled with `log_only`).
    pub filter: Vec<SockFilter>,
    pub arch: Arch,
    pub no_new_privs: bool,
    pub tsync: bool,
    /// Report `SECCOMP_RET_LOG` decisions by name and arguments (see [`log_filter`]).
    pub log: bool,
    /// Answers for the policy's `user-notify` actions.
    pub rules: Option<RuleSet>,
    /// Log mode: the policy compiled for enforcement, so reports can say what it
    /// would have done.
    pub enforced: Option<Vec<SockFilter>>,
    pub command: Vec<OsString>,
    /// Ignore SIGINT/SIGQUIT in this process once the command runs (as `system(3)`
    /// does): the terminal sends them to the command too, and krsi should live to
    /// report how it ended. Only for a launcher process, never inside a library user.
    pub ignore_terminal_signals: bool,
}

/// Steps of the child's setup, encoded with the errno in the error the child reports
/// (`std` passes the raw i32 from a `pre_exec` failure through unchanged).
const STEP_NNP: i32 = 1;
const STEP_SECCOMP: i32 = 2;
const STEP_SEND: i32 = 3;

fn ret_k(ins: &SockFilter) -> Option<u32> {
    (ins.code == BPF_RET | BPF_K).then_some(ins.k)
}

/// Does any return instruction of `filter` produce `action`?
pub fn has_action(filter: &[SockFilter], action: u32) -> bool {
    filter
        .iter()
        .filter_map(ret_k)
        .any(|k| k & SECCOMP_RET_ACTION_FULL == action)
}

/// Log mode: the kernel's SECCOMP_RET_LOG records (audit/kmsg) carry the syscall
/// number but no arguments, so every `ret LOG` becomes `ret USER_NOTIF` and the
/// supervisor reports name and arguments before answering CONTINUE. The launcher's
/// own `sendmsg` on `sock_fd` (needed to hand the listener over) is exempted with a
/// plain LOG, or it would wait for a supervisor that does not have the fd yet.
pub fn log_filter(filter: &[SockFilter], arch: Arch, sock_fd: i32) -> Vec<SockFilter> {
    let sendmsg = syscall_number(arch, "sendmsg").expect("every arch has sendmsg");
    let ld = |k| SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, k);
    let jeq = |k, jf| SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, k, 0, jf);
    let mut out = vec![
        ld(4),
        jeq(arch.audit_arch(), 7),
        ld(0),
        jeq(sendmsg, 5),
        ld(arg_lo_offset(0)),
        jeq(sock_fd as u32, 3),
        ld(arg_hi_offset(0)),
        jeq(0, 1),
        SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_LOG),
    ];
    out.extend(filter.iter().map(|ins| match ret_k(ins) {
        Some(k) if k & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_LOG => {
            SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)
        }
        _ => *ins,
    }));
    out
}

/// Resolves `cmd` through PATH in the parent, so the child makes exactly one execve,
/// and checks it is executable: a failing exec in the child would need `write` and
/// `exit_group` under the filter just to report the error.
pub fn resolve_command(cmd: &Path) -> anyhow::Result<PathBuf> {
    if cmd.as_os_str().as_encoded_bytes().contains(&b'/') {
        let c = std::ffi::CString::new(cmd.as_os_str().as_encoded_bytes())
            .context("NUL in the command path")?;
        // SAFETY: access() reads a NUL-terminated path.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
            bail!(
                "cannot execute {}: {}",
                cmd.display(),
                std::io::Error::last_os_error()
            );
        }
        return Ok(cmd.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let cand = dir.join(cmd);
        if let Ok(meta) = std::fs::metadata(&cand) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    bail!("{}: command not found in PATH", cmd.display())
}

/// The explanation for a failed child setup step.
fn explain(step: i32, errno: i32, no_new_privs: bool) -> String {
    let e = names::errno_display(errno);
    match (step, errno) {
        (STEP_SECCOMP, libc::EACCES) if !no_new_privs => format!(
            "seccomp(SECCOMP_SET_MODE_FILTER) failed with {e}: the kernel only lets a task \
             install a filter if it has no_new_privs set or holds CAP_SYS_ADMIN in its user \
             namespace (otherwise a filter could make a setuid-root program fail in ways it \
             does not expect and abuse its privileges). Rerun with --no-new-privs, or as a \
             user with CAP_SYS_ADMIN"
        ),
        (STEP_SECCOMP, libc::EINVAL) => format!(
            "seccomp(SECCOMP_SET_MODE_FILTER) failed with {e}: the kernel rejected the \
             filter or a flag (TSYNC with a listener needs Linux 5.7, user-notify 5.0)"
        ),
        (STEP_SECCOMP, libc::ESRCH) => format!(
            "seccomp(SECCOMP_SET_MODE_FILTER) failed with {e}: TSYNC could not synchronise \
             another thread that already has a different filter"
        ),
        (STEP_SECCOMP, _) => format!("seccomp(SECCOMP_SET_MODE_FILTER) failed with {e}"),
        (STEP_NNP, _) => format!("prctl(PR_SET_NO_NEW_PRIVS) failed with {e}"),
        (STEP_SEND, _) => format!(
            "sending the seccomp listener to the supervisor failed with {e}: the policy \
             must allow sendmsg, which the launcher needs after installing the filter"
        ),
        _ => format!("sandbox setup failed with {e}"),
    }
}

/// A spawned sandboxed child and, when the filter can notify, its listener.
pub struct Spawned {
    pub child: Child,
    pub listener: Option<Listener>,
}

/// Forks, installs `filter` with `flags` in the child (after `no_new_privs` when asked),
/// hands the listener over when `flags` has NEW_LISTENER, and execs `command`.
/// `prepare` may rewrite the filter once the socket fd number is known.
pub fn spawn(
    filter: &[SockFilter],
    flags: libc::c_ulong,
    no_new_privs: bool,
    command: &[OsString],
    prepare: impl FnOnce(&[SockFilter], i32) -> Vec<SockFilter>,
) -> anyhow::Result<Spawned> {
    let Some((prog, args)) = command.split_first() else {
        bail!("no command given");
    };
    let path = resolve_command(Path::new(prog))?;
    let mut cmd = Command::new(&path);
    cmd.arg0(prog).args(args);
    spawn_command(cmd, filter, flags, no_new_privs, prepare)
}

/// [`spawn`] for a caller-built `Command` (stdio, environment, ...). The program
/// should be an absolute path so the child makes a single execve.
pub fn spawn_command(
    mut cmd: Command,
    filter: &[SockFilter],
    flags: libc::c_ulong,
    no_new_privs: bool,
    prepare: impl FnOnce(&[SockFilter], i32) -> Vec<SockFilter>,
) -> anyhow::Result<Spawned> {
    let want_listener = flags & sys::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0;
    let (parent_sock, child_sock) = sys::socketpair().context("socketpair")?;
    let sock_fd = child_sock.as_raw_fd();
    let hook_filter = prepare(filter, sock_fd);
    // SAFETY: the hook only calls async-signal-safe functions (prctl, seccomp, sendmsg)
    // on data allocated before fork.
    unsafe {
        cmd.pre_exec(move || {
            let fail = |step: i32, e: i32| std::io::Error::from_raw_os_error((step << 16) | e);
            if no_new_privs {
                sys::set_no_new_privs().map_err(|e| fail(STEP_NNP, e))?;
            }
            let fd = sys::install_filter(&hook_filter, flags).map_err(|e| fail(STEP_SECCOMP, e))?;
            if want_listener {
                sys::send_fd(sock_fd, fd).map_err(|e| fail(STEP_SEND, e))?;
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = e.raw_os_error().unwrap_or(0);
            let (step, errno) = (code >> 16, code & 0xffff);
            if step == 0 {
                bail!(
                    "cannot execute {}: {e}",
                    Path::new(cmd.get_program()).display()
                );
            }
            bail!("{}", explain(step, errno, no_new_privs));
        }
    };
    drop(child_sock);
    let listener = if want_listener {
        let fd = sys::recv_fd(&parent_sock)
            .context("receiving the seccomp listener")?
            .context("the sandboxed child did not send its seccomp listener")?;
        Some(Listener::new(fd).context("SECCOMP_GET_NOTIF_SIZES")?)
    } else {
        None
    };
    Ok(Spawned { child, listener })
}

/// The exit code krsi returns for the child's status (shell convention for signals).
pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    }
}

/// The outcome of a sandboxed run.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stats: Stats,
}

impl Sandbox {
    /// The filter flags for this configuration.
    pub fn flags(&self, listener: bool) -> libc::c_ulong {
        let mut flags = 0;
        if self.tsync {
            flags |= sys::SECCOMP_FILTER_FLAG_TSYNC;
            if listener {
                // TSYNC and NEW_LISTENER may only be combined with TSYNC_ESRCH.
                flags |= sys::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            }
        }
        if listener {
            flags |= sys::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        }
        if self.log {
            // Also leave the kernel's own audit record for each logged action.
            flags |= sys::SECCOMP_FILTER_FLAG_LOG;
        }
        flags
    }

    /// Checks the configuration before anything runs.
    fn check(&self) -> anyhow::Result<bool> {
        let notify = has_action(&self.filter, SECCOMP_RET_USER_NOTIF);
        if self.log && self.rules.is_some() {
            bail!("--notify-rules has no effect with --log: log mode turns every action of the policy into a logged allow");
        }
        if !notify && self.rules.is_some() {
            bail!("--notify-rules has no effect: the policy has no user-notify action");
        }
        if notify && !self.log {
            if self.rules.is_none() {
                bail!("the policy has user-notify actions: pass --notify-rules FILE to say how krsi answers them");
            }
            // The launcher sends the listener with sendmsg after the filter is in place;
            // if the policy notified on that call, nobody could answer it.
            let nr = syscall_number(self.arch, "sendmsg").expect("sendmsg exists");
            let data = SeccompData {
                nr: nr as i32,
                arch: self.arch.audit_arch(),
                instruction_pointer: 0,
                args: [3, 0, libc::MSG_NOSIGNAL as u64, 0, 0, 0],
            };
            let ret = simulate(&self.filter, &data);
            if ret & SECCOMP_RET_ACTION_FULL != SECCOMP_RET_ALLOW {
                bail!(
                    "the policy must allow sendmsg (it says {}): after installing a filter with \
                     user-notify actions the launcher sends the listener fd to the supervisor \
                     with sendmsg",
                    krsi_seccomp::bpf::describe_ret(ret)
                );
            }
        }
        Ok(notify || self.log)
    }

    /// Runs the command to completion; supervision reports go to `report`.
    pub fn run(mut self, report: &mut dyn Write) -> anyhow::Result<Outcome> {
        let listener = self.check()?;
        let flags = self.flags(listener);
        let log = self.log;
        let arch = self.arch;
        let spawned = spawn(
            &self.filter,
            flags,
            self.no_new_privs,
            &self.command,
            |f, sock| {
                if log {
                    log_filter(f, arch, sock)
                } else {
                    f.to_vec()
                }
            },
        )?;
        let mut child = spawned.child;
        if self.ignore_terminal_signals {
            // SAFETY: setting a signal disposition to SIG_IGN has no other effect. The
            // child already exec'd with the default dispositions.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            }
        }
        let Some(listener) = spawned.listener else {
            let status = child.wait().context("waiting for the sandboxed command")?;
            return Ok(Outcome {
                status,
                stats: Stats::default(),
            });
        };
        let mode = match self.rules.take() {
            Some(r) => Mode::Rules(r),
            None => Mode::Log {
                enforced: self.enforced.take(),
            },
        };
        let pidfd = sys::pidfd_open(child.id()).context("pidfd_open")?;
        let mut status = None;
        let stats = {
            let mut sup = Supervisor::new(listener, mode, report);
            sup.arch = arch;
            sup.run(Some(&pidfd), || {
                status = Some(child.wait()?);
                Ok(())
            })
            .context("supervising the sandboxed command")?
        };
        let status = match status {
            Some(s) => s,
            None => child.wait()?,
        };
        Ok(Outcome { status, stats })
    }
}

/// A one-line description of how the command ended, when it did not exit normally.
pub fn describe_status(status: ExitStatus) -> Option<String> {
    let sig = status.signal()?;
    let mut s = format!("command killed by {}", names::signal_name(sig));
    if sig == libc::SIGSYS {
        s.push_str(" (a syscall hit a kill action of the seccomp policy)");
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use krsi_seccomp::bpf::SECCOMP_RET_KILL_THREAD;

    fn data(arch: Arch, name: &str, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr: syscall_number(arch, name).unwrap() as i32,
            arch: arch.audit_arch(),
            instruction_pointer: 0,
            args,
        }
    }

    /// read → allow, everything else → log (what a log_only compile produces).
    fn log_only_filter(arch: Arch) -> Vec<SockFilter> {
        let read = syscall_number(arch, "read").unwrap();
        vec![
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 4),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, arch.audit_arch(), 1, 0),
            SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, read, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            SockFilter::stmt(BPF_RET | BPF_K, SECCOMP_RET_LOG),
        ]
    }

    #[test]
    fn log_filter_notifies_logged_calls_but_not_the_launchers_sendmsg() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let orig = log_only_filter(arch);
            let f = log_filter(&orig, arch, 5);
            assert!(!has_action(&f[9..], SECCOMP_RET_LOG));
            assert!(has_action(&f, SECCOMP_RET_USER_NOTIF));
            let run = |d: &SeccompData| simulate(&f, d);
            assert_eq!(run(&data(arch, "read", [0; 6])), SECCOMP_RET_ALLOW);
            assert_eq!(run(&data(arch, "mkdirat", [0; 6])), SECCOMP_RET_USER_NOTIF);
            // The hand-over on fd 5 stays a plain LOG; any other sendmsg is reported.
            assert_eq!(
                run(&data(arch, "sendmsg", [5, 0, 0, 0, 0, 0])),
                SECCOMP_RET_LOG
            );
            assert_eq!(
                run(&data(arch, "sendmsg", [6, 0, 0, 0, 0, 0])),
                SECCOMP_RET_USER_NOTIF
            );
            assert_eq!(
                run(&data(arch, "sendmsg", [5 | 1 << 32, 0, 0, 0, 0, 0])),
                SECCOMP_RET_USER_NOTIF
            );
            // Another architecture goes straight to the original program.
            let mut foreign = data(arch, "sendmsg", [5, 0, 0, 0, 0, 0]);
            foreign.arch = 0x4000_0003;
            assert_eq!(run(&foreign), SECCOMP_RET_KILL_THREAD);
        }
    }

    #[test]
    fn explanations() {
        let e = explain(STEP_SECCOMP, libc::EACCES, false);
        assert!(
            e.contains("no_new_privs") && e.contains("CAP_SYS_ADMIN"),
            "{e}"
        );
        assert!(e.contains("--no-new-privs"), "{e}");
        let e = explain(STEP_SECCOMP, libc::EACCES, true);
        assert!(!e.contains("--no-new-privs"), "{e}");
        assert!(explain(STEP_SEND, libc::EPERM, true).contains("must allow sendmsg"));
        assert!(explain(STEP_NNP, libc::EINVAL, true).contains("PR_SET_NO_NEW_PRIVS"));
    }

    #[test]
    fn path_resolution() {
        assert_eq!(
            resolve_command(Path::new("/bin/sh")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = resolve_command(Path::new("./no-such-x")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot execute ./no-such-x: No such file"),
            "{e}"
        );
        let sh = resolve_command(Path::new("sh")).unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        let e = resolve_command(Path::new("no-such-krsi-cmd")).unwrap_err();
        assert_eq!(e.to_string(), "no-such-krsi-cmd: command not found in PATH");
    }
}
