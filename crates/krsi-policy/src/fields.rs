//! The fields a rule can match, per hook, with their types. One table drives
//! validation, `krsi policy explain` and the JSON Schema export.
use crate::model::Hook;

/// What kind of value a field holds, which decides the operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text (comm, module name, fs type).
    Str,
    /// An absolute path; rules on exact paths resolve to file identities.
    Path,
    /// An unsigned integer (ids, counts, ports, signal numbers).
    Int,
    /// A set of named flags (open flags, mount flags, capabilities).
    Flags(&'static [&'static str]),
    /// One of a fixed set of names (socket family, kernel read id, relation).
    Enum(&'static [&'static str]),
    /// An IPv4/IPv6 address.
    Addr,
    Bool,
    /// A list of strings (argv, environment names, taint labels, ancestors).
    StrList,
    /// A SHA-256 digest: 64 hex digits, as `krsi hash` prints them.
    Digest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    In,
    Prefix,
    Glob,
    Cidr,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

impl Op {
    pub const ALL: &'static [Op] = &[
        Op::Equal,
        Op::In,
        Op::Prefix,
        Op::Glob,
        Op::Cidr,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::Contains,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Equal => "equal",
            Op::In => "in",
            Op::Prefix => "prefix",
            Op::Glob => "glob",
            Op::Cidr => "cidr",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Contains => "contains",
        }
    }

    pub fn from_name(s: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|o| o.name() == s)
    }
}

impl FieldType {
    pub fn ops(self) -> &'static [Op] {
        match self {
            FieldType::Str => &[Op::Equal, Op::In, Op::Prefix, Op::Glob, Op::Contains],
            FieldType::Path => &[Op::Equal, Op::In, Op::Prefix, Op::Glob, Op::Contains],
            FieldType::Int => &[Op::Equal, Op::In, Op::Lt, Op::Le, Op::Gt, Op::Ge],
            FieldType::Flags(_) => &[Op::Contains, Op::Equal],
            FieldType::Enum(_) => &[Op::Equal, Op::In],
            FieldType::Addr => &[Op::Equal, Op::In, Op::Cidr],
            FieldType::Bool => &[Op::Equal],
            FieldType::StrList => &[Op::Contains, Op::Prefix, Op::Glob],
            FieldType::Digest => &[Op::Equal, Op::In],
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Path => "path",
            FieldType::Int => "integer",
            FieldType::Flags(_) => "flags",
            FieldType::Enum(_) => "name",
            FieldType::Addr => "address",
            FieldType::Bool => "boolean",
            FieldType::StrList => "list of strings",
            FieldType::Digest => "SHA-256 digest",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub doc: &'static str,
}

const fn f(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    Field { name, ty, doc }
}

pub const OPEN_FLAGS: &[&str] = &[
    "read",
    "write",
    "exec",
    "append",
    "create",
    "truncate",
    "directory",
    "nofollow",
];
pub const MOUNT_FLAGS: &[&str] = &[
    "rdonly", "nosuid", "nodev", "noexec", "remount", "bind", "move", "rec", "private", "shared",
    "slave",
];
pub const CAPS: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];
pub const INODE_TYPES: &[&str] = &[
    "regular",
    "directory",
    "symlink",
    "char",
    "block",
    "fifo",
    "socket",
];
pub const READ_IDS: &[&str] = &[
    "unknown",
    "firmware",
    "module",
    "kexec_image",
    "kexec_initramfs",
    "policy",
    "x509_certificate",
];
/// module.source: how the module reached the kernel (unknown: the LSM
/// hooks that tell were not attached, e.g. the tracepoint backend).
pub const MODULE_SOURCES: &[&str] = &["unknown", "file", "memory"];
/// Whose running executable a file is (`file.running_exe_of`): the caller's
/// own, its parent's, another process's (or none).
pub const EXE_OWNERS: &[&str] = &["none", "self", "parent", "other"];
pub const PTRACE_RELATIONS: &[&str] = &["self", "ancestor", "descendant", "other"];
pub const PTRACE_MODES: &[&str] = &["read", "attach", "fscreds", "realcreds", "noaudit"];
pub const FAMILIES: &[&str] = &[
    "unix",
    "inet",
    "inet6",
    "netlink",
    "packet",
    "vsock",
    "bluetooth",
    "can",
    "xdp",
    "alg",
    "key",
];
pub const SOCK_TYPES: &[&str] = &["stream", "dgram", "raw", "rdm", "seqpacket", "packet"];
pub const BPF_CMDS: &[&str] = &[
    "map_create",
    "map_lookup_elem",
    "map_update_elem",
    "map_delete_elem",
    "map_get_next_key",
    "prog_load",
    "obj_pin",
    "obj_get",
    "prog_attach",
    "prog_detach",
    "prog_test_run",
    "prog_get_next_id",
    "map_get_next_id",
    "prog_get_fd_by_id",
    "map_get_fd_by_id",
    "obj_get_info_by_fd",
    "prog_query",
    "raw_tracepoint_open",
    "btf_load",
    "btf_get_fd_by_id",
    "task_fd_query",
    "map_lookup_and_delete_elem",
    "map_freeze",
    "btf_get_next_id",
    "map_lookup_batch",
    "map_lookup_and_delete_batch",
    "map_update_batch",
    "map_delete_batch",
    "link_create",
    "link_update",
    "link_get_fd_by_id",
    "link_get_next_id",
    "enable_stats",
    "iter_create",
    "link_detach",
    "prog_bind_map",
];

/// Fields of the task performing the action, available on every hook.
pub const PROCESS_FIELDS: &[Field] = &[
    f("process.pid", FieldType::Int, "thread-group id"),
    f("process.tid", FieldType::Int, "thread id"),
    f("process.ppid", FieldType::Int, "parent's thread-group id"),
    f("process.uid", FieldType::Int, "real uid"),
    f("process.euid", FieldType::Int, "effective uid"),
    f("process.gid", FieldType::Int, "real gid"),
    f("process.comm", FieldType::Str, "task name (15 bytes)"),
    f(
        "process.exe",
        FieldType::Path,
        "executable; exact paths match by file identity",
    ),
    f("process.cgroup.id", FieldType::Int, "cgroup v2 id"),
    f(
        "process.cgroup.path",
        FieldType::Path,
        "cgroup v2 path below the cgroup root",
    ),
    f(
        "process.ns.pid",
        FieldType::Int,
        "pid namespace inode number",
    ),
    f(
        "process.ns.mnt",
        FieldType::Int,
        "mount namespace inode number",
    ),
    f(
        "process.ns.user",
        FieldType::Int,
        "user namespace inode number",
    ),
    f(
        "process.caps.effective",
        FieldType::Flags(CAPS),
        "effective capabilities",
    ),
    f(
        "process.ancestors",
        FieldType::StrList,
        "executables of the ancestors, nearest first",
    ),
    f(
        "process.taint",
        FieldType::StrList,
        "taint labels set by earlier rules",
    ),
];

/// Process fields of the *target* task (ptrace, signals).
pub const TARGET_FIELDS: &[Field] = &[
    f("target.pid", FieldType::Int, "target's thread-group id"),
    f("target.uid", FieldType::Int, "target's real uid"),
    f("target.comm", FieldType::Str, "target's task name"),
    f("target.exe", FieldType::Path, "target's executable"),
    f("target.cgroup.id", FieldType::Int, "target's cgroup v2 id"),
];

const SHA256_DOC: &str = "SHA-256 of the file's content (IMA's digest, cached per file until it is opened for writing); a list of thousands is one lookup";
const EXEC: &[Field] = &[
    f(
        "file.path",
        FieldType::Path,
        "the executed file; exact paths match by identity (dev, inode)",
    ),
    f("file.sha256", FieldType::Digest, SHA256_DOC),
    f(
        "exec.argv",
        FieldType::StrList,
        "arguments of the new program",
    ),
    f(
        "exec.env.names",
        FieldType::StrList,
        "names of the environment variables",
    ),
    f(
        "exec.env",
        FieldType::StrList,
        "environment entries as NAME=value",
    ),
    f(
        "exec.env.count",
        FieldType::Int,
        "number of environment variables",
    ),
    f(
        "exec.env.bytes",
        FieldType::Int,
        "size of the environment strings (NAME=value and NUL each), as the kernel copied them",
    ),
    f(
        "exec.env.duplicates",
        FieldType::Int,
        "settings of variables already set earlier in envp (LD_PRELOAD twice is 1; shells never pass duplicates, a raw execve can)",
    ),
    f(
        "exec.env.overflow",
        FieldType::Bool,
        "the environment is too large for the kernel walk (more than 512 argv and environment strings, or unreadable): rules on exec.env saw only the first ones",
    ),
    f(
        "exec.setuid",
        FieldType::Bool,
        "the exec changes the effective uid or gid",
    ),
    f(
        "exec.fileless",
        FieldType::Bool,
        "the executed file has no name: a memfd or another file on a kernel-internal mount, or a file whose last link is gone (i_nlink 0)",
    ),
    f(
        "file.memfd",
        FieldType::Bool,
        "the executed file is a memfd (memfd_create)",
    ),
    f(
        "file.nlink",
        FieldType::Int,
        "hard links of the executed file (0: deleted while open)",
    ),
];
const FILE_OPEN: &[Field] = &[
    f("file.path", FieldType::Path, "the opened file"),
    f(
        "file.flags",
        FieldType::Flags(OPEN_FLAGS),
        "how it is opened",
    ),
    f("file.type", FieldType::Enum(INODE_TYPES), "inode type"),
    f(
        "file.fs",
        FieldType::Str,
        "file system type (ext4, tmpfs, proc, ...)",
    ),
    f(
        "file.proc.pid",
        FieldType::Int,
        "for a per-process /proc file (/proc/PID/..., /proc/PID/task/TID/...): the thread-group id of the process it belongs to, as the initial pid namespace numbers it; 0 for any other file",
    ),
    f(
        "file.proc.self",
        FieldType::Bool,
        "the per-process /proc file belongs to the opener's own process",
    ),
    f(
        "file.proc.entry",
        FieldType::Str,
        "name of the per-process /proc file (mem, environ, maps, ...); empty for any other file",
    ),
];
const UNLINK: &[Field] = &[
    f("file.path", FieldType::Path, "the file being removed"),
    f(
        "file.running_exe",
        FieldType::Bool,
        "the file is the executable of a running process",
    ),
    f(
        "file.running_exe_of",
        FieldType::Enum(EXE_OWNERS),
        "whose running executable the file is: self (the caller's), parent (its parent's), other, none",
    ),
];
const RENAME: &[Field] = &[
    f("file.path", FieldType::Path, "the file being renamed"),
    f("file.new_path", FieldType::Path, "its new path"),
    f(
        "file.running_exe",
        FieldType::Bool,
        "the file is the executable of a running process",
    ),
    f(
        "file.replaces_running_exe",
        FieldType::Bool,
        "the rename replaces the executable of a running process",
    ),
    f(
        "file.running_exe_of",
        FieldType::Enum(EXE_OWNERS),
        "whose running executable the renamed file is: self, parent, other, none",
    ),
    f(
        "file.replaces_running_exe_of",
        FieldType::Enum(EXE_OWNERS),
        "whose running executable the rename replaces: self, parent, other, none",
    ),
];
const KERNEL_READ: &[Field] = &[
    f("file.path", FieldType::Path, "the file the kernel reads"),
    f("file.sha256", FieldType::Digest, SHA256_DOC),
    f(
        "read.id",
        FieldType::Enum(READ_IDS),
        "what the kernel reads it as",
    ),
    f(
        "read.pinned",
        FieldType::Bool,
        "the file is on the pinned file system (LoadPin: the one `loadpin.root` names, else the first one a kernel read came from since the agent started; none once it is unmounted)",
    ),
];
const KERNEL_LOAD: &[Field] = &[f(
    "read.id",
    FieldType::Enum(READ_IDS),
    "what the kernel loads from memory",
)];
const MODULE_REQUEST: &[Field] = &[f(
    "module.name",
    FieldType::Str,
    "the module the kernel asks modprobe for",
)];
const MOUNT: &[Field] = &[
    f("mount.source", FieldType::Str, "source device or name"),
    f("mount.fstype", FieldType::Str, "file system type"),
    f("mount.target", FieldType::Path, "mount point"),
    f("mount.flags", FieldType::Flags(MOUNT_FLAGS), "mount flags"),
];
const MOUNT_DEVICE: &[Field] = &[
    f(
        "mount.fstype",
        FieldType::Str,
        "file system type of the new super block",
    ),
    f(
        "mount.device.name",
        FieldType::Str,
        "the kernel's name of the device (sda, vdb1; the file system's id when there is no block device)",
    ),
    f(
        "mount.device.bus",
        FieldType::Str,
        "`usb` when the block device hangs below a USB device (stick, USB disk, uas), else the nearest bus above it (scsi, virtio, pci, ...); empty without a block device",
    ),
    f(
        "mount.device.major",
        FieldType::Int,
        "block device major number (0 without a block device)",
    ),
    f("mount.device.minor", FieldType::Int, "block device minor number"),
];
const MODULE_LOAD: &[Field] = &[
    f("module.name", FieldType::Str, "name of the loaded module"),
    f(
        "module.source",
        FieldType::Enum(MODULE_SOURCES),
        "file (finit_module) or memory (init_module)",
    ),
    f(
        "file.path",
        FieldType::Path,
        "the module file (finit_module); empty when loaded from memory",
    ),
    f("file.sha256", FieldType::Digest, SHA256_DOC),
    f(
        "module.address",
        FieldType::Int,
        "kernel address of its struct module (as in a module_hidden event)",
    ),
];
const PTRACE: &[Field] = &[
    f(
        "ptrace.relation",
        FieldType::Enum(PTRACE_RELATIONS),
        "target relative to the tracer",
    ),
    f("ptrace.mode", FieldType::Flags(PTRACE_MODES), "access mode"),
    f(
        "ptrace.declared",
        FieldType::Bool,
        "the tracee declared this tracer (or an ancestor of it, or any tracer) with PR_SET_PTRACER",
    ),
    f(
        "ptrace.capable",
        FieldType::Bool,
        "the tracer has CAP_SYS_PTRACE over the tracee's user namespace (as ns_capable decides)",
    ),
];
const SETID: &[Field] = &[
    f("id.old", FieldType::Int, "current real uid/gid"),
    f("id.new", FieldType::Int, "requested uid/gid"),
    f(
        "id.new_effective",
        FieldType::Int,
        "requested effective uid/gid",
    ),
    f("id.new_saved", FieldType::Int, "requested saved uid/gid"),
    f("id.new_fs", FieldType::Int, "requested file-system uid/gid"),
    f("id.old_effective", FieldType::Int, "current effective uid/gid"),
    f("id.old_saved", FieldType::Int, "current saved uid/gid"),
    f(
        "id.transition",
        FieldType::Str,
        "`in: [\"FROM:TO\", ...]` holds when SafeSetID would allow the change: the real id has no listed transitions, or every id set is a current one or listed for it",
    ),
];
const PRCTL: &[Field] = &[
    f("prctl.option", FieldType::Int, "option (PR_*)"),
    f("prctl.arg2", FieldType::Int, "second argument"),
    f("prctl.arg3", FieldType::Int, "third argument"),
];
const SOCKET_CREATE: &[Field] = &[
    f("socket.family", FieldType::Enum(FAMILIES), "address family"),
    f("socket.type", FieldType::Enum(SOCK_TYPES), "socket type"),
    f("socket.protocol", FieldType::Int, "protocol number"),
];
const SOCKET_ADDR: &[Field] = &[
    f("socket.family", FieldType::Enum(FAMILIES), "address family"),
    f("socket.type", FieldType::Enum(SOCK_TYPES), "socket type"),
    f(
        "net.addr",
        FieldType::Addr,
        "remote (connect) or local (bind) address",
    ),
    f("net.port", FieldType::Int, "port"),
];
const SOCKET_PLAIN: &[Field] = &[
    f("socket.family", FieldType::Enum(FAMILIES), "address family"),
    f("socket.type", FieldType::Enum(SOCK_TYPES), "socket type"),
];
const CREATE: &[Field] = &[
    f(
        "file.parent",
        FieldType::Path,
        "directory the entry is created in",
    ),
    f("file.name", FieldType::Str, "name of the new entry"),
];
const KILL: &[Field] = &[f("signal.number", FieldType::Int, "signal number")];
const CAPABLE: &[Field] = &[
    f(
        "capable.cap",
        FieldType::Enum(CAPS),
        "the capability checked",
    ),
    f(
        "capable.insetid",
        FieldType::Bool,
        "the check is a set*id or setgroups call's own (CAP_OPT_INSETID)",
    ),
    f(
        "capable.uid",
        FieldType::Int,
        "real uid of the credentials checked (a file's opener for file_ns_capable)",
    ),
    f(
        "capable.gid",
        FieldType::Int,
        "real gid of the credentials checked",
    ),
];
const BPF: &[Field] = &[f("bpf.cmd", FieldType::Enum(BPF_CMDS), "bpf(2) command")];
const BPF_MAP: &[Field] = &[
    f("bpf.map.name", FieldType::Str, "map name"),
    f("bpf.map.id", FieldType::Int, "map id"),
];
const BPF_PROG: &[Field] = &[
    f("bpf.prog.name", FieldType::Str, "program name"),
    f("bpf.prog.id", FieldType::Int, "program id"),
];

/// The hook's own fields (process fields come on top; target fields where there is a target).
pub fn hook_fields(hook: Hook) -> &'static [Field] {
    use Hook::*;
    match hook {
        BprmCheckSecurity | BprmCommittedCreds => EXEC,
        FileOpen => FILE_OPEN,
        InodeUnlink | PathUnlink => UNLINK,
        InodeRename => RENAME,
        KernelReadFile => KERNEL_READ,
        KernelLoadData => KERNEL_LOAD,
        KernelModuleRequest => MODULE_REQUEST,
        SbMount | MoveMount => MOUNT,
        PtraceAccessCheck | PtraceTraceme => PTRACE,
        TaskFixSetuid | TaskFixSetgid => SETID,
        TaskPrctl => PRCTL,
        SocketCreate => SOCKET_CREATE,
        SocketConnect | SocketBind => SOCKET_ADDR,
        SocketListen | SocketAccept => SOCKET_PLAIN,
        InodeCreate | InodeMkdir | InodeSymlink => CREATE,
        TaskKill => KILL,
        Bpf => BPF,
        BpfMap => BPF_MAP,
        BpfProg => BPF_PROG,
        SbSetMntOpts => MOUNT_DEVICE,
        ModuleLoad => MODULE_LOAD,
        Capable => CAPABLE,
    }
}

pub fn has_target(hook: Hook) -> bool {
    matches!(
        hook,
        Hook::PtraceAccessCheck | Hook::PtraceTraceme | Hook::TaskKill
    )
}

/// Every field a rule on `hook` may name.
pub fn fields_for(hook: Hook) -> impl Iterator<Item = &'static Field> {
    let target: &'static [Field] = if has_target(hook) { TARGET_FIELDS } else { &[] };
    hook_fields(hook).iter().chain(PROCESS_FIELDS).chain(target)
}

pub fn lookup(hook: Hook, name: &str) -> Option<&'static Field> {
    fields_for(hook).find(|f| f.name == name)
}

/// The closest known field name, for "did you mean" hints.
pub fn suggest(hook: Hook, name: &str) -> Option<&'static str> {
    // `path` for `file.path`: a known field whose last part is the name.
    if let Some(f) = fields_for(hook).find(|f| f.name.rsplit('.').next() == Some(name)) {
        return Some(f.name);
    }
    fields_for(hook)
        .map(|f| (edit_distance(f.name, name), f.name))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Fact numbers of bpf/include/krsi_abi.h (`enum krsi_fact`).
pub mod fact {
    pub const PID: u8 = 0;
    pub const TID: u8 = 1;
    pub const PPID: u8 = 2;
    pub const UID: u8 = 3;
    pub const EUID: u8 = 4;
    pub const GID: u8 = 5;
    pub const CGROUP_ID: u8 = 6;
    pub const NS_PID: u8 = 7;
    pub const NS_MNT: u8 = 8;
    pub const NS_USER: u8 = 9;
    pub const CAPS: u8 = 10;
    pub const TAINT: u8 = 11;
    pub const EXE_DEV: u8 = 12;
    /// The hook's own numbers start here (A0 .. A15).
    pub const A0: u8 = 16;
    /// Target process facts (ptrace, signals): pid, uid, cgroup id, exe dev, exe ino.
    pub const TARGET: u8 = A0 + 8;
    pub const S_COMM: u8 = 64;
    pub const S_EXE: u8 = 65;
    pub const S_PATH: u8 = 66;
    pub const S_PATH2: u8 = 67;
    pub const S_NAME: u8 = 68;
    pub const S_NAME2: u8 = 69;
    pub const S_CGROUP: u8 = 70;
    pub const ANCESTORS: u8 = 71;
    /// String lists of the new image, read after the exec is committed.
    pub const ARGV: u8 = 72;
    pub const ENV_NAMES: u8 = 73;
    pub const ENV: u8 = 74;
    /// The primary file's SHA-256 in hex; raw bytes in A12..A15.
    pub const S_HASH: u8 = 75;
    pub const A_HASH: u8 = A0 + 12;
}

/// Where the kernel programs keep a field's value for one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// A number (ids, enums as kernel codes, flag masks, booleans as 0/1).
    Num(u8),
    /// A file: identity (dev, ino) at facts `ident`, `ident + 1`; its path in string fact `path`.
    File { ident: u8, path: u8 },
    /// A string (or a path matched as a string).
    Str(u8),
    /// 16 address bytes (IPv4 as ::ffff:a.b.c.d) at facts `n`, `n + 1`.
    Addr(u8),
    /// The process's taint labels, as a bit mask.
    Taint,
    /// The executables of the process's ancestors (walked in the kernel).
    Ancestors,
    /// A list of strings of the new image (argv, environment): known only
    /// once the exec is committed.
    Strs(u8),
    /// A uid/gid change judged against a SafeSetID transition list.
    Transitions,
    /// Valid in the language, not evaluated by the kernel programs yet.
    Unsupported,
}

/// The fact behind `field` on `hook` (the BPF programs in bpf/ fill them).
pub fn fact_of(hook: Hook, field: &str) -> Fact {
    use fact::*;
    use Fact::*;
    use Hook::*;
    let process = match field {
        "process.pid" => Some(Num(PID)),
        "process.tid" => Some(Num(TID)),
        "process.ppid" => Some(Num(PPID)),
        "process.uid" => Some(Num(UID)),
        "process.euid" => Some(Num(EUID)),
        "process.gid" => Some(Num(GID)),
        "process.comm" => Some(Str(S_COMM)),
        "process.exe" => Some(File {
            ident: EXE_DEV,
            path: S_EXE,
        }),
        "process.cgroup.id" => Some(Num(CGROUP_ID)),
        "process.cgroup.path" => Some(Str(S_CGROUP)),
        "process.ancestors" => Some(Ancestors),
        "process.ns.pid" => Some(Num(NS_PID)),
        "process.ns.mnt" => Some(Num(NS_MNT)),
        "process.ns.user" => Some(Num(NS_USER)),
        "process.caps.effective" => Some(Num(CAPS)),
        "process.taint" => Some(Taint),
        "target.pid" => Some(Num(TARGET)),
        "target.uid" => Some(Num(TARGET + 1)),
        "target.cgroup.id" => Some(Num(TARGET + 2)),
        "target.exe" => Some(File {
            ident: TARGET + 3,
            path: S_PATH2,
        }),
        "target.comm" => Some(Str(S_NAME2)),
        _ => None,
    };
    if let Some(f) = process {
        return f;
    }
    let primary = File {
        ident: A0,
        path: S_PATH,
    };
    match (hook, field) {
        (BprmCheckSecurity | BprmCommittedCreds, "file.path") => primary,
        (BprmCheckSecurity | BprmCommittedCreds, "exec.setuid") => Num(A0 + 2),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.env.count") => Num(A0 + 3),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.env.bytes") => Num(A0 + 6),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.env.duplicates") => Num(A0 + 7),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.env.overflow") => Num(A0 + 8),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.fileless") => Num(A0 + 9),
        (BprmCheckSecurity | BprmCommittedCreds, "file.nlink") => Num(A0 + 10),
        (BprmCheckSecurity | BprmCommittedCreds, "file.memfd") => Num(A0 + 11),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.argv") => Strs(ARGV),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.env.names") => Strs(ENV_NAMES),
        (BprmCheckSecurity | BprmCommittedCreds, "exec.env") => Strs(ENV),
        (BprmCheckSecurity | BprmCommittedCreds | KernelReadFile, "file.sha256") => Str(S_HASH),
        (FileOpen, "file.path") => primary,
        (FileOpen, "file.flags") => Num(A0 + 2),
        (FileOpen, "file.type") => Num(A0 + 3),
        (FileOpen, "file.fs") => Str(S_NAME),
        (FileOpen, "file.proc.pid") => Num(A0 + 4),
        (FileOpen, "file.proc.self") => Num(A0 + 5),
        (FileOpen, "file.proc.entry") => Str(S_NAME2),
        (InodeUnlink | PathUnlink | InodeRename, "file.path") => primary,
        (InodeUnlink | PathUnlink | InodeRename, "file.running_exe") => Num(A0 + 2),
        (InodeRename, "file.new_path") => Str(S_PATH2),
        (InodeRename, "file.replaces_running_exe") => Num(A0 + 5),
        (InodeUnlink | PathUnlink | InodeRename, "file.running_exe_of") => Num(A0 + 6),
        (InodeRename, "file.replaces_running_exe_of") => Num(A0 + 7),
        (KernelReadFile, "file.path") => primary,
        (KernelReadFile | KernelLoadData, "read.id") => Num(A0 + 2),
        (KernelReadFile, "read.pinned") => Num(A0 + 3),
        (KernelModuleRequest, "module.name") => Str(S_NAME),
        (SbMount, "mount.source") => Str(S_NAME),
        (MoveMount, "mount.source") => Str(S_PATH2),
        (SbMount | MoveMount, "mount.fstype") => Str(S_NAME2),
        (SbMount | MoveMount, "mount.target") => Str(S_PATH),
        (SbMount | MoveMount, "mount.flags") => Num(A0 + 2),
        (PtraceAccessCheck | PtraceTraceme, "ptrace.relation") => Num(A0 + 2),
        (PtraceAccessCheck | PtraceTraceme, "ptrace.mode") => Num(A0 + 3),
        (PtraceAccessCheck | PtraceTraceme, "ptrace.declared") => Num(A0 + 4),
        (PtraceAccessCheck | PtraceTraceme, "ptrace.capable") => Num(A0 + 5),
        (TaskFixSetuid | TaskFixSetgid, "id.old") => Num(A0 + 2),
        (TaskFixSetuid | TaskFixSetgid, "id.new") => Num(A0 + 3),
        (TaskFixSetuid | TaskFixSetgid, "id.new_effective") => Num(A0 + 4),
        (TaskFixSetuid | TaskFixSetgid, "id.new_saved") => Num(A0 + 5),
        (TaskFixSetuid | TaskFixSetgid, "id.new_fs") => Num(A0 + 6),
        (TaskFixSetuid | TaskFixSetgid, "id.old_effective") => Num(A0 + 7),
        (TaskFixSetuid | TaskFixSetgid, "id.old_saved") => Num(A0 + 8),
        (TaskFixSetuid | TaskFixSetgid, "id.transition") => Transitions,
        (TaskPrctl, "prctl.option") => Num(A0 + 2),
        (TaskPrctl, "prctl.arg2") => Num(A0 + 3),
        (TaskPrctl, "prctl.arg3") => Num(A0 + 4),
        (
            SocketCreate | SocketConnect | SocketBind | SocketListen | SocketAccept,
            "socket.family",
        ) => Num(A0 + 2),
        (
            SocketCreate | SocketConnect | SocketBind | SocketListen | SocketAccept,
            "socket.type",
        ) => Num(A0 + 3),
        (SocketCreate, "socket.protocol") => Num(A0 + 4),
        (SocketConnect | SocketBind, "net.port") => Num(A0 + 4),
        (SocketConnect | SocketBind, "net.addr") => Addr(A0 + 5),
        (InodeCreate | InodeMkdir | InodeSymlink, "file.parent") => Str(S_PATH),
        (InodeCreate | InodeMkdir | InodeSymlink, "file.name") => Str(S_NAME),
        (TaskKill, "signal.number") => Num(A0 + 2),
        (Bpf, "bpf.cmd") => Num(A0 + 2),
        (BpfMap, "bpf.map.name") | (BpfProg, "bpf.prog.name") => Str(S_NAME),
        (BpfMap, "bpf.map.id") | (BpfProg, "bpf.prog.id") => Num(A0 + 2),
        (SbSetMntOpts, "mount.fstype") => Str(S_NAME2),
        (SbSetMntOpts, "mount.device.name") => Str(S_NAME),
        (SbSetMntOpts, "mount.device.bus") => Str(S_PATH2),
        (SbSetMntOpts, "mount.device.major") => Num(A0 + 2),
        (SbSetMntOpts, "mount.device.minor") => Num(A0 + 3),
        (Capable, "capable.cap") => Num(A0 + 2),
        (Capable, "capable.insetid") => Num(A0 + 3),
        (Capable, "capable.uid") => Num(A0 + 4),
        (Capable, "capable.gid") => Num(A0 + 5),
        (ModuleLoad, "module.name") => Str(S_NAME),
        (ModuleLoad, "module.source") => Num(A0 + 2),
        (ModuleLoad, "file.path") => primary,
        (ModuleLoad, "file.sha256") => Str(S_HASH),
        (ModuleLoad, "module.address") => Num(A0 + 3),
        _ => Unsupported,
    }
}

/// The kernel's number for an enum value (`socket.family: inet` is AF_INET = 2).
pub fn enum_code(field: &str, values: &[&str], name: &str) -> Option<u64> {
    let i = values.iter().position(|v| *v == name)?;
    Some(match field {
        "socket.family" => [1, 2, 10, 16, 17, 40, 31, 29, 44, 38, 15][i],
        "socket.type" => [1, 2, 3, 4, 5, 10][i],
        _ => i as u64,
    })
}
