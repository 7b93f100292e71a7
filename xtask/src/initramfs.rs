//! Builds the test VM's initramfs: busybox, krsi, jq (with their shared
//! libraries), the static test programs, the scenario scripts, policies and
//! any kernel modules listed in tests/vm/modules.txt.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cpio::{Archive, Entry};
use crate::util::{self, Workspace};

pub struct Inputs<'a> {
    pub ws: &'a Workspace,
    pub krsi: &'a Path,
    /// Kernel release (for /lib/modules/<release>); None skips modules.
    pub kernel_release: Option<&'a str>,
    /// Add auditd/auditctl for the exec-latency comparison.
    pub bench: bool,
    /// Scenario directory (default tests/vm/scenarios).
    pub scenarios: Option<&'a Path>,
}

pub struct Built {
    pub path: PathBuf,
    pub compressed_bytes: u64,
    pub payload_bytes: usize,
}

pub fn build(inp: &Inputs) -> Result<Built> {
    let vm_dir = inp.ws.target_dir.join("vm");
    std::fs::create_dir_all(&vm_dir)?;
    let tests = inp.ws.root.join("tests/vm");
    let mut b = Builder::new();

    b.base_layout()?;
    b.busybox()?;
    let krsi = strip_debug(inp.krsi, &vm_dir.join("krsi"))?;
    b.elf(&krsi, "/krsi/bin/krsi")?;
    let jq = which("jq")?;
    b.host_elf(&jq)?;
    for prog in compile_progs(&tests.join("progs"), &vm_dir.join("progs"))? {
        let name = prog.file_name().unwrap().to_string_lossy().into_owned();
        b.elf(&prog, &format!("/krsi/bin/{name}"))?;
    }
    if inp.bench {
        // Only the bench compares against auditd; keeping it (and its
        // Kerberos/RPC libraries) out of the test image keeps that lean.
        for tool in ["auditd", "auditctl"] {
            b.host_elf(&which(tool)?)?;
        }
    }

    b.script(&tests.join("init.sh"), "/init")?;
    b.script(&tests.join("lib.sh"), "/krsi/lib.sh")?;
    let scenarios = inp
        .scenarios
        .map_or_else(|| tests.join("scenarios"), Path::to_path_buf);
    if !scenarios.is_dir() {
        bail!("scenario directory {} not found", scenarios.display());
    }
    b.tree(&scenarios, "/krsi/scenarios")?;
    b.tree(&tests.join("bench"), "/krsi/bench")?;
    b.tree(&inp.ws.root.join("policies"), "/krsi/policies")?;

    let modules_txt = tests.join("modules.txt");
    let wanted = read_module_list(&modules_txt)?;
    let mut load_order = String::new();
    if !wanted.is_empty() {
        let release = inp
            .kernel_release
            .context("tests/vm/modules.txt lists modules but the kernel release is unknown (name the kernel vmlinuz-<release>)")?;
        let moddir = Path::new("/lib/modules").join(release);
        let dep = std::fs::read_to_string(moddir.join("modules.dep"))
            .with_context(|| format!("reading {}/modules.dep", moddir.display()))?;
        // Where the host keeps them (/usr/lib/modules with merged /usr).
        let dest_dir = b.mirror(&moddir)?;
        for rel in resolve_modules(&dep, &wanted, &modules_txt.display().to_string())? {
            let dest = format!("{}/{}", dest_dir.display(), rel.trim_end_matches(".xz"));
            b.module(&moddir.join(&rel), &dest)?;
            load_order.push_str(&dest);
            load_order.push('\n');
        }
    }
    b.archive
        .file("/krsi/modules.load", 0o644, load_order.into_bytes())?;
    // Test modules (tests/vm/modules-src): packed, not loaded at boot.
    if let Some(release) = inp.kernel_release {
        let kos = crate::testdevs::build_modules(
            &tests.join("modules-src"),
            &vm_dir.join("modules-build"),
            release,
        )?;
        for ko in kos {
            let name = ko.file_name().unwrap().to_string_lossy().into_owned();
            b.module(&ko, &format!("/krsi/modules/{name}"))?;
        }
    }

    let name = if inp.bench {
        "initramfs-bench.cpio.gz"
    } else {
        "initramfs.cpio.gz"
    };
    let path = vm_dir.join(name);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    // Level 1: the image is rebuilt on every run and the kernel unpacks it
    // under TCG, so fast compression wins over a few MB.
    let mut gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    b.archive.write_newc(&mut gz)?;
    gz.finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(Built {
        compressed_bytes: std::fs::metadata(&path)?.len(),
        payload_bytes: b.archive.payload_bytes(),
        path,
    })
}

struct Builder {
    archive: Archive,
}

impl Builder {
    fn new() -> Self {
        Self {
            archive: Archive::new(),
        }
    }

    fn base_layout(&mut self) -> Result<()> {
        for d in [
            "/dev",
            "/proc",
            "/sys",
            "/tmp",
            "/run",
            "/root",
            "/etc",
            "/krsi/bin",
            "/mnt",
        ] {
            self.archive.dir(d)?;
        }
        // The kernel opens /dev/console for init before devtmpfs is mounted.
        self.archive.add(
            "/dev/console",
            Entry::CharDev {
                mode: 0o600,
                major: 5,
                minor: 1,
            },
        )?;
        self.archive.file(
            "/etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
        )?;
        self.archive
            .file("/etc/group", 0o644, b"root:x:0:\n".to_vec())?;
        self.archive
            .file("/etc/hostname", 0o644, b"krsi-vm\n".to_vec())?;
        Ok(())
    }

    /// busybox plus one symlink per applet, at the paths busybox reports.
    fn busybox(&mut self) -> Result<()> {
        let bb = which("busybox")?;
        let bb_dest = self.host_elf(&bb)?;
        let list = util::output(Command::new(&bb).arg("--list-full"))?;
        for applet in String::from_utf8_lossy(&list).lines() {
            let applet = applet.trim();
            if applet.is_empty() {
                continue;
            }
            let host = Path::new("/").join(applet);
            // Resolve the applet's directory the way the host lays it out
            // (e.g. /bin -> usr/bin on merged-/usr Debian).
            let parent = self.mirror(host.parent().unwrap())?;
            let dest = parent.join(host.file_name().unwrap());
            let dest = dest.to_string_lossy();
            if !self.archive.contains(&dest) {
                self.archive.symlink(&dest, &bb_dest.to_string_lossy())?;
            }
        }
        Ok(())
    }

    /// Copy a host executable to the same place in the image, with its libs.
    fn host_elf(&mut self, host: &Path) -> Result<PathBuf> {
        let dest = self.mirror(host)?;
        self.elf(host, &dest.to_string_lossy())?;
        Ok(dest)
    }

    /// Copy an ELF to `dest` and every shared library `ldd` says it needs
    /// (including the dynamic loader) to the paths it names.
    fn elf(&mut self, host: &Path, dest: &str) -> Result<()> {
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        self.archive.file(dest, 0o755, data)?;
        for lib in ldd(host)? {
            let real = self.mirror(&lib)?;
            let data =
                std::fs::read(&real).with_context(|| format!("reading {}", real.display()))?;
            self.archive.file(&real.to_string_lossy(), 0o755, data)?;
        }
        Ok(())
    }

    fn script(&mut self, host: &Path, dest: &str) -> Result<()> {
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        self.archive.file(dest, 0o755, data)
    }

    /// Copy a directory tree (files and subdirectories); absent is fine.
    fn tree(&mut self, host: &Path, dest: &str) -> Result<()> {
        self.archive.dir(dest)?;
        let Ok(rd) = std::fs::read_dir(host) else {
            return Ok(());
        };
        let mut entries: Vec<_> = rd.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let sub = format!("{dest}/{name}");
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                self.tree(&path, &sub)?;
            } else if meta.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                self.archive.file(&sub, mode, std::fs::read(&path)?)?;
            }
        }
        Ok(())
    }

    fn module(&mut self, host: &Path, dest: &str) -> Result<()> {
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        // busybox insmod cannot decompress: ship plain .ko files.
        let data = if host.extension().is_some_and(|e| e == "xz") {
            let mut cmd = Command::new("xz");
            cmd.args(["-dc"]).arg(host);
            util::output(&mut cmd)?
        } else {
            data
        };
        self.archive.file(dest, 0o644, data)
    }

    /// Recreate in the image every symlink met while resolving the host
    /// `path`, and return where the real file lives (so /lib64/ld-linux...
    /// keeps working through the same links as on the host).
    fn mirror(&mut self, path: &Path) -> Result<PathBuf> {
        self.mirror_depth(path, 0)
    }

    fn mirror_depth(&mut self, path: &Path, depth: u32) -> Result<PathBuf> {
        if depth > 40 {
            bail!("too many symlinks resolving {}", path.display());
        }
        let mut resolved = PathBuf::from("/");
        for comp in path.components() {
            match comp {
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(c) => {
                    let cand = resolved.join(c);
                    let meta = std::fs::symlink_metadata(&cand)
                        .with_context(|| format!("resolving {}", path.display()))?;
                    if meta.file_type().is_symlink() {
                        let target = std::fs::read_link(&cand)?;
                        let target_str = target.to_string_lossy().into_owned();
                        if !self.archive.contains(&cand.to_string_lossy()) {
                            self.archive.symlink(&cand.to_string_lossy(), &target_str)?;
                        }
                        resolved = self.mirror_depth(&resolved.join(&target), depth + 1)?;
                    } else {
                        resolved = cand;
                    }
                }
                Component::Prefix(_) => bail!("unexpected path prefix in {}", path.display()),
            }
        }
        Ok(resolved)
    }
}

fn which(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    // Also look in sbin dirs: non-login root shells may lack them in PATH.
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    for dir in std::env::split_paths(&path).chain(extra) {
        let cand = dir.join(name);
        if cand.is_file() {
            return Ok(cand);
        }
    }
    bail!("`{name}` not found in PATH (run `cargo xtask deps`)")
}

/// Shared libraries of an ELF according to `ldd` (none for static ones).
fn ldd(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .context("running ldd")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        bail!("ldd {} failed: {}", bin.display(), stderr.trim());
    }
    parse_ldd(&stdout).with_context(|| format!("ldd {}", bin.display()))
}

fn parse_ldd(text: &str) -> Result<Vec<PathBuf>> {
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line == "statically linked" {
            continue;
        }
        if line.contains("=> not found") {
            bail!("missing shared library: {line}");
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or the
        // loader "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no path.
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or(path).trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// Copy of `bin` without DWARF (symbols kept, so backtraces still name
/// functions): the release profile's line tables would more than double the
/// image. Falls back to the unstripped binary when objcopy is missing.
fn strip_debug(bin: &Path, dest: &Path) -> Result<PathBuf> {
    let status = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(bin)
        .arg(dest)
        .status();
    match status {
        Ok(s) if s.success() => Ok(dest.to_path_buf()),
        _ => {
            eprintln!(
                "xtask: objcopy --strip-debug failed; packing {} as is",
                bin.display()
            );
            Ok(bin.to_path_buf())
        }
    }
}

/// Compile each tests/vm/progs/*.c with `gcc -static -O2 -Wall` (skipping
/// ones whose binary is newer than the source). Returns the binaries.
fn compile_progs(src_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir)?;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(src_dir) else {
        return Ok(out);
    };
    let mut sources: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    sources.sort();
    for src in sources {
        let bin = out_dir.join(src.file_stem().unwrap());
        let fresh = match (std::fs::metadata(&src), std::fs::metadata(&bin)) {
            (Ok(s), Ok(b)) => b.modified()? >= s.modified()?,
            _ => false,
        };
        if !fresh {
            let mut cmd = Command::new("gcc");
            cmd.args(["-static", "-O2", "-Wall", "-Werror", "-o"])
                .arg(&bin)
                .arg(&src);
            util::run(&mut cmd).with_context(|| format!("compiling {}", src.display()))?;
        }
        out.push(bin);
    }
    Ok(out)
}

/// Module names from modules.txt: one per line, `#` comments.
fn read_module_list(path: &Path) -> Result<Vec<(String, usize)>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.split('#').next().unwrap_or("").trim();
            (!l.is_empty()).then(|| (l.to_string(), i + 1))
        })
        .collect())
}

/// Module file name to the name modprobe uses ("nf_tables" for
/// "kernel/net/netfilter/nf_tables.ko.xz"); '-' and '_' are equivalent.
fn module_name(rel: &str) -> String {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    let base = base.split(".ko").next().unwrap_or(base);
    base.replace('-', "_")
}

/// Resolve wanted modules (with line numbers for errors) against
/// modules.dep; returns relative paths in load order (dependencies first).
fn resolve_modules(dep: &str, wanted: &[(String, usize)], list_name: &str) -> Result<Vec<String>> {
    let mut deps: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in dep.lines() {
        let Some((m, rest)) = line.split_once(':') else {
            continue;
        };
        let m = m.trim().to_string();
        let ds = rest.split_whitespace().map(module_name).collect();
        deps.insert(module_name(&m), (m, ds));
    }
    fn visit(
        name: &str,
        deps: &BTreeMap<String, (String, Vec<String>)>,
        done: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> bool {
        if done.contains(name) {
            return true;
        }
        let Some((rel, ds)) = deps.get(name) else {
            return false;
        };
        done.insert(name.to_string());
        for d in ds {
            if !visit(d, deps, done, order) {
                return false;
            }
        }
        order.push(rel.clone());
        true
    }
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    for (name, line) in wanted {
        if !visit(&name.replace('-', "_"), &deps, &mut done, &mut order) {
            bail!("{list_name}:{line}:1: unknown kernel module `{name}` (not in modules.dep)");
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibjq.so.1 => /lib/x86_64-linux-gnu/libjq.so.1 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text).unwrap(),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libjq.so.1"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        let err = parse_ldd("\tlibfoo.so => not found\n").unwrap_err();
        assert!(err.to_string().contains("libfoo.so"));
    }

    #[test]
    fn modules_resolve_in_dependency_order() {
        let dep = "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n\
                   kernel/fs/fat/fat.ko:\n\
                   kernel/net/a-b.ko.xz: kernel/fs/fat/fat.ko\n";
        let wanted = vec![("vfat".to_string(), 1), ("a_b".to_string(), 2)];
        assert_eq!(
            resolve_modules(dep, &wanted, "modules.txt").unwrap(),
            vec![
                "kernel/fs/fat/fat.ko",
                "kernel/fs/fat/vfat.ko",
                "kernel/net/a-b.ko.xz"
            ]
        );
        let err = resolve_modules(dep, &[("nope".into(), 3)], "modules.txt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "modules.txt:3:1: unknown kernel module `nope` (not in modules.dep)"
        );
    }

    #[test]
    fn real_modules_dep_resolves_when_present() {
        // Uses the Debian kernel the VM boots, when installed.
        let Ok(k) = util::default_kernel() else {
            return;
        };
        let Some(rel) = util::kernel_release(&k) else {
            return;
        };
        let Ok(dep) = std::fs::read_to_string(format!("/lib/modules/{rel}/modules.dep")) else {
            return;
        };
        let order = resolve_modules(&dep, &[("vfat".into(), 1)], "m").unwrap();
        assert!(order.last().unwrap().contains("vfat.ko"), "{order:?}");
        assert!(order.iter().any(|m| m.contains("/fat.ko")), "{order:?}");
    }

    #[test]
    fn mirror_recreates_host_symlinks() {
        let mut b = Builder::new();
        // The loader path on Debian goes through /lib64 (merged /usr) and a
        // versioned symlink; whatever the host, the result is a real file.
        let real = b.mirror(Path::new("/lib64/ld-linux-x86-64.so.2")).unwrap();
        assert!(std::fs::symlink_metadata(&real).unwrap().is_file());
        if std::fs::symlink_metadata("/lib64")
            .unwrap()
            .file_type()
            .is_symlink()
        {
            assert!(b.archive.contains("/lib64"));
        }
    }
}
