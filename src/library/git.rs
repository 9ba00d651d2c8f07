//! Getting a library's files from where `psychrnn lib add` is pointed: a folder as it is, or
//! a git repository at a tag or commit. git runs as a child process (`git` on the PATH): a
//! clone, a checkout and `rev-parse` are all this needs, and the user's git already knows
//! their credentials and proxies, which a git crate would not.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::LibraryError;

/// Where a library's files were put, and what to record about their origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The folder holding the library's files.
    pub dir: PathBuf,
    /// The source to record: the git URL as given, or the folder's absolute path.
    pub source: String,
    /// The commit checked out; for a plain folder, its git HEAD when it is a git work tree
    /// without uncommitted changes.
    pub commit: Option<String>,
}

/// Splits `SOURCE@REF` (a tag, branch or commit after the last `@`); a source that exists as
/// a folder, and the `@` of `git@host:repo`, are not split.
pub fn split_source(spec: &str) -> (&str, Option<&str>) {
    if Path::new(spec).is_dir() {
        return (spec, None);
    }
    match spec.rsplit_once('@') {
        Some((source, r))
            if !source.is_empty() && !r.is_empty() && !r.contains('/') && !r.contains(':') =>
        {
            (source, Some(r))
        }
        _ => (spec, None),
    }
}

/// Whether `source` is a git URL (`file://`, `https://`, `ssh://`, `git@host:path`).
fn is_url(source: &str) -> bool {
    if source.contains("://") {
        return true;
    }
    // scp-like `user@host:path`: a colon before any slash.
    match (source.find(':'), source.find('/')) {
        (Some(c), Some(s)) => c < s && source[..c].contains('@'),
        (Some(c), None) => source[..c].contains('@'),
        _ => false,
    }
}

/// Runs `git ARGS` in `cwd`; its standard output, trimmed.
fn git(cwd: &Path, args: &[&str]) -> Result<String, LibraryError> {
    let fail = |message: String| LibraryError::Git {
        args: args.join(" "),
        message,
    };
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| {
            fail(format!(
                "cannot run git ({e}); install git to add libraries from git"
            ))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(fail(stderr.trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Puts the library `spec` names (`PATH`, `PATH@REF`, `URL`, `URL@REF`) into a folder:
/// a plain folder is used where it is; a git source is cloned into `work` (which must not
/// exist) and checked out at REF (the default branch without one).
pub fn fetch_source(spec: &str, work: &Path) -> Result<Fetched, LibraryError> {
    let (source, reference) = split_source(spec);
    let local = Path::new(source);
    let url = is_url(source);
    if !url && !local.is_dir() {
        return Err(LibraryError::Source(format!(
            "{source} is neither a library folder nor a git URL (file:///path/repo, https://host/repo.git, git@host:repo)"
        )));
    }
    let recorded = if url {
        source.to_string()
    } else {
        std::path::absolute(local)
            .unwrap_or_else(|_| local.to_path_buf())
            .display()
            .to_string()
    };
    if !url && reference.is_none() {
        let commit = clean_head(local);
        return Ok(Fetched {
            dir: local.to_path_buf(),
            source: recorded,
            commit,
        });
    }
    let parent = work.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| LibraryError::Io {
        path: parent.to_path_buf(),
        source: e,
    })?;
    let work_text = work.display().to_string();
    git(parent, &["clone", "--quiet", &recorded, &work_text])?;
    if let Some(r) = reference {
        git(work, &["checkout", "--quiet", "--detach", r]).map_err(|e| match e {
            LibraryError::Git { message, .. } => LibraryError::Source(format!(
                "{source} has no tag, branch or commit `{r}` ({message})"
            )),
            other => other,
        })?;
    }
    let commit = git(work, &["rev-parse", "HEAD"])?;
    Ok(Fetched {
        dir: work.to_path_buf(),
        source: recorded,
        commit: Some(commit),
    })
}

/// HEAD of the git work tree `dir` when it has no uncommitted or untracked changes.
fn clean_head(dir: &Path) -> Option<String> {
    let status = git(dir, &["status", "--porcelain"]).ok()?;
    if !status.is_empty() {
        return None;
    }
    // `dir` must be the work tree's top, not a folder inside some other repository.
    let top = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    let same = std::fs::canonicalize(&top).ok()? == std::fs::canonicalize(dir).ok()?;
    same.then(|| git(dir, &["rev-parse", "HEAD"]).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_split_from_the_last_at_but_not_from_scp_urls_or_paths() {
        assert_eq!(
            split_source("file:///tmp/lab@v1.0"),
            ("file:///tmp/lab", Some("v1.0"))
        );
        assert_eq!(split_source("../lab@abc123"), ("../lab", Some("abc123")));
        assert_eq!(split_source("git@host:lab.git"), ("git@host:lab.git", None));
        assert_eq!(
            split_source("git@host:lab.git@v2"),
            ("git@host:lab.git", Some("v2"))
        );
        assert_eq!(split_source("/tmp/a@b/lab"), ("/tmp/a@b/lab", None));
        assert!(is_url("git@host:lab.git") && is_url("https://h/x.git"));
        assert!(!is_url("../lab") && !is_url("C:/lab"));
    }
}
