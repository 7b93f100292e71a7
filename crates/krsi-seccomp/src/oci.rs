//! Import of OCI / Docker seccomp profiles (the JSON runc, crun and Docker read).
//!
//! Semantics follow runc: names unknown on the target architecture are skipped,
//! the `args` of one rule are ANDed unless an index repeats (then each becomes its
//! own rule, ORed, as libseccomp cannot AND two conditions on one argument),
//! `SCMP_ACT_ERRNO` without `errnoRet` means EPERM. `includes`/`excludes` on
//! capabilities are resolved against Docker's default capability set;
//! `minKernel` is assumed satisfied.
use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::policy::{Atom, Filter, Op, Policy, Rule};
use crate::{syscall_number, Action, Arch, CompileOptions, Error};

/// Capabilities Docker grants a container by default.
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default)]
    syscalls: Vec<SyscallEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyscallEntry {
    #[serde(default)]
    names: Vec<String>,
    /// Old Docker profiles used a single `name`.
    name: Option<String>,
    action: String,
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Selector,
    #[serde(default)]
    excludes: Selector,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Selector {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
}

/// Line and column (1-based) of the first occurrence of `needle`, for errors
/// about values serde has already accepted.
fn locate(text: &str, needle: &str) -> (usize, usize) {
    match text.find(needle) {
        Some(off) => {
            let before = &text[..off];
            let line = before.matches('\n').count() + 1;
            let col = off - before.rfind('\n').map_or(0, |p| p + 1) + 1;
            (line, col)
        }
        None => (1, 1),
    }
}

fn arch_matches(arch: Arch, names: &[String]) -> bool {
    names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        let n = n.strip_prefix("scmp_arch_").unwrap_or(&n);
        n.parse::<Arch>() == Ok(arch)
    })
}

fn action(file: &str, text: &str, name: &str, errno: Option<u32>) -> Result<Action, Error> {
    let to_errno = |e: Option<u32>| -> Result<Action, Error> {
        let e = e.unwrap_or(1);
        u16::try_from(e).map(Action::Errno).map_err(|_| {
            let (l, c) = locate(text, &e.to_string());
            Error::new(file, l, c, format!("errnoRet {e} does not fit in 16 bits"))
        })
    };
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => Action::Trace,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => Action::UserNotify,
        "SCMP_ACT_ERRNO" => to_errno(errno)?,
        other => {
            let (l, c) = locate(text, &format!("\"{other}\""));
            return Err(Error::new(
                file,
                l,
                c,
                format!("unknown seccomp action {other:?}"),
            ));
        }
    })
}

fn atom(file: &str, text: &str, a: &Arg) -> Result<Atom, Error> {
    if a.index >= 6 {
        let (l, c) = locate(text, "\"index\"");
        return Err(Error::new(
            file,
            l,
            c,
            format!("argument index {} out of range (0..5)", a.index),
        ));
    }
    let op = match a.op.as_str() {
        "SCMP_CMP_EQ" => Op::Eq(a.value),
        "SCMP_CMP_NE" => Op::Ne(a.value),
        "SCMP_CMP_LT" => Op::Lt(a.value),
        "SCMP_CMP_LE" => Op::Le(a.value),
        "SCMP_CMP_GT" => Op::Gt(a.value),
        "SCMP_CMP_GE" => Op::Ge(a.value),
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq {
            mask: a.value,
            value: a.value_two,
        },
        other => {
            let (l, c) = locate(text, &format!("\"{other}\""));
            return Err(Error::new(
                file,
                l,
                c,
                format!("unknown comparison {other:?}"),
            ));
        }
    };
    Ok(Atom {
        arg: a.index as u8,
        op,
    })
}

/// Parses an OCI/Docker seccomp profile into a [`Policy`] for `opts.arch`.
pub fn parse_str(file: &str, text: &str, opts: &CompileOptions) -> Result<Policy, Error> {
    let profile: Profile = serde_json::from_str(text).map_err(|e| {
        Error::new(
            file,
            e.line(),
            e.column(),
            format!("invalid seccomp profile: {e}"),
        )
    })?;
    let default_action = match opts.default_override {
        Some(a) => a,
        None => action(
            file,
            text,
            &profile.default_action,
            profile.default_errno_ret,
        )?,
    };
    let arch = opts.arch;
    let has_cap = |c: &String| DOCKER_DEFAULT_CAPS.contains(&c.as_str());

    // Per syscall, in order: (condition or None, action, where).
    let mut order: Vec<u32> = Vec::new();
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut conds: HashMap<u32, Vec<Filter>> = HashMap::new();
    let mut uncond: HashMap<u32, Action> = HashMap::new();
    for entry in &profile.syscalls {
        if !entry.includes.arches.is_empty() && !arch_matches(arch, &entry.includes.arches) {
            continue;
        }
        if arch_matches(arch, &entry.excludes.arches) {
            continue;
        }
        if !entry.includes.caps.iter().all(has_cap) || entry.excludes.caps.iter().any(has_cap) {
            continue;
        }
        let act = action(
            file,
            text,
            &entry.action,
            entry.errno_ret.or(profile.default_errno_ret),
        )?;
        let atoms = entry
            .args
            .iter()
            .map(|a| atom(file, text, a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut indices: Vec<u8> = atoms.iter().map(|a| a.arg).collect();
        indices.sort_unstable();
        indices.dedup();
        let expr = if atoms.is_empty() {
            None
        } else if indices.len() == atoms.len() {
            Some(vec![atoms])
        } else {
            Some(atoms.into_iter().map(|a| vec![a]).collect())
        };
        for name in entry.names.iter().chain(entry.name.iter()) {
            let Some(nr) = syscall_number(arch, name) else {
                continue; // runc skips syscalls the target does not have
            };
            if let std::collections::hash_map::Entry::Vacant(v) = names.entry(nr) {
                order.push(nr);
                v.insert(name.clone());
            }
            match &expr {
                None => {
                    if let Some(prev) = uncond.insert(nr, act) {
                        if prev != act {
                            let (l, c) = locate(text, &format!("\"{name}\""));
                            return Err(Error::new(
                                file,
                                l,
                                c,
                                format!("syscall {name} has two unconditional actions ({prev} and {act})"),
                            ));
                        }
                    }
                }
                Some(e) => conds.entry(nr).or_default().push(Filter {
                    expr: Some(e.clone()),
                    action: act,
                }),
            }
        }
    }
    let rules = order
        .into_iter()
        .map(|nr| {
            let mut filters = conds.remove(&nr).unwrap_or_default();
            filters.push(Filter {
                expr: None,
                action: uncond.get(&nr).copied().unwrap_or(default_action),
            });
            Rule {
                name: names[&nr].clone(),
                nr,
                filters,
            }
        })
        .collect();
    Ok(Policy {
        arch,
        default_action,
        rules,
        frequencies: BTreeMap::new(),
        denylist: false,
    })
}
