//! Host-side tests of tests/vm/lib.sh and the test programs: the scenario
//! helpers run under the same busybox ash as in the VM, against a fake agent,
//! so mistakes in them show up in `cargo test` instead of as confusing VM
//! failures.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

struct Env {
    dir: PathBuf,
    try_exec: PathBuf,
    exec_bench: PathBuf,
    true_bin: PathBuf,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Compile the test programs once per test binary.
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        for tool in ["busybox", "jq", "gcc"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{tool} is needed by these tests: run `cargo xtask deps`"
            );
        }
        // Under the target dir (…/debug/deps/xtask-HASH -> …/debug), so
        // nothing is left in /tmp; recreated on each run.
        let exe = std::env::current_exe().unwrap();
        let dir = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("xtask-libsh-tests");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let compile = |name: &str| {
            let out = dir.join(name);
            let src = repo().join(format!("tests/vm/progs/{name}.c"));
            let st = Command::new("gcc")
                .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
                .arg(&out)
                .arg(&src)
                .status()
                .unwrap();
            assert!(st.success(), "compiling {}", src.display());
            out
        };
        Env {
            try_exec: compile("try_exec"),
            exec_bench: compile("exec_bench"),
            true_bin: compile("true"),
            dir,
        }
    })
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run `script` in busybox ash after `set -eu; . lib.sh`, in a fresh work dir.
fn sh(name: &str, script: &str) -> Out {
    let e = env();
    let work = e.dir.join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let lib = repo().join("tests/vm/lib.sh");
    let full = format!("set -eu\n. {}\n{script}", lib.display());
    let out = Command::new("busybox")
        .args(["sh", "-c", &full])
        .current_dir(&work)
        .env("EVENTS", work.join("events.json"))
        .env("TRY_EXEC", &e.try_exec)
        .env("TRUE", &e.true_bin)
        .env("EXEC_BENCH", &e.exec_bench)
        .env("WORK", &work)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn wait_event_finds_events_and_marks_hide_old_ones() {
    let o = sh(
        "wait",
        r#"
        echo '{"event":"exec","filename":"/a"}' >"$EVENTS"
        printf '{"event":"exec","filename":"/partial' >>"$EVENTS"
        ev=$(wait_event '.filename == "/a"' 2)
        echo "got $ev"
        assert_eq 1 "$(count_events '.event == "exec"')" count
        mark_events
        (sleep 0.3; echo '"}' >>"$EVENTS"; echo '{"event":"exec","filename":"/b"}' >>"$EVENTS") &
        wait_event '.filename == "/b"' 3
        no_event '.filename == "/a"'
        # The line still being written at the mark counts as after it.
        assert_eq 2 "$(count_events '.event == "exec"')" "count after mark"
        assert_eq 1 "$(count_events '.filename == "/partial"')" "completed line"
        "#,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(r#"got {"event":"exec","filename":"/a"}"#),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains(r#"{"event":"exec","filename":"/b"}"#),
        "{}",
        o.stdout
    );
}

#[test]
fn wait_event_timeout_fails_with_the_events_tail() {
    let o = sh(
        "timeout",
        r#"
        echo '{"event":"other"}' >"$EVENTS"
        x=$(wait_event '.event == "never"' 1)
        echo "not reached"
        "#,
    );
    assert_eq!(o.code, 1);
    assert!(!o.stdout.contains("not reached"));
    assert!(o.stderr.contains(r#"{"event":"other"}"#), "{}", o.stderr);
    assert!(o
        .stderr
        .contains("FAIL: no event matching '.event == \"never\"' within 1s"));
}

#[test]
fn bad_filters_fail_at_once_and_runtime_errors_do_not_match() {
    let o = sh("badfilter", r#"wait_event '.event ==' 30"#);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("FAIL: bad jq filter"), "{}", o.stderr);

    // `startswith` on a number is a jq runtime error: no match, no abort of
    // the remaining events.
    let o = sh(
        "runtime",
        r#"
        echo '{"filename":1}' >"$EVENTS"
        echo '{"filename":"/x/y"}' >>"$EVENTS"
        wait_event '.filename | startswith("/x")' 2
        "#,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("/x/y"));
}

#[test]
fn no_event_fails_on_a_match() {
    let o = sh(
        "noevent",
        r#"
        echo '{"action":"deny"}' >"$EVENTS"
        no_event '.action == "deny"'
        "#,
    );
    assert_eq!(o.code, 1);
    assert!(o
        .stderr
        .contains(r#"unexpected event matching '.action == "deny"': {"action":"deny"}"#));
}

#[test]
fn expect_exec_errno_distinguishes_outcomes() {
    let o = sh(
        "exec",
        r#"
        expect_exec_errno OK "$TRUE"
        expect_exec_errno ENOENT /no/such/file
        printf '#!/bin/sh\n' >noexec
        chmod 644 noexec
        expect_exec_errno EACCES ./noexec
        expect_exec_errno EPERM "$TRUE"
        "#,
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o
        .stdout
        .contains("errno=ENOENT (No such file or directory): /no/such/file"));
    assert!(
        o.stderr.contains("expected EPERM, got OK (rc=0)"),
        "{}",
        o.stderr
    );

    let o = sh("exec2", r#"expect_exec_errno OK /no/such/file"#);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("expected OK, got ENOENT (rc=126)"),
        "{}",
        o.stderr
    );
}

/// A stand-in for `krsi run --output FILE ARGS`: behaviour picked by ARGS.
const FAKE_AGENT: &str = r#"#!/bin/sh
[ "$1" = run ] && [ "$2" = --output ] || { echo "bad args: $*" >&2; exit 2; }
out=$3
case "${4:-}" in
die) echo "policy.yaml:3:7: unknown hook" >&2; exit 2 ;;
hang) exec sleep 1000 ;;
esac
trap 'echo "{\"event\":\"agent_stopped\"}" >>"$out"; exit 0' TERM
trap 'exit 3' HUP
echo '{"event":"agent_started","backend":"bpf-lsm"}' >>"$out"
while :; do sleep 0.05; done
"#;

fn fake_agent(name: &str) -> String {
    let path = env().dir.join(format!("fake-krsi-{name}"));
    std::fs::write(&path, FAKE_AGENT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("KRSI={}\n", path.display())
}

#[test]
fn agent_lifecycle() {
    let o = sh(
        "agent",
        &(fake_agent("ok")
            + r#"
        start_agent
        agent_running || fail "not running"
        assert_eq bpf-lsm "$(agent_backend)" backend
        stop_agent
        agent_running && fail "still running"
        wait_event '.event == "agent_stopped"' 2 >/dev/null
        start_agent
        rc=0
        stop_agent HUP || rc=$?
        assert_eq 3 "$rc" "status after HUP"
        echo lifecycle-ok
        "#),
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("lifecycle-ok"));
}

#[test]
fn agent_that_dies_or_hangs_fails_with_its_stderr() {
    let o = sh("die", &(fake_agent("die") + "start_agent die\n"));
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("agent exited with status 2 before agent_started (krsi run die)"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("policy.yaml:3:7: unknown hook"),
        "{}",
        o.stderr
    );

    let o = sh(
        "hang",
        &(fake_agent("hang")
            + "AGENT_START_TIMEOUT=1\nif try_start_agent hang; then echo started; else echo \"why: $AGENT_WHY\"; fi\n"),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("why: agent not started after 1s (krsi run hang)"),
        "{}",
        o.stdout
    );
}

#[test]
fn skip_exits_77() {
    let o = sh("skip", "skip 'no BPF LSM'\necho not-reached");
    assert_eq!(o.code, 77);
    assert!(o.stderr.contains("SKIP: no BPF LSM"));
    assert!(!o.stdout.contains("not-reached"));
}

#[test]
fn exec_bench_reports_percentiles_and_rejects_failing_programs() {
    let e = env();
    let samples = e.dir.join("bench.samples");
    let _ = std::fs::remove_file(&samples);
    let run = |args: &[&str]| {
        let o = Command::new(&e.exec_bench).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let s = samples.to_str().unwrap();
    let t = e.true_bin.to_str().unwrap();
    let (code, out) = run(&["-n", "50", "-w", "5", "-o", s, t]);
    assert_eq!(code, Some(0));
    let field = |out: &str, k: &str| -> f64 {
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {out}"))
            .parse()
            .unwrap()
    };
    let (p50, p99, min) = (
        field(&out, "p50_us"),
        field(&out, "p99_us"),
        field(&out, "min_us"),
    );
    assert!(min > 0.0 && min <= p50 && p50 <= p99, "{out}");
    assert_eq!(field(&out, "runs"), 50.0);
    run(&["-n", "30", "-w", "0", "-o", s, t]);
    let (code, out) = run(&["-s", s]);
    assert_eq!(code, Some(0));
    assert_eq!(field(&out, "runs"), 80.0, "{out}");

    let (code, _) = run(&["-n", "3", "/bin/false"]);
    assert_eq!(code, Some(1));
    std::fs::write(&samples, "12.5\nabc\n").unwrap();
    let o = Command::new(&e.exec_bench)
        .args(["-s", s])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{s}:2:1: not a sample")), "{err}");
}
