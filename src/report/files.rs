//! Writing output files whole or not at all: each file goes to a temporary name in the same
//! folder and is renamed into place only when every file of the run has been written.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A set of files to publish together.
#[derive(Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Writes `bytes` to a temporary file beside `path`.
    pub fn write(&mut self, path: PathBuf, bytes: &[u8]) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        self.files.push((tmp, path));
        Ok(())
    }

    /// Renames every staged file into place.
    pub fn publish(mut self) -> Result<Vec<PathBuf>> {
        let mut done = Vec::new();
        for (tmp, path) in std::mem::take(&mut self.files) {
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot move {} into place", path.display()))?;
            done.push(path);
        }
        Ok(done)
    }
}

impl Drop for Staged {
    /// Files never published (an error part-way) are removed, not left half-done.
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
