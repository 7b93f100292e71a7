//! Thin wrappers over the raw seccomp, user-notification and fd-passing syscalls.
//!
//! Functions marked "async-signal-safe" do not allocate or lock: they run in the
//! child between `fork` and `execve`, where only such code is allowed.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use krsi_seccomp::{SeccompData, SockFilter};

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_GET_NOTIF_SIZES: libc::c_uint = 3;

pub use libc::{
    SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_TSYNC,
    SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
};

// The kernel's `struct sock_filter` and ours must be the same thing.
const _: () =
    assert!(std::mem::size_of::<SockFilter>() == std::mem::size_of::<libc::sock_filter>());

/// The calling thread's errno. Async-signal-safe.
pub fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid thread-local pointer.
    unsafe { *libc::__errno_location() }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`. Async-signal-safe; returns the errno on failure.
pub fn set_no_new_privs() -> Result<(), i32> {
    // SAFETY: plain prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. Returns the listener fd when
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` is set (0 otherwise), or the errno.
/// Async-signal-safe.
pub fn install_filter(filter: &[SockFilter], flags: libc::c_ulong) -> Result<RawFd, i32> {
    if filter.is_empty() || filter.len() > u16::MAX as usize {
        return Err(libc::EINVAL);
    }
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as RawFd)
    }
}

/// Sends `fd` over the unix socket `sock` as SCM_RIGHTS. Async-signal-safe.
pub fn send_fd(sock: RawFd, fd: RawFd) -> Result<(), i32> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one cmsghdr carrying one int, suitably aligned.
    let mut cbuf = [0u64; 4];
    // SAFETY: all pointers refer to live stack buffers sized for one SCM_RIGHTS fd.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(errno());
        }
    }
    Ok(())
}

/// Receives one fd sent with [`send_fd`]; `Ok(None)` when the peer closed without sending.
pub fn recv_fd(sock: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut cbuf = [0u64; 4];
    // SAFETY: buffers are live and sized for one SCM_RIGHTS fd; MSG_CMSG_CLOEXEC keeps
    // the received fd from leaking into later children.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = loop {
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || errno() != libc::EINTR {
                break n;
            }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if n == 0 || cmsg.is_null() {
            return Ok(None);
        }
        if (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::other("unexpected control message"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

/// A connected `AF_UNIX` `SOCK_SEQPACKET` pair, both ends close-on-exec.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for the two descriptors.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed us these two fresh descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// One pending user notification (`struct seccomp_notif`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: u64,
    pub pid: u32,
    pub data: SeccompData,
}

/// How the supervisor answers a notification (`struct seccomp_notif_resp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Let the kernel run the syscall as if no filter had asked (FLAG_CONTINUE).
    Continue,
    /// Fail the syscall with this errno (1..=4095).
    Errno(i32),
    /// Skip the syscall and make it return this value.
    Return(i64),
}

/// The listening end of a filter installed with `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    /// The kernel's `sizeof(struct seccomp_notif)`, which may exceed ours on newer kernels.
    notif_size: usize,
}

impl Listener {
    pub fn new(fd: OwnedFd) -> io::Result<Self> {
        let mut sizes = libc::seccomp_notif_sizes {
            seccomp_notif: 0,
            seccomp_notif_resp: 0,
            seccomp_data: 0,
        };
        // SAFETY: the kernel fills in the three u16 sizes.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_GET_NOTIF_SIZES,
                0,
                &mut sizes as *mut libc::seccomp_notif_sizes,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let ours = std::mem::size_of::<libc::seccomp_notif>();
        Ok(Listener {
            fd,
            notif_size: (sizes.seccomp_notif as usize).max(ours),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Waits for the next notification. `Ok(None)` means the target went away between
    /// poll and receive (ENOENT) or the call was interrupted; just try again.
    pub fn recv(&self) -> io::Result<Option<Notification>> {
        // The kernel insists on a zeroed buffer and may write more than our struct.
        let words = self.notif_size.div_ceil(8);
        let mut buf = vec![0u64; words];
        // SAFETY: buf is at least the kernel's struct size and 8-byte aligned.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                buf.as_mut_ptr(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::EINTR) => Ok(None),
                _ => Err(e),
            };
        }
        // SAFETY: the buffer starts with a complete `struct seccomp_notif`.
        let n: libc::seccomp_notif = unsafe { std::ptr::read(buf.as_ptr().cast()) };
        Ok(Some(Notification {
            id: n.id,
            pid: n.pid,
            data: SeccompData {
                nr: n.data.nr,
                arch: n.data.arch,
                instruction_pointer: n.data.instruction_pointer,
                args: n.data.args,
            },
        }))
    }

    /// SECCOMP_IOCTL_NOTIF_ID_VALID: is the target still blocked in this very
    /// notification? After it returns true, a pid read from the notification (and
    /// anything opened through /proc/<pid> before the check) refers to the target.
    pub fn id_valid(&self, id: u64) -> bool {
        let mut id = id;
        // SAFETY: the ioctl reads one u64.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                &mut id as *mut u64,
            )
        };
        r == 0
    }

    /// Answers notification `id`. `Ok(false)` when the target is gone (it was killed
    /// or a signal interrupted the syscall), which is not an error for a supervisor.
    pub fn respond(&self, id: u64, reply: Reply) -> io::Result<bool> {
        let mut resp = libc::seccomp_notif_resp {
            id,
            val: 0,
            error: 0,
            flags: 0,
        };
        match reply {
            Reply::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            Reply::Errno(e) => resp.error = -e,
            Reply::Return(v) => resp.val = v,
        }
        // SAFETY: resp is a complete `struct seccomp_notif_resp`.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut resp as *mut libc::seccomp_notif_resp,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOENT) {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(true)
    }
}

/// Why target memory could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemError {
    /// The notification is no longer valid: the target died or left the syscall, and
    /// its pid may now name another process. Nothing read may be trusted.
    Gone,
    /// The address is not readable in the target (or no NUL within the limit).
    Unreadable,
}

/// Reads a target's memory through `/proc/<pid>/mem`, re-checking the notification
/// id after opening and after every read so a recycled pid is never trusted.
pub struct TargetMem<'a> {
    listener: &'a Listener,
    id: u64,
    pid: u32,
    file: Option<std::fs::File>,
}

impl<'a> TargetMem<'a> {
    pub fn new(listener: &'a Listener, n: &Notification) -> Self {
        TargetMem {
            listener,
            id: n.id,
            pid: n.pid,
            file: None,
        }
    }

    fn file(&mut self) -> Result<&std::fs::File, MemError> {
        if self.file.is_none() {
            let f = std::fs::File::open(format!("/proc/{}/mem", self.pid));
            // The pid could have been reused between RECV and open: only a still-valid
            // id proves `f` belongs to the process that made the syscall.
            if !self.listener.id_valid(self.id) {
                return Err(MemError::Gone);
            }
            // Still there but not openable (no ptrace access): the call must still be
            // answered, so this is "unreadable", not "gone".
            let f = f.map_err(|_| MemError::Unreadable)?;
            self.file = Some(f);
        }
        Ok(self.file.as_ref().expect("just opened"))
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn read_cstr(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, MemError> {
        use std::os::unix::fs::FileExt;
        let mut out = Vec::new();
        let mut pos = addr;
        // Read page by page so an unmapped page after the string does not fail the read.
        while out.len() <= max {
            let page_left = 4096 - (pos % 4096) as usize;
            let want = page_left.min(max + 1 - out.len());
            let mut buf = vec![0u8; want];
            let n = {
                let f = self.file()?;
                f.read_at(&mut buf, pos).map_err(|_| MemError::Unreadable)
            };
            // Re-check after every read: if the target is gone the bytes may belong to
            // whoever owns the pid now.
            if !self.listener.id_valid(self.id) {
                return Err(MemError::Gone);
            }
            let n = n?;
            if n == 0 {
                return Err(MemError::Unreadable);
            }
            if let Some(i) = buf[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..i]);
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
            pos = pos.wrapping_add(n as u64);
        }
        Err(MemError::Unreadable)
    }
}
