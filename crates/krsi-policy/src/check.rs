//! Meaning: names are unique, lists and macros exist (and macros do not
//! recurse), every field exists on the rule's hook, and every operator and
//! value fits the field's type. Produces the resolved condition trees the
//! compiler works from.
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::diag::{Diagnostic, PolicyError, Severity as DiagSeverity};
use crate::fields::{self, Field, FieldType, Op};
use crate::model::{Action, Cmp, Cond, Hook, Policy, Pos, Rule, Spanned, Value};

/// A condition with macros expanded, lists inlined and fields resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Resolved),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub field: &'static Field,
    pub op: Op,
    pub values: Vec<Value>,
    pub pos: Pos,
}

struct Ctx<'p> {
    policy: &'p Policy,
    lists: HashMap<&'p str, usize>,
    macros: HashMap<&'p str, usize>,
    used_lists: HashSet<&'p str>,
    used_macros: HashSet<&'p str>,
    diags: Vec<Diagnostic>,
}

fn diag(
    file: &str,
    line: usize,
    column: usize,
    severity: DiagSeverity,
    message: String,
) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line,
        column,
        severity,
        message,
    }
}

impl<'p> Ctx<'p> {
    fn err(&mut self, file: &str, line: usize, column: usize, message: String) {
        self.diags
            .push(diag(file, line, column, DiagSeverity::Error, message));
    }

    fn resolve(
        &mut self,
        hook: Hook,
        cond: &'p Cond,
        file: &'p str,
        stack: &mut Vec<&'p str>,
    ) -> Option<Expr> {
        match cond {
            Cond::All(cs) => self.resolve_all(hook, cs, file, stack).map(Expr::All),
            Cond::Any(cs) => self.resolve_all(hook, cs, file, stack).map(Expr::Any),
            Cond::Not(c) => self
                .resolve(hook, c, file, stack)
                .map(|e| Expr::Not(Box::new(e))),
            Cond::Macro(name) => self.macro_ref(hook, name, file, stack),
            Cond::Cmp(cmp) => self.cmp(hook, cmp),
        }
    }

    fn resolve_all(
        &mut self,
        hook: Hook,
        cs: &'p [Cond],
        file: &'p str,
        stack: &mut Vec<&'p str>,
    ) -> Option<Vec<Expr>> {
        let out: Vec<Option<Expr>> = cs
            .iter()
            .map(|c| self.resolve(hook, c, file, stack))
            .collect();
        out.into_iter().collect()
    }

    fn macro_ref(
        &mut self,
        hook: Hook,
        name: &'p Spanned<String>,
        file: &'p str,
        stack: &mut Vec<&'p str>,
    ) -> Option<Expr> {
        let Some(&idx) = self.macros.get(name.value.as_str()) else {
            let near = self
                .macros
                .keys()
                .min_by_key(|k| fields::edit_distance(k, &name.value))
                .filter(|k| fields::edit_distance(k, &name.value) <= 3)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            self.err(
                file,
                name.line,
                name.column,
                format!("unknown macro `{}`{near}", name.value),
            );
            return None;
        };
        self.used_macros.insert(&self.policy.macros[idx].name.value);
        if stack.contains(&name.value.as_str()) {
            let mut cycle: Vec<&str> = stack
                .iter()
                .skip_while(|m| **m != name.value)
                .copied()
                .collect();
            cycle.push(&name.value);
            self.err(
                file,
                name.line,
                name.column,
                format!("macro cycle: {}", cycle.join(" -> ")),
            );
            return None;
        }
        let m = &self.policy.macros[idx];
        stack.push(&m.name.value);
        let r = self.resolve(hook, &m.cond, &m.file, stack);
        stack.pop();
        r
    }

    fn cmp(&mut self, hook: Hook, cmp: &'p Cmp) -> Option<Expr> {
        let file = cmp.pos.file.as_str();
        let Some(field) = fields::lookup(hook, &cmp.field.value) else {
            let hint = fields::suggest(hook, &cmp.field.value)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            self.err(
                file,
                cmp.field.line,
                cmp.field.column,
                format!(
                    "field `{}` is not available on hook `{hook}` (see `krsi policy hooks`){hint}",
                    cmp.field.value
                ),
            );
            return None;
        };
        if !field.ty.ops().contains(&cmp.op) {
            let ops: Vec<&str> = field.ty.ops().iter().map(|o| o.name()).collect();
            self.err(
                file,
                cmp.field.line,
                cmp.field.column,
                format!(
                    "operator `{}` does not apply to `{}`, a {} (use one of: {})",
                    cmp.op.name(),
                    field.name,
                    field.ty.describe(),
                    ops.join(", ")
                ),
            );
            return None;
        }
        let values: Vec<Spanned<Value>> = match &cmp.list {
            Some(list) => match self.lists.get(list.value.as_str()) {
                Some(&i) => {
                    self.used_lists.insert(&self.policy.lists[i].name.value);
                    self.policy.lists[i].values.clone()
                }
                None => {
                    self.err(
                        file,
                        list.line,
                        list.column,
                        format!("unknown list `{}`", list.value),
                    );
                    return None;
                }
            },
            None => cmp.values.clone(),
        };
        let single = matches!(cmp.op, Op::Equal | Op::Lt | Op::Le | Op::Gt | Op::Ge);
        if single && values.len() != 1 {
            self.err(
                file,
                cmp.field.line,
                cmp.field.column,
                format!(
                    "`{}` takes one value, found {} (use `in` for several)",
                    cmp.op.name(),
                    values.len()
                ),
            );
            return None;
        }
        let before = self.diags.len();
        for v in &values {
            // A list's values are reported where the list writes them.
            let vfile = match &cmp.list {
                Some(l) => self.policy.lists[self.lists[l.value.as_str()]]
                    .file
                    .as_str(),
                None => file,
            };
            if let Err(msg) = check_value(field, cmp.op, &v.value) {
                self.err(vfile, v.line, v.column, msg);
            }
        }
        if self.diags.len() > before {
            return None;
        }
        Some(Expr::Cmp(Resolved {
            field,
            op: cmp.op,
            values: values.into_iter().map(|v| v.value).collect(),
            pos: cmp.pos.clone(),
        }))
    }
}

/// Whether `value` fits `field` under `op`; the error says why not.
pub fn check_value(field: &Field, op: Op, value: &Value) -> Result<(), String> {
    let name = field.name;
    let want = |what: &str| Err(format!("`{name}` compares with {what}, found `{value}`"));
    match (field.ty, value) {
        (FieldType::Int, Value::Int(_)) => Ok(()),
        (FieldType::Int, _) => want("an integer"),
        (FieldType::Bool, Value::Bool(_)) => Ok(()),
        (FieldType::Bool, _) => want("true or false"),
        (FieldType::Flags(names) | FieldType::Enum(names), Value::Str(s)) => {
            if names.contains(&s.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "`{s}` is not a value of `{name}` (expected one of: {})",
                    names.join(", ")
                ))
            }
        }
        (FieldType::Flags(_) | FieldType::Enum(_), _) => want("a name"),
        (FieldType::Addr, Value::Str(s)) => match op {
            Op::Cidr => parse_cidr(s).map(|_| ()),
            _ => s
                .parse::<IpAddr>()
                .map(|_| ())
                .map_err(|_| format!("`{s}` is not an IP address")),
        },
        (FieldType::Addr, _) => want("an IP address"),
        (FieldType::Path | FieldType::Str | FieldType::StrList, Value::Str(s)) => {
            if s.contains('\0') {
                return Err("a value must not contain NUL".into());
            }
            match op {
                Op::Glob => check_glob(s),
                Op::Equal | Op::In | Op::Prefix
                    if field.ty == FieldType::Path && !s.starts_with('/') =>
                {
                    Err(format!("path `{s}` must be absolute"))
                }
                _ if s.is_empty() => Err("an empty string matches nothing useful".into()),
                _ => Ok(()),
            }
        }
        (FieldType::Path | FieldType::Str | FieldType::StrList, _) => want("a string"),
        (FieldType::Digest, Value::Str(s)) if is_sha256(s) => Ok(()),
        (FieldType::Digest, _) => want("SHA-256 digests (64 hex digits, as `krsi hash` prints)"),
    }
}

/// 64 hex digits, either case.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `addr/len`, with the host bits zero.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("`{s}` is not a CIDR block (e.g. 10.0.0.0/8 or fd00::/8)");
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("`{s}`: prefix length {len} is longer than {max}"));
    }
    let bits: u128 = match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    let host = if len as u32 >= max as u32 {
        0
    } else {
        bits & ((1u128 << (max - len)) - 1)
    };
    if host != 0 {
        return Err(format!("`{s}` has host bits set after /{len}"));
    }
    Ok((addr, len))
}

/// Globs: `*` (not across `/` in paths), `?`, `[...]` classes, `\` escapes.
pub fn check_glob(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("an empty glob".into());
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // The guard consumes the escaped character.
            '\\' if chars.next().is_none() => {
                return Err(format!("glob `{s}` ends with a lone `\\`"));
            }
            '[' => {
                let mut n = 0;
                loop {
                    match chars.next() {
                        Some(']') if n > 0 => break,
                        Some(_) => n += 1,
                        None => return Err(format!("glob `{s}` has an unclosed `[`")),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn dup_check<'a>(
    items: impl Iterator<Item = (&'a Spanned<String>, &'a str)>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&str, (&str, usize, usize)> = HashMap::new();
    for (name, file) in items {
        if let Some((f, l, c)) = seen.get(name.value.as_str()) {
            diags.push(diag(
                file,
                name.line,
                name.column,
                DiagSeverity::Error,
                format!(
                    "duplicate {what} name `{}` (first defined at {f}:{l}:{c})",
                    name.value
                ),
            ));
        } else {
            seen.insert(&name.value, (file, name.line, name.column));
        }
    }
}

/// Resolves one rule's condition; `None` when it has none. Only call on a
/// policy that passed [`finish`].
pub fn resolve(policy: &Policy, rule: &Rule) -> Option<Expr> {
    let mut ctx = Ctx::new(policy);
    let cond = rule.cond.as_ref()?;
    ctx.resolve(rule.hook.value, cond, &rule.file, &mut Vec::new())
}

impl<'p> Ctx<'p> {
    fn new(policy: &'p Policy) -> Self {
        Ctx {
            policy,
            lists: policy
                .lists
                .iter()
                .enumerate()
                .map(|(i, l)| (l.name.value.as_str(), i))
                .collect(),
            macros: policy
                .macros
                .iter()
                .enumerate()
                .map(|(i, m)| (m.name.value.as_str(), i))
                .collect(),
            used_lists: HashSet::new(),
            used_macros: HashSet::new(),
            diags: Vec::new(),
        }
    }
}

/// The semantic pass over a parsed policy; `diags` holds the parse errors.
pub(crate) fn finish(policy: Policy, mut diags: Vec<Diagnostic>) -> Result<Policy, PolicyError> {
    dup_check(
        policy.rules.iter().map(|r| (&r.name, r.file.as_str())),
        "rule",
        &mut diags,
    );
    dup_check(
        policy.lists.iter().map(|l| (&l.name, l.file.as_str())),
        "list",
        &mut diags,
    );
    dup_check(
        policy.macros.iter().map(|m| (&m.name, m.file.as_str())),
        "macro",
        &mut diags,
    );

    let mut ctx = Ctx::new(&policy);
    let tainted: HashSet<&str> = policy
        .rules
        .iter()
        .filter_map(|r| match &r.action.value {
            Action::Taint(l) => Some(l.as_str()),
            _ => None,
        })
        .collect();
    for rule in &policy.rules {
        if let Some(cond) = &rule.cond {
            if let Some(expr) = ctx.resolve(rule.hook.value, cond, &rule.file, &mut Vec::new()) {
                warn_unset_taints(&expr, &tainted, &mut ctx.diags);
            }
        }
    }
    // Macros no rule uses are still checked (on no particular hook, for cycles).
    for m in &policy.macros {
        if !ctx.used_macros.contains(m.name.value.as_str()) {
            ctx.diags.push(diag(
                &m.file,
                m.name.line,
                m.name.column,
                DiagSeverity::Warning,
                format!("macro `{}` is never used", m.name.value),
            ));
        }
    }
    for l in &policy.lists {
        if !ctx.used_lists.contains(l.name.value.as_str()) {
            ctx.diags.push(diag(
                &l.file,
                l.name.line,
                l.name.column,
                DiagSeverity::Warning,
                format!("list `{}` is never used", l.name.value),
            ));
        }
    }
    diags.extend(ctx.diags);
    // A macro used by several rules reports its problem once.
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert(d.clone()));
    if diags.iter().any(|d| d.severity == DiagSeverity::Error) {
        diags.retain(|d| d.severity == DiagSeverity::Error);
        return Err(PolicyError::sorted(diags));
    }
    let mut policy = policy;
    policy.warnings = diags;
    Ok(policy)
}

fn warn_unset_taints(expr: &Expr, tainted: &HashSet<&str>, diags: &mut Vec<Diagnostic>) {
    match expr {
        Expr::All(es) | Expr::Any(es) => {
            es.iter().for_each(|e| warn_unset_taints(e, tainted, diags))
        }
        Expr::Not(e) => warn_unset_taints(e, tainted, diags),
        Expr::Cmp(r) if r.field.name == "process.taint" => {
            for v in &r.values {
                if let Value::Str(l) = v {
                    if !tainted.contains(l.as_str()) {
                        diags.push(diag(
                            &r.pos.file,
                            r.pos.line,
                            r.pos.column,
                            DiagSeverity::Warning,
                            format!("no rule sets taint `{l}`"),
                        ));
                    }
                }
            }
        }
        Expr::Cmp(_) => {}
    }
}
