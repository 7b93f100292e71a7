//! Small helpers shared by the xtask commands.
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Where the workspace lives and where cargo puts its output.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
}

/// The cargo that started us (so `+toolchain` and rustup proxies are kept).
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Ask cargo itself for the workspace root and target dir: this honours
/// `CARGO_TARGET_DIR`, `--config build.target-dir` and `.cargo/config.toml`
/// exactly as the build commands we spawn will.
///
/// Asked from the current directory (`cargo xtask` keeps the caller's), not
/// from the compile-time manifest dir: two checkouts sharing one target dir
/// share one xtask binary, which must act on the checkout it is run in.
pub fn workspace() -> Result<Workspace> {
    let cwd = std::env::current_dir().context("current directory")?;
    let start = if cwd.ancestors().any(|d| d.join("Cargo.toml").is_file()) {
        cwd
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    };
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(start)
        .output()
        .context("running `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_metadata(&out.stdout)
}

fn parse_metadata(json: &[u8]) -> Result<Workspace> {
    let v: serde_json::Value =
        serde_json::from_slice(json).context("parsing `cargo metadata` output")?;
    let field = |name: &str| -> Result<PathBuf> {
        v.get(name)
            .and_then(|x| x.as_str())
            .map(PathBuf::from)
            .with_context(|| format!("`cargo metadata` output has no `{name}`"))
    };
    Ok(Workspace {
        root: field("workspace_root")?,
        target_dir: field("target_directory")?,
    })
}

/// Run a command, inheriting stdio; error names the command when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", describe(cmd)))?;
    if !status.success() {
        bail!("{} failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Run a command and capture its stdout (stderr is inherited).
pub fn output(cmd: &mut Command) -> Result<Vec<u8>> {
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("starting {}", describe(cmd)))?;
    if !out.status.success() {
        bail!("{} failed ({})", describe(cmd), out.status);
    }
    Ok(out.stdout)
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    format!("`{s}`")
}

/// `cargo build --release -p krsi`; returns the path of the binary.
pub fn build_krsi_release(ws: &Workspace) -> Result<PathBuf> {
    eprintln!("xtask: cargo build --release -p krsi");
    run(Command::new(cargo())
        .args(["build", "--release", "-p", "krsi"])
        .current_dir(&ws.root))?;
    let bin = ws.target_dir.join("release").join("krsi");
    if !bin.is_file() {
        bail!("cargo build succeeded but {} is missing", bin.display());
    }
    Ok(bin)
}

/// Newest `/boot/vmlinuz-*` by kernel version (numeric-aware compare).
pub fn default_kernel() -> Result<PathBuf> {
    let mut found: Vec<(Vec<u64>, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir("/boot").context("reading /boot")? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(ver) = name.strip_prefix("vmlinuz-") {
            found.push((version_key(ver), path.clone()));
        }
    }
    found.sort();
    match found.pop() {
        Some((_, p)) => Ok(p),
        None => {
            bail!("no /boot/vmlinuz-* kernel found (install linux-image-amd64 or pass --kernel)")
        }
    }
}

/// "6.1.0-56-amd64" -> [6, 1, 0, 56]: enough to order Debian kernel versions.
pub fn version_key(ver: &str) -> Vec<u64> {
    ver.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Kernel release of a `vmlinuz-<release>` path, used to find its modules.
pub fn kernel_release(kernel: &Path) -> Option<String> {
    kernel
        .file_name()?
        .to_str()?
        .strip_prefix("vmlinuz-")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_fields_are_read() {
        let ws =
            parse_metadata(br#"{"workspace_root":"/w","target_directory":"/t","packages":[]}"#)
                .unwrap();
        assert_eq!(ws.root, PathBuf::from("/w"));
        assert_eq!(ws.target_dir, PathBuf::from("/t"));
        assert!(parse_metadata(b"{}").is_err());
    }

    #[test]
    fn versions_order_numerically() {
        assert!(version_key("6.1.0-56-amd64") > version_key("6.1.0-9-amd64"));
        assert!(version_key("6.10.0-1-amd64") > version_key("6.9.0-1-amd64"));
        assert_eq!(
            kernel_release(Path::new("/boot/vmlinuz-6.1.0-56-amd64")).as_deref(),
            Some("6.1.0-56-amd64")
        );
        assert_eq!(kernel_release(Path::new("/boot/bzImage")), None);
    }

    #[test]
    fn workspace_resolves_target_dir_from_env() {
        // CARGO_TARGET_DIR is inherited by `cargo metadata`; whatever it is,
        // the result must be absolute and the root must hold the workspace.
        let ws = workspace().unwrap();
        assert!(ws.root.join("Cargo.toml").is_file());
        assert!(ws.target_dir.is_absolute());
        if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
            assert_eq!(ws.target_dir, ws.root.join(PathBuf::from(t)));
        }
    }
}
