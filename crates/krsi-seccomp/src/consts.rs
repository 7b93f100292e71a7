//! Named constants (O_*, PROT_*, MAP_*, CLONE_*, errno names, ioctl numbers, ...)
//! usable in policy argument filters and `return` actions.
use crate::Arch;

#[path = "generated/constants.rs"]
mod generated;

/// Values that differ on aarch64 from the x86_64 table (asm-generic/fcntl.h vs
/// arch/arm64/include/uapi/asm/fcntl.h).
const AARCH64_OVERRIDES: &[(&str, u64)] = &[
    ("O_DIRECTORY", 0o40000),
    ("O_NOFOLLOW", 0o100000),
    ("O_DIRECT", 0o200000),
    ("O_LARGEFILE", 0o400000),
    ("O_TMPFILE", 0o20000000 | 0o40000),
    ("__O_TMPFILE", 0o20000000),
];

/// Constants that exist only on x86_64.
const X86_64_ONLY: &[&str] = &[
    "MAP_32BIT",
    "ARCH_SET_FS",
    "ARCH_GET_FS",
    "ARCH_SET_GS",
    "ARCH_GET_GS",
];

/// Looks up a named constant for `arch`.
pub fn lookup(arch: Arch, name: &str) -> Option<u64> {
    if arch == Arch::Aarch64 {
        if let Some(&(_, v)) = AARCH64_OVERRIDES.iter().find(|(n, _)| *n == name) {
            return Some(v);
        }
        if X86_64_ONLY.contains(&name) {
            return None;
        }
    }
    let table = generated::CONSTANTS;
    table
        .binary_search_by(|&(n, _)| n.cmp(name))
        .ok()
        .map(|i| table[i].1)
}

/// The errno number for a name such as `EPERM`.
pub fn errno(name: &str) -> Option<u64> {
    if name.starts_with('E') {
        lookup(Arch::X86_64, name).filter(|&v| v < 4096)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_constants() {
        let x = Arch::X86_64;
        assert_eq!(lookup(x, "O_RDONLY"), Some(0));
        assert_eq!(lookup(x, "O_WRONLY"), Some(1));
        assert_eq!(lookup(x, "O_CLOEXEC"), Some(0o2000000));
        assert_eq!(lookup(x, "PROT_EXEC"), Some(4));
        assert_eq!(lookup(x, "MAP_ANONYMOUS"), Some(0x20));
        assert_eq!(lookup(x, "CLONE_NEWUSER"), Some(0x1000_0000));
        assert_eq!(lookup(x, "EPERM"), Some(1));
        assert_eq!(lookup(x, "ENOSYS"), Some(38));
        assert_eq!(lookup(x, "TCGETS"), Some(0x5401));
        assert_eq!(lookup(x, "FIONREAD"), Some(0x541b));
        assert_eq!(lookup(x, "AT_FDCWD"), Some((-100i64) as u64));
        assert_eq!(lookup(x, "O_DIRECTORY"), Some(0o200000));
        assert_eq!(lookup(Arch::Aarch64, "O_DIRECTORY"), Some(0o40000));
        assert_eq!(lookup(Arch::Aarch64, "MAP_32BIT"), None);
        assert_eq!(lookup(x, "NOT_A_CONSTANT"), None);
        assert_eq!(errno("EACCES"), Some(13));
    }
}
