//! The user-notification supervisor: answers every syscall the filter hands to
//! `SECCOMP_RET_USER_NOTIF`, either by a rule set or (log mode) by reporting the
//! call and letting it continue.
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use krsi_seccomp::bpf::describe_ret;
use krsi_seccomp::{simulate, syscall_name, Arch, SockFilter};

use crate::names;
use crate::rules::{RuleSet, TargetMemory};
use crate::sys::{Listener, MemError, Notification, Reply, TargetMem};

/// What the supervisor does with a notification.
pub enum Mode {
    /// Answer with the rule set.
    Rules(RuleSet),
    /// `--log`: report the blocked call by name with arguments, then CONTINUE.
    /// `enforced` is the policy compiled without log mode, to say what it would do.
    Log { enforced: Option<Vec<SockFilter>> },
}

/// Memoises string reads for one notification, so the report shows exactly the bytes
/// the decision was made on (a second read could see a string swapped meanwhile).
struct CachedMem<'m, 'l> {
    inner: &'m mut TargetMem<'l>,
    seen: HashMap<u64, Result<Vec<u8>, MemError>>,
}

impl TargetMemory for CachedMem<'_, '_> {
    fn read_cstr(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, MemError> {
        if let Some(r) = self.seen.get(&addr) {
            return r.clone();
        }
        let r = self.inner.read_cstr(addr, max);
        self.seen.insert(addr, r.clone());
        r
    }
}

/// Counts of what the supervisor did, for the summary line and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub continued: u64,
    pub errno: u64,
    pub emulated: u64,
    /// Targets that vanished before an answer could be sent.
    pub gone: u64,
}

pub struct Supervisor<'a> {
    pub listener: Listener,
    pub mode: Mode,
    pub arch: Arch,
    pub out: &'a mut dyn Write,
    pub stats: Stats,
}

impl<'a> Supervisor<'a> {
    pub fn new(listener: Listener, mode: Mode, out: &'a mut dyn Write) -> Self {
        Supervisor {
            listener,
            mode,
            arch: Arch::native(),
            out,
            stats: Stats::default(),
        }
    }

    /// Handles one notification: decide, report, answer.
    pub fn handle(&mut self, n: &Notification) -> std::io::Result<()> {
        let mut target = TargetMem::new(&self.listener, n);
        let mut mem = CachedMem {
            inner: &mut target,
            seen: HashMap::new(),
        };
        let (reply, why) = match &self.mode {
            Mode::Rules(rules) => match rules.decide(n, &mut mem) {
                Ok(d) => (
                    d.reply,
                    match d.line {
                        Some(l) => format!("{}:{l}", rules.file),
                        None => "no rule matched".to_string(),
                    },
                ),
                // decide() maps unreadable strings to "no match" itself; only a
                // vanished target ends here, and it must not be answered.
                Err(_) => {
                    self.stats.gone += 1;
                    return Ok(());
                }
            },
            Mode::Log { enforced } => (
                Reply::Continue,
                match enforced {
                    Some(f) => format!("policy: {}", describe_ret(simulate(f, &n.data))),
                    None => "log mode".to_string(),
                },
            ),
        };
        let call = match describe_call(self.arch, n, &mut mem) {
            Ok(c) => c,
            Err(_) => {
                self.stats.gone += 1;
                return Ok(());
            }
        };
        let verdict = match reply {
            Reply::Continue if matches!(self.mode, Mode::Log { .. }) => {
                "blocked by policy, allowed (log mode)".to_string()
            }
            Reply::Continue => "continue".to_string(),
            Reply::Errno(e) => format!("errno {}", names::errno_display(e)),
            Reply::Return(v) => format!("return {v}"),
        };
        let prefix = if matches!(self.mode, Mode::Log { .. }) {
            "krsi: seccomp log"
        } else {
            "krsi: notify"
        };
        // A broken report stream must not stop supervision (the target would hang).
        let _ = writeln!(
            self.out,
            "{prefix}: pid {} {call} -> {verdict} [{why}]",
            n.pid
        );
        if self.listener.respond(n.id, reply)? {
            match reply {
                Reply::Continue => self.stats.continued += 1,
                Reply::Errno(_) => self.stats.errno += 1,
                Reply::Return(_) => self.stats.emulated += 1,
            }
        } else {
            self.stats.gone += 1;
        }
        Ok(())
    }

    /// Serves notifications until every task using the filter is gone. `child`, when
    /// given, is polled too so the caller can reap it (a zombie still holds the filter,
    /// so the listener only hangs up once it is reaped); `on_exit` is called once when
    /// it becomes readable.
    pub fn run(
        &mut self,
        child: Option<&OwnedFd>,
        mut on_exit: impl FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<Stats> {
        let mut watch_child = child.is_some();
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: self.listener.fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: child.map_or(-1, |c| c.as_raw_fd()),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let nfds = if watch_child { 2 } else { 1 };
            // SAFETY: fds holds nfds valid pollfd entries.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), nfds, -1) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if watch_child && fds[1].revents != 0 {
                watch_child = false;
                on_exit()?;
            }
            let ev = fds[0].revents;
            if ev & libc::POLLIN != 0 {
                if let Some(n) = self.listener.recv()? {
                    self.handle(&n)?;
                }
            } else if ev & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                return Ok(self.stats);
            }
        }
    }
}

/// `name(arg, ...)` with paths read from the target (re-checking the notification id)
/// and the other arguments in hex.
pub fn describe_call(
    arch: Arch,
    n: &Notification,
    mem: &mut dyn crate::rules::TargetMemory,
) -> Result<String, MemError> {
    if n.data.arch != arch.audit_arch() {
        return Ok(format!(
            "syscall {} (arch {:#x})({})",
            n.data.nr,
            n.data.arch,
            hex_args(&n.data.args, 6)
        ));
    }
    let name = syscall_name(arch, n.data.nr as u32);
    let label = name
        .map(str::to_string)
        .unwrap_or_else(|| format!("syscall_{}", n.data.nr));
    let paths = name.map_or(&[][..], names::path_args);
    let count = name.map_or(6, arg_count);
    let mut parts = Vec::new();
    for (i, &a) in n.data.args.iter().enumerate().take(count) {
        if paths.contains(&i) && a != 0 {
            match mem.read_cstr(a, crate::rules::STR_MAX) {
                Ok(s) => parts.push(format!("{:?}", String::from_utf8_lossy(&s))),
                Err(MemError::Unreadable) => parts.push(format!("{a:#x}")),
                Err(MemError::Gone) => return Err(MemError::Gone),
            }
        } else {
            parts.push(format!("{a:#x}"));
        }
    }
    Ok(format!("{label}({})", parts.join(", ")))
}

fn hex_args(args: &[u64; 6], count: usize) -> String {
    args.iter()
        .take(count)
        .map(|a| format!("{a:#x}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many arguments a syscall takes, so reports do not show stale registers.
/// Unknown syscalls show all six.
pub fn arg_count(name: &str) -> usize {
    match name {
        "getpid" | "getppid" | "gettid" | "getuid" | "geteuid" | "getgid" | "getegid"
        | "sched_yield" | "fork" | "vfork" | "pause" | "sync" | "setsid" | "getpgrp"
        | "inotify_init" | "munlockall" | "vhangup" | "restart_syscall" | "rt_sigreturn" => 0,
        "close" | "dup" | "exit" | "exit_group" | "chdir" | "fchdir" | "rmdir" | "unlink"
        | "brk" | "uname" | "alarm" | "umask" | "chroot" | "acct" | "fsync" | "fdatasync"
        | "pipe" | "set_tid_address" | "getpgid" | "getsid" | "personality" | "sysinfo"
        | "times" | "epoll_create" | "epoll_create1" | "inotify_init1" | "eventfd" | "mlockall"
        | "syncfs" | "unshare" | "setuid" | "setgid" | "time" | "pipe2" => 1,
        "mkdir" | "access" | "stat" | "lstat" | "fstat" | "creat" | "dup2" | "kill" | "rename"
        | "link" | "symlink" | "chmod" | "fchmod" | "truncate" | "ftruncate" | "munmap"
        | "listen" | "shutdown" | "umount2" | "flock" | "getrlimit" | "setrlimit" | "getrusage"
        | "gettimeofday" | "settimeofday" | "clock_gettime" | "clock_getres" | "nanosleep"
        | "sigaltstack" | "setpgid" | "capget" | "capset" | "set_robust_list" | "arch_prctl"
        | "pidfd_open" | "setns" | "memfd_create" | "tkill" | "statfs" | "fstatfs" | "getcwd"
        | "setreuid" | "setregid" | "utime" | "utimes" | "eventfd2" | "timerfd_create"
        | "pivot_root" | "swapon" => 2,
        "read" | "write" | "open" | "lseek" | "mprotect" | "ioctl" | "readv" | "writev"
        | "madvise" | "socket" | "connect" | "accept" | "bind" | "getsockname" | "getpeername"
        | "sendmsg" | "recvmsg" | "fcntl" | "chown" | "fchown" | "lchown" | "mknod"
        | "readlink" | "getdents" | "getdents64" | "poll" | "mkdirat" | "unlinkat"
        | "symlinkat" | "fchmodat" | "execve" | "tgkill" | "getrandom" | "dup3" | "mincore"
        | "msync" | "setresuid" | "setresgid" | "getresuid" | "getresgid" | "sched_getaffinity"
        | "sched_setaffinity" | "getpriority" | "setpriority" | "faccessat"
        | "inotify_add_watch" | "seccomp" | "lsetxattr" | "getitimer" | "setitimer" | "shmget"
        | "shmat" | "mlock2" => 3,
        "openat" | "pread64" | "pwrite64" | "newfstatat" | "rt_sigaction" | "rt_sigprocmask"
        | "socketpair" | "accept4" | "sendfile" | "wait4" | "readlinkat" | "renameat"
        | "faccessat2" | "mknodat" | "utimensat" | "prlimit64" | "fallocate" | "epoll_ctl"
        | "epoll_wait" | "timerfd_settime" | "openat2" | "pidfd_send_signal"
        | "clock_nanosleep" | "rseq" | "tee" | "ptrace" | "quotactl" | "mremap" => 4,
        "prctl" | "mount" | "fchownat" | "linkat" | "renameat2" | "execveat" | "statx"
        | "clone" | "clone3" | "waitid" | "keyctl" | "setsockopt" | "getsockopt" | "ppoll"
        | "select" | "perf_event_open" | "epoll_pwait" => 5,
        _ => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krsi_seccomp::{syscall_number, SeccompData};
    use std::collections::HashMap;

    struct Mem(HashMap<u64, Vec<u8>>);
    impl crate::rules::TargetMemory for Mem {
        fn read_cstr(&mut self, addr: u64, _: usize) -> Result<Vec<u8>, MemError> {
            if addr == 0xdead {
                return Err(MemError::Gone);
            }
            self.0.get(&addr).cloned().ok_or(MemError::Unreadable)
        }
    }

    fn n(name: &str, args: [u64; 6]) -> Notification {
        Notification {
            id: 7,
            pid: 1,
            data: SeccompData {
                nr: syscall_number(Arch::X86_64, name).unwrap() as i32,
                arch: Arch::X86_64.audit_arch(),
                instruction_pointer: 0,
                args,
            },
        }
    }

    #[test]
    fn describes_calls_with_paths() {
        let mut mem = Mem(HashMap::from([(0x1000, b"/tmp/x".to_vec())]));
        let s = describe_call(
            Arch::X86_64,
            &n("mkdir", [0x1000, 0o755, 9, 9, 9, 9]),
            &mut mem,
        );
        assert_eq!(s.unwrap(), "mkdir(\"/tmp/x\", 0x1ed)");
        let s = describe_call(
            Arch::X86_64,
            &n("openat", [0xffffff9c, 0x2000, 0, 0, 0, 0]),
            &mut mem,
        );
        assert_eq!(s.unwrap(), "openat(0xffffff9c, 0x2000, 0x0, 0x0)");
        let s = describe_call(Arch::X86_64, &n("getppid", [1; 6]), &mut mem);
        assert_eq!(s.unwrap(), "getppid()");
        let s = describe_call(Arch::X86_64, &n("mkdir", [0xdead, 0, 0, 0, 0, 0]), &mut mem);
        assert_eq!(s, Err(MemError::Gone));
    }
}
