//! `krsi status`: the running agent answers on a root-only Unix socket.
//!
//! The socket lives in a 0700 directory and is 0600, and the agent also
//! checks each peer's credentials (SO_PEERCRED): only uid 0 gets an answer,
//! since rule counters tell an attacker what is being watched.
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub const DEFAULT_SOCKET: &str = "/run/krsi/krsi.sock";

pub struct Server {
    listener: UnixListener,
    path: PathBuf,
}

/// uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: valid fd, output buffer and length.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

impl Server {
    pub fn bind(path: &Path) -> Result<Server> {
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                bail!("another krsi agent answers on {}", path.display());
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing stale {}", path.display()))?;
        }
        let listener =
            UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Answers every pending connection with `status()` (root peers only).
    pub fn serve_pending(&self, status: impl Fn() -> Value) {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("status socket: {e}");
                    return;
                }
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            let reply = match peer_uid(&stream) {
                Ok(0) => status(),
                Ok(uid) => {
                    tracing::warn!("status socket: refused uid {uid}");
                    serde_json::json!({"error": format!("permission denied: uid {uid} is not root")})
                }
                Err(e) => {
                    serde_json::json!({"error": format!("cannot read peer credentials: {e}")})
                }
            };
            let mut s = stream;
            let _ = serde_json::to_writer(&mut s, &reply);
            let _ = s.write_all(b"\n");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The client side: one JSON object from the agent.
pub fn query(path: &Path) -> Result<Value> {
    let mut s = UnixStream::connect(path)
        .with_context(|| format!("connecting to {} (is `krsi run` running?)", path.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let v: Value = serde_json::from_str(text.trim()).context("reading the agent's answer")?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        bail!("{e}");
    }
    Ok(v)
}

pub fn print_table(v: &Value) {
    println!(
        "backend {}  policy {}  events lost {}",
        v["backend"].as_str().unwrap_or("?"),
        v["policy"].as_str().unwrap_or("?"),
        v["events_lost"]
    );
    let mut out = std::io::stdout().lock();
    let _ = write_rules(&mut out, v);
    for s in v["sealed"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "sealed until reboot: seal {}  policy {}  pins {}",
            s["seal"].as_str().unwrap_or("?"),
            s["policy"].as_str().unwrap_or("(from an earlier run)"),
            s["pins"].as_str().unwrap_or("?")
        );
        if let Some(why) = s["unread"].as_str() {
            let _ = writeln!(out, "  records: {why}");
        }
        for r in s["rules"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {:<30} hits {:>8}  denies {:>8}  kills {:>8}",
                r["rule"].as_str().unwrap_or("?"),
                r["hits"],
                r["denies"],
                r["kills"]
            );
        }
    }
}

/// The per-rule counter table of a status or `agent_stopped` object.
pub fn write_rules(out: &mut dyn std::io::Write, v: &Value) -> std::io::Result<()> {
    const COLS: [(&str, &str); 8] = [
        ("HITS", "hits"),
        ("DENIES", "denies"),
        ("WOULD_DENY", "would_denies"),
        ("AUDITS", "audits"),
        ("KILLS", "kills"),
        ("TAINTS", "taints"),
        ("SUPPRESSED", "suppressed"),
        ("DROPPED", "dropped"),
    ];
    write!(out, "{:<32}", "RULE")?;
    for (h, _) in COLS {
        write!(out, " {h:>10}")?;
    }
    writeln!(out)?;
    for r in v["rules"].as_array().into_iter().flatten() {
        write!(out, "{:<32}", r["rule"].as_str().unwrap_or(""))?;
        for (_, k) in COLS {
            write!(out, " {:>10}", r[k].as_u64().unwrap_or(0))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_root_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("krsi-status-{}", std::process::id()));
        let path = dir.join("s.sock");
        let server = Server::bind(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            Server::bind(&path).is_err(),
            "a second agent must not steal the socket"
        );
        let client = std::thread::spawn({
            let path = path.clone();
            move || query(&path)
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !client.is_finished() && std::time::Instant::now() < deadline {
            server.serve_pending(|| serde_json::json!({"backend": "test", "rules": []}));
            std::thread::sleep(Duration::from_millis(10));
        }
        let r = client.join().unwrap();
        // SAFETY: no arguments.
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(r.unwrap()["backend"], "test");
        } else {
            assert!(r.unwrap_err().to_string().contains("permission denied"));
        }
        drop(server);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Even with the file modes loosened, a non-root peer gets no counters.
    #[test]
    fn refuses_non_root_peers() {
        // SAFETY: no arguments.
        if unsafe { libc::geteuid() } != 0 {
            return; // needs root to switch to another uid
        }
        let dir = std::env::temp_dir().join(format!("krsi-status-nr-{}", std::process::id()));
        let path = dir.join("s.sock");
        let server = Server::bind(&path).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        // Everything the child needs is prepared before fork: after fork in a
        // multi-threaded test process it may only make raw syscalls (no
        // allocation, no locks).
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, b) in addr
            .sun_path
            .iter_mut()
            .zip(path.as_os_str().as_encoded_bytes())
        {
            *d = *b as libc::c_char;
        }
        let needle = b"permission denied: uid 65534";
        // SAFETY: the child only makes async-signal-safe syscalls and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe {
                let mut buf = [0u8; 256];
                let ok = libc::setgid(65534) == 0 && libc::setuid(65534) == 0 && {
                    let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                    fd >= 0
                        && libc::connect(
                            fd,
                            &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                        ) == 0
                        && {
                            let mut n = 0usize;
                            loop {
                                let r = libc::read(
                                    fd,
                                    buf.as_mut_ptr().add(n) as *mut libc::c_void,
                                    buf.len() - n,
                                );
                                if r <= 0 {
                                    break;
                                }
                                n += r as usize;
                                if n == buf.len() {
                                    break;
                                }
                            }
                            buf[..n].windows(needle.len()).any(|w| w == needle)
                        }
                };
                libc::_exit(if ok { 0 } else { 1 });
            }
        }
        let mut status = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            server.serve_pending(|| serde_json::json!({"rules": ["secret"]}));
            // SAFETY: waiting for our own child.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "child hung");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "non-root peer was not refused"
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
