//! trials.npz is complete for analysis in numpy alone (channel names, epoch spans, conditions
//! with their text labels, the scorer's verdicts, dt, tau, format version), older files are
//! still read, and `psychrnn trials -o batch.npz` exports task batches for other frameworks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::harness::{psychrnn, repo, stderr, stdout, TempDir};
use psychrnn::npz_file::{read_npz, Array, ArrayValues};
use psychrnn::trials_file::TrialRecord;

/// A condition name holding `,` `:` `#` quotes, unicode and `<`.
const ODD_NAME: &str = "odd,name:#\"q'<ü>";

/// Labels with the same characters.
const LABELS: [&str; 5] = ["a,b", "x:y", "#hash", "q\"uote's", "ünï<code>"];

/// Fixed timing at dt = 10 ms over 500 ms (50 steps): fixation 0..10, stimulus 10..20, on
/// side-1 trials a second stimulus 20..30, response to the end.
const FIXED_EPOCHS: &str = r##"
experiment(#{
    task: #{
        name: "fixed_epochs",
        inputs: ["go", "cue"],
        outputs: ["left", "right"],
        dt: 10.0, tau: 50.0, duration: 500.0,
        input_noise: 0.1,
        params: |rng| #{
            side: rng.int(0, 1),
            "odd,name:#\"q'<ü>": rng.choice(["a,b", "x:y", "#hash", "q\"uote's", "ünï<code>"]),
        },
        trial: |p| {
            let t = [0.0, 0.0];
            t[p.side] = 1.0;
            let epochs = [
                #{ name: "fixation", duration: 100.0, mask: 0.0 },
                #{ name: "stimulus", duration: 100.0, input: [1.0, 0.5], mask: 0.0 },
            ];
            if p.side == 1 {
                epochs.push(#{ name: "stimulus", duration: 100.0, input: [1.0, 0.0], mask: 0.0 });
            }
            epochs.push(#{ name: "response", target: t });
            epochs
        },
    },
    model: #{ n_rec: 6 },
    train: #{ iterations: 2, batch_size: 4, eval_every: 1, eval_trials: 4, test_trials: 12 },
});
"##;

fn fixed_script(dir: &Path) -> String {
    let path = dir.join("fixed_epochs.rhai");
    std::fs::write(&path, FIXED_EPOCHS).unwrap();
    path.display().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Exit status 2 and a message holding every one of `parts`.
fn refused(o: &Output, parts: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for p in parts {
        assert!(err.contains(p), "missing `{p}` in: {err}");
    }
}

fn get<'a>(d: &'a BTreeMap<String, Array>, key: &str) -> &'a Array {
    d.get(key)
        .unwrap_or_else(|| panic!("no `{key}`; keys: {:?}", d.keys().collect::<Vec<_>>()))
}

fn texts(a: &Array) -> Vec<String> {
    match &a.values {
        ArrayValues::Text(v) => v.clone(),
        other => panic!("not text: {other:?}"),
    }
}

fn ints(a: &Array) -> Vec<i64> {
    match &a.values {
        ArrayValues::Int(v) => v.clone(),
        other => panic!("not integers: {other:?}"),
    }
}

fn f64s(a: &Array) -> Vec<f64> {
    match &a.values {
        ArrayValues::F64(v) => v.clone(),
        other => panic!("not float64: {other:?}"),
    }
}

/// The (start, end) of the `occurrence`-th epoch `name` in each trial, from the table.
fn span_column(d: &BTreeMap<String, Array>, name: &str, occurrence: i64) -> Vec<(i64, i64)> {
    let names = texts(get(d, "epoch_names"));
    let occ = ints(get(d, "epoch_occurrence"));
    let e = names.len();
    let c = (0..e)
        .find(|&c| names[c] == name && occ[c] == occurrence)
        .unwrap_or_else(|| panic!("no column {name} #{occurrence} in {names:?} {occ:?}"));
    let (start, end) = (ints(get(d, "epoch_start")), ints(get(d, "epoch_end")));
    (0..start.len() / e)
        .map(|i| (start[i * e + c], end[i * e + c]))
        .collect()
}

/// The task's keys of both files, checked against the fixed timing and the script.
fn check_task_keys(d: &BTreeMap<String, Array>, b: usize, tau: f64) {
    for key in ["inputs", "targets", "mask"] {
        let a = get(d, key);
        assert_eq!(a.shape, [b, 50, 2], "{key}");
        assert!(matches!(a.values, ArrayValues::F32(_)), "{key} float32");
    }
    assert_eq!(texts(get(d, "input_names")), ["go", "cue"]);
    assert_eq!(texts(get(d, "output_names")), ["left", "right"]);
    assert_eq!(get(d, "dt").shape, Vec::<usize>::new());
    assert_eq!(f64s(get(d, "dt")), [10.0]);
    assert_eq!(f64s(get(d, "tau")), [tau]);
    assert_eq!(
        ints(get(d, "format_version")),
        [psychrnn::run_dir::FORMAT_VERSION as i64]
    );
    let e = texts(get(d, "epoch_names")).len();
    assert_eq!(e, 4, "fixation, stimulus, stimulus #2, response");
    assert_eq!(get(d, "epoch_start").shape, [b, e]);
    assert_eq!(get(d, "epoch_end").shape, [b, e]);
    let side = f64s(get(d, "condition_side"));
    assert_eq!(side.len(), b);
    assert!(side.contains(&0.0) && side.contains(&1.0), "{side:?}");
    let fixation = span_column(d, "fixation", 1);
    let stimulus = span_column(d, "stimulus", 1);
    let second = span_column(d, "stimulus", 2);
    let response = span_column(d, "response", 1);
    for i in 0..b {
        assert_eq!(fixation[i], (0, 10), "trial {i}");
        assert_eq!(stimulus[i], (10, 20), "trial {i}");
        if side[i] == 1.0 {
            assert_eq!(second[i], (20, 30), "trial {i}");
            assert_eq!(response[i], (30, 50), "trial {i}");
        } else {
            assert_eq!(second[i], (-1, -1), "trial {i} has no second stimulus");
            assert_eq!(response[i], (20, 50), "trial {i}");
        }
    }
    // The text condition: codes into the sorted labels the trials have, and the labels
    // themselves.
    let codes = f64s(get(d, &format!("condition_{ODD_NAME}")));
    let labels = texts(get(d, &format!("label_{ODD_NAME}")));
    let mut sorted = labels.clone();
    sorted.sort();
    sorted.dedup();
    assert!(sorted.len() >= 2, "{sorted:?}");
    assert_eq!(labels.len(), b);
    for i in 0..b {
        assert!(LABELS.contains(&labels[i].as_str()), "{:?}", labels[i]);
        assert_eq!(sorted[codes[i] as usize], labels[i], "trial {i}");
    }
}

#[test]
fn trials_npz_holds_names_epochs_labels_verdicts_and_version_and_reads_back() {
    let dir = TempDir::new("bundle-run");
    let script = fixed_script(&dir);
    let run = dir.join("run");
    let o = psychrnn(&["run", &script, "--out", s(&run), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = run.join("trials.npz");
    let d = read_npz(&path).unwrap();
    check_task_keys(&d, 12, 50.0);
    for key in ["outputs", "states", "rates"] {
        assert_eq!(get(&d, key).shape[..2], [12, 50], "{key}");
    }
    let correct = get(&d, "correct");
    assert_eq!(correct.shape, [12]);
    assert!(
        matches!(correct.values, ArrayValues::Bool(_)),
        "bool verdicts"
    );
    assert!(
        !run.join("trials_labels.yaml").exists(),
        "labels live in the npz, no sidecar"
    );

    // TrialRecord reads back everything it wrote, and writes the same file again.
    let record = TrialRecord::read(&path).unwrap();
    assert_eq!(record.tau, Some(50.0));
    assert_eq!(record.input_names, ["go", "cue"]);
    let epochs = record.epochs.as_ref().expect("epochs");
    let stimulus = epochs.column("stimulus").unwrap();
    assert_eq!(epochs.start[stimulus], 10);
    assert_eq!(record.labels[ODD_NAME].len(), {
        let mut l = texts(get(&d, &format!("label_{ODD_NAME}")));
        l.sort();
        l.dedup();
        l.len()
    });
    let again = dir.join("again.npz");
    record.write(&again).unwrap();
    assert_eq!(TrialRecord::read(&again).unwrap(), record);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&path).unwrap()
    );

    // psychrnn test rewrites it with the same keys; report reads it.
    let o = psychrnn(&["test", s(&run), "-n", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    check_task_keys(&read_npz(&path).unwrap(), 5, 50.0);
    stdout(&psychrnn(&["report", s(&run)]));
}

#[test]
fn trials_exports_task_batches_for_other_frameworks_by_seed() {
    let dir = TempDir::new("bundle-export");
    let script = fixed_script(&dir);
    let export = |name: &str, seed: &str, extra: &[&str]| -> PathBuf {
        let out = dir.join(name);
        let mut args = vec![
            "trials",
            &script,
            "-n",
            "150",
            "-o",
            s(&out),
            "--seed",
            seed,
        ];
        args.extend_from_slice(extra);
        let text = stdout(&psychrnn(&args));
        assert!(
            text.contains("150 trials of `fixed_epochs` (50 steps, 2 inputs, 2 outputs"),
            "{text}"
        );
        out
    };
    let a = export("a.npz", "5", &[]);
    let b = export("b.npz", "5", &[]);
    let c = export("c.npz", "6", &[]);
    let tau = export("tau.npz", "5", &["--set", "task.tau=70"]);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same seed, same file"
    );
    let d = read_npz(&a).unwrap();
    check_task_keys(&d, 150, 50.0);
    for key in ["outputs", "states", "rates", "correct"] {
        assert!(!d.contains_key(key), "{key}: no network in a task batch");
    }
    let dc = read_npz(&c).unwrap();
    assert_ne!(
        get(&d, "inputs"),
        get(&dc, "inputs"),
        "another seed, other trials"
    );
    assert_ne!(get(&d, "condition_side"), get(&dc, "condition_side"));
    check_task_keys(&read_npz(&tau).unwrap(), 150, 70.0);

    if let Some(python) = python_with_numpy() {
        let code = format!(
            "import numpy as np\nd = np.load({:?})\nassert not any(d[k].dtype == object for k in d.files)\nprint(d['inputs'].shape, d['mask'].dtype, d['epoch_names'].dtype.kind, [str(n) for n in d['epoch_names']], d['label_{}'].dtype.kind)\n",
            s(&a),
            ODD_NAME.replace('\\', "\\\\").replace('\'', "\\'")
        );
        let out = run_python(&python, &code);
        assert!(
            out.contains(
                "(150, 50, 2) float32 U ['fixation', 'stimulus', 'response', 'stimulus'] U"
            ),
            "{out}"
        );
    }
}

#[test]
fn trials_counts_formats_and_memory_are_checked_before_anything_is_written() {
    let dir = TempDir::new("bundle-refuse");
    let script = fixed_script(&dir);
    let png = dir.join("t.png");
    refused(
        &psychrnn(&["trials", &script, "-n", "101", "-o", s(&png)]),
        &[
            "-n 101",
            "101 is not in 1..=100 for a figure",
            "an .npz output takes up to 100000",
        ],
    );
    let npz = dir.join("t.npz");
    refused(
        &psychrnn(&["trials", &script, "-n", "100001", "-o", s(&npz)]),
        &["100001 is not in 1..=100000"],
    );
    refused(
        &psychrnn(&["trials", &script, "-o", s(&dir.join("t.pdf"))]),
        &["t.pdf: figures are written as .png or .svg, or task batches as .npz"],
    );
    // 100000 trials × 100000 steps cannot fit: refused before a trial is drawn.
    let long = dir.join("long.rhai");
    std::fs::write(
        &long,
        FIXED_EPOCHS.replace("duration: 500.0", "duration: 1000000.0"),
    )
    .unwrap();
    refused(
        &psychrnn(&["trials", s(&long), "-n", "100000", "-o", s(&npz)]),
        &[
            "the task batches: 100000 trials × 100000 steps × 6 values",
            "lower -n",
        ],
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "only the scripts: {left:?}");
}

#[test]
fn trials_npz_of_older_versions_is_still_read() {
    use candle_core::{Device, Tensor};
    let dir = TempDir::new("bundle-old");
    let path = dir.join("trials.npz");
    let cpu = Device::Cpu;
    let (b, t) = (3, 4);
    let f = |n: usize, c: usize| Tensor::from_vec(vec![0.5f32; n * c * t], (n, t, c), &cpu);
    let entries = vec![
        ("inputs", f(b, 2).unwrap()),
        ("targets", f(b, 2).unwrap()),
        ("mask", f(b, 2).unwrap()),
        ("outputs", f(b, 2).unwrap()),
        ("states", f(b, 5).unwrap()),
        ("rates", f(b, 5).unwrap()),
        ("dt", Tensor::new(10.0f64, &cpu).unwrap()),
        (
            "condition_coherence",
            Tensor::new(&[0.1f64, 0.3, 0.5], &cpu).unwrap(),
        ),
        (
            "condition_context",
            Tensor::new(&[1.0f64, 0.0, 1.0], &cpu).unwrap(),
        ),
        ("correct", Tensor::new(&[1.0f64, 0.0, 1.0], &cpu).unwrap()),
    ];
    psychrnn::npz_file::write_npz(&entries, &path).unwrap();
    std::fs::write(
        dir.join("trials_labels.yaml"),
        "context:\n- color\n- motion\n",
    )
    .unwrap();
    let r = TrialRecord::read(&path).unwrap();
    assert_eq!(
        (r.n_trials, r.n_steps, r.n_in, r.n_out, r.n_rec),
        (3, 4, 2, 2, 5)
    );
    assert_eq!(r.tau, None);
    assert!(r.input_names.is_empty() && r.epochs.is_none());
    assert_eq!(r.correct, Some(vec![true, false, true]));
    assert_eq!(r.conditions["coherence"], [0.1, 0.3, 0.5]);
    assert_eq!(r.labels["context"], ["color", "motion"]);

    // Rewritten in the current format, the labels move into the npz.
    let new = dir.join("new").join("trials.npz");
    std::fs::create_dir_all(new.parent().unwrap()).unwrap();
    r.write(&new).unwrap();
    let d = read_npz(&new).unwrap();
    assert_eq!(
        texts(get(&d, "label_context")),
        ["motion", "color", "motion"]
    );
    assert_eq!(TrialRecord::read(&new).unwrap(), r);
}

/// The README's numpy lines, run as written on a run's trials.npz, agree with the same
/// alignment computed here from TrialRecord.
#[test]
fn readme_alignment_lines_run_in_numpy_and_agree() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```python\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("epoch_start"))
        .expect("a README python block aligning to epoch_start");
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(lines.len(), 5, "five lines: {block}");
    let dir = TempDir::new("bundle-readme");
    let run = dir.join("run");
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        s(&run),
        "--quiet",
        "--set",
        "model.n_rec=6",
        "--set",
        "train.iterations=2",
        "--set",
        "train.batch_size=4",
        "--set",
        "train.eval_trials=4",
        "--set",
        "train.test_trials=8",
        "--set",
        "report.enabled=false",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = run.join("trials.npz");
    let r = TrialRecord::read(&path).unwrap();
    let epochs = r.epochs.as_ref().unwrap();
    let c = epochs.column("stimulus").expect("a stimulus epoch");
    let e = epochs.n_columns();
    let mut want = Vec::new();
    for i in 0..r.n_trials {
        let onset = epochs.start[i * e + c] as usize;
        assert!(
            onset > 0 && onset + 50 <= r.n_steps,
            "trial {i} onset {onset}"
        );
        for k in 0..50 {
            let at = (i * r.n_steps + onset + k) * r.n_rec;
            want.extend_from_slice(&r.rates[at..at + r.n_rec]);
        }
    }
    let Some(python) = python_with_numpy() else {
        return;
    };
    let aligned = dir.join("aligned.npy");
    let code = format!(
        "{}\nnp.save({:?}, aligned)\nprint(sorted(float(c) for c in by_coherence), by_coherence[0.1].shape if 0.1 in by_coherence else None)\n",
        block.replace("runs/perceptual_discrimination/trials.npz", s(&path)),
        s(&aligned)
    );
    run_python(&python, &code);
    let got = psychrnn::npz_file::parse_npy(&std::fs::read(&aligned).unwrap()).unwrap();
    assert_eq!(got.shape, [r.n_trials, 50, r.n_rec]);
    assert_eq!(got.to_f32().unwrap(), want);
}

/// A python with numpy: target/pyenv, else python3 if it has numpy, else a venv made in
/// target/pyenv (`pip install numpy`); `None` (printed) when none can be had.
fn python_with_numpy() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let has_numpy = |p: &Path| {
                Command::new(p)
                    .args(["-c", "import numpy"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            let venv = repo().join("target/pyenv/bin/python");
            for p in [venv.clone(), PathBuf::from("python3")] {
                if has_numpy(&p) {
                    return Some(p);
                }
            }
            let made = Command::new("python3")
                .args(["-m", "venv", s(&repo().join("target/pyenv"))])
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(repo().join("target/pyenv/bin/pip"))
                    .args(["install", "-q", "numpy"])
                    .status()
                    .is_ok_and(|s| s.success());
            if made && has_numpy(&venv) {
                return Some(venv);
            }
            println!(
                "skipping the numpy checks: no python3 with numpy, and pip could not install it"
            );
            None
        })
        .clone()
}

fn run_python(python: &Path, code: &str) -> String {
    let o = Command::new(python).args(["-c", code]).output().unwrap();
    assert!(
        o.status.success(),
        "python failed:\n{code}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
