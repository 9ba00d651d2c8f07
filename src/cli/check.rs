//! `psychrnn check SCRIPT`: run the script, validate the experiment (the checks `run` makes
//! before it writes anything), draw one batch, and describe what it produces.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use clap::Args;

use super::script_args::ScriptArgs;
use super::CliError;
use psychrnn::random::stream;
use psychrnn::script::{epoch_lengths, EpochLengths, LoadedExperiment, TrialForm};
use psychrnn::task::{generate_batch, Batch, ConditionValue, Task};
use psychrnn::train::MAX_BATCH_SIZE;
use psychrnn::validation::validate;

/// Arguments of `psychrnn check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The script and how to resolve it.
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Trials to draw [default: train.batch_size].
    #[arg(long, short = 'n')]
    pub trials: Option<usize>,
}

/// Runs `psychrnn check`: validates the experiment ([`validate`]) and prints the summary on
/// stdout.
pub fn execute(args: &CheckArgs) -> Result<(), CliError> {
    if let Some(n) = args.trials {
        if !(1..=MAX_BATCH_SIZE).contains(&n) {
            return Err(CliError::input(anyhow::anyhow!(
                "--trials must be between 1 and {MAX_BATCH_SIZE}, got {n}"
            )));
        }
    }
    let loaded = args.script.load()?;
    let validated = validate(&loaded).map_err(CliError::input)?;
    let n = args.trials.unwrap_or(loaded.config.train.batch_size);
    let seed = loaded.config.seed;
    let start = Instant::now();
    let batch =
        generate_batch(loaded.task.as_ref(), seed, stream::TRAIN, 0, n).map_err(CliError::input)?;
    let seconds = start.elapsed().as_secs_f64();
    let epochs = epoch_lengths(&loaded.task, seed, n).map_err(CliError::input)?;
    outln!("{}", summary(&loaded, &batch, &epochs, seconds));
    outln!(
        "validated: {} sampled trials of each of {} stage(s); the run needs about {:.2} GiB",
        validated.trials_per_stage,
        validated.stages,
        validated.memory_bytes as f64 / (1u64 << 30) as f64
    );
    Ok(())
}

/// A number with at most 4 decimals and no trailing zeros.
fn short(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The text `psychrnn check` prints.
fn summary(
    loaded: &LoadedExperiment,
    batch: &Batch,
    epochs: &[EpochLengths],
    seconds: f64,
) -> String {
    let task = loaded.task.as_ref();
    let shape = task.shape();
    let config = &loaded.config;
    let mut out = String::new();
    let form = match task.form() {
        TrialForm::Epochs(_) => "epoch form",
        TrialForm::Steps(_) => "per-step form",
    };
    let _ = writeln!(out, "{}: ok", loaded.script_path.display());
    let _ = writeln!(out, "task `{}` ({form})", task.name());
    let _ = writeln!(
        out,
        "  inputs  ({}): {}",
        shape.n_in(),
        shape.inputs.join(", ")
    );
    let _ = writeln!(
        out,
        "  outputs ({}): {}",
        shape.n_out(),
        shape.outputs.join(", ")
    );
    let _ = writeln!(
        out,
        "  dt {} ms, tau {} ms (alpha {}), duration {} ms = {} steps, input noise {}",
        shape.dt,
        shape.tau,
        shape.dt / shape.tau,
        shape.duration,
        shape.n_steps(),
        config.task.input_noise
    );
    if !epochs.is_empty() {
        let _ = writeln!(out, "epochs (over {} trials):", batch.n_trials);
        let width = epochs.iter().map(|e| e.name.len()).max().unwrap_or(0);
        for r in epochs {
            let name = &r.name;
            let span = if r.min_ms == r.max_ms {
                format!("{} ms", r.min_ms)
            } else {
                format!("{:.0}–{:.0} ms", r.min_ms, r.max_ms)
            };
            let mut notes = Vec::new();
            if let Some(d) = &r.drawn {
                notes.push(format!("drawn from {d}"));
            }
            if r.open_ended {
                notes.push("to the end of the trial".into());
            }
            if r.trials < batch.n_trials {
                notes.push(format!("in {} of {} trials", r.trials, batch.n_trials));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join("; "))
            };
            let _ = writeln!(out, "  {name:<width$}  {span}{notes}");
        }
    }
    let mut conditions: BTreeMap<&str, (Vec<f64>, Vec<&str>)> = BTreeMap::new();
    for c in &batch.conditions {
        for (k, v) in c {
            let e = conditions.entry(k.as_str()).or_default();
            match v {
                ConditionValue::Number(x) => e.0.push(*x),
                ConditionValue::Text(s) => e.1.push(s.as_str()),
            }
        }
    }
    if !conditions.is_empty() {
        let _ = writeln!(out, "conditions:");
        let width = conditions.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, (numbers, texts)) in conditions {
            let mut distinct = numbers.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            let mut labels = texts.clone();
            labels.sort();
            labels.dedup();
            let text = if !labels.is_empty() {
                labels.join(", ")
            } else if distinct.len() <= 8 && distinct.len() * 2 <= numbers.len() {
                distinct
                    .iter()
                    .map(|v| short(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                format!(
                    "{} … {} ({} distinct values)",
                    short(distinct[0]),
                    short(distinct[distinct.len() - 1]),
                    distinct.len()
                )
            };
            let _ = writeln!(out, "  {k:<width$}  {text}");
        }
    }
    let (b, t) = (batch.n_trials, batch.n_steps);
    let weighted =
        batch.mask.iter().filter(|&&m| m > 0.0).count() as f64 / batch.mask.len().max(1) as f64;
    let _ = writeln!(
        out,
        "batch: inputs [{b}, {t}, {}], targets [{b}, {t}, {}], mask [{b}, {t}, {}]; {:.1}% of target values weighted in the loss",
        batch.n_in,
        batch.n_out,
        batch.n_out,
        100.0 * weighted
    );
    let _ = writeln!(
        out,
        "generated in {:.2} ms ({:.3} ms per trial)",
        seconds * 1e3,
        seconds * 1e3 / b.max(1) as f64
    );
    let _ = writeln!(
        out,
        "model: {} units, {:?}; train: {} iterations of {} trials, learning rate {}",
        config.model.n_rec,
        config.model.transfer(),
        config.train.iterations,
        config.train.batch_size,
        config.train.learning_rate
    );
    out
}
