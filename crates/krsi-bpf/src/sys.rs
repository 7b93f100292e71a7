//! Kernel file systems krsi needs (securityfs, bpffs, tracefs) and what they say.
//!
//! None of them is mounted at boot on every host, so krsi mounts what it needs.
use std::ffi::CString;
use std::fs;
use std::io;
use std::path::Path;

pub const SECURITYFS: &str = "/sys/kernel/security";
pub const BPFFS: &str = "/sys/fs/bpf";
pub const TRACEFS: &str = "/sys/kernel/tracing";
pub const CGROUP2: &str = "/sys/fs/cgroup";

/// The file system type mounted at `target`, if `target` is a mount point.
pub fn mounted_fstype(target: &str) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    // Later lines shadow earlier ones at the same mount point.
    info.lines().rev().find_map(|line| {
        let mut fields = line.split(' ');
        let mount_point = fields.nth(4)?;
        if mount_point != target {
            return None;
        }
        let rest = line.split(" - ").nth(1)?;
        rest.split(' ').next().map(str::to_string)
    })
}

/// Mounts `fstype` at `target` unless it is already there. Returns whether krsi mounted it.
pub fn ensure_mounted(fstype: &str, target: &str) -> io::Result<bool> {
    if mounted_fstype(target).as_deref() == Some(fstype) {
        return Ok(false);
    }
    if !Path::new(target).exists() {
        fs::create_dir_all(target)?;
    }
    let src = CString::new(fstype).unwrap();
    let tgt = CString::new(target).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            src.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// The active LSMs in call order, from securityfs (mounted if needed).
pub fn active_lsms() -> io::Result<Vec<String>> {
    ensure_mounted("securityfs", SECURITYFS)?;
    let text = fs::read_to_string(format!("{SECURITYFS}/lsm"))?;
    Ok(text
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Kernel dev_t (`MKDEV`: major << 20 | minor) for a userspace `st_dev`.
pub fn kernel_dev(st_dev: u64) -> u32 {
    let major = libc::major(st_dev);
    let minor = libc::minor(st_dev);
    (major << 20) | (minor & 0xfffff)
}

/// The userspace "major:minor" spelling of a kernel dev_t.
pub fn dev_string(kdev: u32) -> String {
    format!("{}:{}", kdev >> 20, kdev & 0xfffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dev_matches_mkdev() {
        let st = libc::makedev(8, 1);
        assert_eq!(kernel_dev(st), (8 << 20) | 1);
        assert_eq!(
            dev_string(kernel_dev(libc::makedev(259, 70000))),
            "259:70000"
        );
    }

    #[test]
    fn proc_is_mounted() {
        assert_eq!(mounted_fstype("/proc").as_deref(), Some("proc"));
        assert_eq!(mounted_fstype("/definitely/not/a/mount"), None);
    }
}
