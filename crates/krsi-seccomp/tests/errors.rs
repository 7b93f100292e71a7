//! Bad input: every error class is reported as `file:line:column: message`.
use krsi_seccomp::{compile_str, Arch, CompileOptions};

fn err(text: &str) -> String {
    match compile_str("t.policy", text, &CompileOptions::new(Arch::X86_64)) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn second_unconditional_action() {
    assert_eq!(
        err("read: allow\nread: return EPERM\n"),
        "t.policy:2:5: syscall read (number 0) already had an unconditional action applied at t.policy:1:5"
    );
    assert_eq!(
        err("read: arg0 == 1\nwrite: allow\nread: kill\nread: allow\n"),
        "t.policy:4:5: syscall read (number 0) already had an unconditional action applied at t.policy:3:5"
    );
    // The classic `expr; action` form already carries the unconditional action.
    assert!(
        err("read: arg0 == 1; return 1\nread: allow\n").starts_with("t.policy:2:5: syscall read")
    );
    assert_eq!(
        err("read: {arg0 == 1; allow, kill, arg0 == 2}\n"),
        "t.policy:1:5: syscall read: filters after an unconditional action are unreachable"
    );
}

#[test]
fn unknown_names() {
    assert_eq!(
        err("foo: allow\n"),
        "t.policy:1:1: unknown syscall \"foo\" on x86_64"
    );
    assert_eq!(
        err("\n  {read, bogus}: allow\n"),
        "t.policy:2:10: unknown syscall \"bogus\" on x86_64"
    );
    assert_eq!(
        err("read: arg0 == O_NOPE\n"),
        "t.policy:1:15: unknown constant \"O_NOPE\""
    );
    assert_eq!(
        err("read: return ENOPE\n"),
        "t.policy:1:14: unknown constant \"ENOPE\""
    );
    let aarch64 = compile_str(
        "a.policy",
        "open: allow\n",
        &CompileOptions::new(Arch::Aarch64),
    );
    assert_eq!(
        aarch64.unwrap_err().to_string(),
        "a.policy:1:1: unknown syscall \"open\" on aarch64"
    );
}

#[test]
fn argument_index() {
    assert_eq!(
        err("read: arg6 == 1\n"),
        "t.policy:1:7: invalid argument arg6: syscalls have arguments arg0..arg5"
    );
    assert_eq!(
        err("read: arg0 == 1 && arg99999999999999999999 == 2\n"),
        "t.policy:1:20: invalid argument arg99999999999999999999: syscalls have arguments arg0..arg5"
    );
}

#[test]
fn overflow_and_underflow() {
    assert_eq!(
        err("read: arg0 == 0x10000000000000000\n"),
        "t.policy:1:15: constant 0x10000000000000000 overflows 64 bits"
    );
    assert_eq!(
        err("read: arg0 == 18446744073709551616\n"),
        "t.policy:1:15: constant 18446744073709551616 overflows 64 bits"
    );
    assert_eq!(
        err("read: arg0 == -9223372036854775809\n"),
        "t.policy:1:15: constant -9223372036854775809 underflows signed 64 bits"
    );
    assert_eq!(
        err("read: return 70000\n"),
        "t.policy:1:14: errno 70000 does not fit in SECCOMP_RET_DATA (16 bits)"
    );
}

#[test]
fn complements() {
    assert_eq!(
        err("read: arg0 == ~~1\n"),
        "t.policy:1:16: invalid double complement"
    );
    assert_eq!(err("read: arg0 == ~\n"), "t.policy:1:15: empty complement");
    assert_eq!(
        err("read: arg0 == 1 | ~\n"),
        "t.policy:1:19: empty complement"
    );
}

#[test]
fn syntax() {
    assert_eq!(
        err("read: arg0 == (1|2\n"),
        "t.policy:1:15: unclosed parenthesis"
    );
    assert_eq!(err("{read, write: allow\n"), "t.policy:1:1: unclosed brace");
    assert_eq!(
        err("read allow\n"),
        "t.policy:1:6: expected ':', found \"allow\""
    );
    assert_eq!(
        err("read: frobnicate\n"),
        "t.policy:1:7: invalid action \"frobnicate\""
    );
    assert_eq!(err("read: 2\n"), "t.policy:1:7: invalid action \"2\"");
    assert_eq!(
        err("read: allow allow\n"),
        "t.policy:1:13: unexpected \"allow\" after the filter"
    );
    assert_eq!(
        err("read: arg0 == 1 &&\n"),
        "t.policy:1:19: missing argument"
    );
    assert_eq!(err("read: arg0\n"), "t.policy:1:11: missing operator");
    assert_eq!(err("read: return\n"), "t.policy:1:13: missing return value");
    assert_eq!(err("read: $\n"), "t.policy:1:7: invalid token \"$\"");
    assert_eq!(err("read:\n"), "t.policy:1:6: missing filter");
    assert_eq!(
        err("read[arch=x86_64; arch=aarch64]: allow\n"),
        "t.policy:1:19: duplicate metadata key \"arch\""
    );
    assert_eq!(
        err("read[arch=x86_64: allow\n"),
        "t.policy:1:5: unclosed bracket"
    );
    assert_eq!(
        err("@include relative\n"),
        "t.policy:1:10: invalid include path \"relative\" (must start with / or ./)"
    );
}

#[test]
fn default_actions() {
    assert_eq!(
        err("@default allow\n"),
        "t.policy:1:10: invalid permissive default action \"allow\""
    );
    assert_eq!(
        err("@default log\n"),
        "t.policy:1:10: invalid permissive default action \"log\""
    );
    assert_eq!(
        err("@default trace\n"),
        "t.policy:1:10: invalid permissive default action \"trace\""
    );
    assert_eq!(err("@default\n"), "t.policy:1:9: missing default action");
}

#[test]
fn oci_profiles() {
    let o = CompileOptions::new(Arch::X86_64);
    let e = |t: &str| compile_str("p.json", t, &o).unwrap_err().to_string();
    assert_eq!(
        e("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOPE\"}]}"),
        "p.json:2:45: unknown seccomp action \"SCMP_ACT_NOPE\""
    );
    assert!(e("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"], \"action\": 5}]}")
        .starts_with("p.json:2:45: invalid seccomp profile: invalid type: integer `5`"));
    assert_eq!(
        e("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 7, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}"),
        "p.json:2:12: argument index 7 out of range (0..5)"
    );
    assert_eq!(
        e("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_FOO\"}]}]}"),
        "p.json:2:42: unknown comparison \"SCMP_CMP_FOO\""
    );
    assert!(e("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"},\n{\"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\"}]}")
        .contains("syscall read has two unconditional actions (allow and kill-thread)"));
}

#[test]
fn missing_file() {
    let e = krsi_seccomp::compile_file(
        std::path::Path::new("/nonexistent/x.policy"),
        &CompileOptions::new(Arch::X86_64),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("/nonexistent/x.policy:0:0: cannot read policy:"),
        "{e}"
    );
}
