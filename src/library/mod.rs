//! Script libraries shared between labs: a folder with a manifest ([`Manifest`]), installed
//! into a per-user [`Store`] (versions side by side) from a folder or a git repository
//! ([`fetch_source`]), pinned by a project's lock file ([`LockFile`]), and found by the
//! script engine's `import "NAME/MODULE"` through a [`LibraryResolver`].
//!
//! Nothing here runs scripts: checking and documenting a library's tasks is
//! [`crate::library_tasks`].

mod files;
mod git;
mod lock;
mod manifest;
mod resolve;
mod store;

use std::path::PathBuf;

pub use files::{library_files, FileHashes};
pub use git::{fetch_source, split_source, Fetched};
pub use lock::{LockFile, LockedLibrary, LOCK_FILE};
pub use manifest::{is_valid_name, psychrnn_version, Manifest, MANIFEST_FILE, STDLIB_NAME};
pub use resolve::{LibraryResolver, ResolvedModule};
pub use store::{default_store_root, Installed, Store, INSTALL_RECORD};

/// What can go wrong with a library, its store or a lock file.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The folder has no manifest.
    #[error("{} is not a psychrnn library: it has no {MANIFEST_FILE} (name, version, psychrnn, exports)", dir.display())]
    NoManifest {
        /// The folder.
        dir: PathBuf,
    },
    /// The manifest is malformed or does not fit this psychrnn.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, starting with the field.
        message: String,
    },
    /// A git command failed.
    #[error("git {args} failed: {message}")]
    Git {
        /// The arguments given to git.
        args: String,
        /// What git said (or why it could not run).
        message: String,
    },
    /// The source given to `lib add` is neither a folder nor a git URL.
    #[error("{0}")]
    Source(String),
    /// The same name and version is installed with other content.
    #[error("{name} {version} is already installed (from {installed_from}) with different content; remove it first (psychrnn lib remove {name}@{version}) or give the new content a new version")]
    Conflict {
        /// The library.
        name: String,
        /// Its version.
        version: String,
        /// Where the installed copy came from.
        installed_from: String,
    },
    /// No installed library or version of that name.
    #[error("{0}")]
    NotInstalled(String),
    /// An import names a module the library does not export.
    #[error("library {name} {version} does not export `{module}`; it exports: {}", exports.join(", "))]
    NotExported {
        /// The library.
        name: String,
        /// Its version.
        version: String,
        /// The module imported.
        module: String,
        /// What it exports.
        exports: Vec<String>,
    },
    /// A library module imports a library its manifest does not list.
    #[error("{importer} imports {library}, which its {MANIFEST_FILE} does not list under dependencies; add `{library}: \"^VERSION\"` there")]
    UndeclaredDependency {
        /// The importing library (`name version`).
        importer: String,
        /// The library imported.
        library: String,
    },
    /// The lock file is malformed, lacks a library, or disagrees with what is installed.
    #[error("{}: {message}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}

impl LibraryError {
    /// True when the error is the user's to fix (exit status 2), not a failure of the system.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, LibraryError::Io { .. })
    }
}
