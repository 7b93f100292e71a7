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
pub const ACTION_KILL: u32 = 4;
pub const ACTION_WOULD_KILL: u32 = 5;
pub const ACTION_TAINT: u32 = 6;

/// Bump with any change to a record's layout that keeps its size: seals
/// made by one build are read by later builds until reboot (`crate::seal`).
pub const ABI_VERSION: u32 = 1;
pub const EVENT_EXEC: u32 = 1;
pub const EVENT_FILE: u32 = 2;
pub const EVENT_HOOK: u32 = 3;
pub const EVENT_MODULE_HIDDEN: u32 = 4;
pub const EVENT_TAMPER: u32 = 5;

pub const MODULE_NAME_LEN: usize = 64;
pub const HIDDEN_POISONED: u32 = 1;
pub const HIDDEN_SELF: u32 = 2;
pub const HIDDEN_UNLINKED: u32 = 3;

pub const MAX_CLAUSES: u32 = 32768;
pub const NO_CLAUSE: u32 = u32::MAX;
pub const MAX_PREDS: usize = 8;
pub const PREFIX_DATA: usize = 256;
pub const SET_DATA: usize = 256;
pub const NAME_MAX: usize = 256;
pub const HOOKS: u32 = 32;
pub const NO_TAINT: u8 = 0xff;
pub const HC_IDENTITY: u32 = 1 << 0;
pub const HC_PREFIX: u32 = 1 << 1;
pub const HC_ANY: u32 = 1 << 2;

pub const SRC_LSM_BPRM_CHECK_SECURITY: u32 = 1;
pub const SRC_LSM_BPRM_COMMITTED_CREDS: u32 = 2;
pub const SRC_TP_SCHED_PROCESS_EXEC: u32 = 3;
pub const SRC_LSM_FILE_OPEN: u32 = 4;
pub const SRC_LSM_BPF_MAP: u32 = 5;
pub const SRC_LSM_SB_UMOUNT: u32 = 6;
pub const SRC_LSM_INODE_UNLINK: u32 = 7;
pub const SRC_LSM_INODE_RENAME: u32 = 8;
pub const SRC_LSM_INODE_RMDIR: u32 = 9;
pub const SRC_LSM_HOOK: u32 = 64;

pub const CNT_EVENTS_LOST: u32 = 0;
pub const CNT_PATH_TRUNCATED: u32 = 1;

pub const F_ARGV_TRUNCATED: u32 = 1 << 0;
pub const F_EXE_TRUNCATED: u32 = 1 << 1;
pub const F_ARGV_MISSING: u32 = 1 << 2;
pub const F_PATH_TRUNCATED: u32 = 1 << 3;
pub const F_PATH2_TRUNCATED: u32 = 1 << 4;
pub const F_HASH: u32 = 1 << 5;
pub const F_HASH_MISSING: u32 = 1 << 6;
pub const F_ENV: u32 = 1 << 7;
pub const F_ENV_OVERFLOW: u32 = 1 << 8;
/// Facts A12..A15 of a hook record hold the primary file's SHA-256.
pub const A_HASH: usize = 12;

/// `ExecEvent::fileless` (KRSI_FILELESS_* in bpf/krsi.bpf.c).
pub const FILELESS_MEMFD: u32 = 1;
pub const FILELESS_DELETED: u32 = 2;
pub const FILELESS_INTERNAL: u32 = 3;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub active_slot: u32,
    pub enforce: u32,
    pub hash_live: u32,
    pub hash_nocache: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pred {
    pub fact: u8,
    pub op: u8,
    pub neg: u8,
    pub _pad: u8,
    pub set: u32,
    pub v: u64,
    pub v2: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clause {
    pub rule: u32,
    pub action: u8,
    pub npred: u8,
    pub taint: u8,
    pub _pad: u8,
    pub next: u32,
    pub _pad2: u32,
    pub pred: [Pred; MAX_PREDS],
}

pub const GLOB_SEGS: usize = 4;
pub const GLOB_SEG_LEN: usize = 32;
pub const MAX_GLOBS: u32 = 1024;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Glob {
    pub nseg: u8,
    pub anchored_start: u8,
    pub anchored_end: u8,
    pub _pad: u8,
    pub len: [u8; GLOB_SEGS],
    pub seg: [[u8; GLOB_SEG_LEN]; GLOB_SEGS],
    pub mask: [[u8; GLOB_SEG_LEN]; GLOB_SEGS],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookConfig {
    pub any_head: u32,
    pub flags: u32,
}

pub const PIN_NONE: u32 = 0;
pub const PIN_SET: u32 = 1;
pub const PIN_GONE: u32 = 2;
pub const PIN_DEV: u32 = 3;

/// `struct krsi_loadpin`: LoadPin's pin.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loadpin {
    pub sb: u64,
    pub state: u32,
    pub dev: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleConfig {
    pub rate_events: u32,
    pub rate_period_s: u32,
    /// What a deny or kill returns, negated (0: EPERM).
    pub deny_errno: u32,
    pub _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub window_start_ns: u64,
    pub count: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexKey {
    pub slot: u8,
    pub hook: u8,
    pub _pad: u16,
    pub dev: u32,
    pub ino: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NumSetKey {
    pub set: u32,
    pub _pad: u32,
    pub a: u64,
    pub b: u64,
}

/// Key of the string/address set trie (struct bpf_lpm_trie_key layout):
/// 4 bytes of set id (slot in bit 31), then the value.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SetKey {
    pub prefixlen: u32,
    pub data: [u8; SET_DATA],
}

impl SetKey {
    pub fn new(set: u32, value: &[u8], bits: u32) -> SetKey {
        let mut data = [0u8; SET_DATA];
        data[..4].copy_from_slice(&set.to_ne_bytes());
        let n = value.len().min(SET_DATA - 4);
        data[4..4 + n].copy_from_slice(&value[..n]);
        SetKey {
            prefixlen: 32 + bits.min(8 * n as u32),
            data,
        }
    }

    pub fn set(&self) -> u32 {
        u32::from_ne_bytes(self.data[..4].try_into().unwrap())
    }
}

/// Key of the path-prefix trie (struct bpf_lpm_trie_key layout).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrefixKey {
    pub prefixlen: u32,
    pub data: [u8; PREFIX_DATA],
}

impl PrefixKey {
    /// `data[0]` is the slot, `data[1]` the hook, then the prefix bytes;
    /// `prefixlen` counts bits of all three.
    pub fn new(slot: u32, hook: u32, prefix: &str) -> PrefixKey {
        let mut data = [0u8; PREFIX_DATA];
        data[0] = slot as u8;
        data[1] = hook as u8;
        let b = prefix.as_bytes();
        let n = b.len().min(PREFIX_DATA - 2);
        data[2..2 + n].copy_from_slice(&b[..n]);
        PrefixKey {
            prefixlen: 8 * (2 + n as u32),
            data,
        }
    }

    pub fn slot(&self) -> u32 {
        self.data[0] as u32
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleStats {
    pub hits: u64,
    pub denies: u64,
    pub would_denies: u64,
    pub audits: u64,
    pub dropped: u64,
    pub kills: u64,
    pub taints: u64,
    pub suppressed: u64,
}

impl RuleStats {
    pub fn add(&mut self, o: &RuleStats) {
        self.hits += o.hits;
        self.denies += o.denies;
        self.would_denies += o.would_denies;
        self.audits += o.audits;
        self.dropped += o.dropped;
        self.kills += o.kills;
        self.taints += o.taints;
        self.suppressed += o.suppressed;
    }
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
    pub taint: u64,
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
    /// FILELESS_*: how the executed file has no name (0: it has one).
    pub fileless: u32,
    pub sha256: [u8; 32],
    pub env_count: u32,
    pub env_bytes: u32,
    pub env_duplicates: u32,
    pub env_len: [u16; 2],
    pub env: [[u8; NAME_MAX]; 2],
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
    /// `file.proc.pid`: 0 unless a per-process /proc file.
    pub proc_pid: u32,
    /// `file.proc.self`.
    pub proc_self: u32,
    pub path: [u8; PATH_MAX],
    pub exe: [u8; PATH_MAX],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct HookEvent {
    pub hdr: EventHdr,
    pub hook: u32,
    pub flags: u32,
    pub args: [u64; 16],
    pub path_len: u16,
    pub path2_len: u16,
    pub name_len: u16,
    pub name2_len: u16,
    pub exe_len: u16,
    pub _pad: [u16; 3],
    pub path: [u8; PATH_MAX],
    pub path2: [u8; PATH_MAX],
    pub name: [u8; NAME_MAX],
    pub name2: [u8; NAME_MAX],
    pub exe: [u8; PATH_MAX],
}

/// A module that unlinked itself from the kernel's module list.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ModuleEvent {
    pub hdr: EventHdr,
    pub addr: u64,
    pub load_ns: u64,
    pub how: u32,
    pub _pad: u32,
    pub name: [u8; MODULE_NAME_LEN],
}

/// The policy lock (`krsi_lock`; see bpf/hooks/lock.h).
pub const LOCK_LINK: u64 = 1;
pub const LOCK_MAP: u64 = 2;
pub const LOCK_MAX_IDS: usize = 256;
pub const TAMPER_LINK: u32 = 1;
pub const TAMPER_MAP: u32 = 2;
pub const TAMPER_PIN: u32 = 3;
pub const TAMPER_UMOUNT: u32 = 4;

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct Lock {
    pub armed: u32,
    /// The pins' bpffs, as the kernel encodes a dev_t (major << 20 | minor).
    pub pin_dev: u32,
    pub pin_dir_ino: u64,
}

/// Something the policy lock refused.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TamperEvent {
    pub hdr: EventHdr,
    pub what: u32,
    pub id: u32,
    pub ino: u64,
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
impl Pod for HookConfig {}
impl Pod for Glob {}
impl Pod for RuleConfig {}
impl Pod for Loadpin {}
impl Pod for Rate {}
impl Pod for IndexKey {}
impl Pod for NumSetKey {}
impl Pod for SetKey {}
impl Pod for HookEvent {}
impl Pod for Clause {}
impl Pod for PrefixKey {}
impl Pod for FileEvent {}
impl Pod for RuleStats {}
impl Pod for EventHdr {}
impl Pod for ExecEvent {}
impl Pod for ModuleEvent {}
impl Pod for Lock {}
impl Pod for TamperEvent {}
impl Pod for u32 {}
impl Pod for u64 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_c_header() {
        assert_eq!(std::mem::size_of::<EventHdr>(), 80);
        assert_eq!(std::mem::offset_of!(ExecEvent, sha256), 112);
        assert_eq!(std::mem::offset_of!(ExecEvent, env), 160);
        assert_eq!(
            std::mem::offset_of!(ExecEvent, filename),
            160 + 2 * NAME_MAX
        );
        assert_eq!(std::mem::size_of::<ExecEvent>(), 4240 + 16 + 2 * NAME_MAX);
        assert_eq!(std::mem::size_of::<State>(), 16);
        assert_eq!(
            std::mem::size_of::<ModuleEvent>(),
            80 + 24 + MODULE_NAME_LEN
        );
        assert_eq!(std::mem::size_of::<Lock>(), 16);
        assert_eq!(std::mem::size_of::<TamperEvent>(), 80 + 16);
        assert_eq!(std::mem::size_of::<IndexKey>(), 16);
        assert_eq!(std::mem::size_of::<RuleConfig>(), 16);
        assert_eq!(std::mem::size_of::<Loadpin>(), 16);
        assert_eq!(std::mem::offset_of!(Loadpin, dev), 12);
        assert_eq!(std::mem::offset_of!(RuleConfig, deny_errno), 8);
        assert_eq!(std::mem::size_of::<NumSetKey>(), 24);
        assert_eq!(std::mem::size_of::<RuleStats>(), 64);
        assert_eq!(std::mem::size_of::<Pred>(), 24);
        assert_eq!(std::mem::size_of::<Glob>(), 8 + 2 * 4 * 32);
        assert_eq!(std::mem::size_of::<Clause>(), 16 + 8 * 24);
        assert_eq!(std::mem::size_of::<PrefixKey>(), 260);
        assert_eq!(std::mem::size_of::<SetKey>(), 260);
        assert_eq!(std::mem::offset_of!(FileEvent, path), 112);
        assert_eq!(std::mem::offset_of!(FileEvent, proc_pid), 104);
        assert_eq!(std::mem::size_of::<FileEvent>(), 112 + 2 * PATH_MAX);
        assert_eq!(std::mem::offset_of!(HookEvent, path), 80 + 8 + 128 + 16);
        assert_eq!(
            std::mem::size_of::<HookEvent>(),
            232 + 3 * PATH_MAX + 2 * NAME_MAX
        );
    }
}
