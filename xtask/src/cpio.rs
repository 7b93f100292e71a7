//! Minimal writer for the "newc" cpio format the kernel unpacks as initramfs.
//! Writing it ourselves lets us add device nodes and root-owned files without
//! root, and keeps the archive byte-for-byte reproducible (mtime 0, sorted).
use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::{bail, Result};

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
    CharDev { mode: u32, major: u32, minor: u32 },
}

/// An in-memory file tree keyed by absolute path ("/usr/bin/jq").
#[derive(Debug, Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `path` (creating missing parent directories). Adding the same path
    /// twice with different content is an error: it would mean two sources
    /// claim one file and one would silently win.
    pub fn add(&mut self, path: &str, entry: Entry) -> Result<()> {
        let path = normalize(path)?;
        self.ensure_parents(&path)?;
        match self.entries.get(&path) {
            Some(existing) if *existing == entry => Ok(()),
            Some(Entry::Dir { .. }) if matches!(entry, Entry::Dir { .. }) => Ok(()),
            Some(_) => bail!("initramfs: {path} added twice with different content"),
            None => {
                self.entries.insert(path, entry);
                Ok(())
            }
        }
    }

    pub fn contains(&self, path: &str) -> bool {
        normalize(path).is_ok_and(|p| self.entries.contains_key(&p))
    }

    pub fn dir(&mut self, path: &str) -> Result<()> {
        self.add(path, Entry::Dir { mode: 0o755 })
    }

    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<()> {
        self.add(path, Entry::File { mode, data })
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.add(
            path,
            Entry::Symlink {
                target: target.to_string(),
            },
        )
    }

    fn ensure_parents(&mut self, path: &str) -> Result<()> {
        let mut cur = String::new();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            cur.push('/');
            cur.push_str(part);
            match self.entries.get(&cur) {
                None => {
                    self.entries.insert(cur.clone(), Entry::Dir { mode: 0o755 });
                }
                Some(Entry::Dir { .. }) => {}
                Some(_) => bail!("initramfs: {cur} is not a directory (needed for {path})"),
            }
        }
        Ok(())
    }

    /// Total size of file contents, for reporting.
    pub fn payload_bytes(&self) -> usize {
        self.entries
            .values()
            .map(|e| match e {
                Entry::File { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    }

    /// Write the archive in newc format; parents sort before their children.
    pub fn write_newc<W: Write>(&self, mut w: W) -> io::Result<()> {
        for (ino, (path, entry)) in (1u32..).zip(&self.entries) {
            let name = path.trim_start_matches('/');
            let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match entry {
                Entry::Dir { mode } => (S_IFDIR | mode, &[], (0, 0)),
                Entry::File { mode, data } => (S_IFREG | mode, data, (0, 0)),
                Entry::Symlink { target } => (S_IFLNK | 0o777, target.as_bytes(), (0, 0)),
                Entry::CharDev { mode, major, minor } => (S_IFCHR | mode, &[], (*major, *minor)),
            };
            let nlink = if matches!(entry, Entry::Dir { .. }) {
                2
            } else {
                1
            };
            write_header(&mut w, ino, mode, nlink, data.len(), rdev, name)?;
            w.write_all(data)?;
            pad4(&mut w, data.len())?;
        }
        write_header(&mut w, 0, 0, 1, 0, (0, 0), "TRAILER!!!")
    }
}

fn write_header<W: Write>(
    w: &mut W,
    ino: u32,
    mode: u32,
    nlink: u32,
    size: usize,
    rdev: (u32, u32),
    name: &str,
) -> io::Result<()> {
    let size = u32::try_from(size)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file over 4 GiB"))?;
    let namesize = name.len() as u32 + 1;
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
    // rdevmajor, rdevminor, namesize, check
    let header = format!(
        "070701{ino:08X}{mode:08X}{:08X}{:08X}{nlink:08X}{:08X}{size:08X}{:08X}{:08X}{:08X}{:08X}{namesize:08X}{:08X}",
        0, 0, 0, 0, 0, rdev.0, rdev.1, 0
    );
    w.write_all(header.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    pad4(w, 110 + namesize as usize)
}

fn pad4<W: Write>(w: &mut W, len: usize) -> io::Result<()> {
    let pad = (4 - len % 4) % 4;
    w.write_all(&[0u8; 3][..pad])
}

fn normalize(path: &str) -> Result<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        bail!("initramfs: bad path {path:?}");
    }
    Ok(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn header_layout_matches_newc() {
        let mut a = Archive::new();
        a.file("/x", 0o644, b"hello".to_vec()).unwrap();
        let mut out = Vec::new();
        a.write_newc(&mut out).unwrap();
        assert!(out.starts_with(b"070701"));
        // 110-byte header + "x\0" padded to 112, then 5 data bytes padded to 8.
        assert_eq!(&out[110..112], b"x\0");
        assert_eq!(&out[112..117], b"hello");
        assert_eq!(&out[117..120], &[0, 0, 0]);
        assert_eq!(&out[120..126], b"070701");
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn parents_are_created_and_conflicts_rejected() {
        let mut a = Archive::new();
        a.file("/a/b/c", 0o755, vec![1]).unwrap();
        assert!(a.contains("/a") && a.contains("/a/b"));
        a.file("/a/b/c", 0o755, vec![1]).unwrap();
        assert!(a.file("/a/b/c", 0o755, vec![2]).is_err());
        assert!(a.file("/a/b/c/d", 0o644, vec![]).is_err());
        assert!(a.dir("/../etc").is_err());
    }

    /// The real `cpio` tool must list exactly what we wrote, with modes.
    #[test]
    fn gnu_cpio_reads_the_archive() {
        let mut a = Archive::new();
        a.file("/usr/bin/tool", 0o755, b"#!/bin/sh\n".to_vec())
            .unwrap();
        a.symlink("/bin", "usr/bin").unwrap();
        a.add(
            "/dev/console",
            Entry::CharDev {
                mode: 0o600,
                major: 5,
                minor: 1,
            },
        )
        .unwrap();
        let mut out = Vec::new();
        a.write_newc(&mut out).unwrap();
        let mut child = Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cpio is installed (cargo xtask deps)");
        child.stdin.take().unwrap().write_all(&out).unwrap();
        let listing = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 6, "{listing}");
        assert!(lines[0].starts_with("lrwxrwxrwx") && lines[0].ends_with("bin -> usr/bin"));
        assert!(lines[1].starts_with("drwxr-xr-x") && lines[1].ends_with(" dev"));
        assert!(lines[2].starts_with("crw-------") && lines[2].contains("5,"));
        assert!(lines[3].ends_with(" usr"));
        assert!(lines[5].starts_with("-rwxr-xr-x") && lines[5].ends_with("usr/bin/tool"));
    }
}
