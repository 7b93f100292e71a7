//! `krsi policy ...`: check, explain, schema, hooks. The `krsi` binary only dispatches here.
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::compile::KernelAction;
use crate::diag::Severity as DiagSeverity;
use crate::fields::{self, FieldType};
use crate::model::{Hook, HOOK_ALIASES};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files (or directories); print each problem as file:line:column: message.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show what each rule compiles to: hooks, maps and entries.
    Explain { path: PathBuf },
    /// Print the JSON Schema of the policy language (for editors).
    Schema,
    /// List the hooks, their aliases and the fields rules can match on each.
    Hooks(HooksArgs),
}

#[derive(Debug, Args)]
pub struct HooksArgs {
    /// Only this hook (name or alias).
    pub hook: Option<String>,
}

fn print_diags(diags: &[crate::Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}");
    }
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<i32> {
    match cmd {
        PolicyCommand::Check { paths } => {
            let mut failed = false;
            for path in paths {
                let result =
                    crate::parse_file(&path).and_then(|p| crate::compile(&p).map(|c| (p, c)));
                match result {
                    Ok((p, c)) => {
                        print_diags(&c.warnings);
                        println!(
                            "{}: ok: {} rules, {} lists, {} macros{}",
                            path.display(),
                            p.rules.len(),
                            p.lists.len(),
                            p.macros.len(),
                            if c.warnings.is_empty() {
                                String::new()
                            } else {
                                format!(", {} warnings", c.warnings.len())
                            }
                        );
                    }
                    Err(e) => {
                        failed = true;
                        print_diags(&e.diagnostics);
                        let n = e
                            .diagnostics
                            .iter()
                            .filter(|d| d.severity == DiagSeverity::Error)
                            .count();
                        println!(
                            "{}: {n} error{}",
                            path.display(),
                            if n == 1 { "" } else { "s" }
                        );
                    }
                }
            }
            Ok(if failed { 1 } else { 0 })
        }
        PolicyCommand::Explain { path } => {
            let p = match crate::parse_file(&path) {
                Ok(p) => p,
                Err(e) => {
                    print_diags(&e.diagnostics);
                    return Ok(1);
                }
            };
            let c = match crate::compile(&p) {
                Ok(c) => c,
                Err(e) => {
                    print_diags(&e.diagnostics);
                    return Ok(1);
                }
            };
            print_diags(&c.warnings);
            println!(
                "policy {} (mode {}): {} rules",
                c.source,
                p.mode.name(),
                c.rules.len()
            );
            for (i, r) in c.rules.iter().enumerate() {
                println!(
                    "rule #{i} {}: hook {} ({}), action {}, mode {}{}",
                    r.name,
                    r.hook,
                    program_for(r.hook),
                    r.action.name(),
                    r.mode.name(),
                    r.severity
                        .map(|s| format!(", severity {}", s.name()))
                        .unwrap_or_default()
                );
                if c.exec_audit_rule == Some(i as u32) {
                    println!("  krsi_slot_config[slot].exec_audit_rule = {i}   (every exec)");
                }
                for e in c.exec_entries.iter().filter(|e| e.rule == i as u32) {
                    let path = r
                        .resolved
                        .iter()
                        .find(|(_, id)| *id == e.identity)
                        .map(|(p, _)| p.as_str())
                        .unwrap_or("");
                    let action = match e.action {
                        KernelAction::Audit => "audit",
                        KernelAction::Deny => "deny",
                        KernelAction::WouldDeny => "would_deny",
                    };
                    println!(
                        "  krsi_exec_rules[{{slot, dev {}:{}, ino {}}}] = {{rule {i}, {action}}}   {path}",
                        e.identity.dev >> 20,
                        e.identity.dev & 0xfffff,
                        e.identity.ino
                    );
                }
                for (p, id) in &r.resolved {
                    if !c
                        .exec_entries
                        .iter()
                        .any(|e| e.rule == i as u32 && e.identity == *id)
                    {
                        println!("  {p}: same file as an entry of a stronger or earlier rule");
                    }
                }
            }
            Ok(0)
        }
        PolicyCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::schema::schema())?
            );
            Ok(0)
        }
        PolicyCommand::Hooks(args) => {
            let hooks: Vec<Hook> = match &args.hook {
                Some(h) => match Hook::from_name(h) {
                    Some(h) => vec![h],
                    None => anyhow::bail!("unknown hook `{h}`"),
                },
                None => Hook::ALL.to_vec(),
            };
            for h in hooks {
                let aliases: Vec<&str> = HOOK_ALIASES
                    .iter()
                    .filter(|(_, k)| *k == h)
                    .map(|(a, _)| *a)
                    .collect();
                println!(
                    "{}{}{}",
                    h,
                    if aliases.is_empty() {
                        String::new()
                    } else {
                        format!(" (alias: {})", aliases.join(", "))
                    },
                    if h == Hook::BprmCheckSecurity {
                        ""
                    } else {
                        "  [language only: not enforced by this krsi yet]"
                    }
                );
                for f in fields::fields_for(h) {
                    let ops: Vec<&str> = f.ty.ops().iter().map(|o| o.name()).collect();
                    let values = match f.ty {
                        FieldType::Flags(v) | FieldType::Enum(v) => {
                            format!(" values: {}", v.join(" "))
                        }
                        _ => String::new(),
                    };
                    println!(
                        "  {:<24} {:<16} {}  [{}]{}",
                        f.name,
                        f.ty.describe(),
                        f.doc,
                        ops.join(" "),
                        values
                    );
                }
            }
            Ok(0)
        }
    }
}

fn program_for(hook: Hook) -> &'static str {
    match hook {
        Hook::BprmCheckSecurity => "lsm/bprm_check_security + lsm/bprm_committed_creds",
        Hook::FileOpen => "lsm/file_open",
        _ => "no program yet",
    }
}
