//! The per-user store of installed libraries: `<root>/<name>/<version>/`, versions side by
//! side, each with an install record saying where it came from.

use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use super::{library_files, FileHashes, LibraryError, LockedLibrary, Manifest};
use crate::atomic_file::write_atomic;

/// The install record's file name inside a version's folder (a dot file, so it is not one of
/// the library's files).
pub const INSTALL_RECORD: &str = ".psychrnn-install.yaml";

/// Where an installed version came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallRecord {
    source: String,
    #[serde(default)]
    commit: Option<String>,
}

/// The default store: `$PSYCHRNN_HOME/libraries`, else the platform's data folder
/// (`$XDG_DATA_HOME/psychrnn/libraries`, `~/.local/share/psychrnn/libraries`; on macOS
/// `~/Library/Application Support/psychrnn/libraries`; on Windows
/// `%APPDATA%\psychrnn\libraries`). `None` when none of these is set.
pub fn default_store_root() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = var("PSYCHRNN_HOME") {
        return Some(home.join("libraries"));
    }
    let data = if cfg!(windows) {
        var("APPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        var("XDG_DATA_HOME").or_else(|| var("HOME").map(|h| h.join(".local/share")))
    };
    data.map(|d| d.join("psychrnn").join("libraries"))
}

/// An installed version of a library.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its folder in the store.
    pub dir: PathBuf,
    /// Where it was installed from (a folder or git URL).
    pub source: String,
    /// The git commit it was installed at, when it came from git.
    pub commit: Option<String>,
    /// Its files and their SHA-256, as they are now.
    pub files: FileHashes,
}

impl Installed {
    /// `name version`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.manifest.name, self.manifest.version)
    }

    /// What a lock file or a run records of it.
    pub fn locked(&self) -> LockedLibrary {
        LockedLibrary {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            source: self.source.clone(),
            commit: self.commit.clone(),
            files: self.files.clone(),
        }
    }
}

/// The store of installed libraries at a root folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store at `root` (created when something is installed).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// Its root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether any version of `name` is installed.
    pub fn has(&self, name: &str) -> bool {
        self.root.join(name).is_dir()
    }

    /// The installed version `version` of `name`, if there is one.
    pub fn get(&self, name: &str, version: &Version) -> Result<Option<Installed>, LibraryError> {
        let dir = self.root.join(name).join(version.to_string());
        if !dir.is_dir() {
            return Ok(None);
        }
        read_installed(&dir).map(Some)
    }

    /// Every installed version of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Installed>, LibraryError> {
        let dir = self.root.join(name);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in read_dir(&dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || Version::parse(&name).is_err() {
                continue;
            }
            out.push(read_installed(&entry.path())?);
        }
        out.sort_by(|a, b| a.manifest.version.cmp(&b.manifest.version));
        Ok(out)
    }

    /// The newest installed version of `name` that `req` accepts (any, without `req`).
    pub fn newest(
        &self,
        name: &str,
        req: Option<&VersionReq>,
    ) -> Result<Option<Installed>, LibraryError> {
        Ok(self
            .versions(name)?
            .into_iter()
            .rev()
            .find(|i| req.is_none_or(|r| r.matches(&i.manifest.version))))
    }

    /// Every installed library, by name, each oldest version first.
    pub fn list(&self) -> Result<Vec<Installed>, LibraryError> {
        if !self.root.is_dir() {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = read_dir(&self.root)?
            .into_iter()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let mut out = Vec::new();
        for n in names {
            out.extend(self.versions(&n)?);
        }
        Ok(out)
    }

    /// The installed library a file of the store belongs to (`<root>/<name>/<version>/…`).
    pub fn owner_of(&self, file: &Path) -> Option<(String, Version)> {
        let rel = file.strip_prefix(&self.root).ok()?;
        let mut parts = rel.components();
        let name = parts.next()?.as_os_str().to_str()?.to_string();
        let version = Version::parse(parts.next()?.as_os_str().to_str()?).ok()?;
        Some((name, version))
    }

    /// Installs the library in folder `from` (its manifest checked) as
    /// `<root>/<name>/<version>/`, recording `source` and `commit`. Installing the same content
    /// again does nothing; other content under an installed name and version is refused.
    /// Returns the installed version and whether it was new.
    pub fn install(
        &self,
        from: &Path,
        source: &str,
        commit: Option<&str>,
    ) -> Result<(Installed, bool), LibraryError> {
        let manifest = Manifest::read(from)?;
        let files = library_files(from)?;
        if let Some(existing) = self.get(&manifest.name, &manifest.version)? {
            if existing.files == files {
                return Ok((existing, false));
            }
            return Err(LibraryError::Conflict {
                name: manifest.name.clone(),
                version: manifest.version.to_string(),
                installed_from: existing.source,
            });
        }
        let parent = self.root.join(&manifest.name);
        std::fs::create_dir_all(&parent).map_err(|source| LibraryError::Io {
            path: parent.clone(),
            source,
        })?;
        // Copied whole into a temporary folder beside its place, then renamed: a version
        // folder is never half there.
        let tmp = parent.join(format!(
            ".installing-{}-{}",
            manifest.version,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        let result = (|| {
            for rel in files.keys() {
                let to = tmp.join(rel);
                if let Some(p) = to.parent() {
                    std::fs::create_dir_all(p).map_err(|source| LibraryError::Io {
                        path: p.to_path_buf(),
                        source,
                    })?;
                }
                let bytes = std::fs::read(from.join(rel)).map_err(|source| LibraryError::Io {
                    path: from.join(rel),
                    source,
                })?;
                write_atomic(&to, &bytes).map_err(|source| LibraryError::Io {
                    path: to.clone(),
                    source,
                })?;
            }
            let record = InstallRecord {
                source: source.to_string(),
                commit: commit.map(str::to_string),
            };
            let path = tmp.join(INSTALL_RECORD);
            let yaml = serde_norway::to_string(&record).expect("an install record serialises");
            write_atomic(&path, yaml.as_bytes())
                .map_err(|source| LibraryError::Io { path, source })?;
            let dest = parent.join(manifest.version.to_string());
            std::fs::rename(&tmp, &dest).map_err(|source| LibraryError::Io {
                path: dest.clone(),
                source,
            })?;
            read_installed(&dest)
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Ok((result?, true))
    }

    /// Removes version `version` of `name`, or every version without one; returns the
    /// versions removed.
    pub fn remove(
        &self,
        name: &str,
        version: Option<&Version>,
    ) -> Result<Vec<Version>, LibraryError> {
        let versions = self.versions(name)?;
        let chosen: Vec<&Installed> = versions
            .iter()
            .filter(|i| version.is_none_or(|v| &i.manifest.version == v))
            .collect();
        if chosen.is_empty() {
            let installed: Vec<String> = versions
                .iter()
                .map(|i| i.manifest.version.to_string())
                .collect();
            return Err(LibraryError::NotInstalled(match version {
                Some(v) if !installed.is_empty() => format!(
                    "{name} {v} is not installed; installed versions: {}",
                    installed.join(", ")
                ),
                _ => format!("no library {name} is installed (psychrnn lib list shows what is)"),
            }));
        }
        let mut removed = Vec::new();
        for i in chosen {
            std::fs::remove_dir_all(&i.dir).map_err(|source| LibraryError::Io {
                path: i.dir.clone(),
                source,
            })?;
            removed.push(i.manifest.version.clone());
        }
        let parent = self.root.join(name);
        if self.versions(name)?.is_empty() {
            let _ = std::fs::remove_dir(&parent);
        }
        Ok(removed)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, LibraryError> {
    let io = |source| LibraryError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)
}

fn read_installed(dir: &Path) -> Result<Installed, LibraryError> {
    let manifest = Manifest::read(dir)?;
    // A version folder must hold the version it is named after (a renamed folder would make
    // `NAME@VERSION` load other code).
    let expected = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy() == manifest.name.as_str())
        .unwrap_or(false)
        && dir
            .file_name()
            .is_some_and(|v| v.to_string_lossy() == manifest.version.to_string());
    if !expected {
        return Err(LibraryError::Manifest {
            path: dir.join(super::MANIFEST_FILE),
            message: format!(
                "the store's folder {} holds {} {}; remove the folder and install the library again",
                dir.display(),
                manifest.name,
                manifest.version
            ),
        });
    }
    let path = dir.join(INSTALL_RECORD);
    let text = std::fs::read_to_string(&path).map_err(|source| LibraryError::Io {
        path: path.clone(),
        source,
    })?;
    let record: InstallRecord =
        serde_norway::from_str(&text).map_err(|e| LibraryError::Manifest {
            path: path.clone(),
            message: format!("the store's install record is damaged ({e}); reinstall the library"),
        })?;
    Ok(Installed {
        manifest,
        dir: dir.to_path_buf(),
        source: record.source,
        commit: record.commit,
        files: library_files(dir)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(dir: &Path, version: &str, body: &str) {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(
            dir.join(super::super::MANIFEST_FILE),
            format!("name: lab\nversion: {version}\npsychrnn: \"*\"\nexports: [tasks]\n"),
        )
        .unwrap();
        std::fs::write(dir.join("tasks.rhai"), body).unwrap();
        std::fs::write(dir.join("sub/notes.txt"), "notes").unwrap();
        std::fs::write(dir.join(".hidden"), "not part of it").unwrap();
    }

    #[test]
    fn versions_install_side_by_side_and_other_content_under_a_version_is_refused() {
        let root = std::env::temp_dir().join(format!("psychrnn-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let store = Store::new(root.join("store"));
        library(&root.join("a"), "1.0.0", "fn a() { 1 }");
        library(&root.join("b"), "1.2.0", "fn a() { 2 }");
        let (one, new) = store.install(&root.join("a"), "here", None).unwrap();
        assert!(new);
        assert_eq!(
            one.files.keys().collect::<Vec<_>>(),
            ["psychrnn-library.yaml", "sub/notes.txt", "tasks.rhai"]
        );
        assert!(!one.dir.join(".hidden").exists());
        store
            .install(&root.join("b"), "there", Some("abc"))
            .unwrap();
        let newest = store.newest("lab", None).unwrap().unwrap();
        assert_eq!(newest.manifest.version.to_string(), "1.2.0");
        assert_eq!(newest.commit.as_deref(), Some("abc"));
        let req = VersionReq::parse("<1.1").unwrap();
        assert_eq!(
            store
                .newest("lab", Some(&req))
                .unwrap()
                .unwrap()
                .manifest
                .version
                .to_string(),
            "1.0.0"
        );
        assert!(!store.install(&root.join("a"), "here", None).unwrap().1);
        std::fs::write(root.join("a/tasks.rhai"), "fn a() { 3 }").unwrap();
        let err = store.install(&root.join("a"), "again", None).unwrap_err();
        assert_eq!(err.to_string(), "lab 1.0.0 is already installed (from here) with different content; remove it first (psychrnn lib remove lab@1.0.0) or give the new content a new version");
        // A pinned copy that changed names the file.
        let pinned = one.locked();
        std::fs::write(one.dir.join("sub/notes.txt"), "edited").unwrap();
        let now = store.get("lab", &one.manifest.version).unwrap().unwrap();
        let message = pinned.check(&now).unwrap_err();
        assert!(
            message.starts_with(&format!(
                "lab 1.0.0 has changed since it was locked: {}/sub/notes.txt has SHA-256 ",
                one.dir.display()
            )),
            "{message}"
        );
        std::fs::remove_file(one.dir.join("sub/notes.txt")).unwrap();
        let now = store.get("lab", &one.manifest.version).unwrap().unwrap();
        assert_eq!(
            pinned.check(&now).unwrap_err(),
            format!(
                "lab 1.0.0 pins sub/notes.txt, which is missing from {}",
                one.dir.display()
            )
        );
        assert_eq!(
            store
                .remove("lab", Some(&Version::new(3, 0, 0)))
                .unwrap_err()
                .to_string(),
            "lab 3.0.0 is not installed; installed versions: 1.0.0, 1.2.0"
        );
        assert_eq!(store.remove("lab", None).unwrap().len(), 2);
        assert!(store.list().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }
}
