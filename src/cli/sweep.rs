//! `psychrnn sweep SCRIPT --grid … --seeds N`: many runs, on this machine (a bounded number at a
//! time, restartable) or as a SLURM array job; `psychrnn sweep status DIR` shows where they are.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};

use super::{flag_values, CliError};
use psychrnn::run_dir::write_atomic;
use psychrnn::script::{load_experiment, LoadOptions, Override};
use psychrnn::sweep::{
    check_grid, expand, parse_squeue, run_locally, run_state, sbatch_script, value_text, GridAxis,
    RunState, RunningChildren, SlurmOptions, SweepError, SweepPlan, SweepResult, SweepRun,
    SweepTally,
};

/// Arguments of `psychrnn sweep`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    /// `status DIR` shows a sweep's runs.
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// The experiment script (.rhai).
    #[arg(required = true)]
    pub script: Option<PathBuf>,
    /// A grid axis, e.g. --grid model.n_rec=50,100,200 (repeatable; the sweep is their product).
    #[arg(long = "grid", value_name = "SECTION.KEY=V1,V2,…", value_parser = parse_axis)]
    pub grid: Vec<GridAxis>,
    /// Seeds per grid point (1 to 10000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=flag_values::MAX_SEEDS))]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// A setting shared by every run, e.g. --set train.iterations=500 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE", value_parser = <Override as std::str::FromStr>::from_str)]
    pub overrides: Vec<Override>,
    /// Sweep folder [default: sweeps/NAME with the script's NAME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at a time on this machine, 1 to 1024 [default: one per core].
    #[arg(long, value_parser = flag_values::count(flag_values::MAX_JOBS))]
    pub jobs: Option<usize>,
    /// Submit a SLURM array job instead of running here.
    #[arg(long)]
    pub slurm: bool,
    /// SLURM partition.
    #[arg(long, requires = "slurm", value_parser = flag_values::slurm_partition)]
    pub partition: Option<String>,
    /// SLURM time limit per run, HH:MM:SS (or D-HH:MM:SS, MM, …).
    #[arg(long, requires = "slurm", value_parser = flag_values::slurm_time)]
    pub time: Option<String>,
    /// SLURM memory per run, e.g. 2G.
    #[arg(long, requires = "slurm", value_parser = flag_values::slurm_memory)]
    pub mem: Option<String>,
    /// With --slurm: write the sbatch script but do not submit it.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
}

/// Sub-actions of `psychrnn sweep`.
#[derive(Debug, Subcommand)]
pub enum SweepAction {
    /// Show each run of a sweep: pending, running, done or failed.
    Status {
        /// The sweep folder.
        dir: PathBuf,
    },
}

fn parse_axis(s: &str) -> Result<GridAxis, String> {
    s.parse()
        .map_err(|e: psychrnn::sweep::GridError| e.to_string())
}

/// The exit status a sweep error maps to.
pub fn cli_error(e: SweepError) -> CliError {
    if e.is_bad_input() {
        CliError::input(e)
    } else {
        CliError::failed(e)
    }
}

/// Runs `psychrnn sweep`.
pub fn execute(args: &SweepArgs) -> Result<(), CliError> {
    if let Some(SweepAction::Status { dir }) = &args.action {
        return status(dir);
    }
    let script = args.script.clone().expect("clap requires the script");
    if args.grid.is_empty() && args.seeds <= 1 {
        return Err(CliError::input(anyhow!(
            "a sweep needs at least one --grid axis or --seeds above 1"
        )));
    }
    let overrides: Vec<String> = args
        .overrides
        .iter()
        .map(|o| format!("{}={}", o.path, value_text(&o.value)))
        .collect();
    let shared: Vec<String> = args.overrides.iter().map(|o| o.path.clone()).collect();
    check_grid(&args.grid, &shared, args.seeds, args.first_seed)
        .map_err(|m| CliError::input(anyhow!(m)))?;
    let runs = expand(&args.grid, args.seeds, args.first_seed);
    // Check every grid point resolves before anything is written.
    for run in runs.iter().filter(|r| r.seed == args.first_seed) {
        let all: Vec<Override> = overrides
            .iter()
            .chain(&run.settings)
            .map(|s| s.parse().expect("valid override"))
            .collect();
        let loaded = load_experiment(
            &script,
            &LoadOptions {
                overrides: all,
                seed: Some(run.seed),
                lib_dirs: super::script_args::env_lib_dirs(),
                bundled_modules: Vec::new(),
                libraries: super::script_args::library_store(),
            },
        )
        .map_err(|e| CliError::input(anyhow!("{}: {e}", run.name)))?;
        psychrnn::validation::validate(&loaded)
            .map_err(|e| CliError::input(anyhow!("{}: {e}", run.name)))?;
    }
    let stem = script
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let root = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("sweeps").join(stem));
    fs::create_dir_all(root.join("logs"))
        .with_context(|| format!("cannot create {}", root.display()))
        .map_err(CliError::failed)?;
    let mut plan = SweepPlan {
        // Absolute, so the sweep (and its runs) can be continued from any directory.
        script: psychrnn::run_dir::absolute(&script).display().to_string(),
        overrides,
        grid: args.grid.iter().map(|a| a.path.clone()).collect(),
        runs,
        slurm_job: None,
    };
    if let Ok(old) = SweepPlan::read(&root) {
        let same_script =
            psychrnn::run_dir::absolute(Path::new(&old.script)) == Path::new(&plan.script);
        if old.runs != plan.runs || !same_script || old.overrides != plan.overrides {
            return Err(CliError::input(anyhow!(
                "{} holds a different sweep; choose another --out (restarting a sweep needs the same script, grid, seeds and --set)",
                root.display()
            )));
        }
        plan.slurm_job = old.slurm_job;
    }
    plan.write(&root).map_err(cli_error)?;
    if args.slurm {
        return submit_slurm(args, &root, &mut plan);
    }
    run_on_this_machine(
        &plan,
        &root,
        args.jobs
            .unwrap_or_else(psychrnn::task::generation_threads)
            .max(1),
    )
}

/// Raised by Ctrl-C / SIGTERM to the sweep: no new run starts.
static SWEEP_STOP: AtomicBool = AtomicBool::new(false);
/// The runs in progress, so a signal to the sweep reaches them.
static CHILDREN: RunningChildren = RunningChildren::new();

/// On Ctrl-C or SIGTERM, stop starting runs and pass SIGTERM on to the runs in progress: each
/// writes its checkpoint and exits 130, so the same sweep command later resumes them.
fn forward_signals_to_runs() {
    // A second installation in the same process (tests) fails harmlessly.
    let _ = ctrlc::set_handler(|| {
        SWEEP_STOP.store(true, Ordering::SeqCst);
        for pid in CHILDREN.pids() {
            // SAFETY: kill(2) with a pid this process started and has not yet reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        eprintln!("\nsweep: stopping; the runs in progress write their checkpoints");
    });
}

fn run_on_this_machine(plan: &SweepPlan, root: &Path, jobs: usize) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(anyhow!("cannot find the psychrnn binary: {e}")))?;
    forward_signals_to_runs();
    let total = plan.runs.len();
    let already = plan
        .runs
        .iter()
        .filter(|r| run_state(&SweepPlan::run_dir(root, r)) == RunState::Done)
        .count();
    outln!(
        "sweep of {total} runs in {}: {already} already done, {} to run, {jobs} at a time",
        root.display(),
        total - already
    );
    let start = Instant::now();
    let on_result = |run: &SweepRun, result: &SweepResult, t: &SweepTally| {
        let text = match result {
            SweepResult::Done { accuracy } => format!(
                "done, test accuracy {}",
                accuracy.map_or("?".to_string(), |a| a.to_string())
            ),
            SweepResult::Interrupted => {
                "interrupted; it resumes when the sweep is run again".to_string()
            }
            SweepResult::Failed { code, log } => format!(
                "FAILED (exit {}); see {}",
                code.map_or("signal".into(), |c| c.to_string()),
                log.display()
            ),
            SweepResult::NotStarted(e) => format!("FAILED to start: {e}"),
        };
        outln!(
            "[{}/{total}] {} {text} ({:.0} s)",
            t.done + t.failed + t.interrupted,
            run.name,
            start.elapsed().as_secs_f64()
        );
    };
    let t = run_locally(plan, root, &exe, jobs, &SWEEP_STOP, &CHILDREN, &on_result);
    let (ok, failed, interrupted) = (t.done, t.failed, t.interrupted);
    if SWEEP_STOP.load(Ordering::SeqCst) {
        return Err(CliError::interrupted(anyhow!(
            "sweep interrupted: {ok} of {total} runs done, {interrupted} interrupted with their checkpoints, {failed} failed; run the same command again to continue"
        )));
    }
    if failed > 0 {
        return Err(CliError::failed(anyhow!(
            "{failed} of {total} runs failed ({ok} done); fix the cause and run the same command again: finished runs are kept, unfinished ones resume"
        )));
    }
    outln!(
        "all {total} runs done; summarise them with: psychrnn collect {}",
        root.display()
    );
    Ok(())
}

fn slurm_options(args: &SweepArgs) -> SlurmOptions {
    SlurmOptions {
        partition: args.partition.clone(),
        time: args.time.clone(),
        mem: args.mem.clone(),
    }
}

fn submit_slurm(args: &SweepArgs, root: &Path, plan: &mut SweepPlan) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(anyhow!("cannot find the psychrnn binary: {e}")))?;
    let cwd = std::env::current_dir().map_err(|e| CliError::failed(anyhow!("{e}")))?;
    let script = root.join("sweep.sbatch");
    write_atomic(
        &script,
        sbatch_script(plan, root, &exe, &cwd, &slurm_options(args)).as_bytes(),
    )
    .with_context(|| format!("cannot write {}", script.display()))
    .map_err(CliError::failed)?;
    if args.dry_run {
        outln!(
            "wrote {} ({} array tasks); submit it with: sbatch {}",
            script.display(),
            plan.runs.len(),
            script.display()
        );
        return Ok(());
    }
    let out = Command::new("sbatch")
        .arg(&script)
        .output()
        .map_err(|e| CliError::failed(anyhow!("cannot run sbatch ({e}); is SLURM installed here? --dry-run writes the script without submitting")))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(CliError::failed(anyhow!(
            "sbatch failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let job = text.split_whitespace().last().unwrap_or("").to_string();
    plan.slurm_job = Some(job.clone());
    plan.write(root).map_err(cli_error)?;
    outln!(
        "submitted SLURM array job {job} with {} tasks; follow it with: psychrnn sweep status {}",
        plan.runs.len(),
        root.display()
    );
    Ok(())
}

fn status(dir: &Path) -> Result<(), CliError> {
    let plan = SweepPlan::read(dir).map_err(cli_error)?;
    let slurm = plan
        .slurm_job
        .as_deref()
        .map(|job| {
            Command::new("squeue")
                .args(["-h", "-r", "-j", job, "-o", "%K %T"])
                .output()
                .map(|out| parse_squeue(&String::from_utf8_lossy(&out.stdout)))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let mut counts = std::collections::BTreeMap::new();
    for (i, run) in plan.runs.iter().enumerate() {
        let run_dir = SweepPlan::run_dir(dir, run);
        let state = match (run_state(&run_dir), slurm.get(&i).map(String::as_str)) {
            (RunState::Done, _) => "done",
            (_, Some("RUNNING" | "COMPLETING")) => "running",
            (_, Some(_)) => "pending",
            (RunState::Unfinished, None) if plan.slurm_job.is_some() => "failed",
            (RunState::Unfinished, None) => "unfinished",
            (RunState::Pending, None) => {
                let log = dir.join("logs").join(format!("slurm-{i}.log"));
                if plan.slurm_job.is_some() && log.exists() {
                    "failed"
                } else {
                    "pending"
                }
            }
        };
        *counts.entry(state).or_insert(0) += 1;
        outln!("{state:<10} {}", run.name);
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    outln!("{} runs: {}", plan.runs.len(), summary.join(", "));
    Ok(())
}
