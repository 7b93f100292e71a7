//! The krsi policy language: parse a YAML policy, validate it with
//! `file:line:column` diagnostics, and compile it to the entries of the BPF
//! maps that the kernel programs consult.
//!
//! The language grows by issue; today a rule is a hook, an action and an
//! optional match on executable paths. Unknown keys are errors, so a policy
//! written for a later krsi fails loudly instead of silently doing less.

mod compile;
mod diag;
mod model;
mod parse;

pub use compile::{compile, CompiledPolicy, ExecEntry, Identity, RuleInfo};
pub use diag::{Diagnostic, PolicyError, Severity};
pub use model::{Action, Hook, Policy, Rule, Spanned};
pub use parse::{parse_file, parse_str};

/// The policy `krsi run` applies when given none: audit every exec.
pub const DEFAULT_POLICY: &str = include_str!("default.yaml");
/// The name diagnostics use for [`DEFAULT_POLICY`].
pub const DEFAULT_POLICY_NAME: &str = "<embedded default policy>";

/// Parse and compile arbitrary bytes, for fuzzing: must never panic.
pub fn fuzz_one(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    match parse_str("fuzz", text) {
        Ok(p) => compile(&p).is_ok(),
        Err(e) => {
            // Every diagnostic must point inside the input.
            let lines = text.lines().count().max(1) + 1;
            assert!(e
                .diagnostics
                .iter()
                .all(|d| d.line >= 1 && d.line <= lines && d.column >= 1));
            false
        }
    }
}
