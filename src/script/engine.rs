//! Engine construction: sandbox limits, the module resolver and the types scripts see.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

type SharedModule = Shared<Module>;

use super::stdlib;
use crate::library::{LibraryResolver, LockedLibrary};

/// Builds the sandboxed engine. Scripts get no file or network access; imports resolve the
/// embedded standard library (`psychrnn/…`), then files next to the importing script (or
/// `script_dir`), then each of `lib_dirs` in order.
pub fn build_engine(script_dir: &Path, lib_dirs: &[PathBuf]) -> Engine {
    build_engine_logging(
        script_dir,
        lib_dirs,
        ImportLog::default(),
        LoadedModules::default(),
    )
}

/// A module a script imported: its name (`psychrnn/compat` or the file's path) and the
/// SHA-256 of its source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportedModule {
    /// Import name or file path.
    pub module: String,
    /// SHA-256 of the source, hex.
    pub sha256: String,
    /// The paths `import` statements named it by (`"helpers"`, `"lib/common.rhai"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_paths: Vec<String>,
    /// Its copy inside the run directory, relative to it (files only; the standard library is
    /// embedded in psychrnn and its version is the run's `psychrnn_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<String>,
    /// The library it belongs to (`NAME@VERSION`), for a module imported from a library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// The source text, as loaded (not written to config.yaml: the copy holds it).
    #[serde(skip)]
    pub text: Option<String>,
    /// The library it belongs to, as a run records it (config.yaml lists each library once).
    #[serde(skip)]
    pub locked: Option<LockedLibrary>,
}

/// A module a run keeps a copy of: `import "import_path"` loads `file` (the copy) under the
/// name `module` it had when the run was made, instead of searching the folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundledModule {
    /// The path as `import` statements name it.
    pub import_path: String,
    /// The copy to load.
    pub file: PathBuf,
    /// The module's original name (its path when the run was made).
    pub module: String,
    /// The library the module came from, as the run recorded it.
    pub library: Option<LockedLibrary>,
}

/// Where [`build_engine_logging`] records every module loaded.
pub type ImportLog = std::sync::Arc<Mutex<Vec<ImportedModule>>>;

/// Every module an engine has loaded, in load order: the host needs them to call closures
/// that a module's functions return (a stdlib task's `params`, for example).
pub type LoadedModules = std::sync::Arc<Mutex<Vec<SharedModule>>>;

/// [`build_engine`], recording each module the scripts import into `log` (name and hash)
/// and `loaded` (the module itself).
pub fn build_engine_logging(
    script_dir: &Path,
    lib_dirs: &[PathBuf],
    log: ImportLog,
    loaded: LoadedModules,
) -> Engine {
    build_engine_bundled(script_dir, lib_dirs, log, loaded, &[])
}

/// [`build_engine_logging`] for a run's copy of its script: imports named in `bundled` load
/// the run's copies of the modules; any other import searches the folders as usual.
pub fn build_engine_bundled(
    script_dir: &Path,
    lib_dirs: &[PathBuf],
    log: ImportLog,
    loaded: LoadedModules,
    bundled: &[BundledModule],
) -> Engine {
    build_engine_with_libraries(script_dir, lib_dirs, log, loaded, bundled, None)
}

/// [`build_engine_bundled`] that also resolves `import "NAME/MODULE"` to installed libraries
/// through `libraries` (after the standard library and the run's copies, before files; an
/// import that could name both a library and a file is an error).
pub fn build_engine_with_libraries(
    script_dir: &Path,
    lib_dirs: &[PathBuf],
    log: ImportLog,
    loaded: LoadedModules,
    bundled: &[BundledModule],
    libraries: Option<std::sync::Arc<LibraryResolver>>,
) -> Engine {
    let mut engine = Engine::new();
    super::sandbox::apply(&mut engine);
    engine.on_print(|s| eprintln!("[script] {s}"));
    engine.on_debug(|s, src, pos| eprintln!("[script debug] {}:{pos}: {s}", src.unwrap_or("")));
    engine.set_module_resolver(ModuleSearch {
        script_dir: script_dir.to_path_buf(),
        lib_dirs: lib_dirs.to_vec(),
        cache: Mutex::new(HashMap::new()),
        log,
        loaded,
        bundled: bundled
            .iter()
            .map(|b| (b.import_path.clone(), b.clone()))
            .collect(),
        libraries,
    });
    super::rng::register(&mut engine);
    super::task_api::register(&mut engine);
    super::model_api::register(&mut engine);
    super::score_closure::register(&mut engine);
    super::traced_time::register(&mut engine);
    engine
}

thread_local! {
    /// The modules this thread is loading, outermost first: (cache key, name for messages).
    static IMPORTING: std::cell::RefCell<Vec<(String, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Resolves `import` paths: embedded stdlib first, then the file system search path.
struct ModuleSearch {
    script_dir: PathBuf,
    lib_dirs: Vec<PathBuf>,
    cache: Mutex<HashMap<String, SharedModule>>,
    log: ImportLog,
    loaded: LoadedModules,
    /// Import paths that load a run's copy of a module (see [`BundledModule`]).
    bundled: HashMap<String, BundledModule>,
    /// Installed libraries (`import "NAME/MODULE"`).
    libraries: Option<std::sync::Arc<LibraryResolver>>,
}

/// One module to load: where it came from and what to record.
struct ModuleText<'a> {
    /// Cache key (canonical file path or import name).
    key: &'a str,
    /// Its name in records and messages.
    name: &'a str,
    /// The path the `import` statement gave.
    import_path: &'a str,
    /// The source.
    text: &'a str,
    /// The file it was read from, which its own relative imports start from (`None`: the
    /// standard library or a copy named after its original).
    file: Option<&'a Path>,
    /// The library it belongs to.
    library: Option<&'a LockedLibrary>,
}

impl ModuleSearch {
    fn candidates(&self, source: Option<&str>, path: &str) -> Vec<PathBuf> {
        let file = if Path::new(path).extension().is_some() {
            PathBuf::from(path)
        } else {
            PathBuf::from(format!("{path}.rhai"))
        };
        if file.is_absolute() {
            return vec![file];
        }
        let importer_dir = source
            .map(Path::new)
            .filter(|p| p.is_file())
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                }
            })
            .unwrap_or_else(|| self.script_dir.clone());
        let mut dirs = vec![importer_dir];
        for d in &self.lib_dirs {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        dirs.into_iter().map(|d| d.join(&file)).collect()
    }

    fn load(
        &self,
        engine: &Engine,
        m: ModuleText<'_>,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let ModuleText {
            key,
            name,
            import_path,
            text: source,
            file,
            library,
        } = m;
        {
            use sha2::Digest;
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            match log.iter_mut().find(|m| m.module == name) {
                Some(m) => {
                    if !m.import_paths.iter().any(|p| p == import_path) {
                        m.import_paths.push(import_path.to_string());
                    }
                }
                None => log.push(ImportedModule {
                    module: name.to_string(),
                    sha256: format!("{:x}", sha2::Sha256::digest(source.as_bytes())),
                    import_paths: vec![import_path.to_string()],
                    copy: None,
                    library: library.map(|l| format!("{}@{}", l.name, l.version)),
                    text: Some(source.to_string()),
                    locked: library.cloned(),
                }),
            }
        }
        if let Some(m) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            return Ok(m.clone());
        }
        let mut ast = engine
            .compile(source)
            .map_err(|e| EvalAltResult::ErrorInModule(name.into(), Box::new(e.into()), pos))?;
        // A library module's errors name its file, and its relative imports start there.
        match file {
            Some(f) if library.is_some() => {
                ast.set_source(f.display().to_string());
            }
            _ => {
                ast.set_source(name);
            }
        }
        // A module being loaded on this thread that is imported again is a cycle: loading it
        // would recurse until the stack overflows.
        let cycle = IMPORTING.with_borrow_mut(|stack| {
            if let Some(at) = stack.iter().position(|(k, _)| k == key) {
                let mut names: Vec<&str> = stack[at..].iter().map(|(_, n)| n.as_str()).collect();
                names.push(name);
                return Some(names.join(" → "));
            }
            stack.push((key.to_string(), name.to_string()));
            None
        });
        if let Some(cycle) = cycle {
            return Err(EvalAltResult::ErrorRuntime(
                format!("import cycle: {cycle}; modules cannot import each other (move what both need into a third module)").into(),
                pos,
            )
            .into());
        }
        let evaluated = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        IMPORTING.with_borrow_mut(|stack| stack.retain(|(k, _)| k != key));
        let mut module =
            evaluated.map_err(|e| EvalAltResult::ErrorInModule(name.into(), e, pos))?;
        module.set_id(name);
        let shared: SharedModule = module.into();
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(shared.clone());
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), shared.clone());
        Ok(shared)
    }
}

impl ModuleResolver for ModuleSearch {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(name) = path.strip_prefix("psychrnn/") {
            let Some(src) = stdlib::module_source(name) else {
                let known: Vec<String> = stdlib::MODULES
                    .iter()
                    .map(|(n, _)| format!("psychrnn/{n}"))
                    .collect();
                return Err(not_found(
                    format!(
                        "{path} is not in the standard library, which has: {}",
                        known.join(", ")
                    ),
                    pos,
                ));
            };
            return self.load(
                engine,
                ModuleText {
                    key: path,
                    name: path,
                    import_path: path,
                    text: src,
                    file: None,
                    library: None,
                },
                pos,
            );
        }
        if let Some(b) = self.bundled.get(path) {
            let text = std::fs::read_to_string(&b.file).map_err(|e| {
                EvalAltResult::ErrorSystem(
                    format!("cannot read the run's copy of module {}", b.file.display()),
                    e.into(),
                )
            })?;
            let key = std::fs::canonicalize(&b.file)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| b.file.display().to_string());
            return self.load(
                engine,
                ModuleText {
                    key: &key,
                    name: &b.module,
                    import_path: path,
                    text: &text,
                    file: None,
                    library: b.library.as_ref(),
                },
                pos,
            );
        }
        let candidates = self.candidates(source, path);
        if let Some(libraries) = &self.libraries {
            let importer = source.map(Path::new).filter(|p| p.is_file());
            let resolved = libraries
                .resolve(path, importer)
                .map_err(|e| EvalAltResult::ErrorRuntime(e.to_string().into(), pos))?;
            if let Some(r) = resolved {
                // A library must not silently hide a file of the same path, nor a file a library.
                if let Some(file) = candidates.iter().find(|f| f.is_file()) {
                    return Err(EvalAltResult::ErrorRuntime(
                        format!(
                            "import \"{path}\" names both the library module {} and the file {}; rename the file (or import it as \"./{path}.rhai\")",
                            r.module,
                            file.display()
                        )
                        .into(),
                        pos,
                    )
                    .into());
                }
                let key = r.file.display().to_string();
                return self.load(
                    engine,
                    ModuleText {
                        key: &key,
                        name: &r.module,
                        import_path: path,
                        text: &r.text,
                        file: Some(&r.file),
                        library: Some(&r.library),
                    },
                    pos,
                );
            }
        }
        for file in &candidates {
            if file.is_file() {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    EvalAltResult::ErrorSystem(
                        format!("cannot read module {}", file.display()),
                        e.into(),
                    )
                })?;
                let name = file.display().to_string();
                // The same file reached by two spellings (`a`, `./a.rhai`) is one module.
                let key = std::fs::canonicalize(file)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| name.clone());
                return self.load(
                    engine,
                    ModuleText {
                        key: &key,
                        name: &name,
                        import_path: path,
                        text: &text,
                        file: Some(file),
                        library: None,
                    },
                    pos,
                );
            }
        }
        let searched: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        let hint = match (&self.libraries, path.split_once('/')) {
            (Some(l), Some((name, _))) if crate::library::is_valid_name(name) => format!(
                "; no library {name} is installed in {} (psychrnn lib list shows what is)",
                l.store().root().display()
            ),
            _ => String::new(),
        };
        Err(not_found(
            format!("{path} not found; searched: {}{hint}", searched.join(", ")),
            pos,
        ))
    }
}

/// A "module not found" error that keeps its explanation: Rhai replaces its own
/// `ErrorModuleNotFound` with a bare one, so this uses a runtime error instead.
fn not_found(message: String, pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(format!("module {message}").into(), pos).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the README's "Comparing floats" says of the engine scripts run in: comparisons with
    /// an infinite operand are false, `is_infinite` tells, and finite ones behave as usual.
    #[test]
    fn float_comparisons_with_infinity_are_false_as_the_readme_warns() {
        let engine = build_engine(Path::new("."), &[]);
        for (code, expected) in [
            ("ln(0.0) < 0.0", false),
            ("1.0 / 0.0 > 1.0", false),
            ("ln(0.0).is_infinite()", true),
            ("ln(0.5) < 0.0", true),
        ] {
            assert_eq!(engine.eval::<bool>(code).unwrap(), expected, "{code}");
        }
    }
}
