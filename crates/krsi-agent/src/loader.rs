//! Loading krsi's exec programs and choosing the backend.
//!
//! The BPF LSM backend reports *and* denies. Without it (the LSM is not in
//! the kernel's active list, or the kernel refuses LSM/trampoline programs)
//! krsi falls back to the `sched_process_exec` tracepoint, which reports
//! but can never deny; the caller must say so.
use std::mem::MaybeUninit;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use krsi_bpf::krsi::{KrsiSkel, KrsiSkelBuilder, OpenKrsiSkel};
use krsi_bpf::libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use krsi_bpf::libbpf_rs::{self, Link, OpenObject, PrintLevel};
use krsi_bpf::sys;

use crate::abi;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    BpfLsm,
    Tracepoint,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::BpfLsm => "bpf-lsm",
            Backend::Tracepoint => "tracepoint",
        }
    }
}

pub struct Loaded {
    pub skel: KrsiSkel<'static>,
    pub backend: Backend,
    /// Why the BPF LSM backend is not in use, when it is not.
    pub fallback_reason: Option<String>,
    /// Whether denied execs carry argv (needs the execve syscall tracepoints).
    pub deny_argv: bool,
    pub(crate) links: Vec<Link>,
}

/// The last lines libbpf printed, to explain a failed load.
static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn libbpf_print(level: PrintLevel, msg: String) {
    let msg = msg.trim_end().to_string();
    tracing::debug!(target: "libbpf", "{msg}");
    if level != PrintLevel::Debug {
        let mut log = LIBBPF_LOG.lock().unwrap();
        if log.len() >= 40 {
            log.remove(0);
        }
        log.push(msg);
    }
}

fn take_libbpf_log() -> String {
    let mut log = LIBBPF_LOG.lock().unwrap();
    let text = log.join("\n");
    log.clear();
    text
}

pub fn init_libbpf_logging() {
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
}

fn open() -> Result<OpenKrsiSkel<'static>> {
    // The skeleton borrows its object for as long as the programs run, i.e.
    // the agent's lifetime; leaking one small allocation per load is simplest.
    let object: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
    KrsiSkelBuilder::default()
        .open(object)
        .context("opening the BPF object")
}

fn check_abi(skel: &KrsiSkel<'_>) -> Result<()> {
    let Some(r) = skel.maps.rodata_data.as_ref() else {
        bail!("the BPF object has no read-only data: rebuild krsi");
    };
    for (what, bpf, agent) in [
        (
            "exec record",
            r.krsi_abi_exec_event_size,
            std::mem::size_of::<abi::ExecEvent>(),
        ),
        (
            "file record",
            r.krsi_abi_file_event_size,
            std::mem::size_of::<abi::FileEvent>(),
        ),
        (
            "hook record",
            r.krsi_abi_hook_event_size,
            std::mem::size_of::<abi::HookEvent>(),
        ),
        (
            "clause",
            r.krsi_abi_clause_size,
            std::mem::size_of::<abi::Clause>(),
        ),
    ] {
        if bpf as usize != agent {
            bail!("BPF {what} is {bpf} bytes but the agent expects {agent}: rebuild krsi");
        }
    }
    Ok(())
}

/// Programs that run on both backends: taint labels follow fork either way,
/// and module loads (and hidden modules) are reported either way.
fn both_backends(section: &str) -> bool {
    matches!(
        section,
        "tp_btf/sched_process_fork" | "tp_btf/module_load" | "tp_btf/module_free"
    )
}

/// Kernels built without module support (CONFIG_MODULES=n: no
/// /proc/modules) have no module_load/module_free tracepoints to attach to.
fn kernel_has_modules() -> bool {
    std::path::Path::new("/proc/modules").exists()
}

fn skip_module_programs(open: &mut OpenKrsiSkel<'static>) {
    if !kernel_has_modules() {
        tracing::info!("the kernel has no module support: module_load reports nothing");
        open.progs.krsi_module_load.set_autoload(false);
        open.progs.krsi_module_free.set_autoload(false);
    }
}

/// The policy lock's programs (bpf/hooks/lock.h): only a sealed instance
/// loads them.
fn lock_programs(open: &mut OpenKrsiSkel<'static>, load: bool) {
    let p = &mut open.progs;
    for prog in [
        &mut p.krsi_lock_bpf,
        &mut p.krsi_lock_bpf_map,
        &mut p.krsi_lock_inode_unlink,
        &mut p.krsi_lock_inode_rmdir,
        &mut p.krsi_lock_inode_rename,
        &mut p.krsi_lock_sb_umount,
    ] {
        prog.set_autoload(load);
    }
}

/// A sealed instance's ring buffer: it carries only the sealed rules' and
/// the lock's records, and lives (pinned) until reboot.
const SEALED_RINGBUF_BYTES: u32 = 1 << 20;

fn load_lsm() -> Result<Loaded> {
    load_lsm_instance(None)
}

/// A second, independent copy of the LSM programs and maps for a policy
/// sealed until reboot (see `crate::seal`), with the lock's programs. The
/// execve syscall tracepoints are left out: they are perf events, which
/// cannot be pinned, so the sealed copy's deny records carry no argv.
pub fn load_sealed(policy: &krsi_policy::CompiledPolicy) -> Result<Loaded> {
    raise_memlock();
    if let Some(why) = bpf_lsm_inactive() {
        bail!("a policy can only be locked with the BPF LSM active: {why}");
    }
    load_lsm_instance(Some(policy))
}

/// A sealed instance holds one policy for good, in slot 0 (`crate::seal`):
/// its tables are sized to that policy instead of to the largest one a
/// reload could bring (75 MB of maps become a few).
fn size_for_seal(open: &mut OpenKrsiSkel<'static>, p: &krsi_policy::CompiledPolicy) -> Result<()> {
    let (mut num_entries, mut str_entries) = (0, 0);
    for s in &p.sets {
        match s {
            krsi_policy::SetDef::Num(v) => num_entries += v.len(),
            krsi_policy::SetDef::Str(v) => str_entries += v.len(),
            krsi_policy::SetDef::Cidr(v) => str_entries += v.len(),
        }
    }
    let prefixes: usize = p.hooks.values().map(|h| h.prefix_heads.len()).sum();
    let at_least = |n: usize, min: usize| n.max(min) as u32;
    let m = &mut open.maps;
    for (map, n) in [
        (&mut m.krsi_events, SEALED_RINGBUF_BYTES),
        (&mut m.krsi_clauses, at_least(p.clauses.len(), 1)),
        (&mut m.krsi_rule_stats, at_least(p.rules.len(), 1)),
        (&mut m.krsi_rule_config, at_least(p.rules.len(), 1)),
        (&mut m.krsi_rate, at_least(p.rules.len(), 1)),
        (&mut m.krsi_globs, at_least(p.globs.len(), 1)),
        (&mut m.krsi_index_identity, at_least(p.identity_count(), 16)),
        (&mut m.krsi_num_sets, at_least(num_entries, 16)),
        // Tries allocate per entry; their cap is what the kernel reports.
        (&mut m.krsi_str_sets, at_least(str_entries, 16)),
        (&mut m.krsi_index_prefix, at_least(prefixes, 16)),
        // No execve tracepoints in a sealed instance: nothing is stashed.
        (&mut m.krsi_argv_stash, 1),
        (
            &mut m.krsi_hash_cache,
            if p.needs_hash() { 16384 } else { 1 },
        ),
    ] {
        map.set_max_entries(n)
            .context("sizing the sealed instance's maps")?;
    }
    Ok(())
}

fn load_lsm_instance(sealed: Option<&krsi_policy::CompiledPolicy>) -> Result<Loaded> {
    let mut open = open()?;
    open.progs.krsi_sched_process_exec.set_autoload(false);
    skip_module_programs(&mut open);
    lock_programs(&mut open, sealed.is_some());
    if let Some(p) = sealed {
        size_for_seal(&mut open, p)?;
    }
    let skel = open.load().map_err(|e| {
        let log = take_libbpf_log();
        // EPERM: the kernel forbids LSM (trampoline) programs outright; any
        // other failure is a verifier rejection worth showing in full.
        if os_error(&e) == Some(libc::EPERM) {
            tracing::debug!("libbpf:\n{log}");
        } else {
            tracing::warn!("libbpf:\n{log}");
        }
        anyhow::anyhow!("loading the BPF LSM programs: {e}")
    })?;
    check_abi(&skel)?;
    // Every LSM hook program, and the fork tracepoint; the sleepable
    // (`lsm.s/`) ones last: a trampoline runs the program attached last
    // first, and they prepare facts (file digests) the rules then read.
    let mut links = Vec::new();
    for sleepable in [false, true] {
        for prog in skel.object().progs_mut() {
            let section = prog.section().to_string_lossy().into_owned();
            let wanted = if sleepable {
                section.starts_with("lsm.s/")
            } else {
                section.starts_with("lsm/") || both_backends(&section)
            };
            if wanted && prog.autoload() {
                links.push(
                    prog.attach()
                        .with_context(|| format!("attaching {section}"))?,
                );
            }
        }
    }
    if sealed.is_some() {
        return Ok(Loaded {
            skel,
            backend: Backend::BpfLsm,
            fallback_reason: None,
            deny_argv: false,
            links,
        });
    }
    // argv of denied execs comes from the execve syscall tracepoints, which
    // libbpf finds through tracefs.
    let mut deny_argv = true;
    if let Err(e) = sys::ensure_mounted("tracefs", sys::TRACEFS) {
        tracing::warn!("cannot mount tracefs at {}: {e}", sys::TRACEFS);
    }
    for prog in [
        &skel.progs.krsi_sys_enter_execve,
        &skel.progs.krsi_sys_enter_execveat,
    ] {
        match prog.attach() {
            Ok(l) => links.push(l),
            Err(e) => {
                deny_argv = false;
                tracing::warn!(
                    "denied execs will not carry argv: attaching the execve tracepoint: {e}"
                );
            }
        }
    }
    Ok(Loaded {
        skel,
        backend: Backend::BpfLsm,
        fallback_reason: None,
        deny_argv,
        links,
    })
}

fn load_tracepoint(reason: String) -> Result<Loaded> {
    let mut open = open()?;
    for mut prog in open.open_object_mut().progs_mut() {
        let section = prog.section().to_string_lossy().into_owned();
        if section != "tp_btf/sched_process_exec" && !both_backends(&section) {
            prog.set_autoload(false);
        }
    }
    skip_module_programs(&mut open);
    let skel = open.load().map_err(|e| {
        anyhow::anyhow!(
            "loading the tracepoint programs: {e}\n{}",
            take_libbpf_log()
        )
    })?;
    check_abi(&skel)?;
    let mut links = vec![
        skel.progs
            .krsi_sched_process_exec
            .attach()
            .context("attaching tp_btf/sched_process_exec")?,
        skel.progs
            .krsi_sched_process_fork
            .attach()
            .context("attaching tp_btf/sched_process_fork")?,
    ];
    if kernel_has_modules() {
        links.push(
            skel.progs
                .krsi_module_load
                .attach()
                .context("attaching tp_btf/module_load")?,
        );
        links.push(
            skel.progs
                .krsi_module_free
                .attach()
                .context("attaching tp_btf/module_free")?,
        );
    }
    Ok(Loaded {
        skel,
        backend: Backend::Tracepoint,
        fallback_reason: Some(reason),
        deny_argv: false,
        links,
    })
}

/// Why the BPF LSM cannot be used, or None when it is active.
fn bpf_lsm_inactive() -> Option<String> {
    match sys::active_lsms() {
        Ok(lsms) if lsms.iter().any(|l| l == "bpf") => None,
        Ok(lsms) => Some(format!(
            "the BPF LSM is not active (active LSMs: {}); add `bpf` to `lsm=` on the kernel command line",
            lsms.join(",")
        )),
        Err(e) => Some(format!("cannot read {}/lsm: {e}", sys::SECURITYFS)),
    }
}

/// Loads the BPF LSM backend when the kernel can enforce, else the tracepoint fallback.
pub fn load(require_enforcement: bool) -> Result<Loaded> {
    raise_memlock();
    let reason = match bpf_lsm_inactive() {
        None => match load_lsm() {
            Ok(l) => return Ok(l),
            Err(e) => format!("the kernel refused the BPF LSM programs: {e:#}"),
        },
        Some(why) => why,
    };
    if require_enforcement {
        bail!("enforcement is not possible on this kernel: {reason}");
    }
    load_tracepoint(reason)
}

/// The errno behind a libbpf error (EPERM: the kernel forbids the program
/// type; EACCES/EINVAL: the verifier rejected it).
fn os_error(e: &libbpf_rs::Error) -> Option<i32> {
    let text = e.to_string();
    let start = text.rfind("(os error ")? + "(os error ".len();
    text[start..].trim_end_matches(')').parse().ok()
}

fn raise_memlock() {
    // Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: valid pointer.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}
