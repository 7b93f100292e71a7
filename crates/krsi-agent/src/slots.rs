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
use krsi_policy::{CompiledPolicy, KernelAction, SetDef};

use crate::abi::{
    self, Clause, HookConfig, IndexKey, NumSetKey, Pod, Pred, PrefixKey, Rate, RuleConfig,
    RuleStats, SetKey, State,
};
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

/// The value of a one-element array map (`krsi_state`, `krsi_loadpin`).
fn read_only_element<T: Pod + Default>(map: &dyn MapCore) -> Result<T> {
    let v = map.lookup(&0u32.to_ne_bytes(), MapFlags::ANY)?;
    Ok(v.and_then(|v| T::from_bytes(&v)).unwrap_or_default())
}

fn stats_index(slot: u32, rule: u32) -> u32 {
    slot * abi::MAX_RULES + rule
}

/// Sums a rule's per-CPU counters.
pub fn read_rule_stats(l: &Loaded, slot: u32, rule: u32) -> Result<RuleStats> {
    read_rule_stats_from(&l.skel.maps.krsi_rule_stats, slot, rule)
}

/// The same from any handle on a `krsi_rule_stats` map (a seal's pin).
pub fn read_rule_stats_from(map: &dyn MapCore, slot: u32, rule: u32) -> Result<RuleStats> {
    let key = stats_index(slot, rule).to_ne_bytes();
    let mut total = RuleStats::default();
    if let Some(per_cpu) = map.lookup_percpu(&key, MapFlags::ANY)? {
        for v in per_cpu {
            if let Some(s) = RuleStats::from_bytes(&v) {
                total.add(&s);
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

/// The set id as the kernel sees it: the slot in bit 31.
fn set_id(slot: u32, set: u32) -> u32 {
    (slot << 31) | set
}

/// Removes every hash/trie entry of `slot` and turns its hooks off (clause
/// array entries need no clearing: nothing references them once the index
/// entries are gone).
fn clear_slot(l: &Loaded, slot: u32) -> Result<()> {
    let maps = &l.skel.maps;
    let off = HookConfig {
        any_head: abi::NO_CLAUSE,
        flags: 0,
    };
    for hook in 0..abi::HOOKS {
        maps.krsi_hook_config.update(
            &(slot * abi::HOOKS + hook).to_ne_bytes(),
            off.as_bytes(),
            MapFlags::ANY,
        )?;
    }
    let sweep = |map: &dyn MapCore, of_slot: &dyn Fn(&[u8]) -> bool| {
        let stale: Vec<Vec<u8>> = map.keys().filter(|k| of_slot(k)).collect();
        for k in stale {
            // Only the agent writes these maps; ENOENT would be harmless.
            let _ = map.delete(&k);
        }
    };
    sweep(&maps.krsi_index_identity, &|k| {
        IndexKey::from_bytes(k).is_some_and(|k| k.slot as u32 == slot)
    });
    sweep(&maps.krsi_index_prefix, &|k| {
        PrefixKey::from_bytes(k).is_some_and(|k| k.slot() == slot)
    });
    sweep(&maps.krsi_num_sets, &|k| {
        NumSetKey::from_bytes(k).is_some_and(|k| k.set >> 31 == slot)
    });
    sweep(&maps.krsi_str_sets, &|k| {
        SetKey::from_bytes(k).is_some_and(|k| k.set() >> 31 == slot)
    });
    Ok(())
}

fn kernel_action(a: KernelAction) -> u8 {
    (match a {
        KernelAction::Audit => abi::ACTION_AUDIT,
        KernelAction::Deny => abi::ACTION_DENY,
        KernelAction::WouldDeny => abi::ACTION_WOULD_DENY,
        KernelAction::Kill => abi::ACTION_KILL,
        KernelAction::WouldKill => abi::ACTION_WOULD_KILL,
        KernelAction::Taint => abi::ACTION_TAINT,
    }) as u8
}

/// The hook's number in the BPF ABI (`enum krsi_hook`): its place in `Hook::ALL`.
pub fn hook_number(h: krsi_policy::Hook) -> u32 {
    krsi_policy::Hook::ALL
        .iter()
        .position(|x| *x == h)
        .unwrap_or(0) as u32
}

/// Everything of `policy` into `slot` except the activation.
fn write_policy(l: &Loaded, slot: u32, policy: &CompiledPolicy) -> Result<()> {
    let maps = &l.skel.maps;
    for (i, (c, next)) in policy.clauses.iter().enumerate() {
        let mut pred = [Pred::default(); abi::MAX_PREDS];
        for (d, p) in pred.iter_mut().zip(&c.preds) {
            *d = Pred {
                fact: p.fact,
                op: p.op as u8,
                neg: u8::from(p.neg),
                _pad: 0,
                set: set_id(slot, p.set),
                v: p.v,
                v2: p.v2,
            };
        }
        let v = Clause {
            rule: c.rule,
            action: kernel_action(c.action),
            npred: c.preds.len() as u8,
            taint: c.taint.unwrap_or(abi::NO_TAINT),
            _pad: 0,
            next: next.unwrap_or(abi::NO_CLAUSE),
            _pad2: 0,
            pred,
        };
        let idx = slot * abi::MAX_CLAUSES + i as u32;
        maps.krsi_clauses
            .update(&idx.to_ne_bytes(), v.as_bytes(), MapFlags::ANY)
            .context("writing clauses")?;
    }
    let one = [1u8];
    for (i, set) in policy.sets.iter().enumerate() {
        let id = set_id(slot, i as u32);
        match set {
            SetDef::Num(v) => {
                for &(a, b) in v {
                    let k = NumSetKey {
                        set: id,
                        _pad: 0,
                        a,
                        b,
                    };
                    maps.krsi_num_sets
                        .update(k.as_bytes(), &one, MapFlags::ANY)
                        .context("writing number sets (map full?)")?;
                }
            }
            SetDef::Str(v) => {
                for (bytes, exact) in v {
                    let mut value = bytes.clone();
                    if *exact {
                        value.push(0);
                    }
                    let k = SetKey::new(id, &value, 8 * value.len() as u32);
                    maps.krsi_str_sets
                        .update(k.as_bytes(), &one, MapFlags::ANY)
                        .context("writing string sets (map full?)")?;
                }
            }
            SetDef::Cidr(v) => {
                for (addr, bits) in v {
                    let k = SetKey::new(id, addr, *bits as u32);
                    maps.krsi_str_sets
                        .update(k.as_bytes(), &one, MapFlags::ANY)
                        .context("writing address sets (map full?)")?;
                }
            }
        }
    }
    for (i, g) in policy.globs.iter().enumerate() {
        let mut v = abi::Glob {
            nseg: g.segments.len() as u8,
            anchored_start: u8::from(g.anchored_start),
            anchored_end: u8::from(g.anchored_end),
            ..Default::default()
        };
        for (k, seg) in g.segments.iter().enumerate().take(abi::GLOB_SEGS) {
            let n = seg.len().min(abi::GLOB_SEG_LEN);
            v.len[k] = n as u8;
            v.seg[k][..n].copy_from_slice(&seg[..n]);
            for (j, &c) in seg[..n].iter().enumerate() {
                // 0 is `?`: any byte.
                v.mask[k][j] = if c == 0 { 0 } else { 0xff };
            }
        }
        let idx = slot * abi::MAX_GLOBS + i as u32;
        maps.krsi_globs
            .update(&idx.to_ne_bytes(), v.as_bytes(), MapFlags::ANY)
            .context("writing globs")?;
    }
    for (i, r) in policy.rules.iter().enumerate() {
        let idx = (slot * abi::MAX_RULES + i as u32).to_ne_bytes();
        let (rate_events, rate_period_s) = r
            .rate_limit
            .as_ref()
            .map_or((0, 0), |rl| (rl.events, rl.per_seconds));
        let rc = RuleConfig {
            rate_events,
            rate_period_s,
            deny_errno: r.errno.number,
            _pad: 0,
        };
        maps.krsi_rule_config
            .update(&idx, rc.as_bytes(), MapFlags::ANY)?;
        maps.krsi_rate
            .update(&idx, Rate::default().as_bytes(), MapFlags::ANY)?;
    }
    let mut configs = Vec::new();
    for (hook, t) in &policy.hooks {
        let h = hook_number(*hook);
        for (id, head) in &t.identity_heads {
            let key = IndexKey {
                slot: slot as u8,
                hook: h as u8,
                _pad: 0,
                dev: id.dev,
                ino: id.ino,
            };
            maps.krsi_index_identity
                .update(key.as_bytes(), &head.to_ne_bytes(), MapFlags::ANY)
                .context("writing the identity index (map full?)")?;
        }
        for (prefix, head) in &t.prefix_heads {
            let key = PrefixKey::new(slot, h, prefix);
            maps.krsi_index_prefix
                .update(key.as_bytes(), &head.to_ne_bytes(), MapFlags::ANY)
                .context("writing the prefix index (map full?)")?;
        }
        let mut flags = t.needs;
        if !t.identity_heads.is_empty() {
            flags |= abi::HC_IDENTITY;
        }
        if !t.prefix_heads.is_empty() {
            flags |= abi::HC_PREFIX;
        }
        if t.any_head.is_some() {
            flags |= abi::HC_ANY;
        }
        configs.push((
            h,
            HookConfig {
                any_head: t.any_head.unwrap_or(abi::NO_CLAUSE),
                flags,
            },
        ));
    }
    // Hooks last: a hook reads nothing of this slot until it is configured.
    for (h, cfg) in configs {
        maps.krsi_hook_config.update(
            &(slot * abi::HOOKS + h).to_ne_bytes(),
            cfg.as_bytes(),
            MapFlags::ANY,
        )?;
    }
    Ok(())
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

/// What `loadpin.root` makes of LoadPin's pin: the value to write, or
/// nothing to change. The agent's first policy sets it (a read since the
/// programs were attached may have pinned another file system: the
/// configuration wins). After that a pin never moves, as the kernel's never
/// does: a reload may configure one while nothing is pinned yet, or name
/// the pinned file system again (keeping its state, gone included); naming
/// another is refused. A policy without `loadpin` leaves the pin alone.
fn loadpin_plan(
    current: abi::Loadpin,
    first: bool,
    policy: &CompiledPolicy,
) -> Result<Option<abi::Loadpin>> {
    let Some(root) = &policy.loadpin_root else {
        return Ok(None);
    };
    let configured = abi::Loadpin {
        sb: 0,
        state: abi::PIN_DEV,
        dev: root.dev,
    };
    if first || current.state == abi::PIN_NONE {
        return Ok(Some(configured));
    }
    if current.dev == root.dev {
        return Ok(None);
    }
    let pinned = if current.state == abi::PIN_GONE {
        format!(
            "the pinned file system (dev {}) is gone and nothing loads any more",
            krsi_bpf::sys::dev_string(current.dev)
        )
    } else {
        format!(
            "LoadPin has pinned dev {}",
            krsi_bpf::sys::dev_string(current.dev)
        )
    };
    anyhow::bail!(
        "{}: `loadpin.root` {} is on dev {}, but {pinned}: a pin never moves while the agent runs (restart it to pin another file system)",
        root.at(),
        root.path,
        krsi_bpf::sys::dev_string(root.dev)
    )
}

/// Writes `policy` into the idle slot and makes it the active one.
/// On error the previously active policy is still the one enforced.
pub fn apply(
    l: &Loaded,
    slots: &mut Slots,
    policy: CompiledPolicy,
    totals: &mut Totals,
) -> Result<()> {
    let state: State = read_only_element(&l.skel.maps.krsi_state)?;
    let idle = match slots.active {
        Some(a) => 1 - a,
        None => 1 - (state.active_slot & 1),
    };

    let pin = loadpin_plan(
        read_only_element(&l.skel.maps.krsi_loadpin)?,
        slots.active.is_none(),
        &policy,
    )?;

    let t = std::time::Instant::now();
    // 1. The idle slot from scratch: no leftovers from an older policy.
    clear_slot(l, idle).context("clearing the idle policy slot")?;
    tracing::debug!("apply: cleared idle slot in {:?}", t.elapsed());
    zero_rule_stats(l, idle, policy.rules.len()).context("resetting rule counters")?;
    tracing::debug!("apply: zeroed counters in {:?}", t.elapsed());
    if let Err(err) = write_policy(l, idle, &policy) {
        let _ = clear_slot(l, idle);
        return Err(err);
    }
    tracing::debug!(
        "apply: wrote {} clauses, {} sets in {:?}",
        policy.clauses.len(),
        policy.sets.len(),
        t.elapsed()
    );

    if let Some(pin) = pin {
        l.skel
            .maps
            .krsi_loadpin
            .update(&0u32.to_ne_bytes(), pin.as_bytes(), MapFlags::ANY)
            .context("configuring LoadPin's root")?;
    }

    // 2. The flip: one array element store.
    // Once a policy has used digests, writes drop cached ones from then on
    // (set with the flip: no digest is cached before a slot asks for them).
    let new_state = State {
        active_slot: idle,
        enforce: 1,
        hash_live: state.hash_live | u32::from(policy.needs_hash()),
        hash_nocache: u32::from(std::env::var_os("KRSI_BENCH_NO_HASH_CACHE").is_some()),
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
            totals.entry(r.name.clone()).or_default().add(&s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(root: Option<u32>) -> CompiledPolicy {
        let text = "rules:\n  - {name: a, hook: exec, action: audit}\n";
        let mut p = krsi_policy::compile(&krsi_policy::parse_str("p.yaml", text).unwrap()).unwrap();
        p.loadpin_root = root.map(|dev| krsi_policy::LoadpinRoot {
            path: "/mnt/pin".into(),
            dev,
            file: "p.yaml".into(),
            line: 1,
            column: 16,
        });
        p
    }

    fn pin(state: u32, dev: u32) -> abi::Loadpin {
        abi::Loadpin {
            sb: if state == abi::PIN_NONE {
                0
            } else {
                0xffff_8880_0000_1000
            },
            state,
            dev,
        }
    }

    const D: u32 = (254 << 20) | 1;
    const ROOT: u32 = (8 << 20) | 2;

    #[test]
    fn the_first_policy_configures_the_pin() {
        let want = Some(abi::Loadpin {
            sb: 0,
            state: abi::PIN_DEV,
            dev: D,
        });
        for current in [
            pin(abi::PIN_NONE, 0),
            pin(abi::PIN_SET, ROOT),
            pin(abi::PIN_GONE, ROOT),
        ] {
            assert_eq!(loadpin_plan(current, true, &policy(Some(D))).unwrap(), want);
        }
        // Without `loadpin` the first read pins, as in the kernel.
        assert_eq!(
            loadpin_plan(pin(abi::PIN_NONE, 0), true, &policy(None)).unwrap(),
            None
        );
    }

    #[test]
    fn a_reload_never_moves_the_pin() {
        // Nothing pinned yet: the reload may configure it.
        assert_eq!(
            loadpin_plan(pin(abi::PIN_NONE, 0), false, &policy(Some(D)))
                .unwrap()
                .map(|p| (p.state, p.dev)),
            Some((abi::PIN_DEV, D))
        );
        // The same file system: left as it is, gone included.
        for st in [abi::PIN_DEV, abi::PIN_SET, abi::PIN_GONE] {
            assert_eq!(
                loadpin_plan(pin(st, D), false, &policy(Some(D))).unwrap(),
                None
            );
        }
        // Removing `loadpin` keeps the pin.
        assert_eq!(
            loadpin_plan(pin(abi::PIN_SET, D), false, &policy(None)).unwrap(),
            None
        );
        // Another file system: refused, naming the setting.
        let e = loadpin_plan(pin(abi::PIN_SET, ROOT), false, &policy(Some(D)))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.yaml:1:16: `loadpin.root` /mnt/pin is on dev 254:1, but LoadPin has pinned dev 8:2"),
            "{e}"
        );
        let e = loadpin_plan(pin(abi::PIN_GONE, ROOT), false, &policy(Some(D)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(dev 8:2) is gone"), "{e}");
    }
}
