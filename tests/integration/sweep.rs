//! `psychrnn sweep` (local backend and the SLURM script) and `psychrnn collect`.

use crate::harness::{psychrnn, stdout, TempDir};

use std::path::Path;
use std::process::Output;

const SMALL: &[&str] = &[
    "--set",
    "train.iterations=40",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_every=10",
    "--set",
    "train.eval_trials=8",
    "--set",
    "train.test_trials=16",
    "--set",
    "report.enabled=false",
];

fn sweep(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        out.to_str().unwrap(),
        "--grid",
        "model.n_rec=4,8",
        "--seeds",
        "2",
    ];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(extra);
    psychrnn(&args)
}

#[test]
fn a_local_sweep_runs_restarts_and_collects() {
    let tmp = TempDir::new("sweep");
    let dir = tmp.join("sweep");
    let out = stdout(&sweep(&dir, &["--jobs", "2"]));
    assert!(
        out.contains("sweep of 4 runs") && out.contains("0 already done, 4 to run, 2 at a time"),
        "{out}"
    );
    assert_eq!(out.matches(" done, test accuracy ").count(), 4, "{out}");
    let plan = std::fs::read_to_string(dir.join("sweep.yaml")).unwrap();
    assert!(
        plan.contains("name: n_rec=8_seed=1") && plan.contains("- model.n_rec=8"),
        "{plan}"
    );
    let config = std::fs::read_to_string(dir.join("n_rec=8_seed=1/config.yaml")).unwrap();
    assert!(
        config.contains("  n_rec: 8")
            && config.contains("seed: 1")
            && config.contains("iterations: 40"),
        "{config}"
    );

    // Restarting redoes nothing finished and finishes what was left.
    std::fs::remove_file(dir.join("n_rec=4_seed=0/summary.yaml")).unwrap();
    std::fs::remove_dir_all(dir.join("n_rec=4_seed=1")).unwrap();
    let status = stdout(&psychrnn(&["sweep", "status", dir.to_str().unwrap()]));
    assert!(
        status.contains("unfinished n_rec=4_seed=0")
            && status.contains("pending    n_rec=4_seed=1"),
        "{status}"
    );
    assert!(
        status.ends_with("4 runs: 2 done, 1 pending, 1 unfinished\n"),
        "{status}"
    );
    let out = stdout(&sweep(&dir, &[]));
    assert!(out.contains("2 already done, 2 to run"), "{out}");
    assert!(
        dir.join("n_rec=4_seed=0/summary.yaml").exists()
            && dir.join("n_rec=4_seed=1/weights.npz").exists()
    );

    let out = stdout(&psychrnn(&["collect", dir.to_str().unwrap()]));
    assert!(out.starts_with("4 of 4 runs collected"), "{out}");
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "run,model.n_rec,seed,state,final_accuracy,final_loss,iterations,wall_seconds,iterations_to_criterion");
    assert_eq!(lines.len(), 5);
    assert!(
        lines[4].starts_with("n_rec=8_seed=1,8,1,done,") && lines[4].contains(",40,"),
        "{csv}"
    );
    assert!(dir.join("report/comparison.png").exists());
    let index = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(index.contains("<td>n_rec=4</td><td>2</td>"), "{index}");

    // Another sweep into the same folder is refused.
    let o = psychrnn(&[
        "sweep",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        dir.to_str().unwrap(),
        "--seeds",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds a different sweep"));
}

#[test]
fn the_slurm_script_has_one_array_task_per_run_that_resumes() {
    let tmp = TempDir::new("sbatch");
    let dir = tmp.join("sweep");
    let out = stdout(&sweep(
        &dir,
        &[
            "--slurm",
            "--dry-run",
            "--partition",
            "short",
            "--time",
            "00:10:00",
            "--mem",
            "1G",
        ],
    ));
    assert!(out.contains("4 array tasks"), "{out}");
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3",
        "#SBATCH --partition=short",
        "#SBATCH --time=00:10:00",
        "#SBATCH --mem=1G",
        "#SBATCH --requeue",
        "--quiet --threads 1 --seed 1",
    ] {
        assert!(script.contains(line), "{line} missing:\n{script}");
    }
    assert!(
        script.contains("run --resume \"$DIR\" --quiet --threads 1"),
        "{script}"
    );
    assert!(!script.contains("RAYON_NUM_THREADS"), "{script}");
    assert!(
        script.contains("3) DIR=") && script.contains("--seed 1 --set train.iterations=40"),
        "{script}"
    );
    assert!(
        !dir.join("n_rec=4_seed=0").exists(),
        "a dry run trains nothing"
    );
    let o = psychrnn(&[
        "sweep",
        "scripts/perceptual_discrimination.rhai",
        "--grid",
        "model.n_recc=4,8",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("did you mean `n_rec`?"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
