//! Documentation of what scripts can call: the built-in functions, the embedded standard
//! library and any script module (`psychrnn doc`).
//!
//! A built-in function's documentation is the doc comment it is registered with
//! (`FuncRegistration::with_comments`, next to its code); this module reads it back from the
//! engine's metadata, and its tests fail when a registered function has none or when an
//! `Example:` line in one does not give its result.

use std::path::Path;

use rhai::{Engine, AST};

use super::{build_engine, stdlib, ScriptError};

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
    /// Its functions, sorted by signature (the built-ins by name, then by number of
    /// parameters, so that overloads stay together).
    pub functions: Vec<FunctionDoc>,
}

/// One function psychrnn registers on the script engine, as the engine's metadata lists it
/// (its doc comment is attached where it is registered: `FuncRegistration::with_comments`).
#[derive(Debug, Clone, PartialEq)]
struct RegisteredFunction {
    /// The static module it is in (`dist`), empty for the global namespace.
    module: String,
    /// Its name as registered (`uniform`, or `get$x` for a property getter).
    name: String,
    /// Its parameters in order: name (`None` where the registration names none) and type.
    params: Vec<(Option<String>, Option<String>)>,
    /// Its doc comment, without comment markers.
    doc: String,
}

impl RegisteredFunction {
    /// How scripts call it: `dist::uniform(lo, hi)`; a function whose first parameter is
    /// `&mut` is shown as a method of that parameter (`rng.uniform(lo, hi)`), a property getter
    /// as `x.prop`, a setter as `x.prop = value` and an indexer as `x[i]` / `x[i] = value`.
    fn signature(&self) -> String {
        let names: Vec<&str> = self
            .params
            .iter()
            .map(|(name, _)| name.as_deref().unwrap_or("_"))
            .collect();
        let receiver = self
            .params
            .first()
            .is_some_and(|(_, t)| t.as_deref().is_some_and(|t| t.starts_with("&mut ")));
        let name = self.name.as_str();
        if let (Some(prop), [x]) = (name.strip_prefix("get$"), names.as_slice()) {
            return format!("{x}.{prop}");
        }
        if let (Some(prop), [x, v]) = (name.strip_prefix("set$"), names.as_slice()) {
            return format!("{x}.{prop} = {v}");
        }
        match (name, names.as_slice()) {
            ("index$get$", [x, i]) => return format!("{x}[{i}]"),
            ("index$set$", [x, i, v]) => return format!("{x}[{i}] = {v}"),
            _ => {}
        }
        if !self.module.is_empty() {
            return format!("{}::{name}({})", self.module, names.join(", "));
        }
        match names.split_first() {
            Some((first, rest)) if receiver => format!("{first}.{name}({})", rest.join(", ")),
            _ => format!("{name}({})", names.join(", ")),
        }
    }
}

/// The engine's function metadata as `Engine::gen_fn_metadata_to_json` writes it (only the
/// fields read here).
#[derive(Debug, serde::Deserialize)]
struct MetadataJson {
    #[serde(default)]
    modules: std::collections::BTreeMap<String, MetadataJson>,
    #[serde(default)]
    functions: Vec<FunctionJson>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionJson {
    name: String,
    #[serde(default)]
    params: Vec<ParamJson>,
    #[serde(default)]
    doc_comments: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct ParamJson {
    name: Option<String>,
    #[serde(rename = "type")]
    typ: Option<String>,
}

/// Every function registered on `engine` except Rhai's standard packages and the traced step
/// time's operators (the host's stand-in for a FLOAT `t`, not functions scripts call): the
/// global namespace and each static module (`dist::…`), in Rhai's order (name, then arity).
fn registered_functions(engine: &Engine) -> Vec<RegisteredFunction> {
    let mut traced = Engine::new_raw();
    super::traced_time::register(&mut traced);
    let traced_signatures: Vec<(String, Vec<Option<String>>)> = all_functions(&traced)
        .into_iter()
        .map(|f| (f.name, f.params.into_iter().map(|(_, t)| t).collect()))
        .collect();
    all_functions(engine)
        .into_iter()
        .filter(|f| {
            let types: Vec<Option<String>> = f.params.iter().map(|(_, t)| t.clone()).collect();
            !traced_signatures
                .iter()
                .any(|(name, t)| f.module.is_empty() && *name == f.name && *t == types)
        })
        .collect()
}

/// Every function registered on `engine` except Rhai's standard packages.
fn all_functions(engine: &Engine) -> Vec<RegisteredFunction> {
    let json = engine
        .gen_fn_metadata_to_json(false)
        .expect("the engine's metadata serializes");
    let metadata: MetadataJson =
        serde_json::from_str(&json).expect("Rhai's metadata JSON has the fields read here");
    let mut out = Vec::new();
    collect(&metadata, "", &mut out);
    out
}

fn collect(metadata: &MetadataJson, module: &str, out: &mut Vec<RegisteredFunction>) {
    for f in &metadata.functions {
        out.push(RegisteredFunction {
            module: module.to_string(),
            name: f.name.clone(),
            params: f
                .params
                .iter()
                .map(|p| (p.name.clone(), p.typ.clone()))
                .collect(),
            doc: comment_text(&f.doc_comments),
        });
    }
    for (name, sub) in &metadata.modules {
        let path = if module.is_empty() {
            name.clone()
        } else {
            format!("{module}::{name}")
        };
        collect(sub, &path, out);
    }
}

/// The engine a script gets (`load_experiment` builds the same, with its own import search
/// path): every built-in function registered, `experiment` included.
fn script_engine() -> Engine {
    let mut engine = build_engine(Path::new("."), &[]);
    let _declaration = super::load::register_experiment(&mut engine);
    engine
}

/// The built-in functions as a module doc, read from the doc comments they are registered
/// with; sorted by name, then by number of parameters.
pub fn builtin_docs() -> ModuleDoc {
    let engine = script_engine();
    let mut functions = registered_functions(&engine);
    functions.sort_by_key(|f| {
        let signature = f.signature();
        let call = signature.split('(').next().unwrap_or_default().to_string();
        (call, f.params.len())
    });
    ModuleDoc {
        name: "built-in".into(),
        doc: "Functions every script can call without importing anything.".into(),
        functions: functions
            .iter()
            .map(|f| FunctionDoc {
                signature: f.signature(),
                doc: f.doc.clone(),
            })
            .collect(),
    }
}

/// Doc comments (`///` lines or `/** */` blocks) as plain text, markers removed.
fn comment_text(comments: &[impl AsRef<str>]) -> String {
    comments
        .iter()
        .flat_map(|c| c.as_ref().lines())
        .map(strip_comment)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
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
            doc: comment_text(&f.comments),
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
    use crate::script::ScriptRng;

    /// What is missing from the documentation of each function: its doc comment or the
    /// names of its parameters (`with_params_info`).
    fn undocumented(functions: &[RegisteredFunction]) -> Vec<String> {
        let mut missing = Vec::new();
        for f in functions {
            if f.doc.is_empty() {
                missing.push(format!("{} has no doc comment", f.signature()));
            }
            if f.params.iter().any(|(name, _)| name.is_none()) {
                missing.push(format!("{} has unnamed parameters", f.signature()));
            }
        }
        missing
    }

    /// The examples in a doc comment: each line `Example: `call``, optionally followed by
    /// ` → `result``.
    fn examples(doc: &str) -> Vec<(String, Option<String>)> {
        doc.lines()
            .filter_map(|line| line.trim().strip_prefix("Example: `"))
            .map(|rest| {
                let (call, after) = rest.split_once('`').expect("an example ends with `");
                let result = after
                    .trim()
                    .strip_prefix("→ `")
                    .and_then(|r| r.strip_suffix('`'))
                    .map(str::to_string);
                (call.to_string(), result)
            })
            .collect()
    }

    #[test]
    fn every_registered_function_is_documented() {
        let functions = registered_functions(&script_engine());
        let signatures: Vec<String> = functions.iter().map(|f| f.signature()).collect();
        // The enumeration reaches each way psychrnn registers functions: the global namespace
        // (plain, and methods of a `&mut` first parameter), the `dist` module, the sandbox's
        // replacements of Rhai built-ins and `experiment`, registered by the loader.
        for expected in [
            "experiment(map)",
            "rng.trunc_exp(mean, min, max)",
            "dist::trunc_exp(mean, min)",
            "ring_bump(angle, n, width)",
            "block_mask(to_sizes, from_sizes, densities, seed)",
            "distribution.to_string()",
            "blob(len, value)",
            "array.pad(len, item)",
        ] {
            assert!(
                signatures.iter().any(|s| s == expected),
                "{expected} not in {signatures:?}"
            );
        }
        // Rhai's standard packages are left out (they hold hundreds of functions).
        assert!(functions.len() < 60, "{signatures:?}");
        let missing = undocumented(&functions);
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn the_documentation_check_catches_an_undocumented_function() {
        #[derive(Debug, Clone)]
        struct Point;
        let mut engine = script_engine();
        engine.register_fn("new_helper", |x: rhai::INT| x + 1);
        engine
            .register_type_with_name::<Point>("Point")
            .register_get("width", |_: &mut Point| 2.0_f64);
        let missing = undocumented(&registered_functions(&engine));
        assert_eq!(
            missing,
            [
                "_.width has no doc comment",
                "_.width has unnamed parameters",
                "new_helper(_) has no doc comment",
                "new_helper(_) has unnamed parameters",
            ],
        );
    }

    #[test]
    fn signatures_show_methods_properties_and_indexers_as_scripts_write_them() {
        let f = |name: &str, params: &[(&str, &str)]| RegisteredFunction {
            module: String::new(),
            name: name.into(),
            params: params
                .iter()
                .map(|(n, t)| (Some(n.to_string()), Some(t.to_string())))
                .collect(),
            doc: String::new(),
        };
        assert_eq!(
            f("pad", &[("a", "&mut Array"), ("len", "i64")]).signature(),
            "a.pad(len)"
        );
        assert_eq!(
            f("pad", &[("a", "Array"), ("len", "i64")]).signature(),
            "pad(a, len)"
        );
        assert_eq!(f("get$w", &[("p", "&mut P")]).signature(), "p.w");
        assert_eq!(
            f("set$w", &[("p", "&mut P"), ("v", "f64")]).signature(),
            "p.w = v"
        );
        assert_eq!(
            f("index$get$", &[("p", "&mut P"), ("i", "i64")]).signature(),
            "p[i]"
        );
        assert_eq!(
            f("index$set$", &[("p", "&mut P"), ("i", "i64"), ("v", "f64")]).signature(),
            "p[i] = v"
        );
        let mut g = f("uniform", &[("lo", "Dynamic"), ("hi", "Dynamic")]);
        g.module = "dist".into();
        assert_eq!(g.signature(), "dist::uniform(lo, hi)");
    }

    #[test]
    fn every_documented_example_runs_and_gives_its_result() {
        let mut checked = 0;
        for f in registered_functions(&script_engine()) {
            let examples = examples(&f.doc);
            assert!(!examples.is_empty(), "{} has no example", f.signature());
            for (call, result) in examples {
                // A fresh engine each time: `experiment` may be called once per engine.
                let engine = script_engine();
                let mut scope = rhai::Scope::new();
                scope.push("rng", ScriptRng::with_dt(Rng::from_seed(1), 10.0));
                let got = engine
                    .eval_with_scope::<rhai::Dynamic>(&mut scope, &call)
                    .unwrap_or_else(|e| panic!("{}: `{call}` fails: {e}", f.signature()));
                if let Some(result) = result {
                    let want = engine
                        .eval::<rhai::Dynamic>(&result)
                        .unwrap_or_else(|e| panic!("{}: `{result}` fails: {e}", f.signature()));
                    assert_eq!(
                        (got.type_name(), got.to_string()),
                        (want.type_name(), want.to_string()),
                        "{}: `{call}`",
                        f.signature()
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} examples");
    }

    #[test]
    fn builtin_docs_list_every_registered_function_with_its_doc() {
        let docs = builtin_docs();
        assert_eq!(
            docs.functions.len(),
            registered_functions(&script_engine()).len()
        );
        let f = docs
            .functions
            .iter()
            .find(|f| f.signature == "rng.uniform(lo, hi)")
            .unwrap();
        assert_eq!(
            f.doc,
            "A uniform draw on [lo, hi).\nExample: `rng.uniform(1, 2.5)`"
        );
        // Overloads stay together, fewer parameters first.
        let at = |s: &str| {
            docs.functions
                .iter()
                .position(|f| f.signature == s)
                .unwrap()
        };
        assert_eq!(
            at("dist::trunc_exp(mean, min)") + 1,
            at("dist::trunc_exp(mean, min, max)")
        );
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
