//! Publishing an output folder whole: a run owns its folder. Every file is written into a
//! staging folder beside the target (same parent, so the same file system), and only when all
//! of them exist is the staging folder renamed over the target. A second run into the same
//! `--out` replaces the first run's whole set, so a `report.html` or a 24 MB `connections.csv`
//! of an earlier run never sits beside a newer `summary.json`; a run that fails part-way leaves
//! the earlier set untouched.
//!
//! The swap is two renames (old folder aside, new folder in), then the old one is removed;
//! `renameat2(RENAME_EXCHANGE)` would make it one, but needs `unsafe` or a system binding.
//! If the second rename fails, the old folder is put back.
//!
//! Nothing is left behind on the way out: a staging folder is removed on every error path (its
//! `Drop`), on SIGINT and SIGTERM ([`install_signal_handler`], holding the write lock so no
//! file is created after the cleanup), and a folder a killed run (kill -9, power loss) left
//! is removed by the next run into the same parent: its name carries the PID that made it, and
//! a folder whose PID is no longer alive is stale.
//!
//! Replacing a folder deletes what it held, so only a folder portsim wrote (it holds the
//! [`MARKER`] file, or a `summary.json` / `sweep.json` of a version before the marker) or an
//! empty one is replaced; anything else is an error naming the folder.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An output that could not be written (a full disk, no permission): the binary exits 3 on it,
/// not 2, so a script tells "fix the input" from "fix the machine".
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(pub String);

/// Tags an I/O failure on an output path as a [`WriteError`].
fn io<T>(r: std::io::Result<T>, what: impl FnOnce() -> String) -> Result<T> {
    r.map_err(|e| anyhow::Error::new(e).context(WriteError(what())))
}

/// The file every published folder holds, saying portsim wrote it and may replace it.
pub const MARKER: &str = ".portsim-output";

/// Names portsim wrote before it had the marker: such a folder is one of its outputs.
const LEGACY: &[&str] = &["summary.json", "sweep.json"];

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The staging folders and temporary files this process has not yet published or removed.
/// Every file operation on them holds this lock, and so does the signal handler while it
/// removes them and exits: a write never lands after the cleanup.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set while a command handles the first interrupt itself (a sweep keeps its finished points).
static SOFT: AtomicBool = AtomicBool::new(false);
/// Set by the first interrupt when [`SOFT`] is.
static STOP: AtomicBool = AtomicBool::new(false);

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget(path: &Path) {
    live().retain(|p| p != path);
}

/// Installs, once per process, the SIGINT/SIGTERM handler (ctrlc with its `termination`
/// feature): it removes every staging folder and temporary file still live and exits 130.
/// While [`handle_first_interrupt`] is on, the first signal only asks the work to stop
/// ([`stop_requested`]); a second one cleans up and exits.
pub fn install_signal_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if SOFT.load(Ordering::SeqCst) && !STOP.swap(true, Ordering::SeqCst) {
                return;
            }
            let held = live();
            for p in held.iter() {
                let _ = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
            }
            eprintln!("interrupted: removed the unpublished output");
            std::process::exit(130);
        });
    });
}

/// Whether the first interrupt only asks the work to stop (on) or ends the process (off);
/// turning it on clears an earlier request.
pub fn handle_first_interrupt(on: bool) {
    STOP.store(false, Ordering::SeqCst);
    SOFT.store(on, Ordering::SeqCst);
}

/// Whether an interrupt asked the work to stop.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The PID in a name portsim gives its temporary entries (`.run.new-4242-0`), if it has one.
fn owner_pid(entry: &str, name: &str) -> Option<u32> {
    let rest = entry.strip_prefix('.')?.strip_prefix(name)?;
    let rest = [".new-", ".old-", ".tmp-"].iter().find_map(|k| rest.strip_prefix(k))?;
    let (pid, n) = rest.split_once('-')?;
    n.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
    pid.parse().ok()
}

/// Whether process `pid` is alive; `None` where that cannot be told (no /proc).
fn alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists())
}

/// Removes what a killed run left beside `name` in `parent`: staging and old folders and
/// temporary files whose PID is dead. Best effort; what cannot be removed is left.
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let entry = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = owner_pid(&entry, name)
            && alive(pid) == Some(false)
        {
            let p = e.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// The test hook of the write phase: with `PORTSIM_TEST_PAUSE_BEFORE_PUBLISH=FILE` set, every
/// publish creates FILE and then waits 60 s, its files all staged and nothing swapped yet, so
/// a test can signal the process at exactly that moment instead of guessing it with sleeps
/// (tests/integration/interrupts.rs). Nothing else sets it.
fn pause_for_tests() {
    if let Some(ready) = std::env::var_os("PORTSIM_TEST_PAUSE_BEFORE_PUBLISH") {
        let _ = std::fs::write(ready, b"staged\n");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// A folder being built, to be published over `target` in one swap.
pub struct Staged {
    target: PathBuf,
    staging: PathBuf,
    files: Vec<PathBuf>,
    published: bool,
}

impl Staged {
    /// Starts a staging folder beside `target`. Fails at once (before any work is spent on the
    /// files) when `target` exists and is not a folder portsim may replace.
    pub fn new(target: &Path) -> Result<Staged> {
        let target = target.to_path_buf();
        check_replaceable(&target)?;
        let (parent, name) = split(&target)?;
        io(std::fs::create_dir_all(&parent), || format!("cannot create {}", parent.display()))?;
        remove_stale(&parent, &name);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let staging = parent.join(format!(".{name}.new-{}-{n}", std::process::id()));
        let mut held = live();
        held.push(staging.clone());
        // From here on its `Drop` removes the folder, whatever fails.
        let staged = Staged { target, staging: staging.clone(), files: Vec::new(), published: false };
        let made = (|| {
            if staging.exists() {
                io(std::fs::remove_dir_all(&staging), || {
                    format!("cannot remove the stale {}", staging.display())
                })?;
            }
            io(std::fs::create_dir(&staging), || format!("cannot create {}", staging.display()))?;
            io(
                std::fs::write(
                    staging.join(MARKER),
                    b"written by portsim: a new run replaces this folder whole\n",
                ),
                || format!("cannot write {}", staging.join(MARKER).display()),
            )
        })();
        // The lock goes before `staged` can drop: its `Drop` takes the lock too (a full disk
        // failing the marker deadlocked here).
        drop(held);
        made?;
        Ok(staged)
    }

    /// The folder the files will end up in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes` as `path`, a path inside the target folder (`target/charts/a.svg`).
    pub fn write(&mut self, path: PathBuf, bytes: &[u8]) -> Result<()> {
        let rel = path
            .strip_prefix(&self.target)
            .with_context(|| format!("{} is not inside {}", path.display(), self.target.display()))?
            .to_path_buf();
        let dest = self.staging.join(&rel);
        let _held = live();
        if let Some(dir) = dest.parent() {
            io(std::fs::create_dir_all(dir), || format!("cannot create {}", dir.display()))?;
        }
        if let Err(e) = std::fs::write(&dest, bytes) {
            // A full disk leaves a partial file: remove it now, the folder goes on drop.
            let _ = std::fs::remove_file(&dest);
            return io(Err(e), || format!("cannot write {}", path.display()));
        }
        self.files.push(rel);
        Ok(())
    }

    /// Writes `path` (inside the target folder) as `fill` produces it, streamed through a
    /// buffer: for a file too large to build in memory first (`connections.csv`). An error of
    /// `fill` that is not itself a write error is passed on as it is; a failed write removes
    /// the partial file.
    pub fn write_with(
        &mut self,
        path: PathBuf,
        fill: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<()> {
        let rel = path
            .strip_prefix(&self.target)
            .with_context(|| format!("{} is not inside {}", path.display(), self.target.display()))?
            .to_path_buf();
        let dest = self.staging.join(&rel);
        if let Some(dir) = dest.parent() {
            let _held = live();
            io(std::fs::create_dir_all(dir), || format!("cannot create {}", dir.display()))?;
        }
        // Not under the lock: filling may take minutes, and the signal handler must be able to
        // remove the staging folder meanwhile (the file is inside it).
        let file = io(std::fs::File::create(&dest), || format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        let filled = fill(&mut out).and_then(|()| {
            io(std::io::Write::flush(&mut out), || format!("cannot write {}", path.display()))?;
            io(out.into_inner().map(drop).map_err(|e| e.into_error()), || {
                format!("cannot write {}", path.display())
            })
        });
        if let Err(e) = filled {
            let _ = std::fs::remove_file(&dest);
            let is_io = e.downcast_ref::<std::io::Error>().is_some()
                || e.chain().any(|c| c.downcast_ref::<csv::Error>().is_some_and(|c| c.is_io_error()));
            return if is_io && e.downcast_ref::<WriteError>().is_none() {
                Err(e.context(WriteError(format!("cannot write {}", path.display()))))
            } else {
                Err(e)
            };
        }
        self.files.push(rel);
        Ok(())
    }

    /// Swaps the staging folder in place of the target; returns the files' final paths.
    pub fn publish(mut self) -> Result<Vec<PathBuf>> {
        pause_for_tests();
        check_replaceable(&self.target)?;
        // Held through both renames: a signal never lands between them.
        let mut held = live();
        if self.target.exists() {
            let (parent, name) = split(&self.target)?;
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let old = parent.join(format!(".{name}.old-{}-{n}", std::process::id()));
            io(std::fs::rename(&self.target, &old), || {
                format!("cannot move the earlier {} aside", self.target.display())
            })?;
            if let Err(e) = std::fs::rename(&self.staging, &self.target) {
                let _ = std::fs::rename(&old, &self.target);
                return io(Err(e), || format!("cannot move {} into place", self.target.display()));
            }
            io(std::fs::remove_dir_all(&old), || {
                format!("cannot remove the earlier run's {}", old.display())
            })?;
        } else {
            io(std::fs::rename(&self.staging, &self.target), || {
                format!("cannot move {} into place", self.target.display())
            })?;
        }
        self.published = true;
        held.retain(|p| p != &self.staging);
        drop(held);
        Ok(self.files.iter().map(|f| self.target.join(f)).collect())
    }
}

impl Drop for Staged {
    /// A folder never published (an error part-way) is removed, not left half-done.
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.staging);
            forget(&self.staging);
        }
    }
}

/// The parent folder and the last name of `target` (`out/run` -> `out`, `run`).
fn split(target: &Path) -> Result<(PathBuf, String)> {
    let abs = std::path::absolute(target).with_context(|| format!("cannot resolve {}", target.display()))?;
    match (abs.parent(), abs.file_name()) {
        (Some(p), Some(n))
            if !matches!(
                target.components().next_back(),
                Some(std::path::Component::CurDir | std::path::Component::ParentDir)
            ) =>
        {
            Ok((p.to_path_buf(), n.to_string_lossy().into_owned()))
        }
        _ => bail!(
            "{}: name the output folder itself (a run replaces it whole), not . or .. or /",
            target.display()
        ),
    }
}

/// `target` may be replaced: it does not exist, is empty, or is a folder portsim wrote.
pub fn check_replaceable(target: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(target) {
        Err(_) => return Ok(()),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        bail!("{} exists and is not a folder: choose another output folder", target.display());
    }
    if target.join(MARKER).is_file() || LEGACY.iter().any(|f| target.join(f).is_file()) {
        return Ok(());
    }
    let empty =
        io(std::fs::read_dir(target), || format!("cannot read {}", target.display()))?.next().is_none();
    if !empty {
        bail!(
            "{} holds files portsim did not write: a run replaces its output folder whole, so choose \
             another (or an empty) folder",
            target.display()
        );
    }
    Ok(())
}

/// Writes one file whole or not at all, into a folder other files share (a shard beside its
/// sibling shards, a vectors file): the bytes go to a temporary name in the same folder, then
/// one rename puts them in place; on any error the temporary file is removed.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let abs = std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let (Some(dir), Some(name)) = (abs.parent(), abs.file_name()) else {
        bail!("{}: name a file, not a folder", path.display());
    };
    io(std::fs::create_dir_all(dir), || format!("cannot create {}", dir.display()))?;
    remove_stale(dir, &name.to_string_lossy());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id()));
    let mut held = live();
    held.push(tmp.clone());
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &abs));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    held.retain(|p| p != &tmp);
    drop(held);
    io(written, || format!("cannot write {}", path.display()))
}

/// Makes `dir` a folder portsim may later replace whole (it gets the [`MARKER`]), when it is new,
/// empty or already portsim's; a folder holding other files is left as it is. Shards are
/// written one file at a time into such a folder, which `portsim merge` then publishes over
/// with the merged sweep (keeping the shards).
pub fn claim_folder(dir: &Path) -> Result<()> {
    if check_replaceable(dir).is_err() {
        return Ok(());
    }
    io(std::fs::create_dir_all(dir), || format!("cannot create {}", dir.display()))?;
    if !dir.join(MARKER).is_file() {
        write_file_atomically(
            &dir.join(MARKER),
            b"written by portsim: a new run replaces this folder whole\n",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_their_pid() {
        assert_eq!(owner_pid(".run.new-4242-0", "run"), Some(4242));
        assert_eq!(owner_pid(".run.old-17-3", "run"), Some(17));
        assert_eq!(owner_pid(".a.csv.tmp-9-12", "a.csv"), Some(9));
        assert_eq!(owner_pid(".run.new-4242-0", "run2"), None);
        assert_eq!(owner_pid(".run.new-x-0", "run"), None);
        assert_eq!(owner_pid("run.new-1-0", "run"), None);
        assert_eq!(owner_pid(".run.new-1-0x", "run"), None);
    }

    #[test]
    fn a_dead_runs_staging_is_removed_and_a_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // PID 0 is never a process that left files; ours is alive.
        let dead = dir.path().join(".run.new-4194305-0");
        let mine = dir.path().join(format!(".run.new-{}-99", std::process::id()));
        let other = dir.path().join(".other.new-4194305-0");
        for d in [&dead, &mine, &other] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(dir.path().join(".x.csv.tmp-4194305-1"), b"partial").unwrap();
        remove_stale(dir.path(), "run");
        remove_stale(dir.path(), "x.csv");
        assert!(!dead.exists(), "a PID above pid_max is dead");
        assert!(mine.exists() && other.exists());
        assert!(!dir.path().join(".x.csv.tmp-4194305-1").exists());
    }
}
