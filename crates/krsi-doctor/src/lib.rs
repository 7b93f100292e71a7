//! `krsi doctor`: what this kernel offers krsi, and a live proof that an
//! LSM program's deny really reaches the caller.
//!
//! An LSM program attaches fine while the BPF LSM is not in the kernel's
//! active list, and then enforces nothing. Only an observed -EPERM from a
//! probe program proves enforcement, so the doctor runs one.
use std::fs;
use std::io::Write;
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;

use anyhow::Result;
use clap::Args;
use krsi_bpf::libbpf_rs::skel::{OpenSkel, SkelBuilder};
use krsi_bpf::libbpf_rs::{self, OpenObject};
use krsi_bpf::probe::ProbeSkelBuilder;
use krsi_bpf::sys;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub kernel: String,
    pub checks: Vec<Check>,
    /// Whether krsi can deny on this kernel (the live probe was denied).
    pub enforcement: bool,
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        name,
        ok,
        detail: detail.into(),
        fix: if ok { None } else { fix.map(str::to_string) },
    }
}

fn kernel_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn fs_check(name: &'static str, fstype: &str, target: &str) -> Check {
    match sys::mounted_fstype(target) {
        Some(t) if t == fstype => check(name, true, format!("mounted at {target}"), None),
        _ => match sys::ensure_mounted(fstype, target) {
            Ok(_) => check(
                name,
                true,
                format!("mounted at {target} (krsi mounted it)"),
                None,
            ),
            Err(e) => check(
                name,
                false,
                format!("not mounted at {target} and mounting failed: {e}"),
                Some("run as root, or mount it yourself"),
            ),
        },
    }
}

fn lsm_check() -> (Check, bool) {
    match sys::active_lsms() {
        Ok(lsms) => {
            let active = lsms.iter().any(|l| l == "bpf");
            let detail = format!(
                "{} (active LSMs: {})",
                if active { "active" } else { "not active" },
                lsms.join(",")
            );
            (
                check(
                    "bpf_lsm",
                    active,
                    detail,
                    Some("add `bpf` to the `lsm=` kernel command line (keep the other LSMs listed in /sys/kernel/security/lsm) and reboot; the kernel needs CONFIG_BPF_LSM=y"),
                ),
                active,
            )
        }
        Err(e) => (
            check(
                "bpf_lsm",
                false,
                format!("cannot read {}/lsm: {e}", sys::SECURITYFS),
                Some("mount securityfs (mount -t securityfs none /sys/kernel/security) as root"),
            ),
            false,
        ),
    }
}

fn seccomp_check() -> Check {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let actions = fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    check(
        "seccomp",
        mode >= 0 && !actions.is_empty(),
        format!("filter actions: {}", actions.trim()),
        Some("the kernel needs CONFIG_SECCOMP_FILTER=y"),
    )
}

fn landlock_check() -> Check {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: NULL attr with size 0 and the VERSION flag only queries the ABI.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if abi > 0 {
        check("landlock", true, format!("ABI {abi}"), None)
    } else {
        let e = std::io::Error::last_os_error();
        check(
            "landlock",
            false,
            format!("unavailable: {e}"),
            Some("add `landlock` to `lsm=` (CONFIG_SECURITY_LANDLOCK=y)"),
        )
    }
}

fn cgroup2_check() -> Check {
    match sys::mounted_fstype(sys::CGROUP2).as_deref() {
        Some("cgroup2") => check(
            "cgroup_v2",
            true,
            format!("mounted at {}", sys::CGROUP2),
            None,
        ),
        other => {
            let has = fs::read_to_string("/proc/filesystems")
                .unwrap_or_default()
                .contains("cgroup2");
            check(
                "cgroup_v2",
                false,
                format!(
                    "{} at {} ({})",
                    other.map(|t| format!("{t} mounted")).unwrap_or_else(|| "nothing mounted".into()),
                    sys::CGROUP2,
                    if has { "the kernel supports cgroup2" } else { "the kernel lacks cgroup2" }
                ),
                Some("boot with systemd.unified_cgroup_hierarchy=1 or mount -t cgroup2 none /sys/fs/cgroup"),
            )
        }
    }
}

/// Loads an LSM program that denies this process opening one temp file, and
/// checks that the open really fails with EPERM.
fn live_probe() -> Check {
    let fix = Some(
        "enable the BPF LSM (see bpf_lsm) and run as root; if bpf_lsm is active and the load is refused with EPERM, \
         this kernel forbids BPF trampolines (lockdown or a hardened/virtualised kernel): use a kernel that allows them",
    );
    let dir = std::env::temp_dir();
    let path = dir.join(format!(".krsi-doctor-probe-{}", std::process::id()));
    let result = (|| -> Result<String, String> {
        fs::File::create(&path)
            .and_then(|mut f| f.write_all(b"krsi"))
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        let md = fs::metadata(&path).map_err(|e| e.to_string())?;
        let object: &mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
        let mut open = ProbeSkelBuilder::default()
            .open(object)
            .map_err(|e| format!("opening the probe: {e}"))?;
        if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
            ro.probe_tgid = std::process::id();
            ro.probe_ino = md.ino();
            ro.probe_dev = sys::kernel_dev(md.dev());
        }
        let skel = open
            .load()
            .map_err(|e| format!("the kernel refused an LSM program: {e}"))?;
        let link = skel
            .progs
            .krsi_probe_file_open
            .attach()
            .map_err(|e| format!("attaching lsm/file_open: {e}"))?;
        let opened = fs::File::open(&path);
        let hits = skel
            .maps
            .bss_data
            .as_ref()
            .map(|b| b.probe_hits)
            .unwrap_or(0);
        drop(link);
        let after = fs::File::open(&path);
        match opened {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                if after.is_err() {
                    return Err("the deny outlived the probe program's detach".into());
                }
                Ok(format!("an LSM program denied a test open with EPERM ({hits} hit), and detaching lifted it"))
            }
            Err(e) => Err(format!("the test open failed with {e}, not EPERM")),
            Ok(_) if hits == 0 => {
                Err("the probe program attached but never ran: the BPF LSM is not active".into())
            }
            Ok(_) => Err(format!(
                "the probe program ran ({hits} hit) but its deny did not reach the caller"
            )),
        }
    })();
    let _ = fs::remove_file(&path);
    match result {
        Ok(detail) => check("enforcement_probe", true, detail, None),
        Err(detail) => check("enforcement_probe", false, detail, fix),
    }
}

pub fn report() -> Report {
    libbpf_rs::set_print(None);
    let (lsm, _) = lsm_check();
    let mut checks = vec![lsm];
    let btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
    checks.push(check(
        "btf",
        btf,
        if btf {
            "/sys/kernel/btf/vmlinux"
        } else {
            "no kernel BTF"
        },
        Some("the kernel needs CONFIG_DEBUG_INFO_BTF=y (CO-RE needs it)"),
    ));
    checks.push(fs_check("bpffs", "bpf", sys::BPFFS));
    checks.push(fs_check("tracefs", "tracefs", sys::TRACEFS));
    checks.push(fs_check("securityfs", "securityfs", sys::SECURITYFS));
    checks.push(cgroup2_check());
    checks.push(seccomp_check());
    checks.push(landlock_check());
    let probe = live_probe();
    let enforcement = probe.ok;
    checks.push(probe);
    Report {
        kernel: kernel_release(),
        checks,
        enforcement,
    }
}

pub fn run(args: DoctorArgs) -> Result<i32> {
    let r = report();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!("kernel             {}", r.kernel);
        for c in &r.checks {
            println!(
                "{:<18} {:<4} {}",
                c.name,
                if c.ok { "ok" } else { "FAIL" },
                c.detail
            );
            if let Some(fix) = &c.fix {
                println!("{:<18}      fix: {fix}", "");
            }
        }
        if r.enforcement {
            println!("result: krsi can report and deny on this kernel");
        } else {
            println!("result: krsi cannot deny on this kernel; `krsi run` will report only (tracepoint backend)");
        }
    }
    Ok(if r.enforcement { 0 } else { 1 })
}
