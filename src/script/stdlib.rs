//! The standard Rhai library embedded in the binary (`import "psychrnn/<name>" as m;`).

/// Every embedded module: its import name (after `psychrnn/`) and its source.
pub const MODULES: &[(&str, &str)] =
    &[("compat", include_str!("../../stdlib/psychrnn/compat.rhai"))];

/// The source of embedded module `psychrnn/<name>`, if there is one.
pub fn module_source(name: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name.trim_end_matches(".rhai"))
        .map(|(_, src)| *src)
}
