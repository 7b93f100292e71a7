//! YAML → [`Policy`] structure, every node anchored at its line and column.
//! Meaning (fields, types, lists, macros) is checked in `check`.
use std::path::Path;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::diag::{Diagnostic, PolicyError, Severity as DiagSeverity};
use crate::fields::Op;
use crate::model::{
    Action, Cmp, Cond, Errno, Hook, Loadpin, MacroDef, Mode, NamedList, Policy, Pos, RateLimit,
    Rule, Severity, Spanned, Value,
};

const TOP_KEYS: &[&str] = &["mode", "loadpin", "lock", "lists", "macros", "rules"];
const RULE_KEYS: &[&str] = &[
    "name",
    "hook",
    "match",
    "action",
    "message",
    "severity",
    "tags",
    "mode",
    "rate_limit",
    "errno",
];
const COND_KEYS: &[&str] = &["all", "any", "not", "macro"];
/// Names appear in events and counters; keep them greppable.
const NAME_MAX: usize = 128;
/// Deeply nested conditions are a mistake, and recursion must stay bounded.
const MAX_DEPTH: usize = 32;

/// Parsed but not yet checked: one file's worth.
pub(crate) struct FileParse {
    pub file: String,
    pub mode: Option<Spanned<Mode>>,
    pub loadpin: Option<Loadpin>,
    /// `lock: until-reboot`, where it is written.
    pub lock: Option<Pos>,
    pub rules: Vec<Rule>,
    pub lists: Vec<NamedList>,
    pub macros: Vec<MacroDef>,
}

pub(crate) fn read(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path).map_err(|e| Diagnostic {
        file: path.display().to_string(),
        line: 1,
        column: 1,
        severity: DiagSeverity::Error,
        message: format!("cannot read policy: {e}"),
    })
}

/// Parses one file's text; `file` names it in diagnostics.
pub(crate) fn parse_text(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> FileParse {
    let mut p = Parser {
        file,
        diags,
        depth: 0,
    };
    p.document(text)
}

/// Assembles files into one policy (used by `load`).
pub(crate) fn assemble(source: &str, files: Vec<FileParse>, diags: &mut Vec<Diagnostic>) -> Policy {
    let mut policy = Policy {
        source: source.to_string(),
        mode: Mode::Enforce,
        loadpin: None,
        rules: vec![],
        lists: vec![],
        macros: vec![],
        locks: vec![],
        warnings: vec![],
    };
    let mut mode_at: Option<(Spanned<Mode>, String)> = None;
    for f in files {
        if let Some(m) = f.mode {
            match &mode_at {
                Some((first, file)) if first.value != m.value => diags.push(Diagnostic {
                    file: f.file.clone(),
                    line: m.line,
                    column: m.column,
                    severity: DiagSeverity::Error,
                    message: format!(
                        "policy `mode` conflicts with {file}:{}:{} (use a per-rule `mode` instead)",
                        first.line, first.column
                    ),
                }),
                Some(_) => {}
                None => {
                    policy.mode = m.value;
                    mode_at = Some((m, f.file.clone()));
                }
            }
        }
        if let Some(lp) = f.loadpin {
            match &policy.loadpin {
                Some(first) if first.root.value != lp.root.value => diags.push(Diagnostic {
                    file: lp.file.clone(),
                    line: lp.root.line,
                    column: lp.root.column,
                    severity: DiagSeverity::Error,
                    message: format!(
                        "`loadpin.root` conflicts with {}:{}:{} (`{}`): one file system is pinned",
                        first.file, first.root.line, first.root.column, first.root.value
                    ),
                }),
                Some(_) => {}
                None => policy.loadpin = Some(lp),
            }
        }
        if let Some(at) = f.lock {
            policy.locks.push(at);
        }
        policy.rules.extend(f.rules);
        policy.lists.extend(f.lists);
        policy.macros.extend(f.macros);
    }
    policy
}

struct Parser<'a> {
    file: &'a str,
    diags: &'a mut Vec<Diagnostic>,
    depth: usize,
}

fn kind(node: &MarkedYaml) -> &'static str {
    match &node.data {
        YamlData::Mapping(_) => "a mapping",
        YamlData::Sequence(_) => "a list",
        YamlData::Value(Scalar::Null) => "null",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "an integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a decimal number",
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Tagged(..) => "a tagged value",
        YamlData::Alias(_) => "an alias",
        YamlData::BadValue => "an invalid value",
    }
}

fn str_of<'a>(node: &'a MarkedYaml) -> Option<&'a str> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        YamlData::Representation(s, _, _) => Some(s),
        _ => None,
    }
}

fn pos(node: &MarkedYaml) -> (usize, usize) {
    (node.span.start.line(), node.span.start.col() + 1)
}

type Entries<'n> = Vec<(Spanned<&'n str>, &'n MarkedYaml<'n>)>;

impl Parser<'_> {
    fn error_at(&mut self, line: usize, column: usize, message: String) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            severity: DiagSeverity::Error,
            message,
        });
    }

    fn error(&mut self, node: &MarkedYaml, message: String) {
        let (line, col) = pos(node);
        self.error_at(line, col, message);
    }

    fn document(&mut self, text: &str) -> FileParse {
        let mut out = FileParse {
            file: self.file.to_string(),
            mode: None,
            loadpin: None,
            lock: None,
            rules: vec![],
            lists: vec![],
            macros: vec![],
        };
        let docs = match MarkedYaml::load_from_str(text) {
            Ok(docs) => docs,
            Err(e) => {
                let m = e.marker();
                self.error_at(m.line(), m.col() + 1, format!("invalid YAML: {}", e.info()));
                return out;
            }
        };
        if docs.len() > 1 {
            self.error(&docs[1], "a policy file holds one YAML document".into());
            return out;
        }
        let Some(root) = docs.first() else {
            self.error_at(1, 1, "empty policy: expected a mapping with `rules`".into());
            return out;
        };
        let Some(entries) = self.mapping(root, "the policy", TOP_KEYS) else {
            return out;
        };
        if !entries
            .iter()
            .any(|(k, _)| matches!(k.value, "rules" | "lists" | "macros" | "loadpin"))
        {
            self.error(
                root,
                "missing `rules` (or `lists`/`macros`/`loadpin` for a shared file)".into(),
            );
        }
        for (key, v) in entries {
            match key.value {
                "mode" => out.mode = self.mode(v),
                "loadpin" => out.loadpin = self.loadpin(v),
                "lock" => out.lock = self.lock(v),
                "lists" => self.lists(v, &mut out.lists),
                "macros" => self.macros(v, &mut out.macros),
                "rules" => match &v.data {
                    YamlData::Sequence(items) => {
                        for item in items {
                            if let Some(r) = self.rule(item) {
                                out.rules.push(r);
                            }
                        }
                    }
                    _ => self.error(v, format!("`rules` must be a list, found {}", kind(v))),
                },
                _ => unreachable!("mapping() filters keys"),
            }
        }
        out
    }

    /// A mapping's entries with string keys; unknown keys are reported.
    fn mapping<'n>(
        &mut self,
        node: &'n MarkedYaml<'n>,
        what: &str,
        allowed: &[&str],
    ) -> Option<Entries<'n>> {
        let YamlData::Mapping(map) = &node.data else {
            self.error(
                node,
                format!("{what} must be a mapping, found {}", kind(node)),
            );
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in map.iter() {
            let Some(key) = str_of(k) else {
                self.error(k, format!("keys must be strings, found {}", kind(k)));
                continue;
            };
            if !allowed.is_empty() && !allowed.contains(&key) {
                self.error(
                    k,
                    format!(
                        "unknown field `{key}` in {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                );
                continue;
            }
            let (line, column) = pos(k);
            out.push((
                Spanned {
                    value: key,
                    line,
                    column,
                },
                v,
            ));
        }
        Some(out)
    }

    fn string(&mut self, node: &MarkedYaml, what: &str) -> Option<Spanned<String>> {
        match str_of(node) {
            Some(s) => {
                let (line, column) = pos(node);
                Some(Spanned {
                    value: s.to_string(),
                    line,
                    column,
                })
            }
            None => {
                self.error(
                    node,
                    format!("{what} must be a string, found {}", kind(node)),
                );
                None
            }
        }
    }

    fn uint(&mut self, node: &MarkedYaml, what: &str) -> Option<u64> {
        match &node.data {
            YamlData::Value(Scalar::Integer(i)) if *i >= 0 => Some(*i as u64),
            _ => {
                self.error(
                    node,
                    format!(
                        "{what} must be a non-negative integer, found {}",
                        kind(node)
                    ),
                );
                None
            }
        }
    }

    fn name(&mut self, node: &MarkedYaml, what: &str) -> Option<Spanned<String>> {
        let s = self.string(node, what)?;
        let ok = !s.value.is_empty()
            && s.value.len() <= NAME_MAX
            && s.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
        if ok {
            Some(s)
        } else {
            self.error(
                node,
                format!(
                    "{what} `{}` must be 1-{NAME_MAX} characters of letters, digits and - _ . : /",
                    s.value
                ),
            );
            None
        }
    }

    fn lock(&mut self, node: &MarkedYaml) -> Option<Pos> {
        let s = self.string(node, "`lock`")?;
        if s.value != "until-reboot" {
            self.error(
                node,
                format!(
                    "unknown lock `{}` (the one lock is `until-reboot`: the file's rules stay enforced, unchanged, until the machine restarts)",
                    s.value
                ),
            );
            return None;
        }
        Some(Pos {
            file: self.file.to_string(),
            line: s.line,
            column: s.column,
        })
    }

    fn mode(&mut self, node: &MarkedYaml) -> Option<Spanned<Mode>> {
        let s = self.string(node, "`mode`")?;
        let value = match s.value.as_str() {
            "enforce" => Mode::Enforce,
            "monitor" => Mode::Monitor,
            other => {
                self.error(
                    node,
                    format!("unknown mode `{other}` (expected enforce or monitor)"),
                );
                return None;
            }
        };
        Some(Spanned {
            value,
            line: s.line,
            column: s.column,
        })
    }

    /// `loadpin: {root: /abs/path}`.
    fn loadpin(&mut self, node: &MarkedYaml) -> Option<Loadpin> {
        let entries = self.mapping(node, "`loadpin`", &["root"])?;
        let Some((_, root)) = entries.first() else {
            self.error(
                node,
                "`loadpin` needs `root`: a path on the file system to pin".into(),
            );
            return None;
        };
        let root = self.string(root, "`loadpin.root`")?;
        if !root.value.starts_with('/') {
            self.error_at(
                root.line,
                root.column,
                format!(
                    "`loadpin.root` must be an absolute path, found `{}`",
                    root.value
                ),
            );
            return None;
        }
        Some(Loadpin {
            root,
            file: self.file.to_string(),
        })
    }

    fn value(&mut self, node: &MarkedYaml) -> Option<Spanned<Value>> {
        let (line, column) = pos(node);
        let value = match &node.data {
            YamlData::Value(Scalar::String(s)) => Value::Str(s.to_string()),
            YamlData::Representation(s, _, _) => Value::Str(s.to_string()),
            YamlData::Value(Scalar::Integer(i)) if *i >= 0 => Value::Int(*i as u64),
            YamlData::Value(Scalar::Boolean(b)) => Value::Bool(*b),
            _ => {
                self.error(
                    node,
                    format!(
                        "a value must be a string, a non-negative integer or a boolean, found {}",
                        kind(node)
                    ),
                );
                return None;
            }
        };
        Some(Spanned {
            value,
            line,
            column,
        })
    }

    fn values(&mut self, node: &MarkedYaml) -> Vec<Spanned<Value>> {
        match &node.data {
            YamlData::Sequence(items) => {
                if items.is_empty() {
                    self.error(node, "an empty list matches nothing".into());
                }
                items.iter().filter_map(|i| self.value(i)).collect()
            }
            _ => self.value(node).into_iter().collect(),
        }
    }

    fn lists(&mut self, node: &MarkedYaml, out: &mut Vec<NamedList>) {
        let Some(entries) = self.mapping(node, "`lists`", &[]) else {
            return;
        };
        for (key, v) in entries {
            let key_node_name = Spanned {
                value: key.value.to_string(),
                line: key.line,
                column: key.column,
            };
            // A list, or a mapping from each entry to a note that events
            // matching it carry (`HASH: CVE-2021-4034 pkexec`).
            let (values, notes) = match &v.data {
                YamlData::Sequence(_) => (self.values(v), Vec::new()),
                YamlData::Mapping(map) => {
                    if map.is_empty() {
                        self.error(v, "an empty list matches nothing".into());
                    }
                    let mut values = Vec::new();
                    let mut notes = Vec::new();
                    for (k, n) in map.iter() {
                        let Some(value) = self.value(k) else { continue };
                        match str_of(n) {
                            Some(note) => notes.push((value.value.to_string(), note.to_string())),
                            None => self.error(
                                n,
                                format!(
                                    "the note of a list entry must be a string, found {}",
                                    kind(n)
                                ),
                            ),
                        }
                        values.push(value);
                    }
                    (values, notes)
                }
                _ => {
                    self.error(
                        v,
                        format!(
                            "list `{}` must be a list (or a mapping of entries to notes), found {}",
                            key.value,
                            kind(v)
                        ),
                    );
                    continue;
                }
            };
            out.push(NamedList {
                name: key_node_name,
                values,
                notes,
                file: self.file.to_string(),
            });
        }
    }

    fn macros(&mut self, node: &MarkedYaml, out: &mut Vec<MacroDef>) {
        let Some(entries) = self.mapping(node, "`macros`", &[]) else {
            return;
        };
        for (key, v) in entries {
            if let Some(cond) = self.cond(v) {
                out.push(MacroDef {
                    name: Spanned {
                        value: key.value.to_string(),
                        line: key.line,
                        column: key.column,
                    },
                    cond,
                    file: self.file.to_string(),
                });
            }
        }
    }

    fn action(&mut self, node: &MarkedYaml) -> Option<Spanned<Action>> {
        let (line, column) = pos(node);
        let action = if let Some(s) = str_of(node) {
            match s {
                "audit" => Action::Audit,
                "deny" => Action::Deny,
                "kill" => Action::Kill,
                "taint" => {
                    self.error(
                        node,
                        "`taint` needs a label: `action: {taint: LABEL}`".into(),
                    );
                    return None;
                }
                other => {
                    self.error(node, format!("unknown action `{other}` (expected audit, deny, kill or {{taint: LABEL}})"));
                    return None;
                }
            }
        } else {
            let entries = self.mapping(node, "`action`", &["taint"])?;
            let (_, label_node) = entries.first().copied().or_else(|| {
                self.error(node, "`action` mapping needs `taint: LABEL`".into());
                None
            })?;
            let label = self.name(label_node, "taint label")?;
            Action::Taint(label.value)
        };
        Some(Spanned {
            value: action,
            line,
            column,
        })
    }

    fn rule(&mut self, node: &MarkedYaml) -> Option<Rule> {
        let entries = self.mapping(node, "a rule", RULE_KEYS)?;
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.value == key)
                .map(|(_, v)| *v)
        };
        let errors_before = self.diags.len();
        let need = |p: &mut Self, key: &str, article: &str| -> Option<&MarkedYaml> {
            let v = get(key);
            if v.is_none() {
                p.error(node, format!("a rule needs {article} `{key}`"));
            }
            v
        };

        let name = need(self, "name", "a").and_then(|n| self.name(n, "rule name"));
        let hook = need(self, "hook", "a").and_then(|h| {
            let s = self.string(h, "`hook`")?;
            match Hook::from_name(&s.value) {
                Some(hook) => Some(Spanned {
                    value: hook,
                    line: s.line,
                    column: s.column,
                }),
                None => {
                    let near = Hook::ALL
                        .iter()
                        .map(|k| k.name())
                        .min_by_key(|k| crate::fields::edit_distance(k, &s.value))
                        .filter(|k| crate::fields::edit_distance(k, &s.value) <= 3);
                    let hint = near
                        .map(|n| format!("; did you mean `{n}`?"))
                        .unwrap_or_default();
                    self.error(
                        h,
                        format!("unknown hook `{}` (see `krsi policy hooks`){hint}", s.value),
                    );
                    None
                }
            }
        });
        let action = need(self, "action", "an").and_then(|a| self.action(a));
        let message = get("message")
            .and_then(|m| self.string(m, "`message`"))
            .map(|s| s.value);
        let severity = get("severity").and_then(|s| {
            let v = self.string(s, "`severity`")?;
            let sev = Severity::from_name(&v.value);
            if sev.is_none() {
                self.error(
                    s,
                    format!(
                        "unknown severity `{}` (expected {})",
                        v.value,
                        Severity::NAMES.join(", ")
                    ),
                );
            }
            sev
        });
        let tags = match get("tags") {
            Some(t) => match &t.data {
                YamlData::Sequence(items) => items
                    .iter()
                    .filter_map(|i| self.string(i, "a tag").map(|s| s.value))
                    .collect(),
                _ => {
                    self.error(t, format!("`tags` must be a list, found {}", kind(t)));
                    vec![]
                }
            },
            None => vec![],
        };
        let mode = get("mode").and_then(|m| self.mode(m)).map(|m| m.value);
        let rate_limit = get("rate_limit").and_then(|r| self.rate_limit(r));
        let errno = get("errno").and_then(|e| self.errno(e, action.as_ref(), hook.as_ref()));
        let cond = get("match").and_then(|m| self.cond(m));
        if let (Some(a), None) = (&action, get("match")) {
            if matches!(a.value, Action::Deny | Action::Kill) {
                self.error_at(
                    a.line,
                    a.column,
                    format!(
                        "a {} rule needs a `match` (acting on every call would stop the host)",
                        a.value.name()
                    ),
                );
            }
        }
        if self.diags.len() > errors_before {
            return None;
        }
        Some(Rule {
            name: name?,
            hook: hook?,
            action: action?,
            cond,
            message,
            severity,
            tags,
            mode,
            rate_limit,
            errno,
            file: self.file.to_string(),
        })
    }

    /// `errno: NAME`: only where a call can fail with it.
    fn errno(
        &mut self,
        node: &MarkedYaml,
        action: Option<&Spanned<Action>>,
        hook: Option<&Spanned<Hook>>,
    ) -> Option<Spanned<Errno>> {
        let s = self.string(node, "`errno`")?;
        let Some(value) = Errno::from_name(&s.value) else {
            let names: Vec<&str> = Errno::ALL.iter().map(|e| e.name).collect();
            self.error(
                node,
                format!(
                    "unknown errno `{}` (expected one of: {})",
                    s.value,
                    names.join(", ")
                ),
            );
            return None;
        };
        if let Some(a) = action {
            if !matches!(a.value, Action::Deny | Action::Kill) {
                self.error(
                    node,
                    format!(
                        "`errno` is for deny and kill rules: {} rules never fail the call",
                        a.value.name()
                    ),
                );
                return None;
            }
        }
        let why = match hook.map(|h| h.value) {
            Some(Hook::BprmCommittedCreds) => {
                Some("the exec is past its point of no return there: nothing can fail it")
            }
            Some(Hook::Capable) => Some(
                "a capability check answers yes or no: its callers choose the error they return",
            ),
            _ => None,
        };
        if let (Some(why), Some(h)) = (why, hook) {
            self.error(
                node,
                format!("`errno` has no effect on `{}`: {why}", h.value),
            );
            return None;
        }
        Some(Spanned {
            value,
            line: s.line,
            column: s.column,
        })
    }

    fn rate_limit(&mut self, node: &MarkedYaml) -> Option<RateLimit> {
        let entries = self.mapping(node, "`rate_limit`", &["events", "per_seconds"])?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.value == k)
                .map(|(_, v)| *v)
        };
        let (Some(e), Some(s)) = (get("events"), get("per_seconds")) else {
            self.error(node, "`rate_limit` needs `events` and `per_seconds`".into());
            return None;
        };
        let events = self.uint(e, "`events`")?;
        let per = self.uint(s, "`per_seconds`")?;
        if events == 0 || per == 0 || events > u32::MAX as u64 || per > 86400 {
            self.error(
                node,
                "`rate_limit` needs 1 <= events <= 2^32-1 and 1 <= per_seconds <= 86400".into(),
            );
            return None;
        }
        Some(RateLimit {
            events: events as u32,
            per_seconds: per as u32,
        })
    }

    fn cond(&mut self, node: &MarkedYaml) -> Option<Cond> {
        if self.depth >= MAX_DEPTH {
            self.error(
                node,
                format!("condition nested deeper than {MAX_DEPTH} levels"),
            );
            return None;
        }
        self.depth += 1;
        let r = self.cond_inner(node);
        self.depth -= 1;
        r
    }

    fn cond_list(&mut self, node: &MarkedYaml, what: &str) -> Option<Vec<Cond>> {
        let YamlData::Sequence(items) = &node.data else {
            self.error(
                node,
                format!("`{what}` takes a list of conditions, found {}", kind(node)),
            );
            return None;
        };
        if items.is_empty() {
            self.error(node, format!("`{what}` needs at least one condition"));
            return None;
        }
        let parts: Vec<Option<Cond>> = items.iter().map(|i| self.cond(i)).collect();
        parts.into_iter().collect()
    }

    fn cond_inner(&mut self, node: &MarkedYaml) -> Option<Cond> {
        let entries = self.mapping(node, "a condition", &[])?;
        if entries.is_empty() {
            self.error(
                node,
                "an empty condition: name a field, or all/any/not/macro".into(),
            );
            return None;
        }
        let mut parts = Vec::new();
        let mut ok = true;
        for (key, v) in entries {
            let part = match key.value {
                "all" => self.cond_list(v, "all").map(Cond::All),
                "any" => self.cond_list(v, "any").map(Cond::Any),
                "not" => self.cond(v).map(|c| Cond::Not(Box::new(c))),
                "macro" => self.string(v, "`macro`").map(Cond::Macro),
                field => self.cmp(key.line, key.column, field, v).map(Cond::Cmp),
            };
            match part {
                Some(p) => parts.push(p),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Cond::All(parts)
        })
    }

    fn cmp(&mut self, line: usize, column: usize, field: &str, v: &MarkedYaml) -> Option<Cmp> {
        debug_assert!(!COND_KEYS.contains(&field));
        let field = Spanned {
            value: field.to_string(),
            line,
            column,
        };
        let at = Pos {
            file: self.file.to_string(),
            line,
            column,
        };
        // Shorthands: a scalar is `equal`, a list is `in`.
        match &v.data {
            YamlData::Sequence(_) => {
                let values = self.values(v);
                return Some(Cmp {
                    field,
                    op: Op::In,
                    values,
                    list: None,
                    pos: at,
                });
            }
            YamlData::Mapping(_) => {}
            _ => {
                let values: Vec<_> = self.value(v).into_iter().collect();
                if values.is_empty() {
                    return None;
                }
                return Some(Cmp {
                    field,
                    op: Op::Equal,
                    values,
                    list: None,
                    pos: at,
                });
            }
        }
        let ops: Vec<&str> = crate::fields::Op::ALL.iter().map(|o| o.name()).collect();
        let before = self.diags.len();
        let entries = self.mapping(v, &format!("the comparison on `{}`", field.value), &ops)?;
        if entries.is_empty() && self.diags.len() > before {
            return None; // the unknown operator was reported
        }
        if entries.len() != 1 {
            self.error(
                v,
                "a comparison takes exactly one operator (combine several with `all`/`any`)".into(),
            );
            return None;
        }
        let (op_name, operand) = (entries[0].0, entries[0].1);
        let op = Op::from_name(op_name.value).expect("filtered by mapping()");
        if op == Op::In {
            if let Some(list) = str_of(operand) {
                let (l, c) = pos(operand);
                return Some(Cmp {
                    field,
                    op,
                    values: vec![],
                    list: Some(Spanned {
                        value: list.to_string(),
                        line: l,
                        column: c,
                    }),
                    pos: at,
                });
            }
            if !matches!(operand.data, YamlData::Sequence(_)) {
                self.error(
                    operand,
                    format!(
                        "`in` takes a list or the name of a list, found {}",
                        kind(operand)
                    ),
                );
                return None;
            }
        }
        let values = self.values(operand);
        if values.is_empty() {
            return None;
        }
        Some(Cmp {
            field,
            op,
            values,
            list: None,
            pos: at,
        })
    }
}

/// Reads a policy file or a directory of `*.yaml`/`*.yml` files (sorted by name).
pub fn parse_file(path: &Path) -> Result<Policy, PolicyError> {
    let mut diags = Vec::new();
    let mut files = Vec::new();
    if path.is_dir() {
        let mut entries: Vec<_> = match std::fs::read_dir(path) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml") && p.is_file())
                .collect(),
            Err(e) => {
                return Err(PolicyError {
                    diagnostics: vec![Diagnostic {
                        file: path.display().to_string(),
                        line: 1,
                        column: 1,
                        severity: DiagSeverity::Error,
                        message: format!("cannot read policy directory: {e}"),
                    }],
                })
            }
        };
        entries.sort();
        if entries.is_empty() {
            diags.push(Diagnostic {
                file: path.display().to_string(),
                line: 1,
                column: 1,
                severity: DiagSeverity::Error,
                message: "no *.yaml policy files in this directory".into(),
            });
        }
        for p in entries {
            match read(&p) {
                Ok(text) => files.push(parse_text(&p.display().to_string(), &text, &mut diags)),
                Err(d) => diags.push(d),
            }
        }
    } else {
        match read(path) {
            Ok(text) => files.push(parse_text(&path.display().to_string(), &text, &mut diags)),
            Err(d) => diags.push(d),
        }
    }
    let policy = assemble(&path.display().to_string(), files, &mut diags);
    crate::check::finish(policy, diags)
}

/// Parses policy text; `source` names it in diagnostics.
pub fn parse_str(source: &str, text: &str) -> Result<Policy, PolicyError> {
    let mut diags = Vec::new();
    let file = parse_text(source, text, &mut diags);
    let policy = assemble(source, vec![file], &mut diags);
    crate::check::finish(policy, diags)
}
