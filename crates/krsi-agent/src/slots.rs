//! Applying a compiled policy to the kernel atomically.
//!
//! Two slots hold two policies. A new policy is written whole into the idle
//! slot, then one 4-byte store flips `active_slot`: every hook invocation
//! sees either the old policy or the new one, never a mix. After an RCU
//! grace period no program can still be using the old slot, and it is
//! cleared.
use std::collections::HashMap;

use anyhow::{Context, Result};
use krsi_bpf::libbpf_rs::{MapCore, MapFlags};
use krsi_policy::{CompiledPolicy, KernelAction};

use crate::abi::{self, Clause, ExecKey, Pod, PrefixKey, RuleRef, RuleStats, SlotConfig, State};
use crate::loader::Loaded;

/// Per-rule totals, by name, across reloads.
pub type Totals = HashMap<String, RuleStats>;

pub struct Slots {
    pub active: Option<u32>,
    pub policies: [Option<CompiledPolicy>; 2],
}

impl Slots {
    pub fn new() -> Slots {
        Slots {
            active: None,
            policies: [None, None],
        }
    }

    pub fn active_policy(&self) -> Option<&CompiledPolicy> {
        self.active.and_then(|s| self.policies[s as usize].as_ref())
    }
}

impl Default for Slots {
    fn default() -> Self {
        Self::new()
    }
}

fn read_state(l: &Loaded) -> Result<State> {
    let v = l
        .skel
        .maps
        .krsi_state
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)?;
    Ok(v.and_then(|v| State::from_bytes(&v)).unwrap_or_default())
}

fn stats_index(slot: u32, rule: u32) -> u32 {
    slot * abi::MAX_RULES + rule
}

/// Sums a rule's per-CPU counters.
pub fn read_rule_stats(l: &Loaded, slot: u32, rule: u32) -> Result<RuleStats> {
    let key = stats_index(slot, rule).to_ne_bytes();
    let mut total = RuleStats::default();
    if let Some(per_cpu) = l
        .skel
        .maps
        .krsi_rule_stats
        .lookup_percpu(&key, MapFlags::ANY)?
    {
        for v in per_cpu {
            if let Some(s) = RuleStats::from_bytes(&v) {
                total.hits += s.hits;
                total.denies += s.denies;
                total.would_denies += s.would_denies;
                total.audits += s.audits;
                total.dropped += s.dropped;
            }
        }
    }
    Ok(total)
}

pub fn read_counter(l: &Loaded, which: u32) -> Result<u64> {
    let per_cpu = l
        .skel
        .maps
        .krsi_counters
        .lookup_percpu(&which.to_ne_bytes(), MapFlags::ANY)?;
    Ok(per_cpu
        .unwrap_or_default()
        .iter()
        .filter_map(|v| u64::from_bytes(v))
        .sum())
}

fn zero_rule_stats(l: &Loaded, slot: u32, rules: usize) -> Result<()> {
    let ncpu = krsi_bpf::libbpf_rs::num_possible_cpus()?;
    let zero = vec![RuleStats::default().as_bytes().to_vec(); ncpu];
    for rule in 0..rules as u32 {
        l.skel.maps.krsi_rule_stats.update_percpu(
            &stats_index(slot, rule).to_ne_bytes(),
            &zero,
            MapFlags::ANY,
        )?;
    }
    Ok(())
}

/// Removes every hash/trie entry of `slot` (clause array entries need no
/// clearing: nothing references them once the index entries are gone).
fn clear_slot(l: &Loaded, slot: u32) -> Result<()> {
    let maps = &l.skel.maps;
    for map in [&maps.krsi_exec_rules, &maps.krsi_open_rules] {
        let stale: Vec<Vec<u8>> = map
            .keys()
            .filter(|k| ExecKey::from_bytes(k).is_some_and(|k| k.slot == slot))
            .collect();
        for k in stale {
            // Only the agent writes these maps; ENOENT would be harmless.
            let _ = map.delete(&k);
        }
    }
    let trie = &maps.krsi_open_prefix;
    let stale: Vec<Vec<u8>> = trie
        .keys()
        .filter(|k| PrefixKey::from_bytes(k).is_some_and(|k| k.slot() == slot))
        .collect();
    for k in stale {
        let _ = trie.delete(&k);
    }
    Ok(())
}

fn kernel_action(a: KernelAction) -> u32 {
    match a {
        KernelAction::Audit => abi::ACTION_AUDIT,
        KernelAction::Deny => abi::ACTION_DENY,
        KernelAction::WouldDeny => abi::ACTION_WOULD_DENY,
    }
}

/// file_open clauses and their index entries into `slot`.
fn write_open(l: &Loaded, slot: u32, policy: &CompiledPolicy) -> Result<u32> {
    let maps = &l.skel.maps;
    let t = &policy.open;
    for (i, (c, next)) in t.clauses.iter().enumerate() {
        let v = Clause {
            rule: c.rule,
            action: kernel_action(c.action),
            flags_any: c.flags_any,
            next: next.unwrap_or(abi::NO_CLAUSE),
        };
        let idx = slot * abi::MAX_CLAUSES + i as u32;
        maps.krsi_clauses
            .update(&idx.to_ne_bytes(), v.as_bytes(), MapFlags::ANY)?;
    }
    for (id, head) in &t.identity_heads {
        let key = ExecKey {
            slot,
            dev: id.dev,
            ino: id.ino,
        };
        maps.krsi_open_rules
            .update(key.as_bytes(), &head.to_ne_bytes(), MapFlags::ANY)?;
    }
    for (prefix, head) in &t.prefix_heads {
        let key = PrefixKey::new(slot, prefix);
        maps.krsi_open_prefix
            .update(key.as_bytes(), &head.to_ne_bytes(), MapFlags::ANY)?;
    }
    let mut flags = 0;
    if !t.identity_heads.is_empty() {
        flags |= abi::CFG_OPEN_IDENTITY;
    }
    if !t.prefix_heads.is_empty() {
        flags |= abi::CFG_OPEN_PREFIX;
    }
    Ok(flags)
}

/// Waits until every BPF program that might have read the old slot has
/// finished: programs run inside RCU read-side sections, and
/// MEMBARRIER_CMD_GLOBAL is a synchronize_rcu().
fn rcu_grace_period() {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    // SAFETY: plain syscall without pointers.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) };
    if rc != 0 {
        // nohz_full kernels refuse it; a hook invocation lasts microseconds.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Writes `policy` into the idle slot and makes it the active one.
/// On error the previously active policy is still the one enforced.
pub fn apply(
    l: &Loaded,
    slots: &mut Slots,
    policy: CompiledPolicy,
    totals: &mut Totals,
) -> Result<()> {
    let state = read_state(l)?;
    let idle = match slots.active {
        Some(a) => 1 - a,
        None => 1 - (state.active_slot & 1),
    };

    let t = std::time::Instant::now();
    // 1. The idle slot from scratch: no leftovers from an older policy.
    clear_slot(l, idle).context("clearing the idle policy slot")?;
    tracing::debug!("apply: cleared idle slot in {:?}", t.elapsed());
    zero_rule_stats(l, idle, policy.rules.len()).context("resetting rule counters")?;
    tracing::debug!("apply: zeroed counters in {:?}", t.elapsed());
    let map = &l.skel.maps.krsi_exec_rules;
    for e in &policy.exec_entries {
        let key = ExecKey {
            slot: idle,
            dev: e.identity.dev,
            ino: e.identity.ino,
        };
        let action = match e.action {
            KernelAction::Audit => abi::ACTION_AUDIT,
            KernelAction::Deny => abi::ACTION_DENY,
            KernelAction::WouldDeny => abi::ACTION_WOULD_DENY,
        };
        let val = RuleRef {
            rule: e.rule,
            action,
        };
        if let Err(err) = map.update(key.as_bytes(), val.as_bytes(), MapFlags::ANY) {
            let _ = clear_slot(l, idle);
            return Err(err).context("writing exec rules (map full?)");
        }
    }
    tracing::debug!(
        "apply: wrote {} entries in {:?}",
        policy.exec_entries.len(),
        t.elapsed()
    );
    let open_flags = match write_open(l, idle, &policy) {
        Ok(f) => f,
        Err(err) => {
            let _ = clear_slot(l, idle);
            return Err(err).context("writing file_open rules (map full?)");
        }
    };
    let cfg = SlotConfig {
        exec_audit_rule: policy.exec_audit_rule.unwrap_or(abi::NO_RULE),
        flags: open_flags,
    };
    l.skel
        .maps
        .krsi_slot_config
        .update(&idle.to_ne_bytes(), cfg.as_bytes(), MapFlags::ANY)
        .context("writing the slot configuration")?;

    // 2. The flip: one array element store.
    let new_state = State {
        active_slot: idle,
        enforce: 1,
    };
    l.skel
        .maps
        .krsi_state
        .update(&0u32.to_ne_bytes(), new_state.as_bytes(), MapFlags::ANY)
        .context("activating the new policy")?;
    let old = slots.active.replace(idle);
    slots.policies[idle as usize] = Some(policy);

    // 3. Retire the old slot once nothing can be reading it.
    if let Some(old) = old {
        rcu_grace_period();
        tracing::debug!("apply: flipped and waited for RCU in {:?}", t.elapsed());
        fold_totals(l, slots, old, totals);
        tracing::debug!("apply: folded counters in {:?}", t.elapsed());
        clear_slot(l, old)?;
        tracing::debug!("apply: cleared old slot in {:?}", t.elapsed());
        // Keep the old rule table: records already in the ring buffer name it.
    }
    Ok(())
}

/// Adds a slot's kernel counters into the per-name totals.
pub fn fold_totals(l: &Loaded, slots: &Slots, slot: u32, totals: &mut Totals) {
    let Some(p) = &slots.policies[slot as usize] else {
        return;
    };
    for (i, r) in p.rules.iter().enumerate() {
        if let Ok(s) = read_rule_stats(l, slot, i as u32) {
            let t = totals.entry(r.name.clone()).or_default();
            t.hits += s.hits;
            t.denies += s.denies;
            t.would_denies += s.would_denies;
            t.audits += s.audits;
            t.dropped += s.dropped;
        }
    }
}
