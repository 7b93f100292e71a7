//! [`Policy`] → the entries of the BPF maps (see bpf/include/krsi_abi.h).
//!
//! Paths resolve to file identities (device, inode) here, once, so the kernel
//! matches the file itself: a hard link or a rename of a denied binary is
//! still denied, and no path string is compared in the hot path.
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use crate::diag::{Diagnostic, PolicyError, Severity};
use crate::model::{Action, Hook, Policy, Spanned};

/// Rules one policy may hold (KRSI_MAX_RULES in the BPF ABI).
pub const MAX_RULES: usize = 16384;
/// Executable identities one policy may hold (half of KRSI_MAX_IDENTITIES).
pub const MAX_EXEC_ENTRIES: usize = 65536;

/// A file's identity as the kernel sees it: `sb->s_dev` (MKDEV encoding) and `i_ino`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub dev: u32,
    pub ino: u64,
}

impl Identity {
    /// The identity of the file `path` names, following symlinks as exec does.
    pub fn of_path(path: &str) -> std::io::Result<Identity> {
        let md = std::fs::metadata(path)?;
        let major = libc::major(md.dev());
        let minor = libc::minor(md.dev());
        Ok(Identity {
            dev: (major << 20) | (minor & 0xfffff),
            ino: md.ino(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub hook: Hook,
    pub action: Action,
    pub message: Option<String>,
    /// Paths and the identities they resolved to, for `explain` and events.
    pub resolved: Vec<(String, Identity)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecEntry {
    pub identity: Identity,
    pub rule: u32,
    pub action: Action,
}

/// What the agent writes into one policy slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPolicy {
    pub source: String,
    /// Rule table; a rule's index is its id in the kernel.
    pub rules: Vec<RuleInfo>,
    pub exec_entries: Vec<ExecEntry>,
    /// The rule that audits every exec, if any.
    pub exec_audit_rule: Option<u32>,
    /// Findings that do not stop the policy (e.g. a path that does not exist).
    pub warnings: Vec<Diagnostic>,
}

impl CompiledPolicy {
    pub fn rule_index(&self, name: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.name == name)
    }
}

/// Compiles a parsed policy; fails whole or not at all.
pub fn compile(policy: &Policy) -> Result<CompiledPolicy, PolicyError> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let diag = |at: &Spanned<String>, severity, message: String| Diagnostic {
        file: policy.source.clone(),
        line: at.line,
        column: at.column,
        severity,
        message,
    };
    if policy.rules.len() > MAX_RULES {
        let r = &policy.rules[MAX_RULES];
        errors.push(diag(
            &r.name,
            Severity::Error,
            format!("too many rules: at most {MAX_RULES} per policy"),
        ));
    }

    let mut rules = Vec::with_capacity(policy.rules.len());
    let mut exec_audit_rule = None;
    // identity -> index into exec_entries; a deny beats an audit, otherwise the first rule wins.
    let mut by_identity: HashMap<Identity, usize> = HashMap::new();
    let mut exec_entries: Vec<ExecEntry> = Vec::new();

    for (idx, rule) in policy.rules.iter().enumerate() {
        let id = idx as u32;
        let mut resolved = Vec::new();
        match (&rule.paths, rule.hook.value) {
            (None, Hook::BprmCheckSecurity) => {
                // parse() guarantees only audit rules lack a match.
                if exec_audit_rule.is_none() {
                    exec_audit_rule = Some(id);
                } else {
                    warnings.push(diag(
                        &rule.name,
                        Severity::Warning,
                        format!(
                            "rule `{}` audits every exec, as an earlier rule already does; it will not fire",
                            rule.name.value
                        ),
                    ));
                }
            }
            (Some(paths), Hook::BprmCheckSecurity) => {
                for p in paths {
                    let identity = match Identity::of_path(&p.value) {
                        Ok(i) => i,
                        Err(e) => {
                            warnings.push(diag(
                                p,
                                Severity::Warning,
                                format!(
                                    "{}: {e}; the rule does not cover it until a reload finds it",
                                    p.value
                                ),
                            ));
                            continue;
                        }
                    };
                    resolved.push((p.value.clone(), identity));
                    let entry = ExecEntry {
                        identity,
                        rule: id,
                        action: rule.action.value,
                    };
                    match by_identity.get(&identity) {
                        Some(&at) => {
                            let existing = &mut exec_entries[at];
                            if existing.action == Action::Audit && entry.action == Action::Deny {
                                *existing = entry;
                            }
                        }
                        None => {
                            by_identity.insert(identity, exec_entries.len());
                            exec_entries.push(entry);
                        }
                    }
                }
            }
        }
        rules.push(RuleInfo {
            name: rule.name.value.clone(),
            hook: rule.hook.value,
            action: rule.action.value,
            message: rule.message.clone(),
            resolved,
        });
    }
    if exec_entries.len() > MAX_EXEC_ENTRIES {
        errors.push(Diagnostic {
            file: policy.source.clone(),
            line: 1,
            column: 1,
            severity: Severity::Error,
            message: format!(
                "too many executable identities ({}): at most {MAX_EXEC_ENTRIES} per policy",
                exec_entries.len()
            ),
        });
    }
    if !errors.is_empty() {
        return Err(PolicyError {
            diagnostics: errors,
        });
    }
    Ok(CompiledPolicy {
        source: policy.source.clone(),
        rules,
        exec_entries,
        exec_audit_rule,
        warnings,
    })
}
