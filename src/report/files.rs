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
//! Replacing a folder deletes what it held, so only a folder portsim wrote (it holds the
//! [`MARKER`] file, or a `summary.json` / `sweep.json` of a version before the marker) or an
//! empty one is replaced; anything else is an error naming the folder.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let staging = parent.join(format!(".{name}.new-{}-{n}", std::process::id()));
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
        )?;
        Ok(Staged { target, staging, files: Vec::new(), published: false })
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
        if let Some(dir) = dest.parent() {
            io(std::fs::create_dir_all(dir), || format!("cannot create {}", dir.display()))?;
        }
        io(std::fs::write(&dest, bytes), || format!("cannot write {}", path.display()))?;
        self.files.push(rel);
        Ok(())
    }

    /// Swaps the staging folder in place of the target; returns the files' final paths.
    pub fn publish(mut self) -> Result<Vec<PathBuf>> {
        check_replaceable(&self.target)?;
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
        Ok(self.files.iter().map(|f| self.target.join(f)).collect())
    }
}

impl Drop for Staged {
    /// A folder never published (an error part-way) is removed, not left half-done.
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.staging);
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
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &abs));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
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
