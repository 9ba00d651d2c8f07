//! `psychrnn doc [MODULE]`: the functions scripts can call, with signatures and doc comments.

use std::fmt::Write as _;
use std::path::Path;

use clap::Args;

use super::CliError;
use psychrnn::script::build_engine;
use psychrnn::script::docs::{builtin_docs, module_docs, stdlib_docs, ModuleDoc};

/// Arguments of `psychrnn doc`.
#[derive(Debug, Args)]
pub struct DocArgs {
    /// A standard-library module (`psychrnn/compat`) or a script module file; omit to list the
    /// built-in functions and the whole standard library.
    pub module: Option<String>,
}

/// The text for one module.
pub fn render(m: &ModuleDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== {} ==", m.name);
    if !m.doc.is_empty() {
        let _ = writeln!(out, "{}", m.doc);
    }
    for f in &m.functions {
        let _ = writeln!(out, "\n  {}", f.signature);
        for line in f.doc.lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
    out
}

/// Runs `psychrnn doc`.
pub fn execute(args: &DocArgs) -> Result<(), CliError> {
    let engine = build_engine(Path::new("."), &[]);
    match &args.module {
        Some(m) => outln!(
            "{}",
            render(&module_docs(&engine, m).map_err(CliError::input)?)
        ),
        None => {
            outln!("{}", render(&builtin_docs()));
            for m in stdlib_docs(&engine) {
                outln!();
                outln!("{}", render(&m));
            }
        }
    }
    Ok(())
}
