//! `cargo xtask vm-test`: boot the Debian kernel (real BPF LSM) under QEMU/TCG
//! with our initramfs, run the scenarios and turn the serial console into a
//! pass/fail result.
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::{initramfs, util};

#[derive(Debug, Clone, Args)]
pub struct VmTestArgs {
    /// Run only scenarios whose name contains this string (comma-separated:
    /// any of them).
    #[arg(long)]
    pub filter: Option<String>,
    /// Run tests/vm/bench/*.sh instead of the scenarios.
    #[arg(long)]
    pub bench: bool,
    /// Keep the VM up after the scenarios with a shell on the console
    /// (interactive debugging; no overall timeout).
    #[arg(long)]
    pub keep: bool,
    /// Kernel image to boot (default: newest /boot/vmlinuz-*).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Hard limit for the whole VM run, in seconds (default: 3000 for the
    /// scenarios, 3600 for --bench).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Default per-scenario limit inside the VM, in seconds (a scenario may
    /// raise its own with a `# krsi-timeout: SECS` line).
    #[arg(long, default_value_t = 120)]
    pub scenario_timeout: u64,
    /// Guest CPUs.
    #[arg(long, default_value_t = 2)]
    pub smp: u32,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory: u32,
    /// Echo the whole serial console, not only results.
    #[arg(long, short)]
    pub verbose: bool,
    /// Run the scenarios of this directory instead of tests/vm/scenarios.
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Pack this krsi binary instead of building it (`cargo build --release -p krsi`).
    #[arg(long, value_name = "PATH")]
    pub krsi: Option<PathBuf>,
    /// Boot without the test USB stick and virtio disk (to measure what
    /// they cost; 45-usb-storage then fails).
    #[arg(long)]
    pub no_test_disks: bool,
}

pub fn vm_test(args: &VmTestArgs) -> Result<()> {
    let started = Instant::now();
    if let Some(f) = &args.filter {
        // The filter travels on the kernel command line: keep it one token.
        if f.is_empty()
            || f.chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'')
        {
            bail!("--filter must be non-empty, without spaces or quotes");
        }
    }
    let ws = util::workspace()?;
    let kernel = match &args.kernel {
        Some(k) => k.clone(),
        None => util::default_kernel()?,
    };
    if !kernel.is_file() {
        bail!("kernel {} not found", kernel.display());
    }
    let krsi = match &args.krsi {
        Some(k) if k.is_file() => k.clone(),
        Some(k) => bail!("--krsi {}: no such file", k.display()),
        None => util::build_krsi_release(&ws)?,
    };
    let release = util::kernel_release(&kernel);
    let built = initramfs::build(&initramfs::Inputs {
        ws: &ws,
        krsi: &krsi,
        kernel_release: release.as_deref(),
        bench: args.bench,
        scenarios: args.scenarios.as_deref(),
    })?;
    eprintln!(
        "xtask: initramfs {} ({:.1} MiB compressed, {:.1} MiB unpacked)",
        built.path.display(),
        built.compressed_bytes as f64 / 1048576.0,
        built.payload_bytes as f64 / 1048576.0
    );

    let disks = if args.no_test_disks {
        None
    } else {
        Some(crate::testdevs::build_disks(
            &ws.target_dir.join("vm").join("disks"),
        )?)
    };

    let mode = if args.bench { "bench" } else { "test" };
    let mut append = format!(
        // loglevel=5: warnings and backtraces (KERN_DEFAULT) reach the
        // console; softlockup_panic: a CPU stuck in the kernel ends the run
        // with its stack instead of running into the overall timeout.
        "console=ttyS0 quiet loglevel=5 softlockup_panic=1 panic=-1 krsi.mode={mode} krsi.timeout={}",
        args.scenario_timeout
    );
    if let Some(f) = &args.filter {
        append.push_str(&format!(" krsi.filter={f}"));
    }
    if args.keep {
        append.push_str(" krsi.keep=1");
    }
    let mut cmd = Command::new("qemu-system-x86_64");
    // TCG only: KVM guests hang on this host (nested Firecracker).
    cmd.args(["-accel", "tcg", "-cpu", "max", "-nic", "none"])
        .args(["-smp", &args.smp.to_string()])
        .args(["-m", &args.memory.to_string()])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&built.path)
        .args(["-append", &append, "-nographic", "-no-reboot"])
        // Every VM has them (one VM runs all scenarios): USB stick + virtio disk.
        .args(disks.map(|d| d.qemu_args()).unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(if args.keep {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    let log_path = ws.target_dir.join("vm").join("console.log");
    let mut log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    eprintln!(
        "xtask: booting {} (console: {})",
        kernel.display(),
        log_path.display()
    );
    let boot = Instant::now();
    let child = cmd
        .spawn()
        .context("starting qemu-system-x86_64 (run `cargo xtask deps`)")?;
    // Killed on every exit path (errors included): no orphaned VMs.
    let mut child = KillOnDrop(child);
    let mut stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    // Chunks, not lines: an interactive prompt (--keep) has no newline yet.
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let limit = args.timeout.unwrap_or(if args.bench { 3600 } else { 3000 });
    let deadline = (!args.keep).then(|| boot + Duration::from_secs(limit));
    let echo = args.verbose || args.keep;
    let mut run = Run::new(args.bench);
    let mut timed_out = false;
    let mut first_scenario_at = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut handle_line = |raw: &[u8], run: &mut Run| {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches(['\n', '\r']);
        for ev in run.feed(line) {
            report(&ev, args, run, boot, &mut first_scenario_at);
        }
    };
    loop {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left,
                None => {
                    timed_out = true;
                    break;
                }
            },
            None => Duration::from_secs(3600),
        };
        let chunk = match rx.recv_timeout(wait) {
            Ok(chunk) => chunk,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        log.write_all(&chunk)?;
        if echo {
            let mut out = std::io::stdout().lock();
            out.write_all(&chunk)?;
            out.flush()?;
        }
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            handle_line(&line, &mut run);
        }
    }
    if !pending.is_empty() {
        handle_line(&pending, &mut run);
    }
    if timed_out {
        let _ = child.0.kill();
    }
    let status = child.0.wait()?;
    let _ = reader.join();
    log.flush()?;

    let outcome = run.finish(timed_out);
    if let Some(t) = first_scenario_at {
        eprintln!("xtask: boot to first scenario: {t:.1}s");
    }
    eprintln!(
        "xtask: vm-test wall time {:.1}s (VM {:.1}s), qemu {status}",
        started.elapsed().as_secs_f64(),
        boot.elapsed().as_secs_f64()
    );
    for p in &outcome.problems {
        eprintln!("xtask: {p}");
    }
    println!("{}", outcome.summary_line());
    if outcome.ok() {
        Ok(())
    } else {
        bail!("vm-test failed (full console: {})", log_path.display())
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Harmless after a normal exit: the child is already reaped.
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn report(ev: &Event, args: &VmTestArgs, run: &Run, boot: Instant, first: &mut Option<f64>) {
    let t = boot.elapsed().as_secs_f64();
    match ev {
        Event::Begin(name) => {
            first.get_or_insert(t);
            eprintln!("[{t:7.1}s] {name} ...");
        }
        Event::End(r) => {
            let timeout = if r.timed_out { " (timed out)" } else { "" };
            eprintln!(
                "[{t:7.1}s] {} {}{timeout} rc={} in {}",
                r.name,
                r.status.as_str(),
                r.rc,
                r.secs.as_deref().unwrap_or("?")
            );
            // Benches print figures; failed scenarios print why.
            let show = run.bench || r.status == Status::Fail;
            if show && !args.verbose {
                for l in &r.output {
                    println!("    | {l}");
                }
            }
        }
        Event::Panic(line) => eprintln!("[{t:7.1}s] KERNEL: {line}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioResult {
    pub name: String,
    pub status: Status,
    pub rc: i32,
    pub secs: Option<String>,
    pub timed_out: bool,
    pub output: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum Event {
    Begin(String),
    End(ScenarioResult),
    Panic(String),
}

const BEGIN: &str = "KRSI-SCENARIO-BEGIN ";
const END: &str = "KRSI-SCENARIO-END ";
const DONE: &str = "KRSI-VM-DONE";
/// Kernel log lines that mean the kernel itself misbehaved.
const KERNEL_TROUBLE: &[&str] = &[
    "BUG: ",
    "Oops: ",
    "WARNING: CPU: ",
    "general protection fault",
    "watchdog: BUG: soft lockup",
    "INFO: task ",
];

/// Console parser and result accumulator (pure, so it is unit-tested).
#[derive(Debug, Default)]
pub struct Run {
    bench: bool,
    current: Option<(String, Vec<String>)>,
    results: Vec<ScenarioResult>,
    problems: Vec<String>,
    panicked: bool,
    done: bool,
}

pub struct Outcome {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.problems.is_empty() && self.passed + self.skipped > 0
    }

    pub fn summary_line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

impl Run {
    pub fn new(bench: bool) -> Self {
        Self {
            bench,
            ..Self::default()
        }
    }

    pub fn feed(&mut self, line: &str) -> Vec<Event> {
        let mut events = Vec::new();
        if line.contains("Kernel panic - not syncing") {
            self.panicked = true;
            events.push(Event::Panic(line.to_string()));
        } else if KERNEL_TROUBLE.iter().any(|t| line.contains(t)) {
            // A kernel BUG/oops/WARN during a run is a defect even when the
            // scenario happened to pass (e.g. a BPF program tripping a WARN).
            self.problems
                .push(format!("kernel reported: {}", line.trim()));
            events.push(Event::Panic(line.to_string()));
        }
        // Markers may follow output that lacked a trailing newline, so look
        // for them anywhere in the line; the text before belongs to the output.
        if let Some(pos) = line.find(END) {
            self.push_output(&line[..pos]);
            if let Some(r) = self.end(&line[pos + END.len()..]) {
                events.push(Event::End(r));
            }
        } else if let Some(pos) = line.find(BEGIN) {
            self.push_output(&line[..pos]);
            let name = line[pos + BEGIN.len()..].trim().to_string();
            if let Some((prev, _)) = self.current.take() {
                self.problems
                    .push(format!("scenario {prev} started but never ended"));
            }
            self.current = Some((name.clone(), Vec::new()));
            events.push(Event::Begin(name));
        } else if line.contains(DONE) {
            self.done = true;
        } else {
            self.push_output(line);
        }
        events
    }

    fn push_output(&mut self, text: &str) {
        if let Some((_, out)) = &mut self.current {
            if !text.is_empty() {
                out.push(text.to_string());
            }
        }
    }

    /// Parse "NAME STATUS rc=N [secs=S] [timeout]".
    fn end(&mut self, rest: &str) -> Option<ScenarioResult> {
        let mut words = rest.split_whitespace();
        let name = words.next()?.to_string();
        let status = match words.next() {
            Some("PASS") => Status::Pass,
            Some("SKIP") => Status::Skip,
            _ => Status::Fail,
        };
        let mut rc = -1;
        let mut secs = None;
        let mut timed_out = false;
        for w in words {
            if let Some(v) = w.strip_prefix("rc=") {
                rc = v.parse().unwrap_or(-1);
            } else if let Some(v) = w.strip_prefix("secs=") {
                secs = Some(format!("{v}s"));
            } else if w == "timeout" {
                timed_out = true;
            }
        }
        let output = match self.current.take() {
            Some((cur, out)) if cur == name => out,
            Some((cur, out)) => {
                self.problems.push(format!(
                    "scenario {cur} was interrupted by the end of {name}"
                ));
                out
            }
            None => Vec::new(),
        };
        let r = ScenarioResult {
            name,
            status,
            rc,
            secs,
            timed_out,
            output,
        };
        self.results.push(r.clone());
        Some(r)
    }

    pub fn finish(mut self, timed_out: bool) -> Outcome {
        if let Some((name, _)) = self.current.take() {
            self.problems
                .push(format!("scenario {name} started but never ended"));
        }
        if timed_out {
            self.problems
                .push("the VM hit the overall timeout (--timeout)".into());
        }
        if self.panicked {
            self.problems.push("the kernel panicked".into());
        }
        if !self.done && !timed_out && !self.panicked {
            self.problems
                .push("the VM stopped before init reported completion".into());
        }
        if self.results.is_empty() {
            self.problems.push("no scenario ran".into());
        }
        let count = |s| self.results.iter().filter(|r| r.status == s).count();
        Outcome {
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            skipped: count(Status::Skip),
            problems: self.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(run: &mut Run, text: &str) -> Vec<Event> {
        text.lines().flat_map(|l| run.feed(l)).collect()
    }

    #[test]
    fn pass_fail_skip_are_counted() {
        let mut run = Run::new(false);
        let evs = feed_all(
            &mut run,
            "[    1.0] booting\n\
             KRSI-SCENARIO-BEGIN 00-boot\n\
             all good\n\
             KRSI-SCENARIO-END 00-boot PASS rc=0 secs=1.5\n\
             KRSI-SCENARIO-BEGIN 10-deny\n\
             FAIL: expected EPERM\n\
             KRSI-SCENARIO-END 10-deny FAIL rc=1 secs=3.0\n\
             KRSI-SCENARIO-BEGIN 11-skip\n\
             KRSI-SCENARIO-END 11-skip SKIP rc=77 secs=0.1\n\
             KRSI-VM-DONE\n",
        );
        assert_eq!(evs.len(), 6);
        match &evs[3] {
            Event::End(r) => {
                assert_eq!(r.name, "10-deny");
                assert_eq!(r.status, Status::Fail);
                assert_eq!(r.rc, 1);
                assert_eq!(r.output, vec!["FAIL: expected EPERM".to_string()]);
            }
            e => panic!("unexpected {e:?}"),
        }
        let o = run.finish(false);
        assert_eq!(o.summary_line(), "1 passed, 1 failed, 1 skipped");
        assert!(!o.ok());
        assert!(o.problems.is_empty());
    }

    #[test]
    fn marker_after_unterminated_output_is_found() {
        let mut run = Run::new(false);
        feed_all(
            &mut run,
            "KRSI-SCENARIO-BEGIN a\nno newline hereKRSI-SCENARIO-END a PASS rc=0\nKRSI-VM-DONE\n",
        );
        assert_eq!(run.results[0].output, vec!["no newline here".to_string()]);
        let o = run.finish(false);
        assert!(o.ok());
        assert_eq!(o.summary_line(), "1 passed, 0 failed");
    }

    #[test]
    fn missing_end_panic_timeout_and_empty_runs_fail() {
        let mut run = Run::new(false);
        feed_all(&mut run, "KRSI-SCENARIO-BEGIN a\n");
        let o = run.finish(false);
        assert!(!o.ok());
        assert!(o
            .problems
            .iter()
            .any(|p| p.contains("a started but never ended")));

        let mut run = Run::new(false);
        let evs = feed_all(
            &mut run,
            "KRSI-SCENARIO-BEGIN a\n[ 3.1] Kernel panic - not syncing: Attempted to kill init!\n",
        );
        assert!(matches!(evs[1], Event::Panic(_)));
        assert!(run
            .finish(false)
            .problems
            .iter()
            .any(|p| p.contains("panicked")));

        let mut run = Run::new(false);
        feed_all(
            &mut run,
            "KRSI-SCENARIO-BEGIN a\n[ 9.0] BUG: kernel NULL pointer dereference, address: 0\n\
             KRSI-SCENARIO-END a PASS rc=0\nKRSI-VM-DONE\n",
        );
        let o = run.finish(false);
        assert_eq!(o.summary_line(), "1 passed, 0 failed");
        assert!(!o.ok(), "a kernel BUG must fail the run");

        let run = Run::new(false);
        let o = run.finish(true);
        assert!(o.problems.iter().any(|p| p.contains("timeout")));
        assert!(o.problems.iter().any(|p| p.contains("no scenario ran")));
        assert_eq!(o.summary_line(), "0 passed, 0 failed");

        // A clean shutdown without the completion marker means init died.
        let mut run = Run::new(false);
        feed_all(
            &mut run,
            "KRSI-SCENARIO-BEGIN a\nKRSI-SCENARIO-END a PASS rc=0\n",
        );
        assert!(!run.finish(false).ok());
    }

    #[test]
    fn timeout_flag_and_all_skipped() {
        let mut run = Run::new(false);
        let evs = feed_all(
            &mut run,
            "KRSI-SCENARIO-BEGIN a\nKRSI-SCENARIO-END a FAIL rc=137 secs=120.0 timeout\n\
             KRSI-SCENARIO-BEGIN b\nKRSI-SCENARIO-END b SKIP rc=77\nKRSI-VM-DONE\n",
        );
        assert!(matches!(&evs[1], Event::End(r) if r.timed_out && r.rc == 137));
        let o = run.finish(false);
        assert_eq!(o.summary_line(), "0 passed, 1 failed, 1 skipped");
    }
}
