//! The run directory under attack: collisions, kills at any moment, damaged checkpoints, runs
//! reopened from elsewhere after their script is gone, names that break naive file formats,
//! signals to a sweep. Each test asserts the exit status, the message and what is on disk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use psychrnn::run_dir::RunDir;

use crate::harness::{code, command, psychrnn_in, repo, stderr, weights_bits, TempDir};

/// Tiny settings: a run of a few hundred milliseconds.
const TINY: &[&str] = &[
    "--set",
    "model.n_rec=8",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_trials=16",
    "--set",
    "train.test_trials=16",
    "--quiet",
];

/// `run SCRIPT --out OUT` with [`TINY`] settings and `extra`.
fn run_args<'a>(script: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", script, "--out", out];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    args
}

fn copy_script(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(repo().join("scripts/perceptual_discrimination.rhai"), &to).unwrap();
    to
}

fn wait_for(path: &Path, child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

#[test]
fn a_second_process_cannot_take_a_run_directory_in_use() {
    let s = TempDir::new("trust-lock");
    let script = copy_script(s.path(), "pd.rhai");
    let run = RunDir::new(s.join("busy"));
    run.create().unwrap();
    let held = run.lock().unwrap();
    let args = run_args(
        script.to_str().unwrap(),
        "busy",
        &["--set", "train.iterations=3"],
    );
    let o = psychrnn_in(s.path(), &args);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "busy is in use by psychrnn process {}; wait for it to finish",
            std::process::id()
        )),
        "{}",
        stderr(&o)
    );
    assert!(!run.config().exists(), "a refused run wrote config.yaml");
    drop(held);
    let o = psychrnn_in(s.path(), &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn parallel_runs_without_out_claim_their_own_directories() {
    let s = TempDir::new("trust-parallel");
    copy_script(s.path(), "pd.rhai");
    let mut args = vec!["run", "pd.rhai", "--set", "train.iterations=20"];
    args.extend_from_slice(TINY);
    let children: Vec<Child> = (0..3)
        .map(|_| {
            command(s.path(), &args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut dirs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert_eq!(code(&o), 0, "{}", stderr(&o));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["runs/pd", "runs/pd-2", "runs/pd-3"]);
    for d in &dirs {
        let run = RunDir::new(s.join(d));
        let summary = run.read_summary().unwrap().expect("finished");
        assert_eq!(summary.iterations, 20);
        assert_eq!(run.read_record().unwrap().experiment.train.iterations, 20);
    }
}

/// Kills a run with SIGKILL at a moment `ready` picks, resumes it, and compares the weights
/// with an uninterrupted run of the same settings.
fn kill_and_resume(label: &str, extra: &[&str], ready: &str) {
    let s = TempDir::new(&format!("trust-{label}"));
    let script = copy_script(s.path(), "pd.rhai");
    let script = script.to_str().unwrap();
    let mut settings = vec![
        "--set",
        "train.iterations=4000",
        "--set",
        "train.eval_every=1000",
    ];
    settings.extend_from_slice(extra);
    let whole = psychrnn_in(s.path(), &run_args(script, "whole", &settings));
    assert_eq!(code(&whole), 0, "{}", stderr(&whole));

    let mut child = command(s.path(), &run_args(script, "killed", &settings))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let killed = RunDir::new(s.join("killed"));
    let marker = killed.root().join(ready);
    assert!(
        wait_for(&marker, &mut child, Duration::from_secs(60)),
        "{ready} never appeared"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.summary().exists(),
        "the run finished before it was killed; make it longer"
    );
    // What a killed process leaves while writing: a resume removes it.
    std::fs::create_dir_all(killed.root().join(".checkpoint-tmp-999999")).unwrap();
    std::fs::write(killed.root().join(".trials.tmp-999999.npz"), b"half").unwrap();

    // Resumed from another working directory, by absolute path.
    let elsewhere = TempDir::new(&format!("trust-{label}-elsewhere"));
    let dir = killed.root().to_str().unwrap().to_string();
    let o = psychrnn_in(elsewhere.path(), &["run", "--resume", &dir, "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!killed.root().join(".checkpoint-tmp-999999").exists());
    assert!(!killed.root().join(".trials.tmp-999999.npz").exists());
    assert_eq!(
        weights_bits(&killed.weights()),
        weights_bits(&s.join("whole/weights.npz")),
        "the resumed run differs from the uninterrupted one"
    );
    let summary = killed.read_summary().unwrap().unwrap();
    assert_eq!(summary.iterations, 4000);
    let history = killed.read_history().unwrap();
    let whole_history = RunDir::new(s.join("whole")).read_history().unwrap();
    assert_eq!(history.len(), whole_history.len());
    for (a, b) in history.iter().zip(&whole_history) {
        assert_eq!(
            (a.iteration, a.loss.to_bits()),
            (b.iteration, b.loss.to_bits())
        );
    }
}

#[test]
fn a_run_killed_before_its_first_checkpoint_resumes_from_the_start_bit_identical() {
    kill_and_resume("kill-early", &[], "config.yaml");
}

#[test]
fn a_run_killed_after_checkpoints_resumes_bit_identical() {
    kill_and_resume(
        "kill-late",
        &["--set", "train.checkpoint_every=100"],
        "checkpoint/state.yaml",
    );
}

#[test]
fn a_damaged_checkpoint_is_never_read() {
    let s = TempDir::new("trust-damaged");
    let script = copy_script(s.path(), "pd.rhai");
    let o = psychrnn_in(
        s.path(),
        &run_args(
            script.to_str().unwrap(),
            "r",
            &["--set", "train.iterations=6"],
        ),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let run = RunDir::new(s.join("r"));
    let tensors = run.checkpoint().join("tensors.npz");
    let bytes = std::fs::read(&tensors).unwrap();
    std::fs::write(&tensors, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(run.summary()).unwrap();
    let o = psychrnn_in(s.path(), &["run", "--resume", "r", "--quiet"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("it is incomplete or damaged"),
        "{}",
        stderr(&o)
    );
    let o = psychrnn_in(s.path(), &["test", "r", "-n", "4"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("incomplete or damaged"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_reopens_from_its_own_script_copy_anywhere_after_the_script_is_deleted() {
    let s = TempDir::new("trust-bundle");
    let made = s.join("made");
    std::fs::create_dir_all(&made).unwrap();
    copy_script(&made, "pd.rhai");
    let o = psychrnn_in(
        &made,
        &run_args("pd.rhai", "r", &["--set", "train.iterations=6"]),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::remove_file(made.join("pd.rhai")).unwrap();
    let run = RunDir::new(made.join("r"));
    let record = run.read_record().unwrap();
    assert_eq!(record.format_version, psychrnn::run_dir::FORMAT_VERSION);
    assert!(Path::new(&record.script).is_absolute(), "{}", record.script);
    assert!(record.cpu_paths.contains("gemm:"), "{}", record.cpu_paths);
    assert_eq!(
        std::fs::read_to_string(run.script_dir().join("pd.rhai")).unwrap(),
        std::fs::read_to_string(repo().join("scripts/perceptual_discrimination.rhai")).unwrap()
    );

    // Moved to another place (as to a colleague's machine), opened from a third directory.
    let moved = s.join("moved/r");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(run.root(), &moved).unwrap();
    let other = s.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let moved_text = moved.to_str().unwrap();
    let o = psychrnn_in(&other, &["test", moved_text, "-n", "8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = psychrnn_in(&other, &["simulate", moved_text, "-n", "4"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = psychrnn_in(&other, &["report", moved_text]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let config = format!("{moved_text}/config.yaml");
    let o = psychrnn_in(&other, &["run", &config, "--out", "again", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("changed"), "{}", stderr(&o));
    assert_eq!(
        weights_bits(&other.join("again/weights.npz")),
        weights_bits(&moved.join("weights.npz")),
        "the reproduction differs"
    );
}

/// A two-stage curriculum and conditions whose names break naive CSV, YAML and HTML.
const ODD_NAMES: &str = r#"
experiment(#{
    name: "odd_names",
    task: #{
        inputs: ["in <b>1</b>"],
        outputs: ["out, \"quoted\""],
        dt: 10.0, tau: 100.0, duration: 200.0,
        settings: #{ level: 1.0 },
        params: |rng, s| #{ "lab<e>l": rng.choice(["coh: 0.3 #hard", "a,b", "<i>é</i>"]), level: s.level },
        trial: |p| [
            #{ name: "cue", duration: 100.0, input: [p.level], mask: 0.0 },
            #{ name: "go", target: [1.0] },
        ],
    },
    curriculum: [
        #{ name: "coh 0.7, easy", settings: #{ level: 1.0 }, advance: |s| "advance" },
        #{ name: "coh: 0.3 #hard \"q\" <b>é", settings: #{ level: 0.5 } },
    ],
    model: #{ n_rec: 8 },
    train: #{ iterations: 6, eval_every: 2, batch_size: 8, eval_trials: 16, test_trials: 24 },
    report: #{ condition: "lab<e>l" },
});
"#;

#[test]
fn names_with_commas_colons_quotes_unicode_and_markup_round_trip_through_every_file() {
    let s = TempDir::new("trust-names");
    std::fs::write(s.join("odd.rhai"), ODD_NAMES).unwrap();
    let o = psychrnn_in(s.path(), &["run", "odd.rhai", "--out", "r", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let run = RunDir::new(s.join("r"));

    // history.csv as any CSV reader sees it.
    let mut reader = csv::Reader::from_path(run.history()).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers[5], "stage");
    let stages: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[5].to_string())
        .collect();
    assert_eq!(stages[0], "coh 0.7, easy");
    assert_eq!(stages.last().unwrap(), "coh: 0.3 #hard \"q\" <b>é");

    // summary.yaml as any YAML reader sees it.
    let text = std::fs::read_to_string(run.summary()).unwrap();
    let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(
        yaml["stages"][1]["name"].as_str(),
        Some("coh: 0.3 #hard \"q\" <b>é"),
        "{text}"
    );
    let labels: Vec<&str> = yaml["accuracy_by"]["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    let mut sorted = labels.clone();
    sorted.sort();
    assert_eq!(sorted, ["<i>é</i>", "a,b", "coh: 0.3 #hard"], "{text}");

    // index.html shows the names as text, never as markup.
    let html = std::fs::read_to_string(run.report_dir().join("index.html")).unwrap();
    assert!(
        !html.contains("lab<e>l"),
        "raw markup in index.html: {html}"
    );
    assert!(html.contains("by lab&lt;e&gt;l"), "{html}");
}

#[test]
fn a_report_is_drawn_for_a_run_of_zero_iterations() {
    let s = TempDir::new("trust-zero");
    let script = copy_script(s.path(), "pd.rhai");
    let o = psychrnn_in(
        s.path(),
        &run_args(
            script.to_str().unwrap(),
            "r",
            &["--set", "train.iterations=0"],
        ),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The only warnings are about the untrained network (its chance-level accuracy, and the
    // psychometric fit its one-sided choices leave undetermined), none about the report.
    let err = stderr(&o);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert!(
        warnings.len() == 2
            && warnings[0].contains("is not above chance level")
            && warnings[1].contains("the fit's slope and threshold are not determined"),
        "{err}"
    );
    assert!(s.join("r/report/index.html").exists());
    let summary = RunDir::new(s.join("r")).read_summary().unwrap().unwrap();
    assert_eq!(summary.iterations, 0);
    let o = psychrnn_in(s.path(), &["report", "r"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn an_out_directory_that_cannot_be_made_is_bad_input() {
    let s = TempDir::new("trust-badout");
    let script = copy_script(s.path(), "pd.rhai");
    std::fs::write(s.join("a_file"), b"x").unwrap();
    for out in ["a_file/run", "a_file"] {
        let o = psychrnn_in(
            s.path(),
            &run_args(
                script.to_str().unwrap(),
                out,
                &["--set", "train.iterations=3"],
            ),
        );
        assert_eq!(code(&o), 2, "{out}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("--out {out}")),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read(s.join("a_file")).unwrap(), b"x");
}

#[test]
fn experiment_names_that_are_paths_never_leave_runs() {
    let s = TempDir::new("trust-names-paths");
    let text =
        std::fs::read_to_string(repo().join("scripts/perceptual_discrimination.rhai")).unwrap();
    for name in ["../../escape", "/tmp/abs", "", ".hidden"] {
        let script = text.replace("experiment(#{", &format!("experiment(#{{ name: {name:?},"));
        std::fs::write(s.join("p.rhai"), script).unwrap();
        let mut args = vec!["run", "p.rhai", "--set", "train.iterations=2"];
        args.extend_from_slice(TINY);
        let o = psychrnn_in(s.path(), &args);
        assert_eq!(code(&o), 2, "{name:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("name"), "{name:?}: {}", stderr(&o));
    }
    let left: Vec<_> = std::fs::read_dir(s.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only the script may be here: {left:?}");
    assert!(!s.path().parent().unwrap().join("escape").exists());
}

#[test]
fn a_signal_to_a_sweep_reaches_its_runs_which_then_resume() {
    let s = TempDir::new("trust-sweep-signal");
    copy_script(s.path(), "pd.rhai");
    let args = [
        "sweep",
        "pd.rhai",
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--out",
        "sw",
        "--set",
        "model.n_rec=8",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.iterations=20000",
        "--set",
        "train.eval_every=5000",
        "--set",
        "train.checkpoint_every=200",
        "--set",
        "train.test_trials=16",
    ];
    let mut sweep = command(s.path(), &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runs: Vec<PathBuf> = ["seed=0", "seed=1"]
        .iter()
        .map(|r| s.join(format!("sw/{r}")))
        .collect();
    for r in &runs {
        assert!(
            wait_for(
                &r.join("checkpoint/state.yaml"),
                &mut sweep,
                Duration::from_secs(60)
            ),
            "{} never checkpointed",
            r.display()
        );
    }
    // SAFETY: kill(2) on the child this test started.
    unsafe {
        libc::kill(sweep.id() as libc::pid_t, libc::SIGTERM);
    }
    let o = sweep.wait_with_output().unwrap();
    assert_eq!(code(&o), 130, "{}", stderr(&o));
    assert!(stderr(&o).contains("sweep interrupted"), "{}", stderr(&o));
    for r in &runs {
        let run = RunDir::new(r);
        assert!(!run.summary().exists() || run.read_summary().unwrap().unwrap().iterations < 20000);
        // The run is not left running: its directory can be taken.
        drop(run.lock().expect("a run of the sweep is still running"));
    }
    let mut shorter = args.to_vec();
    let i = shorter
        .iter()
        .position(|a| *a == "train.iterations=20000")
        .unwrap();
    shorter[i] = "train.iterations=20000";
    let o = command(s.path(), &shorter).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for r in &runs {
        let summary = RunDir::new(r).read_summary().unwrap().unwrap();
        assert_eq!(summary.iterations, 20000);
    }
}

/// A small filesystem of its own (tmpfs, needs root as CI has); `None` where it cannot be made.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(path.to_path_buf()))
    }
    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_that_loses_nothing_saved() {
    let s = TempDir::new("trust-full-disk");
    let script = copy_script(s.path(), "pd.rhai");
    let Some(disk) = SmallDisk::mount(&s.join("disk"), "1m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    // trials.npz of 2048 test trials is about 40 MB: the disk fills while the run finishes.
    let o = psychrnn_in(
        s.path(),
        &[
            "run",
            script.to_str().unwrap(),
            "--out",
            "disk/r",
            "--set",
            "model.n_rec=8",
            "--set",
            "train.batch_size=8",
            "--set",
            "train.iterations=20",
            "--set",
            "train.test_trials=2048",
            "--quiet",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
    let run = RunDir::new(s.join("disk/r"));
    // Nothing half-written: no temporary file, and what was saved reads back.
    let names: Vec<String> = std::fs::read_dir(run.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".tmp-") || n.starts_with(".checkpoint-tmp")),
        "{names:?}"
    );
    assert!(!run.summary().exists());
    assert_eq!(run.read_record().unwrap().experiment.train.iterations, 20);
    assert_eq!(run.read_history().unwrap().last().unwrap().iteration, 20);
    // With space again, the same run finishes from its checkpoint.
    disk.grow("256m");
    let o = psychrnn_in(s.path(), &["run", "--resume", "disk/r", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(run.read_summary().unwrap().unwrap().iterations, 20);
    drop(disk);
}

#[test]
fn a_curriculum_rule_that_never_returns_is_bad_input_and_the_run_stays_resumable() {
    let s = TempDir::new("trust-endless-rule");
    let text = std::fs::read_to_string(repo().join("scripts/perceptual_discrimination.rhai"))
        .unwrap()
        .replace(
            "experiment(#{",
            "experiment(#{ curriculum: [#{ name: \"a\", advance: |s| { let n = 0; loop { n += 1; } } }, #{ name: \"b\" }],",
        );
    std::fs::write(s.join("rule.rhai"), text).unwrap();
    let o = psychrnn_in(
        s.path(),
        &run_args(
            "rule.rhai",
            "r",
            &[
                "--set",
                "train.iterations=20",
                "--set",
                "train.eval_every=10",
            ],
        ),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("in the rule of curriculum stage 'a'"), "{err}");
    assert!(err.contains("--out r --overwrite"), "{err}");
    assert!(RunDir::new(s.join("r")).config().exists());
}

#[test]
fn a_run_keeps_copies_of_its_modules_and_reopens_without_them() {
    let s = TempDir::new("trust-modules");
    let (made, lib) = (s.join("made"), s.join("lib"));
    std::fs::create_dir_all(made.join("local")).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    // One module beside the script (in a subfolder), one on --lib that imports another.
    std::fs::write(made.join("local/timing.rhai"), "fn stimulus() { 40.0 }\n").unwrap();
    std::fs::write(lib.join("inner.rhai"), "fn level() { 1.5 }\n").unwrap();
    std::fs::write(
        lib.join("common.rhai"),
        "import \"inner\" as inner;\nfn input(p) { [inner::level() * p.side] }\n",
    )
    .unwrap();
    let script = r#"
import "local/timing" as timing;
import "common" as common;
experiment(#{
    name: "with_modules",
    task: #{
        inputs: ["x"], outputs: ["y"], dt: 10.0, tau: 100.0, duration: 200.0,
        params: |rng| #{ side: rng.choice([-1.0, 1.0]) },
        trial: |p| [
            #{ name: "cue", duration: timing::stimulus(), input: common::input(p), mask: 0.0 },
            #{ name: "go", target: [p.side] },
        ],
    },
    model: #{ n_rec: 8 },
    train: #{ iterations: 6, eval_every: 3, batch_size: 8, eval_trials: 16, test_trials: 16 },
});
"#;
    std::fs::write(made.join("m.rhai"), script).unwrap();
    let lib_text = lib.to_str().unwrap();
    let o = psychrnn_in(
        &made,
        &["run", "m.rhai", "--lib", lib_text, "--out", "r", "--quiet"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let run = RunDir::new(made.join("r"));
    let record = run.read_record().unwrap();
    let copies: Vec<&str> = record
        .imports
        .iter()
        .filter_map(|m| m.copy.as_deref())
        .collect();
    assert_eq!(copies.len(), 3, "{:?}", record.imports);

    // The script, its modules and the --lib folder are gone; the run is opened elsewhere.
    std::fs::remove_dir_all(&lib).unwrap();
    std::fs::remove_file(made.join("m.rhai")).unwrap();
    std::fs::remove_dir_all(made.join("local")).unwrap();
    let other = s.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let dir = run.root().to_str().unwrap().to_string();
    let o = psychrnn_in(&other, &["test", &dir, "-n", "8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let config = format!("{dir}/config.yaml");
    let o = psychrnn_in(&other, &["run", &config, "--out", "again", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("changed"), "{}", stderr(&o));
    assert_eq!(
        weights_bits(&other.join("again/weights.npz")),
        weights_bits(&run.weights()),
        "the reproduction from the copies differs"
    );
}

/// A copy of `tests/fixtures/run_format_1`, a run directory written by this release (format 1,
/// 4 units, 4 iterations; its figures left out). Runs written by later versions of psychrnn
/// must keep opening: if this test fails, a change broke old runs.
fn fixture_copy(s: &TempDir) -> PathBuf {
    let from = repo().join("tests/fixtures/run_format_1");
    let to = s.join("run_format_1");
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    copy(&from, &to);
    to
}

#[test]
fn a_run_directory_of_format_1_still_reads_and_opens() {
    let s = TempDir::new("trust-format-1");
    let dir = fixture_copy(&s);
    let run = RunDir::new(&dir);
    let record = run.read_record().unwrap();
    assert_eq!(record.format_version, 1);
    assert_eq!(record.experiment.model.n_rec, 4);
    assert!(
        !Path::new(&record.script).exists(),
        "the fixture's script must be its copy only"
    );
    let summary = run.read_summary().unwrap().unwrap();
    assert_eq!((summary.format_version, summary.iterations), (1, 4));
    assert_eq!(summary.accuracy_by.unwrap().condition, "coherence");
    let history = run.read_history().unwrap();
    assert_eq!(
        history.iter().map(|r| r.iteration).collect::<Vec<_>>(),
        [2, 4]
    );
    let analysis = run.read_analysis().unwrap().unwrap();
    assert_eq!((analysis.format_version, analysis.test_trials), (1, 4));
    let trials = psychrnn::trials_file::TrialRecord::read(&run.trials()).unwrap();
    assert_eq!((trials.n_trials, trials.n_rec), (4, 4));
    assert_eq!(trials.input_names, ["evidence_0", "evidence_1"]);
    assert!(trials.epochs.is_some());
    // Its network opens from its checkpoint and its own script copy, from another directory.
    let dir_text = dir.to_str().unwrap();
    let o = psychrnn_in(
        &repo(),
        &[
            "test",
            dir_text,
            "-n",
            "4",
            "-o",
            s.join("t.npz").to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = psychrnn_in(s.path(), &["report", dir_text]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let config = format!("{dir_text}/config.yaml");
    let o = psychrnn_in(s.path(), &["run", &config, "--out", "again", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}
