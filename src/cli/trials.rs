//! `psychrnn trials SCRIPT`: draw example trials to a PNG or SVG to check a task by eye, or
//! write task batches to an `.npz` for a model trained elsewhere.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Args;

use super::script_args::ScriptArgs;
use super::{flag_values, CliError};
use psychrnn::memory::{bytes_of, check_budget, MemoryItem};
use psychrnn::random::stream;
use psychrnn::report::{draw_trials, ImageFormat, TrialPanel};
use psychrnn::task::{generate_batch, Task};
use psychrnn::trials_file::write_task_batch;

/// Arguments of `psychrnn trials`.
#[derive(Debug, Args)]
pub struct TrialsArgs {
    /// The script and how to resolve it.
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Number of trials: 1 to 100 drawn to a figure (one panel each), 1 to 100000 written to
    /// an .npz.
    #[arg(long, short = 'n', default_value_t = 6, value_parser = flag_values::count(flag_values::MAX_TRIALS))]
    pub n: usize,
    /// Output: a figure (.png or .svg), or task batches (.npz: inputs, targets, mask,
    /// conditions, epochs, channel names, dt, tau).
    #[arg(long, short = 'o', default_value = "trials.png")]
    pub out: PathBuf,
}

/// Whether `path` names an `.npz` file (any case).
fn is_npz(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Runs `psychrnn trials`.
pub fn execute(args: &TrialsArgs) -> Result<(), CliError> {
    if is_npz(&args.out) {
        return export_batches(args);
    }
    ImageFormat::of(&args.out)
        .map_err(|e| CliError::input(anyhow!("{e}, or task batches as .npz")))?;
    if args.n as u64 > flag_values::MAX_DRAWN_TRIALS {
        return Err(CliError::input(anyhow!(
            "-n {}: {} is not in 1..={} for a figure (one panel per trial); an .npz output takes up to {} trials",
            args.n,
            args.n,
            flag_values::MAX_DRAWN_TRIALS,
            flag_values::MAX_TRIALS
        )));
    }
    let loaded = args.script.load()?;
    psychrnn::validation::validate(&loaded).map_err(CliError::input)?;
    let task = loaded.task.as_ref();
    let seed = loaded.config.seed;
    let n = args.n;
    let batch = generate_batch(task, seed, stream::TRAIN, 0, n).map_err(CliError::input)?;
    let shape = task.shape();
    let panels: Vec<TrialPanel> = (0..n)
        .map(|i| TrialPanel::from_batch(&batch, i, shape.dt))
        .collect();
    draw_trials(&args.out, &panels, shape.dt, &shape.inputs, &shape.outputs)
        .map_err(CliError::failed)?;
    outln!(
        "{} trials of `{}` drawn to {}",
        n,
        task.name(),
        args.out.display()
    );
    Ok(())
}

/// `psychrnn trials SCRIPT -n N -o batch.npz`: batch 0 of the training stream (the trials a
/// figure draws) with everything a model written elsewhere needs.
fn export_batches(args: &TrialsArgs) -> Result<(), CliError> {
    let loaded = args.script.load()?;
    let task = loaded.task.as_ref();
    let shape = task.shape();
    let (n, t) = (args.n, shape.n_steps());
    let values = shape.n_in() + 2 * shape.n_out();
    check_budget(&[MemoryItem {
        what: format!(
            "the task batches: {n} trials × {t} steps × {values} values (inputs, targets, mask), twice while they are written"
        ),
        bytes: bytes_of(&[n, t, values], 4).saturating_mul(2),
        setting: "-n".into(),
    }])
    .map_err(CliError::input)?;
    let batch =
        generate_batch(task, loaded.config.seed, stream::TRAIN, 0, n).map_err(CliError::input)?;
    write_task_batch(&batch, shape, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))
        .map_err(CliError::failed)?;
    outln!(
        "{n} trials of `{}` ({t} steps, {} inputs, {} outputs, seed {}) written to {}",
        task.name(),
        shape.n_in(),
        shape.n_out(),
        loaded.config.seed,
        args.out.display()
    );
    Ok(())
}
