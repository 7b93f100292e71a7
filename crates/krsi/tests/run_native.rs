//! `krsi run` on the host's own kernel: whatever backend it picks (the
//! tracepoint fallback on hosts without the BPF LSM), an exec by a child of
//! this test shows up as a JSON event with its argv, pid and ppid.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn is_root() -> bool {
    // SAFETY: no arguments.
    unsafe { libc::geteuid() == 0 }
}

fn read_events(path: &Path) -> Vec<Value> {
    let Ok(f) = std::fs::File::open(path) else {
        return vec![];
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

fn wait_for(path: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = read_events(path).into_iter().find(|v| pred(v)) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} event in {}",
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_streams_exec_events_of_a_child() {
    if !is_root() {
        eprintln!("skipped: loading BPF programs needs root");
        return;
    }
    let dir = std::env::temp_dir().join(format!("krsi-native-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let events = dir.join("events.json");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_krsi"))
        .args(["run", "--output"])
        .arg(&events)
        .arg("--status-socket")
        .arg(dir.join("krsi.sock"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = wait_for(&events, "agent_started", |v| v["event"] == "agent_started");
    let backend = started["backend"].as_str().unwrap().to_string();
    assert!(backend == "bpf-lsm" || backend == "tracepoint", "{started}");
    if backend == "tracepoint" {
        assert_eq!(started["enforcing"], false);
        assert!(started["fallback_reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()));
    }

    let marker = format!("krsi-native-marker-{}", std::process::id());
    let child = Command::new("/bin/true")
        .args([marker.as_str(), "second arg"])
        .spawn()
        .unwrap();
    let child_pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());

    let ev = wait_for(&events, "exec", |v| {
        v["event"] == "exec"
            && v["argv"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == marker.as_str()))
    });
    assert_eq!(ev["action"], "audit");
    assert_eq!(ev["rule"], "exec-audit");
    assert_eq!(ev["backend"], backend.as_str());
    assert_eq!(ev["process"]["pid"], child_pid);
    assert_eq!(ev["process"]["ppid"], std::process::id());
    assert_eq!(
        ev["argv"],
        serde_json::json!(["/bin/true", marker, "second arg"])
    );
    assert_eq!(ev["filename"], "/bin/true");
    let exe = ev["process"]["exe"].as_str().unwrap();
    assert!(exe.ends_with("/true"), "{ev}");

    // The status socket answers with the rule's live counters.
    let out = Command::new(env!("CARGO_BIN_EXE_krsi"))
        .args(["status", "--json", "--socket"])
        .arg(dir.join("krsi.sock"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["backend"], backend.as_str());
    assert!(
        status["rules"][0]["audits"].as_u64().unwrap() >= 1,
        "{status}"
    );

    // SIGTERM: clean exit with a summary.
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    let status = agent.wait().unwrap();
    assert!(status.success(), "agent exited with {status}");
    let stopped = wait_for(&events, "agent_stopped", |v| v["event"] == "agent_stopped");
    assert!(
        stopped["rules"][0]["audits"].as_u64().unwrap() >= 1,
        "{stopped}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_policy_fails_before_loading_anything() {
    let dir = std::env::temp_dir().join(format!("krsi-badpol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("bad.yaml");
    std::fs::write(
        &policy,
        "rules:\n  - name: x\n    hook: exec\n    action: explode\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_krsi"))
        .arg("run")
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:4:13: unknown action `explode`",
            policy.display()
        )),
        "stderr: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
