//! Test hardware for the VM: a USB stick and a virtio disk (small ext2
//! images, built without root by `mke2fs -d`) that every VM boots with, and
//! the out-of-tree test modules of tests/vm/modules-src built against the
//! VM kernel's headers.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

/// Disk image size: ext2 needs little, and qemu reads it at every boot.
const IMAGE_KIB: u64 = 2048;

pub struct Disks {
    /// Attached as a USB mass-storage device behind an xHCI controller.
    pub usb: PathBuf,
    /// Attached as a virtio-blk disk: the control (any other mount).
    pub virtio: PathBuf,
}

impl Disks {
    /// The qemu arguments that attach both. The guest sees the USB stick as
    /// a SCSI disk (`sd*`) and the virtio disk as `vda`; each file system
    /// has a label (`KRSI_USB`, `KRSI_VIRTIO`) and a file `whoami` saying
    /// which disk it is.
    pub fn qemu_args(&self) -> Vec<String> {
        vec![
            "-device".into(),
            "qemu-xhci,id=xhci".into(),
            "-drive".into(),
            format!("if=none,id=usbstick,format=raw,file={}", self.usb.display()),
            "-device".into(),
            "usb-storage,bus=xhci.0,drive=usbstick,removable=on".into(),
            "-drive".into(),
            format!("if=virtio,format=raw,file={}", self.virtio.display()),
        ]
    }
}

/// Fresh images in `dir` (scenarios may write to them).
pub fn build_disks(dir: &Path) -> Result<Disks> {
    std::fs::create_dir_all(dir)?;
    let usb = ext2_image(dir, "usb", "KRSI_USB")?;
    let virtio = ext2_image(dir, "virtio", "KRSI_VIRTIO")?;
    Ok(Disks { usb, virtio })
}

fn ext2_image(dir: &Path, name: &str, label: &str) -> Result<PathBuf> {
    let content = dir.join(format!("{name}-root"));
    if content.exists() {
        std::fs::remove_dir_all(&content)?;
    }
    std::fs::create_dir_all(&content)?;
    std::fs::write(content.join("whoami"), format!("{name}\n"))?;
    let img = dir.join(format!("{name}.img"));
    let _ = std::fs::remove_file(&img);
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(IMAGE_KIB * 1024))
        .with_context(|| format!("creating {}", img.display()))?;
    let mut cmd = Command::new("mke2fs");
    cmd.args(["-q", "-F", "-t", "ext2", "-b", "1024", "-L", label, "-d"])
        .arg(&content)
        .arg(&img)
        .arg(IMAGE_KIB.to_string());
    util::run(&mut cmd)
        .context("building a test disk image (mke2fs: `cargo xtask deps` installs e2fsprogs)")?;
    Ok(img)
}

/// Builds every module of `src` (a Kbuild directory) for `release`; returns
/// the .ko files. The sources are copied first: kbuild writes next to them.
pub fn build_modules(src: &Path, out: &Path, release: &str) -> Result<Vec<PathBuf>> {
    if !src.join("Kbuild").is_file() {
        return Ok(Vec::new());
    }
    let headers = Path::new("/usr/src").join(format!("linux-headers-{release}"));
    if !headers.join("Makefile").is_file() {
        bail!(
            "{} not found: the test modules in {} are built against the VM kernel's headers (`cargo xtask deps` installs linux-headers-amd64, which matches linux-image-amd64)",
            headers.display(),
            src.display()
        );
    }
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let mut sources = Vec::new();
    for e in std::fs::read_dir(src)? {
        let p = e?.path();
        if p.is_file() {
            let dest = out.join(p.file_name().unwrap());
            std::fs::copy(&p, &dest)?;
            sources.push(dest);
        }
    }
    let mut cmd = Command::new("make");
    cmd.arg("-s")
        .arg("-C")
        .arg(&headers)
        .arg(format!("M={}", out.display()))
        .arg("modules");
    util::run(&mut cmd)
        .with_context(|| format!("building the test modules of {}", src.display()))?;
    let mut kos: Vec<PathBuf> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    kos.sort();
    if kos.is_empty() {
        bail!("building {} produced no .ko", src.display());
    }
    Ok(kos)
}
