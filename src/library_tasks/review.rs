//! A careful reviewer's checks of one task ([`review_task`]): it loads and validates, builds
//! batches with several seeds, its epochs fit the trial and leave no weighted padding, every
//! epoch its scorer reads has steps, its own targets score 100% under its scorer, and a tiny
//! network's loss falls in a few dozen iterations.

use std::path::Path;

use crate::random::{stream, Rng};
use crate::script::{load_experiment, LoadOptions, LoadedExperiment, Override};
use crate::task::{generate_batch, Batch, OutputReading, Scorer, Task};
use crate::train::{evaluate, train};

/// The seeds each task's batches are drawn with.
pub const REVIEW_SEEDS: [u64; 3] = [1, 2, 3];

/// Trials per seed.
const TRIALS_PER_SEED: usize = 32;

/// The evaluation loss after training must be below this fraction of the loss before.
const LOSS_RATIO: f64 = 0.9;

/// One check and what it found.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The check (`seeds`, `timing`, `scored epochs`, `targets`, `loss`).
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured, or what is wrong.
    pub detail: String,
}

/// What reviewing one task found.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReview {
    /// The task (`module::function`, or the script).
    pub task: String,
    /// Each check in order; a failed load is the only check when the task cannot be loaded.
    pub checks: Vec<Check>,
}

impl TaskReview {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The review of a task that could not be loaded.
pub fn failed_to_load(task: &str, message: String) -> TaskReview {
    TaskReview {
        task: task.to_string(),
        checks: vec![Check {
            name: "load",
            passed: false,
            detail: message,
        }],
    }
}

/// Reviews the experiment script at `path` (its main task), trained briefly with Adam.
pub fn review_script(path: &Path, options: &LoadOptions) -> TaskReview {
    let label = path.display().to_string();
    let mut options = options.clone();
    for (k, v) in [
        ("train.iterations", "40"),
        ("train.batch_size", "16"),
        ("train.optimizer", "adam"),
        ("train.learning_rate", "0.01"),
        ("train.eval_every", "40"),
        ("train.eval_trials", "32"),
        ("train.stop_at_accuracy", "null"),
        ("train.max_seconds", "null"),
    ] {
        options.overrides.push(
            format!("{k}={v}")
                .parse::<Override>()
                .expect("a valid override"),
        );
    }
    match load_experiment(path, &options) {
        Ok(loaded) => review_task(&label, &loaded),
        Err(e) => failed_to_load(&label, e.to_string()),
    }
}

/// Reviews `loaded`'s main task (see the module docs); never panics on a broken task.
pub fn review_task(label: &str, loaded: &LoadedExperiment) -> TaskReview {
    let mut checks = Vec::new();
    let push = |checks: &mut Vec<Check>, name, result: Result<String, String>| {
        checks.push(match result {
            Ok(detail) => Check {
                name,
                passed: true,
                detail,
            },
            Err(detail) => Check {
                name,
                passed: false,
                detail,
            },
        })
    };
    if let Err(e) = crate::validation::validate(loaded) {
        push(&mut checks, "validate", Err(e.to_string()));
        return TaskReview {
            task: label.to_string(),
            checks,
        };
    }
    let task = loaded.task.as_ref();
    let mut batches = Vec::new();
    let mut failure = None;
    for seed in REVIEW_SEEDS {
        match generate_batch(task, seed, stream::TRAIN, 0, TRIALS_PER_SEED) {
            Ok(b) => batches.push((seed, b)),
            Err(e) => {
                failure = Some(format!("seed {seed}: {e}"));
                break;
            }
        }
    }
    push(
        &mut checks,
        "seeds",
        match failure {
            Some(m) => Err(m),
            None => Ok(format!(
                "{} seeds × {TRIALS_PER_SEED} trials",
                REVIEW_SEEDS.len()
            )),
        },
    );
    if checks.iter().any(|c| !c.passed) {
        return TaskReview {
            task: label.to_string(),
            checks,
        };
    }
    push(&mut checks, "timing", timing(task, &batches));
    push(&mut checks, "scored epochs", scored_epochs(task, &batches));
    let reading = loaded.config.model.loss.output_reading();
    push(
        &mut checks,
        "targets",
        targets_score(task, &batches, reading),
    );
    push(&mut checks, "silent", silent_fails(task, &batches, reading));
    push(&mut checks, "loss", loss_falls(loaded));
    TaskReview {
        task: label.to_string(),
        checks,
    }
}

/// Epochs end within the trial (drawing them checks that) and the steps after the last epoch,
/// which are padding, carry no weight in the loss.
fn timing(task: &dyn Task, batches: &[(u64, Batch)]) -> Result<String, String> {
    let shape = task.shape();
    let (mut lo, mut hi) = (usize::MAX, 0);
    for (seed, b) in batches {
        if b.epochs.iter().all(|e| e.is_empty()) {
            return Ok(format!("per step, {} ms", shape.duration));
        }
        for (i, epochs) in b.epochs.iter().enumerate() {
            let end = epochs.last().map_or(0, |e| e.end);
            lo = lo.min(end);
            hi = hi.max(end);
            let per = b.n_steps * b.n_out;
            let mask = &b.mask[i * per..(i + 1) * per];
            if let Some(step) = (end..b.n_steps).find(|&t| {
                mask[t * b.n_out..(t + 1) * b.n_out]
                    .iter()
                    .any(|&m| m > 0.0)
            }) {
                return Err(format!(
                    "seed {seed} trial {i}: the epochs end at {} ms but step {step} ({} ms), after them, is weighted in the loss",
                    end as f64 * shape.dt,
                    step as f64 * shape.dt
                ));
            }
        }
    }
    let ms = |steps: usize| steps as f64 * shape.dt;
    Ok(if lo == hi {
        format!("epochs end at {} of {} ms", ms(hi), shape.duration)
    } else {
        format!(
            "epochs end at {}–{} of {} ms",
            ms(lo),
            ms(hi),
            shape.duration
        )
    })
}

/// The epochs a scorer reads: each inner list needs at least one epoch present with steps.
#[allow(unreachable_patterns)] // scorers added later read no epoch until listed here
fn read_epochs(scorer: &Scorer) -> Vec<Vec<String>> {
    match scorer {
        Scorer::Argmax { epoch, .. } => epoch.iter().map(|e| vec![e.clone()]).collect(),
        Scorer::Angle { epoch, .. } | Scorer::GoNogo { epoch, .. } => vec![vec![epoch.clone()]],
        Scorer::Fixation { epochs, .. } => vec![epochs.clone()],
        Scorer::Interval { from, .. } => vec![vec![from.clone()]],
        Scorer::Sign { .. } => Vec::new(),
        Scorer::All { of } => of.iter().flat_map(read_epochs).collect(),
        _ => Vec::new(),
    }
}

/// Every epoch the scorer reads is in every trial with at least one step.
fn scored_epochs(task: &dyn Task, batches: &[(u64, Batch)]) -> Result<String, String> {
    let needed = read_epochs(task.scorer());
    if needed.is_empty() {
        return Ok("the scorer reads the mask, no epoch".into());
    }
    let mut shortest: Vec<usize> = vec![usize::MAX; needed.len()];
    for (seed, b) in batches {
        for (i, epochs) in b.epochs.iter().enumerate() {
            for (k, names) in needed.iter().enumerate() {
                let steps = epochs
                    .iter()
                    .filter(|e| names.contains(&e.name))
                    .map(|e| e.end - e.start)
                    .max();
                match steps {
                    Some(s) if s > 0 => shortest[k] = shortest[k].min(s),
                    _ => {
                        return Err(format!(
                            "seed {seed} trial {i}: the scorer reads epoch {}, which {}",
                            names.join(" or "),
                            if steps.is_some() {
                                "has no steps"
                            } else {
                                "the trial does not have"
                            }
                        ))
                    }
                }
            }
        }
    }
    Ok(needed
        .iter()
        .zip(shortest)
        .map(|(names, s)| format!("{} ≥ {s} steps", names.join("/")))
        .collect::<Vec<_>>()
        .join(", "))
}

/// The targets, fed to the task's scoring as if they were the network's outputs (read as the
/// task's loss reads outputs), are all correct.
fn targets_score(
    task: &dyn Task,
    batches: &[(u64, Batch)],
    reading: OutputReading,
) -> Result<String, String> {
    let (mut right, mut total) = (0, 0);
    for (seed, b) in batches {
        let scores = task
            .score(&b.targets, b, reading)
            .map_err(|e| format!("seed {seed}: {e}"))?;
        total += scores.correct.len();
        right += scores.correct.iter().filter(|&&c| c).count();
        if let Some(i) = scores.correct.iter().position(|&c| !c) {
            return Err(format!(
                "seed {seed} trial {i} ({}): the scorer ({}) counts the task's own targets wrong, so no network can be scored right",
                crate::report::conditions_title(i, &b.conditions[i]),
                task.scorer().kind()
            ));
        }
    }
    Ok(format!("{right}/{total} correct"))
}

/// A network that outputs 0 everywhere must not score 100%: a scorer that counts such a
/// network right (argmax over one channel, say) cannot tell learning from nothing.
fn silent_fails(
    task: &dyn Task,
    batches: &[(u64, Batch)],
    reading: OutputReading,
) -> Result<String, String> {
    let (mut right, mut total) = (0, 0);
    for (seed, b) in batches {
        let zeros = vec![0.0f32; b.targets.len()];
        let scores = task
            .score(&zeros, b, reading)
            .map_err(|e| format!("seed {seed}: {e}"))?;
        total += scores.correct.len();
        right += scores.correct.iter().filter(|&&c| c).count();
    }
    let text = format!("all-zero outputs score {right}/{total}");
    if right == total {
        Err(format!(
            "{text}: the scorer ({}) counts a silent network correct on every trial, so accuracy says nothing; score with more than one channel or name the epoch and channels it reads",
            task.scorer().kind()
        ))
    } else {
        Ok(text)
    }
}

/// A tiny network's evaluation loss falls below [`LOSS_RATIO`] of where it started.
fn loss_falls(loaded: &LoadedExperiment) -> Result<String, String> {
    let config = &loaded.config;
    let task = loaded.task.clone();
    // A script's `model.load` file is relative to the script, as in `psychrnn run`.
    let base = loaded
        .script_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let built = crate::model::build_network_with(
        &config.model,
        task.shape(),
        config.seed,
        base,
        crate::kernel::KernelOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let model = built.network.as_ref();
    let batch = generate_batch(task.as_ref(), config.seed, stream::EVAL, 0, 32)
        .map_err(|e| e.to_string())?;
    let eval = |model: &dyn crate::model::Network| {
        let mut rng = Rng::derive(config.seed, &[stream::REC_NOISE, 9999]);
        evaluate(model, task.as_ref(), &batch, &mut rng, config.model.loss)
            .map(|e| e.loss)
            .map_err(|e| e.to_string())
    };
    let before = eval(model)?;
    let as_task: std::sync::Arc<dyn Task> = task.clone();
    let outcome = train(
        model,
        as_task,
        &config.train,
        config.model.loss,
        config.seed,
        |_| {},
    )
    .map_err(|e| e.to_string())?;
    let after = eval(model)?;
    let text = format!(
        "{before:.4} → {after:.4} in {} iterations",
        outcome.iterations
    );
    if after.is_finite() && after < LOSS_RATIO * before {
        Ok(text)
    } else {
        Err(format!(
            "{text}: the loss did not fall below {LOSS_RATIO} of its start; check that the targets are learnable from the inputs"
        ))
    }
}
