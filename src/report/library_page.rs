//! The page `psychrnn lib doc` writes: one HTML file per library, each task with its doc
//! comment, options, channels, epochs and an inline figure of example trials.

use std::fmt::Write as _;
use std::path::Path;

use super::html::escape;
use crate::atomic_file::write_atomic;

/// A library's page.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryPage {
    /// `name version`.
    pub title: String,
    /// The manifest's description, authors and licence, as (label, text) rows.
    pub about: Vec<(String, String)>,
    /// Its exported modules.
    pub modules: Vec<ModulePage>,
}

/// One exported module.
#[derive(Debug, Clone, PartialEq)]
pub struct ModulePage {
    /// How scripts import it (`lab/tasks`).
    pub import: String,
    /// Its `//!` comment.
    pub doc: String,
    /// Its tasks.
    pub tasks: Vec<TaskPage>,
    /// Its other public functions: (signature, doc comment).
    pub functions: Vec<(String, String)>,
}

/// One task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPage {
    /// The call that makes it (`tasks::go_nogo(options)`).
    pub signature: String,
    /// Its doc comment.
    pub doc: String,
    /// Input channel names.
    pub inputs: Vec<String>,
    /// Output channel names.
    pub outputs: Vec<String>,
    /// Time grid and noise with the default options, as (label, value) rows.
    pub timing: Vec<(String, String)>,
    /// Its settings with the default options (YAML).
    pub settings: String,
    /// Its scorer (YAML).
    pub scorer: String,
    /// Epochs in order: (name, duration over the sampled trials).
    pub epochs: Vec<(String, String)>,
    /// Example trials, an SVG figure.
    pub figure_svg: String,
}

const STYLE: &str =
    "body{font-family:sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}\
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #aaa}\
section.task{margin:1.5em 0 2.5em}pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}\
nav li{margin:.1em 0}figure{margin:1em 0}figure svg{max-width:100%;height:auto}";

/// The page's HTML.
pub fn library_page_html(page: &LibraryPage) -> String {
    let mut h = String::new();
    let e = escape;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        e(&page.title),
        e(&page.title)
    );
    if !page.about.is_empty() {
        h.push_str("<table class=\"about\">");
        for (k, v) in &page.about {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", e(k), e(v));
        }
        h.push_str("</table>\n");
    }
    h.push_str("<nav><ul>");
    for m in &page.modules {
        for t in &m.tasks {
            let _ = write!(
                h,
                "<li><a href=\"#{}\">{}</a></li>",
                anchor(&t.signature),
                e(&t.signature)
            );
        }
    }
    h.push_str("</ul></nav>\n");
    for m in &page.modules {
        let _ = writeln!(h, "<h2 class=\"module\">import \"{}\"</h2>", e(&m.import));
        if !m.doc.is_empty() {
            let _ = writeln!(h, "<pre class=\"module-doc\">{}</pre>", e(&m.doc));
        }
        for t in &m.tasks {
            let _ = write!(
                h,
                "<section class=\"task\" id=\"{}\"><h3>{}</h3>\n<pre class=\"doc\">{}</pre>\n",
                anchor(&t.signature),
                e(&t.signature),
                e(&t.doc)
            );
            let _ = write!(
                h,
                "<table class=\"channels\"><tr><th>inputs</th><td>{}</td></tr><tr><th>outputs</th><td>{}</td></tr>",
                e(&t.inputs.join(", ")),
                e(&t.outputs.join(", "))
            );
            for (k, v) in &t.timing {
                let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", e(k), e(v));
            }
            h.push_str("</table>\n");
            if !t.epochs.is_empty() {
                h.push_str("<h4>Epochs</h4><table class=\"epochs\"><tr><th>epoch</th><th>duration</th></tr>");
                for (name, d) in &t.epochs {
                    let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", e(name), e(d));
                }
                h.push_str("</table>\n");
            }
            let _ = write!(
                h,
                "<h4>Settings (defaults)</h4><pre class=\"settings\">{}</pre>\n<h4>Scoring</h4><pre class=\"scorer\">{}</pre>\n",
                e(&t.settings),
                e(&t.scorer)
            );
            // The SVG comes from plotters (names in it are escaped by its backend).
            let _ = writeln!(
                h,
                "<figure>{}<figcaption>Example trials with the default options.</figcaption></figure></section>",
                strip_xml_prolog(&t.figure_svg)
            );
        }
        if !m.functions.is_empty() {
            h.push_str("<h3>Other functions</h3><dl>");
            for (sig, doc) in &m.functions {
                let _ = write!(
                    h,
                    "<dt><code>{}</code></dt><dd><pre>{}</pre></dd>",
                    e(sig),
                    e(doc)
                );
            }
            h.push_str("</dl>\n");
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// Writes `page` to `path`, atomically.
pub fn write_library_page(path: &Path, page: &LibraryPage) -> std::io::Result<()> {
    write_atomic(path, library_page_html(page).as_bytes())
}

fn anchor(signature: &str) -> String {
    signature
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn strip_xml_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(at) => &svg[at..],
        None => svg,
    }
}
