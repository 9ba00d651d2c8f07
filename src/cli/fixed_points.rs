//! `psychrnn fixedpoints RUN_DIR`: fixed and slow points of the trained rate RNN under a
//! constant input, with their stability, written to `fixed_points.npz` and drawn on the report's
//! population figure.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::{flag_values, CliError};
use psychrnn::analysis::fixed_points::{
    constant_input_drive, find_fixed_points, points_file, starts_from_states, FixedPointOptions,
    RateDynamics, DEFAULT_MERGE_TOLERANCE,
};
use psychrnn::analysis::slow_points::{context_line_attractors, SlowPointError, SlowPointOptions};
use psychrnn::trials_file::TrialRecord;

/// Arguments of `psychrnn fixedpoints`.
#[derive(Debug, Args)]
pub struct FixedPointsArgs {
    /// A run directory written by `psychrnn run`.
    pub run: PathBuf,
    /// The constant input, one value per input channel, e.g. 1,1 [default: all zeros].
    #[arg(
        long,
        value_name = "VALUES",
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_parser = flag_values::finite
    )]
    pub input: Vec<f64>,
    /// Number of starting states, sampled from the states in trials.npz (1 to 10000).
    #[arg(long, default_value_t = 64, value_parser = flag_values::count(flag_values::MAX_STARTS))]
    pub starts: usize,
    /// Seed for choosing the starting states.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep points whose speed q = ½|F(x) − x|² is below this (slow points included; a
    /// finite number > 0).
    #[arg(long, default_value_t = 1e-6, value_parser = flag_values::finite_positive)]
    pub keep_q_below: f64,
    /// Hits closer than this fraction of the RMS norm of the starting states are one point
    /// (a finite number > 0).
    #[arg(long, default_value_t = DEFAULT_MERGE_TOLERANCE, value_parser = flag_values::finite_positive)]
    pub merge_tolerance: f64,
    /// Instead: search slow points in each context of report.tdr (line attractors, Mante et
    /// al. 2013), linearise them and write slow_points.yaml; --starts counts per context.
    #[arg(long, conflicts_with_all = ["input", "keep_q_below", "merge_tolerance"])]
    pub line_attractor: bool,
    /// With --line-attractor: a point is slow when q is below this (a finite number > 0).
    #[arg(long, default_value_t = 1e-6, value_parser = flag_values::finite_positive, requires = "line_attractor")]
    pub slow_q: f64,
}

/// `psychrnn fixedpoints --line-attractor`: slow points per context, written to
/// slow_points.yaml and drawn on the report's regression-axes figure.
fn line_attractor(args: &FixedPointsArgs) -> Result<(), CliError> {
    let trained = super::trained_run::open(&args.run, None)?;
    let w = trained
        .rate_weights("fixedpoints")
        .map_err(CliError::pipeline)?;
    let (run, record) = (&trained.run, &trained.record);
    let config = &record.experiment;
    let Some(settings) = &config.report.tdr else {
        return Err(CliError::input(anyhow!(
            "--line-attractor needs report.tdr in the experiment (the conditions that are choice, motion, colour and context), e.g. report: #{{ tdr: #{{ choice: \"choice\", motion: \"motion_coherence\", colour: \"colour_coherence\", context: \"context\" }} }}"
        )));
    };
    let trials = read_trials(run, &args.run)?;
    let alpha = psychrnn::model::alphas(config.task.dt, config.task.tau, config.model.tau.as_ref());
    let options = SlowPointOptions {
        slow_q: args.slow_q,
        ..SlowPointOptions::default()
    };
    let file = context_line_attractors(
        &w,
        &alpha,
        config.model.transfer(),
        &trials,
        settings,
        &options,
        args.starts,
        args.seed,
    )
    .map_err(|e| match e {
        SlowPointError::Setting(_) => CliError::input(anyhow!(e)),
        other => CliError::failed(other),
    })?;
    run.write_slow_points(&file).map_err(CliError::failed)?;
    for c in &file.contexts {
        let median = |mut v: Vec<f64>| -> String {
            if v.is_empty() {
                return "-".into();
            }
            v.sort_by(f64::total_cmp);
            format!("{:.3}", v[v.len() / 2])
        };
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
        outln!(
            "context {}: {} slow points (q < {:.1e}) from {} starts; first PC {} of their variance, |cos| with the choice axis {}; choice extent {} of the stimulus-epoch trajectories' {:.3} (all states' {:.3})",
            c.context,
            c.points.len(),
            file.slow_q,
            c.starts,
            opt(c.first_pc_fraction),
            opt(c.line_choice_cos),
            opt(c.choice_extent),
            c.stimulus_choice_range,
            c.choice_axis_range
        );
        outln!(
            "  medians: slowest eigenvalue (continuous, 1/tau) {}, next |eigenvalue| {}, right vector |cos| with choice axis {}, left vector |cos| with motion input {}, with colour input {}",
            median(c.points.iter().filter_map(|p| p.slowest_continuous.map(|e| e.0)).collect()),
            median(c.points.iter().map(|p| p.second_eigenvalue_modulus).collect()),
            median(c.points.iter().map(|p| p.right_choice_cos).collect()),
            median(c.points.iter().map(|p| p.left_motion_cos).collect()),
            median(c.points.iter().map(|p| p.left_colour_cos).collect()),
        );
    }
    outln!("written to {}", run.slow_points().display());
    if trials.n_rec == w.n_rec {
        let index = psychrnn::report::write_report(run, config, &trials, Some(&w))
            .map_err(CliError::failed)?;
        outln!("drawn on the regression-axes figure in {}", index.display());
    }
    Ok(())
}

/// Runs `psychrnn fixedpoints`.
pub fn execute(args: &FixedPointsArgs) -> Result<(), CliError> {
    if args.line_attractor {
        return line_attractor(args);
    }
    let trained = super::trained_run::open(&args.run, None)?;
    let w = trained
        .rate_weights("fixedpoints")
        .map_err(CliError::pipeline)?;
    let (run, record) = (&trained.run, &trained.record);
    let config = &record.experiment;
    let transfer = config.model.transfer();
    let n = w.n_rec;
    let input = if args.input.is_empty() {
        vec![0.0; w.n_in]
    } else {
        args.input.clone()
    };
    if input.len() != w.n_in {
        return Err(CliError::input(anyhow!(
            "--input has {} values; the network has {} input channels ({})",
            input.len(),
            w.n_in,
            config.task.inputs.join(", ")
        )));
    }
    let trials = read_trials(run, &args.run)?;
    let (w_rec, drive) = constant_input_drive(&w, &input);
    let alpha = psychrnn::model::alphas(config.task.dt, config.task.tau, config.model.tau.as_ref());
    let dynamics = RateDynamics {
        w_rec: &w_rec,
        drive: &drive,
        alpha: &alpha,
        transfer: transfer.function(),
        transfer_derivative: transfer.derivative(),
    };
    let starts = starts_from_states(&trials.states, n, args.starts, args.seed);
    let options = FixedPointOptions {
        keep_q_below: args.keep_q_below,
        merge_tolerance: args.merge_tolerance,
        ..FixedPointOptions::default()
    };
    let search = find_fixed_points(&dynamics, &starts, &options);
    let found = &search.points;
    let k = found.len();
    let out = run.fixed_points();
    run.write_fixed_points(&points_file(&search, &input))
        .map_err(CliError::failed)?;
    let stable = found.iter().filter(|p| p.stable).count();
    outln!(
        "{k} distinct fixed or slow points ({stable} stable, {} unstable) from {} hits of {} starts (hits closer than {:.3e} = {} × the RMS state norm merged); written to {}",
        k - stable,
        search.raw_hits,
        starts.len(),
        search.merge_distance,
        args.merge_tolerance,
        out.display()
    );
    for (i, p) in found.iter().enumerate() {
        let top = p.eigenvalues.first().map_or(0.0, |(a, b)| a.hypot(*b));
        outln!(
            "  {i}: q = {:.2e}, largest |eigenvalue| {top:.4} ({}), {} hits",
            p.q,
            if p.stable { "stable" } else { "unstable" },
            p.hits
        );
    }
    // Redrawn even when nothing was found, so the report never shows the previous points.
    if trials.n_rec == n {
        let index = psychrnn::report::write_report(run, config, &trials, Some(&w))
            .map_err(CliError::failed)?;
        outln!("drawn on the population figure in {}", index.display());
    }
    Ok(())
}

/// The run's trials.npz (the starts and the regression come from it), or an error saying how to
/// make it when it is missing.
fn read_trials(
    run: &psychrnn::run_dir::RunDir,
    dir: &std::path::Path,
) -> Result<TrialRecord, CliError> {
    let path = run.trials();
    if !path.exists() {
        return Err(CliError::input(anyhow!(
            "{} is missing: run psychrnn test {} first",
            path.display(),
            dir.display()
        )));
    }
    TrialRecord::read(&path).map_err(|m| CliError::input(anyhow!(m)))
}
