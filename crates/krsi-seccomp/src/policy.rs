//! The parsed form of a policy, shared by the minijail parser, the OCI importer and
//! the compiler.
use std::collections::BTreeMap;

use crate::{Action, Arch};

/// A comparison applied to one 64-bit syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq(u64),
    Ne(u64),
    Lt(u64),
    Le(u64),
    Gt(u64),
    Ge(u64),
    /// minijail `&`: passes when `(arg & mask) != 0`.
    AnyBits(u64),
    /// `(arg & mask) == value`: minijail `in` is `MaskedEq(!mask, 0)`; OCI
    /// `SCMP_CMP_MASKED_EQ` maps here directly.
    MaskedEq {
        mask: u64,
        value: u64,
    },
}

impl Op {
    /// Evaluates the comparison (the reference semantics the compiler must match).
    pub fn eval(self, arg: u64) -> bool {
        match self {
            Op::Eq(v) => arg == v,
            Op::Ne(v) => arg != v,
            Op::Lt(v) => arg < v,
            Op::Le(v) => arg <= v,
            Op::Gt(v) => arg > v,
            Op::Ge(v) => arg >= v,
            Op::AnyBits(m) => arg & m != 0,
            Op::MaskedEq { mask, value } => arg & mask == value,
        }
    }
}

/// `argN OP value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Atom {
    pub arg: u8,
    pub op: Op,
}

/// One filter: when `expr` (a disjunction of conjunctions) holds, `action` applies.
/// `expr == None` is unconditional.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Filter {
    pub expr: Option<Vec<Vec<Atom>>>,
    pub action: Action,
}

impl Filter {
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        match &self.expr {
            None => true,
            Some(dnf) => dnf
                .iter()
                .any(|clause| clause.iter().all(|a| a.op.eval(args[a.arg as usize]))),
        }
    }
}

/// The filters for one syscall, tried in order; the last one is unconditional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub nr: u32,
    pub filters: Vec<Filter>,
}

impl Rule {
    /// The action these filters choose for `args`.
    pub fn action(&self, args: &[u64; 6]) -> Action {
        self.filters
            .iter()
            .find(|f| f.matches(args))
            .map_or(Action::KillProcess, |f| f.action)
    }
}

/// A whole policy for one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub arch: Arch,
    /// Action for syscalls without a rule.
    pub default_action: Action,
    /// Rules in order of first appearance, one per syscall number.
    pub rules: Vec<Rule>,
    /// Weights from `@frequency` files, by syscall number.
    pub frequencies: BTreeMap<u32, u64>,
    pub denylist: bool,
}

impl Policy {
    /// Reference semantics for syscall `nr` (a valid number for this arch, not x32)
    /// with `args`: what the compiled filter must return.
    pub fn action(&self, nr: u32, args: &[u64; 6]) -> Action {
        self.rules
            .iter()
            .find(|r| r.nr == nr)
            .map_or(self.default_action, |r| r.action(args))
    }

    /// Applies compile options that rewrite actions (`log_only`).
    pub fn map_actions(&mut self, f: impl Fn(Action) -> Action) {
        self.default_action = f(self.default_action);
        for rule in &mut self.rules {
            for filter in &mut rule.filters {
                filter.action = f(filter.action);
            }
        }
    }
}

fn render_atom(a: &Atom) -> Result<String, String> {
    let (op, v) = match a.op {
        Op::Eq(v) => ("==", v),
        Op::Ne(v) => ("!=", v),
        Op::Lt(v) => ("<", v),
        Op::Le(v) => ("<=", v),
        Op::Gt(v) => (">", v),
        Op::Ge(v) => (">=", v),
        Op::AnyBits(v) => ("&", v),
        Op::MaskedEq { mask, value: 0 } => ("in", !mask),
        Op::MaskedEq { mask, value } => {
            return Err(format!(
                "(arg{} & {mask:#x}) == {value:#x} has no minijail spelling",
                a.arg
            ))
        }
    };
    Ok(format!("arg{} {op} {v:#x}", a.arg))
}

fn render_action(a: Action) -> String {
    match a {
        Action::Errno(e) => format!("return {e}"),
        other => other.to_string(),
    }
}

impl Policy {
    /// Renders the policy in minijail syntax with the same meaning, using only the
    /// brace form (`{expr; action, ..., fallback}`), which minijail's C-free Python
    /// compiler and krsi read alike. Fails for OCI masked comparisons with a
    /// non-zero value.
    pub fn to_minijail(&self) -> Result<String, String> {
        let mut out = String::new();
        if self.denylist {
            out.push_str("@denylist\n");
        } else {
            out.push_str(&format!(
                "@default {}\n",
                render_action(self.default_action)
            ));
        }
        for rule in &self.rules {
            let mut parts = Vec::new();
            for f in &rule.filters {
                match &f.expr {
                    None => parts.push(render_action(f.action)),
                    Some(dnf) => {
                        let clauses = dnf
                            .iter()
                            .map(|c| {
                                c.iter()
                                    .map(render_atom)
                                    .collect::<Result<Vec<_>, _>>()
                                    .map(|v| v.join(" && "))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        parts.push(format!(
                            "{}; {}",
                            clauses.join(" || "),
                            render_action(f.action)
                        ));
                    }
                }
            }
            if parts.len() == 1 && rule.filters[0].expr.is_none() {
                out.push_str(&format!("{}: {}\n", rule.name, parts[0]));
            } else {
                out.push_str(&format!("{}: {{{}}}\n", rule.name, parts.join(", ")));
            }
        }
        Ok(out)
    }
}
