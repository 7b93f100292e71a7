//! Checked [`Policy`] → the entries of the BPF maps (bpf/include/krsi_abi.h).
//!
//! Paths resolve to file identities (device, inode) here, once, so the kernel
//! matches the file itself: a hard link or a rename of a denied binary is
//! still denied, and no path string is compared in the hot path.
//!
//! The language is wider than what the kernel programs evaluate today; a rule
//! outside that subset is an error naming its place, never silently dropped.
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use crate::check::{self, Expr};
use crate::diag::{Diagnostic, PolicyError, Severity as DiagSeverity};
use crate::fields::Op;
use crate::model::{Action, Hook, Mode, Policy, Rule, Severity, Value};

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

/// What the kernel does on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KernelAction {
    Audit,
    /// A deny rule in monitor mode: reported, allowed.
    WouldDeny,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub hook: Hook,
    pub action: Action,
    pub mode: Mode,
    pub message: Option<String>,
    pub severity: Option<Severity>,
    pub tags: Vec<String>,
    /// Paths and the identities they resolved to, for `explain` and events.
    pub resolved: Vec<(String, Identity)>,
}

impl RuleInfo {
    fn new(rule: &Rule, mode: Mode, resolved: Vec<(String, Identity)>) -> RuleInfo {
        RuleInfo {
            name: rule.name.value.clone(),
            hook: rule.hook.value,
            action: rule.action.value.clone(),
            mode,
            message: rule.message.clone(),
            severity: rule.severity,
            tags: rule.tags.clone(),
            resolved,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecEntry {
    pub identity: Identity,
    pub rule: u32,
    pub action: KernelAction,
}

/// One clause of a rule: what the kernel checks after the index lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clause {
    pub rule: u32,
    pub action: KernelAction,
    /// file_open: at least one of these open flags (bit i = `fields::OPEN_FLAGS[i]`); 0: any.
    pub flags_any: u32,
}

/// file_open rules as the kernel walks them: clauses chained per index key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenTable {
    /// `(clause, next)`: `next` is the index of the next clause with the same key.
    pub clauses: Vec<(Clause, Option<u32>)>,
    /// Opened file's identity → first clause.
    pub identity_heads: Vec<(Identity, u32)>,
    /// Path prefix → first clause; each chain also holds the clauses of every
    /// shorter listed prefix of it, since the trie returns only the longest.
    pub prefix_heads: Vec<(String, u32)>,
}

/// Most clauses one key may chain (KRSI_MAX_CHAIN).
pub const MAX_CHAIN: usize = 64;
/// Clauses per policy (KRSI_MAX_CLAUSES).
pub const MAX_CLAUSES: usize = 32768;
/// Longest path prefix the trie holds (KRSI_PREFIX_PATH).
pub const MAX_PREFIX: usize = 255;

/// What the agent writes into one policy slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPolicy {
    pub source: String,
    /// Rule table; a rule's index is its id in the kernel.
    pub rules: Vec<RuleInfo>,
    pub exec_entries: Vec<ExecEntry>,
    /// The rule that audits every exec, if any.
    pub exec_audit_rule: Option<u32>,
    pub open: OpenTable,
    /// Findings that do not stop the policy (e.g. a path that does not exist).
    pub warnings: Vec<Diagnostic>,
}

impl CompiledPolicy {
    pub fn rule_index(&self, name: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.name == name)
    }
}

/// The rule's exec paths when its condition is one the exec program
/// evaluates: none (every exec), or `file.path` equal/in.
fn exec_paths(expr: Option<&Expr>) -> Result<Option<Vec<String>>, (usize, usize, String)> {
    let Some(expr) = expr else { return Ok(None) };
    match expr {
        Expr::Cmp(r) if r.field.name == "file.path" && matches!(r.op, Op::Equal | Op::In) => Ok(Some(
            r.values
                .iter()
                .map(|v| match v {
                    Value::Str(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        )),
        Expr::Cmp(r) => Err((
            r.pos.line,
            r.pos.column,
            format!(
                "`{} {}` is valid, but the kernel programs of this krsi evaluate only `file.path` equal/in on exec",
                r.field.name,
                r.op.name()
            ),
        )),
        _ => Err((0, 0, "all/any/not conditions are valid, but the kernel programs of this krsi evaluate only a single `file.path` equal/in on exec".into())),
    }
}

fn unsupported(rule: &Rule) -> Option<(usize, usize, String)> {
    if !matches!(rule.hook.value, Hook::BprmCheckSecurity | Hook::FileOpen) {
        return Some((
            rule.hook.line,
            rule.hook.column,
            format!(
                "hook `{}` is valid, but the kernel programs of this krsi implement only bprm_check_security and file_open so far",
                rule.hook.value
            ),
        ));
    }
    if matches!(rule.action.value, Action::Kill | Action::Taint(_)) {
        return Some((
            rule.action.line,
            rule.action.column,
            format!(
                "action `{}` is valid, but not implemented by the kernel programs of this krsi yet",
                rule.action.value.name()
            ),
        ));
    }
    if rule.rate_limit.is_some() {
        return Some((
            rule.name.line,
            rule.name.column,
            "`rate_limit` is not implemented by this krsi yet".into(),
        ));
    }
    None
}

/// Compiles a checked policy; fails whole or not at all.
pub fn compile(policy: &Policy) -> Result<CompiledPolicy, PolicyError> {
    let mut errors = Vec::new();
    let mut warnings = policy.warnings.clone();
    let mut err = |file: &str, line: usize, column: usize, message: String| {
        errors.push(Diagnostic {
            file: file.to_string(),
            line,
            column,
            severity: DiagSeverity::Error,
            message,
        })
    };
    if policy.rules.len() > MAX_RULES {
        let r = &policy.rules[MAX_RULES];
        err(
            &r.file,
            r.name.line,
            r.name.column,
            format!("too many rules: at most {MAX_RULES} per policy"),
        );
    }

    let mut rules = Vec::with_capacity(policy.rules.len());
    let mut exec_audit_rule = None;
    // identity -> index into exec_entries; the strongest action wins, then the first rule.
    let mut by_identity: HashMap<Identity, usize> = HashMap::new();
    let mut exec_entries: Vec<ExecEntry> = Vec::new();
    let mut open_identity: std::collections::BTreeMap<Identity, Vec<Clause>> = Default::default();
    let mut open_prefix: std::collections::BTreeMap<String, Vec<Clause>> = Default::default();

    for (idx, rule) in policy.rules.iter().enumerate() {
        let id = idx as u32;
        let mode = rule.effective_mode(policy.mode);
        let mut resolved = Vec::new();
        if let Some((line, column, msg)) = unsupported(rule) {
            err(&rule.file, line, column, msg);
            continue;
        }
        let expr = check::resolve(policy, rule);
        let action = match (&rule.action.value, mode) {
            (Action::Deny, Mode::Enforce) => KernelAction::Deny,
            (Action::Deny, Mode::Monitor) => KernelAction::WouldDeny,
            _ => KernelAction::Audit,
        };
        if rule.hook.value == Hook::FileOpen {
            let conjs = match expr.as_ref().ok_or((rule.name.line, rule.name.column, "a file_open rule needs a `match` on `file.path` (the kernel indexes rules by it)".to_string())).and_then(open_conjunctions) {
                Ok(c) => c,
                Err((line, column, msg)) => {
                    let (line, column) = at_or_name(rule, line, column);
                    err(&rule.file, line, column, msg);
                    continue;
                }
            };
            for conj in conjs {
                let clause = Clause {
                    rule: id,
                    action,
                    flags_any: conj.flags_any,
                };
                for key in conj.keys {
                    match key {
                        ConjKey::Path(p) => {
                            if let Some(identity) =
                                resolve_identity(policy, rule, &p, &mut warnings)
                            {
                                resolved.push((p, identity));
                                open_identity.entry(identity).or_default().push(clause);
                            }
                        }
                        ConjKey::Prefix(p) => open_prefix.entry(p).or_default().push(clause),
                    }
                }
            }
            rules.push(RuleInfo::new(rule, mode, resolved));
            continue;
        }
        let paths = match exec_paths(expr.as_ref()) {
            Ok(p) => p,
            Err((line, column, msg)) => {
                let (line, column) = at_or_name(rule, line, column);
                err(&rule.file, line, column, msg);
                continue;
            }
        };
        match paths {
            None => {
                if exec_audit_rule.is_none() {
                    exec_audit_rule = Some(id);
                } else {
                    warnings.push(Diagnostic {
                        file: rule.file.clone(),
                        line: rule.name.line,
                        column: rule.name.column,
                        severity: DiagSeverity::Warning,
                        message: format!(
                            "rule `{}` audits every exec, as an earlier rule already does; it will not fire",
                            rule.name.value
                        ),
                    });
                }
            }
            Some(paths) => {
                for p in paths {
                    let Some(identity) = resolve_identity(policy, rule, &p, &mut warnings) else {
                        continue;
                    };
                    resolved.push((p.clone(), identity));
                    let entry = ExecEntry {
                        identity,
                        rule: id,
                        action,
                    };
                    match by_identity.get(&identity) {
                        Some(&at) => {
                            if entry.action > exec_entries[at].action {
                                exec_entries[at] = entry;
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
        rules.push(RuleInfo::new(rule, mode, resolved));
    }
    if exec_entries.len() > MAX_EXEC_ENTRIES {
        err(
            &policy.source,
            1,
            1,
            format!(
                "too many executable identities ({}): at most {MAX_EXEC_ENTRIES} per policy",
                exec_entries.len()
            ),
        );
    }
    let open = build_open_table(open_identity, open_prefix).unwrap_or_else(|msg| {
        err(&policy.source, 1, 1, msg);
        OpenTable::default()
    });
    if !errors.is_empty() {
        return Err(PolicyError::sorted(errors));
    }
    Ok(CompiledPolicy {
        source: policy.source.clone(),
        rules,
        exec_entries,
        exec_audit_rule,
        open,
        warnings,
    })
}

/// A path's identity, or a warning at the place the path is written: a
/// missing file is covered by the next reload that finds it.
fn resolve_identity(
    policy: &Policy,
    rule: &Rule,
    path: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Option<Identity> {
    match Identity::of_path(path) {
        Ok(i) => Some(i),
        Err(e) => {
            let (file, line, column) = find_value_pos(policy, rule, path);
            warnings.push(Diagnostic {
                file,
                line,
                column,
                severity: DiagSeverity::Warning,
                message: format!("{path}: {e}; the rule does not cover it until a reload finds it"),
            });
            None
        }
    }
}

/// Line 0 marks an error about the whole condition: report it at the rule's name.
fn at_or_name(rule: &Rule, line: usize, column: usize) -> (usize, usize) {
    if line == 0 {
        (rule.name.line, rule.name.column)
    } else {
        (line, column)
    }
}

/// Where a path value is written (in the rule, or in a list it uses).
fn find_value_pos(policy: &Policy, rule: &Rule, value: &str) -> (String, usize, usize) {
    fn walk(
        policy: &Policy,
        c: &crate::model::Cond,
        value: &str,
    ) -> Option<(String, usize, usize)> {
        use crate::model::Cond;
        let hit = |vals: &[crate::model::Spanned<Value>]| {
            vals.iter()
                .find(|v| matches!(&v.value, Value::Str(s) if s == value))
                .map(|v| (v.line, v.column))
        };
        match c {
            Cond::All(cs) | Cond::Any(cs) => cs.iter().find_map(|c| walk(policy, c, value)),
            Cond::Not(c) => walk(policy, c, value),
            Cond::Macro(m) => {
                let def = policy.macros.iter().find(|d| d.name.value == m.value)?;
                walk(policy, &def.cond, value)
            }
            Cond::Cmp(cmp) => match &cmp.list {
                Some(l) => {
                    let list = policy.lists.iter().find(|x| x.name.value == l.value)?;
                    hit(&list.values).map(|(a, b)| (list.file.clone(), a, b))
                }
                None => hit(&cmp.values).map(|(a, b)| (cmp.pos.file.clone(), a, b)),
            },
        }
    }
    rule.cond
        .as_ref()
        .and_then(|c| walk(policy, c, value))
        .unwrap_or_else(|| (rule.file.clone(), rule.name.line, rule.name.column))
}

enum ConjKey {
    Path(String),
    Prefix(String),
}

/// One conjunction of a file_open condition: index keys (any of them) and
/// the open flags it needs (any of them).
struct Conj {
    keys: Vec<ConjKey>,
    flags_any: u32,
}

type Pos3 = (usize, usize, String);

fn strs(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| match v {
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn flag_mask(values: &[Value]) -> u32 {
    values
        .iter()
        .filter_map(|v| match v {
            Value::Str(s) => crate::fields::OPEN_FLAGS.iter().position(|f| f == s),
            _ => None,
        })
        .fold(0, |m, i| m | (1 << i))
}

/// A file_open condition → disjunction of conjunctions the kernel evaluates:
/// `file.path` equal/in/prefix (the index key) and optionally one
/// `file.flags contains`, combined with `all`, and `any` of such.
fn open_conjunctions(expr: &Expr) -> Result<Vec<Conj>, Pos3> {
    let unsupported = |r: &crate::check::Resolved| -> Pos3 {
        (
            r.pos.line,
            r.pos.column,
            format!(
                "`{} {}` is valid, but on file_open the kernel programs of this krsi evaluate only `file.path` equal/in/prefix and `file.flags contains`",
                r.field.name,
                r.op.name()
            ),
        )
    };
    match expr {
        Expr::Any(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(open_conjunctions(p)?);
            }
            Ok(out)
        }
        Expr::Cmp(r) => match (r.field.name, r.op) {
            ("file.path", Op::Equal | Op::In) => {
                Ok(vec![Conj { keys: strs(&r.values).into_iter().map(ConjKey::Path).collect(), flags_any: 0 }])
            }
            ("file.path", Op::Prefix) => {
                let prefixes = strs(&r.values);
                if let Some(long) = prefixes.iter().find(|p| p.len() > MAX_PREFIX) {
                    return Err((r.pos.line, r.pos.column, format!("prefix `{long}` is longer than {MAX_PREFIX} bytes")));
                }
                Ok(vec![Conj { keys: prefixes.into_iter().map(ConjKey::Prefix).collect(), flags_any: 0 }])
            }
            ("file.flags", Op::Contains) => Err((
                r.pos.line,
                r.pos.column,
                "a file_open rule needs a `file.path` condition beside `file.flags` (the kernel indexes rules by path)".into(),
            )),
            _ => Err(unsupported(r)),
        },
        Expr::All(parts) => {
            let mut keyed: Option<Vec<Conj>> = None;
            let mut flags: Option<u32> = None;
            for p in parts {
                match p {
                    Expr::Cmp(r) if r.field.name == "file.flags" && r.op == Op::Contains => {
                        if flags.is_some() {
                            return Err((r.pos.line, r.pos.column, "one `file.flags contains` per conjunction (list the flags in it: any of them matches)".into()));
                        }
                        flags = Some(flag_mask(&r.values));
                    }
                    Expr::Cmp(r) if r.field.name == "file.path" => {
                        if keyed.is_some() {
                            return Err((r.pos.line, r.pos.column, "one `file.path` condition per conjunction on file_open".into()));
                        }
                        keyed = Some(open_conjunctions(p)?);
                    }
                    Expr::Cmp(r) => return Err(unsupported(r)),
                    _ => {
                        return Err((0, 0, "on file_open, `all` may hold only `file.path` and `file.flags` comparisons in this krsi".into()))
                    }
                }
            }
            let mut conjs = keyed.ok_or((0, 0, "a file_open rule needs a `file.path` condition (the kernel indexes rules by it)".to_string()))?;
            for c in &mut conjs {
                c.flags_any = flags.unwrap_or(0);
            }
            Ok(conjs)
        }
        Expr::Not(_) => Err((0, 0, "`not` is valid, but on file_open the kernel programs of this krsi do not evaluate it yet".into())),
    }
}

/// Chains clauses per key; every prefix's chain also holds the clauses of
/// the shorter listed prefixes it extends. Within a chain, rule order.
fn build_open_table(
    identity: std::collections::BTreeMap<Identity, Vec<Clause>>,
    prefix: std::collections::BTreeMap<String, Vec<Clause>>,
) -> Result<OpenTable, String> {
    let mut t = OpenTable::default();
    let push_chain = |t: &mut OpenTable,
                      mut chain: Vec<Clause>,
                      what: &dyn Fn() -> String|
     -> Result<u32, String> {
        chain.sort_by_key(|c| c.rule);
        chain.dedup();
        if chain.len() > MAX_CHAIN {
            return Err(format!(
                "{} clauses share {}: at most {MAX_CHAIN}",
                chain.len(),
                what()
            ));
        }
        let head = t.clauses.len() as u32;
        let n = chain.len();
        for (i, c) in chain.into_iter().enumerate() {
            let next = (i + 1 < n).then(|| head + i as u32 + 1);
            t.clauses.push((c, next));
        }
        Ok(head)
    };
    for (id, chain) in identity {
        let head = push_chain(&mut t, chain, &|| {
            format!(
                "file dev {}:{} ino {}",
                id.dev >> 20,
                id.dev & 0xfffff,
                id.ino
            )
        })?;
        t.identity_heads.push((id, head));
    }
    for (p, _) in prefix.iter() {
        let chain: Vec<Clause> = prefix
            .iter()
            .filter(|(q, _)| p.starts_with(q.as_str()))
            .flat_map(|(_, c)| c.iter().copied())
            .collect();
        let head = push_chain(&mut t, chain, &|| format!("prefix `{p}`"))?;
        t.prefix_heads.push((p.clone(), head));
    }
    if t.clauses.len() > MAX_CLAUSES {
        return Err(format!(
            "too many file_open clauses ({}): at most {MAX_CLAUSES} per policy",
            t.clauses.len()
        ));
    }
    Ok(t)
}
