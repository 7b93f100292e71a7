//! Seccomp policy language (minijail-compatible), an optimising compiler to classic
//! BPF, and a cBPF simulator.
//!
//! ```no_run
//! use krsi_seccomp::{compile_str, Arch, CompileOptions, SeccompData, simulate};
//! let opts = CompileOptions::new(Arch::X86_64);
//! let prog = compile_str("inline.policy", "read: allow\nwrite: return EPERM\n", &opts).unwrap();
//! let data = SeccompData { nr: 1, arch: Arch::X86_64.audit_arch(), ..Default::default() };
//! assert_eq!(simulate(&prog.filter, &data), krsi_seccomp::bpf::SECCOMP_RET_ERRNO | 1);
//! ```
pub mod arch;
pub mod bpf;
pub mod cli;
pub mod compiler;
pub mod consts;
pub mod fuzzing;
pub mod oci;
pub mod parser;
pub mod policy;

use std::fmt;
use std::path::Path;

pub use arch::{syscall_name, syscall_number, Arch};
pub use bpf::{simulate, SeccompData, SockFilter};

/// What a filter decides for a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Allow,
    KillProcess,
    KillThread,
    Trap,
    Trace,
    Log,
    UserNotify,
    /// `return ERRNO`: fail the syscall with this errno.
    Errno(u16),
}

impl Action {
    /// The raw `SECCOMP_RET_*` value.
    pub fn ret(self) -> u32 {
        use bpf::*;
        match self {
            Action::Allow => SECCOMP_RET_ALLOW,
            Action::KillProcess => SECCOMP_RET_KILL_PROCESS,
            Action::KillThread => SECCOMP_RET_KILL_THREAD,
            Action::Trap => SECCOMP_RET_TRAP,
            Action::Trace => SECCOMP_RET_TRACE,
            Action::Log => SECCOMP_RET_LOG,
            Action::UserNotify => SECCOMP_RET_USER_NOTIF,
            Action::Errno(e) => SECCOMP_RET_ERRNO | u32::from(e),
        }
    }

    /// The action a raw return value stands for (unknown actions act as kill-process).
    pub fn from_ret(ret: u32) -> Action {
        use bpf::*;
        match ret & SECCOMP_RET_ACTION_FULL {
            SECCOMP_RET_ALLOW => Action::Allow,
            SECCOMP_RET_KILL_THREAD => Action::KillThread,
            SECCOMP_RET_TRAP => Action::Trap,
            SECCOMP_RET_ERRNO => Action::Errno((ret & SECCOMP_RET_DATA) as u16),
            SECCOMP_RET_USER_NOTIF => Action::UserNotify,
            SECCOMP_RET_TRACE => Action::Trace,
            SECCOMP_RET_LOG => Action::Log,
            _ => Action::KillProcess,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Allow => f.write_str("allow"),
            Action::KillProcess => f.write_str("kill-process"),
            Action::KillThread => f.write_str("kill-thread"),
            Action::Trap => f.write_str("trap"),
            Action::Trace => f.write_str("trace"),
            Action::Log => f.write_str("log"),
            Action::UserNotify => f.write_str("user-notify"),
            Action::Errno(e) => write!(f, "return {e}"),
        }
    }
}

/// What a plain `kill` in a policy means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KillMode {
    /// `SECCOMP_RET_KILL_THREAD`, minijail's default.
    #[default]
    Thread,
    /// `SECCOMP_RET_KILL_PROCESS`; use it when the filter is installed with TSYNC.
    Process,
}

impl KillMode {
    pub fn action(self) -> Action {
        match self {
            KillMode::Thread => Action::KillThread,
            KillMode::Process => Action::KillProcess,
        }
    }
}

/// Compiler settings.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub arch: Arch,
    pub kill: KillMode,
    /// Every action other than `allow` becomes `SECCOMP_RET_LOG` (audit mode).
    pub log_only: bool,
    /// Maximum `@include` nesting (minijail's default is 10).
    pub include_depth_limit: usize,
    /// Replaces the policy's `@default` (and the built-in default) when set.
    pub default_override: Option<Action>,
    /// Syscall weights merged with any `@frequency` files; the optimiser puts
    /// heavier syscalls closer to the root.
    pub weights: Vec<(u32, u64)>,
    /// Use the built-in weighting of hot syscalls (read, write, futex, ...) for
    /// syscalls that no `@frequency` file mentions.
    pub builtin_weights: bool,
}

impl CompileOptions {
    pub fn new(arch: Arch) -> Self {
        CompileOptions {
            arch,
            kill: KillMode::Thread,
            log_only: false,
            include_depth_limit: 10,
            default_override: None,
            weights: Vec::new(),
            builtin_weights: true,
        }
    }
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions::new(Arch::native())
    }
}

/// A located error: its `Display` is `file:line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct Error {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Error {
    pub fn new(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Error {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// A compiled filter ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub filter: Vec<SockFilter>,
    pub arch: Arch,
    /// The action for syscalls the policy does not mention.
    pub default_action: Action,
}

impl Program {
    /// Raw `struct sock_filter` array, native endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        bpf::to_bytes(&self.filter)
    }

    /// Human-readable listing.
    pub fn disasm(&self) -> String {
        bpf::disasm(&self.filter)
    }

    /// Simulates syscall `nr` with `args` on this program's architecture.
    pub fn eval(&self, nr: u32, args: [u64; 6]) -> u32 {
        let data = SeccompData {
            nr: nr as i32,
            arch: self.arch.audit_arch(),
            instruction_pointer: 0,
            args,
        };
        simulate(&self.filter, &data)
    }
}

/// Compiles a policy file (minijail `.policy`, or an OCI/Docker JSON profile when the
/// file starts with `{`).
pub fn compile_file(path: &Path, opts: &CompileOptions) -> Result<Program, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(&name, 0, 0, format!("cannot read policy: {e}")))?;
    compile_str(&name, &text, opts)
}

/// Compiles policy text; `name` is used for error locations and to resolve
/// relative `@include`/`@frequency` paths.
pub fn compile_str(name: &str, text: &str, opts: &CompileOptions) -> Result<Program, Error> {
    let policy = parse(name, text, opts)?;
    compile_policy(name, policy, opts)
}

/// Parses policy text (minijail syntax, or OCI JSON when it starts with `{`).
pub fn parse(name: &str, text: &str, opts: &CompileOptions) -> Result<policy::Policy, Error> {
    if looks_like_json(name, text) {
        oci::parse_str(name, text, opts)
    } else {
        parser::parse_str(name, text, opts)
    }
}

/// OCI profiles are JSON objects; minijail statements may also start with `{`
/// (`{read, write}: allow`), so look at what follows the brace.
fn looks_like_json(name: &str, text: &str) -> bool {
    if name.ends_with(".json") {
        return true;
    }
    let mut rest = text.trim_start();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        return rest.starts_with('"') || rest.starts_with('}');
    }
    false
}

/// Compiles an already parsed policy; `name` is used for error messages.
pub fn compile_policy(
    name: &str,
    mut policy: policy::Policy,
    opts: &CompileOptions,
) -> Result<Program, Error> {
    if opts.log_only {
        policy.map_actions(|a| if a == Action::Allow { a } else { Action::Log });
    }
    let filter = compiler::compile_policy(
        &policy,
        &opts.weights,
        opts.builtin_weights,
        &compiler::TreeOptions::default(),
    )
    .map_err(|m| Error::new(name, 1, 1, m))?;
    Ok(Program {
        filter,
        arch: policy.arch,
        default_action: policy.default_action,
    })
}
