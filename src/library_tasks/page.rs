//! `psychrnn lib doc`: gathers what the page says about each task of a library (its doc
//! comment, channels, timing, settings, scorer, epochs, example trials) and writes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{exported_functions, load_task, LibrarySubject, LibraryTasksError};
use crate::library::Store;
use crate::random::stream;
use crate::report::{
    trials_svg, write_library_page, LibraryPage, ModulePage, ReportError, TaskPage, TrialPanel,
};
use crate::task::{generate_batch, Task};

/// Example trials drawn per task.
const EXAMPLE_TRIALS: usize = 3;
/// Trials sampled for the epoch table.
const EPOCH_SAMPLE: usize = 64;

/// Why a library's page cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum LibraryDocError {
    /// The library or a module cannot be read.
    #[error(transparent)]
    Tasks(#[from] LibraryTasksError),
    /// A task cannot be loaded or draws no trials.
    #[error("{task}: {message} (psychrnn lib test checks every task)")]
    Task {
        /// The task.
        task: String,
        /// What failed.
        message: String,
    },
    /// A figure cannot be drawn.
    #[error(transparent)]
    Figure(#[from] ReportError),
    /// The page cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// Everything the page of `subject` shows.
pub fn library_page(
    subject: &LibrarySubject,
    store: Option<&Store>,
) -> Result<LibraryPage, LibraryDocError> {
    let mut about = Vec::new();
    if let LibrarySubject::Folder { manifest, .. } = subject {
        if !manifest.description.is_empty() {
            about.push(("description".into(), manifest.description.clone()));
        }
        if !manifest.authors.is_empty() {
            about.push(("authors".into(), manifest.authors.join(", ")));
        }
        if let Some(l) = &manifest.licence {
            about.push(("licence".into(), l.clone()));
        }
        about.push(("psychrnn".into(), manifest.psychrnn.to_string()));
        if !manifest.dependencies.is_empty() {
            let deps: Vec<String> = manifest
                .dependencies
                .iter()
                .map(|(n, r)| format!("{n} {r}"))
                .collect();
            about.push(("dependencies".into(), deps.join(", ")));
        }
    }
    let mut modules = Vec::new();
    for module in subject.modules().map_err(LibraryTasksError::from)? {
        let engine = crate::script::build_engine(&module.dir, &[]);
        let doc = crate::script::docs::module_docs(&engine, &module.import)
            .map(|d| d.doc)
            .unwrap_or_default();
        let mut page = ModulePage {
            import: format!("{}/{}", subject.name(), module.name),
            doc,
            tasks: Vec::new(),
            functions: Vec::new(),
        };
        for f in exported_functions(&module, store)? {
            if f.not_a_task.is_some() {
                page.functions.push((f.signature(), f.doc.clone()));
                continue;
            }
            let label = f.signature();
            let fail = |message: String| LibraryDocError::Task {
                task: label.clone(),
                message,
            };
            let loaded = load_task(&module, &f, store).map_err(|e| fail(e.to_string()))?;
            let task = loaded.task.as_ref();
            page.tasks.push(TaskPage {
                signature: label.clone(),
                doc: f.doc.clone(),
                inputs: task.shape().inputs.clone(),
                outputs: task.shape().outputs.clone(),
                timing: timing_rows(&loaded),
                settings: yaml(&loaded.config.task.settings),
                scorer: serde_norway::to_string(task.scorer()).unwrap_or_default(),
                epochs: epoch_rows(task, loaded.config.seed).map_err(&fail)?,
                figure_svg: figure(task, loaded.config.seed).map_err(&fail)?,
            });
        }
        modules.push(page);
    }
    Ok(LibraryPage {
        title: subject.label(),
        about,
        modules,
    })
}

/// Writes `subject`'s page as `out/index.html` (making `out`); returns its path.
pub fn write_library_doc(
    subject: &LibrarySubject,
    store: Option<&Store>,
    out: &Path,
) -> Result<PathBuf, LibraryDocError> {
    let page = library_page(subject, store)?;
    std::fs::create_dir_all(out).map_err(|source| LibraryDocError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let path = out.join("index.html");
    write_library_page(&path, &page).map_err(|source| LibraryDocError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn yaml(v: &serde_norway::Value) -> String {
    match v {
        serde_norway::Value::Mapping(m) if m.is_empty() => "(none)".into(),
        v => serde_norway::to_string(v).unwrap_or_default(),
    }
}

fn timing_rows(loaded: &crate::script::LoadedExperiment) -> Vec<(String, String)> {
    let t = &loaded.config.task;
    vec![
        (
            "time".into(),
            format!(
                "dt {} ms, tau {} ms, duration {} ms ({} steps)",
                t.dt,
                t.tau,
                t.duration,
                t.shape().n_steps()
            ),
        ),
        ("input noise".into(), format!("{}", t.input_noise)),
    ]
}

/// Each epoch name (first-seen order) with its duration range over sampled trials.
fn epoch_rows(task: &dyn Task, seed: u64) -> Result<Vec<(String, String)>, String> {
    let batch =
        generate_batch(task, seed, stream::TRAIN, 0, EPOCH_SAMPLE).map_err(|e| e.to_string())?;
    let dt = task.shape().dt;
    let mut order: Vec<String> = Vec::new();
    let mut ranges: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    for epochs in &batch.epochs {
        for e in epochs {
            let ms = (e.end - e.start) as f64 * dt;
            let r = ranges.entry(e.name.clone()).or_insert_with(|| {
                order.push(e.name.clone());
                (f64::INFINITY, f64::NEG_INFINITY, 0)
            });
            r.0 = r.0.min(ms);
            r.1 = r.1.max(ms);
            r.2 += 1;
        }
    }
    Ok(order
        .into_iter()
        .map(|name| {
            let (lo, hi, n) = ranges[&name];
            let mut text = if lo == hi {
                format!("{lo} ms")
            } else {
                format!("{lo}–{hi} ms")
            };
            if n < batch.n_trials {
                text.push_str(&format!(" (in {n} of {} trials)", batch.n_trials));
            }
            (name, text)
        })
        .collect())
}

fn figure(task: &dyn Task, seed: u64) -> Result<String, String> {
    let batch =
        generate_batch(task, seed, stream::TRAIN, 0, EXAMPLE_TRIALS).map_err(|e| e.to_string())?;
    let shape = task.shape();
    let panels: Vec<TrialPanel> = (0..batch.n_trials)
        .map(|i| TrialPanel::from_batch(&batch, i, shape.dt))
        .collect();
    trials_svg(&panels, shape.dt, &shape.inputs, &shape.outputs).map_err(|e| e.to_string())
}
