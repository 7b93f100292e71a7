//! `krsi hash`: SHA-256 entries for `file.sha256` lists.
//!
//! The digest is that of the file's bytes as stored, which is what the
//! kernel hashes at exec and at a module read (a compressed module's digest
//! is the compressed file's).
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use sha2::{Digest, Sha256};

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files, or directories to walk (regular files below them; symbolic
    /// links inside are not followed).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print a whole policy file holding one list of this name.
    #[arg(long, value_name = "NAME")]
    pub list: Option<String>,
}

/// The SHA-256 of a file's content in lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("{}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Regular files named by `paths`, directories walked, in path order.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else if meta.is_file() {
            out.push(p.clone());
        } else {
            anyhow::bail!("{}: not a regular file or directory", p.display());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let entry = entry.with_context(|| format!("{}", dir.display()))?;
        let ty = entry.file_type()?;
        if ty.is_dir() {
            walk(&entry.path(), out)?;
        } else if ty.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// One list entry: the digest, quoted (an all-digit digest would otherwise
/// read as a number), with the file as its note.
pub fn entry(digest: &str, path: &Path) -> String {
    format!(
        "\"{digest}\": {}",
        serde_json::to_string(&path.display().to_string()).expect("string")
    )
}

pub fn run(args: HashArgs) -> Result<i32> {
    let files = files(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let indent = match &args.list {
        Some(name) => {
            writeln!(
                out,
                "# file.sha256 entries written by `krsi hash`; the notes name the files"
            )?;
            writeln!(out, "lists:")?;
            writeln!(out, "  {}:", serde_json::to_string(name)?)?;
            "    "
        }
        None => "",
    };
    if files.is_empty() {
        anyhow::bail!("no regular files under the given paths");
    }
    for f in files {
        let d = sha256_file(&f)?;
        writeln!(out, "{indent}{}", entry(&d, &f))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let dir = std::env::temp_dir().join(format!("krsi-hash-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("abc"), b"abc").unwrap();
        std::fs::write(dir.join("sub/empty"), b"").unwrap();
        assert_eq!(
            sha256_file(&dir.join("abc")).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let all = files(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(all, vec![dir.join("abc"), dir.join("sub/empty")]);
        assert_eq!(
            entry(
                &sha256_file(&dir.join("sub/empty")).unwrap(),
                Path::new("/x \"y\"")
            ),
            "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\": \"/x \\\"y\\\"\""
        );
        let err = files(&[dir.join("nope")]).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn output_is_a_policy_list() {
        // What `--list` prints parses as a policy list with notes.
        let text = format!(
            "lists:\n  known:\n    {}\nrules:\n  - name: r\n    hook: exec\n    action: deny\n    match: {{file.sha256: {{in: known}}}}\n",
            entry(&"0".repeat(64), Path::new("/bin/x"))
        );
        let p = crate::parse_str("t.yaml", &text).unwrap();
        let c = crate::compile(&p).unwrap();
        assert_eq!(
            c.notes.get(&"0".repeat(64)).map(String::as_str),
            Some("/bin/x")
        );
    }
}
