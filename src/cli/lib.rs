//! `psychrnn lib …`: install, list, remove, lock, test and document script libraries.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::script_args::library_store;
use super::CliError;
use psychrnn::library::{fetch_source, LibraryError, LockFile, LockedLibrary, Store};
use psychrnn::library_tasks::{
    exported_functions, failed_to_load, load_task, review_script, review_task, write_library_doc,
    LibrarySubject, TaskReview,
};
use psychrnn::script::{library_imports, LoadOptions};

/// Arguments of `psychrnn lib`.
#[derive(Debug, Args)]
pub struct LibArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LibCommand,
}

/// The `lib` subcommands.
#[derive(Debug, Subcommand)]
pub enum LibCommand {
    /// Install a library from a folder or a git repository: PATH, PATH@REF, URL or URL@REF
    /// (REF: a tag, branch or commit).
    Add {
        /// Where the library is.
        source: String,
    },
    /// List the installed libraries.
    List,
    /// Remove an installed library: NAME (every version) or NAME@VERSION.
    Remove {
        /// The library.
        library: String,
    },
    /// Pin the libraries the scripts in a folder import (write DIR/psychrnn.lock).
    Lock {
        /// The scripts' folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check every exported task of a library (`psychrnn` for the standard library, an
    /// installed NAME or NAME@VERSION, a library folder) or the task of experiment scripts.
    Test {
        /// Libraries or scripts (.rhai).
        #[arg(required = true)]
        libraries: Vec<String>,
    },
    /// Write a library's HTML page (each task's documentation, options, channels, epochs and
    /// example trials) as DIR/index.html.
    Doc {
        /// The library (`psychrnn`, NAME, NAME@VERSION or a folder).
        library: String,
        /// The folder to write into.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
}

fn store() -> Result<Store, CliError> {
    library_store().ok_or_else(|| {
        CliError::input(anyhow!(
            "no library store: set PSYCHRNN_HOME (libraries go to $PSYCHRNN_HOME/libraries)"
        ))
    })
}

fn library_error(e: LibraryError) -> CliError {
    if e.is_bad_input() {
        CliError::input(e)
    } else {
        CliError::failed(e)
    }
}

fn short(commit: &Option<String>) -> String {
    commit
        .as_deref()
        .map(|c| c.chars().take(12).collect())
        .unwrap_or_else(|| "-".into())
}

/// Runs `psychrnn lib`.
pub fn execute(args: &LibArgs) -> Result<(), CliError> {
    match &args.command {
        LibCommand::Add { source } => add(source),
        LibCommand::List => list(),
        LibCommand::Remove { library } => remove(library),
        LibCommand::Lock { dir } => lock(dir),
        LibCommand::Test { libraries } => test(libraries),
        LibCommand::Doc { library, out } => {
            let store = library_store();
            let subject = LibrarySubject::find(library, store.as_ref()).map_err(library_error)?;
            let path = write_library_doc(&subject, store.as_ref(), out).map_err(CliError::input)?;
            outln!("{} documented in {}", subject.label(), path.display());
            Ok(())
        }
    }
}

fn add(spec: &str) -> Result<(), CliError> {
    let store = store()?;
    let work = store
        .root()
        .join(format!(".fetching-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let result = fetch_source(spec, &work).and_then(|fetched| {
        store.install(&fetched.dir, &fetched.source, fetched.commit.as_deref())
    });
    let _ = std::fs::remove_dir_all(&work);
    let (installed, new) = result.map_err(library_error)?;
    let commit = match &installed.commit {
        Some(c) => format!(" at commit {}", short(&Some(c.clone()))),
        None => String::new(),
    };
    if new {
        outln!(
            "installed {}{commit} from {} into {}",
            installed.label(),
            installed.source,
            installed.dir.display()
        );
    } else {
        outln!(
            "{} is already installed with the same content ({})",
            installed.label(),
            installed.dir.display()
        );
    }
    for (name, req) in &installed.manifest.dependencies {
        if store
            .newest(name, Some(req))
            .map_err(library_error)?
            .is_none()
        {
            eprintln!(
                "note: {} needs {name} {req}, which is not installed; install it with psychrnn lib add",
                installed.label()
            );
        }
    }
    Ok(())
}

fn list() -> Result<(), CliError> {
    let store = store()?;
    let all = store.list().map_err(library_error)?;
    if all.is_empty() {
        outln!("no libraries installed in {}", store.root().display());
        return Ok(());
    }
    let rows: Vec<[String; 4]> = all
        .iter()
        .map(|i| {
            [
                i.manifest.name.clone(),
                i.manifest.version.to_string(),
                short(&i.commit),
                i.source.clone(),
            ]
        })
        .collect();
    print_table(&["library", "version", "commit", "source"], &rows);
    Ok(())
}

fn remove(spec: &str) -> Result<(), CliError> {
    let store = store()?;
    let (name, version) =
        match spec.split_once('@') {
            Some((n, v)) => (
                n,
                Some(semver::Version::parse(v).map_err(|e| {
                    CliError::input(anyhow!("{spec}: `{v}` is not a version ({e})"))
                })?),
            ),
            None => (spec, None),
        };
    let removed = store
        .remove(name, version.as_ref())
        .map_err(library_error)?;
    for v in removed {
        outln!("removed {name} {v}");
    }
    Ok(())
}

fn lock(dir: &std::path::Path) -> Result<(), CliError> {
    let store = store()?;
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CliError::input(anyhow!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    scripts.sort();
    let mut pinned: Vec<(LockedLibrary, PathBuf)> = Vec::new();
    for script in &scripts {
        for l in library_imports(script, &store).map_err(CliError::input)? {
            match pinned.iter().find(|(p, _)| p.name == l.name) {
                Some((p, by)) if p.version != l.version => {
                    return Err(CliError::input(anyhow!(
                        "{} imports {} but {} imports {}; one folder's scripts use one version of each library (move them apart or make their requirements agree)",
                        by.display(),
                        p.label(),
                        script.display(),
                        l.label()
                    )))
                }
                Some(_) => {}
                None => pinned.push((l, script.clone())),
            }
        }
    }
    let lock = LockFile::new(pinned.into_iter().map(|(l, _)| l).collect());
    let path = lock.write_in(dir).map_err(library_error)?;
    if lock.libraries.is_empty() {
        outln!(
            "the {} scripts in {} import no library; {} pins nothing",
            scripts.len(),
            dir.display(),
            path.display()
        );
    }
    for l in &lock.libraries {
        outln!(
            "pinned {} ({} files) in {}",
            l.label(),
            l.files.len(),
            path.display()
        );
    }
    Ok(())
}

fn test(specs: &[String]) -> Result<(), CliError> {
    let store = library_store();
    let mut reviews: Vec<TaskReview> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for spec in specs {
        if spec.ends_with(".rhai") {
            let options = LoadOptions {
                libraries: store.clone(),
                lib_dirs: super::script_args::env_lib_dirs(),
                ..LoadOptions::default()
            };
            reviews.push(review_script(std::path::Path::new(spec), &options));
            continue;
        }
        let subject = LibrarySubject::find(spec, store.as_ref()).map_err(library_error)?;
        outln!("testing {}", subject.label());
        for module in subject.modules().map_err(library_error)? {
            for f in exported_functions(&module, store.as_ref()).map_err(CliError::input)? {
                if let Some(why) = &f.not_a_task {
                    let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
                    skipped.push(format!("{} ({why})", f.signature()));
                    continue;
                }
                let label = f.signature();
                reviews.push(match load_task(&module, &f, store.as_ref()) {
                    Ok(loaded) => review_task(&label, &loaded),
                    Err(e) => failed_to_load(&label, e.to_string()),
                });
            }
        }
    }
    print_reviews(&reviews);
    if !skipped.is_empty() {
        outln!("\nnot tasks (not tested):");
        for s in &skipped {
            outln!("  {s}");
        }
    }
    let failed = reviews.iter().filter(|r| !r.passed()).count();
    if reviews.is_empty() {
        return Err(CliError::input(anyhow!("no task found to test")));
    }
    if failed > 0 {
        return Err(CliError::failed(anyhow!(
            "{failed} of {} tasks failed",
            reviews.len()
        )));
    }
    outln!("\nevery task passed ({})", reviews.len());
    Ok(())
}

/// The table of checks (ok / FAIL) and, below it, what each check measured.
fn print_reviews(reviews: &[TaskReview]) {
    let mut names: Vec<&str> = Vec::new();
    for r in reviews {
        for c in &r.checks {
            if !names.contains(&c.name) {
                names.push(c.name);
            }
        }
    }
    let mut header = vec!["task"];
    header.extend(&names);
    header.push("result");
    let rows: Vec<Vec<String>> = reviews
        .iter()
        .map(|r| {
            let mut row = vec![r.task.clone()];
            for n in &names {
                row.push(match r.checks.iter().find(|c| &c.name == n) {
                    Some(c) if c.passed => "ok".into(),
                    Some(_) => "FAIL".into(),
                    None => "-".into(),
                });
            }
            row.push(if r.passed() { "pass" } else { "FAIL" }.into());
            row
        })
        .collect();
    print_table(&header, &rows);
    outln!();
    for r in reviews {
        outln!("{}:", r.task);
        for c in &r.checks {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            outln!("  {mark} {:<14} {}", c.name, c.detail);
        }
    }
}

fn print_table<R: AsRef<[String]>>(header: &[&str], rows: &[R]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (k, cell) in r.as_ref().iter().enumerate() {
            widths[k] = widths[k].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    outln!("{}", line(header.to_vec()));
    for r in rows {
        outln!("{}", line(r.as_ref().iter().map(String::as_str).collect()));
    }
}
