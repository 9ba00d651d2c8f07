//! Atomic writes: a file is written whole at a temporary name beside its destination, flushed
//! to disk, then renamed into place, so a reader (or a crash) never sees half of it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes a file through `write` at a temporary name beside `path`, then renames it onto
/// `path`, so readers never see a half-written file. The temporary file is removed on error
/// (a full disk included), and what was at `path` before stays as it was.
pub fn write_atomic_with<E, F>(path: &Path, write: F) -> Result<(), E>
where
    F: FnOnce(&Path) -> Result<(), E>,
    E: From<io::Error>,
{
    let tmp = temp_path(path);
    match write(&tmp) {
        Ok(()) => {
            // A file that cannot be flushed (disk full at the last block) is an error too.
            let synced = fs::File::open(&tmp).and_then(|f| f.sync_all());
            if let Err(e) = synced {
                let _ = fs::remove_file(&tmp);
                return Err(E::from(e));
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
///
/// ```
/// let path = std::env::temp_dir().join(format!("psychrnn-doc-{}.txt", std::process::id()));
/// psychrnn::run_dir::write_atomic(&path, b"first").unwrap();
/// psychrnn::run_dir::write_atomic(&path, b"second").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"second");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// The marker every temporary name carries: `.NAME.tmp-PID.EXT` (files) and
/// `.checkpoint-tmp-PID` (the checkpoint folder). A resume removes what a killed run left.
pub(crate) const TEMP_MARK: &str = ".tmp-";

/// `.NAME.tmp-PID.EXT` beside `path`: hidden, unique to this process, and with the same
/// extension (some writers pick the format from it).
fn temp_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!(
            ".{stem}{TEMP_MARK}{}.{}",
            std::process::id(),
            ext.to_string_lossy()
        ),
        None => format!(".{stem}{TEMP_MARK}{}", std::process::id()),
    };
    path.with_file_name(name)
}

/// True for a name [`write_atomic_with`] or the checkpoint writer uses while writing.
pub(crate) fn is_temporary_name(name: &str) -> bool {
    name.starts_with('.') && (name.contains(TEMP_MARK) || name.starts_with(".checkpoint-tmp-"))
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
            assert!(is_temporary_name(
                &tmp.file_name().unwrap().to_string_lossy()
            ));
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
    fn temporary_names_are_recognised_and_real_ones_are_not() {
        assert!(is_temporary_name(".weights.tmp-123.npz"));
        assert!(is_temporary_name(".checkpoint-tmp-77"));
        for name in [
            "weights.npz",
            ".lock",
            "tmp-1",
            ".checkpoint-old",
            "checkpoint",
        ] {
            assert!(!is_temporary_name(name), "{name}");
        }
    }
}
