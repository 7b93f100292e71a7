//! The krsi policy language: parse YAML policies (a file or a directory),
//! check them with `file:line:column` diagnostics, and compile them to the
//! entries of the BPF maps that the kernel programs consult.
//!
//! A policy has `rules` (hook, `match` condition, action), named `lists`
//! and `macros` (reusable conditions), and a `mode` (enforce or monitor).
//! Conditions combine field comparisons with `all`/`any`/`not`; the fields
//! of each hook and their types are in [`fields`]. Unknown keys, hooks,
//! fields and operators are errors, so a policy never silently does less
//! than it says.

mod check;
pub mod cli;
mod compile;
mod diag;
pub mod fields;
pub mod hash;
pub mod lock;
mod model;
mod parse;
pub mod schema;

pub use check::{check_glob, parse_cidr, resolve, Expr, Resolved};
pub use compile::{
    compile, compile_with_labels, Clause, CompiledPolicy, Glob, HookTable, Identity, KernelAction,
    LoadpinRoot, Pred, PredOp, RuleInfo, SetDef, MAX_CLAUSES, MAX_ENTRIES, MAX_RULES,
};
pub use diag::{Diagnostic, PolicyError, Severity as DiagSeverity};
pub use model::{
    Action, Cmp, Cond, Errno, Hook, Loadpin, MacroDef, Mode, NamedList, Policy, Pos, RateLimit,
    Rule, Severity, Spanned, Value, HOOK_ALIASES,
};
pub use parse::{parse_file, parse_str};

/// The policy `krsi run` applies when given none: audit every exec.
pub const DEFAULT_POLICY: &str = include_str!("default.yaml");
/// The name diagnostics use for [`DEFAULT_POLICY`].
pub const DEFAULT_POLICY_NAME: &str = "<embedded default policy>";

/// Parse, check and compile arbitrary bytes, for fuzzing: must never panic,
/// and every diagnostic must point inside the input.
pub fn fuzz_one(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match parse_str("fuzz", text) {
        Ok(p) => {
            for r in &p.rules {
                let _ = resolve(&p, r);
            }
            // As `krsi run` takes it: the locked part compiles on its own.
            if let Ok(split) = lock::split(p.clone(), false) {
                if let Some(l) = &split.locked {
                    let _ = lock::seal_id(l);
                    let _ = compile(l);
                }
            }
            compile(&p).is_ok()
        }
        Err(e) => {
            let lines = yaml_lines(text) + 1;
            for d in &e.diagnostics {
                assert!(
                    d.line >= 1 && d.line <= lines && d.column >= 1,
                    "diagnostic outside the input: {d}"
                );
            }
            false
        }
    }
}

/// Lines as YAML counts them: `\n`, `\r\n` and a lone `\r` each end one.
fn yaml_lines(text: &str) -> usize {
    let b = text.as_bytes();
    let breaks = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count();
    breaks + 1
}
