//! `import "NAME/MODULE"`: which installed file a library import loads, through the project's
//! lock file when there is one, checking exports, dependencies and pinned content.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use semver::{Version, VersionReq};

use super::{is_valid_name, Installed, LibraryError, LockFile, LockedLibrary, Store};

/// A library module an import resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModule {
    /// The module's file in the store.
    pub file: PathBuf,
    /// Its name in messages and records: `NAME@VERSION/MODULE`.
    pub module: String,
    /// Its source text, checked against the library's recorded file hash.
    pub text: String,
    /// The library it belongs to, as a run records it.
    pub library: LockedLibrary,
}

/// Resolves library imports against a store and, when the scripts' folder has one, its lock
/// file. Each library version is read and checked once.
#[derive(Debug)]
pub struct LibraryResolver {
    store: Store,
    lock: Option<(PathBuf, LockFile)>,
    checked: Mutex<HashMap<(String, Version), Installed>>,
}

impl LibraryResolver {
    /// Resolves through `store`, honouring the lock file in `lock_dir` if it has one.
    pub fn new(store: Store, lock_dir: Option<&Path>) -> Result<Self, LibraryError> {
        let lock = match lock_dir {
            Some(dir) => LockFile::read_in(dir)?.map(|l| (LockFile::path_in(dir), l)),
            None => None,
        };
        Ok(LibraryResolver {
            store,
            lock,
            checked: Mutex::new(HashMap::new()),
        })
    }

    /// The store it resolves against.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether `import_path` names a library this resolver knows (`NAME/MODULE` with NAME
    /// installed or locked), as opposed to a file.
    pub fn names_library(&self, import_path: &str) -> Option<(String, String)> {
        let (name, module) = import_path.split_once('/')?;
        if !is_valid_name(name) || !is_valid_name(module) {
            return None;
        }
        let locked = self
            .lock
            .as_ref()
            .is_some_and(|(_, l)| l.get(name).is_some());
        (locked || self.store.has(name)).then(|| (name.to_string(), module.to_string()))
    }

    /// The module `import_path` names, if it names a library; `importer` is the file of the
    /// importing module (a library module may import only the libraries it declares).
    pub fn resolve(
        &self,
        import_path: &str,
        importer: Option<&Path>,
    ) -> Result<Option<ResolvedModule>, LibraryError> {
        let Some((name, module)) = self.names_library(import_path) else {
            return Ok(None);
        };
        let importer_lib = importer.and_then(|f| self.store.owner_of(f));
        let mut requirement: Option<VersionReq> = None;
        let mut internal = false;
        if let Some((owner, owner_version)) = &importer_lib {
            if owner == &name {
                internal = true;
            } else {
                let owner_lib = self.checked(owner, owner_version)?;
                match owner_lib.manifest.dependencies.get(&name) {
                    Some(req) => requirement = Some(req.clone()),
                    None => {
                        return Err(LibraryError::UndeclaredDependency {
                            importer: owner_lib.label(),
                            library: name,
                        })
                    }
                }
            }
        }
        let installed = if internal {
            let (_, v) = importer_lib
                .as_ref()
                .expect("internal imports have an owner");
            self.checked(&name, v)?
        } else {
            self.choose(&name, requirement.as_ref(), importer_lib.as_ref())?
        };
        let exports = &installed.manifest.exports;
        if !internal && !exports.contains(&module) {
            return Err(LibraryError::NotExported {
                name: installed.manifest.name.clone(),
                version: installed.manifest.version.to_string(),
                module,
                exports: exports.clone(),
            });
        }
        let rel = format!("{module}.rhai");
        let file = installed.dir.join(&rel);
        if !file.is_file() {
            return Err(LibraryError::NotInstalled(format!(
                "{} has no module `{module}` ({} is missing)",
                installed.label(),
                file.display()
            )));
        }
        let text = std::fs::read_to_string(&file).map_err(|source| LibraryError::Io {
            path: file.clone(),
            source,
        })?;
        // The text loaded is the text hashed (and, with a lock, the text pinned).
        let sha = format!(
            "{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
        );
        if installed.files.get(&rel) != Some(&sha) {
            return Err(LibraryError::NotInstalled(format!(
                "{} changed while it was being read; run again",
                file.display()
            )));
        }
        Ok(Some(ResolvedModule {
            file,
            text,
            module: format!(
                "{}@{}/{module}",
                installed.manifest.name, installed.manifest.version
            ),
            library: installed.locked(),
        }))
    }

    /// The version an import of `name` loads: the locked one (its content checked), else the
    /// newest installed one `requirement` accepts.
    fn choose(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
        importer: Option<&(String, Version)>,
    ) -> Result<Installed, LibraryError> {
        let by = match importer {
            Some((n, v)) => format!("{n} {v} needs"),
            None => "the script imports".into(),
        };
        if let Some((path, lock)) = &self.lock {
            let fail = |message: String| LibraryError::Lock {
                path: path.clone(),
                message,
            };
            let Some(pinned) = lock.get(name) else {
                let pinned: Vec<String> = lock.libraries.iter().map(|l| l.label()).collect();
                return Err(fail(format!(
                    "{by} library {name}, which the lock does not pin (it pins: {}); run psychrnn lib lock {} to pin it",
                    if pinned.is_empty() { "nothing".into() } else { pinned.join(", ") },
                    path.parent().map_or(".".into(), |p| p.display().to_string())
                )));
            };
            if let Some(req) = requirement {
                if !req.matches(&pinned.version) {
                    return Err(fail(format!(
                        "{by} {name} {req}, but the lock pins {}",
                        pinned.label()
                    )));
                }
            }
            let installed = self.store.get(name, &pinned.version)?.ok_or_else(|| {
                fail(format!(
                    "the lock pins {}, which is not installed in {}; install it with {}",
                    pinned.label(),
                    self.store.root().display(),
                    pinned.add_command()
                ))
            })?;
            pinned.check(&installed).map_err(|m| {
                fail(format!(
                    "{m}; reinstall the locked version (psychrnn lib remove {}@{}, then {}) or accept the change with psychrnn lib lock",
                    pinned.name,
                    pinned.version,
                    pinned.add_command()
                ))
            })?;
            return Ok(self.remember(installed));
        }
        let versions = self.store.versions(name)?;
        let newest = versions
            .iter()
            .rev()
            .find(|i| requirement.is_none_or(|r| r.matches(&i.manifest.version)));
        match newest {
            Some(i) => Ok(self.remember(i.clone())),
            None => {
                let have: Vec<String> = versions
                    .iter()
                    .map(|i| i.manifest.version.to_string())
                    .collect();
                Err(LibraryError::NotInstalled(format!(
                    "{by} {name} {}, but the installed versions are: {}; install one with psychrnn lib add",
                    requirement.map_or("(any version)".into(), |r| r.to_string()),
                    if have.is_empty() { "none".into() } else { have.join(", ") }
                )))
            }
        }
    }

    /// The installed `name version`, read once.
    fn checked(&self, name: &str, version: &Version) -> Result<Installed, LibraryError> {
        let key = (name.to_string(), version.clone());
        if let Some(i) = self
            .checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(i.clone());
        }
        let installed = self.store.get(name, version)?.ok_or_else(|| {
            LibraryError::NotInstalled(format!("{name} {version} is not installed"))
        })?;
        Ok(self.remember(installed))
    }

    fn remember(&self, installed: Installed) -> Installed {
        let key = (
            installed.manifest.name.clone(),
            installed.manifest.version.clone(),
        );
        self.checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert(installed)
            .clone()
    }
}
