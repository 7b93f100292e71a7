//! `lock: until-reboot`: the files that say it are sealed into the kernel as
//! a policy of their own, which nothing can lower or remove before the
//! machine restarts (the agent's `seal` module does the kernel side).
//!
//! A sealed policy is a snapshot: its rules as written when sealed, with the
//! lists and macros they use, even ones from other files. It must enforce
//! (a sealed trial would be a trial nobody can end) and keeps no taint
//! labels (labels live in one BPF instance; the sealed one is separate).
use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, PolicyError, Severity as DiagSeverity};
use crate::model::{Action, Cond, Mode, Policy, Pos, Rule};

/// The policy split in two: what the agent may replace at will, and what
/// it seals (None when no file is locked).
pub struct Split {
    pub open: Policy,
    pub locked: Option<Policy>,
}

fn error(at: &Pos, message: String) -> Diagnostic {
    Diagnostic {
        file: at.file.clone(),
        line: at.line,
        column: at.column,
        severity: DiagSeverity::Error,
        message,
    }
}

fn uses_taint(c: &Cond) -> bool {
    match c {
        Cond::All(v) | Cond::Any(v) => v.iter().any(uses_taint),
        Cond::Not(c) => uses_taint(c),
        Cond::Macro(_) => false,
        Cond::Cmp(cmp) => cmp.field.value == "process.taint",
    }
}

fn check_rule(r: &Rule, policy_mode: Mode, lock: &Pos, diags: &mut Vec<Diagnostic>) {
    let at = Pos {
        file: r.file.clone(),
        line: r.name.line,
        column: r.name.column,
    };
    if r.effective_mode(policy_mode) == Mode::Monitor {
        diags.push(error(
            &at,
            format!(
                "rule `{}` is in monitor mode, but its file is locked ({}:{}:{}): a locked policy must enforce (try it unlocked first)",
                r.name.value, lock.file, lock.line, lock.column
            ),
        ));
    }
    if matches!(r.action.value, Action::Taint(_)) || r.cond.as_ref().is_some_and(uses_taint) {
        diags.push(error(
            &at,
            format!(
                "rule `{}` uses taint labels, which a locked policy cannot keep (the sealed copy runs apart from the agent's labels)",
                r.name.value
            ),
        ));
    }
}

/// Splits a checked policy into its open and locked parts; errors name the
/// rule that cannot be sealed. With `monitor` (a `krsi run --monitor`
/// trial) nothing is sealed: the caller warns that locks are left out.
pub fn split(policy: Policy, monitor: bool) -> Result<Split, PolicyError> {
    if policy.locks.is_empty() || monitor {
        return Ok(Split {
            open: policy,
            locked: None,
        });
    }
    let lock_of = |file: &str| policy.locks.iter().find(|p| p.file == file).cloned();
    let mut diags = Vec::new();
    let (mut locked_rules, mut open_rules) = (Vec::new(), Vec::new());
    for r in policy.rules.iter().cloned() {
        match lock_of(&r.file) {
            Some(lock) => {
                check_rule(&r, policy.mode, &lock, &mut diags);
                locked_rules.push(r);
            }
            None => open_rules.push(r),
        }
    }
    if locked_rules.is_empty() {
        for lock in &policy.locks {
            diags.push(error(
                lock,
                "a locked file needs `rules`: there is nothing to seal".into(),
            ));
        }
    }
    if !diags.is_empty() {
        return Err(PolicyError { diagnostics: diags });
    }
    // Lists and macros go to both: the sealed copy keeps what its rules use
    // as it reads now, and open rules may still use lists of a locked file.
    let locked = Policy {
        source: format!("{} (locked)", policy.source),
        mode: Mode::Enforce,
        // The sealed instance pins on its own: to the same configured root.
        loadpin: policy.loadpin.clone(),
        rules: locked_rules,
        lists: policy.lists.clone(),
        macros: policy.macros.clone(),
        locks: policy.locks.clone(),
        warnings: vec![],
    };
    let open = Policy {
        rules: open_rules,
        locks: vec![],
        ..policy
    };
    Ok(Split {
        open,
        locked: Some(locked),
    })
}

/// Names a sealed policy by its content: the agent finds its seal again
/// after a restart, and seals a changed file anew (the old seal stays).
/// Positions are left out, so moving a rule within its file changes nothing.
pub fn seal_id(locked: &Policy) -> String {
    let mut h = Sha256::new();
    for r in &locked.rules {
        h.update(
            format!(
                "{}\0{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0",
                r.name.value,
                r.hook.value.name(),
                r.action.value,
                r.cond.as_ref().map(strip),
                r.message,
                r.severity,
                r.tags,
                r.rate_limit,
                r.errno.map(|e| e.value.name)
            )
            .as_bytes(),
        );
    }
    if let Some(lp) = &locked.loadpin {
        h.update(format!("P{}\0", lp.root.value).as_bytes());
    }
    for l in &locked.lists {
        let values: Vec<_> = l.values.iter().map(|v| &v.value).collect();
        h.update(format!("L{}\0{:?}\0{:?}\0", l.name.value, values, l.notes).as_bytes());
    }
    for m in &locked.macros {
        h.update(format!("M{}\0{:?}\0", m.name.value, strip(&m.cond)).as_bytes());
    }
    let d = h.finalize();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A condition without positions, for `seal_id`.
fn strip(c: &Cond) -> String {
    match c {
        Cond::All(v) => format!("all({})", v.iter().map(strip).collect::<Vec<_>>().join(",")),
        Cond::Any(v) => format!("any({})", v.iter().map(strip).collect::<Vec<_>>().join(",")),
        Cond::Not(c) => format!("not({})", strip(c)),
        Cond::Macro(m) => format!("macro({})", m.value),
        Cond::Cmp(cmp) => {
            let values: Vec<_> = cmp.values.iter().map(|v| &v.value).collect();
            format!(
                "{} {:?} {:?} {:?}",
                cmp.field.value,
                cmp.op,
                values,
                cmp.list.as_ref().map(|l| &l.value)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;

    const YAMA3: &str = "lock: until-reboot\nrules:\n  - name: no-attach\n    hook: ptrace_access_check\n    action: deny\n    match: {ptrace.mode: {contains: [attach]}}\n";

    #[test]
    fn unlocked_policy_is_all_open() {
        let p = parse_str(
            "a.yaml",
            "rules:\n  - {name: x, hook: bprm_check_security, action: audit}\n",
        )
        .unwrap();
        let s = split(p, false).unwrap();
        assert!(s.locked.is_none());
        assert_eq!(s.open.rules.len(), 1);
    }

    #[test]
    fn locked_file_is_split_off() {
        let p = parse_str("yama-3.yaml", YAMA3).unwrap();
        assert_eq!(p.locks.len(), 1);
        assert_eq!((p.locks[0].line, p.locks[0].column), (1, 7));
        let s = split(p, false).unwrap();
        let locked = s.locked.unwrap();
        assert_eq!(locked.rules.len(), 1);
        assert!(s.open.rules.is_empty());
        assert_eq!(seal_id(&locked).len(), 16);
    }

    #[test]
    fn monitor_trial_seals_nothing() {
        let p = parse_str("yama-3.yaml", YAMA3).unwrap();
        let s = split(p, true).unwrap();
        assert!(s.locked.is_none());
        assert_eq!(s.open.rules.len(), 1);
    }

    #[test]
    fn seal_id_ignores_positions_but_not_content() {
        let a = split(parse_str("a.yaml", YAMA3).unwrap(), false).unwrap();
        let moved = format!("\n\n{YAMA3}");
        let b = split(parse_str("b.yaml", &moved).unwrap(), false).unwrap();
        let changed = YAMA3.replace("deny", "kill");
        let c = split(parse_str("a.yaml", &changed).unwrap(), false).unwrap();
        let id = |s: &Split| seal_id(s.locked.as_ref().unwrap());
        assert_eq!(id(&a), id(&b));
        assert_ne!(id(&a), id(&c));
    }

    #[test]
    fn bad_lock_value_is_an_error_with_position() {
        let e = parse_str("p.yaml", &YAMA3.replace("until-reboot", "forever")).unwrap_err();
        let d = &e.diagnostics[0];
        assert_eq!((d.line, d.column), (1, 7));
        assert!(
            d.message.contains("unknown lock `forever`"),
            "{}",
            d.message
        );
    }

    #[test]
    fn locked_monitor_rule_is_refused() {
        let text = format!("mode: monitor\n{YAMA3}");
        let e = split(parse_str("p.yaml", &text).unwrap(), false)
            .err()
            .unwrap();
        let d = &e.diagnostics[0];
        assert_eq!((d.file.as_str(), d.line), ("p.yaml", 4));
        assert!(d.message.contains("must enforce"), "{}", d.message);
        assert!(d.message.contains("p.yaml:2:7"), "{}", d.message);
    }

    #[test]
    fn locked_taint_is_refused() {
        let text = "lock: until-reboot\nrules:\n  - {name: t, hook: bprm_check_security, action: {taint: x}}\n";
        let e = split(parse_str("p.yaml", text).unwrap(), false)
            .err()
            .unwrap();
        assert!(
            e.diagnostics[0].message.contains("taint"),
            "{}",
            e.diagnostics[0].message
        );
    }

    #[test]
    fn lock_without_rules_is_refused() {
        let text = "lock: until-reboot\nlists:\n  l: [a]\n";
        let e = split(parse_str("p.yaml", text).unwrap(), false)
            .err()
            .unwrap();
        assert!(e.diagnostics[0].message.contains("nothing to seal"));
    }
}
