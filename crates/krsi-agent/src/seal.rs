//! Sealing a locked policy until reboot (`lock: until-reboot`).
//!
//! The locked files' rules get a BPF instance of their own: a second copy
//! of the programs and maps, with the policy lock's programs
//! (bpf/hooks/lock.h). The agent's own instance stays replaceable; the
//! sealed one is written once and then:
//!
//! 1. its links are pinned under `/sys/fs/bpf/krsi/sealed/<seal id>/`, so
//!    the agent's exit (or SIGKILL) leaves them attached;
//! 2. the lock is armed with the ids of its links and maps and the pin
//!    directory's identity, after which its programs refuse detaching the
//!    links, new descriptors for the maps, removing the pins and unmounting
//!    their bpffs;
//! 3. its maps are frozen, so not even a descriptor the agent still holds
//!    can change them from user space;
//! 4. the agent closes every descriptor but the ring buffer's and the rule
//!    counters', which it reopens from their pins (the lock lets anyone
//!    reopen those two, so a restarted agent goes on reporting).
//!
//! The kernel allows every LSM its say, so a sealed instance denies whatever
//! the agent's replaceable policy allows: a policy can be raised after
//! sealing, never lowered.
use std::fs;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use krsi_bpf::libbpf_rs::skel::Skel;
use krsi_bpf::libbpf_rs::{self, MapCore, MapFlags, MapHandle};
use krsi_bpf::sys;
use krsi_policy::CompiledPolicy;

use crate::abi::{self, Pod, RuleStats};
use crate::event::{RuleMeta, RuleNames};
use crate::loader;
use crate::slots::{self, Slots, Totals};

/// Where seals are pinned, one directory per seal id.
pub const SEAL_ROOT: &str = "/sys/fs/bpf/krsi/sealed";

const EVENTS_PIN: &str = "events";
/// A seal being made (bpffs refuses names with a dot).
const PARTIAL: &str = "partial-";
const STATS_PIN: &str = "rule_stats";

pub struct Seal {
    pub id: String,
    pub dir: PathBuf,
    /// The seal's ring buffer and rule counters, unless another krsi build
    /// made the seal (its records would be misread: see `abi_mark`).
    pub events: Option<MapHandle>,
    stats: Option<MapHandle>,
    /// Why the records are not read, when they are not.
    pub unread: Option<String>,
    /// The policy as sealed, when this agent knows it (it names the rules
    /// in records). A seal made by an earlier run of the agent, from files
    /// that have changed since, is reported by rule number.
    pub policy: Option<CompiledPolicy>,
    /// Whether this agent made the seal (else it found it already there).
    pub sealed_now: bool,
    /// Maps the kernel would not freeze (e.g. ones holding a bpf_timer);
    /// no descriptor for them exists any more, so nothing can write them.
    pub unfrozen: Vec<String>,
    /// Kernel memory of the seal's maps (only when sealed_now).
    pub map_bytes: u64,
}

impl RuleNames for Seal {
    fn rule(&self, _slot: u32, rule: u32) -> Option<RuleMeta> {
        RuleMeta::of(self.policy.as_ref()?, rule)
    }

    fn note(&self, _slot: u32, value: &str) -> Option<String> {
        self.policy.as_ref()?.notes.get(value).cloned()
    }

    fn seal(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Seal {
    /// Per-rule counters summed over both slots (one of them is empty).
    pub fn rule_stats(&self, rules: usize) -> Vec<RuleStats> {
        (0..rules as u32)
            .map(|r| {
                let mut total = RuleStats::default();
                for slot in 0..2 {
                    if let Some(Ok(s)) = self
                        .stats
                        .as_ref()
                        .map(|m| slots::read_rule_stats_from(m, slot, r))
                    {
                        total.add(&s);
                    }
                }
                total
            })
            .collect()
    }

    pub fn describe(&self) -> serde_json::Value {
        let rules = self.policy.as_ref().map(|p| {
            let stats = self.rule_stats(p.rules.len());
            p.rules
                .iter()
                .zip(stats)
                .map(|(r, s)| {
                    serde_json::json!({"rule": r.name, "hits": s.hits, "denies": s.denies,
                        "kills": s.kills, "audits": s.audits})
                })
                .collect::<Vec<_>>()
        });
        serde_json::json!({
            "seal": self.id,
            "pins": self.dir.display().to_string(),
            "policy": self.policy.as_ref().map(|p| p.source.clone()),
            "rules": rules,
            "unread": self.unread,
        })
    }

    /// The `policy_sealed` event: a seal made now (`new`) or found. What
    /// the policy holds is known only when this agent has its files.
    pub fn event(&self) -> serde_json::Value {
        let mut ev = serde_json::json!({
            "time": crate::event::now_rfc3339(),
            "event": "policy_sealed",
            "seal": self.id,
            "new": self.sealed_now,
            "pins": self.dir.display().to_string(),
            "unread": self.unread,
        });
        if let Some(p) = &self.policy {
            ev["policy"] = p.source.clone().into();
            ev["rules"] = p.rules.iter().map(|r| r.name.clone()).collect();
            ev["unfrozen_maps"] = self.unfrozen.clone().into();
            ev["map_bytes"] = self.map_bytes.into();
        }
        ev
    }
}

/// The names in directory `dir` that `keep` accepts (none if unreadable).
fn names_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| keep(n))
                .collect()
        })
        .unwrap_or_default()
}

/// The seals pinned so far this boot, by id.
pub fn existing() -> Vec<String> {
    let mut ids = names_in(Path::new(SEAL_ROOT), |n| !n.starts_with(PARTIAL));
    ids.sort();
    ids
}

/// The record layout of this build, kept as an empty directory beside a
/// seal's pins: a seal outlives upgrades of the agent until reboot, and a
/// later build must not misread an earlier one's records.
fn abi_mark() -> String {
    use std::mem::size_of;
    format!(
        "abi-v{}-e{}-f{}-h{}-m{}-t{}-s{}",
        abi::ABI_VERSION,
        size_of::<abi::ExecEvent>(),
        size_of::<abi::FileEvent>(),
        size_of::<abi::HookEvent>(),
        size_of::<abi::ModuleEvent>(),
        size_of::<abi::TamperEvent>(),
        size_of::<RuleStats>()
    )
}

/// Opens a seal made earlier this boot, to go on reporting its records.
pub fn reattach(id: &str, policy: Option<CompiledPolicy>) -> Result<Seal> {
    let dir = Path::new(SEAL_ROOT).join(id);
    let open = |name: &str| {
        MapHandle::from_pinned_path(dir.join(name))
            .with_context(|| format!("opening {}", dir.join(name).display()))
    };
    let (events, stats, unread) = if dir.join(abi_mark()).is_dir() {
        (Some(open(EVENTS_PIN)?), Some(open(STATS_PIN)?), None)
    } else {
        let theirs = names_in(&dir, |n| n.starts_with("abi-"));
        let why = format!(
            "made by another krsi build (records {}, this build {}): in force, records not read",
            theirs.join(",").chars().take(120).collect::<String>(),
            abi_mark()
        );
        tracing::warn!("seal {id}: {why}");
        (None, None, Some(why))
    };
    Ok(Seal {
        id: id.to_string(),
        events,
        stats,
        unread,
        dir,
        policy,
        sealed_now: false,
        unfrozen: Vec::new(),
        map_bytes: 0,
    })
}

/// Seals `policy` until reboot under `id` (from `krsi_policy::lock::seal_id`),
/// or reattaches to the seal of that id if there is one already. On an
/// error before the lock is armed nothing stays behind.
pub fn seal(policy: CompiledPolicy, id: &str) -> Result<Seal> {
    sys::ensure_mounted("bpf", sys::BPFFS)
        .with_context(|| format!("mounting bpffs at {}", sys::BPFFS))?;
    let dir = Path::new(SEAL_ROOT).join(id);
    if dir.exists() {
        return reattach(id, Some(policy));
    }
    fs::create_dir_all(SEAL_ROOT).with_context(|| format!("creating {SEAL_ROOT}"))?;
    // A directory left by an agent that died while sealing: never armed, so
    // removable; removing its pins detaches what it had attached.
    let partial = Path::new(SEAL_ROOT).join(format!("{PARTIAL}{id}"));
    let _ = fs::remove_dir_all(&partial);

    let mut loaded = loader::load_sealed(&policy).context("loading the sealed instance")?;
    // Slot 0, the one its tables are sized for: `apply` writes the idle
    // slot, the one not marked active.
    let start = abi::State {
        active_slot: 1,
        ..Default::default()
    };
    loaded
        .skel
        .maps
        .krsi_state
        .update(&0u32.to_ne_bytes(), start.as_bytes(), MapFlags::ANY)
        .context("preparing the sealed instance")?;
    let mut slots = Slots::new();
    let mut totals = Totals::new();
    slots::apply(&loaded, &mut slots, policy, &mut totals).context("writing the locked policy")?;
    if slots.active != Some(0) {
        bail!("the locked policy went to slot {:?}, not 0", slots.active);
    }
    let policy = slots.policies.iter_mut().find_map(Option::take);

    fs::create_dir(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let (unfrozen, memlock) = match arm(&mut loaded, &partial, &dir) {
        Ok(u) => u,
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    // Closes every descriptor: the pins hold the links, the links the
    // programs, the programs the maps.
    drop(loaded);
    let mut s = reattach(id, policy)?;
    s.sealed_now = true;
    s.unfrozen = unfrozen;
    s.map_bytes = memlock;
    Ok(s)
}

/// The kernel memory a map holds, as its fdinfo reports it.
fn fd_memlock(fd: i32) -> u64 {
    fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("memlock:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Pins, records ids, arms the lock and freezes; returns the maps the
/// kernel would not freeze and the maps' memory.
fn arm(loaded: &mut loader::Loaded, partial: &Path, dir: &Path) -> Result<(Vec<String>, u64)> {
    let mut ids = Vec::new();
    for (i, link) in loaded.links.iter_mut().enumerate() {
        let path = partial.join(format!("link-{i:02}"));
        link.pin(&path)
            .with_context(|| format!("pinning {}", path.display()))?;
        ids.push(abi::LOCK_LINK << 32 | u64::from(link.info()?.id));
    }
    let maps = &mut loaded.skel.maps;
    maps.krsi_events
        .pin(partial.join(EVENTS_PIN))
        .context("pinning the ring buffer")?;
    maps.krsi_rule_stats
        .pin(partial.join(STATS_PIN))
        .context("pinning the rule counters")?;
    fs::create_dir(partial.join(abi_mark())).context("marking the record layout")?;
    let mut to_freeze = Vec::new();
    let mut memlock = 0u64;
    for map in loaded.skel.object().maps() {
        let name = map.name().to_string_lossy().into_owned();
        memlock += fd_memlock(map.as_fd().as_raw_fd());
        let info = map.info()?;
        // The two maps a restarted agent reopens stay openable.
        if name != "krsi_events" && name != "krsi_rule_stats" {
            ids.push(abi::LOCK_MAP << 32 | u64::from(info.info.id));
        }
        if name != "krsi_events" {
            to_freeze.push((name, map.as_fd().as_raw_fd()));
        }
    }
    if ids.len() > abi::LOCK_MAX_IDS {
        bail!(
            "{} links and maps to seal, more than the lock holds ({})",
            ids.len(),
            abi::LOCK_MAX_IDS
        );
    }
    fs::rename(partial, dir)
        .with_context(|| format!("renaming {} to {}", partial.display(), dir.display()))?;
    let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;

    let maps = &loaded.skel.maps;
    for id in &ids {
        maps.krsi_lock_ids
            .update(&id.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
            .context("recording the sealed objects")?;
    }
    let lock = abi::Lock {
        armed: 1,
        pin_dev: sys::kernel_dev(meta.dev()),
        pin_dir_ino: meta.ino(),
    };
    maps.krsi_lock
        .update(&0u32.to_ne_bytes(), lock.as_bytes(), MapFlags::ANY)
        .context("arming the lock")?;

    let mut unfrozen = Vec::new();
    for (name, fd) in to_freeze {
        // SAFETY: a descriptor of a map the skeleton owns, alive here.
        let rc = unsafe { libbpf_rs::libbpf_sys::bpf_map_freeze(fd) };
        // EBUSY: already frozen (libbpf freezes .rodata at load).
        if rc != 0 && rc != -libc::EBUSY {
            tracing::debug!(
                "map {name} not frozen: {}",
                std::io::Error::from_raw_os_error(-rc)
            );
            unfrozen.push(name);
        }
    }
    Ok((unfrozen, memlock))
}
