//! Modules that hid before the agent started. The kernel side only watches
//! modules loaded while it runs; at start-up (once a policy has a
//! `module_load` rule) the agent compares the module kset with the module
//! list: every loaded module has `/sys/module/NAME/initstate` (built-in
//! ones have none), and one missing from `/proc/modules` was unlinked from
//! the list while resident. A rootkit that also deletes its kobject is not
//! seen this way.
use std::collections::HashSet;
use std::path::Path;

use serde_json::{json, Value};

/// Names of loaded modules (an `initstate` under `sys_module`) that the
/// module list (`proc_modules`, read *after* listing `sys_module`) lacks.
/// The kernel removes a module's sysfs directory before unlinking it, so a
/// module unloaded between the two reads is told apart by re-checking its
/// directory.
pub fn hidden_modules(sys_module: &Path, proc_modules: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(sys_module) else {
        return Vec::new();
    };
    let mut candidates: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("initstate").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let Ok(list) = std::fs::read_to_string(proc_modules) else {
        return Vec::new();
    };
    let listed: HashSet<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    candidates.retain(|n| !listed.contains(n.as_str()));
    candidates.retain(|n| sys_module.join(n).join("initstate").exists());
    candidates.sort();
    candidates
}

/// The `module_hidden` record of a module found by the scan.
pub fn event(name: &str) -> Value {
    json!({
        "time": crate::event::now_rfc3339(),
        "event": "module_hidden",
        "hook": "module_scan",
        "backend": "agent",
        "action": "audit",
        "rule": crate::event::HIDDEN_MODULE_RULE,
        "message": "a loaded kernel module is missing from the module list (hidden from lsmod, /proc/modules and rmmod)",
        "severity": "high",
        "module": {"name": name, "how": "sysfs_only"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_in_sysfs_but_not_in_the_list_is_hidden() {
        let root = std::env::temp_dir().join(format!("krsi-modscan-{}", std::process::id()));
        let sys = root.join("module");
        for (name, loaded) in [
            ("crc7", true),
            ("rootkit", true),
            ("printk", false), // built in: parameters only
        ] {
            std::fs::create_dir_all(sys.join(name)).unwrap();
            if loaded {
                std::fs::write(sys.join(name).join("initstate"), "live\n").unwrap();
            }
        }
        let proc = root.join("modules");
        std::fs::write(&proc, "crc7 16384 0 - Live 0x0000000000000000\n").unwrap();
        assert_eq!(hidden_modules(&sys, &proc), vec!["rootkit"]);
        std::fs::write(
            &proc,
            "crc7 16384 0 - Live 0x0\nrootkit 16384 0 - Live 0x0\n",
        )
        .unwrap();
        assert!(hidden_modules(&sys, &proc).is_empty());
        // No module support: nothing to compare.
        assert!(hidden_modules(&root.join("none"), &proc).is_empty());
        let ev = event("rootkit");
        assert_eq!(ev["event"], "module_hidden");
        assert_eq!(ev["module"]["how"], "sysfs_only");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
