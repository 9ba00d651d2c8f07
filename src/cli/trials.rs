//! `psychrnn trials SCRIPT`: draw example trials to a PNG or SVG to check a task by eye.

use std::path::PathBuf;

use clap::Args;

use super::script_args::ScriptArgs;
use super::{flag_values, CliError};
use crate::random::{stream, Rng};
use crate::report::{draw_trials, ImageFormat, TrialPanel};
use crate::task::{generate_batch, ConditionValue, Task};

/// Arguments of `psychrnn trials`.
#[derive(Debug, Args)]
pub struct TrialsArgs {
    /// The script and how to resolve it.
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Number of trials to draw (1 to 100, one panel each).
    #[arg(long, short = 'n', default_value_t = 6, value_parser = flag_values::count(flag_values::MAX_DRAWN_TRIALS))]
    pub n: usize,
    /// Output image, .png or .svg.
    #[arg(long, short = 'o', default_value = "trials.png")]
    pub out: PathBuf,
}

/// A trial's conditions as `key=value, …` (numbers shortened).
pub fn conditions_title(i: usize, c: &crate::task::Conditions) -> String {
    let parts: Vec<String> = c
        .iter()
        .map(|(k, v)| match v {
            ConditionValue::Number(x) if x.fract() == 0.0 => format!("{k}={x}"),
            ConditionValue::Number(x) => format!("{k}={x:.3}"),
            ConditionValue::Text(s) => format!("{k}={s}"),
        })
        .collect();
    format!("trial {i}: {}", parts.join(", "))
}

/// Runs `psychrnn trials`.
pub fn execute(args: &TrialsArgs) -> Result<(), CliError> {
    ImageFormat::of(&args.out).map_err(CliError::input)?;
    let loaded = args.script.load()?;
    crate::validation::validate(&loaded).map_err(CliError::input)?;
    let task = loaded.task.as_ref();
    let seed = loaded.config.seed;
    let n = args.n;
    let batch = generate_batch(task, seed, stream::TRAIN, 0, n).map_err(CliError::input)?;
    let shape = task.shape();
    let (t, ni, no) = (batch.n_steps, batch.n_in, batch.n_out);
    let mut panels = Vec::with_capacity(n);
    for i in 0..n {
        let mut rng = Rng::derive(seed, &[stream::TRAIN, 0, i as u64]);
        let spans = task
            .epoch_spans(&mut rng)
            .map_err(|m| CliError::input(anyhow::anyhow!(m)))?;
        let epochs = match spans {
            None => Vec::new(),
            Some(spans) => {
                let mut start = 0.0;
                spans
                    .into_iter()
                    .map(|(e, d)| {
                        let span = (e.name, start, start + d);
                        start += d;
                        span
                    })
                    .collect()
            }
        };
        panels.push(TrialPanel {
            title: conditions_title(i, &batch.conditions[i]),
            inputs: batch.inputs[i * t * ni..(i + 1) * t * ni].to_vec(),
            targets: batch.targets[i * t * no..(i + 1) * t * no].to_vec(),
            mask: batch.mask[i * t * no..(i + 1) * t * no].to_vec(),
            epochs,
            outputs: None,
        });
    }
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
