//! Ring-buffer records → the JSON events krsi prints (schema: docs/events.md).
use serde::Serialize;

use crate::abi::{self, ExecEvent, Pod};

/// Converts the kernel's boot-time nanoseconds into wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// realtime - boottime, in nanoseconds.
    offset_ns: i128,
}

fn clock_ns(id: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

impl Clock {
    pub fn now() -> Clock {
        Clock {
            offset_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME),
        }
    }

    #[cfg(test)]
    pub fn fixed(offset_ns: i128) -> Clock {
        Clock { offset_ns }
    }

    pub fn rfc3339(&self, boot_ns: u64) -> String {
        rfc3339_ns(boot_ns as i128 + self.offset_ns)
    }
}

/// RFC 3339 in UTC with nanoseconds, e.g. `2026-11-23T10:38:46.123456789Z`.
pub fn rfc3339_ns(unix_ns: i128) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(unix_ns)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000000000Z".to_string())
}

pub fn now_rfc3339() -> String {
    rfc3339_ns(clock_ns(libc::CLOCK_REALTIME))
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub exe: String,
    pub cgroup_id: u64,
    /// Taint labels the process carries (after this call).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taint: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct FileId {
    /// "major:minor" as `stat` shows it.
    pub dev: String,
    pub ino: u64,
    /// The content's SHA-256, when a rule compared it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// An opened per-process /proc file: whose it is (`file.proc.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proc: Option<ProcFile>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ProcFile {
    /// Thread-group id of the process the file belongs to.
    pub pid: u32,
    /// It is the opener's own process.
    #[serde(rename = "self")]
    pub own: bool,
}

impl FileId {
    fn new(kdev: u32, ino: u64) -> FileId {
        FileId {
            dev: krsi_bpf::sys::dev_string(kdev),
            ino,
            proc: None,
            sha256: None,
        }
    }
}

/// An exec record's `fileless`: how the executed file has no name.
pub fn fileless_name(kind: u32) -> Option<&'static str> {
    match kind {
        abi::FILELESS_MEMFD => Some("memfd"),
        abi::FILELESS_DELETED => Some("deleted"),
        abi::FILELESS_INTERNAL => Some("internal"),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The rule's message, with the note of the listed value that matched
/// (`message: vulnerable binary` + `CVE-2021-4034 pkexec`).
fn with_note(common: &mut Common, names: &dyn RuleNames, slot: u32, value: &str) {
    if let Some(note) = names.note(slot, value) {
        common.message = Some(match common.message.take() {
            Some(m) => format!("{m}: {note}"),
            None => note,
        });
    }
}

/// How the agent names a rule for an event: from the rule table of the slot
/// the kernel used.
pub trait RuleNames {
    fn rule(&self, slot: u32, rule: u32) -> Option<RuleMeta>;
    /// The taint label table of the slot's policy (bit i = label i).
    fn labels(&self, _slot: u32) -> Vec<String> {
        Vec::new()
    }
    /// The note a list of the slot's policy gives `value`.
    fn note(&self, _slot: u32, _value: &str) -> Option<String> {
        None
    }
    /// The seal whose ring buffer the record came from, if any.
    fn seal(&self) -> Option<String> {
        None
    }
}

/// What an event says about the rule that matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMeta {
    pub name: String,
    pub message: Option<String>,
    pub severity: Option<&'static str>,
    pub tags: Vec<String>,
    /// The errno name a deny or kill of the rule returns.
    pub errno: Option<&'static str>,
}

impl RuleMeta {
    /// Rule `rule` of a compiled policy.
    pub fn of(p: &krsi_policy::CompiledPolicy, rule: u32) -> Option<RuleMeta> {
        let r = p.rules.get(rule as usize)?;
        Some(RuleMeta {
            name: r.name.clone(),
            message: r.message.clone(),
            severity: r.severity.map(|s| s.name()),
            tags: r.tags.clone(),
            errno: Some(r.errno.name),
        })
    }
}

/// The new image's environment as the kernel summed it up (when a rule
/// asked, or a rule on a variable matched).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct EnvSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u32>,
    /// Settings of variables already set earlier in envp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u32>,
    /// Not every string was examined (more than the kernel walks).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub overflow: bool,
    /// The entries singled out: the variable a rule matched, or both
    /// settings of the first variable set twice.
    pub entries: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ExecRecord {
    #[serde(flatten)]
    pub common: Common,
    pub filename: String,
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvSummary>,
    pub file: FileId,
    /// The executed file has no name: `memfd`, `deleted` (no link left) or
    /// `internal` (another kernel-internal file); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fileless: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<&'static str>,
}

/// The fields every record has: when, what produced it, what the rule
/// decided, and the task that acted.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Common {
    pub time: String,
    pub event: &'static str,
    pub hook: &'static str,
    pub backend: &'static str,
    pub action: &'static str,
    /// What the call failed with: on deny and kill records of hooks that
    /// can fail the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<&'static str>,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub process: Process,
}

fn common(
    event: &'static str,
    hdr: &abi::EventHdr,
    names: &dyn RuleNames,
    clock: &Clock,
    exe: &[u8],
    exe_len: u16,
) -> Result<Common, DecodeError> {
    let (hook, backend) = source_names(hdr.source).ok_or(DecodeError::UnknownSource(hdr.source))?;
    let meta = rule_meta(names, hdr);
    // The committed exec and the tracepoints can kill, not fail the call.
    let fails = matches!(hdr.action, abi::ACTION_DENY | abi::ACTION_KILL)
        && backend == "bpf-lsm"
        && hook != "bprm_committed_creds";
    Ok(Common {
        time: clock.rfc3339(hdr.boot_ns),
        event,
        hook,
        backend,
        action: action_name(hdr.action),
        errno: meta.errno.filter(|_| fails),
        rule: meta.name,
        message: meta.message,
        severity: meta.severity,
        tags: meta.tags,
        process: process(hdr, exe, exe_len, names),
    })
}

/// A file_open record.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct FileRecord {
    #[serde(flatten)]
    pub common: Common,
    pub path: String,
    /// How the file is opened: names from the policy's `file.flags`.
    pub flags: Vec<&'static str>,
    pub file: FileId,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<&'static str>,
}

/// Any other hook's record: the hook's fields nested by their policy names
/// (`net.port` → `{"net": {"port": 22}}`).
#[derive(Debug, Serialize, PartialEq)]
pub struct HookRecord {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<&'static str>,
}

/// A loaded module that unlinked itself from the kernel's module list.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ModuleHiddenRecord {
    #[serde(flatten)]
    pub common: Common,
    pub module: HiddenModule,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct HiddenModule {
    pub name: String,
    /// Its struct module, as `module.address` of its module_load event.
    pub address: u64,
    /// When it was loaded (the record's `process` loaded it).
    pub loaded_at: String,
    /// How its list entry looks: `poisoned` (list_del), `self_linked`
    /// (list_del_init) or `unlinked` (neighbours skip it).
    pub how: &'static str,
}

/// Any record krsi prints.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Record {
    Exec(ExecRecord),
    File(FileRecord),
    Hook(HookRecord),
    ModuleHidden(ModuleHiddenRecord),
    Tamper(TamperRecord),
}

/// An attempt to lift a sealed policy, refused by the policy lock.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TamperRecord {
    #[serde(flatten)]
    pub common: Common,
    pub lock: TamperInfo,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TamperInfo {
    /// What was refused: `link`, `map`, `pin` or `umount`.
    pub refused: &'static str,
    /// The sealed link's or map's id (bpftool's), for `link`/`map`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The pin's inode, for `pin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
    /// The seal the refusal protected (`krsi status` lists them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

/// The behaviour a hook reports, the record's `event`.
pub fn behaviour(hook: krsi_policy::Hook) -> &'static str {
    use krsi_policy::Hook::*;
    match hook {
        BprmCheckSecurity | BprmCommittedCreds => "exec",
        FileOpen => "open",
        InodeUnlink | PathUnlink => "unlink",
        InodeRename => "rename",
        KernelReadFile | KernelLoadData => "kernel_read",
        KernelModuleRequest => "module_request",
        SbMount | MoveMount => "mount",
        PtraceAccessCheck | PtraceTraceme => "ptrace",
        TaskFixSetuid => "setuid",
        TaskFixSetgid => "setgid",
        TaskPrctl => "prctl",
        SocketCreate | SocketConnect | SocketBind | SocketListen | SocketAccept => "socket",
        InodeCreate | InodeMkdir | InodeSymlink => "create",
        TaskKill => "signal",
        Bpf | BpfMap | BpfProg => "bpf",
        SbSetMntOpts => "mount",
        ModuleLoad => "module_load",
        Capable => "capable",
    }
}

/// Puts `v` at the dotted `name` inside `root`.
fn insert_dotted(
    root: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
    v: serde_json::Value,
) {
    let mut parts: Vec<&str> = name.split('.').collect();
    let last = parts.pop().unwrap_or(name);
    let mut cur = root;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if !entry.is_object() {
            *entry = serde_json::Value::Object(Default::default());
        }
        cur = entry.as_object_mut().expect("object");
    }
    cur.insert(last.to_string(), v);
}

fn addr_string(b: &[u8; 16]) -> String {
    let v6 = std::net::Ipv6Addr::from(*b);
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}

fn decode_hook(
    data: &[u8],
    names: &dyn RuleNames,
    clock: &Clock,
) -> Result<HookRecord, DecodeError> {
    use krsi_policy::fields::{self, fact, Fact, FieldType};
    use serde_json::Value as J;
    let ev = abi::HookEvent::from_bytes(data).ok_or(DecodeError::Short(data.len()))?;
    let hook = *krsi_policy::Hook::ALL
        .get(ev.hook as usize)
        .ok_or(DecodeError::UnknownSource(ev.hook))?;
    let arg = |n: u8| -> u64 {
        n.checked_sub(fact::A0)
            .and_then(|i| ev.args.get(i as usize).copied())
            .unwrap_or(0)
    };
    let string = |s: u8| -> String {
        match s {
            fact::S_PATH => cstr(&ev.path, ev.path_len as usize),
            fact::S_PATH2 => cstr(&ev.path2, ev.path2_len as usize),
            fact::S_NAME => cstr(&ev.name, ev.name_len as usize),
            fact::S_NAME2 => cstr(&ev.name2, ev.name2_len as usize),
            _ => String::new(),
        }
    };
    let mut out = serde_json::Map::new();
    let mut digest = None;
    let target = fields::has_target(hook);
    let own = fields::hook_fields(hook).iter();
    let tf = if target { fields::TARGET_FIELDS } else { &[] };
    for f in own.chain(tf.iter()) {
        let v = match fields::fact_of(hook, f.name) {
            Fact::Num(n) => {
                let x = arg(n);
                match f.ty {
                    FieldType::Enum(vals) => {
                        let name = vals
                            .iter()
                            .find(|v| fields::enum_code(f.name, vals, v) == Some(x))
                            .map(|v| J::from(*v))
                            .unwrap_or_else(|| J::from(x));
                        name
                    }
                    FieldType::Flags(vals) => J::from(
                        vals.iter()
                            .enumerate()
                            .filter(|(i, _)| x & (1 << i) != 0)
                            .map(|(_, n)| *n)
                            .collect::<Vec<_>>(),
                    ),
                    FieldType::Bool => J::from(x != 0),
                    _ => J::from(x),
                }
            }
            Fact::File { ident, path } => {
                // file.path -> file.dev/file.ino; target.exe -> target.exe_dev/exe_ino.
                let (dev_key, ino_key) = match f.name.strip_suffix(".path") {
                    Some(base) => (format!("{base}.dev"), format!("{base}.ino")),
                    None => (format!("{}_dev", f.name), format!("{}_ino", f.name)),
                };
                let (dev, ino) = (arg(ident), arg(ident + 1));
                if dev != 0 || ino != 0 {
                    insert_dotted(
                        &mut out,
                        &dev_key,
                        J::from(krsi_bpf::sys::dev_string(dev as u32)),
                    );
                    insert_dotted(&mut out, &ino_key, J::from(ino));
                }
                J::from(string(path))
            }
            Fact::Str(fact::S_HASH) => {
                if ev.flags & abi::F_HASH == 0 {
                    continue;
                }
                let bytes: Vec<u8> = ev.args[abi::A_HASH..abi::A_HASH + 4]
                    .iter()
                    .flat_map(|w| w.to_ne_bytes())
                    .collect();
                let h = hex(&bytes);
                digest = Some(h.clone());
                J::from(h)
            }
            Fact::Str(s) => J::from(string(s)),
            Fact::Addr(n) => {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&arg(n).to_ne_bytes());
                b[8..].copy_from_slice(&arg(n + 1).to_ne_bytes());
                J::from(addr_string(&b))
            }
            Fact::Taint
            | Fact::Ancestors
            | Fact::Strs(_)
            | Fact::Transitions
            | Fact::Unsupported => continue,
        };
        insert_dotted(&mut out, f.name, v);
    }
    let mut truncated = Vec::new();
    if ev.flags & abi::F_PATH_TRUNCATED != 0 {
        truncated.push("path");
    }
    if ev.flags & abi::F_PATH2_TRUNCATED != 0 {
        truncated.push("path2");
    }
    if ev.flags & abi::F_EXE_TRUNCATED != 0 {
        truncated.push("exe");
    }
    if ev.flags & abi::F_HASH_MISSING != 0 {
        truncated.push("file.sha256");
    }
    let mut common = common(behaviour(hook), &ev.hdr, names, clock, &ev.exe, ev.exe_len)?;
    if let Some(h) = digest {
        with_note(&mut common, names, ev.hdr.slot, &h);
    }
    Ok(HookRecord {
        common,
        fields: out,
        truncated,
    })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("short record: {0} bytes")]
    Short(usize),
    #[error("unknown record type {0}")]
    UnknownType(u32),
    #[error("unknown source {0}")]
    UnknownSource(u32),
}

fn cstr(bytes: &[u8], len: usize) -> String {
    let b = &bytes[..len.min(bytes.len())];
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The hook/tracepoint and backend that produced a record.
pub fn source_names(source: u32) -> Option<(&'static str, &'static str)> {
    match source {
        abi::SRC_LSM_BPRM_CHECK_SECURITY => Some(("bprm_check_security", "bpf-lsm")),
        abi::SRC_LSM_BPRM_COMMITTED_CREDS => Some(("bprm_committed_creds", "bpf-lsm")),
        abi::SRC_TP_SCHED_PROCESS_EXEC => Some(("sched_process_exec", "tracepoint")),
        abi::SRC_LSM_FILE_OPEN => Some(("file_open", "bpf-lsm")),
        abi::SRC_LSM_BPF_MAP => Some(("bpf_map", "bpf-lsm")),
        abi::SRC_LSM_SB_UMOUNT => Some(("sb_umount", "bpf-lsm")),
        abi::SRC_LSM_INODE_UNLINK => Some(("inode_unlink", "bpf-lsm")),
        abi::SRC_LSM_INODE_RENAME => Some(("inode_rename", "bpf-lsm")),
        abi::SRC_LSM_INODE_RMDIR => Some(("inode_rmdir", "bpf-lsm")),
        s if s >= abi::SRC_LSM_HOOK => krsi_policy::Hook::ALL
            .get((s - abi::SRC_LSM_HOOK) as usize)
            .map(|h| match h {
                // A tracepoint on either backend: it reports, never denies.
                krsi_policy::Hook::ModuleLoad => (h.name(), "tracepoint"),
                _ => (h.name(), "bpf-lsm"),
            }),
        _ => None,
    }
}

pub fn action_name(action: u32) -> &'static str {
    match action {
        abi::ACTION_AUDIT => "audit",
        abi::ACTION_DENY => "deny",
        abi::ACTION_WOULD_DENY => "would_deny",
        abi::ACTION_KILL => "kill",
        abi::ACTION_WOULD_KILL => "would_kill",
        abi::ACTION_TAINT => "taint",
        _ => "unknown",
    }
}

fn process(hdr: &abi::EventHdr, exe: &[u8], exe_len: u16, names: &dyn RuleNames) -> Process {
    let taint = if hdr.taint == 0 {
        Vec::new()
    } else {
        let labels = names.labels(hdr.slot);
        (0..64)
            .filter(|i| hdr.taint & (1u64 << i) != 0)
            .map(|i| labels.get(i).cloned().unwrap_or_else(|| format!("#{i}")))
            .collect()
    };
    Process {
        taint,
        pid: hdr.pid,
        tid: hdr.tid,
        ppid: hdr.ppid,
        uid: hdr.uid,
        gid: hdr.gid,
        comm: cstr(&hdr.comm, abi::COMM_LEN),
        exe: cstr(exe, exe_len as usize),
        cgroup_id: hdr.cgroup_id,
    }
}

fn rule_meta(names: &dyn RuleNames, hdr: &abi::EventHdr) -> RuleMeta {
    names.rule(hdr.slot, hdr.rule).unwrap_or_else(|| RuleMeta {
        name: format!("#{}", hdr.rule),
        ..RuleMeta::default()
    })
}

pub fn decode(data: &[u8], names: &dyn RuleNames, clock: &Clock) -> Result<Record, DecodeError> {
    let hdr = abi::EventHdr::from_bytes(data).ok_or(DecodeError::Short(data.len()))?;
    match hdr.kind {
        abi::EVENT_EXEC => decode_exec(data, names, clock).map(Record::Exec),
        abi::EVENT_FILE => decode_file(data, names, clock).map(Record::File),
        abi::EVENT_HOOK => decode_hook(data, names, clock).map(Record::Hook),
        abi::EVENT_MODULE_HIDDEN => {
            decode_module_hidden(data, names, clock).map(Record::ModuleHidden)
        }
        abi::EVENT_TAMPER => decode_tamper(data, names, clock).map(Record::Tamper),
        other => Err(DecodeError::UnknownType(other)),
    }
}

/// The policy lock's refusals are not a rule's match either.
pub const POLICY_LOCK_RULE: &str = "policy-lock";

fn decode_tamper(
    data: &[u8],
    names: &dyn RuleNames,
    clock: &Clock,
) -> Result<TamperRecord, DecodeError> {
    let ev = abi::TamperEvent::from_bytes(data).ok_or(DecodeError::Short(data.len()))?;
    let mut common = common("tamper", &ev.hdr, names, clock, &[], 0)?;
    let (refused, what) = match ev.what {
        abi::TAMPER_LINK => ("link", "detaching or replacing a link of"),
        abi::TAMPER_MAP => ("map", "opening a map of"),
        abi::TAMPER_PIN => ("pin", "removing or renaming a pin of"),
        abi::TAMPER_UMOUNT => ("umount", "unmounting the bpffs that pins"),
        _ => ("unknown", "an unknown operation on"),
    };
    common.rule = POLICY_LOCK_RULE.into();
    common.severity = Some("critical");
    common.message = Some(format!("{what} a policy sealed until reboot: refused"));
    common.tags = Vec::new();
    Ok(TamperRecord {
        common,
        lock: TamperInfo {
            refused,
            id: matches!(ev.what, abi::TAMPER_LINK | abi::TAMPER_MAP).then_some(ev.id),
            ino: (ev.what == abi::TAMPER_PIN).then_some(ev.ino),
            seal: names.seal(),
        },
    })
}

/// Not a rule's match: hidden modules are reported while the policy has a
/// module_load rule (the kernel side watches loads, modscan the rest).
pub const HIDDEN_MODULE_RULE: &str = "hidden-module";

fn decode_module_hidden(
    data: &[u8],
    names: &dyn RuleNames,
    clock: &Clock,
) -> Result<ModuleHiddenRecord, DecodeError> {
    let ev = abi::ModuleEvent::from_bytes(data).ok_or(DecodeError::Short(data.len()))?;
    let mut common = common("module_hidden", &ev.hdr, names, clock, &[], 0)?;
    common.rule = HIDDEN_MODULE_RULE.into();
    common.severity = Some("high");
    common.message = Some(
        "a loaded kernel module unlinked itself from the module list (hidden from lsmod, /proc/modules and rmmod)"
            .into(),
    );
    common.tags = Vec::new();
    Ok(ModuleHiddenRecord {
        common,
        module: HiddenModule {
            name: cstr(&ev.name, abi::MODULE_NAME_LEN),
            address: ev.addr,
            loaded_at: clock.rfc3339(ev.load_ns),
            how: match ev.how {
                abi::HIDDEN_POISONED => "poisoned",
                abi::HIDDEN_SELF => "self_linked",
                abi::HIDDEN_UNLINKED => "unlinked",
                _ => "unknown",
            },
        },
    })
}

fn decode_file(
    data: &[u8],
    names: &dyn RuleNames,
    clock: &Clock,
) -> Result<FileRecord, DecodeError> {
    let ev = abi::FileEvent::from_bytes(data).ok_or(DecodeError::Short(data.len()))?;
    let mut truncated = Vec::new();
    if ev.flags & abi::F_PATH_TRUNCATED != 0 {
        truncated.push("path");
    }
    if ev.flags & abi::F_EXE_TRUNCATED != 0 {
        truncated.push("exe");
    }
    let flags = krsi_policy::fields::OPEN_FLAGS
        .iter()
        .enumerate()
        .filter(|(i, _)| ev.open_flags & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    Ok(FileRecord {
        common: common("open", &ev.hdr, names, clock, &ev.exe, ev.exe_len)?,
        path: cstr(&ev.path, ev.path_len as usize),
        flags,
        file: FileId {
            proc: (ev.proc_pid != 0).then_some(ProcFile {
                pid: ev.proc_pid,
                own: ev.proc_self != 0,
            }),
            ..FileId::new(ev.dev, ev.ino)
        },
        truncated,
    })
}

fn decode_exec(
    data: &[u8],
    names: &dyn RuleNames,
    clock: &Clock,
) -> Result<ExecRecord, DecodeError> {
    let ev = ExecEvent::from_bytes(data).ok_or(DecodeError::Short(data.len()))?;

    let mut truncated = Vec::new();
    let argv_bytes = &ev.argv[..(ev.argv_len as usize).min(abi::ARGV_MAX)];
    let mut argv: Vec<String> = argv_bytes
        .split(|&b| b == 0)
        .take(ev.argc as usize)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    // A record cut in the middle of a string leaves a partial last argument.
    if argv.len() < ev.argc as usize || ev.flags & abi::F_ARGV_TRUNCATED != 0 {
        truncated.push("argv");
    }
    if ev.flags & abi::F_ARGV_MISSING != 0 {
        argv.clear();
        if !truncated.contains(&"argv") {
            truncated.push("argv");
        }
    }
    if ev.flags & abi::F_EXE_TRUNCATED != 0 {
        truncated.push("exe");
    }
    if ev.flags & abi::F_HASH_MISSING != 0 {
        truncated.push("file.sha256");
    }
    let mut common = common("exec", &ev.hdr, names, clock, &ev.exe, ev.exe_len)?;
    let mut file = FileId::new(ev.dev, ev.ino);
    if ev.flags & abi::F_HASH != 0 {
        let h = hex(&ev.sha256);
        with_note(&mut common, names, ev.hdr.slot, &h);
        file.sha256 = Some(h);
    }
    let entries: Vec<String> = (0..2)
        .filter(|&i| ev.env_len[i] > 0)
        .map(|i| cstr(&ev.env[i], ev.env_len[i] as usize))
        .collect();
    let summed = ev.flags & abi::F_ENV != 0;
    let env = (summed || !entries.is_empty()).then(|| EnvSummary {
        count: summed.then_some(ev.env_count),
        bytes: summed.then_some(ev.env_bytes),
        duplicates: summed.then_some(ev.env_duplicates),
        overflow: ev.flags & abi::F_ENV_OVERFLOW != 0,
        entries,
    });
    Ok(ExecRecord {
        common,
        filename: cstr(&ev.filename, ev.filename_len as usize),
        argv,
        env,
        file,
        fileless: fileless_name(ev.fileless),
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;
    impl RuleNames for Names {
        fn rule(&self, slot: u32, rule: u32) -> Option<RuleMeta> {
            (slot == 1 && rule == 3).then(|| RuleMeta {
                name: "no-nc".into(),
                message: Some("netcat".into()),
                severity: Some("high"),
                tags: vec!["mitre:T1059".into()],
                errno: Some("EACCES"),
            })
        }
        fn note(&self, slot: u32, value: &str) -> Option<String> {
            (slot == 1 && value.starts_with("abab")).then(|| "CVE-2099-0001".into())
        }
    }

    fn put(dst: &mut [u8], s: &[u8]) -> u16 {
        dst[..s.len()].copy_from_slice(s);
        s.len() as u16
    }

    fn sample() -> ExecEvent {
        // SAFETY: all-zero is a valid ExecEvent.
        let mut ev: ExecEvent = unsafe { std::mem::zeroed() };
        ev.hdr.boot_ns = 1_500_000_000;
        ev.hdr.kind = abi::EVENT_EXEC;
        ev.hdr.source = abi::SRC_LSM_BPRM_CHECK_SECURITY;
        ev.hdr.action = abi::ACTION_DENY;
        ev.hdr.rule = 3;
        ev.hdr.slot = 1;
        ev.hdr.pid = 100;
        ev.hdr.tid = 101;
        ev.hdr.ppid = 1;
        ev.hdr.cgroup_id = 7;
        ev.hdr.comm[..2].copy_from_slice(b"sh");
        ev.dev = (8 << 20) | 1;
        ev.ino = 42;
        ev.filename_len = put(&mut ev.filename, b"/usr/bin/nc\0");
        ev.filename_len -= 1;
        ev.exe_len = put(&mut ev.exe, b"/bin/busybox");
        let argv = b"nc\0-l\0-p\x001234\0HOME=/root\0";
        ev.argv_len = put(&mut ev.argv, argv) as u32;
        ev.argc = 4;
        ev
    }

    #[test]
    fn decodes_a_deny_record() {
        let ev = sample();
        let rec = decode(
            ev.as_bytes(),
            &Names,
            &Clock::fixed(1_700_000_000_000_000_000),
        )
        .unwrap();
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["time"], "2023-11-14T22:13:21.500000000Z");
        assert_eq!(json["event"], "exec");
        assert_eq!(json["hook"], "bprm_check_security");
        assert_eq!(json["backend"], "bpf-lsm");
        assert_eq!(json["action"], "deny");
        assert_eq!(json["errno"], "EACCES");
        assert_eq!(json["rule"], "no-nc");
        assert_eq!(json["message"], "netcat");
        assert_eq!(json["severity"], "high");
        assert_eq!(json["tags"], serde_json::json!(["mitre:T1059"]));
        assert_eq!(json["process"]["pid"], 100);
        assert_eq!(json["process"]["tid"], 101);
        assert_eq!(json["process"]["comm"], "sh");
        assert_eq!(json["process"]["exe"], "/bin/busybox");
        assert_eq!(json["filename"], "/usr/bin/nc");
        assert_eq!(json["argv"], serde_json::json!(["nc", "-l", "-p", "1234"]));
        assert_eq!(json["file"]["dev"], "8:1");
        assert_eq!(json["file"]["ino"], 42);
        assert!(json.get("truncated").is_none());
        assert!(json.get("fileless").is_none());
        assert!(json["file"].get("proc").is_none());
    }

    #[test]
    fn errno_only_where_the_call_failed() {
        let mut ev = sample();
        let errno = |ev: &ExecEvent| {
            let rec = decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap();
            serde_json::to_value(&rec).unwrap().get("errno").cloned()
        };
        ev.hdr.action = abi::ACTION_KILL;
        assert_eq!(errno(&ev), Some("EACCES".into()));
        // Past the point of no return, or on the tracepoint backend, a kill
        // kills: no call fails.
        ev.hdr.source = abi::SRC_LSM_BPRM_COMMITTED_CREDS;
        assert_eq!(errno(&ev), None);
        ev.hdr.source = abi::SRC_TP_SCHED_PROCESS_EXEC;
        assert_eq!(errno(&ev), None);
        ev.hdr.source = abi::SRC_LSM_BPRM_CHECK_SECURITY;
        ev.hdr.action = abi::ACTION_AUDIT;
        assert_eq!(errno(&ev), None);
    }

    #[test]
    fn exec_records_say_how_a_file_is_fileless() {
        let mut ev = sample();
        for (kind, name) in [
            (abi::FILELESS_MEMFD, "memfd"),
            (abi::FILELESS_DELETED, "deleted"),
            (abi::FILELESS_INTERNAL, "internal"),
        ] {
            ev.fileless = kind;
            let json =
                serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap())
                    .unwrap();
            assert_eq!(json["fileless"], name);
        }
    }

    #[test]
    fn digests_and_their_notes() {
        let mut ev = sample();
        ev.sha256 = [0xab; 32];
        ev.flags = abi::F_HASH;
        let rec = decode_exec(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap();
        assert_eq!(rec.file.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(rec.common.message.as_deref(), Some("netcat: CVE-2099-0001"));
        // Asked for and not computed: named, never a zero digest.
        ev.flags = abi::F_HASH_MISSING;
        let rec = decode_exec(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap();
        assert_eq!(rec.file.sha256, None);
        assert_eq!(rec.truncated, vec!["file.sha256"]);
        // A kernel read's record: the digest rides in facts A12..A15.
        // SAFETY: all-zero is a valid HookEvent.
        let mut h: abi::HookEvent = unsafe { std::mem::zeroed() };
        h.hdr.kind = abi::EVENT_HOOK;
        h.hdr.source = abi::SRC_LSM_HOOK + krsi_policy::Hook::KernelReadFile as u32;
        h.hdr.action = abi::ACTION_DENY;
        h.hdr.slot = 1;
        h.hdr.rule = 3;
        h.hook = krsi_policy::Hook::KernelReadFile as u32;
        h.flags = abi::F_HASH;
        for w in &mut h.args[abi::A_HASH..abi::A_HASH + 4] {
            *w = u64::from_ne_bytes([0xab; 8]);
        }
        h.args[2] = 2; // read.id: module
        let json =
            serde_json::to_value(decode(h.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(json["file"]["sha256"], "ab".repeat(32));
        assert_eq!(json["read"]["id"], "module");
        assert_eq!(json["message"], "netcat: CVE-2099-0001");
    }

    #[test]
    fn environment_summary() {
        let mut ev = sample();
        ev.hdr.source = abi::SRC_LSM_BPRM_COMMITTED_CREDS;
        ev.flags = abi::F_ENV | abi::F_ENV_OVERFLOW;
        ev.env_count = 700;
        ev.env_bytes = 9000;
        ev.env_duplicates = 1;
        ev.env_len = [
            put(&mut ev.env[0], b"LD_PRELOAD=/a.so"),
            put(&mut ev.env[1], b"LD_PRELOAD=/b.so"),
        ];
        let json =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(
            json["env"],
            serde_json::json!({"count": 700, "bytes": 9000, "duplicates": 1, "overflow": true,
                "entries": ["LD_PRELOAD=/a.so", "LD_PRELOAD=/b.so"]})
        );
        // A matched variable without a walk: its entry only.
        ev.flags = 0;
        ev.env_len[1] = 0;
        let json =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(
            json["env"],
            serde_json::json!({"entries": ["LD_PRELOAD=/a.so"]})
        );
        ev.env_len[0] = 0;
        let rec = decode_exec(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap();
        assert_eq!(rec.env, None);
    }

    #[test]
    fn flags_truncation_and_unknown_rules() {
        let mut ev = sample();
        ev.argc = 9; // more than the record holds
        ev.hdr.rule = 5;
        ev.flags = abi::F_EXE_TRUNCATED;
        let rec = decode_exec(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap();
        assert_eq!(rec.truncated, vec!["argv", "exe"]);
        assert_eq!(rec.common.rule, "#5");
        assert_eq!(rec.common.message, None);
        ev.flags = abi::F_ARGV_MISSING;
        let rec = decode_exec(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap();
        assert!(rec.argv.is_empty());
        assert_eq!(rec.truncated, vec!["argv"]);
    }

    #[test]
    fn decodes_tamper_records() {
        struct Sealed;
        impl RuleNames for Sealed {
            fn rule(&self, _: u32, _: u32) -> Option<RuleMeta> {
                None
            }
            fn seal(&self) -> Option<String> {
                Some("0123456789abcdef".into())
            }
        }
        // SAFETY: all-zero is a valid TamperEvent.
        let mut ev: abi::TamperEvent = unsafe { std::mem::zeroed() };
        ev.hdr = sample().hdr;
        ev.hdr.kind = abi::EVENT_TAMPER;
        ev.hdr.source = abi::SRC_LSM_INODE_UNLINK;
        ev.hdr.action = abi::ACTION_DENY;
        ev.hdr.rule = abi::NO_RULE;
        ev.what = abi::TAMPER_PIN;
        ev.id = 7;
        ev.ino = 4242;
        let v = serde_json::to_value(decode(ev.as_bytes(), &Sealed, &Clock::fixed(0)).unwrap())
            .unwrap();
        assert_eq!(v["event"], "tamper");
        assert_eq!(v["hook"], "inode_unlink");
        assert_eq!(v["action"], "deny");
        assert_eq!(v["rule"], POLICY_LOCK_RULE);
        assert_eq!(v["severity"], "critical");
        assert_eq!(
            v["lock"],
            serde_json::json!({"refused": "pin", "ino": 4242, "seal": "0123456789abcdef"})
        );
        ev.hdr.source = abi::SRC_LSM_HOOK
            + krsi_policy::Hook::ALL
                .iter()
                .position(|h| *h == krsi_policy::Hook::Bpf)
                .unwrap() as u32;
        ev.what = abi::TAMPER_LINK;
        let v =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(v["hook"], "bpf");
        assert_eq!(v["lock"], serde_json::json!({"refused": "link", "id": 7}));
    }

    #[test]
    fn decodes_module_load_and_hidden_module_records() {
        let hook = krsi_policy::Hook::ALL
            .iter()
            .position(|h| *h == krsi_policy::Hook::ModuleLoad)
            .unwrap() as u32;
        // SAFETY: all-zero is a valid HookEvent.
        let mut ev: abi::HookEvent = unsafe { std::mem::zeroed() };
        ev.hdr = sample().hdr;
        ev.hdr.kind = abi::EVENT_HOOK;
        ev.hdr.source = abi::SRC_LSM_HOOK + hook;
        ev.hdr.action = abi::ACTION_AUDIT;
        ev.hook = hook;
        ev.args[2] = 2; // memory
        ev.args[3] = 0xffff_ffff_c0a0_0040;
        ev.name_len = put(&mut ev.name, b"crc7");
        let v =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(v["event"], "module_load");
        assert_eq!(
            (v["hook"].as_str(), v["backend"].as_str()),
            (Some("module_load"), Some("tracepoint"))
        );
        assert_eq!(
            v["module"],
            serde_json::json!({"name": "crc7", "source": "memory", "address": 0xffff_ffff_c0a0_0040u64})
        );
        assert_eq!(v["file"], serde_json::json!({"path": ""}));

        // SAFETY: all-zero is a valid ModuleEvent.
        let mut m: abi::ModuleEvent = unsafe { std::mem::zeroed() };
        m.hdr = sample().hdr;
        m.hdr.kind = abi::EVENT_MODULE_HIDDEN;
        m.hdr.source = abi::SRC_LSM_HOOK + hook;
        m.hdr.action = abi::ACTION_AUDIT;
        m.hdr.rule = abi::NO_RULE;
        m.addr = 0xffff_ffff_c0a0_0040;
        m.load_ns = 1_000_000_000;
        m.how = abi::HIDDEN_POISONED;
        put(&mut m.name, b"krsi_hide");
        let v =
            serde_json::to_value(decode(m.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(v["event"], "module_hidden");
        assert_eq!(v["rule"], HIDDEN_MODULE_RULE);
        assert_eq!(v["severity"], "high");
        assert_eq!(
            v["module"],
            serde_json::json!({"name": "krsi_hide", "address": 0xffff_ffff_c0a0_0040u64,
                "loaded_at": "1970-01-01T00:00:01.000000000Z", "how": "poisoned"})
        );
        assert_eq!(v["process"]["comm"], "sh");
        assert_eq!(
            decode(&m.as_bytes()[..100], &Names, &Clock::fixed(0)),
            Err(DecodeError::Short(100))
        );
    }

    #[test]
    fn decodes_a_hook_record_with_nested_fields() {
        // SAFETY: all-zero is a valid HookEvent.
        let mut ev: abi::HookEvent = unsafe { std::mem::zeroed() };
        ev.hdr = sample().hdr;
        ev.hdr.kind = abi::EVENT_HOOK;
        ev.hdr.source = abi::SRC_LSM_HOOK + 16; // socket_connect
        ev.hdr.action = abi::ACTION_KILL;
        ev.hdr.taint = 0b1;
        ev.hook = 16;
        ev.args[2] = 2; // AF_INET
        ev.args[3] = 1; // SOCK_STREAM
        ev.args[4] = 4444;
        let mut a = [0u8; 16];
        a[10] = 0xff;
        a[11] = 0xff;
        a[12..].copy_from_slice(&[10, 1, 2, 3]);
        ev.args[5] = u64::from_ne_bytes(a[..8].try_into().unwrap());
        ev.args[6] = u64::from_ne_bytes(a[8..].try_into().unwrap());
        struct Labels;
        impl RuleNames for Labels {
            fn rule(&self, slot: u32, rule: u32) -> Option<RuleMeta> {
                Names.rule(slot, rule)
            }
            fn labels(&self, _slot: u32) -> Vec<String> {
                vec!["memwriter".into()]
            }
        }
        let rec = decode(ev.as_bytes(), &Labels, &Clock::fixed(0)).unwrap();
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!(v["event"], "socket");
        assert_eq!(v["hook"], "socket_connect");
        assert_eq!(v["action"], "kill");
        assert_eq!(v["errno"], "EACCES");
        assert_eq!(
            v["socket"],
            serde_json::json!({"family": "inet", "type": "stream"})
        );
        assert_eq!(
            v["net"],
            serde_json::json!({"addr": "10.1.2.3", "port": 4444})
        );
        assert_eq!(v["process"]["taint"], serde_json::json!(["memwriter"]));
    }

    #[test]
    fn rejects_bad_records() {
        assert_eq!(
            decode(&[0u8; 10], &Names, &Clock::fixed(0)),
            Err(DecodeError::Short(10))
        );
        let mut ev = sample();
        ev.hdr.kind = 99;
        assert_eq!(
            decode(ev.as_bytes(), &Names, &Clock::fixed(0)),
            Err(DecodeError::UnknownType(99))
        );
        let mut ev = sample();
        ev.hdr.source = 200;
        assert_eq!(
            decode(ev.as_bytes(), &Names, &Clock::fixed(0)),
            Err(DecodeError::UnknownSource(200))
        );
        let ev = sample();
        assert_eq!(
            decode(&ev.as_bytes()[..200], &Names, &Clock::fixed(0)),
            Err(DecodeError::Short(200))
        );
    }

    #[test]
    fn decodes_a_file_open_record() {
        // SAFETY: all-zero is a valid FileEvent.
        let mut ev: abi::FileEvent = unsafe { std::mem::zeroed() };
        ev.hdr.kind = abi::EVENT_FILE;
        ev.hdr.source = abi::SRC_LSM_FILE_OPEN;
        ev.hdr.action = abi::ACTION_WOULD_DENY;
        ev.hdr.slot = 1;
        ev.hdr.rule = 3;
        ev.hdr.pid = 7;
        ev.open_flags = 0b11; // read, write
        ev.flags = abi::F_PATH_TRUNCATED;
        ev.path_len = put(&mut ev.path, b"/etc/shadow");
        ev.ino = 9;
        let json =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(json["event"], "open");
        assert_eq!(json["hook"], "file_open");
        assert_eq!(json["backend"], "bpf-lsm");
        assert_eq!(json["action"], "would_deny");
        assert!(json.get("errno").is_none(), "the call went ahead: {json}");
        assert_eq!(json["rule"], "no-nc");
        assert_eq!(json["path"], "/etc/shadow");
        assert_eq!(json["flags"], serde_json::json!(["read", "write"]));
        assert_eq!(json["truncated"], serde_json::json!(["path"]));
        assert_eq!(json["process"]["pid"], 7);
        assert!(json.get("argv").is_none());
        assert!(json["file"].get("proc").is_none());
        ev.proc_pid = 42;
        ev.proc_self = 0;
        let json =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(
            json["file"],
            serde_json::json!({"dev": "0:0", "ino": 9, "proc": {"pid": 42, "self": false}})
        );
    }

    #[test]
    fn hook_records_name_whose_running_exe_a_file_is() {
        // SAFETY: all-zero is a valid HookEvent.
        let mut ev: abi::HookEvent = unsafe { std::mem::zeroed() };
        ev.hdr = sample().hdr;
        ev.hdr.kind = abi::EVENT_HOOK;
        ev.hdr.source = abi::SRC_LSM_HOOK + 4; // inode_rename
        ev.hdr.action = abi::ACTION_AUDIT;
        ev.hook = 4;
        ev.args[2] = 1; // running_exe
        ev.args[5] = 1; // replaces_running_exe
        ev.args[6] = 1; // running_exe_of: self
        ev.args[7] = 2; // replaces_running_exe_of: parent
        let v =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(v["event"], "rename");
        assert_eq!(v["file"]["running_exe_of"], "self");
        assert_eq!(v["file"]["replaces_running_exe_of"], "parent");
        ev.args[6] = 3;
        ev.args[7] = 0;
        let v =
            serde_json::to_value(decode(ev.as_bytes(), &Names, &Clock::fixed(0)).unwrap()).unwrap();
        assert_eq!(v["file"]["running_exe_of"], "other");
        assert_eq!(v["file"]["replaces_running_exe_of"], "none");
    }

    #[test]
    fn time_is_rfc3339_with_nanoseconds() {
        assert_eq!(rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339_ns(1_000_000_001), "1970-01-01T00:00:01.000000001Z");
    }
}
