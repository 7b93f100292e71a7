use std::fmt;

use crate::fields::Op;

/// A value with the place in a policy file it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

/// Where a node came from: file, line, column (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pos {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

macro_rules! hooks {
    ($($v:ident => $name:literal),* $(,)?) => {
        /// LSM hooks, spelled as the kernel spells them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Hook { $($v),* }

        impl Hook {
            pub const ALL: &'static [Hook] = &[$(Hook::$v),*];

            pub fn name(self) -> &'static str {
                match self { $(Hook::$v => $name),* }
            }
        }
    };
}

hooks! {
    BprmCheckSecurity => "bprm_check_security",
    FileOpen => "file_open",
    InodeUnlink => "inode_unlink",
    PathUnlink => "path_unlink",
    InodeRename => "inode_rename",
    KernelReadFile => "kernel_read_file",
    KernelLoadData => "kernel_load_data",
    KernelModuleRequest => "kernel_module_request",
    SbMount => "sb_mount",
    MoveMount => "move_mount",
    PtraceAccessCheck => "ptrace_access_check",
    PtraceTraceme => "ptrace_traceme",
    TaskFixSetuid => "task_fix_setuid",
    TaskFixSetgid => "task_fix_setgid",
    TaskPrctl => "task_prctl",
    SocketCreate => "socket_create",
    SocketConnect => "socket_connect",
    SocketBind => "socket_bind",
    SocketListen => "socket_listen",
    SocketAccept => "socket_accept",
    InodeCreate => "inode_create",
    InodeMkdir => "inode_mkdir",
    InodeSymlink => "inode_symlink",
    TaskKill => "task_kill",
    Bpf => "bpf",
    BpfMap => "bpf_map",
    BpfProg => "bpf_prog",
    // Exec after the point of no return: argv and the environment are the
    // new image's; a rule here can audit, kill or taint, not deny.
    BprmCommittedCreds => "bprm_committed_creds",
    // A new super block before it is mounted (mount(2) and fsconfig): the
    // block device under it is known (no USB storage).
    SbSetMntOpts => "sb_set_mnt_opts",
    // The module_load tracepoint: a module is in; audit only.
    ModuleLoad => "module_load",
    // A capability check: SafeSetID's restriction of CAP_SETUID/CAP_SETGID
    // outside set*id calls.
    Capable => "capable",
}

/// Friendly event names analysts may write instead of a hook name.
pub const HOOK_ALIASES: &[(&str, Hook)] = &[
    ("exec", Hook::BprmCheckSecurity),
    ("open", Hook::FileOpen),
    ("unlink", Hook::InodeUnlink),
    ("rename", Hook::InodeRename),
    ("module_read", Hook::KernelReadFile),
    ("mount", Hook::SbMount),
    ("ptrace", Hook::PtraceAccessCheck),
    ("setuid", Hook::TaskFixSetuid),
    ("setgid", Hook::TaskFixSetgid),
    ("prctl", Hook::TaskPrctl),
    ("connect", Hook::SocketConnect),
    ("bind", Hook::SocketBind),
    ("listen", Hook::SocketListen),
    ("kill", Hook::TaskKill),
];

impl Hook {
    /// Kernel names and the friendly event names.
    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL
            .iter()
            .copied()
            .find(|h| h.name() == name)
            .or_else(|| {
                HOOK_ALIASES
                    .iter()
                    .find(|(a, _)| *a == name)
                    .map(|(_, h)| *h)
            })
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Audit,
    Deny,
    /// SIGKILL the actor; the call is denied too.
    Kill,
    /// Mark the process and its future children with a label.
    Taint(String),
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Audit => "audit",
            Action::Deny => "deny",
            Action::Kill => "kill",
            Action::Taint(_) => "taint",
        }
    }
}

/// The error a deny or kill rule makes the call fail with (`errno: NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno {
    pub name: &'static str,
    /// Positive, as `errno` reads it; the hook returns its negation.
    pub number: u32,
}

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        /// The names `errno:` accepts. Left out on purpose: ENOSYS (the
        /// task_prctl hook's "not handled": the prctl would go ahead), EINTR
        /// and the kernel-internal restart codes (the call would be retried).
        pub const ALL: &'static [Errno] = &[$(Errno { name: stringify!($name), number: libc::$name as u32 }),*];
    };
}

impl Errno {
    errnos![
        EPERM,
        ENOENT,
        EIO,
        ENXIO,
        E2BIG,
        ENOEXEC,
        EBADF,
        EAGAIN,
        ENOMEM,
        EACCES,
        EFAULT,
        EBUSY,
        EEXIST,
        EXDEV,
        ENODEV,
        ENOTDIR,
        EISDIR,
        EINVAL,
        ENFILE,
        EMFILE,
        ETXTBSY,
        EFBIG,
        ENOSPC,
        ESPIPE,
        EROFS,
        EMLINK,
        ENAMETOOLONG,
        ENOTEMPTY,
        ELOOP,
        EOPNOTSUPP,
        EPROTONOSUPPORT,
        EAFNOSUPPORT,
        EADDRINUSE,
        EADDRNOTAVAIL,
        ENETDOWN,
        ENETUNREACH,
        ECONNABORTED,
        ECONNRESET,
        ETIMEDOUT,
        ECONNREFUSED,
        EHOSTUNREACH,
        ECANCELED,
        EKEYREJECTED,
    ];

    /// What a deny returns when the rule names none.
    pub const EPERM: Errno = Errno {
        name: "EPERM",
        number: libc::EPERM as u32,
    };

    pub fn from_name(name: &str) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.name == name)
    }

    pub fn from_number(number: u32) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.number == number)
    }
}

impl Default for Errno {
    fn default() -> Self {
        Errno::EPERM
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    #[default]
    Enforce,
    /// Denies and kills are reported as `would_deny` and allowed.
    Monitor,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["info", "low", "medium", "high", "critical"];

    pub fn from_name(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Severity::NAMES[self as usize]
    }
}

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Str(String),
    Int(u64),
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A condition as written: macros and lists are resolved by `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Macro(Spanned<String>),
    Cmp(Cmp),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmp {
    pub field: Spanned<String>,
    pub op: Op,
    pub values: Vec<Spanned<Value>>,
    /// `in: NAME`: the named list, expanded into `values` by `check`.
    pub list: Option<Spanned<String>>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub events: u32,
    pub per_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: Spanned<String>,
    pub hook: Spanned<Hook>,
    pub action: Spanned<Action>,
    pub cond: Option<Cond>,
    pub message: Option<String>,
    pub severity: Option<Severity>,
    pub tags: Vec<String>,
    /// Per-rule override of the policy's mode.
    pub mode: Option<Mode>,
    pub rate_limit: Option<RateLimit>,
    /// `errno: NAME` of a deny or kill rule (EPERM when absent).
    pub errno: Option<Spanned<Errno>>,
    /// The file the rule is written in.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedList {
    pub name: Spanned<String>,
    pub values: Vec<Spanned<Value>>,
    /// `(entry, note)`: events whose value is the entry carry the note.
    pub notes: Vec<(String, String)>,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroDef {
    pub name: Spanned<String>,
    pub cond: Cond,
    pub file: String,
}

/// `loadpin: {root: PATH}`: LoadPin pins the file system holding PATH
/// instead of the first one a kernel read comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loadpin {
    pub root: Spanned<String>,
    /// The file the setting is written in.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Where the policy came from (a file, a directory, or the embedded default).
    pub source: String,
    pub mode: Mode,
    pub loadpin: Option<Loadpin>,
    pub rules: Vec<Rule>,
    pub lists: Vec<NamedList>,
    pub macros: Vec<MacroDef>,
    /// The files that say `lock: until-reboot` (where they say it): their
    /// rules are sealed into the kernel until reboot (see `crate::lock`).
    pub locks: Vec<Pos>,
    /// Findings that do not stop the policy (an unused list, ...).
    pub warnings: Vec<crate::diag::Diagnostic>,
}

impl Rule {
    /// The mode in force for this rule.
    pub fn effective_mode(&self, policy: Mode) -> Mode {
        self.mode.unwrap_or(policy)
    }
}
