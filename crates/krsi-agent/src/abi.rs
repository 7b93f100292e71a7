//! Rust mirror of bpf/include/krsi_abi.h. The agent refuses to start when the
//! record size the BPF object reports differs from `size_of::<ExecEvent>()`.
#![allow(dead_code)]

pub const COMM_LEN: usize = 16;
pub const PATH_MAX: usize = 1024;
pub const ARGV_MAX: usize = 2048;
pub const SLOTS: u32 = 2;
pub const MAX_RULES: u32 = 16384;
pub const NO_RULE: u32 = u32::MAX;

pub const ACTION_AUDIT: u32 = 1;
pub const ACTION_DENY: u32 = 2;
pub const ACTION_WOULD_DENY: u32 = 3;

pub const EVENT_EXEC: u32 = 1;
pub const EVENT_FILE: u32 = 2;

pub const MAX_CLAUSES: u32 = 32768;
pub const NO_CLAUSE: u32 = u32::MAX;
pub const PREFIX_DATA: usize = 256;
pub const CFG_OPEN_IDENTITY: u32 = 1 << 0;
pub const CFG_OPEN_PREFIX: u32 = 1 << 1;

pub const SRC_LSM_BPRM_CHECK_SECURITY: u32 = 1;
pub const SRC_LSM_BPRM_COMMITTED_CREDS: u32 = 2;
pub const SRC_TP_SCHED_PROCESS_EXEC: u32 = 3;
pub const SRC_LSM_FILE_OPEN: u32 = 4;

pub const CNT_EVENTS_LOST: u32 = 0;
pub const CNT_PATH_TRUNCATED: u32 = 1;

pub const F_ARGV_TRUNCATED: u32 = 1 << 0;
pub const F_EXE_TRUNCATED: u32 = 1 << 1;
pub const F_ARGV_MISSING: u32 = 1 << 2;
pub const F_PATH_TRUNCATED: u32 = 1 << 3;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub active_slot: u32,
    pub enforce: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotConfig {
    pub exec_audit_rule: u32,
    pub flags: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExecKey {
    pub slot: u32,
    pub dev: u32,
    pub ino: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clause {
    pub rule: u32,
    pub action: u32,
    pub flags_any: u32,
    pub next: u32,
}

/// Key of the path-prefix trie (struct bpf_lpm_trie_key layout).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrefixKey {
    pub prefixlen: u32,
    pub data: [u8; PREFIX_DATA],
}

impl PrefixKey {
    /// `data[0]` is the slot, then the prefix bytes; `prefixlen` counts bits of both.
    pub fn new(slot: u32, prefix: &str) -> PrefixKey {
        let mut data = [0u8; PREFIX_DATA];
        data[0] = slot as u8;
        let b = prefix.as_bytes();
        let n = b.len().min(PREFIX_DATA - 1);
        data[1..1 + n].copy_from_slice(&b[..n]);
        PrefixKey {
            prefixlen: 8 * (1 + n as u32),
            data,
        }
    }

    pub fn slot(&self) -> u32 {
        self.data[0] as u32
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub rule: u32,
    pub action: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleStats {
    pub hits: u64,
    pub denies: u64,
    pub would_denies: u64,
    pub audits: u64,
    pub dropped: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EventHdr {
    pub boot_ns: u64,
    pub kind: u32,
    pub source: u32,
    pub action: u32,
    pub rule: u32,
    pub slot: u32,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub comm: [u8; COMM_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    pub hdr: EventHdr,
    pub dev: u32,
    pub argc: u32,
    pub ino: u64,
    pub flags: u32,
    pub filename_len: u16,
    pub exe_len: u16,
    pub argv_len: u32,
    pub _pad: u32,
    pub filename: [u8; PATH_MAX],
    pub exe: [u8; PATH_MAX],
    pub argv: [u8; ARGV_MAX],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FileEvent {
    pub hdr: EventHdr,
    pub dev: u32,
    pub open_flags: u32,
    pub ino: u64,
    pub flags: u32,
    pub path_len: u16,
    pub exe_len: u16,
    pub path: [u8; PATH_MAX],
    pub exe: [u8; PATH_MAX],
}

/// Plain-old-data views for map keys and values.
pub trait Pod: Copy {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: only implemented for repr(C) structs of integers without padding
        // holes that matter to the kernel (padding is zero-initialised by callers).
        unsafe {
            std::slice::from_raw_parts(
                self as *const Self as *const u8,
                std::mem::size_of::<Self>(),
            )
        }
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < std::mem::size_of::<Self>() {
            return None;
        }
        // SAFETY: length checked; every bit pattern is valid for these integer structs.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const Self) })
    }
}

impl Pod for State {}
impl Pod for SlotConfig {}
impl Pod for ExecKey {}
impl Pod for RuleRef {}
impl Pod for Clause {}
impl Pod for PrefixKey {}
impl Pod for FileEvent {}
impl Pod for RuleStats {}
impl Pod for EventHdr {}
impl Pod for ExecEvent {}
impl Pod for u32 {}
impl Pod for u64 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_c_header() {
        assert_eq!(std::mem::size_of::<EventHdr>(), 72);
        assert_eq!(std::mem::offset_of!(ExecEvent, filename), 104);
        assert_eq!(std::mem::size_of::<ExecEvent>(), 4200);
        assert_eq!(std::mem::size_of::<ExecKey>(), 16);
        assert_eq!(std::mem::size_of::<RuleStats>(), 40);
        assert_eq!(std::mem::size_of::<Clause>(), 16);
        assert_eq!(std::mem::size_of::<PrefixKey>(), 260);
        assert_eq!(std::mem::offset_of!(FileEvent, path), 96);
        assert_eq!(std::mem::size_of::<FileEvent>(), 96 + 2 * PATH_MAX);
    }
}
