use krsi_policy::{compile, parse_str, Action, Hook, Identity, Severity, DEFAULT_POLICY};

fn errors(text: &str) -> Vec<String> {
    match parse_str("p.yaml", text) {
        Ok(p) => panic!("expected errors, parsed {p:?}"),
        Err(e) => e.diagnostics.iter().map(|d| d.to_string()).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap()
}

#[test]
fn default_policy_audits_every_exec() {
    let p = parse_str("default", DEFAULT_POLICY).unwrap();
    let c = compile(&p).unwrap();
    assert_eq!(c.rules.len(), 1);
    assert_eq!(c.rules[0].name, "exec-audit");
    assert_eq!(c.exec_audit_rule, Some(0));
    assert!(c.exec_entries.is_empty());
}

#[test]
fn full_rule_parses_with_positions() {
    let text = "rules:\n  - name: no-sh\n    hook: exec\n    action: deny\n    match:\n      path: [/bin/sh, /bin/true]\n    message: no shells\n";
    let p = parse_str("p.yaml", text).unwrap();
    let r = &p.rules[0];
    assert_eq!(r.name.value, "no-sh");
    assert_eq!((r.name.line, r.name.column), (2, 11));
    assert_eq!(r.hook.value, Hook::BprmCheckSecurity);
    assert_eq!(r.action.value, Action::Deny);
    let paths: Vec<_> = r
        .paths
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.value.as_str())
        .collect();
    assert_eq!(paths, ["/bin/sh", "/bin/true"]);
    assert_eq!(r.message.as_deref(), Some("no shells"));
}

#[test]
fn single_path_string_is_accepted() {
    let p = parse_str(
        "p",
        "rules:\n- {name: a, hook: exec, action: audit, match: {path: /bin/sh}}\n",
    )
    .unwrap();
    assert_eq!(p.rules[0].paths.as_ref().unwrap().len(), 1);
}

#[test]
fn invalid_yaml_names_line_and_column() {
    let e = one_error("rules:\n  - name: [unclosed\n");
    assert!(e.starts_with("p.yaml:3:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn empty_and_wrong_shapes() {
    assert_eq!(
        one_error(""),
        "p.yaml:1:1: empty policy: expected a mapping with `rules`"
    );
    assert!(one_error("- a\n").contains("the policy must be a mapping, found a list"));
    assert!(one_error("rules: 5\n").contains("`rules` must be a list, found a number"));
    assert!(one_error("{}\n").contains("missing `rules`"));
    assert!(one_error("rules: []\n---\nrules: []\n").contains("one YAML document"));
}

#[test]
fn unknown_fields_are_errors() {
    assert_eq!(
        one_error("rules: []\nrulez: []\n"),
        "p.yaml:2:1: unknown field `rulez` in the policy (expected one of: rules)"
    );
    let e =
        one_error("rules:\n  - name: a\n    hook: exec\n    action: audit\n    severity: high\n");
    assert!(
        e.starts_with("p.yaml:5:5: unknown field `severity` in a rule"),
        "{e}"
    );
    let e = errors("rules:\n  - {name: a, hook: exec, action: deny, match: {inode: 5}}\n");
    assert!(
        e[0].contains("2:49: unknown field `inode` in `match`"),
        "{e:?}"
    );
}

#[test]
fn missing_required_fields() {
    let e = errors("rules:\n  - message: hi\n");
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].ends_with("a rule needs a `name`"));
    assert!(e[1].ends_with("a rule needs a `hook`"));
    assert!(e[2].ends_with("a rule needs an `action`"));
}

#[test]
fn unknown_hook_and_action() {
    let e = one_error("rules:\n  - {name: a, hook: file_opn, action: audit}\n");
    assert!(e.starts_with("p.yaml:2:21: unknown hook `file_opn`"), "{e}");
    let e = one_error("rules:\n  - {name: a, hook: exec, action: block}\n");
    assert!(
        e.contains("unknown action `block` (expected audit or deny)"),
        "{e}"
    );
}

#[test]
fn type_mismatches() {
    assert!(
        one_error("rules:\n  - {name: 5, hook: exec, action: audit}\n")
            .contains("`name` must be a string, found a number")
    );
    assert!(
        one_error("rules:\n  - {name: a, hook: [exec], action: audit}\n")
            .contains("`hook` must be a string, found a list")
    );
    assert!(
        one_error("rules:\n  - {name: a, hook: exec, action: deny, match: [x]}\n")
            .contains("`match` must be a mapping, found a list")
    );
    assert!(
        one_error("rules:\n  - {name: a, hook: exec, action: deny, match: {path: [true]}}\n")
            .contains("a path must be a string, found a boolean")
    );
    assert!(one_error("rules:\n  - 7\n").contains("a rule must be a mapping, found a number"));
}

#[test]
fn deny_needs_a_match() {
    let e = one_error("rules:\n  - {name: a, hook: exec, action: deny}\n");
    assert!(e.contains("a deny rule needs a `match`"), "{e}");
}

#[test]
fn bad_paths_and_names() {
    assert!(
        one_error("rules:\n  - {name: a, hook: exec, action: deny, match: {path: bin/sh}}\n")
            .contains("path `bin/sh` must be absolute")
    );
    assert!(
        one_error("rules:\n  - {name: a, hook: exec, action: deny, match: {path: []}}\n")
            .contains("at least one path")
    );
    assert!(
        one_error("rules:\n  - {name: 'a b', hook: exec, action: audit}\n")
            .contains("rule name `a b` must be")
    );
    assert!(
        one_error("rules:\n  - {name: '', hook: exec, action: audit}\n").contains("rule name ``")
    );
}

#[test]
fn duplicate_rule_names() {
    let e = one_error(
        "rules:\n  - {name: a, hook: exec, action: audit}\n  - {name: a, hook: exec, action: audit}\n",
    );
    assert_eq!(
        e,
        "p.yaml:3:12: duplicate rule name `a` (first defined at line 2:12)"
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    let e = errors("rules: []\nrules: []\n");
    assert!(!e.is_empty());
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let e = errors(
        "rules:\n  - {name: a, hook: nope, action: audit}\n  - {name: b, hook: exec, action: nope}\n",
    );
    assert_eq!(e.len(), 2, "{e:#?}");
}

#[test]
fn compile_resolves_identities_and_hard_links() {
    let dir = std::env::temp_dir().join(format!("krsi-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("tool");
    let link = dir.join("tool-link");
    std::fs::write(&bin, b"#!/bin/sh\n").unwrap();
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(&bin, &link).unwrap();
    let text = format!(
        "rules:\n  - {{name: watch, hook: exec, action: audit, match: {{path: [{b}]}}}}\n  - {{name: block, hook: exec, action: deny, match: {{path: [{l}, {d}/missing]}}}}\n",
        b = bin.display(),
        l = link.display(),
        d = dir.display()
    );
    let c = compile(&parse_str("p.yaml", &text).unwrap()).unwrap();
    // One identity: the deny rule wins over the audit rule for the same file.
    assert_eq!(c.exec_entries.len(), 1);
    assert_eq!(
        c.exec_entries[0].identity,
        Identity::of_path(bin.to_str().unwrap()).unwrap()
    );
    assert_eq!(c.exec_entries[0].action, Action::Deny);
    assert_eq!(c.exec_entries[0].rule, 1);
    assert_eq!(c.exec_audit_rule, None);
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].severity, Severity::Warning);
    assert!(
        c.warnings[0].to_string().contains("missing: No such file"),
        "{}",
        c.warnings[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn second_audit_all_rule_warns() {
    let c = compile(
        &parse_str(
            "p",
            "rules:\n  - {name: a, hook: exec, action: audit}\n  - {name: b, hook: exec, action: audit}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.exec_audit_rule, Some(0));
    assert_eq!(c.warnings.len(), 1);
}

/// Arbitrary bytes never panic the parser (the fuzz target's body).
#[test]
fn garbage_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let alphabet = b"rules:-nameoktiackdyp{}[],\n #'\"/&*!|>:?%@`\t\\";
    for _ in 0..3000 {
        let mut s = Vec::new();
        for _ in 0..(seed % 200) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let text = String::from_utf8_lossy(&s);
        let _ = krsi_policy::fuzz_one(text.as_bytes());
    }
}
