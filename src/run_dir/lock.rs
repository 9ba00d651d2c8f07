//! The run directory's owner: one process at a time holds `RUN/.lock`.
//!
//! The lock is an advisory lock of the operating system on the open file (`flock`), so the
//! kernel releases it when its process ends in any way, `kill -9` included: a killed run never
//! leaves a directory that nobody can take. The file holds the owner's process id, for the
//! message a second process gets.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::RunDirError;

/// Held while a process owns a run directory; the lock is released when this is dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock file `path` (created if missing), or says which process holds it.
    pub fn take(path: &Path, dir: &Path) -> Result<RunLock, RunDirError> {
        let io = |source| RunDirError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(RunDirError::Busy {
                    dir: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "another psychrnn process".into()
                    } else {
                        format!("psychrnn process {holder}")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(RunLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
