//! Script errors, located at file:line:col.

use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

/// An error a script caused, with where it happened.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The script file could not be read.
    #[error("cannot read script {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A syntax or runtime error at a known place.
    #[error("{file}:{line}:{col}: {message}")]
    Located {
        /// Script file (or module path) the error is in.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What went wrong.
        message: String,
    },
    /// An error about the script as a whole (nothing declared, wrong shape of a value).
    #[error("{file}: {message}")]
    Script {
        /// Script file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A script call stopped at one of the sandbox's limits (operations, call depth, memory,
    /// allocations): a runaway loop, recursion or growth, which the next call would repeat.
    #[error(transparent)]
    SandboxLimit(Box<ScriptError>),
}

impl ScriptError {
    /// A syntax error in `file`.
    ///
    /// A reserved word used as a map key or property (`#{ go: 1.0 }`, `p.match`) gets a hint
    /// that says how to quote it.
    pub fn from_parse(file: &str, err: &ParseError) -> Self {
        let mut message = err.err_type().to_string();
        if let ParseErrorType::Reserved(word) = err.err_type() {
            if message.ends_with("reserved keyword") {
                message = format!("{message}; {}", quote_hint(word));
            }
        }
        located(file, err.position(), message)
    }

    /// [`Self::from_parse`] for a script whose text is `text`: a keyword where a map key or
    /// property is expected (`#{ switch: 1 }`, `p.if`) gets the same hint.
    pub fn from_parse_in(file: &str, text: &str, err: &ParseError) -> Self {
        let plain = Self::from_parse(file, err);
        let word = keyword_at(text, err.position());
        match (plain, word) {
            (
                ScriptError::Located {
                    file,
                    line,
                    col,
                    message,
                },
                Some(word),
            ) if !matches!(err.err_type(), ParseErrorType::Reserved(_)) => ScriptError::Located {
                file,
                line,
                col,
                message: format!(
                    "{message} (`{word}` is a Rhai keyword; {})",
                    quote_hint(word)
                ),
            },
            (plain, _) => plain,
        }
    }

    /// A runtime error raised while running code of `file`; `context` says what the host was
    /// doing (e.g. "in task.params"), empty for none. Errors inside a function of an imported
    /// module are located in that module's file.
    pub fn from_eval(file: &str, err: &EvalAltResult, context: &str) -> Self {
        Self::from_eval_at(file, err, context, Position::NONE)
    }

    /// [`Self::from_eval`], using `fallback` (e.g. where the called closure is defined) when
    /// the error carries no position, as Rhai's limit errors do inside host-called closures.
    pub fn from_eval_at(
        file: &str,
        err: &EvalAltResult,
        context: &str,
        fallback: Position,
    ) -> Self {
        let mut source = file.to_string();
        let mut calls = Vec::new();
        let mut e = err;
        loop {
            match e {
                EvalAltResult::ErrorInFunctionCall(name, src, inner, _) => {
                    if !src.is_empty() {
                        source = src.clone();
                    }
                    if !name.starts_with("anon$") {
                        calls.push(format!("in function `{name}`"));
                    }
                    e = inner;
                }
                EvalAltResult::ErrorInModule(path, inner, _) => {
                    source = path.clone();
                    calls.push(format!("in module \"{path}\""));
                    e = inner;
                }
                _ => break,
            }
        }
        let pos = e.position();
        let mut message = match e {
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
            // The sandbox's memory limits stop a script with their message as the token.
            EvalAltResult::ErrorTerminated(token, _) if token.is_string() => token.to_string(),
            _ => e.to_string(),
        };
        if let Some(stripped) = message.strip_suffix(&format!(" ({pos})")) {
            message = stripped.to_string();
        }
        let limit = match e {
            EvalAltResult::ErrorTooManyOperations(_) => {
                message = format!(
                    "operation limit: a script call may run at most {} operations (is there an endless loop?)",
                    super::MAX_OPERATIONS
                );
                true
            }
            EvalAltResult::ErrorStackOverflow(_) => {
                message = format!(
                    "call depth limit: functions may nest at most {} calls deep (is there an endless recursion?)",
                    super::MAX_CALL_LEVELS
                );
                true
            }
            EvalAltResult::ErrorTerminated(..) => true,
            _ => false,
        };
        if !context.is_empty() {
            message = format!("{message} ({context})");
        } else if limit {
            message = format!("{message} (at the script's top level)");
        }
        if !calls.is_empty() {
            message = format!("{message} [{}]", calls.join(", "));
        }
        let error = if pos.is_none() && !fallback.is_none() {
            located(file, fallback, message)
        } else {
            located(&source, pos, message)
        };
        if limit {
            ScriptError::SandboxLimit(Box::new(error))
        } else {
            error
        }
    }

    /// Whether the call stopped at a sandbox limit ([`ScriptError::SandboxLimit`]).
    pub fn is_sandbox_limit(&self) -> bool {
        matches!(self, ScriptError::SandboxLimit(_))
    }
}

impl From<ScriptError> for crate::task::TrialError {
    /// A script error raised while drawing a trial is the task's own code failing.
    fn from(e: ScriptError) -> Self {
        crate::task::TrialError::Code(Box::new(e))
    }
}

impl From<crate::task::DistributionError> for Box<EvalAltResult> {
    /// A distribution built by a script function with unusable parameters stops the script
    /// with the distribution's message.
    fn from(e: crate::task::DistributionError) -> Self {
        e.to_string().into()
    }
}

/// Rhai's keywords: none of them can be a bare map key or property name.
const KEYWORDS: &[&str] = &[
    "true", "false", "let", "const", "if", "else", "switch", "do", "while", "until", "loop", "for",
    "in", "continue", "break", "return", "throw", "try", "catch", "fn", "private", "import",
    "export", "as", "global", "this",
];

/// How to use `word` as a map key.
fn quote_hint(word: &str) -> String {
    format!(
        "to use it as a map key, quote it: #{{ \"{word}\": 1.0 }}, and read it as p[\"{word}\"]"
    )
}

/// The keyword that starts at `pos` in `text`, if one does.
fn keyword_at(text: &str, pos: Position) -> Option<&'static str> {
    let (line, col) = (pos.line()?, pos.position()?);
    let rest: String = text.lines().nth(line - 1)?.chars().skip(col - 1).collect();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    KEYWORDS.iter().copied().find(|k| *k == word)
}

fn located(file: &str, pos: Position, message: String) -> ScriptError {
    match (pos.line(), pos.position()) {
        (Some(line), col) => ScriptError::Located {
            file: file.to_string(),
            line,
            col: col.unwrap_or(1),
            message,
        },
        (None, _) => ScriptError::Script {
            file: file.to_string(),
            message,
        },
    }
}
