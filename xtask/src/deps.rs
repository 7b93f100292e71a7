//! `cargo xtask deps`: make sure the Debian packages krsi needs are installed.
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Everything the build (clang/libbpf), the VM tests (qemu, kernel, busybox,
/// cpio, jq, gcc for the static test programs, auditd for the bench) and
/// `vmlinux` (bpftool, xz) need.
pub const PACKAGES: &[&str] = &[
    "clang-19",
    "llvm-19",
    "libelf-dev",
    "zlib1g-dev",
    "pkg-config",
    "bpftool",
    "qemu-system-x86",
    "linux-image-amd64",
    "busybox-static",
    "cpio",
    "auditd",
    "jq",
    "libseccomp-dev",
    "gcc",
    "xz-utils",
    "binutils",
    // VM test hardware and modules: ext2 disk images (mke2fs -d), and the
    // test modules built against the VM kernel's headers.
    "e2fsprogs",
    "make",
    "linux-headers-amd64",
];

pub fn ensure() -> Result<()> {
    let missing = missing_packages(PACKAGES)?;
    if missing.is_empty() {
        eprintln!("xtask: deps: all {} packages installed", PACKAGES.len());
    } else {
        eprintln!("xtask: deps: installing {}", missing.join(" "));
        apt(&["update"])?;
        let mut args = vec!["install", "-y", "--no-install-recommends"];
        args.extend(missing.iter().map(String::as_str));
        apt(&args)?;
        let still = missing_packages(PACKAGES)?;
        if !still.is_empty() {
            bail!("apt-get install left packages missing: {}", still.join(" "));
        }
    }
    check_rust_components()
}

fn apt(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("apt-get");
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    crate::util::run(&mut cmd).context("installing packages needs root and network access")
}

/// Packages whose dpkg status is not "install ok installed".
fn missing_packages(pkgs: &[&str]) -> Result<Vec<String>> {
    // One dpkg-query call for all; unknown packages are reported on stderr and
    // simply absent from stdout, which counts them as missing.
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${Status}\\n"])
        .args(pkgs)
        .output()
        .context("running dpkg-query (is this a Debian system?)")?;
    Ok(parse_missing(pkgs, &String::from_utf8_lossy(&out.stdout)))
}

fn parse_missing(pkgs: &[&str], dpkg_out: &str) -> Vec<String> {
    pkgs.iter()
        .filter(|p| {
            !dpkg_out.lines().any(|l| {
                l.split_once(' ').is_some_and(|(name, status)| {
                    // Multi-arch packages print as name:arch.
                    let name = name.split(':').next().unwrap_or(name);
                    name == **p && status == "install ok installed"
                })
            })
        })
        .map(|p| p.to_string())
        .collect()
}

/// rustfmt and clippy must come with the toolchain; never download them here.
fn check_rust_components() -> Result<()> {
    for (sub, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        let ok = Command::new(crate::util::cargo())
            .args([sub, "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            bail!("`cargo {sub}` is unavailable: install the `{component}` component of the toolchain");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_parsing() {
        let out = "jq install ok installed\n\
                   gcc deinstall ok config-files\n\
                   libelf-dev:amd64 install ok installed\n";
        let missing = parse_missing(&["jq", "gcc", "libelf-dev", "cpio"], out);
        assert_eq!(missing, vec!["gcc".to_string(), "cpio".to_string()]);
    }

    #[test]
    fn package_list_has_what_the_vm_tests_need() {
        for p in [
            "qemu-system-x86",
            "busybox-static",
            "jq",
            "gcc",
            "linux-image-amd64",
        ] {
            assert!(PACKAGES.contains(&p), "{p} missing");
        }
    }
}
