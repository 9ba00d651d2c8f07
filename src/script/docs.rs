//! Documentation of what scripts can call: the built-in functions, the embedded standard
//! library and any script module (`psychrnn doc`).

use std::path::Path;

use rhai::{Engine, AST};

use super::{stdlib, ScriptError};

/// One function: its signature and doc comment.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDoc {
    /// E.g. `rng.uniform(lo, hi)` or `fn input_noise_std(dt, stim_noise)`.
    pub signature: String,
    /// The doc comment, without comment markers.
    pub doc: String,
}

/// A module's documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleDoc {
    /// How it is imported (`psychrnn/compat`) or its file.
    pub name: String,
    /// The module's own `//!` comment.
    pub doc: String,
    /// Its functions, sorted by signature.
    pub functions: Vec<FunctionDoc>,
}

/// Built-in functions: (signature, doc, an expression that calls it, evaluated by the tests
/// with `rng` in scope).
pub const BUILTINS: &[(&str, &str, &str)] = &[
    ("experiment(map)", "Declares the run: a map with sections `task`, `model`, `train` (and `name`, `seed`).", ""),
    ("rng.uniform()", "A uniform draw on [0, 1) from the trial's stream.", "rng.uniform()"),
    ("rng.uniform(lo, hi)", "A uniform draw on [lo, hi).", "rng.uniform(1, 2.5)"),
    ("rng.normal()", "A standard normal draw.", "rng.normal()"),
    ("rng.normal(mean, std)", "A normal draw with the given mean and standard deviation.", "rng.normal(0, 2)"),
    ("rng.int(lo, hi)", "A uniform integer in lo..=hi (both ends included).", "rng.int(0, 3)"),
    ("rng.choice(array)", "One element of the array, each equally likely.", "rng.choice([1, 2, 3])"),
    ("rng.bernoulli(p)", "true with probability p.", "rng.bernoulli(0.3)"),
    ("rng.trunc_exp(mean, min, max)", "An exponential draw with the given mean, truncated to [min, max).", "rng.trunc_exp(200, 100, 600)"),
    ("dist::constant(x)", "An epoch duration that is always x ms.", "dist::constant(300)"),
    ("dist::uniform(lo, hi)", "An epoch duration drawn uniformly from [lo, hi) ms by the host.", "dist::uniform(200, 600)"),
    ("dist::choice(values)", "An epoch duration drawn from the values (ms), each equally likely.", "dist::choice([100, 200])"),
    ("dist::trunc_exp(mean, min, max)", "An epoch duration from an exponential with the given mean truncated to [min, max) ms.", "dist::trunc_exp(300, 100, 1000)"),
    ("dist::trunc_exp(mean, min)", "As above with no upper bound.", "dist::trunc_exp(300, 100)"),
    ("ring_bump(angle, n)", "A Gaussian bump over n channels with preferred angles 2πk/n: exp(−d²/(2·0.5²)), d the wrapped angle difference (radians).", "ring_bump(1.0, 8)"),
    ("ring_bump(angle, n, width)", "The same with the given width (radians).", "ring_bump(1.0, 8, 0.3)"),
    ("sparse_mask(rows, cols, density, seed)", "A rows × cols 0/1 mask, each entry 1 with probability `density` (seeded), for model.*_connectivity.", "sparse_mask(3, 4, 0.5, 1)"),
    ("block_mask(to_sizes, from_sizes, densities, seed)", "A 0/1 mask for regions: rows grouped by `to_sizes`, columns by `from_sizes`; block (i, j) is connected with probability densities[i][j] (region j projects to region i).", "block_mask([2, 2], [2, 2], [[1.0, 0.2], [0.2, 1.0]], 1)"),
    ("channels(prefix, n)", "Channel names prefix_0 … prefix_{n−1}.", "channels(\"dir\", 4)"),
];

/// The built-in functions as a module doc.
pub fn builtin_docs() -> ModuleDoc {
    ModuleDoc {
        name: "built-in".into(),
        doc: "Functions every script can call without importing anything.".into(),
        functions: BUILTINS
            .iter()
            .map(|(signature, doc, _)| FunctionDoc {
                signature: signature.to_string(),
                doc: doc.to_string(),
            })
            .collect(),
    }
}

fn strip_comment(line: &str) -> String {
    let l = line.trim();
    let l = l
        .strip_prefix("///")
        .or_else(|| l.strip_prefix("//!"))
        .or_else(|| l.strip_prefix("/**"))
        .unwrap_or(l);
    let l = l.strip_suffix("*/").unwrap_or(l);
    l.strip_prefix(' ').unwrap_or(l).trim_end().to_string()
}

fn docs_of(ast: &AST, name: &str) -> ModuleDoc {
    let doc = ast
        .doc()
        .lines()
        .map(strip_comment)
        .collect::<Vec<_>>()
        .join("\n");
    let mut functions: Vec<FunctionDoc> = ast
        .iter_functions()
        // Private helpers and closures are not part of a module's interface.
        .filter(|f| !f.name.starts_with("anon$") && f.access != rhai::FnAccess::Private)
        .map(|f| FunctionDoc {
            signature: format!("fn {}({})", f.name, f.params.join(", ")),
            doc: f
                .comments
                .iter()
                .flat_map(|c| c.lines())
                .map(strip_comment)
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string(),
        })
        .collect();
    functions.sort_by(|a, b| a.signature.cmp(&b.signature));
    ModuleDoc {
        name: name.to_string(),
        doc: doc.trim().to_string(),
        functions,
    }
}

/// Docs of a module named as in `import` (`psychrnn/compat`) or a path to a `.rhai` file.
pub fn module_docs(engine: &Engine, module: &str) -> Result<ModuleDoc, ScriptError> {
    let (name, source) = match module.strip_prefix("psychrnn/") {
        Some(short) => match stdlib::module_source(short) {
            Some(src) => (module.to_string(), src.to_string()),
            None => {
                let known: Vec<String> = stdlib::MODULES
                    .iter()
                    .map(|(n, _)| format!("psychrnn/{n}"))
                    .collect();
                return Err(ScriptError::Script {
                    file: module.to_string(),
                    message: format!(
                        "not in the standard library, which has: {}",
                        known.join(", ")
                    ),
                });
            }
        },
        None => {
            let path = Path::new(module);
            let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
                path: module.to_string(),
                source,
            })?;
            (module.to_string(), text)
        }
    };
    let ast = engine
        .compile(&source)
        .map_err(|e| ScriptError::from_parse(&name, &e))?;
    Ok(docs_of(&ast, &name))
}

/// Docs of every embedded standard-library module.
pub fn stdlib_docs(engine: &Engine) -> Vec<ModuleDoc> {
    stdlib::MODULES
        .iter()
        .map(|(n, _)| {
            module_docs(engine, &format!("psychrnn/{n}")).expect("the standard library compiles")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;
    use crate::script::{build_engine, ScriptRng};

    #[test]
    fn every_documented_builtin_can_be_called() {
        let engine = build_engine(Path::new("."), &[]);
        for (signature, _, example) in BUILTINS {
            if example.is_empty() {
                continue;
            }
            let mut scope = rhai::Scope::new();
            scope.push("rng", ScriptRng::new(Rng::from_seed(1)));
            let _ = engine
                .eval_with_scope::<rhai::Dynamic>(&mut scope, example)
                .unwrap_or_else(|e| panic!("{signature}: `{example}` fails: {e}"));
        }
    }

    #[test]
    fn stdlib_functions_have_signatures_and_doc_comments() {
        let engine = build_engine(Path::new("."), &[]);
        let docs = stdlib_docs(&engine);
        let compat = docs.iter().find(|m| m.name == "psychrnn/compat").unwrap();
        assert!(
            compat.doc.starts_with("Helpers that reproduce PsychRNN"),
            "{}",
            compat.doc
        );
        let f = compat
            .functions
            .iter()
            .find(|f| f.signature == "fn input_noise_std(dt, stim_noise)")
            .unwrap();
        assert!(f.doc.contains("0.0447"), "{}", f.doc);
        for m in &docs {
            for f in &m.functions {
                assert!(
                    !f.doc.is_empty(),
                    "{} {} has no doc comment",
                    m.name,
                    f.signature
                );
            }
        }
    }
}
