//! `psychrnn.lock`, next to a project's scripts: the exact version of every library they
//! import, where it came from, and the SHA-256 of each of its files. `run` resolves imports
//! through it and refuses a library whose content no longer matches.

use std::path::{Path, PathBuf};

use semver::Version;
use serde::{Deserialize, Serialize};

use super::{FileHashes, Installed, LibraryError};
use crate::atomic_file::write_atomic;

/// The lock file's name, in the folder of the scripts it pins.
pub const LOCK_FILE: &str = "psychrnn.lock";

/// The format this psychrnn writes (`format_version` in the file).
const LOCK_FORMAT: u32 = 1;

/// One pinned library (also what config.yaml records of each library a run imported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedLibrary {
    /// The library's name.
    pub name: String,
    /// The exact version.
    pub version: Version,
    /// Where it was installed from (folder or git URL): `psychrnn lib add SOURCE@COMMIT`
    /// installs it again.
    pub source: String,
    /// The git commit, when it came from git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// SHA-256 of every file, by path inside the library.
    pub files: FileHashes,
}

impl LockedLibrary {
    /// `name version`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// The command that installs exactly this version.
    pub fn add_command(&self) -> String {
        match &self.commit {
            Some(c) => format!("psychrnn lib add {}@{c}", self.source),
            None => format!("psychrnn lib add {}", self.source),
        }
    }

    /// Compares `installed` (its current files) with what is pinned; the message names the
    /// first file that differs.
    pub fn check(&self, installed: &Installed) -> Result<(), String> {
        let dir = installed.dir.display();
        for (file, sha) in &self.files {
            match installed.files.get(file) {
                None => {
                    return Err(format!(
                        "{} pins {file}, which is missing from {dir}",
                        self.label()
                    ))
                }
                Some(now) if now != sha => {
                    return Err(format!(
                        "{} has changed since it was locked: {dir}/{file} has SHA-256 {now}, the lock pins {sha}",
                        self.label()
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = installed
            .files
            .keys()
            .find(|f| !self.files.contains_key(*f))
        {
            return Err(format!(
                "{} has changed since it was locked: {dir}/{extra} was added",
                self.label()
            ));
        }
        Ok(())
    }
}

/// A project's lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// The file's format.
    pub format_version: u32,
    /// The pinned libraries, by name.
    pub libraries: Vec<LockedLibrary>,
}

impl LockFile {
    /// A lock pinning `libraries` (sorted by name).
    pub fn new(mut libraries: Vec<LockedLibrary>) -> LockFile {
        libraries.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        libraries.dedup();
        LockFile {
            format_version: LOCK_FORMAT,
            libraries,
        }
    }

    /// The lock file of the scripts in `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(LOCK_FILE)
    }

    /// Reads `dir`'s lock file; `None` when there is none.
    pub fn read_in(dir: &Path) -> Result<Option<LockFile>, LibraryError> {
        let path = Self::path_in(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(LibraryError::Io { path, source }),
        };
        let fail = |message: String| LibraryError::Lock {
            path: path.clone(),
            message,
        };
        let lock: LockFile = serde_norway::from_str(&text)
            .map_err(|e| fail(format!("{e}; write it again with psychrnn lib lock")))?;
        if lock.format_version > LOCK_FORMAT {
            return Err(fail(format!(
                "written in lock format {}, this psychrnn reads up to {LOCK_FORMAT}: update psychrnn",
                lock.format_version
            )));
        }
        for (k, l) in lock.libraries.iter().enumerate() {
            if lock.libraries[..k].iter().any(|o| o.name == l.name) {
                return Err(fail(format!(
                    "{} is pinned twice; a project uses one version of each library",
                    l.name
                )));
            }
        }
        Ok(Some(lock))
    }

    /// Writes it as `dir`'s lock file, atomically.
    pub fn write_in(&self, dir: &Path) -> Result<PathBuf, LibraryError> {
        let path = Self::path_in(dir);
        let yaml = serde_norway::to_string(self).expect("a lock file serialises");
        let text = format!(
            "# Written by psychrnn lib lock: the exact libraries the scripts in this folder import.\n{yaml}"
        );
        write_atomic(&path, text.as_bytes()).map_err(|source| LibraryError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// The pinned version of `name`.
    pub fn get(&self, name: &str) -> Option<&LockedLibrary> {
        self.libraries.iter().find(|l| l.name == name)
    }
}
