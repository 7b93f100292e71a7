//! Target architectures and their syscall tables.
use std::fmt;
use std::str::FromStr;

#[path = "generated/syscalls_aarch64.rs"]
mod syscalls_aarch64;
#[path = "generated/syscalls_x86_64.rs"]
mod syscalls_x86_64;

/// AUDIT_ARCH_X86_64 = EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// AUDIT_ARCH_AARCH64 = EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// Syscall numbers with this bit set on x86_64 are x32 ABI calls.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A seccomp target architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this crate was built for (x86_64 elsewhere, as a safe default).
    pub fn native() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// The value the kernel puts in `seccomp_data.arch`.
    pub fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The name used by `--arch` and `[arch=...]` metadata.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// (name, number) pairs, sorted by name.
    pub fn syscalls(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => syscalls_x86_64::SYSCALLS,
            Arch::Aarch64 => syscalls_aarch64::SYSCALLS,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" | "amd64" | "x86-64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            _ => Err(format!(
                "unknown architecture {s:?} (expected x86_64 or aarch64)"
            )),
        }
    }
}

/// The name of syscall `nr` on `arch`.
pub fn syscall_name(arch: Arch, nr: u32) -> Option<&'static str> {
    arch.syscalls()
        .iter()
        .find(|&&(_, n)| n == nr)
        .map(|&(name, _)| name)
}

/// The number of syscall `name` on `arch`.
pub fn syscall_number(arch: Arch, name: &str) -> Option<u32> {
    let table = arch.syscalls();
    table
        .binary_search_by(|&(n, _)| n.cmp(name))
        .ok()
        .map(|i| table[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let t = arch.syscalls();
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{arch} not sorted");
            let mut nrs: Vec<u32> = t.iter().map(|e| e.1).collect();
            nrs.sort_unstable();
            nrs.dedup();
            assert_eq!(nrs.len(), t.len(), "{arch} has duplicate numbers");
        }
    }

    #[test]
    fn well_known_numbers() {
        assert_eq!(syscall_number(Arch::X86_64, "read"), Some(0));
        assert_eq!(syscall_number(Arch::X86_64, "openat"), Some(257));
        assert_eq!(syscall_number(Arch::X86_64, "clone3"), Some(435));
        assert_eq!(syscall_number(Arch::X86_64, "mseal"), Some(462));
        assert_eq!(syscall_number(Arch::Aarch64, "read"), Some(63));
        assert_eq!(syscall_number(Arch::Aarch64, "openat"), Some(56));
        assert_eq!(syscall_number(Arch::Aarch64, "open"), None);
        assert_eq!(syscall_name(Arch::X86_64, 59), Some("execve"));
        assert_eq!(syscall_name(Arch::Aarch64, 221), Some("execve"));
        assert!(Arch::X86_64.syscalls().len() > 370);
        assert!(Arch::Aarch64.syscalls().len() > 310);
    }

    #[test]
    fn parse_arch() {
        assert_eq!("x86_64".parse::<Arch>().unwrap(), Arch::X86_64);
        assert_eq!("aarch64".parse::<Arch>().unwrap(), Arch::Aarch64);
        assert!("mips".parse::<Arch>().is_err());
        assert_eq!(Arch::X86_64.audit_arch(), 0xc000003e);
    }
}
