//! Checked [`Policy`] → the entries of the BPF maps (bpf/include/krsi_abi.h).
//!
//! Paths resolve to file identities (device, inode) here, once, so the kernel
//! matches the file itself: a hard link or a rename of a denied binary is
//! still denied, and no path string is compared in the hot path.
//!
//! A rule's condition becomes clauses in disjunctive form: each clause a
//! conjunction of at most [`MAX_PREDS`] predicates over the hook's facts
//! (`fields::fact_of`). A clause is reached through an index when it can be:
//! the primary file's identity (hash) or its path prefix (LPM trie); the
//! others form the hook's unindexed chain. Lists become sets the kernel
//! tests with one lookup whatever their size.
//!
//! The language is wider than what the kernel programs evaluate today; a rule
//! outside that subset is an error naming its place, never silently dropped.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;

use crate::check::{self, Expr, Resolved};
use crate::diag::{Diagnostic, PolicyError, Severity as DiagSeverity};
use crate::fields::{self, fact, Fact, FieldType, Op};
use crate::model::{Action, Errno, Hook, Mode, Policy, RateLimit, Rule, Severity, Value};

/// Rules one policy may hold (KRSI_MAX_RULES in the BPF ABI).
pub const MAX_RULES: usize = 16384;
/// Identity index entries and set entries one policy may hold (half of KRSI_MAX_IDENTITIES).
pub const MAX_ENTRIES: usize = 65536;
/// Predicates per clause (KRSI_MAX_PREDS).
pub const MAX_PREDS: usize = 8;
/// Clauses one rule may compile to.
pub const MAX_RULE_CLAUSES: usize = 256;
/// Clauses one identity or prefix may chain (KRSI_MAX_CHAIN).
pub const MAX_CHAIN: usize = 64;
/// Unindexed clauses per hook (KRSI_MAX_ANY_CHAIN).
pub const MAX_ANY_CHAIN: usize = 256;
/// Clauses per policy (KRSI_MAX_CLAUSES).
pub const MAX_CLAUSES: usize = 32768;
/// Longest path prefix the index trie holds (KRSI_PREFIX_PATH).
pub const MAX_PREFIX: usize = 254;
/// Longest string a set holds (KRSI_SET_STR, less the NUL of exact entries).
pub const MAX_SET_STR: usize = 252;
/// Taint labels (bits of a u64).
pub const MAX_TAINT_LABELS: usize = 64;

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

/// A kernel dev_t (MKDEV encoding) as `stat` users spell it: "major:minor".
pub(crate) fn dev_string(kdev: u32) -> String {
    format!("{}:{}", kdev >> 20, kdev & 0xfffff)
}

/// What the kernel does on a match, weakest first (the strongest match wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelAction {
    Audit,
    /// Label the process (and its future children).
    Taint,
    /// A deny rule in monitor mode: reported, allowed.
    WouldDeny,
    /// A kill rule in monitor mode.
    WouldKill,
    Deny,
    /// SIGKILL the actor, and deny the call.
    Kill,
}

impl KernelAction {
    pub fn name(self) -> &'static str {
        match self {
            KernelAction::Audit => "audit",
            KernelAction::Taint => "taint",
            KernelAction::WouldDeny => "would_deny",
            KernelAction::WouldKill => "would_kill",
            KernelAction::Deny => "deny",
            KernelAction::Kill => "kill",
        }
    }
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
    pub rate_limit: Option<RateLimit>,
    /// What a deny or kill makes the call fail with.
    pub errno: Errno,
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
            rate_limit: rule.rate_limit.clone(),
            errno: rule.errno.map(|e| e.value).unwrap_or_default(),
            resolved,
        }
    }
}

/// Predicate operators (`enum krsi_pred_op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PredOp {
    Eq = 1,
    Lt = 2,
    Gt = 3,
    Any = 4,
    All = 5,
    In = 6,
    IdEq = 7,
    IdIn = 8,
    Str = 9,
    Cidr = 10,
    /// Some ancestor's executable is in the identity set.
    AncIn = 11,
    /// Some string of the new image's argv/environment is in the string set.
    StrsIn = 12,
    /// The string matches the glob [`CompiledPolicy::globs`]`[set]`.
    Glob = 13,
    /// SafeSetID: the id change is allowed by the (from, to) pairs of the set.
    SetidOk = 14,
}

/// A glob as the kernel matches it: literal segments (0 is `?`) separated
/// by `*`, the first anchored at the start unless the glob starts with `*`,
/// the last anchored at the end unless it ends with `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Glob {
    pub segments: Vec<Vec<u8>>,
    pub anchored_start: bool,
    pub anchored_end: bool,
}

/// Segments per glob and bytes per segment the kernel matches.
pub const GLOB_SEGMENTS: usize = 4;
pub const GLOB_SEGMENT_LEN: usize = 32;
/// Globs per policy (KRSI_MAX_GLOBS).
pub const MAX_GLOBS: usize = 1024;

impl std::fmt::Display for Glob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.anchored_start {
            f.write_str("*")?;
        }
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("*")?;
            }
            for &c in seg {
                match c {
                    0 => f.write_str("?")?,
                    b'*' | b'?' | b'[' | b'\\' => write!(f, "\\{}", c as char)?,
                    c => write!(f, "{}", c as char)?,
                }
            }
        }
        if !self.anchored_end && !self.segments.is_empty() {
            f.write_str("*")?;
        }
        Ok(())
    }
}

impl Glob {
    /// The literal prefix when the glob is just `PREFIX*` (a trie lookup
    /// answers it, no scan needed).
    pub fn as_prefix(&self) -> Option<String> {
        match self.segments.as_slice() {
            [only] if self.anchored_start && !self.anchored_end && !only.contains(&0) => {
                String::from_utf8(only.clone()).ok()
            }
            _ => None,
        }
    }

    /// `*` any run of bytes (`/` included), `?` one byte, `\x` a literal x;
    /// character classes are not matched by the kernel.
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        let b = pattern.as_bytes();
        let mut segments = vec![Vec::new()];
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'*' => segments.push(Vec::new()),
                b'?' => segments.last_mut().unwrap().push(0),
                b'\\' if i + 1 < b.len() => {
                    i += 1;
                    segments.last_mut().unwrap().push(b[i]);
                }
                b'[' => {
                    return Err(format!(
                        "glob `{pattern}`: character classes are valid, but the kernel programs of this krsi match only `*`, `?` and literals"
                    ))
                }
                c => segments.last_mut().unwrap().push(c),
            }
            i += 1;
        }
        let anchored_start = !pattern.starts_with('*');
        let anchored_end = !segments.last().is_some_and(|s| s.is_empty());
        segments.retain(|s| !s.is_empty());
        if segments.len() > GLOB_SEGMENTS {
            return Err(format!(
                "glob `{pattern}` has {} literal parts: the kernel matches at most {GLOB_SEGMENTS}",
                segments.len()
            ));
        }
        if let Some(long) = segments.iter().find(|s| s.len() > GLOB_SEGMENT_LEN) {
            return Err(format!(
                "glob `{pattern}`: the part `{}` is longer than the {GLOB_SEGMENT_LEN} bytes the kernel compares",
                String::from_utf8_lossy(long)
            ));
        }
        Ok(Glob {
            segments,
            anchored_start,
            anchored_end,
        })
    }

    /// The same match in user space (tests, and the reference for the kernel).
    pub fn matches(&self, s: &[u8]) -> bool {
        let seg_at = |seg: &[u8], p: usize| {
            p + seg.len() <= s.len()
                && seg
                    .iter()
                    .enumerate()
                    .all(|(j, &c)| c == 0 || c == s[p + j])
        };
        let n = self.segments.len();
        if n == 0 {
            return !(self.anchored_start && self.anchored_end) || s.is_empty();
        }
        let mut pos = 0;
        for (k, seg) in self.segments.iter().enumerate() {
            if k == 0 && self.anchored_start {
                if !seg_at(seg, 0) || (n == 1 && self.anchored_end && s.len() != seg.len()) {
                    return false;
                }
                pos = seg.len();
            } else if k == n - 1 && self.anchored_end {
                if s.len() < seg.len()
                    || s.len() - seg.len() < pos
                    || !seg_at(seg, s.len() - seg.len())
                {
                    return false;
                }
                pos = s.len();
            } else {
                match (pos..=s.len().saturating_sub(seg.len())).find(|&p| seg_at(seg, p)) {
                    Some(p) => pos = p + seg.len(),
                    None => return false,
                }
            }
        }
        true
    }
}

/// One comparison the kernel makes (`struct krsi_pred`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pred {
    pub fact: u8,
    pub op: PredOp,
    pub neg: bool,
    /// Index into [`CompiledPolicy::sets`] (ops In, IdIn, Str, Cidr).
    pub set: u32,
    pub v: u64,
    pub v2: u64,
}

/// A conjunction: when every predicate holds, the rule's action applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Clause {
    pub rule: u32,
    pub action: KernelAction,
    /// Taint label bit set on a match.
    pub taint: Option<u8>,
    pub preds: Vec<Pred>,
}

/// A set the kernel tests membership of with one lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetDef {
    /// Numbers, or file identities as (dev, ino).
    Num(Vec<(u64, u64)>),
    /// Strings: (bytes, exact). An exact entry matches the whole string, the
    /// others any string they are a prefix of.
    Str(Vec<(Vec<u8>, bool)>),
    /// Address prefixes: 16 bytes (IPv4 mapped) and a length in bits.
    Cidr(Vec<([u8; 16], u8)>),
}

/// The index entries and needs of one hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookTable {
    /// Primary file identity → first clause.
    pub identity_heads: Vec<(Identity, u32)>,
    /// Path prefix → first clause; each chain also holds the clauses of every
    /// shorter listed prefix of it, since the trie returns only the longest.
    pub prefix_heads: Vec<(String, u32)>,
    /// First clause without an index key.
    pub any_head: Option<u32>,
    /// Which facts the predicates need (`KRSI_HC_NEED_*`).
    pub needs: u32,
}

pub const NEED_EXE: u32 = 1 << 3;
pub const NEED_PATH: u32 = 1 << 4;
pub const NEED_PATH2: u32 = 1 << 5;
pub const NEED_TAINT: u32 = 1 << 6;
pub const NEED_NS: u32 = 1 << 7;
pub const NEED_CGROUP: u32 = 1 << 8;
pub const NEED_HASH: u32 = 1 << 9;
pub const NEED_ENV: u32 = 1 << 12;

/// `loadpin: {root: PATH}` resolved: the file system LoadPin pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadpinRoot {
    pub path: String,
    /// `s_dev` of the file system holding `path` (MKDEV encoding).
    pub dev: u32,
    /// Where the setting is written, for errors about it.
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl LoadpinRoot {
    /// `file:line:column` of the setting.
    pub fn at(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What the agent writes into one policy slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPolicy {
    pub source: String,
    /// LoadPin's configured file system (else the first one read from).
    pub loadpin_root: Option<LoadpinRoot>,
    /// Rule table; a rule's index is its id in the kernel.
    pub rules: Vec<RuleInfo>,
    /// `(clause, next)`: `next` is the index of the next clause of the same chain.
    pub clauses: Vec<(Clause, Option<u32>)>,
    pub hooks: BTreeMap<Hook, HookTable>,
    pub sets: Vec<SetDef>,
    pub globs: Vec<Glob>,
    /// Bit i of a taint mask is label i.
    pub taint_labels: Vec<String>,
    /// Notes of list entries (digests in lowercase), for event messages.
    pub notes: BTreeMap<String, String>,
    /// Findings that do not stop the policy (e.g. a path that does not exist).
    pub warnings: Vec<Diagnostic>,
}

impl CompiledPolicy {
    /// Whether a rule compares file digests (the kernel then hashes files).
    pub fn needs_hash(&self) -> bool {
        self.hooks.values().any(|t| t.needs & NEED_HASH != 0)
    }

    pub fn rule_index(&self, name: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.name == name)
    }

    /// Identity index entries, all hooks together.
    pub fn identity_count(&self) -> usize {
        self.hooks.values().map(|h| h.identity_heads.len()).sum()
    }

    /// The clauses of rule `rule`, with where the kernel finds them.
    pub fn clauses_of(&self, rule: u32) -> Vec<(String, &Clause)> {
        let mut out = Vec::new();
        for (hook, t) in &self.hooks {
            let mut chain = |head: u32, key: String| {
                let mut at = Some(head);
                while let Some(i) = at {
                    let (c, next) = &self.clauses[i as usize];
                    if c.rule == rule {
                        out.push((key.clone(), c));
                    }
                    at = *next;
                }
            };
            for (id, head) in &t.identity_heads {
                chain(
                    *head,
                    format!("{hook} file dev {} ino {}", dev_string(id.dev), id.ino),
                );
            }
            for (p, head) in &t.prefix_heads {
                chain(*head, format!("{hook} path prefix `{p}`"));
            }
            if let Some(h) = t.any_head {
                chain(h, format!("{hook} unindexed"));
            }
        }
        out
    }
}

/// `x` as a glob that matches exactly `x`.
fn escape_glob(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    for c in x.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `glob: [a, b]` (and substring `contains: [a, b]`) is `any` of one-glob
/// comparisons: the kernel matches one glob per predicate.
fn split_globs(e: Expr) -> Expr {
    // `PREFIX*` is a prefix: one trie lookup (and an index key on paths).
    let as_prefix = |r: &Resolved, v: &Value| -> Option<Resolved> {
        let Value::Str(p) = v else { return None };
        if r.op != Op::Glob || !r.field.ty.ops().contains(&Op::Prefix) {
            return None;
        }
        let prefix = Glob::parse(p).ok()?.as_prefix()?;
        Some(Resolved {
            op: Op::Prefix,
            values: vec![Value::Str(prefix)],
            ..r.clone()
        })
    };
    match e {
        Expr::Cmp(r) if r.values.len() == 1 && as_prefix(&r, &r.values[0]).is_some() => {
            Expr::Cmp(as_prefix(&r, &r.values[0]).expect("checked"))
        }
        Expr::All(v) => Expr::All(v.into_iter().map(split_globs).collect()),
        Expr::Any(v) => Expr::Any(v.into_iter().map(split_globs).collect()),
        Expr::Not(x) => Expr::Not(Box::new(split_globs(*x))),
        Expr::Cmp(r)
            if r.values.len() > 1
                && (r.op == Op::Glob
                    || (r.op == Op::Contains
                        && matches!(r.field.ty, FieldType::Str | FieldType::Path))) =>
        {
            Expr::Any(
                r.values
                    .iter()
                    .map(|v| {
                        Expr::Cmp(as_prefix(&r, v).unwrap_or_else(|| Resolved {
                            values: vec![v.clone()],
                            ..r.clone()
                        }))
                    })
                    .collect(),
            )
        }
        other => other,
    }
}

/// A comparison in a clause, possibly negated, before lowering.
#[derive(Clone)]
struct Lit<'e> {
    cmp: &'e Resolved,
    neg: bool,
}

/// Disjunctive normal form, negations pushed down to comparisons.
fn dnf<'e>(e: &'e Expr, neg: bool, limit: usize) -> Result<Vec<Vec<Lit<'e>>>, Pos3> {
    let too_many = || {
        (
            0,
            0,
            format!("the condition expands to more than {limit} alternatives; split the rule"),
        )
    };
    match (e, neg) {
        (Expr::Cmp(r), _) => Ok(vec![vec![Lit { cmp: r, neg }]]),
        (Expr::Not(inner), _) => dnf(inner, !neg, limit),
        (Expr::Any(parts), false) | (Expr::All(parts), true) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p, neg, limit)?);
                if out.len() > limit {
                    return Err(too_many());
                }
            }
            Ok(out)
        }
        (Expr::All(parts), false) | (Expr::Any(parts), true) => {
            let mut out: Vec<Vec<Lit>> = vec![vec![]];
            for p in parts {
                let alts = dnf(p, neg, limit)?;
                let mut next = Vec::with_capacity(out.len() * alts.len());
                for a in &out {
                    for b in &alts {
                        let mut c = a.clone();
                        c.extend(b.iter().cloned());
                        next.push(c);
                    }
                }
                if next.len() > limit {
                    return Err(too_many());
                }
                out = next;
            }
            Ok(out)
        }
    }
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

/// How the kernel reaches a clause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Identity(Identity),
    Prefix(String),
    Any,
}

/// State shared by the rules of one policy while compiling.
struct Builder<'p> {
    policy: &'p Policy,
    sets: Vec<SetDef>,
    set_ids: HashMap<SetDef, u32>,
    globs: Vec<Glob>,
    labels: Vec<String>,
    set_entries: usize,
    warnings: Vec<Diagnostic>,
}

/// A comparison lowered for the kernel.
enum Lowered {
    Pred(Pred),
    /// Can never hold (a list of paths none of which exists).
    Never,
    /// Always holds (`not` of such a list): no predicate needed.
    Always,
}

impl<'p> Builder<'p> {
    fn set(&mut self, def: SetDef) -> u32 {
        if let Some(&id) = self.set_ids.get(&def) {
            return id;
        }
        self.set_entries += match &def {
            SetDef::Num(v) => v.len(),
            SetDef::Str(v) => v.len(),
            SetDef::Cidr(v) => v.len(),
        };
        let id = self.sets.len() as u32;
        self.sets.push(def.clone());
        self.set_ids.insert(def, id);
        id
    }

    fn label(&mut self, name: &str) -> Result<u8, String> {
        if let Some(i) = self.labels.iter().position(|l| l == name) {
            return Ok(i as u8);
        }
        if self.labels.len() >= MAX_TAINT_LABELS {
            return Err(format!("too many taint labels: at most {MAX_TAINT_LABELS}"));
        }
        self.labels.push(name.to_string());
        Ok((self.labels.len() - 1) as u8)
    }

    fn str_set(&mut self, r: &Resolved, exact: bool) -> Result<u32, Pos3> {
        let mut entries = Vec::new();
        for s in strs(&r.values) {
            if s.len() > MAX_SET_STR - usize::from(exact) {
                return Err((
                    r.pos.line,
                    r.pos.column,
                    format!(
                        "`{s}` is longer than the {} bytes the kernel compares",
                        MAX_SET_STR - usize::from(exact)
                    ),
                ));
            }
            entries.push((s.into_bytes(), exact));
        }
        entries.sort();
        entries.dedup();
        Ok(self.set(SetDef::Str(entries)))
    }

    /// One glob (a list of globs was split into alternatives by [`split_globs`]).
    fn glob(
        &mut self,
        r: &Resolved,
        fact: u8,
        pred: &dyn Fn(u8, PredOp, bool, u32, u64, u64) -> Lowered,
    ) -> Result<Lowered, Pos3> {
        let pattern = strs(&r.values).into_iter().next().unwrap_or_default();
        let g = Glob::parse(&pattern).map_err(|m| (r.pos.line, r.pos.column, m))?;
        if g.segments.is_empty() && !(g.anchored_start && g.anchored_end) {
            // `*` matches everything: `not pid == MAX`, negated with the literal.
            return Ok(pred(fact::PID, PredOp::Eq, true, 0, u64::MAX, 0));
        }
        let id = match self.globs.iter().position(|x| *x == g) {
            Some(i) => i,
            None => {
                if self.globs.len() >= MAX_GLOBS {
                    return Err((
                        r.pos.line,
                        r.pos.column,
                        format!("too many globs: at most {MAX_GLOBS} per policy"),
                    ));
                }
                self.globs.push(g);
                self.globs.len() - 1
            }
        };
        Ok(pred(fact, PredOp::Glob, false, id as u32, 0, 0))
    }

    fn lower(
        &mut self,
        rule: &Rule,
        hook: Hook,
        lit: &Lit,
        resolved: &mut Vec<(String, Identity)>,
    ) -> Result<Lowered, Pos3> {
        let r = lit.cmp;
        let at = |msg: String| (r.pos.line, r.pos.column, msg);
        let not_yet = |what: &str| {
            at(format!(
                "`{} {}` is valid, but the kernel programs of this krsi {what}",
                r.field.name,
                r.op.name()
            ))
        };
        let pred = |fact: u8, op: PredOp, neg: bool, set: u32, v: u64, v2: u64| {
            Lowered::Pred(Pred {
                fact,
                op,
                neg: neg != lit.neg,
                set,
                v,
                v2,
            })
        };
        match fields::fact_of(hook, r.field.name) {
            Fact::Unsupported => Err(at(format!(
                "`{}` is valid, but the kernel programs of this krsi do not fill it yet",
                r.field.name
            ))),
            Fact::Num(n) => {
                let nums: Vec<u64> = match r.field.ty {
                    FieldType::Enum(names) => strs(&r.values)
                        .iter()
                        .map(|s| fields::enum_code(r.field.name, names, s).unwrap_or(u64::MAX))
                        .collect(),
                    FieldType::Flags(names) => {
                        let mask = strs(&r.values)
                            .iter()
                            .filter_map(|s| names.iter().position(|f| f == s))
                            .fold(0u64, |m, i| m | (1 << i));
                        return Ok(match r.op {
                            Op::Contains => pred(n, PredOp::Any, false, 0, mask, 0),
                            _ => pred(n, PredOp::Eq, false, 0, mask, 0),
                        });
                    }
                    FieldType::Bool => {
                        let yes = matches!(r.values.first(), Some(Value::Bool(true)));
                        return Ok(pred(n, PredOp::Eq, yes, 0, 0, 0));
                    }
                    _ => r
                        .values
                        .iter()
                        .map(|v| match v {
                            Value::Int(i) => *i,
                            Value::Bool(b) => u64::from(*b),
                            Value::Str(s) => s.parse().unwrap_or(u64::MAX),
                        })
                        .collect(),
                };
                let v = nums.first().copied().unwrap_or(0);
                Ok(match r.op {
                    Op::Equal | Op::In if nums.len() == 1 => pred(n, PredOp::Eq, false, 0, v, 0),
                    Op::Equal | Op::In => {
                        let mut e: Vec<(u64, u64)> = nums.iter().map(|&x| (x, 0)).collect();
                        e.sort();
                        e.dedup();
                        let set = self.set(SetDef::Num(e));
                        pred(n, PredOp::In, false, set, 0, 0)
                    }
                    Op::Lt => pred(n, PredOp::Lt, false, 0, v, 0),
                    Op::Ge => pred(n, PredOp::Lt, true, 0, v, 0),
                    Op::Gt => pred(n, PredOp::Gt, false, 0, v, 0),
                    Op::Le => pred(n, PredOp::Gt, true, 0, v, 0),
                    _ => return Err(not_yet("do not evaluate this operator on numbers")),
                })
            }
            Fact::File { ident, path } => match r.op {
                Op::Equal | Op::In => {
                    let mut ids = Vec::new();
                    for p in strs(&r.values) {
                        if let Some(id) =
                            resolve_identity(self.policy, rule, &p, &mut self.warnings)
                        {
                            resolved.push((p, id));
                            ids.push(id);
                        }
                    }
                    ids.sort();
                    ids.dedup();
                    Ok(match ids.as_slice() {
                        // `not` of files that do not exist always holds.
                        [] if lit.neg => Lowered::Always,
                        [] => Lowered::Never,
                        [one] => pred(ident, PredOp::IdEq, false, 0, one.dev as u64, one.ino),
                        many => {
                            let set = self.set(SetDef::Num(
                                many.iter().map(|i| (i.dev as u64, i.ino)).collect(),
                            ));
                            pred(ident, PredOp::IdIn, false, set, 0, 0)
                        }
                    })
                }
                Op::Prefix => {
                    let set = self.str_set(r, false)?;
                    Ok(pred(path, PredOp::Str, false, set, 0, 0))
                }
                Op::Glob => self.glob(r, path, &pred),
                _ => Err(not_yet("compare paths only by equal, in, prefix and glob")),
            },
            Fact::Str(s) => match r.op {
                Op::Equal | Op::In if r.field.ty == FieldType::Digest => {
                    // The kernel writes digests in lowercase hex.
                    let mut lower = r.clone();
                    lower.values = strs(&r.values)
                        .iter()
                        .map(|v| Value::Str(v.to_ascii_lowercase()))
                        .collect();
                    let set = self.str_set(&lower, true)?;
                    Ok(pred(s, PredOp::Str, false, set, 0, 0))
                }
                Op::Equal | Op::In => {
                    let set = self.str_set(r, true)?;
                    Ok(pred(s, PredOp::Str, false, set, 0, 0))
                }
                Op::Prefix => {
                    let set = self.str_set(r, false)?;
                    Ok(pred(s, PredOp::Str, false, set, 0, 0))
                }
                Op::Glob => self.glob(r, s, &pred),
                Op::Contains => {
                    // A substring is the glob `*x*`.
                    let mut g = r.clone();
                    g.values = strs(&r.values)
                        .iter()
                        .map(|v| Value::Str(format!("*{}*", escape_glob(v))))
                        .collect();
                    if g.values.len() != 1 {
                        return Err(not_yet(
                            "match one substring per comparison (write `any` of several)",
                        ));
                    }
                    self.glob(&g, s, &pred)
                }
                _ => Err(not_yet(
                    "compare strings only by equal, in, prefix and glob",
                )),
            },
            Fact::Addr(n) => {
                let mut nets = Vec::new();
                for s in strs(&r.values) {
                    let (addr, bits) = match r.op {
                        Op::Cidr => check::parse_cidr(&s).map_err(&at)?,
                        _ => {
                            let a: IpAddr = s
                                .parse()
                                .map_err(|_| at(format!("`{s}` is not an IP address")))?;
                            (a, if a.is_ipv4() { 32 } else { 128 })
                        }
                    };
                    let (bytes, bits) = match addr {
                        IpAddr::V4(v4) => (v4.to_ipv6_mapped().octets(), bits + 96),
                        IpAddr::V6(v6) => (v6.octets(), bits),
                    };
                    nets.push((mask_bytes(bytes, bits), bits));
                }
                nets.sort();
                nets.dedup();
                let set = self.set(SetDef::Cidr(nets));
                Ok(pred(n, PredOp::Cidr, false, set, 0, 0))
            }
            Fact::Ancestors => {
                if r.op != Op::Contains {
                    return Err(not_yet(
                        "match ancestors only by `contains` (executable files)",
                    ));
                }
                let mut ids = Vec::new();
                for p in strs(&r.values) {
                    if let Some(id) = resolve_identity(self.policy, rule, &p, &mut self.warnings) {
                        resolved.push((p, id));
                        ids.push((id.dev as u64, id.ino));
                    }
                }
                ids.sort();
                ids.dedup();
                if ids.is_empty() {
                    return Ok(if lit.neg {
                        Lowered::Always
                    } else {
                        Lowered::Never
                    });
                }
                let set = self.set(SetDef::Num(ids));
                Ok(pred(fact::ANCESTORS, PredOp::AncIn, false, set, 0, 0))
            }
            Fact::Strs(which) => {
                let mut entries = Vec::new();
                for v in strs(&r.values) {
                    // env names match "NAME=..." entries as a prefix.
                    let (bytes, exact) = match (which, r.op) {
                        (fact::ENV_NAMES, Op::Contains) => (format!("{v}="), false),
                        (_, Op::Contains) => (v, true),
                        (_, Op::Prefix) => (v, false),
                        _ => {
                            return Err(not_yet(
                                "match argv and the environment only by contains and prefix",
                            ))
                        }
                    };
                    if bytes.len() > MAX_SET_STR - usize::from(exact) {
                        return Err(at(format!(
                            "`{bytes}` is longer than the {} bytes the kernel compares",
                            MAX_SET_STR - usize::from(exact)
                        )));
                    }
                    entries.push((bytes.into_bytes(), exact));
                }
                entries.sort();
                entries.dedup();
                let set = self.set(SetDef::Str(entries));
                Ok(pred(which, PredOp::StrsIn, false, set, 0, 0))
            }
            Fact::Transitions => {
                if !matches!(r.op, Op::In | Op::Equal) {
                    return Err(not_yet(
                        "match id.transition only by `in` a list of \"FROM:TO\"",
                    ));
                }
                let mut pairs = Vec::new();
                for v in strs(&r.values) {
                    let pair = v.split_once(':').and_then(|(a, b)| {
                        Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?))
                    });
                    let Some((from, to)) = pair else {
                        return Err(at(format!("`{v}` is not a transition FROM:TO of two ids")));
                    };
                    // (from, MAX) marks `from` as constrained.
                    pairs.push((from as u64, u64::MAX));
                    pairs.push((from as u64, to as u64));
                }
                pairs.sort();
                pairs.dedup();
                let set = self.set(SetDef::Num(pairs));
                Ok(pred(fact::A0 + 2, PredOp::SetidOk, false, set, 0, 0))
            }
            Fact::Taint => {
                let mut mask = 0u64;
                for l in strs(&r.values) {
                    let bit = self.label(&l).map_err(at)?;
                    mask |= 1 << bit;
                }
                Ok(pred(fact::TAINT, PredOp::Any, false, 0, mask, 0))
            }
        }
    }
}

/// Clears the bits past `bits` (the trie compares only the prefix anyway;
/// equal keys keep the set deduplicated).
fn mask_bytes(mut b: [u8; 16], bits: u8) -> [u8; 16] {
    for (i, byte) in b.iter_mut().enumerate() {
        let start = i as u32 * 8;
        let keep = (bits as u32).saturating_sub(start).min(8);
        *byte &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
    }
    b
}

/// Fields known only once the exec is committed (the new image's strings).
fn post_commit(hook: Hook, field: &str) -> bool {
    matches!(fields::fact_of(hook, field), Fact::Strs(_)) || field.starts_with("exec.env.")
}

/// Exec fields the kernel gets by walking the whole environment once.
const ENV_SCAN: &[&str] = &["exec.env.bytes", "exec.env.duplicates", "exec.env.overflow"];

/// Which facts a predicate makes the program resolve.
fn needs_of(p: &Pred) -> u32 {
    match p.fact {
        fact::S_EXE => NEED_EXE,
        fact::S_PATH => NEED_PATH,
        fact::S_PATH2 => NEED_PATH2,
        fact::TAINT => NEED_TAINT,
        fact::NS_PID | fact::NS_MNT | fact::NS_USER => NEED_NS,
        fact::S_CGROUP => NEED_CGROUP,
        fact::S_HASH => NEED_HASH,
        _ => 0,
    }
}

/// Compiles a checked policy; fails whole or not at all.
pub fn compile(policy: &Policy) -> Result<CompiledPolicy, PolicyError> {
    compile_with_labels(policy, &[])
}

/// As [`compile`], keeping the bits of taint labels an earlier policy
/// already gave out (processes carry them across a reload).
pub fn compile_with_labels(
    policy: &Policy,
    prior_labels: &[String],
) -> Result<CompiledPolicy, PolicyError> {
    let mut errors = Vec::new();
    let mut err = |file: &str, line: usize, column: usize, message: String| {
        errors.push(Diagnostic {
            file: file.to_string(),
            line,
            column,
            severity: DiagSeverity::Error,
            message,
        })
    };
    // Resolved when the policy is applied: the file system must be there.
    let loadpin_root = policy.loadpin.as_ref().and_then(|lp| {
        let r = &lp.root;
        match Identity::of_path(&r.value) {
            Ok(id) => Some(LoadpinRoot {
                path: r.value.clone(),
                dev: id.dev,
                file: lp.file.clone(),
                line: r.line,
                column: r.column,
            }),
            Err(e) => {
                err(
                    &lp.file,
                    r.line,
                    r.column,
                    format!("`loadpin.root` `{}`: {e}", r.value),
                );
                None
            }
        }
    });
    if policy.rules.len() > MAX_RULES {
        let r = &policy.rules[MAX_RULES];
        err(
            &r.file,
            r.name.line,
            r.name.column,
            format!("too many rules: at most {MAX_RULES} per policy"),
        );
    }
    let mut b = Builder {
        policy,
        sets: Vec::new(),
        set_ids: HashMap::new(),
        globs: Vec::new(),
        labels: prior_labels.to_vec(),
        set_entries: 0,
        warnings: policy.warnings.clone(),
    };
    let mut rules = Vec::with_capacity(policy.rules.len());
    let mut chains: BTreeMap<(Hook, Key), Vec<Clause>> = BTreeMap::new();
    let mut needs: BTreeMap<Hook, u32> = BTreeMap::new();
    let mut set_labels: Vec<String> = Vec::new();

    for (idx, rule) in policy.rules.iter().enumerate() {
        let id = idx as u32;
        let hook = rule.hook.value;
        let mode = rule.effective_mode(policy.mode);
        let mut resolved = Vec::new();
        if let Some((line, column, msg)) = unsupported(rule) {
            err(&rule.file, line, column, msg);
            continue;
        }
        if hook == Hook::ModuleLoad && matches!(rule.action.value, Action::Deny | Action::Kill) {
            err(&rule.file, rule.action.line, rule.action.column, format!(
                "`module_load` reports a module the kernel has already loaded, so it cannot {}: use audit or taint here, and deny on `kernel_read_file` (read.id: module, from a file) or `kernel_load_data` (from memory) to refuse a module",
                rule.action.value.name()
            ));
            continue;
        }
        let (action, taint) = match (&rule.action.value, mode) {
            (Action::Audit, _) => (KernelAction::Audit, None),
            (Action::Deny, Mode::Enforce) => (KernelAction::Deny, None),
            (Action::Deny, Mode::Monitor) => (KernelAction::WouldDeny, None),
            (Action::Kill, Mode::Enforce) => (KernelAction::Kill, None),
            (Action::Kill, Mode::Monitor) => (KernelAction::WouldKill, None),
            (Action::Taint(l), _) => match b.label(l) {
                Ok(bit) => {
                    set_labels.push(l.clone());
                    (KernelAction::Taint, Some(bit))
                }
                Err(msg) => {
                    err(&rule.file, rule.action.line, rule.action.column, msg);
                    continue;
                }
            },
        };
        let expr = check::resolve(policy, rule);
        let expr = expr.map(split_globs);
        let conjs = match expr.as_ref() {
            None => Ok(vec![vec![]]),
            Some(e) => dnf(e, false, MAX_RULE_CLAUSES),
        };
        let conjs = match conjs {
            Ok(c) => c,
            Err((line, column, msg)) => {
                let (line, column) = at_or_name(rule, line, column);
                err(&rule.file, line, column, msg);
                continue;
            }
        };
        let mut failed = false;
        for conj in conjs {
            // The index key: a positive comparison the kernel can look up.
            let key_at = conj.iter().position(|l| {
                !l.neg
                    && match fields::fact_of(hook, l.cmp.field.name) {
                        Fact::File {
                            ident: fact::A0, ..
                        } => {
                            matches!(l.cmp.op, Op::Equal | Op::In | Op::Prefix)
                        }
                        Fact::Str(fact::S_PATH) => l.cmp.op == Op::Prefix,
                        _ => false,
                    }
            });
            let mut keys = vec![Key::Any];
            if let Some(k) = key_at {
                let r = conj[k].cmp;
                if r.op == Op::Prefix {
                    let prefixes = strs(&r.values);
                    if let Some(long) = prefixes.iter().find(|p| p.len() > MAX_PREFIX) {
                        err(
                            &r.pos.file,
                            r.pos.line,
                            r.pos.column,
                            format!("prefix `{long}` is longer than {MAX_PREFIX} bytes"),
                        );
                        failed = true;
                        break;
                    }
                    keys = prefixes.into_iter().map(Key::Prefix).collect();
                } else {
                    keys = Vec::new();
                    for p in strs(&r.values) {
                        if let Some(i) = resolve_identity(policy, rule, &p, &mut b.warnings) {
                            resolved.push((p, i));
                            keys.push(Key::Identity(i));
                        }
                    }
                }
            }
            let mut preds = Vec::new();
            let mut never = false;
            for (i, lit) in conj.iter().enumerate() {
                if Some(i) == key_at {
                    continue;
                }
                match b.lower(rule, hook, lit, &mut resolved) {
                    Ok(Lowered::Pred(p)) => preds.push(p),
                    Ok(Lowered::Never) => never = true,
                    Ok(Lowered::Always) => {}
                    Err((line, column, msg)) => {
                        err(&lit.cmp.pos.file, line, column, msg);
                        failed = true;
                    }
                }
            }
            if failed {
                break;
            }
            if never {
                continue;
            }
            preds.sort_by_key(|p| (p.op == PredOp::Str || p.op == PredOp::Cidr, p.fact));
            preds.dedup();
            if preds.len() > MAX_PREDS {
                let (line, column) = (conj[0].cmp.pos.line, conj[0].cmp.pos.column);
                err(&rule.file, line, column, format!("{} comparisons in one alternative: the kernel evaluates at most {MAX_PREDS}", preds.len()));
                failed = true;
                break;
            }
            // argv and the environment exist only once the exec is committed.
            let post = hook == Hook::BprmCheckSecurity
                && conj.iter().any(|l| post_commit(hook, l.cmp.field.name));
            let hook = if post { Hook::BprmCommittedCreds } else { hook };
            if hook == Hook::BprmCommittedCreds
                && conj.iter().any(|l| ENV_SCAN.contains(&l.cmp.field.name))
            {
                *needs.entry(hook).or_default() |= NEED_ENV;
            }
            if hook == Hook::BprmCommittedCreds && action == KernelAction::Deny {
                let l = conj
                    .iter()
                    .find(|l| post_commit(hook, l.cmp.field.name))
                    .unwrap_or(&conj[0]);
                err(&l.cmp.pos.file, l.cmp.pos.line, l.cmp.pos.column, format!(
                    "`{}` is known only once the exec is committed, when it can no longer be denied: use `action: kill` (the process dies before the new program runs an instruction), audit or taint",
                    l.cmp.field.name
                ));
                failed = true;
                break;
            }
            *needs.entry(hook).or_default() |= preds.iter().map(needs_of).fold(0, |a, b| a | b);
            // Kernel reads are rare and their records name the digest
            // (which module was loaded), whether or not a rule compares it.
            if hook == Hook::KernelReadFile || hook == Hook::ModuleLoad {
                *needs.entry(hook).or_default() |= NEED_HASH;
            }
            let clause = Clause {
                rule: id,
                action,
                taint,
                preds,
            };
            for k in keys {
                chains.entry((hook, k)).or_default().push(clause.clone());
            }
        }
        if failed {
            continue;
        }
        resolved.sort();
        resolved.dedup();
        rules.push(RuleInfo::new(rule, mode, resolved));
    }
    // A label tested but never set cannot match: say so.
    for l in &b.labels {
        if !set_labels.contains(l) && !prior_labels.contains(l) {
            b.warnings.push(Diagnostic {
                file: policy.source.clone(),
                line: 1,
                column: 1,
                severity: DiagSeverity::Warning,
                message: format!("taint label `{l}` is tested but no rule sets it"),
            });
        }
    }
    let (clauses, hooks) = match build_tables(chains, needs) {
        Ok(t) => t,
        Err(msg) => {
            err(&policy.source, 1, 1, msg);
            Default::default()
        }
    };
    let identities: usize = hooks
        .values()
        .map(|h: &HookTable| h.identity_heads.len())
        .sum();
    if identities + b.set_entries > MAX_ENTRIES {
        err(
            &policy.source,
            1,
            1,
            format!(
                "too many identities and list entries ({}): at most {MAX_ENTRIES} per policy",
                identities + b.set_entries
            ),
        );
    }
    if !errors.is_empty() {
        return Err(PolicyError::sorted(errors));
    }
    // A path in several alternatives is resolved once per alternative.
    let mut seen = std::collections::HashSet::new();
    b.warnings.retain(|w| seen.insert(w.to_string()));
    Ok(CompiledPolicy {
        loadpin_root,
        source: policy.source.clone(),
        rules,
        clauses,
        hooks,
        sets: b.sets,
        globs: b.globs,
        taint_labels: b.labels,
        warnings: b.warnings,
        notes: policy
            .lists
            .iter()
            .flat_map(|l| &l.notes)
            .map(|(v, n)| {
                let key = if check::is_sha256(v) {
                    v.to_ascii_lowercase()
                } else {
                    v.clone()
                };
                (key, n.clone())
            })
            .collect(),
    })
}

fn unsupported(rule: &Rule) -> Option<(usize, usize, String)> {
    if let Some(r) = &rule.rate_limit {
        if r.events == 0 || r.per_seconds == 0 {
            return Some((
                rule.name.line,
                rule.name.column,
                "`rate_limit` needs events and per_seconds above 0".into(),
            ));
        }
    }
    None
}

/// Chains clauses per key. Within a chain, rule order.
#[allow(clippy::type_complexity)]
fn build_tables(
    chains: BTreeMap<(Hook, Key), Vec<Clause>>,
    needs: BTreeMap<Hook, u32>,
) -> Result<(Vec<(Clause, Option<u32>)>, BTreeMap<Hook, HookTable>), String> {
    let mut clauses: Vec<(Clause, Option<u32>)> = Vec::new();
    let mut hooks: BTreeMap<Hook, HookTable> = BTreeMap::new();
    let mut push_chain =
        |mut chain: Vec<Clause>, max: usize, what: &dyn Fn() -> String| -> Result<u32, String> {
            chain.sort_by_key(|c| c.rule);
            chain.dedup();
            if chain.len() > max {
                return Err(format!(
                    "{} clauses share {}: at most {max}",
                    chain.len(),
                    what()
                ));
            }
            let head = clauses.len() as u32;
            let n = chain.len();
            for (i, c) in chain.into_iter().enumerate() {
                let next = (i + 1 < n).then(|| head + i as u32 + 1);
                clauses.push((c, next));
            }
            Ok(head)
        };
    for ((hook, key), chain) in &chains {
        let t = hooks.entry(*hook).or_default();
        match key {
            Key::Identity(id) => {
                let head = push_chain(chain.clone(), MAX_CHAIN, &|| {
                    format!("{hook} on file dev {} ino {}", dev_string(id.dev), id.ino)
                })?;
                t.identity_heads.push((*id, head));
            }
            Key::Prefix(p) => {
                let folded: Vec<Clause> = chains
                    .iter()
                    .filter(|((h, k), _)| {
                        *h == *hook && matches!(k, Key::Prefix(q) if p.starts_with(q.as_str()))
                    })
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                let head = push_chain(folded, MAX_CHAIN, &|| format!("{hook} on prefix `{p}`"))?;
                t.prefix_heads.push((p.clone(), head));
            }
            Key::Any => {
                let head = push_chain(chain.clone(), MAX_ANY_CHAIN, &|| {
                    format!("{hook} without a file.path condition (indexed rules are not limited)")
                })?;
                t.any_head = Some(head);
            }
        }
    }
    for (hook, n) in needs {
        hooks.entry(hook).or_default().needs |= n;
    }
    if clauses.len() > MAX_CLAUSES {
        return Err(format!(
            "too many clauses ({}): at most {MAX_CLAUSES} per policy",
            clauses.len()
        ));
    }
    Ok((clauses, hooks))
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
