//! The run directory: where a run's files go, each written atomically (temporary file, rename).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes a file through `write` at a temporary name beside `path`, then renames it onto
/// `path`, so readers never see a half-written file. The temporary file is removed on error.
pub fn write_atomic_with<E, F>(path: &Path, write: F) -> Result<(), E>
where
    F: FnOnce(&Path) -> Result<(), E>,
    E: From<io::Error>,
{
    let tmp = temp_path(path);
    match write(&tmp) {
        Ok(()) => {
            if let Ok(f) = fs::File::open(&tmp) {
                let _ = f.sync_all();
            }
            fs::rename(&tmp, path).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                E::from(e)
            })
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// `.NAME.tmp-PID.EXT` beside `path`: hidden, unique to this process, and with the same
/// extension (some writers pick the format from it).
fn temp_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!(
            ".{stem}.tmp-{}.{}",
            std::process::id(),
            ext.to_string_lossy()
        ),
        None => format!(".{stem}.tmp-{}", std::process::id()),
    };
    path.with_file_name(name)
}

/// A run's directory and the names of the files in it.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Names `root` as the run directory (nothing is created yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// The default directory for an experiment: `runs/<name>`, or `runs/<name>-2`, `-3`, …
    /// when that already holds a run, so a new run never overwrites an old one.
    pub fn next_free(base: &Path, name: &str) -> Self {
        let mut k = 1;
        loop {
            let dir = if k == 1 {
                base.join(name)
            } else {
                base.join(format!("{name}-{k}"))
            };
            let run = RunDir::new(dir);
            if !run.holds_run() {
                return run;
            }
            k += 1;
        }
    }

    /// Creates the directory (and parents).
    pub fn create(&self) -> io::Result<()> {
        fs::create_dir_all(&self.root)
    }

    /// True if the directory already holds a run's files.
    pub fn holds_run(&self) -> bool {
        self.config().exists() || self.weights().exists() || self.history().exists()
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.yaml`: the fully resolved experiment.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.yaml")
    }
    /// `weights.npz`: PsychRNN-compatible weights.
    pub fn weights(&self) -> PathBuf {
        self.root.join("weights.npz")
    }
    /// `history.csv`: one row per evaluation.
    pub fn history(&self) -> PathBuf {
        self.root.join("history.csv")
    }
    /// Reads `config.yaml`, saying what is missing or malformed.
    pub fn read_record(&self) -> Result<crate::experiment::RunRecord, String> {
        let path = self.config();
        let text = fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (is {} a run directory?)",
                path.display(),
                self.root.display()
            )
        })?;
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `checkpoint/`: the state to resume from.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// Removes the files of a run held here (for `--overwrite`); other files stay.
    pub fn clear(&self) -> io::Result<()> {
        for f in [
            self.config(),
            self.weights(),
            self.history(),
            self.summary(),
        ] {
            if f.exists() {
                fs::remove_file(f)?;
            }
        }
        for d in [self.checkpoint(), self.root.join(".checkpoint-old")] {
            if d.exists() {
                fs::remove_dir_all(d)?;
            }
        }
        Ok(())
    }

    /// `summary.yaml`: the outcome of the run.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.yaml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_cleans_up_on_error() {
        let dir = std::env::temp_dir().join(format!("psychrnn-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.txt");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let r: io::Result<()> = write_atomic_with(&p, |tmp| {
            fs::write(tmp, b"half")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn next_free_skips_directories_holding_runs() {
        let base = std::env::temp_dir().join(format!("psychrnn-runs-{}", std::process::id()));
        let first = RunDir::next_free(&base, "pd");
        assert_eq!(first.root(), base.join("pd"));
        first.create().unwrap();
        fs::write(first.config(), "x").unwrap();
        assert_eq!(RunDir::next_free(&base, "pd").root(), base.join("pd-2"));
        fs::remove_dir_all(&base).unwrap();
    }
}
