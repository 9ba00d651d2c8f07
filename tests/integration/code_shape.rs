//! The code's shape, checked: the library's top-level modules depend on each other in one
//! direction only (no import cycles), and the command line is private to the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::harness::repo;

/// Every `.rs` file under `path` (or `path.rs` itself).
fn sources(path: &Path) -> Vec<std::path::PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(sources(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

/// Top-level module → the top-level modules its non-test code names as `crate::NAME`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo().join("src");
    let modules: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|m| !matches!(m.as_str(), "lib" | "main" | "cli"))
        .collect();
    let mut graph = BTreeMap::new();
    for m in &modules {
        let path = if src.join(m).is_dir() {
            src.join(m)
        } else {
            src.join(format!("{m}.rs"))
        };
        let mut deps = BTreeSet::new();
        for file in sources(&path) {
            let text = std::fs::read_to_string(&file).unwrap();
            // Test modules may use anything; comments are not dependencies.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for part in line.split("crate::").skip(1) {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if &name != m && modules.contains(&name) {
                        deps.insert(name);
                    }
                }
            }
        }
        graph.insert(m.clone(), deps);
    }
    graph
}

/// A dependency cycle through `start`, if there is one.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in &graph[path.last().unwrap()] {
        if next == start {
            let mut c = path.clone();
            c.push(next.clone());
            return Some(c);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, start, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn top_level_modules_have_no_import_cycles() {
    let graph = module_graph();
    assert!(graph.len() > 15, "found the modules: {:?}", graph.keys());
    assert!(
        graph["pipeline"].contains("run_dir"),
        "the scan sees imports"
    );
    for m in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, m, &mut vec![m.clone()]) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    let cycle = cycle_from(&graph, "a", &mut vec!["a".to_string()]);
    assert_eq!(cycle.unwrap(), ["a", "b", "a"]);
}

#[test]
fn the_command_line_is_private_to_the_binary() {
    let lib = std::fs::read_to_string(repo().join("src/lib.rs")).unwrap();
    assert!(
        !lib.contains("mod cli"),
        "src/lib.rs exports the command line"
    );
    let main = std::fs::read_to_string(repo().join("src/main.rs")).unwrap();
    assert!(
        main.contains("\nmod cli;"),
        "src/main.rs owns the command line"
    );
}
