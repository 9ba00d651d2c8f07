//! Helpers shared by every integration test: running the binary as a user does, reading what
//! it writes, temporary folders that are removed even when a test fails, and running a test
//! alone in a child process when it needs a process-wide setting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use candle_core::Tensor;

/// The repository root (the tests run the bundled scripts from there).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `psychrnn ARGS` as a command run in `cwd`, without the caller's `PSYCHRNN_PATH` (module
/// folders of the person running the tests must not change what the tests find).
pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_psychrnn"));
    c.args(args).current_dir(cwd).env_remove("PSYCHRNN_PATH");
    c
}

/// Runs `psychrnn ARGS` in `cwd`.
pub fn psychrnn_in(cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args).output().expect("run psychrnn")
}

/// Runs `psychrnn ARGS` in the repository root.
pub fn psychrnn(args: &[&str]) -> Output {
    psychrnn_in(&repo(), args)
}

/// Standard output of a run that must have succeeded (its stderr in the panic otherwise).
pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code (-1 when a signal ended the process).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Every numeric array of an `.npz` as a tensor, sorted by name; pickled object entries
/// (`dale_ratio` without Dale, `transfer_function` in weights.npz), which candle cannot
/// read, are left out.
pub fn numeric_npz(path: &Path) -> Vec<(String, Tensor)> {
    let mut names: Vec<String> = psychrnn::model::read_npz(path)
        .unwrap()
        .into_iter()
        .filter(|(_, a)| matches!(a, psychrnn::model::NpyArray::Numeric(..)))
        .map(|(k, _)| k)
        .collect();
    names.sort();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let tensors = Tensor::read_npz_by_name(path, &refs).unwrap();
    names.into_iter().zip(tensors).collect()
}

/// Every numeric array of an `.npz`, as (shape, values in f64).
pub fn npz(path: &Path) -> HashMap<String, (Vec<usize>, Vec<f64>)> {
    numeric_npz(path)
        .into_iter()
        .map(|(k, t)| {
            let dims = t.dims().to_vec();
            let v = t
                .to_dtype(candle_core::DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            (k, (dims, v))
        })
        .collect()
}

/// The numeric arrays of a weights file as bits, sorted by name, for bit-for-bit comparison.
pub fn weights_bits(path: &Path) -> Vec<(String, Vec<u64>)> {
    let mut entries: Vec<(String, Vec<u64>)> = psychrnn::model::read_npz(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter_map(|(k, a)| match a {
            psychrnn::model::NpyArray::Numeric(_, v) => {
                Some((k, v.iter().map(|x| x.to_bits()).collect()))
            }
            _ => None,
        })
        .collect();
    entries.sort();
    entries
}

/// Set to `1` to keep the folders of failed tests (their paths are printed).
pub const KEEP_DIRS_VAR: &str = "PSYCHRNN_KEEP_TEST_DIRS";

/// Folders made so far by this process (with the process id, makes each name unique).
static MADE: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty folder under the system's temporary folder, unique to this process and
/// call, removed when dropped: also when the test panics, unless [`KEEP_DIRS_VAR`] is `1`
/// (the folder's path is then printed).
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes `psychrnn-NAME-PID-N` in the temporary folder.
    pub fn new(name: &str) -> TempDir {
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("psychrnn-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot make {}: {e}", dir.display()));
        TempDir(dir)
    }

    /// A folder for the whole test process (a fixture several tests share), removed when the
    /// process exits.
    pub fn for_the_process(name: &str) -> &'static Path {
        let dir = Box::leak(Box::new(TempDir::new(name)));
        remove_at_exit(dir.0.clone());
        &dir.0
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to the file `name` in the folder and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() && std::env::var(KEEP_DIRS_VAR).is_ok_and(|v| v == "1") {
            eprintln!("kept the failed test's folder {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Folders to remove when the process exits.
static AT_EXIT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn remove_at_exit(dir: PathBuf) {
    static REGISTER: Once = Once::new();
    extern "C" fn remove_all() {
        let dirs = std::mem::take(&mut *AT_EXIT.lock().unwrap_or_else(|p| p.into_inner()));
        for d in dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    AT_EXIT.lock().unwrap_or_else(|p| p.into_inner()).push(dir);
    // SAFETY: `remove_all` is a plain function that touches only this module's statics.
    REGISTER.call_once(|| unsafe {
        libc::atexit(remove_all);
    });
}

#[test]
fn a_temporary_folder_is_removed_even_when_its_test_panics() {
    let mut path = PathBuf::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let dir = TempDir::new("harness-panic");
        dir.write("file.txt", "written before the panic");
        path = dir.to_path_buf();
        assert!(path.join("file.txt").is_file());
        panic!("the test fails while holding its folder");
    }));
    assert!(result.is_err(), "the closure panicked");
    assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
    // With PSYCHRNN_KEEP_TEST_DIRS=1 the folder is kept on purpose (and its path printed).
    if std::env::var(KEEP_DIRS_VAR).is_ok_and(|v| v == "1") {
        assert!(path.is_dir());
        std::fs::remove_dir_all(&path).unwrap();
    } else {
        assert!(!path.exists(), "{} is still there", path.display());
    }
}

#[test]
fn temporary_folders_are_unique_and_removed_when_their_test_passes() {
    let (a, b) = (TempDir::new("harness-same"), TempDir::new("harness-same"));
    assert_ne!(a.path(), b.path());
    assert!(a.is_dir() && b.is_dir());
    let kept = a.to_path_buf();
    drop(a);
    assert!(!kept.exists(), "{} is still there", kept.display());
}
