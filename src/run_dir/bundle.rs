//! The run's own copy of its script (`script/`), so a run reopens after the original script
//! was edited, moved or deleted, and on another machine.

use std::fs;
use std::path::{Path, PathBuf};

use super::{write_atomic, BundledFile, RunDir, RunDirError, RunRecord};
use crate::script::{BundledModule, ImportedModule};

/// Where to load a run's script from, and the module folders to search.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptSource {
    /// The script file: the run's copy when it has one, else the recorded path.
    pub script: PathBuf,
    /// Module folders, in search order: the folders the run was made with (recorded), then the
    /// original script's folder (for relative imports of a copied script), then `extra`.
    pub lib_dirs: Vec<PathBuf>,
    /// The run's copies of its imported modules, by the path `import` names them with.
    pub bundled_modules: Vec<BundledModule>,
}

impl RunDir {
    /// Copies the script's text into `script/NAME` and returns its record entry.
    pub fn write_script_copy(&self, script: &Path, text: &str) -> Result<BundledFile, RunDirError> {
        let dir = self.script_dir();
        fs::create_dir_all(&dir).map_err(|source| RunDirError::Io {
            path: dir.clone(),
            source,
        })?;
        let name = script
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script.rhai".into());
        let path = dir.join(&name);
        write_atomic(&path, text.as_bytes()).map_err(|source| RunDirError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(BundledFile {
            path: format!("script/{name}"),
        })
    }

    /// Copies every imported module file (not the embedded standard library) into
    /// `script/modules/` and notes each copy's place in `imports`.
    pub fn write_module_copies(&self, imports: &mut [ImportedModule]) -> Result<(), RunDirError> {
        let dir = self.script_dir().join("modules");
        for (k, m) in imports.iter_mut().enumerate() {
            let Some(text) = &m.text else { continue };
            if m.module.starts_with("psychrnn/") {
                continue;
            }
            fs::create_dir_all(&dir).map_err(|source| RunDirError::Io {
                path: dir.clone(),
                source,
            })?;
            let file_name = Path::new(&m.module)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "module.rhai".into());
            // A library module's name (`lab@1.0.0/tasks`) has no extension: give its copy one.
            let name = if Path::new(&file_name).extension().is_some() {
                format!("{k}-{file_name}")
            } else {
                format!("{k}-{file_name}.rhai")
            };
            let path = dir.join(&name);
            write_atomic(&path, text.as_bytes()).map_err(|source| RunDirError::Io {
                path: path.clone(),
                source,
            })?;
            m.copy = Some(format!("script/modules/{name}"));
        }
        Ok(())
    }

    /// Copies a file the script names relative to its folder (`model.load`) to the same place
    /// beside the script copy, so the run reopens without the original. A path that is
    /// absolute or leaves the folder (`..`) is not copied; returns whether it was.
    pub fn write_beside_script_copy(
        &self,
        script_dir: &Path,
        relative: &str,
    ) -> Result<bool, RunDirError> {
        let rel = Path::new(relative);
        let plain = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            return Ok(false);
        }
        let from = script_dir.join(rel);
        let to = self.script_dir().join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|source| RunDirError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let bytes = fs::read(&from).map_err(|source| RunDirError::Io {
            path: from.clone(),
            source,
        })?;
        write_atomic(&to, &bytes).map_err(|source| RunDirError::Io { path: to, source })?;
        Ok(true)
    }

    /// Where `record`'s script is loaded from when the run is reopened (`--resume`, `test`,
    /// `simulate`, `fixedpoints`, `run RUN/config.yaml`), from any working directory.
    pub fn script_source(&self, record: &RunRecord, extra: &[PathBuf]) -> ScriptSource {
        let original = PathBuf::from(&record.script);
        let copy = record
            .script_copy
            .as_ref()
            .map(|c| self.root.join(&c.path))
            .filter(|p| p.is_file());
        let mut lib_dirs: Vec<PathBuf> = record.lib_dirs.iter().map(PathBuf::from).collect();
        if copy.is_some() {
            if let Some(parent) = original.parent().filter(|p| !p.as_os_str().is_empty()) {
                lib_dirs.push(parent.to_path_buf());
            }
        }
        for d in extra {
            if !lib_dirs.contains(d) {
                lib_dirs.push(d.clone());
            }
        }
        // An import path that named two different modules (from different folders) cannot be
        // redirected: it searches the folders as when the run was made.
        let mut bundled_modules: Vec<BundledModule> = Vec::new();
        let mut ambiguous: Vec<String> = Vec::new();
        for m in &record.imports {
            let Some(file) = m
                .copy
                .as_ref()
                .map(|c| self.root.join(c))
                .filter(|f| f.is_file())
            else {
                continue;
            };
            for p in &m.import_paths {
                if bundled_modules
                    .iter()
                    .any(|b| &b.import_path == p && b.module != m.module)
                {
                    ambiguous.push(p.clone());
                }
                let library = m.library.as_ref().and_then(|id| {
                    record
                        .libraries
                        .iter()
                        .find(|l| &format!("{}@{}", l.name, l.version) == id)
                        .cloned()
                });
                bundled_modules.push(BundledModule {
                    import_path: p.clone(),
                    file: file.clone(),
                    module: m.module.clone(),
                    library,
                });
            }
        }
        bundled_modules.retain(|b| !ambiguous.contains(&b.import_path));
        ScriptSource {
            script: copy.unwrap_or(original),
            lib_dirs,
            bundled_modules,
        }
    }
}

/// `path` made absolute against the working directory (without resolving links), so a
/// recorded path means the same file from any directory.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
