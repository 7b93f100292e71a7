//! Reload when the policy changes on disk.
//!
//! Editors and config managers replace files by rename, so the directory is
//! watched, not the file. Events are debounced: the reload happens once the
//! directory has been quiet for a moment, so a half-written file is not read.
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

const QUIET: Duration = Duration::from_millis(300);

pub struct PolicyWatch {
    inotify: Inotify,
    /// `Some(name)`: only that file of the directory; `None`: every *.yaml / *.yml.
    file: Option<OsString>,
    changed_at: Option<Instant>,
}

impl PolicyWatch {
    pub fn new(policy: &Path) -> nix::Result<PolicyWatch> {
        let (dir, file): (PathBuf, Option<OsString>) = if policy.is_dir() {
            (policy.to_path_buf(), None)
        } else {
            let dir = policy
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            (
                dir.to_path_buf(),
                policy.file_name().map(|n| n.to_os_string()),
            )
        };
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(
            &dir,
            AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_DELETE,
        )?;
        Ok(PolicyWatch {
            inotify,
            file,
            changed_at: None,
        })
    }

    fn relevant(&self, name: Option<&OsString>) -> bool {
        let Some(name) = name else { return false };
        match &self.file {
            Some(f) => name == f,
            None => {
                let n = name.to_string_lossy();
                !n.starts_with('.') && (n.ends_with(".yaml") || n.ends_with(".yml"))
            }
        }
    }

    /// True once per burst of changes, after the quiet period.
    pub fn poll(&mut self) -> bool {
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            if events.iter().any(|e| self.relevant(e.name.as_ref())) {
                self.changed_at = Some(Instant::now());
            }
        }
        match self.changed_at {
            Some(t) if t.elapsed() >= QUIET => {
                self.changed_at = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(w: &mut PolicyWatch) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if w.poll() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn sees_writes_and_renames_of_the_file_only() {
        let dir = std::env::temp_dir().join(format!("krsi-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = dir.join("policy.yaml");
        std::fs::write(&policy, "rules: []\n").unwrap();
        let mut w = PolicyWatch::new(&policy).unwrap();
        assert!(!w.poll());
        std::fs::write(dir.join("other.yaml"), "x").unwrap();
        assert!(!wait(&mut w), "another file must not trigger");
        std::fs::write(&policy, "rules: []\n# edit\n").unwrap();
        assert!(wait(&mut w));
        std::fs::write(dir.join(".policy.yaml.tmp"), "rules: []\n").unwrap();
        std::fs::rename(dir.join(".policy.yaml.tmp"), &policy).unwrap();
        assert!(wait(&mut w), "rename over the file triggers");
        assert!(!w.poll(), "one reload per burst");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
