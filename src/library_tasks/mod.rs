//! A library's tasks, found and exercised: `psychrnn lib test` checks each exported task the
//! way a careful reviewer would ([`review_task`]) and `psychrnn lib doc` writes a page about
//! them ([`library_page`]).
//!
//! A library's task is a public function of an exported module that, called with the default
//! options (`#{}`, or no argument), returns a task map (`params` with `trial` or `step`), as
//! the standard library's tasks do. Each is loaded inside a small generated experiment, so it
//! goes through exactly the loading and validation `psychrnn run` applies.

mod page;
mod review;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{Dynamic, Map};

pub use page::{library_page, write_library_doc, LibraryDocError};
pub use review::{failed_to_load, review_script, review_task, Check, TaskReview, REVIEW_SEEDS};

use crate::library::{Installed, LibraryError, Manifest, Store, MANIFEST_FILE, STDLIB_NAME};
use crate::script::{
    build_engine_with_libraries, load_experiment_source, stdlib, LoadError, LoadOptions,
    LoadedExperiment,
};

/// The library whose tasks are looked at.
#[derive(Debug, Clone, PartialEq)]
pub enum LibrarySubject {
    /// The standard library embedded in psychrnn (`psychrnn`).
    Stdlib,
    /// A library folder with a manifest: an installed version or a folder being prepared.
    Folder {
        /// Its manifest.
        manifest: Box<Manifest>,
        /// Its folder.
        dir: PathBuf,
    },
}

/// Why a library's tasks cannot be looked at.
#[derive(Debug, thiserror::Error)]
pub enum LibraryTasksError {
    /// The library cannot be found or read.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// An exported module does not compile.
    #[error("{module}: {message}")]
    Module {
        /// The module.
        module: String,
        /// The compiler's message.
        message: String,
    },
}

impl LibrarySubject {
    /// `psychrnn` (the standard library), a folder holding a library, or an installed library
    /// as `NAME` (its newest version) or `NAME@VERSION`.
    pub fn find(spec: &str, store: Option<&Store>) -> Result<LibrarySubject, LibraryError> {
        if spec == STDLIB_NAME {
            return Ok(LibrarySubject::Stdlib);
        }
        let path = Path::new(spec);
        if path.join(MANIFEST_FILE).is_file() {
            return Ok(LibrarySubject::Folder {
                manifest: Box::new(Manifest::read(path)?),
                dir: path.to_path_buf(),
            });
        }
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => (
                n,
                Some(semver::Version::parse(v).map_err(|e| {
                    LibraryError::NotInstalled(format!("{spec}: `{v}` is not a version ({e})"))
                })?),
            ),
            None => (spec, None),
        };
        let Some(store) = store else {
            return Err(LibraryError::NotInstalled(format!(
                "{spec} is not a library folder, and no library store is known (set PSYCHRNN_HOME)"
            )));
        };
        let found: Option<Installed> = match &version {
            Some(v) => store.get(name, v)?,
            None => store.newest(name, None)?,
        };
        match found {
            Some(i) => Ok(LibrarySubject::Folder {
                manifest: Box::new(i.manifest),
                dir: i.dir,
            }),
            None => Err(LibraryError::NotInstalled(format!(
                "{spec} is neither a library folder (with {MANIFEST_FILE}) nor an installed library (psychrnn lib list shows those), nor `psychrnn` (the standard library)"
            ))),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            LibrarySubject::Stdlib => STDLIB_NAME,
            LibrarySubject::Folder { manifest, .. } => &manifest.name,
        }
    }

    /// `name version` (the standard library has psychrnn's version).
    pub fn label(&self) -> String {
        match self {
            LibrarySubject::Stdlib => format!("{STDLIB_NAME} {}", env!("CARGO_PKG_VERSION")),
            LibrarySubject::Folder { manifest, .. } => {
                format!("{} {}", manifest.name, manifest.version)
            }
        }
    }

    /// The exported modules: (name, what `import` names it by, its source).
    pub fn modules(&self) -> Result<Vec<ExportedModule>, LibraryError> {
        match self {
            LibrarySubject::Stdlib => Ok(stdlib::MODULES
                .iter()
                .map(|(n, src)| ExportedModule {
                    name: n.to_string(),
                    import: format!("{STDLIB_NAME}/{n}"),
                    source: src.to_string(),
                    dir: PathBuf::from("."),
                })
                .collect()),
            LibrarySubject::Folder { manifest, dir } => manifest
                .exports
                .iter()
                .map(|m| {
                    let file = dir.join(format!("{m}.rhai"));
                    let source =
                        std::fs::read_to_string(&file).map_err(|source| LibraryError::Io {
                            path: file.clone(),
                            source,
                        })?;
                    let abs = std::path::absolute(&file).unwrap_or(file);
                    Ok(ExportedModule {
                        name: m.clone(),
                        import: abs.display().to_string(),
                        source,
                        dir: dir.clone(),
                    })
                })
                .collect(),
        }
    }
}

/// One exported module.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedModule {
    /// Its name in the library (`tasks`).
    pub name: String,
    /// The path an `import` loads it by (the standard library's name, else its file).
    pub import: String,
    /// Its source.
    pub source: String,
    /// The library's folder.
    pub dir: PathBuf,
}

/// A public function of an exported module and what calling it with the defaults gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedFunction {
    /// The module (`tasks`).
    pub module: String,
    /// The function's name.
    pub name: String,
    /// Its parameters.
    pub params: Vec<String>,
    /// Its doc comment, without comment markers.
    pub doc: String,
    /// `None` for a task; otherwise why it is not one (it returned something else, or
    /// calling it with the defaults failed).
    pub not_a_task: Option<String>,
}

impl ExportedFunction {
    /// `module::name(params)`.
    pub fn signature(&self) -> String {
        format!("{}::{}({})", self.module, self.name, self.params.join(", "))
    }

    /// The call that makes the task with its default options.
    fn default_call(&self) -> String {
        let arg = if self.params.is_empty() { "" } else { "#{}" };
        format!("m::{}({arg})", self.name)
    }
}

/// Every public function of `module`, each called with the default options to tell tasks
/// from other functions.
pub fn exported_functions(
    module: &ExportedModule,
    store: Option<&Store>,
) -> Result<Vec<ExportedFunction>, LibraryTasksError> {
    let engine = probe_engine(&module.dir, store)?;
    let ast = engine
        .compile(&module.source)
        .map_err(|e| LibraryTasksError::Module {
            module: module.name.clone(),
            message: e.to_string(),
        })?;
    let mut out = Vec::new();
    for f in ast.iter_functions() {
        if f.name.starts_with("anon$") || f.access == rhai::FnAccess::Private {
            continue;
        }
        let mut function = ExportedFunction {
            module: module.name.clone(),
            name: f.name.to_string(),
            params: f.params.iter().map(|p| p.to_string()).collect(),
            doc: comment_text(&f.comments),
            not_a_task: None,
        };
        function.not_a_task = if function.params.len() > 1 {
            Some(format!(
                "takes {} parameters; a task takes one options map",
                function.params.len()
            ))
        } else {
            let probe = format!(
                "import {:?} as m;\n{}",
                module.import,
                function.default_call()
            );
            match engine.eval::<Dynamic>(&probe) {
                Err(e) => Some(format!("calling it with the defaults failed: {e}")),
                Ok(v) => match v.try_cast::<Map>() {
                    Some(m)
                        if m.contains_key("params")
                            && (m.contains_key("trial") || m.contains_key("step")) =>
                    {
                        None
                    }
                    _ => Some("does not return a task map (params with trial or step)".into()),
                },
            }
        };
        out.push(function);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The settings a generated experiment gives each task: a tiny network, a few dozen
/// iterations.
pub const TINY_MODEL: &str = "#{ n_rec: 24 }";
/// The training section of a generated experiment.
pub const SHORT_TRAINING: &str =
    "#{ iterations: 40, batch_size: 16, learning_rate: 0.01, eval_every: 40, eval_trials: 32 }";

/// Loads `function` (a task) inside a generated experiment with a tiny network, the way
/// `psychrnn run` loads a script.
pub fn load_task(
    module: &ExportedModule,
    function: &ExportedFunction,
    store: Option<&Store>,
) -> Result<LoadedExperiment, LoadError> {
    let text = format!(
        "import {:?} as m;\nexperiment(#{{ name: {:?}, task: {}, model: {TINY_MODEL}, train: {SHORT_TRAINING} }});\n",
        module.import,
        function.name,
        function.default_call()
    );
    let label = format!("{}::{}", module.name, function.name);
    let options = LoadOptions {
        libraries: store.cloned(),
        ..LoadOptions::default()
    };
    load_experiment_source(&label, &text, &module.dir, &options)
}

fn probe_engine(dir: &Path, store: Option<&Store>) -> Result<rhai::Engine, LibraryError> {
    let libraries = match store {
        Some(s) => Some(Arc::new(crate::library::LibraryResolver::new(
            s.clone(),
            None,
        )?)),
        None => None,
    };
    Ok(build_engine_with_libraries(
        dir,
        &[],
        Default::default(),
        Default::default(),
        &[],
        libraries,
    ))
}

/// Doc comments as plain text, markers removed.
fn comment_text(comments: &[impl AsRef<str>]) -> String {
    comments
        .iter()
        .flat_map(|c| c.as_ref().lines())
        .map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("///")
                .or_else(|| l.strip_prefix("/**"))
                .unwrap_or(l);
            let l = l.strip_suffix("*/").unwrap_or(l);
            l.strip_prefix(' ').unwrap_or(l).trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}
