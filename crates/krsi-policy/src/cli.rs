//! `krsi policy ...`: check, explain, schema, hooks. The `krsi` binary only dispatches here.
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::diag::Severity as DiagSeverity;
use crate::fields::{self, FieldType};
use crate::model::{Action, Hook, HOOK_ALIASES};

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
                // Checked as `krsi run` applies it: the locked files' rules
                // compile apart from the others.
                let result = crate::parse_file(&path).and_then(|p| {
                    let c = crate::compile(&p)?;
                    let split = crate::lock::split(p.clone(), false)?;
                    let sealed = match &split.locked {
                        Some(l) => {
                            crate::compile(l)?;
                            format!(
                                ", {} sealed until reboot when run (seal {})",
                                l.rules.len(),
                                crate::lock::seal_id(l)
                            )
                        }
                        None => String::new(),
                    };
                    Ok((p, c, sealed))
                });
                match result {
                    Ok((p, c, sealed)) => {
                        print_diags(&c.warnings);
                        println!(
                            "{}: ok: {} rules{sealed}, {} lists, {} macros{}",
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
            if let Some(lp) = &c.loadpin_root {
                println!(
                    "loadpin: pinned to the file system of {} (dev {}), not the first one read from",
                    lp.path,
                    crate::compile::dev_string(lp.dev)
                );
            }
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
                if matches!(r.action, Action::Deny | Action::Kill) {
                    println!("  errno: {} when it denies", r.errno.name);
                }
                if let Some(rl) = &r.rate_limit {
                    println!(
                        "  rate_limit: {} events per {} s",
                        rl.events, rl.per_seconds
                    );
                }
                let clauses = c.clauses_of(i as u32);
                if clauses.is_empty() {
                    println!("  no clause: it cannot match (see the warnings)");
                }
                for (key, cl) in clauses {
                    let path = r
                        .resolved
                        .iter()
                        .find(|(_, id)| {
                            key.contains(&format!(
                                "dev {} ino {}",
                                crate::compile::dev_string(id.dev),
                                id.ino
                            ))
                        })
                        .map(|(p, _)| format!("   {p}"))
                        .unwrap_or_default();
                    let taint = cl
                        .taint
                        .map(|b| format!(", taint `{}`", c.taint_labels[b as usize]))
                        .unwrap_or_default();
                    println!("  clause via {key}{path}: {}{taint}", cl.action.name());
                    for p in &cl.preds {
                        println!("    {}", describe_pred(&c, p));
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
                    "{}{}  [{}]",
                    h,
                    if aliases.is_empty() {
                        String::new()
                    } else {
                        format!(" (alias: {})", aliases.join(", "))
                    },
                    program_for(h)
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

/// The BPF program(s) that evaluate rules on `hook`.
fn program_for(hook: Hook) -> String {
    match hook {
        Hook::BprmCommittedCreds => {
            "lsm/bprm_committed_creds (fallback: tp_btf/sched_process_exec)".into()
        }
        Hook::BprmCheckSecurity => {
            "lsm/bprm_check_security + lsm/bprm_committed_creds (fallback: tp_btf/sched_process_exec)".into()
        }
        Hook::ModuleLoad => "tp_btf/module_load (origin from lsm/kernel_read_file, lsm/kernel_load_data)".into(),
        h => format!("lsm/{h}"),
    }
}

/// One predicate in the policy's terms, for `explain`.
fn describe_pred(c: &crate::CompiledPolicy, p: &crate::Pred) -> String {
    use crate::compile::{PredOp, SetDef};
    let fact = fact_name(p.fact);
    let not = if p.neg { "not " } else { "" };
    let set = || match c.sets.get(p.set as usize) {
        Some(SetDef::Num(v)) => format!("set #{} ({} entries)", p.set, v.len()),
        Some(SetDef::Str(v)) => format!(
            "set #{} [{}]",
            p.set,
            v.iter()
                .take(4)
                .map(|(b, exact)| format!(
                    "{}{}",
                    String::from_utf8_lossy(b),
                    if *exact { "" } else { "*" }
                ))
                .collect::<Vec<_>>()
                .join(", ")
                + if v.len() > 4 { ", ..." } else { "" }
        ),
        Some(SetDef::Cidr(v)) => format!("set #{} ({} prefixes)", p.set, v.len()),
        None => "?".into(),
    };
    match p.op {
        PredOp::Eq => format!("{not}{fact} == {}", p.v),
        PredOp::Lt => format!("{not}{fact} < {}", p.v),
        PredOp::Gt => format!("{not}{fact} > {}", p.v),
        PredOp::Any => format!("{not}{fact} & {:#x} != 0", p.v),
        PredOp::All => format!("{not}{fact} & {:#x} == {:#x}", p.v, p.v),
        PredOp::In | PredOp::IdIn | PredOp::Str | PredOp::Cidr => {
            format!("{not}{fact} in {}", set())
        }
        PredOp::AncIn => format!("{not}an ancestor's exe in {}", set()),
        PredOp::SetidOk => format!("{not}id change allowed by transitions {}", set()),
        PredOp::StrsIn => format!("{not}some {fact} entry in {}", set()),
        PredOp::Glob => match c.globs.get(p.set as usize) {
            Some(g) => format!("{not}{fact} matches glob `{g}`"),
            None => format!("{not}{fact} matches glob #{}", p.set),
        },
        PredOp::IdEq => format!(
            "{not}{fact} is file dev {}:{} ino {}",
            p.v >> 20,
            p.v & 0xfffff,
            p.v2
        ),
    }
}

fn fact_name(f: u8) -> String {
    use crate::fields::fact::*;
    match f {
        PID => "pid".into(),
        TID => "tid".into(),
        PPID => "ppid".into(),
        UID => "uid".into(),
        EUID => "euid".into(),
        GID => "gid".into(),
        CGROUP_ID => "cgroup_id".into(),
        NS_PID => "ns.pid".into(),
        NS_MNT => "ns.mnt".into(),
        NS_USER => "ns.user".into(),
        CAPS => "caps".into(),
        TAINT => "taint".into(),
        EXE_DEV => "exe".into(),
        S_COMM => "comm".into(),
        S_EXE => "exe path".into(),
        S_PATH => "path".into(),
        S_PATH2 => "path2".into(),
        S_NAME => "name".into(),
        S_NAME2 => "name2".into(),
        S_CGROUP => "cgroup path".into(),
        ANCESTORS => "ancestors".into(),
        ARGV => "argv".into(),
        ENV_NAMES => "env names".into(),
        ENV => "env".into(),
        n if (A0..A0 + 16).contains(&n) => format!("arg{}", n - A0),
        n => format!("fact {n}"),
    }
}
