//! The standard Rhai library embedded in the binary (`import "psychrnn/<name>" as m;`).

/// Every embedded module: its import name (after `psychrnn/`) and its source.
pub const MODULES: &[(&str, &str)] = &[
    ("compat", include_str!("../../stdlib/psychrnn/compat.rhai")),
    (
        "connectivity",
        include_str!("../../stdlib/psychrnn/connectivity.rhai"),
    ),
    (
        "curricula",
        include_str!("../../stdlib/psychrnn/curricula.rhai"),
    ),
    (
        "scorers",
        include_str!("../../stdlib/psychrnn/scorers.rhai"),
    ),
    ("tasks", include_str!("../../stdlib/psychrnn/tasks.rhai")),
];

/// The source of embedded module `psychrnn/<name>`, if there is one.
pub fn module_source(name: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name.trim_end_matches(".rhai"))
        .map(|(_, src)| *src)
}
