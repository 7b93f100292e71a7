//! `cargo xtask vmlinux`: regenerate bpf/vmlinux/x86/vmlinux.h from the BTF of
//! the Debian kernel image, so the BPF programs are built against the exact
//! kernel the VM tests boot.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::util;

/// Start of an XZ stream; Debian's bzImage carries the kernel ELF as one.
const XZ_MAGIC: &[u8] = &[0xFD, b'7', b'z', b'X', b'Z', 0x00];
const ELF_MAGIC: &[u8] = b"\x7fELF";

pub fn regenerate(kernel: Option<&Path>, check: bool) -> Result<()> {
    let ws = util::workspace()?;
    let kernel = match kernel {
        Some(k) => k.to_path_buf(),
        None => util::default_kernel()?,
    };
    let out_dir = ws.target_dir.join("vm");
    std::fs::create_dir_all(&out_dir)?;
    let elf = out_dir.join("vmlinux");
    extract_vmlinux(&kernel, &elf)?;
    let header = bpftool_dump(&elf)?;
    let dest = ws.root.join("bpf/vmlinux/x86/vmlinux.h");
    let current = std::fs::read(&dest).ok();
    if current.as_deref() == Some(header.as_slice()) {
        eprintln!(
            "xtask: {} is up to date with {} ({} bytes, identical)",
            dest.display(),
            kernel.display(),
            header.len()
        );
        return Ok(());
    }
    if check {
        bail!(
            "{} differs from the BTF of {} (run `cargo xtask vmlinux` to regenerate)",
            dest.display(),
            kernel.display()
        );
    }
    std::fs::create_dir_all(dest.parent().expect("dest has a parent"))?;
    std::fs::write(&dest, &header).with_context(|| format!("writing {}", dest.display()))?;
    eprintln!(
        "xtask: wrote {} ({} bytes) from {}",
        dest.display(),
        header.len(),
        kernel.display()
    );
    Ok(())
}

/// Decompress the kernel ELF out of a bzImage into `dest`.
pub fn extract_vmlinux(kernel: &Path, dest: &Path) -> Result<()> {
    let image = std::fs::read(kernel).with_context(|| format!("reading {}", kernel.display()))?;
    if image.starts_with(ELF_MAGIC) {
        std::fs::write(dest, &image)?;
        return Ok(());
    }
    let offsets = find_all(&image, XZ_MAGIC);
    if offsets.is_empty() {
        bail!(
            "{}: no XZ stream found (only XZ-compressed bzImages are supported)",
            kernel.display()
        );
    }
    // The magic can also occur by chance (or as a second, unrelated stream):
    // take the first offset that decompresses to an ELF file.
    let mut last_err = None;
    for off in offsets {
        match xz_decompress(&image[off..]) {
            Ok(elf) if elf.starts_with(ELF_MAGIC) => {
                std::fs::write(dest, &elf)
                    .with_context(|| format!("writing {}", dest.display()))?;
                return Ok(());
            }
            Ok(_) => last_err = Some(anyhow::anyhow!("stream at {off} is not an ELF file")),
            Err(e) => last_err = Some(e.context(format!("stream at offset {off}"))),
        }
    }
    Err(last_err
        .expect("at least one offset was tried")
        .context(format!("{}: could not extract vmlinux", kernel.display())))
}

/// `xz -dc --single-stream`: single-stream so the bytes after the compressed
/// kernel (the rest of the bzImage) are ignored instead of rejected.
fn xz_decompress(data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running xz (install xz-utils)")?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = data.to_vec();
    // Feed from a thread: xz blocks writing stdout while we would block on stdin.
    let feeder = std::thread::spawn(move || {
        // A broken pipe just means xz stopped early; its status tells why.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output()?;
    let _ = feeder.join();
    if !out.status.success() {
        bail!("xz: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out.stdout)
}

fn bpftool_dump(elf: &PathBuf) -> Result<Vec<u8>> {
    let mut cmd = Command::new("bpftool");
    cmd.args(["btf", "dump", "file"])
        .arg(elf)
        .args(["format", "c"]);
    util::output(&mut cmd).context("bpftool could not dump the kernel's BTF (install bpftool)")
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_magic() {
        let mut buf = vec![0u8; 10];
        buf.extend_from_slice(XZ_MAGIC);
        buf.extend_from_slice(b"junk");
        buf.extend_from_slice(XZ_MAGIC);
        assert_eq!(find_all(&buf, XZ_MAGIC), vec![10, 20]);
        assert!(find_all(b"nothing here", XZ_MAGIC).is_empty());
    }

    #[test]
    fn extracts_elf_from_fake_bzimage() {
        // A fake bzImage: setup bytes, a decoy magic, a real XZ stream of an
        // "ELF", then trailing bytes as in a real image.
        let dir = std::env::temp_dir().join(format!("xtask-vmlinux-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let payload = b"\x7fELF fake kernel payload".repeat(100);
        let mut xz = Command::new("xz")
            .args(["-zc", "--check=crc32"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        xz.stdin.take().unwrap().write_all(&payload).unwrap();
        let compressed = xz.wait_with_output().unwrap().stdout;
        let mut image = b"MZ setup code".to_vec();
        image.extend_from_slice(XZ_MAGIC);
        image.extend_from_slice(b"not a stream");
        image.extend_from_slice(&compressed);
        image.extend_from_slice(b"trailing data after the stream");
        let kernel = dir.join("vmlinuz-test");
        let out = dir.join("vmlinux");
        std::fs::write(&kernel, &image).unwrap();
        extract_vmlinux(&kernel, &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), payload);

        std::fs::write(&kernel, b"no stream at all").unwrap();
        let err = extract_vmlinux(&kernel, &out).unwrap_err();
        assert!(format!("{err:#}").contains("no XZ stream"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
