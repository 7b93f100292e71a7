//! The agent's main loop.
use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use krsi_bpf::libbpf_rs::{RingBuffer, RingBufferBuilder};
use krsi_policy::{Action, CompiledPolicy, Mode, PolicyError};
use serde_json::{json, Value};

use crate::abi;
use crate::cli::RunArgs;
use crate::event::{self, Clock, RuleMeta, RuleNames};
use crate::loader::{self, Backend, Loaded};
use crate::seal::{self, Seal};
use crate::slots::{self, Slots, Totals};
use crate::watch::PolicyWatch;

struct Sink {
    out: Box<dyn Write>,
}

impl Sink {
    fn emit<T: serde::Serialize>(&mut self, v: &T) {
        // A closed stdout (e.g. `| head`) must not kill the enforcing agent.
        if serde_json::to_writer(&mut self.out, v).is_ok() {
            let _ = self.out.write_all(b"\n");
            let _ = self.out.flush();
        }
    }
}

impl RuleNames for Slots {
    fn rule(&self, slot: u32, rule: u32) -> Option<RuleMeta> {
        RuleMeta::of(self.policies.get(slot as usize)?.as_ref()?, rule)
    }

    fn labels(&self, slot: u32) -> Vec<String> {
        self.policies
            .get(slot as usize)
            .and_then(|p| p.as_ref())
            .map(|p| p.taint_labels.clone())
            .unwrap_or_default()
    }

    fn note(&self, slot: u32, value: &str) -> Option<String> {
        let p = self.policies.get(slot as usize)?.as_ref()?;
        p.notes.get(value).cloned()
    }
}

/// The locked part of a policy, compiled, with the seal id it goes under.
struct Locked {
    id: String,
    policy: CompiledPolicy,
}

/// `labels`: taint labels an earlier policy gave out; they keep their bits,
/// since running processes carry them across a reload. Returns the part the
/// agent may replace and the part to seal (files with `lock: until-reboot`).
fn load_policy(
    args: &RunArgs,
    labels: &[String],
) -> Result<(CompiledPolicy, Option<Locked>), PolicyError> {
    let mut policy = match &args.policy {
        Some(path) => krsi_policy::parse_file(path)?,
        None => krsi_policy::parse_str(
            krsi_policy::DEFAULT_POLICY_NAME,
            krsi_policy::DEFAULT_POLICY,
        )?,
    };
    if args.monitor {
        // A trial run: every rule reports, none denies or kills, whatever
        // the files say (per-rule modes included).
        policy.mode = krsi_policy::Mode::Monitor;
        for r in &mut policy.rules {
            r.mode = Some(krsi_policy::Mode::Monitor);
        }
        for at in &policy.locks {
            tracing::warn!(
                "{}:{}:{}: lock left out: a --monitor trial seals nothing",
                at.file,
                at.line,
                at.column
            );
        }
    }
    let split = krsi_policy::lock::split(policy, args.monitor)?;
    let locked = match &split.locked {
        Some(l) => Some(Locked {
            id: krsi_policy::lock::seal_id(l),
            policy: krsi_policy::compile(l)?,
        }),
        None => None,
    };
    Ok((
        krsi_policy::compile_with_labels(&split.open, labels)?,
        locked,
    ))
}

/// The seals in force this boot, each with its own ring buffer.
struct Seals {
    seals: Vec<Rc<Seal>>,
    rings: Vec<RingBuffer<'static>>,
}

impl Seals {
    fn ids(&self) -> Vec<String> {
        self.seals.iter().map(|s| s.id.clone()).collect()
    }

    fn describe(&self) -> Vec<Value> {
        self.seals.iter().map(|s| s.describe()).collect()
    }

    /// Starts reading a seal's records (decoded with its own rule table).
    fn add(
        &mut self,
        seal: Seal,
        sink: &Rc<RefCell<Sink>>,
        clock: &Rc<RefCell<Clock>>,
        errs: &Rc<RefCell<u64>>,
    ) -> Result<()> {
        let seal = Rc::new(seal);
        let Some(events) = &seal.events else {
            self.seals.push(seal); // in force; its records are not read
            return Ok(());
        };
        let (s, sink, clock, errs) = (
            Rc::clone(&seal),
            Rc::clone(sink),
            Rc::clone(clock),
            Rc::clone(errs),
        );
        let mut b = RingBufferBuilder::new();
        b.add(events, move |data: &[u8]| {
            match event::decode(data, &*s, &clock.borrow()) {
                Ok(rec) => sink.borrow_mut().emit(&rec),
                Err(e) => {
                    *errs.borrow_mut() += 1;
                    tracing::warn!("undecodable record from seal {}: {e}", s.id);
                }
            }
            0
        })?;
        self.rings.push(b.build()?);
        self.seals.push(seal);
        Ok(())
    }

    /// Seals `locked` unless a seal of the same content is in force; the
    /// `policy_sealed` event, if it did.
    fn seal(
        &mut self,
        locked: Locked,
        sink: &Rc<RefCell<Sink>>,
        clock: &Rc<RefCell<Clock>>,
        errs: &Rc<RefCell<u64>>,
    ) -> Result<Option<Value>> {
        if self.seals.iter().any(|s| s.id == locked.id) {
            return Ok(None);
        }
        let source = locked.policy.source.clone();
        let rules = locked.policy.rules.len();
        let s = seal::seal(locked.policy, &locked.id)
            .with_context(|| format!("sealing {source} until reboot"))?;
        let ev = s.event();
        if s.sealed_now {
            tracing::warn!(
                "sealed {} rules until reboot as seal {} ({}): nothing can lift them before then",
                rules,
                s.id,
                s.dir.display()
            );
        }
        self.add(s, sink, clock, errs)?;
        Ok(Some(ev))
    }

    fn consume(&self) {
        for r in &self.rings {
            let _ = r.consume();
        }
    }
}

/// Rules the tracepoint backend cannot enforce (denies) or even see (every
/// hook but exec).
fn deny_rules(p: &CompiledPolicy) -> Vec<String> {
    p.rules
        .iter()
        .filter(|r| {
            (r.action == Action::Deny && r.mode == Mode::Enforce)
                || !matches!(
                    r.hook,
                    krsi_policy::Hook::BprmCheckSecurity | krsi_policy::Hook::BprmCommittedCreds
                )
        })
        .map(|r| r.name.clone())
        .collect()
}

fn report_warnings(p: &CompiledPolicy) {
    for w in &p.warnings {
        tracing::warn!("{w}");
    }
}

/// What changed between two policies, by rule name (maps: policies hold
/// thousands of rules).
fn diff(old: Option<&CompiledPolicy>, new: &CompiledPolicy) -> Value {
    let index = |rules: &'_ [krsi_policy::RuleInfo]| -> std::collections::HashMap<String, usize> {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect()
    };
    let old_rules = old.map(|p| p.rules.as_slice()).unwrap_or(&[]);
    let (old_ix, new_ix) = (index(old_rules), index(&new.rules));
    let added: Vec<&str> = new
        .rules
        .iter()
        .filter(|r| !old_ix.contains_key(&r.name))
        .map(|r| r.name.as_str())
        .collect();
    let removed: Vec<&str> = old_rules
        .iter()
        .filter(|r| !new_ix.contains_key(&r.name))
        .map(|r| r.name.as_str())
        .collect();
    let changed: Vec<&str> = new
        .rules
        .iter()
        .filter(|r| old_ix.get(&r.name).is_some_and(|&i| old_rules[i] != **r))
        .map(|r| r.name.as_str())
        .collect();
    json!({"added": added, "removed": removed, "changed": changed})
}

fn policy_event(
    kind: &str,
    p: &CompiledPolicy,
    old: Option<&CompiledPolicy>,
    backend: Backend,
) -> Value {
    let unenforceable = if backend == Backend::BpfLsm {
        vec![]
    } else {
        deny_rules(p)
    };
    json!({
        "time": event::now_rfc3339(),
        "event": kind,
        "policy": p.source,
        "rules": p.rules.len(),
        "identities": p.identity_count(),
        "clauses": p.clauses.len(),
        "taint_labels": p.taint_labels,
        "changes": diff(old, p),
        "warnings": p.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "unenforced_rules": unenforceable,
        "loadpin": p.loadpin_root.as_ref().map(|r| json!({
            "root": r.path,
            "dev": krsi_bpf::sys::dev_string(r.dev),
        })),
    })
}

pub fn run(args: RunArgs) -> Result<i32> {
    // The policy first: a bad file fails before anything touches the kernel.
    let (policy, locked) = load_policy(&args, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    report_warnings(&policy);

    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => Box::new(io::stdout()),
    };
    let sink = Rc::new(RefCell::new(Sink { out }));

    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&term))?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))?;

    loader::init_libbpf_logging();
    let loaded = loader::load(args.require_enforcement)?;
    let backend = loaded.backend;
    if locked.is_some() && backend != Backend::BpfLsm {
        anyhow::bail!(
            "the policy has locked files, and sealing needs the BPF LSM: {}",
            loaded.fallback_reason.as_deref().unwrap_or("not available")
        );
    }
    if let Some(reason) = &loaded.fallback_reason {
        tracing::warn!(
            "running report-only on the {} backend: {reason}",
            backend.name()
        );
        for r in &policy.rules {
            if r.hook == krsi_policy::Hook::FileOpen {
                tracing::warn!(
                    "rule `{}` (file_open) is neither enforced nor reported without the BPF LSM",
                    r.name
                );
            } else if r.action == Action::Deny && r.mode == Mode::Enforce {
                tracing::warn!(
                    "rule `{}` is not enforceable on this kernel: matches are reported as would_deny",
                    r.name
                );
            }
        }
    }

    let clock = Rc::new(RefCell::new(Clock::now()));
    let decode_errors = Rc::new(RefCell::new(0u64));
    // Sealing first: it cannot be undone, so a failure must leave nothing
    // else applied either.
    let mut seals = Seals {
        seals: Vec::new(),
        rings: Vec::new(),
    };
    let mut sealed_events = Vec::new();
    if let Some(l) = locked {
        sealed_events.extend(seals.seal(l, &sink, &clock, &decode_errors)?);
    }
    // Seals an earlier run of the agent made this boot go on reporting.
    for id in seal::existing() {
        if !seals.ids().contains(&id) {
            match seal::reattach(&id, None) {
                Ok(s) => {
                    sealed_events.push(s.event());
                    seals.add(s, &sink, &clock, &decode_errors)?;
                }
                Err(e) => {
                    tracing::warn!("seal {id} is in force, but its records cannot be read: {e:#}")
                }
            }
        }
    }

    let slots = Rc::new(RefCell::new(Slots::new()));
    let mut totals = Totals::new();
    let started_event = {
        let mut s = slots.borrow_mut();
        let ev = policy_event("agent_started", &policy, None, backend);
        slots::apply(&loaded, &mut s, policy, &mut totals).context("applying the policy")?;
        ev
    };
    let mut started = started_event;
    started["backend"] = json!(backend.name());
    started["enforcing"] = json!(backend == Backend::BpfLsm);
    started["pid"] = json!(std::process::id());
    if let Some(reason) = &loaded.fallback_reason {
        started["fallback_reason"] = json!(reason);
    }
    started["deny_events_carry_argv"] = json!(loaded.deny_argv);
    started["monitor"] = json!(args.monitor);
    started["sealed"] = json!(seals.ids());
    sink.borrow_mut().emit(&started);
    for ev in sealed_events {
        sink.borrow_mut().emit(&ev);
    }
    tracing::info!(
        "krsi running: backend {}, policy {}",
        backend.name(),
        started["policy"]
    );

    let ringbuf = {
        let (sink, slots, clock, errs) = (
            Rc::clone(&sink),
            Rc::clone(&slots),
            Rc::clone(&clock),
            Rc::clone(&decode_errors),
        );
        let mut b = RingBufferBuilder::new();
        b.add(&loaded.skel.maps.krsi_events, move |data: &[u8]| {
            match event::decode(data, &*slots.borrow(), &clock.borrow()) {
                Ok(rec) => sink.borrow_mut().emit(&rec),
                Err(e) => {
                    *errs.borrow_mut() += 1;
                    tracing::warn!("undecodable record: {e}");
                }
            }
            0
        })?;
        b.build()?
    };

    let status_server = crate::status::Server::bind(&args.status_socket)?;
    let mut watch = match (&args.policy, args.no_watch) {
        (Some(p), false) => match PolicyWatch::new(p) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "not watching {} for changes ({e}); SIGHUP reloads",
                    p.display()
                );
                None
            }
        },
        _ => None,
    };
    let started_at = Instant::now();
    // Modules that hid before the agent started: scanned once, as soon as
    // the policy has a module_load rule (the kernel side watches later loads).
    let mut modules_scanned = false;
    let mut lost_seen = 0u64;
    let mut last_tick = Instant::now();
    while !term.load(Ordering::Relaxed) {
        if let Err(e) = ringbuf.poll(Duration::from_millis(200)) {
            if e.kind() != krsi_bpf::libbpf_rs::ErrorKind::Interrupted {
                return Err(e).context("polling the ring buffer");
            }
        }
        seals.consume();
        let changed = watch.as_mut().is_some_and(PolicyWatch::poll);
        if hup.swap(false, Ordering::Relaxed) || changed {
            reload(
                &args,
                &loaded,
                &slots,
                &sink,
                &mut totals,
                &mut seals,
                &clock,
                &decode_errors,
            );
        }
        status_server.serve_pending(|| {
            let mut st = status(&loaded, &slots.borrow(), &totals, &started_at);
            st["sealed"] = json!(seals.describe());
            st
        });
        if !modules_scanned
            && slots.borrow().active_policy().is_some_and(|p| {
                p.rules
                    .iter()
                    .any(|r| r.hook == krsi_policy::Hook::ModuleLoad)
            })
        {
            modules_scanned = true;
            let sys = std::path::Path::new("/sys/module");
            // Modules the kernel side tracks (loaded since the programs were
            // attached) are its to report: no second record from the scan.
            let tracked = tracked_module_names(&loaded);
            for name in crate::modscan::hidden_modules(sys, "/proc/modules".as_ref())
                .into_iter()
                .filter(|n| !tracked.contains(n))
            {
                tracing::warn!("kernel module {name} is loaded but hidden from the module list");
                sink.borrow_mut().emit(&crate::modscan::event(&name));
            }
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            *clock.borrow_mut() = Clock::now();
            let lost = slots::read_counter(&loaded, abi::CNT_EVENTS_LOST).unwrap_or(lost_seen);
            if lost > lost_seen {
                sink.borrow_mut().emit(&json!({
                    "time": event::now_rfc3339(),
                    "event": "lost",
                    "count": lost - lost_seen,
                    "total": lost,
                }));
                lost_seen = lost;
            }
        }
    }
    // Drain what is already queued, then detach (dropping the links).
    let _ = ringbuf.consume();
    seals.consume();
    drop(ringbuf);
    drop(status_server);
    let mut summary = summarize(&loaded, &slots.borrow(), &totals, *decode_errors.borrow());
    summary["sealed"] = json!(seals.describe());
    if !seals.seals.is_empty() {
        tracing::warn!(
            "{} sealed polic{} stay in force until reboot",
            seals.seals.len(),
            if seals.seals.len() == 1 { "y" } else { "ies" }
        );
    }
    sink.borrow_mut().emit(&summary);
    print_summary(&summary);
    drop(loaded);
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
fn reload(
    args: &RunArgs,
    loaded: &Loaded,
    slots: &Rc<RefCell<Slots>>,
    sink: &Rc<RefCell<Sink>>,
    totals: &mut Totals,
    seals: &mut Seals,
    clock: &Rc<RefCell<Clock>>,
    errs: &Rc<RefCell<u64>>,
) {
    if args.policy.is_none() {
        tracing::info!("SIGHUP: running the embedded default policy; nothing to reload");
        return;
    }
    let labels = slots
        .borrow()
        .active_policy()
        .map(|p| p.taint_labels.clone())
        .unwrap_or_default();
    let result = load_policy(args, &labels)
        .map_err(|e| e.to_string())
        .and_then(|(p, locked)| {
            report_warnings(&p);
            // A new or changed locked file is sealed first (a failure leaves
            // everything as it was); earlier seals stay whatever the files
            // say now: that is what locked means.
            let sealed = match locked {
                Some(l) => seals
                    .seal(l, sink, clock, errs)
                    .map_err(|e| format!("{e:#}"))?,
                None => None,
            };
            let mut s = slots.borrow_mut();
            let mut ev = policy_event("policy_loaded", &p, s.active_policy(), loaded.backend);
            ev["sealed"] = json!(seals.ids());
            slots::apply(loaded, &mut s, p, totals).map_err(|e| format!("{e:#}"))?;
            Ok((ev, sealed))
        });
    match result {
        Ok((ev, sealed)) => {
            tracing::info!("policy reloaded: {}", ev["changes"]);
            if let Some(sealed) = sealed {
                sink.borrow_mut().emit(&sealed);
            }
            sink.borrow_mut().emit(&ev);
        }
        Err(e) => {
            tracing::error!("policy reload rejected; the previous policy stays in force:\n{e}");
            sink.borrow_mut().emit(&json!({
                "time": event::now_rfc3339(),
                "event": "policy_rejected",
                "policy": args.policy.as_ref().map(|p| p.display().to_string()),
                "error": e,
                "sealed": seals.ids(),
            }));
        }
    }
}

/// Per-rule totals so far: retired policies plus the active slot's live counters.
fn snapshot(loaded: &Loaded, slots: &Slots, totals: &Totals) -> Totals {
    let mut t = totals.clone();
    if let Some(active) = slots.active {
        slots::fold_totals(loaded, slots, active, &mut t);
    }
    t
}

fn rule_rows(t: &Totals) -> Vec<Value> {
    let mut rules: Vec<Value> = t
        .iter()
        .map(|(name, s)| {
            json!({"rule": name, "hits": s.hits, "denies": s.denies, "would_denies": s.would_denies,
                   "audits": s.audits, "kills": s.kills, "taints": s.taints,
                   "suppressed": s.suppressed, "dropped": s.dropped})
        })
        .collect();
    rules.sort_by(|a, b| a["rule"].as_str().cmp(&b["rule"].as_str()));
    rules
}

fn summarize(loaded: &Loaded, slots: &Slots, totals: &Totals, decode_errors: u64) -> Value {
    json!({
        "time": event::now_rfc3339(),
        "event": "agent_stopped",
        "events_lost": slots::read_counter(loaded, abi::CNT_EVENTS_LOST).unwrap_or(0),
        "paths_truncated": slots::read_counter(loaded, abi::CNT_PATH_TRUNCATED).unwrap_or(0),
        "undecodable_records": decode_errors,
        "rules": rule_rows(&snapshot(loaded, slots, totals)),
    })
}

fn status(loaded: &Loaded, slots: &Slots, totals: &Totals, started: &Instant) -> Value {
    let active = slots.active_policy();
    json!({
        "backend": loaded.backend.name(),
        "enforcing": loaded.backend == Backend::BpfLsm,
        "policy": active.map(|p| p.source.clone()),
        "uptime_seconds": started.elapsed().as_secs(),
        "events_lost": slots::read_counter(loaded, abi::CNT_EVENTS_LOST).unwrap_or(0),
        "rules": rule_rows(&snapshot(loaded, slots, totals)),
    })
}

fn print_summary(summary: &Value) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "krsi: stopped; events lost to a full ring buffer: {}",
        summary["events_lost"]
    );
    let _ = crate::status::write_rules(&mut err, summary);
}

/// Names of the modules in the kernel's hidden-module watch (krsi_modules:
/// struct tracked_module, its name after the header, load time and flags).
fn tracked_module_names(loaded: &Loaded) -> std::collections::HashSet<String> {
    use krsi_bpf::libbpf_rs::{MapCore, MapFlags};
    const NAME_AT: usize = std::mem::size_of::<abi::EventHdr>() + 16;
    let map = &loaded.skel.maps.krsi_modules;
    map.keys()
        .filter_map(|k| map.lookup(&k, MapFlags::ANY).ok().flatten())
        .filter_map(|v| {
            let name = v.get(NAME_AT..NAME_AT + abi::MODULE_NAME_LEN)?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            Some(String::from_utf8_lossy(&name[..end]).into_owned())
        })
        .collect()
}
