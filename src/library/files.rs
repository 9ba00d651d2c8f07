//! The files a library consists of and their SHA-256 hashes: what a lock pins and a run
//! records.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::LibraryError;

/// SHA-256 (hex) of every file of a library, by its `/`-separated path inside the library.
pub type FileHashes = BTreeMap<String, String>;

/// Every file under `dir` with its SHA-256, skipping entries whose name starts with `.`
/// (`.git`, the store's install record). Symbolic links are refused: a library's content must
/// be in its folder.
pub fn library_files(dir: &Path) -> Result<FileHashes, LibraryError> {
    let mut out = FileHashes::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut FileHashes) -> Result<(), LibraryError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LibraryError::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_symlink() {
            return Err(LibraryError::Source(format!(
                "{} is a symbolic link; a library's files must be in its folder",
                path.display()
            )));
        }
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), out)?;
        } else {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            out.insert(rel, format!("{:x}", Sha256::digest(&bytes)));
        }
    }
    Ok(())
}
