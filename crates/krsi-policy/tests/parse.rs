use krsi_policy::{
    compile, parse_file, parse_str, resolve, Action, DiagSeverity, Expr, Hook, Identity,
    KernelAction, Mode, PredOp, SetDef, DEFAULT_POLICY,
};

fn errors(text: &str) -> Vec<String> {
    match parse_str("p.yaml", text).and_then(|p| compile(&p).map(|_| p)) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e.diagnostics.iter().map(|d| d.to_string()).collect(),
    }
}

fn one_error(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap()
}

/// Only parse and check (the language), not the kernel subset.
fn check_errors(text: &str) -> Vec<String> {
    match parse_str("p.yaml", text) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e.diagnostics.iter().map(|d| d.to_string()).collect(),
    }
}

fn check_one(text: &str) -> String {
    let e = check_errors(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap()
}

#[test]
fn default_policy_audits_every_exec() {
    let p = parse_str("default", DEFAULT_POLICY).unwrap();
    let c = compile(&p).unwrap();
    assert_eq!(c.rules.len(), 1);
    assert_eq!(c.rules[0].name, "exec-audit");
    // One unindexed clause without predicates: every exec.
    let exec = &c.hooks[&Hook::BprmCheckSecurity];
    assert!(exec.identity_heads.is_empty());
    let head = exec.any_head.unwrap() as usize;
    assert_eq!(c.clauses[head].0.preds, vec![]);
    assert_eq!(c.clauses[head].0.action, KernelAction::Audit);
}

#[test]
fn full_rule_parses_with_positions() {
    let text = "rules:\n  - name: no-sh\n    hook: exec\n    action: deny\n    match:\n      file.path: [/bin/sh, /bin/true]\n    message: no shells\n    severity: high\n    tags: [mitre:T1059]\n";
    let p = parse_str("p.yaml", text).unwrap();
    let r = &p.rules[0];
    assert_eq!(r.name.value, "no-sh");
    assert_eq!((r.name.line, r.name.column), (2, 11));
    assert_eq!(r.hook.value, Hook::BprmCheckSecurity);
    assert_eq!(r.action.value, Action::Deny);
    assert_eq!(r.message.as_deref(), Some("no shells"));
    assert_eq!(r.tags, vec!["mitre:T1059"]);
    let Some(Expr::Cmp(c)) = resolve(&p, r) else {
        panic!()
    };
    assert_eq!(c.field.name, "file.path");
    assert_eq!(c.values.len(), 2);
}

#[test]
fn every_hook_and_alias_is_known() {
    for h in Hook::ALL {
        assert_eq!(Hook::from_name(h.name()), Some(*h));
    }
    assert_eq!(Hook::from_name("open"), Some(Hook::FileOpen));
    assert_eq!(Hook::from_name("connect"), Some(Hook::SocketConnect));
    assert_eq!(Hook::from_name("module_load"), Some(Hook::ModuleLoad));
    assert_eq!(Hook::from_name("module_read"), Some(Hook::KernelReadFile));
    assert_eq!(Hook::ALL.len(), 31);
    assert_eq!(Hook::from_name("capable"), Some(Hook::Capable));
}

#[test]
fn conditions_lists_and_macros_resolve() {
    let text = r#"
lists:
  shells: [/bin/sh, /bin/bash]
  private: [10.0.0.0/8, 192.168.0.0/16]
macros:
  from_shell: {process.exe: {in: shells}}
  root: {process.uid: 0}
  root_shell: {all: [{macro: from_shell}, {macro: root}]}
rules:
  - name: etc-writes
    hook: file_open
    action: audit
    match:
      all:
        - file.path: {prefix: /etc/}
        - file.flags: {contains: write}
        - not: {macro: root_shell}
        - any:
            - process.comm: {glob: "py*"}
            - process.caps.effective: {contains: sys_admin}
  - name: lan-connects
    hook: connect
    action: audit
    match: {net.addr: {cidr: [10.0.0.0/8, fd00::/8]}, net.port: {lt: 1024}, socket.family: [inet, inet6]}
"#;
    let p = parse_str("p.yaml", text).unwrap();
    assert!(
        p.warnings
            .iter()
            .any(|w| w.message == "list `private` is never used"),
        "{:?}",
        p.warnings
    );
    let Some(Expr::All(parts)) = resolve(&p, &p.rules[0]) else {
        panic!()
    };
    assert_eq!(parts.len(), 4);
    let Expr::Not(inner) = &parts[2] else {
        panic!()
    };
    let Expr::All(m) = inner.as_ref() else {
        panic!()
    };
    let Expr::Cmp(c) = &m[0] else { panic!() };
    assert_eq!(c.field.name, "process.exe");
    assert_eq!(c.values.len(), 2, "list inlined");
    let Some(Expr::All(parts)) = resolve(&p, &p.rules[1]) else {
        panic!()
    };
    assert_eq!(parts.len(), 3);
}

#[test]
fn invalid_yaml_names_line_and_column() {
    let e = check_one("rules:\n  - name: [unclosed\n");
    assert!(e.starts_with("p.yaml:3:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn empty_and_wrong_shapes() {
    assert_eq!(
        check_one(""),
        "p.yaml:1:1: empty policy: expected a mapping with `rules`"
    );
    assert!(check_one("- a\n").contains("the policy must be a mapping, found a list"));
    assert!(check_one("rules: 5\n").contains("`rules` must be a list, found an integer"));
    assert!(check_one("{}\n").contains("missing `rules`"));
    assert!(check_one("rules: []\n---\nrules: []\n").contains("one YAML document"));
    assert!(check_one("mode: strict\nrules: []\n").contains("unknown mode `strict`"));
}

#[test]
fn unknown_fields_are_errors() {
    assert_eq!(
        check_one("rules: []\nrulez: []\n"),
        "p.yaml:2:1: unknown field `rulez` in the policy (expected one of: mode, loadpin, lock, lists, macros, rules)"
    );
    let e =
        check_one("rules:\n  - name: a\n    hook: exec\n    action: audit\n    sevrity: high\n");
    assert!(
        e.starts_with("p.yaml:5:5: unknown field `sevrity` in a rule"),
        "{e}"
    );
}

#[test]
fn missing_required_fields() {
    let e = check_errors("rules:\n  - message: hi\n");
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].ends_with("a rule needs a `name`"));
    assert!(e[1].ends_with("a rule needs a `hook`"));
    assert!(e[2].ends_with("a rule needs an `action`"));
}

#[test]
fn unknown_hook_action_severity() {
    let e = check_one("rules:\n  - {name: a, hook: file_opn, action: audit}\n");
    assert!(e.starts_with("p.yaml:2:21: unknown hook `file_opn`"), "{e}");
    assert!(e.ends_with("did you mean `file_open`?"), "{e}");
    let e = check_one("rules:\n  - {name: a, hook: exec, action: block}\n");
    assert!(e.contains("unknown action `block`"), "{e}");
    let e = check_one("rules:\n  - {name: a, hook: exec, action: taint}\n");
    assert!(e.contains("`taint` needs a label"), "{e}");
    let e = check_one("rules:\n  - {name: a, hook: exec, action: audit, severity: urgent}\n");
    assert!(e.contains("unknown severity `urgent`"), "{e}");
}

#[test]
fn type_mismatches() {
    assert!(
        check_one("rules:\n  - {name: 5, hook: exec, action: audit}\n")
            .contains("rule name must be a string, found an integer")
    );
    assert!(
        check_one("rules:\n  - {name: a, hook: [exec], action: audit}\n")
            .contains("`hook` must be a string, found a list")
    );
    assert!(
        check_one("rules:\n  - {name: a, hook: exec, action: deny, match: [x]}\n")
            .contains("a condition must be a mapping, found a list")
    );
    let e =
        check_one("rules:\n  - {name: a, hook: exec, action: audit, match: {process.uid: root}}\n");
    assert!(
        e.contains("`process.uid` compares with an integer, found `root`"),
        "{e}"
    );
    let e = check_one("rules:\n  - {name: a, hook: exec, action: audit, match: {file.path: 5}}\n");
    assert!(
        e.contains("`file.path` compares with a string, found `5`"),
        "{e}"
    );
    let e =
        check_one("rules:\n  - {name: a, hook: exec, action: audit, match: {process.uid: -1}}\n");
    assert!(e.contains("a non-negative integer"), "{e}");
}

#[test]
fn fields_must_exist_on_the_hook() {
    let e = check_one("rules:\n  - {name: a, hook: exec, action: audit, match: {file.flags: {contains: write}}}\n");
    assert!(
        e.starts_with(
            "p.yaml:2:50: field `file.flags` is not available on hook `bprm_check_security`"
        ),
        "{e}"
    );
    let e = check_one("rules:\n  - {name: a, hook: exec, action: audit, match: {path: /bin/sh}}\n");
    assert!(e.ends_with("did you mean `file.path`?"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: file_open, action: audit, match: {target.pid: 1}}\n",
    );
    assert!(
        e.contains("`target.pid` is not available on hook `file_open`"),
        "{e}"
    );
    parse_str(
        "p",
        "rules:\n  - {name: a, hook: ptrace, action: audit, match: {target.pid: 1}}\n",
    )
    .unwrap();
}

#[test]
fn operators_fit_types() {
    let e = check_one(
        "rules:\n  - {name: a, hook: exec, action: audit, match: {process.uid: {prefix: 1}}}\n",
    );
    assert!(
        e.contains("operator `prefix` does not apply to `process.uid`, a integer"),
        "{e}"
    );
    let e = check_one(
        "rules:\n  - {name: a, hook: exec, action: audit, match: {process.uid: {gt: 1, lt: 5}}}\n",
    );
    assert!(e.contains("exactly one operator"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: exec, action: audit, match: {process.uid: {equal: [1, 2]}}}\n",
    );
    assert!(e.contains("`equal` takes one value, found 2"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: exec, action: audit, match: {process.uid: {between: 1}}}\n",
    );
    assert!(e.contains("unknown field `between`"), "{e}");
}

#[test]
fn bad_cidr_glob_and_names() {
    let e = check_one("rules:\n  - {name: a, hook: connect, action: audit, match: {net.addr: {cidr: 10.0.0.1/8}}}\n");
    assert!(e.contains("`10.0.0.1/8` has host bits set after /8"), "{e}");
    let e = check_one("rules:\n  - {name: a, hook: connect, action: audit, match: {net.addr: {cidr: 10.0.0.0/33}}}\n");
    assert!(e.contains("prefix length 33 is longer than 32"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: connect, action: audit, match: {net.addr: {cidr: nope}}}\n",
    );
    assert!(e.contains("is not a CIDR block"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: connect, action: audit, match: {net.addr: 300.1.1.1}}\n",
    );
    assert!(e.contains("is not an IP address"), "{e}");
    let e = check_one("rules:\n  - {name: a, hook: exec, action: audit, match: {file.path: {glob: '/bin/[ab'}}}\n");
    assert!(e.contains("unclosed `[`"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: open, action: audit, match: {file.flags: {contains: wrte}}}\n",
    );
    assert!(e.contains("`wrte` is not a value of `file.flags`"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: connect, action: audit, match: {socket.family: inet7}}\n",
    );
    assert!(
        e.contains("`inet7` is not a value of `socket.family`"),
        "{e}"
    );
    assert!(check_one(
        "rules:\n  - {name: a, hook: exec, action: deny, match: {file.path: bin/sh}}\n"
    )
    .contains("path `bin/sh` must be absolute"));
    assert!(
        check_one("rules:\n  - {name: a, hook: exec, action: deny, match: {file.path: []}}\n")
            .contains("an empty list matches nothing")
    );
    assert!(
        check_one("rules:\n  - {name: 'a b', hook: exec, action: audit}\n")
            .contains("rule name `a b` must be")
    );
}

#[test]
fn deny_and_kill_need_a_match() {
    assert!(
        check_one("rules:\n  - {name: a, hook: exec, action: deny}\n")
            .contains("a deny rule needs a `match`")
    );
    assert!(
        check_one("rules:\n  - {name: a, hook: exec, action: kill}\n")
            .contains("a kill rule needs a `match`")
    );
}

#[test]
fn duplicate_names() {
    let e = check_one("rules:\n  - {name: a, hook: exec, action: audit}\n  - {name: a, hook: exec, action: audit}\n");
    assert_eq!(
        e,
        "p.yaml:3:12: duplicate rule name `a` (first defined at p.yaml:2:12)"
    );
    assert!(!check_errors("rules: []\nrules: []\n").is_empty());
}

#[test]
fn unknown_lists_and_macros() {
    let e = check_one(
        "rules:\n  - {name: a, hook: exec, action: audit, match: {file.path: {in: shels}}}\n",
    );
    assert!(e.contains("unknown list `shels`"), "{e}");
    let e = check_one("macros:\n  root: {process.uid: 0}\nrules:\n  - {name: a, hook: exec, action: audit, match: {macro: rot}}\n");
    assert!(
        e.contains("unknown macro `rot`; did you mean `root`?"),
        "{e}"
    );
}

#[test]
fn cyclic_macros() {
    let e = check_errors(
        "macros:\n  a: {macro: b}\n  b: {any: [{macro: a}, {process.uid: 0}]}\nrules:\n  - {name: r, hook: exec, action: audit, match: {macro: a}}\n",
    );
    assert!(
        e.iter().any(|e| e.contains("macro cycle: a -> b -> a")),
        "{e:#?}"
    );
    let e = check_errors("macros:\n  self: {not: {macro: self}}\nrules:\n  - {name: r, hook: exec, action: audit, match: {macro: self}}\n");
    assert!(
        e.iter().any(|e| e.contains("macro cycle: self -> self")),
        "{e:#?}"
    );
}

#[test]
fn list_values_are_checked_where_written() {
    let e = check_one("lists:\n  ports: [22, ssh]\nrules:\n  - {name: a, hook: bind, action: audit, match: {net.port: {in: ports}}}\n");
    assert!(
        e.starts_with("p.yaml:2:15: `net.port` compares with an integer, found `ssh`"),
        "{e}"
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut cond = String::from("{process.uid: 0}");
    for _ in 0..40 {
        cond = format!("{{not: {cond}}}");
    }
    let e = check_errors(&format!(
        "rules:\n  - {{name: a, hook: exec, action: audit, match: {cond}}}\n"
    ));
    assert!(
        e.iter().any(|e| e.contains("nested deeper than 32 levels")),
        "{e:#?}"
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let e = check_errors("rules:\n  - {name: a, hook: nope, action: audit}\n  - {name: b, hook: exec, action: nope}\n");
    assert_eq!(e.len(), 2, "{e:#?}");
}

#[test]
fn taint_labels_warn_when_never_set() {
    let p = parse_str("p", "rules:\n  - {name: a, hook: exec, action: audit, match: {process.taint: {contains: memwriter}}}\n").unwrap();
    assert!(
        p.warnings
            .iter()
            .any(|w| w.message == "no rule sets taint `memwriter`"),
        "{:?}",
        p.warnings
    );
    let p = parse_str(
        "p",
        "rules:\n  - {name: t, hook: open, action: {taint: memwriter}, match: {file.path: /proc/self/mem}}\n  - {name: a, hook: exec, action: deny, match: {process.taint: {contains: memwriter}}}\n",
    )
    .unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.rules[0].action.value, Action::Taint("memwriter".into()));
}

#[test]
fn rate_limits_and_modes_parse() {
    let p = parse_str(
        "p",
        "mode: monitor\nrules:\n  - {name: a, hook: exec, action: audit, rate_limit: {events: 10, per_seconds: 1}}\n  - {name: b, hook: exec, action: deny, mode: enforce, match: {file.path: /x}}\n",
    )
    .unwrap();
    assert_eq!(p.mode, Mode::Monitor);
    assert_eq!(p.rules[0].rate_limit.as_ref().unwrap().events, 10);
    assert_eq!(p.rules[1].effective_mode(p.mode), Mode::Enforce);
    assert!(check_one("rules:\n  - {name: a, hook: exec, action: audit, rate_limit: {events: 0, per_seconds: 1}}\n")
        .contains("1 <= events"));
}

#[test]
fn compile_reports_what_the_kernel_cannot_enforce_yet() {
    let e = one_error(
        "rules:\n  - {name: a, hook: exec, action: audit, match: {exec.argv: {glob: '*-x'}}}\n",
    );
    assert!(
        e.starts_with("p.yaml:2:50: `exec.argv glob` is valid, but the kernel programs of this krsi match argv and the environment only by contains and prefix"),
        "{e}"
    );
    let e = one_error(
        "rules:\n  - {name: a, hook: open, action: audit, match: {file.path: {glob: '/etc/[ab]*.conf'}}}\n",
    );
    assert!(
        e.contains("character classes are valid, but the kernel programs"),
        "{e}"
    );
    // A substring is the glob `*x*`, escaped.
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: a, hook: exec, action: audit, match: {process.comm: {contains: 'x*'}}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.globs[0].segments, vec![b"x*".to_vec()]);
    assert_eq!(c.globs[0].to_string(), "*x\\**");
}

#[test]
fn compile_resolves_identities_hard_links_and_modes() {
    let dir = std::env::temp_dir().join(format!("krsi-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("tool");
    let link = dir.join("tool-link");
    let other = dir.join("other");
    std::fs::write(&bin, b"#!/bin/sh\n").unwrap();
    std::fs::write(&other, b"#!/bin/sh\n").unwrap();
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(&bin, &link).unwrap();
    let text = format!(
        "lists:\n  blocked: [{l}, {d}/missing]\nrules:\n  - {{name: watch, hook: exec, action: audit, match: {{file.path: [{b}]}}}}\n  - {{name: block, hook: exec, action: deny, match: {{file.path: {{in: blocked}}}}}}\n  - {{name: trial, hook: exec, action: deny, mode: monitor, match: {{file.path: {o}}}}}\n",
        b = bin.display(),
        l = link.display(),
        d = dir.display(),
        o = other.display()
    );
    let c = compile(&parse_str("p.yaml", &text).unwrap()).unwrap();
    let exec = &c.hooks[&Hook::BprmCheckSecurity];
    // One identity for tool and its link: both rules chain on it (the kernel
    // applies the strongest), no predicate left after the index lookup.
    assert_eq!(exec.identity_heads.len(), 2);
    let tool = Identity::of_path(bin.to_str().unwrap()).unwrap();
    let (_, head) = exec
        .identity_heads
        .iter()
        .find(|(i, _)| *i == tool)
        .unwrap();
    let (c0, next) = &c.clauses[*head as usize];
    assert_eq!(
        (c0.rule, c0.action, c0.preds.len()),
        (0, KernelAction::Audit, 0)
    );
    let (c1, end) = &c.clauses[next.unwrap() as usize];
    assert_eq!((c1.rule, c1.action), (1, KernelAction::Deny));
    assert_eq!(*end, None);
    let trial = exec
        .identity_heads
        .iter()
        .find(|(i, _)| *i != tool)
        .unwrap();
    assert_eq!(
        c.clauses[trial.1 as usize].0.action,
        KernelAction::WouldDeny
    );
    assert_eq!(exec.any_head, None);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(c.warnings[0].severity, DiagSeverity::Warning);
    assert!(
        c.warnings[0].to_string().starts_with("p.yaml:2:"),
        "{}",
        c.warnings[0]
    );
    assert!(
        c.warnings[0].to_string().contains("missing: No such file"),
        "{}",
        c.warnings[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_is_one_policy() {
    let dir = std::env::temp_dir().join(format!("krsi-policy-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("00-lists.yaml"), "lists:\n  shells: [/bin/sh]\n").unwrap();
    std::fs::write(
        dir.join("10-rules.yaml"),
        "rules:\n  - {name: a, hook: exec, action: audit, match: {file.path: {in: shells}}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), "not a policy").unwrap();
    let p = parse_file(&dir).unwrap();
    assert_eq!(p.rules.len(), 1);
    compile(&p).unwrap();
    std::fs::write(
        dir.join("20-dup.yaml"),
        "rules:\n  - {name: a, hook: exec, action: audit}\n",
    )
    .unwrap();
    let e = parse_file(&dir).unwrap_err().to_string();
    assert!(
        e.contains("20-dup.yaml:2:12: duplicate rule name `a` (first defined at"),
        "{e}"
    );
    assert!(e.contains("10-rules.yaml:2:12)"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_file_is_an_error_at_its_name() {
    let e = parse_file(std::path::Path::new("/no/such/policy.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/no/such/policy.yaml:1:1: cannot read policy"),
        "{e}"
    );
}

#[test]
fn schema_is_json_schema_with_every_hook() {
    let s = krsi_policy::schema::schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let hooks = s["$defs"]["rule"]["properties"]["hook"]["enum"]
        .as_array()
        .unwrap();
    for h in Hook::ALL {
        assert!(hooks.iter().any(|v| v == h.name()), "{h}");
    }
    let keys = s["$defs"]["condition"]["propertyNames"]["enum"]
        .as_array()
        .unwrap();
    assert!(keys.iter().any(|v| v == "net.addr"));
}

/// Found by the fuzzer: a lone CR is a YAML line break, and diagnostics
/// count it as one.
#[test]
fn lone_carriage_returns_count_as_lines() {
    let text =
        "rules:\r  - {name: a, hook: open, action: audit, match: {file.flags: {contains: kil}}}\r";
    let e = check_one(text);
    assert!(e.starts_with("p.yaml:2:"), "{e}");
    let crash = "rules:\n  - {fit, match: {fil{name: a, hook: open, action: audit, match: {Kfile\r\n  - {name: a, hook: open, action: a# x\r\r\r\r.flag9 {contains: kil}\n";
    assert!(!krsi_policy::fuzz_one(crash.as_bytes()));
}

/// Arbitrary bytes never panic the parser (the fuzz target's body).
#[test]
fn garbage_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let alphabet =
        b"rules:-nameoktiackdyp{}[],\n #'\"/&*!|>:?%@`\t\\macroslistsanynotall.fileprocess0123";
    for _ in 0..4000 {
        let mut s = Vec::new();
        for _ in 0..(seed % 240) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = krsi_policy::fuzz_one(&s);
    }
}

/// Every example shipped in policies/examples passes the checker and compiles.
#[test]
fn shipped_examples_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let p = parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
            compile(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3, "examples missing in {}", dir.display());
}

/// The detection pack (policies/detect) checks and compiles without
/// warnings, and each file's `# enforce:` switch compiles too.
#[test]
fn shipped_detections_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/detect");
    for name in ["self-delete", "proc-mem-write", "fileless-exec"] {
        let path = dir.join(format!("{name}.yaml"));
        let p = parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let c = compile(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.warnings.is_empty(), "{name}: {:?}", c.warnings);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# enforce: deny"),
            "{name}: no enforce switch"
        );
        let enforced = text.replace("action: audit # enforce: deny", "action: deny");
        assert_ne!(enforced, text, "{name}: the switch does not apply");
        compile(&parse_str(&format!("{name}.yaml"), &enforced).unwrap())
            .unwrap_or_else(|e| panic!("{name} enforced: {e}"));
    }
}

#[test]
fn detection_fields_compile_to_their_facts() {
    let text = r#"
rules:
  - {name: del, hook: unlink, action: audit, match: {file.running_exe_of: [self, parent]}}
  - {name: ren, hook: rename, action: deny, match: {file.replaces_running_exe_of: other, file.running_exe_of: none}}
  - {name: mem, hook: open, action: deny, match: {file.proc.entry: mem, file.proc.self: false, file.proc.pid: {gt: 0}, file.flags: {contains: [write]}}}
  - {name: fl, hook: exec, action: deny, match: {any: [{exec.fileless: true}, {file.memfd: true}, {file.nlink: 0}]}}
"#;
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    let first = |h: Hook| c.clauses[c.hooks[&h].any_head.unwrap() as usize].clone();
    let (del, _) = first(Hook::InodeUnlink);
    assert_eq!((del.preds[0].fact, del.preds[0].op), (16 + 6, PredOp::In));
    assert_eq!(
        c.sets[del.preds[0].set as usize],
        SetDef::Num(vec![(1, 0), (2, 0)])
    );
    let (ren, _) = first(Hook::InodeRename);
    let by_fact = |f: u8| *ren.preds.iter().find(|p| p.fact == f).unwrap();
    assert_eq!((by_fact(16 + 7).op, by_fact(16 + 7).v), (PredOp::Eq, 3));
    assert_eq!((by_fact(16 + 6).op, by_fact(16 + 6).v), (PredOp::Eq, 0));
    let (mem, _) = first(Hook::FileOpen);
    let facts: Vec<u8> = mem.preds.iter().map(|p| p.fact).collect();
    for f in [16 + 4, 16 + 5, 69, 16 + 2] {
        assert!(facts.contains(&f), "fact {f} missing in {facts:?}");
    }
    let pid = mem.preds.iter().find(|p| p.fact == 16 + 4).unwrap();
    assert_eq!((pid.op, pid.v), (PredOp::Gt, 0));
    // Three alternatives on the check stage: a deny there is a clean EPERM.
    let t = &c.hooks[&Hook::BprmCheckSecurity];
    let mut facts = Vec::new();
    let mut at = t.any_head;
    while let Some(i) = at {
        let (cl, next) = &c.clauses[i as usize];
        assert_eq!(cl.action, KernelAction::Deny);
        facts.push(cl.preds[0].fact);
        at = *next;
    }
    assert_eq!(facts, [16 + 9, 16 + 11, 16 + 10]);
    assert!(!c.hooks.contains_key(&Hook::BprmCommittedCreds));
}

#[test]
fn detection_fields_are_checked() {
    let e = one_error(
        "rules:\n  - {name: a, hook: unlink, action: audit, match: {file.running_exe_of: sibling}}\n",
    );
    assert!(e.starts_with("p.yaml:2:"), "{e}");
    assert!(e.contains("sibling"), "{e}");
    let e = one_error(
        "rules:\n  - {name: a, hook: unlink, action: audit, match: {file.proc.pid: 1}}\n",
    );
    assert!(e.contains("file.proc.pid"), "{e}");
    let e = one_error(
        "rules:\n  - {name: a, hook: rename, action: audit, match: {file.replaces_running_exe_of: yes}}\n",
    );
    assert!(e.contains("yes"), "{e}");
    let e = one_error(
        "rules:\n  - {name: a, hook: open, action: audit, match: {file.fileless: true}}\n",
    );
    assert!(e.contains("file.fileless"), "{e}");
}

/// Every policy of the detection pack (a file, or a directory of rules and
/// lists) and the small LSMs check and compile on their own.
#[test]
fn shipped_detection_policies_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut paths: Vec<_> = std::fs::read_dir(root.join("detect"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.extend(
        std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml")),
    );
    paths.sort();
    for path in &paths {
        if path.is_dir() || path.extension().is_some_and(|e| e == "yaml") {
            let p = parse_file(path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!p.rules.is_empty(), "{} has no rules", path.display());
            compile(&p).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    assert!(
        paths.len() >= 6,
        "policies missing under {}",
        root.display()
    );
}

#[test]
fn file_open_rules_compile_to_chained_clauses() {
    let dir = std::env::temp_dir().join(format!("krsi-open-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, b"s").unwrap();
    let text = format!(
        r#"
rules:
  - name: etc-writes
    hook: open
    action: deny
    match: {{file.path: {{prefix: /etc/}}, file.flags: {{contains: [write, append]}}}}
  - name: ssh-any
    hook: open
    action: audit
    match: {{file.path: {{prefix: /etc/ssh/}}}}
  - name: secret
    hook: file_open
    action: deny
    mode: monitor
    match: {{any: [{{file.path: {secret}}}, {{file.path: {{prefix: /root/}}}}]}}
"#,
        secret = secret.display()
    );
    let c = compile(&parse_str("p.yaml", &text).unwrap()).unwrap();
    let t = &c.hooks[&Hook::FileOpen];
    assert_eq!(t.identity_heads.len(), 1);
    let prefixes: Vec<&str> = t.prefix_heads.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(prefixes, ["/etc/", "/etc/ssh/", "/root/"]);
    // The /etc/ssh/ chain holds its own clause and /etc/'s (the trie returns only the longest match).
    let chain = |head: u32| {
        let mut out = vec![];
        let mut at = Some(head);
        while let Some(i) = at {
            out.push(c.clauses[i as usize].0.clone());
            at = c.clauses[i as usize].1;
        }
        out
    };
    let ssh = chain(t.prefix_heads[1].1);
    assert_eq!(ssh.iter().map(|c| c.rule).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(ssh[0].action, KernelAction::Deny);
    assert_eq!(ssh[0].preds.len(), 1);
    let flags = ssh[0].preds[0];
    assert_eq!(
        (flags.op, flags.v, flags.neg),
        (PredOp::Any, 0b1010, false),
        "write | append"
    );
    assert!(ssh[1].preds.is_empty());
    let root = chain(t.prefix_heads[2].1);
    assert_eq!(root[0].action, KernelAction::WouldDeny);
    let sec = chain(t.identity_heads[0].1);
    assert_eq!((sec.len(), sec[0].rule), (1, 2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_open_limits() {
    let long = format!("/{}", "a".repeat(300));
    let e = one_error(&format!("rules:\n  - {{name: a, hook: open, action: audit, match: {{file.path: {{prefix: {long}}}}}}}\n"));
    assert!(e.contains("is longer than 254 bytes"), "{e}");
    let e = one_error("rules:\n  - {name: a, hook: open, action: audit, match: {all: [{process.uid: 1}, {process.uid: 2}, {process.uid: 3}, {process.uid: 4}, {process.uid: 5}, {process.uid: 6}, {process.uid: 7}, {process.uid: 8}, {process.uid: 9}]}}\n");
    assert!(
        e.contains("9 comparisons in one alternative: the kernel evaluates at most 8"),
        "{e}"
    );
    let mut many = String::from("rules:\n");
    for i in 0..70 {
        many.push_str(&format!("  - {{name: r{i}, hook: open, action: audit, match: {{file.path: {{prefix: /same/}}}}}}\n"));
    }
    let e = one_error(&many);
    assert!(
        e.contains("70 clauses share file_open on prefix `/same/`: at most 64"),
        "{e}"
    );
}

#[test]
fn not_any_all_compile_to_disjunctive_clauses() {
    let text = r#"
macros:
  root: {any: [{process.uid: 0}, {process.euid: 0}]}
rules:
  - name: conn
    hook: connect
    action: deny
    match:
      all:
        - macro: root
        - not: {any: [{process.comm: [curl, wget]}, {net.port: {lt: 1024}}]}
        - net.addr: {cidr: [10.0.0.0/8, "fd00::/8"]}
"#;
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    let t = &c.hooks[&Hook::SocketConnect];
    assert!(t.identity_heads.is_empty() && t.prefix_heads.is_empty());
    let mut at = t.any_head;
    let mut clauses = vec![];
    while let Some(i) = at {
        clauses.push(c.clauses[i as usize].0.clone());
        at = c.clauses[i as usize].1;
    }
    // (uid 0 or euid 0) and not comm and not port<1024 and cidr: two alternatives.
    assert_eq!(clauses.len(), 2);
    for cl in &clauses {
        assert_eq!(cl.preds.len(), 4, "{cl:?}");
        let comm = cl.preds.iter().find(|p| p.op == PredOp::Str).unwrap();
        assert!(comm.neg);
        let port = cl.preds.iter().find(|p| p.op == PredOp::Lt).unwrap();
        assert!(port.neg && port.v == 1024);
        let net = cl.preds.iter().find(|p| p.op == PredOp::Cidr).unwrap();
        match &c.sets[net.set as usize] {
            SetDef::Cidr(v) => {
                assert_eq!(v.len(), 2);
                // 10.0.0.0/8 as ::ffff:10.0.0.0/104
                assert!(v
                    .iter()
                    .any(|(b, bits)| *bits == 104 && b[10] == 0xff && b[12] == 10));
                assert!(v.iter().any(|(b, bits)| *bits == 8 && b[0] == 0xfd));
            }
            other => panic!("{other:?}"),
        }
        match &c.sets[comm.set as usize] {
            SetDef::Str(v) => {
                assert_eq!(v, &vec![(b"curl".to_vec(), true), (b"wget".to_vec(), true)])
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn taint_kill_and_rate_limit_compile() {
    let text = r#"
mode: monitor
rules:
  - name: memwrite
    hook: open
    action: {taint: memwriter}
    match: {file.path: {prefix: /proc/}, file.flags: {contains: write}}
  - name: no-exec-after
    hook: exec
    action: kill
    mode: enforce
    match: {process.taint: {contains: [memwriter]}}
  - name: chatty
    hook: kill
    action: audit
    rate_limit: {events: 5, per_seconds: 2}
  - name: monitored-kill
    hook: exec
    action: kill
    match: {process.taint: {contains: [memwriter]}}
"#;
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    assert_eq!(c.taint_labels, vec!["memwriter".to_string()]);
    let open = &c.hooks[&Hook::FileOpen];
    let (c0, _) = &c.clauses[open.prefix_heads[0].1 as usize];
    assert_eq!((c0.action, c0.taint), (KernelAction::Taint, Some(0)));
    let exec = &c.hooks[&Hook::BprmCheckSecurity];
    let (k, next) = &c.clauses[exec.any_head.unwrap() as usize];
    assert_eq!(k.action, KernelAction::Kill);
    assert_eq!((k.preds[0].op, k.preds[0].v), (PredOp::Any, 1));
    assert_eq!(
        c.clauses[next.unwrap() as usize].0.action,
        KernelAction::WouldKill
    );
    assert_eq!(c.rules[2].rate_limit.as_ref().unwrap().per_seconds, 2);
    // Labels keep their bits across a reload.
    let prior = vec!["older".to_string(), "memwriter".to_string()];
    let c2 = krsi_policy::compile_with_labels(&parse_str("p.yaml", text).unwrap(), &prior).unwrap();
    assert_eq!(c2.taint_labels, prior);
    let (k2, _) = &c2.clauses[c2.hooks[&Hook::BprmCheckSecurity].any_head.unwrap() as usize];
    assert_eq!(k2.preds[0].v, 0b10);
}

#[test]
fn a_tested_label_nobody_sets_is_a_warning() {
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: a, hook: exec, action: deny, match: {process.taint: {contains: [ghost]}}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("`ghost` is tested but no rule sets it")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn enums_flags_and_bools_use_kernel_codes() {
    let text = r#"
rules:
  - {name: raw, hook: socket_create, action: deny, match: {socket.family: [inet, inet6], socket.type: raw}}
  - {name: ro, hook: mount, action: audit, match: {mount.flags: {contains: [bind, remount]}}}
  - {name: suid, hook: exec, action: audit, match: {exec.setuid: true}}
  - {name: mod, hook: kernel_read_file, action: audit, match: {read.id: module}}
"#;
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    let first = |h: Hook| c.clauses[c.hooks[&h].any_head.unwrap() as usize].0.clone();
    let raw = first(Hook::SocketCreate);
    let fam = raw.preds.iter().find(|p| p.op == PredOp::In).unwrap();
    assert_eq!(c.sets[fam.set as usize], SetDef::Num(vec![(2, 0), (10, 0)]));
    assert!(raw.preds.iter().any(|p| p.op == PredOp::Eq && p.v == 3));
    assert_eq!(first(Hook::SbMount).preds[0].v, (1 << 5) | (1 << 4));
    let suid = first(Hook::BprmCheckSecurity).preds[0];
    assert_eq!((suid.op, suid.v, suid.neg), (PredOp::Eq, 0, true));
    assert_eq!(first(Hook::KernelReadFile).preds[0].v, 2);
}

#[test]
fn argv_and_environment_rules_run_once_the_exec_is_committed() {
    let text = r#"
rules:
  - {name: a, hook: exec, action: kill, match: {exec.env.names: {contains: [LD_PRELOAD]}}}
  - {name: b, hook: exec, action: audit, match: {any: [{file.path: {prefix: /tmp/}}, {exec.argv: {prefix: [--inject]}}]}}
"#;
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    let post = &c.hooks[&Hook::BprmCommittedCreds];
    let (k, next) = &c.clauses[post.any_head.unwrap() as usize];
    assert_eq!((k.rule, k.action), (0, KernelAction::Kill));
    assert_eq!(k.preds[0].op, PredOp::StrsIn);
    assert_eq!(
        c.sets[k.preds[0].set as usize],
        SetDef::Str(vec![(b"LD_PRELOAD=".to_vec(), false)])
    );
    assert_eq!(c.clauses[next.unwrap() as usize].0.rule, 1);
    // The path alternative of b stays at the check, where it could deny.
    assert_eq!(c.hooks[&Hook::BprmCheckSecurity].prefix_heads.len(), 1);
    let e = one_error(
        "rules:\n  - {name: d, hook: exec, action: deny, match: {exec.argv: {contains: [-e]}}}\n",
    );
    assert!(
        e.starts_with("p.yaml:2:49: `exec.argv` is known only once the exec is committed"),
        "{e}"
    );
}

#[test]
fn not_of_missing_files_always_holds() {
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: a, hook: socket_create, action: deny, match: {socket.type: raw, not: {process.exe: /nonexistent/tool}}}\n  - {name: b, hook: socket_create, action: deny, match: {process.exe: /nonexistent/tool}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    let t = &c.hooks[&Hook::SocketCreate];
    let (a, next) = &c.clauses[t.any_head.unwrap() as usize];
    // Only the socket type is left; rule b can never match and has no clause.
    assert_eq!(a.preds.len(), 1);
    assert_eq!(
        (a.preds[0].op, a.preds[0].v, a.preds[0].neg),
        (PredOp::Eq, 3, false)
    );
    assert_eq!(*next, None);
    assert_eq!(c.warnings.len(), 2);
}

#[test]
fn globs_compile_to_segments_and_match_like_the_kernel() {
    use krsi_policy::Glob;
    let g = Glob::parse("/etc/*/x?.conf").unwrap();
    assert_eq!(g.segments, vec![b"/etc/".to_vec(), b"/x\0.conf".to_vec()]);
    assert!(g.anchored_start && g.anchored_end);
    let cases: &[(&str, &str, bool)] = &[
        ("/etc/*/x?.conf", "/etc/a/b/x1.conf", true),
        ("/etc/*/x?.conf", "/etc/x1.conf", false),
        ("*.conf", "/a.conf", true),
        ("*.conf", "/a.conf.bak", false),
        ("/tmp/*", "/tmp/", true),
        ("/tmp/*", "/tm", false),
        ("exact", "exact", true),
        ("exact", "exactly", false),
        ("*mid*", "a mid b", true),
        ("*mid*", "a mi b", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("*", "", true),
        ("\\*lit", "*lit", true),
    ];
    for (p, s, want) in cases {
        assert_eq!(
            Glob::parse(p).unwrap().matches(s.as_bytes()),
            *want,
            "{p} on {s}"
        );
    }
    assert!(Glob::parse("a*b*c*d*e").unwrap_err().contains("at most 4"));
    // A list of globs is any of them: one clause each.
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: a, hook: open, action: audit, match: {file.path: {glob: ['/etc/*.conf', '*.key']}}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.globs.len(), 2);
    assert_eq!(c.clauses.len(), 2);
    assert_eq!(c.globs[0].to_string(), "/etc/*.conf");
    // `PREFIX*` is a prefix: an index key, no glob.
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: a, hook: open, action: audit, match: {file.path: {glob: ['/etc/ssl/*', '/x?/*']}}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.globs.len(), 1);
    assert_eq!(c.hooks[&Hook::FileOpen].prefix_heads[0].0, "/etc/ssl/");
}

#[test]
fn safesetid_policy_compiles_to_transition_pairs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let c = compile(&parse_file(&dir.join("safesetid.yaml")).unwrap()).unwrap();
    let (cl, _) = &c.clauses[c.hooks[&Hook::TaskFixSetuid].any_head.unwrap() as usize];
    assert_eq!(
        (cl.action, cl.preds[0].op, cl.preds[0].neg),
        (KernelAction::Kill, PredOp::SetidOk, true)
    );
    assert_eq!(
        c.sets[cl.preds[0].set as usize],
        SetDef::Num(vec![(1000, 1001), (1000, 1002), (1000, u64::MAX)])
    );
    let e = one_error("rules:\n  - {name: a, hook: setuid, action: kill, match: {not: {id.transition: {in: [\"1000-1001\"]}}}}\n");
    assert!(
        e.contains("`1000-1001` is not a transition FROM:TO of two ids"),
        "{e}"
    );
}

#[test]
fn yama_policies_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    for scope in 1..=3 {
        let p = parse_file(&dir.join(format!("yama-{scope}.yaml"))).unwrap();
        let c = compile(&p).unwrap();
        assert!(
            c.hooks.contains_key(&Hook::PtraceAccessCheck),
            "scope {scope}"
        );
    }
    // Scope 1: attach mode, and none of descendant / declared / capable.
    let c = compile(&parse_file(&dir.join("yama-1.yaml")).unwrap()).unwrap();
    let (cl, next) = &c.clauses[c.hooks[&Hook::PtraceAccessCheck].any_head.unwrap() as usize];
    assert_eq!(*next, None);
    assert_eq!(cl.preds.len(), 4);
    assert!(
        cl.preds
            .iter()
            .any(|p| p.op == PredOp::Eq && p.neg && p.v == 2),
        "not descendant"
    );
    assert_eq!(
        cl.preds
            .iter()
            .filter(|p| p.op == PredOp::Eq && !p.neg && p.v == 0)
            .count(),
        2
    );
}

#[test]
fn digests_compile_to_a_lowercase_string_set_with_notes() {
    let upper = "AB".repeat(32);
    let text = format!(
        r#"
lists:
  vulnerable:
    "{upper}": CVE-2099-0001 demo
    "{zero}": another
rules:
  - {{name: v, hook: exec, action: deny, match: {{file.sha256: {{in: vulnerable}}}}}}
  - {{name: m, hook: kernel_read_file, action: deny, match: {{read.id: module, not: {{file.sha256: "{zero}"}}}}}}
"#,
        zero = "0".repeat(64)
    );
    let c = compile(&parse_str("p.yaml", &text).unwrap()).unwrap();
    assert!(c.needs_hash());
    let t = &c.hooks[&Hook::BprmCheckSecurity];
    assert_ne!(t.needs & (1 << 9), 0, "exec hashes files");
    let (cl, _) = &c.clauses[t.any_head.unwrap() as usize];
    assert_eq!(cl.preds[0].op, PredOp::Str);
    let SetDef::Str(entries) = &c.sets[cl.preds[0].set as usize] else {
        panic!("not a string set")
    };
    let mut want: Vec<Vec<u8>> = vec!["ab".repeat(32).into_bytes(), "0".repeat(64).into_bytes()];
    want.sort();
    let mut got: Vec<Vec<u8>> = entries.iter().map(|(v, _)| v.clone()).collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        c.notes.get(&"ab".repeat(32)).map(String::as_str),
        Some("CVE-2099-0001 demo")
    );
    let m = &c.clauses[c.hooks[&Hook::KernelReadFile].any_head.unwrap() as usize].0;
    assert!(m.preds.iter().any(|p| p.op == PredOp::Str && p.neg));
}

#[test]
fn kernel_reads_always_carry_their_digest() {
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: a, hook: kernel_read_file, action: audit, match: {read.id: module}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_ne!(c.hooks[&Hook::KernelReadFile].needs & (1 << 9), 0);
    let c = compile(&parse_str("p.yaml", DEFAULT_POLICY).unwrap()).unwrap();
    assert!(!c.needs_hash(), "auditing execs must not hash them");
}

#[test]
fn bad_digests_and_notes_are_errors_with_positions() {
    let e =
        check_one("rules:\n  - {name: a, hook: exec, action: deny, match: {file.sha256: abc}}\n");
    assert!(
        e.starts_with("p.yaml:2:62: `file.sha256` compares with SHA-256 digests"),
        "{e}"
    );
    let e = check_one(
        "rules:\n  - {name: a, hook: file_open, action: deny, match: {file.sha256: abc}}\n",
    );
    assert!(
        e.contains("field `file.sha256` is not available on hook `file_open`"),
        "{e}"
    );
    let e = check_one(&format!(
        "lists:\n  l:\n    \"{}\": [not, a, string]\nrules:\n  - {{name: a, hook: exec, action: deny, match: {{file.sha256: {{in: l}}}}}}\n",
        "1".repeat(64)
    ));
    assert!(
        e.starts_with("p.yaml:3:73: the note of a list entry must be a string"),
        "{e}"
    );
    let e = check_one(
        "lists:\n  l: 3\nrules:\n  - {name: a, hook: exec, action: deny, match: {file.path: /x}}\n",
    );
    assert!(
        e.contains("list `l` must be a list (or a mapping of entries to notes)"),
        "{e}"
    );
}

#[test]
fn environment_summary_fields_walk_the_committed_exec() {
    let text = "rules:\n  - {name: d, hook: exec, action: kill, match: {exec.env.duplicates: {gt: 0}}}\n  - {name: o, hook: exec, action: audit, match: {any: [{exec.env.bytes: {gt: 65536}}, {exec.env.overflow: true}]}}\n  - {name: n, hook: exec, action: audit, match: {exec.env.names: {contains: [LD_PRELOAD]}}}\n";
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    assert!(!c.hooks.contains_key(&Hook::BprmCheckSecurity));
    let post = &c.hooks[&Hook::BprmCommittedCreds];
    assert_ne!(post.needs & (1 << 12), 0, "the environment is walked");
    // Names alone need no walk: only a rule on the summary asks for it.
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: n, hook: exec, action: audit, match: {exec.env.names: {contains: [LD_PRELOAD]}}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(c.hooks[&Hook::BprmCommittedCreds].needs & (1 << 12), 0);
    let e = one_error(
        "rules:\n  - {name: d, hook: exec, action: deny, match: {exec.env.duplicates: {gt: 0}}}\n",
    );
    assert!(
        e.starts_with(
            "p.yaml:2:49: `exec.env.duplicates` is known only once the exec is committed"
        ),
        "{e}"
    );
    let e = check_one(
        "rules:\n  - {name: d, hook: exec, action: audit, match: {exec.env.overflow: 1}}\n",
    );
    assert!(
        e.contains("`exec.env.overflow` compares with true or false"),
        "{e}"
    );
}

#[test]
fn module_load_is_audit_only() {
    for (action, word) in [("deny", "cannot deny"), ("kill", "cannot kill")] {
        let text = format!(
            "rules:\n  - name: m\n    hook: module_load\n    action: {action}\n    match: {{module.name: krsi_hide}}\n"
        );
        let e = one_error(&text);
        assert!(e.starts_with("p.yaml:4:13:") && e.contains(word), "{e}");
        assert!(e.contains("kernel_read_file"), "{e}");
    }
    let text = "rules:\n  - name: m\n    hook: module_load\n    action: audit\n    match: {module.source: memory, module.name: {prefix: krsi}}\n";
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    assert!(c.hooks.contains_key(&Hook::ModuleLoad));
}

#[test]
fn usb_mount_fields() {
    let text = "rules:\n  - name: u\n    hook: sb_set_mnt_opts\n    action: deny\n    match: {mount.device.bus: usb, mount.fstype: [ext4, vfat], mount.device.major: {gt: 0}}\n";
    let c = compile(&parse_str("p.yaml", text).unwrap()).unwrap();
    assert!(c.hooks.contains_key(&Hook::SbSetMntOpts));
    // The mount point is not known yet when the super block is set up.
    let text = "rules:\n  - name: u\n    hook: sb_set_mnt_opts\n    action: deny\n    match: {mount.target: {prefix: /mnt}}\n";
    let e = check_one(text);
    assert!(e.contains("mount.target"), "{e}");
}

#[test]
fn capability_checks_compare_kernel_numbers() {
    let c = compile(
        &parse_str(
            "p.yaml",
            "rules:\n  - {name: c, hook: capable, action: deny, match: {capable.cap: setuid, capable.insetid: false, capable.uid: {in: [1000]}}}\n",
        )
        .unwrap(),
    )
    .unwrap();
    let (cl, _) = &c.clauses[c.hooks[&Hook::Capable].any_head.unwrap() as usize];
    // CAP_SETUID is 7; insetid false is `equal 0`.
    assert!(cl
        .preds
        .iter()
        .any(|p| p.op == PredOp::Eq && p.v == 7 && !p.neg));
    assert!(cl.preds.iter().any(|p| p.op == PredOp::Eq && p.v == 0));
    let e = check_one(
        "rules:\n  - {name: c, hook: capable, action: deny, match: {capable.cap: setuidd}}\n",
    );
    assert!(
        e.contains("`setuidd` is not a value of `capable.cap`"),
        "{e}"
    );
}

#[test]
fn errno_per_rule() {
    let p = parse_str(
        "p.yaml",
        "rules:\n  - {name: a, hook: open, action: deny, errno: EACCES, match: {file.path: /x}}\n  - {name: b, hook: setuid, action: kill, errno: EACCES, match: {id.new: 0}}\n  - {name: c, hook: connect, action: deny, match: {net.port: 25}}\n  - {name: d, hook: exec, action: deny, errno: ENOEXEC, mode: monitor, match: {file.path: /y}}\n",
    )
    .unwrap();
    let e = p.rules[0].errno.unwrap();
    assert_eq!((e.value.name, e.value.number), ("EACCES", 13));
    assert_eq!((e.line, e.column), (2, 48));
    assert!(p.rules[2].errno.is_none());
    let c = compile(&p).unwrap();
    let names: Vec<&str> = c.rules.iter().map(|r| r.errno.name).collect();
    assert_eq!(names, ["EACCES", "EACCES", "EPERM", "ENOEXEC"]);
    assert_eq!(c.rules[3].errno.number, 8);
    // Every name maps to its number both ways.
    for e in krsi_policy::Errno::ALL {
        assert_eq!(krsi_policy::Errno::from_number(e.number), Some(*e));
        assert!(e.number > 0 && e.number < 4096, "{e:?}");
    }
    assert!(krsi_policy::Errno::from_name("ENOSYS").is_none());
}

#[test]
fn errno_bad_input() {
    let e = check_one(
        "rules:\n  - {name: a, hook: open, action: deny, errno: EPREM, match: {file.path: /x}}\n",
    );
    assert!(
        e.starts_with("p.yaml:2:48: unknown errno `EPREM` (expected one of: EPERM, ENOENT"),
        "{e}"
    );
    let e = check_one(
        "rules:\n  - {name: a, hook: open, action: deny, errno: 13, match: {file.path: /x}}\n",
    );
    assert_eq!(e, "p.yaml:2:48: `errno` must be a string, found an integer");
    let e =
        check_one("rules:\n  - name: a\n    hook: open\n    action: audit\n    errno: EACCES\n");
    assert_eq!(
        e,
        "p.yaml:5:12: `errno` is for deny and kill rules: audit rules never fail the call"
    );
    let e = check_one(
        "rules:\n  - {name: a, hook: open, action: {taint: x}, errno: EACCES, match: {file.path: /x}}\n",
    );
    assert!(e.contains("taint rules never fail the call"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: bprm_committed_creds, action: kill, errno: EACCES, match: {exec.argv: {contains: x}}}\n",
    );
    assert!(
        e.starts_with("p.yaml:2:64: `errno` has no effect on `bprm_committed_creds`"),
        "{e}"
    );
    let e = check_one(
        "rules:\n  - {name: a, hook: capable, action: deny, errno: EACCES, match: {capable.cap: setuid}}\n",
    );
    assert!(e.contains("`errno` has no effect on `capable`"), "{e}");
    let e = check_one(
        "rules:\n  - {name: a, hook: prctl, action: deny, errno: ENOSYS, match: {prctl.option: 4}}\n",
    );
    assert!(e.contains("unknown errno `ENOSYS`"), "{e}");
}

#[test]
fn loadpin_root() {
    let dir = std::env::temp_dir().join(format!("krsi-loadpin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.display().to_string();
    let text = format!(
        "loadpin: {{root: {root}}}\nrules:\n  - {{name: a, hook: kernel_read_file, action: deny, match: {{read.pinned: false}}}}\n"
    );
    let p = parse_str("p.yaml", &text).unwrap();
    let lp = p.loadpin.as_ref().unwrap();
    assert_eq!(
        (lp.root.value.as_str(), lp.root.line, lp.root.column),
        (root.as_str(), 1, 17)
    );
    let c = compile(&p).unwrap();
    let r = c.loadpin_root.as_ref().unwrap();
    assert_eq!(r.dev, Identity::of_path(&root).unwrap().dev);
    assert_eq!(r.at(), "p.yaml:1:17");
    // A file of its own in a policy directory; the same root twice is fine.
    std::fs::write(
        dir.join("00-pin.yaml"),
        format!("loadpin: {{root: {root}}}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("10-rules.yaml"), &text).unwrap();
    let p = parse_file(&dir).unwrap();
    assert_eq!(
        p.loadpin.unwrap().file,
        dir.join("00-pin.yaml").display().to_string()
    );
    // Two different roots: one file system is pinned.
    std::fs::write(dir.join("20-other.yaml"), "loadpin: {root: /}\n").unwrap();
    let e = parse_file(&dir).unwrap_err().to_string();
    assert_eq!(
        e.trim(),
        format!(
            "{}:1:17: `loadpin.root` conflicts with {}:1:17 (`{root}`): one file system is pinned",
            dir.join("20-other.yaml").display(),
            dir.join("00-pin.yaml").display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // No policy without it pins anything but the first read's.
    let c = compile(&parse_str("p", "rules:\n  - {name: a, hook: exec, action: audit}\n").unwrap())
        .unwrap();
    assert!(c.loadpin_root.is_none());
}

#[test]
fn loadpin_bad_input() {
    // The root must exist when the policy is applied.
    let e = one_error(
        "loadpin: {root: /no/such/krsi/dir}\nrules:\n  - {name: a, hook: exec, action: audit}\n",
    );
    assert!(
        e.starts_with("p.yaml:1:17: `loadpin.root` `/no/such/krsi/dir`: No such file or directory"),
        "{e}"
    );
    let e = check_one("loadpin: {root: relative/dir}\nrules: []\n");
    assert_eq!(
        e,
        "p.yaml:1:17: `loadpin.root` must be an absolute path, found `relative/dir`"
    );
    let e = check_one("loadpin: {}\nrules: []\n");
    assert_eq!(
        e,
        "p.yaml:1:10: `loadpin` needs `root`: a path on the file system to pin"
    );
    let e = check_one("loadpin: {root: /, exclude: [firmware]}\nrules: []\n");
    assert!(
        e.starts_with("p.yaml:1:20: unknown field `exclude` in `loadpin`"),
        "{e}"
    );
    let e = check_one("loadpin: /\nrules: []\n");
    assert_eq!(
        e,
        "p.yaml:1:10: `loadpin` must be a mapping, found a string"
    );
    let e = check_one("loadpin: {root: [/]}\nrules: []\n");
    assert_eq!(
        e,
        "p.yaml:1:17: `loadpin.root` must be a string, found a list"
    );
}
