//! Names for numbers krsi prints or parses: errnos, signals and the constants the
//! rule language accepts.

/// errno names (x86_64/aarch64 generic numbering).
static ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ESRCH", libc::ESRCH),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("E2BIG", libc::E2BIG),
    ("ENOEXEC", libc::ENOEXEC),
    ("EBADF", libc::EBADF),
    ("ECHILD", libc::ECHILD),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EXDEV", libc::EXDEV),
    ("ENODEV", libc::ENODEV),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ENOTTY", libc::ENOTTY),
    ("ETXTBSY", libc::ETXTBSY),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("ESPIPE", libc::ESPIPE),
    ("EROFS", libc::EROFS),
    ("EMLINK", libc::EMLINK),
    ("EPIPE", libc::EPIPE),
    ("ERANGE", libc::ERANGE),
    ("EDEADLK", libc::EDEADLK),
    ("ENAMETOOLONG", libc::ENAMETOOLONG),
    ("ENOSYS", libc::ENOSYS),
    ("ENOTEMPTY", libc::ENOTEMPTY),
    ("ELOOP", libc::ELOOP),
    ("ENODATA", libc::ENODATA),
    ("EOVERFLOW", libc::EOVERFLOW),
    ("ENOTSOCK", libc::ENOTSOCK),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("EALREADY", libc::EALREADY),
    ("EINPROGRESS", libc::EINPROGRESS),
    ("ECANCELED", libc::ECANCELED),
];

pub fn errno_number(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|e| e.0 == name).map(|e| e.1)
}

pub fn errno_name(nr: i32) -> Option<&'static str> {
    ERRNOS.iter().find(|e| e.1 == nr).map(|e| e.0)
}

/// `EPERM(1)` or just the number for errnos without a known name.
pub fn errno_display(nr: i32) -> String {
    match errno_name(nr) {
        Some(n) => format!("{n}({nr})"),
        None => format!("errno {nr}"),
    }
}

pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Resolves a constant name used in a rule file: the policy language's table
/// (O_*, AF_*, PROT_*, errnos, ioctl numbers, ...) for `arch`.
pub fn constant(arch: krsi_seccomp::Arch, name: &str) -> Option<u64> {
    krsi_seccomp::consts::lookup(arch, name).or_else(|| errno_number(name).map(|e| e as u64))
}

/// Syscalls whose listed arguments are NUL-terminated paths, for readable reports.
pub fn path_args(name: &str) -> &'static [usize] {
    match name {
        "open" | "creat" | "stat" | "lstat" | "access" | "unlink" | "mkdir" | "rmdir" | "chdir"
        | "chroot" | "readlink" | "chmod" | "chown" | "lchown" | "truncate" | "execve"
        | "statfs" | "uselib" | "acct" | "swapon" | "swapoff" | "mknod" | "utime" | "utimes"
        | "getxattr" | "setxattr" | "listxattr" | "removexattr" => &[0],
        "openat" | "openat2" | "newfstatat" | "fstatat64" | "faccessat" | "faccessat2"
        | "unlinkat" | "mkdirat" | "readlinkat" | "fchmodat" | "fchmodat2" | "fchownat"
        | "execveat" | "statx" | "mknodat" | "utimensat" | "futimesat" | "open_tree"
        | "inotify_add_watch" => &[1],
        "rename" | "link" | "symlink" | "pivot_root" => &[0, 1],
        "renameat" | "renameat2" | "linkat" => &[1, 3],
        "symlinkat" => &[0, 2],
        "mount" => &[0, 1, 2],
        "umount2" => &[0],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_round_trip() {
        for &(name, nr) in ERRNOS {
            assert_eq!(errno_number(name), Some(nr));
            assert_eq!(errno_name(nr), Some(name));
        }
        assert_eq!(errno_display(1), "EPERM(1)");
        assert_eq!(errno_display(4000), "errno 4000");
    }

    #[test]
    fn constants() {
        let a = krsi_seccomp::Arch::X86_64;
        assert_eq!(constant(a, "AT_FDCWD"), Some(0xffff_ffff_ffff_ff9c));
        assert_eq!(constant(a, "EACCES"), Some(13));
        assert_eq!(constant(a, "PROT_EXEC"), Some(4));
        assert_eq!(constant(a, "TCGETS"), Some(0x5401));
        assert_eq!(constant(a, "NOPE"), None);
    }
}
