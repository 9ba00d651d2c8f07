//! `psychrnn-library.yaml`: what a library is (name, version, the psychrnn versions it works
//! with, the modules it exports, the libraries it needs), read with serde and checked whole.

use std::collections::BTreeMap;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use super::LibraryError;

/// The manifest's file name, at the top of a library's folder.
pub const MANIFEST_FILE: &str = "psychrnn-library.yaml";

/// The name the embedded standard library is imported by (`psychrnn/tasks`); no library may
/// take it.
pub const STDLIB_NAME: &str = "psychrnn";

/// A library's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The name scripts import it by (`import "NAME/module"`): lowercase letters, digits,
    /// `-` and `_`, starting with a letter.
    pub name: String,
    /// Its version (semver, `1.2.0`).
    pub version: Version,
    /// One line saying what it holds.
    #[serde(default)]
    pub description: String,
    /// Who wrote it.
    #[serde(default)]
    pub authors: Vec<String>,
    /// Its licence (an SPDX expression such as `MIT`).
    #[serde(default, alias = "license")]
    pub licence: Option<String>,
    /// The psychrnn versions it works with (a semver requirement, `>=0.1, <0.3`).
    pub psychrnn: VersionReq,
    /// The modules scripts may import: `tasks` is the file `tasks.rhai`.
    pub exports: Vec<String>,
    /// Other libraries its modules import, with the versions they need (`other: "^1.2"`).
    #[serde(default)]
    pub dependencies: BTreeMap<String, VersionReq>,
}

/// Whether `name` can name a library (or a module): lowercase letters, digits, `-` and `_`,
/// starting with a letter, at most 64 characters.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Manifest {
    /// Reads and checks the manifest of the library in `dir` (see [`Manifest::check`]).
    pub fn read(dir: &Path) -> Result<Manifest, LibraryError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LibraryError::NoManifest {
                    dir: dir.to_path_buf(),
                })
            }
            Err(source) => return Err(LibraryError::Io { path, source }),
        };
        let manifest = Manifest::from_yaml(&text).map_err(|message| LibraryError::Manifest {
            path: path.clone(),
            message,
        })?;
        manifest.check_exports(dir)?;
        Ok(manifest)
    }

    /// Parses a manifest's text and checks its fields; the message names the field.
    pub fn from_yaml(text: &str) -> Result<Manifest, String> {
        let de = serde_norway::Deserializer::from_str(text);
        let manifest: Manifest = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner().to_string();
            if field == "." {
                inner
            } else {
                format!("{field}: {inner}")
            }
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Checks what serde cannot: names, exports, and that this psychrnn is one the library
    /// works with.
    pub fn check(&self) -> Result<(), String> {
        if self.name == STDLIB_NAME {
            return Err(format!("name: `{STDLIB_NAME}` is the standard library's name (`import \"psychrnn/tasks\"`); choose another"));
        }
        if !is_valid_name(&self.name) {
            return Err(format!(
                "name: `{}` cannot name a library: use lowercase letters, digits, '-' and '_', starting with a letter",
                self.name
            ));
        }
        if self.exports.is_empty() {
            return Err("exports: the library exports no module; list the modules scripts may import (`exports: [tasks]` for tasks.rhai)".into());
        }
        for (k, m) in self.exports.iter().enumerate() {
            if !is_valid_name(m) {
                return Err(format!(
                    "exports[{k}]: `{m}` is not a module name: give the file's name without .rhai (lowercase letters, digits, '-' and '_')"
                ));
            }
            if self.exports[..k].contains(m) {
                return Err(format!("exports[{k}]: `{m}` is listed twice"));
            }
        }
        for name in self.dependencies.keys() {
            if name == &self.name {
                return Err(format!(
                    "dependencies.{name}: a library cannot depend on itself"
                ));
            }
            if name == STDLIB_NAME {
                return Err(format!("dependencies.{name}: the standard library comes with psychrnn; remove it (the `psychrnn` field says which psychrnn versions work)"));
            }
            if !is_valid_name(name) {
                return Err(format!("dependencies.{name}: not a library name"));
            }
        }
        let ours = psychrnn_version();
        if !self.psychrnn.matches(&ours) {
            return Err(format!(
                "psychrnn: {} {} needs psychrnn {}, but this is psychrnn {ours}; use a psychrnn that matches, or a version of {} made for {ours}",
                self.name, self.version, self.psychrnn, self.name
            ));
        }
        Ok(())
    }

    /// Every exported module must be a file `MODULE.rhai` in `dir`.
    fn check_exports(&self, dir: &Path) -> Result<(), LibraryError> {
        for m in &self.exports {
            if !dir.join(format!("{m}.rhai")).is_file() {
                return Err(LibraryError::Manifest {
                    path: dir.join(MANIFEST_FILE),
                    message: format!(
                        "exports: module `{m}` has no file {m}.rhai in {}",
                        dir.display()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// This psychrnn's version.
pub fn psychrnn_version() -> Version {
    Version::parse(env!("CARGO_PKG_VERSION")).expect("the crate version is semver")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: lab-tasks\nversion: 1.2.0\npsychrnn: \">=0.1\"\nexports: [tasks]\n";

    #[test]
    fn a_manifest_reads_and_each_bad_field_is_named() {
        let m = Manifest::from_yaml(GOOD).unwrap();
        assert_eq!(m.name, "lab-tasks");
        assert_eq!(m.version, Version::new(1, 2, 0));
        assert!(m.dependencies.is_empty());
        let err = |text: &str| Manifest::from_yaml(text).unwrap_err();
        assert!(
            err(&GOOD.replace("1.2.0", "1.2")).starts_with("version: "),
            "{}",
            err(&GOOD.replace("1.2.0", "1.2"))
        );
        assert!(err(&format!("{GOOD}colour: red\n")).contains("unknown field `colour`"));
        assert_eq!(
            err(&GOOD.replace("lab-tasks", "Lab")),
            "name: `Lab` cannot name a library: use lowercase letters, digits, '-' and '_', starting with a letter"
        );
        assert!(err(&GOOD.replace("lab-tasks", "psychrnn")).contains("standard library's name"));
        assert_eq!(
            err(&GOOD.replace("[tasks]", "[tasks, tasks]")),
            "exports[1]: `tasks` is listed twice"
        );
        assert_eq!(
            err(&GOOD.replace(">=0.1", ">=99")),
            format!(
                "psychrnn: lab-tasks 1.2.0 needs psychrnn >=99, but this is psychrnn {v}; use a psychrnn that matches, or a version of lab-tasks made for {v}",
                v = env!("CARGO_PKG_VERSION")
            )
        );
        assert!(
            err(&format!("{GOOD}dependencies:\n  other: \"not a req\"\n"))
                .starts_with("dependencies.other: ")
        );
    }
}
