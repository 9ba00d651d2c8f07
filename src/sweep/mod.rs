//! Sweeps: a grid of settings × seeds, each a run in its own directory under the sweep's
//! folder, listed in `sweep.yaml`.

use std::path::{Path, PathBuf};

pub mod collect;
pub mod local;
mod plan_file;
pub mod slurm;

pub use collect::{collect_sweep, iterations_to, CollectedSweep};
pub use local::{run_locally, RunningChildren, SweepResult, SweepTally};
pub use slurm::{parse_squeue, sbatch_script, SlurmOptions};

use serde::{Deserialize, Serialize};
use serde_norway::Value;

/// One axis of the grid: a setting and its values (`model.n_rec=50,100,200`).
#[derive(Debug, Clone, PartialEq)]
pub struct GridAxis {
    /// Dotted setting path.
    pub path: String,
    /// Its values, as YAML (`50`, `null`, `tanh`).
    pub values: Vec<Value>,
}

/// Why a grid axis (`--grid`) or a whole grid is unusable.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The axis is not written `section.key=v1,v2,…`.
    #[error("expected section.key=v1,v2,… (e.g. model.n_rec=50,100), got `{0}`")]
    Syntax(String),
    /// The part before `=` is not a dotted setting path.
    #[error("`{0}` is not a setting path like model.n_rec")]
    Path(String),
    /// A value is not YAML.
    #[error("`{value}` is not a value: {source}")]
    Value {
        /// The value as written.
        value: String,
        /// The YAML error.
        source: serde_norway::Error,
    },
    /// The axis lists no values.
    #[error("`{0}` lists no values")]
    NoValues(String),
    /// The same setting is on two axes.
    #[error(
        "--grid {0} is given twice; give all its values on one axis, e.g. --grid {0}=v1,v2,v3"
    )]
    AxisTwice(String),
    /// A setting is both an axis and a `--set` override.
    #[error("{0} is both a --grid axis and a --set setting; keep one")]
    AxisAndSet(String),
    /// An axis lists a value twice (two runs would share a directory).
    #[error("--grid {path} lists {value} twice; each value once")]
    ValueTwice {
        /// The axis.
        path: String,
        /// The value, as written on a command line.
        value: String,
    },
    /// The seeds run past `u64::MAX`.
    #[error(
        "--first-seed {first_seed} with --seeds {seeds} runs past the largest seed {}",
        u64::MAX
    )]
    SeedOverflow {
        /// `--first-seed`.
        first_seed: u64,
        /// `--seeds`.
        seeds: u64,
    },
    /// More than [`MAX_RUNS`] runs (`None`: more than 2^64).
    #[error("the grid and --seeds make {} runs; a sweep holds at most {MAX_RUNS}", runs.map_or("more than 2^64".to_string(), |n| n.to_string()))]
    TooManyRuns {
        /// The number of runs, if it fits in a u64.
        runs: Option<u64>,
    },
}

impl std::str::FromStr for GridAxis {
    type Err = GridError;
    fn from_str(s: &str) -> Result<Self, GridError> {
        let Some((path, list)) = s.split_once('=') else {
            return Err(GridError::Syntax(s.to_string()));
        };
        let path = path.trim();
        if path.is_empty() || !path.contains('.') {
            return Err(GridError::Path(path.to_string()));
        }
        let values = list
            .split(',')
            .map(|v| {
                serde_norway::from_str::<Value>(v.trim()).map_err(|source| GridError::Value {
                    value: v.to_string(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if values.is_empty() || list.trim().is_empty() {
            return Err(GridError::NoValues(s.to_string()));
        }
        Ok(GridAxis {
            path: path.to_string(),
            values,
        })
    }
}

/// Most runs one sweep may hold (grid points × seeds).
pub const MAX_RUNS: u64 = 100_000;

/// Checks a grid before it is expanded: each setting path on one axis only, not also among
/// `shared` (the `--set` paths every run gets), no value twice on an axis (two runs would
/// share a directory), and at most [`MAX_RUNS`] runs with seeds `first_seed..first_seed+seeds`.
pub fn check_grid(
    axes: &[GridAxis],
    shared: &[String],
    seeds: u64,
    first_seed: u64,
) -> Result<(), GridError> {
    for (i, axis) in axes.iter().enumerate() {
        if axes[..i].iter().any(|a| a.path == axis.path) {
            return Err(GridError::AxisTwice(axis.path.clone()));
        }
        if shared.contains(&axis.path) {
            return Err(GridError::AxisAndSet(axis.path.clone()));
        }
        let texts: Vec<String> = axis.values.iter().map(value_text).collect();
        if let Some(j) = (0..texts.len()).find(|&j| texts[..j].contains(&texts[j])) {
            return Err(GridError::ValueTwice {
                path: axis.path.clone(),
                value: texts[j].clone(),
            });
        }
    }
    if first_seed.checked_add(seeds).is_none() {
        return Err(GridError::SeedOverflow { first_seed, seeds });
    }
    let runs = axes
        .iter()
        .try_fold(seeds, |n, a| n.checked_mul(a.values.len() as u64));
    match runs {
        Some(n) if n <= MAX_RUNS => Ok(()),
        _ => Err(GridError::TooManyRuns { runs }),
    }
}

/// A YAML scalar as it appears on a command line (`50`, `0.8`, `null`, `tanh`).
pub fn value_text(v: &Value) -> String {
    serde_norway::to_string(v)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    /// Directory name under the sweep folder, built from its settings and seed.
    pub name: String,
    /// The grid settings of this run, as `path=value`.
    pub settings: Vec<String>,
    /// Its seed.
    pub seed: u64,
}

/// `sweep.yaml`: everything needed to run, restart and collect a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// The experiment script.
    pub script: String,
    /// `--set` overrides shared by every run.
    pub overrides: Vec<String>,
    /// The grid's setting paths, in order.
    pub grid: Vec<String>,
    /// Every run.
    pub runs: Vec<SweepRun>,
    /// The SLURM array job, once submitted.
    #[serde(default)]
    pub slurm_job: Option<String>,
}

fn name_part(path: &str, short: bool, value: &Value) -> String {
    let key = if short {
        path.rsplit('.').next().unwrap_or(path).to_string()
    } else {
        path.replace('.', "-")
    };
    let v: String = value_text(value)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{key}={v}")
}

/// The runs of a grid × `seeds` seeds (`first_seed`, `first_seed + 1`, …): the cartesian
/// product in axis order, seeds innermost.
///
/// ```
/// use psychrnn::sweep::{expand, GridAxis};
/// let axis: GridAxis = "model.n_rec=20,50".parse().unwrap();
/// let runs = expand(&[axis], 2, 10);
/// let seeds: Vec<u64> = runs.iter().map(|r| r.seed).collect();
/// assert_eq!(seeds, [10, 11, 10, 11]);
/// assert_eq!(runs[2].settings, ["model.n_rec=50"]);
/// ```
pub fn expand(axes: &[GridAxis], seeds: u64, first_seed: u64) -> Vec<SweepRun> {
    let lasts: Vec<&str> = axes
        .iter()
        .map(|a| a.path.rsplit('.').next().unwrap_or(&a.path))
        .collect();
    let short = lasts
        .iter()
        .enumerate()
        .all(|(i, l)| !lasts[..i].contains(l));
    let mut combos: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((axis.path.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut runs = Vec::new();
    for combo in &combos {
        for s in 0..seeds.max(1) {
            let seed = first_seed + s;
            let mut parts: Vec<String> =
                combo.iter().map(|(p, v)| name_part(p, short, v)).collect();
            parts.push(format!("seed={seed}"));
            runs.push(SweepRun {
                name: parts.join("_"),
                settings: combo
                    .iter()
                    .map(|(p, v)| format!("{p}={}", value_text(v)))
                    .collect(),
                seed,
            });
        }
    }
    runs
}

/// A short label of a run's settings: `n_rec=50, dale_ratio=0.8` (sections dropped).
pub fn setting_label(settings: &[String]) -> String {
    settings
        .iter()
        .map(|s| match s.split_once('=') {
            Some((path, value)) => format!("{}={value}", path.rsplit('.').next().unwrap_or(path)),
            None => s.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a run of a sweep is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Not started.
    Pending,
    /// Started and stopped before finishing (resumable from its checkpoint).
    Unfinished,
    /// Finished.
    Done,
}

/// The state of the run in `dir`, from its files.
pub fn run_state(dir: &Path) -> RunState {
    let run = crate::run_dir::RunDir::new(dir);
    match run.read_summary() {
        Ok(Some(s)) if s.stop_reason != crate::train::StopReason::Interrupted => RunState::Done,
        _ if run.checkpoint().exists() || run.config().exists() => RunState::Unfinished,
        _ => RunState::Pending,
    }
}

impl SweepPlan {
    /// The directory of `run` in the sweep folder `root`.
    pub fn run_dir(root: &Path, run: &SweepRun) -> PathBuf {
        root.join(&run.name)
    }
}

/// The `psychrnn run` arguments of one run of the sweep in `root` (fresh, or `--resume` when
/// it has started), with `--threads 1`: a sweep's parallelism is its runs, one core each.
pub fn run_arguments(plan: &SweepPlan, root: &Path, run: &SweepRun) -> Vec<String> {
    let dir = SweepPlan::run_dir(root, run).display().to_string();
    if run_state(Path::new(&dir)) != RunState::Pending {
        return vec![
            "run".into(),
            "--resume".into(),
            dir,
            "--quiet".into(),
            "--threads".into(),
            "1".into(),
        ];
    }
    let mut args = vec![
        "run".into(),
        plan.script.clone(),
        "--out".into(),
        dir,
        "--quiet".into(),
        "--threads".into(),
        "1".into(),
        "--seed".into(),
        run.seed.to_string(),
    ];
    for s in plan.overrides.iter().chain(&run.settings) {
        args.push("--set".into());
        args.push(s.clone());
    }
    args
}

/// What can go wrong reading, writing or collecting a sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The folder has no readable sweep.yaml.
    #[error("{}: {source} (is {} a sweep folder?)", path.display(), dir.display())]
    NoPlan {
        /// sweep.yaml's path.
        path: PathBuf,
        /// The folder given.
        dir: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// sweep.yaml is not a plan psychrnn wrote.
    #[error("{}: {message}", path.display())]
    BadPlan {
        /// sweep.yaml's path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A run's files could not be read.
    #[error(transparent)]
    RunDir(#[from] crate::run_dir::RunDirError),
    /// sweep.csv could not be formed.
    #[error("{}: {message}", path.display())]
    Table {
        /// sweep.csv's path.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A file or folder could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The comparison figure could not be drawn.
    #[error(transparent)]
    Figure(#[from] crate::report::ReportError),
}

impl SweepError {
    /// True when the user can fix the cause (a wrong folder, a damaged file): exit status 2.
    pub fn is_bad_input(&self) -> bool {
        match self {
            SweepError::NoPlan { .. } | SweepError::BadPlan { .. } => true,
            SweepError::RunDir(e) => e.is_bad_input(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_expands_to_the_cartesian_product_times_seeds() {
        let axes: Vec<GridAxis> = ["model.n_rec=50,100", "model.dale_ratio=0.8,null"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let runs = expand(&axes, 2, 10);
        assert_eq!(runs.len(), 8);
        assert_eq!(runs[0].name, "n_rec=50_dale_ratio=0.8_seed=10");
        assert_eq!(runs[1].name, "n_rec=50_dale_ratio=0.8_seed=11");
        assert_eq!(
            runs[3].settings,
            ["model.n_rec=50", "model.dale_ratio=null"]
        );
        assert_eq!(runs[7].name, "n_rec=100_dale_ratio=null_seed=11");
        let names: std::collections::BTreeSet<_> = runs.iter().map(|r| &r.name).collect();
        assert_eq!(names.len(), 8, "names are unique");
        // The same key in two sections keeps the section in the name.
        let clash: Vec<GridAxis> = ["model.x=1", "train.x=2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(expand(&clash, 1, 0)[0].name, "model-x=1_train-x=2_seed=0");
        assert_eq!(
            setting_label(&runs[2].settings),
            "n_rec=50, dale_ratio=null"
        );
        assert_eq!(setting_label(&runs[0].settings), "n_rec=50, dale_ratio=0.8");
        assert_eq!(
            "n_rec=5".parse::<GridAxis>().unwrap_err().to_string(),
            "`n_rec` is not a setting path like model.n_rec"
        );
        assert_eq!(
            "model.n_rec".parse::<GridAxis>().unwrap_err().to_string(),
            "expected section.key=v1,v2,… (e.g. model.n_rec=50,100), got `model.n_rec`"
        );
        assert_eq!(
            "model.x=1,2,1"
                .parse::<GridAxis>()
                .map(|a| check_grid(&[a], &[], 1, 0))
                .unwrap()
                .unwrap_err()
                .to_string(),
            "--grid model.x lists 1 twice; each value once"
        );
        assert_eq!(
            check_grid(&[], &[], 2, u64::MAX).unwrap_err().to_string(),
            format!(
                "--first-seed {} with --seeds 2 runs past the largest seed {}",
                u64::MAX,
                u64::MAX
            )
        );
    }
}
