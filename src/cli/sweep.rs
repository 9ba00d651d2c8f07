//! `psychrnn sweep SCRIPT --grid … --seeds N`: many runs, on this machine (a bounded number at a
//! time, restartable) or as a SLURM array job; `psychrnn sweep status DIR` shows where they are.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};

use super::{flag_values, CliError, ExitStatus};
use crate::run_dir::write_atomic;
use crate::script::{load_experiment, LoadOptions, Override};
use crate::sweep::{
    check_grid, expand, run_state, value_text, GridAxis, RunState, SweepPlan, SweepRun,
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
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE", value_parser = parse_override)]
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
        .map_err(|e: crate::sweep::GridError| e.to_string())
}

fn parse_override(s: &str) -> Result<Override, String> {
    s.parse()
        .map_err(|e: crate::script::OverrideError| e.to_string())
}

fn plan_path(dir: &Path) -> PathBuf {
    dir.join("sweep.yaml")
}

/// Reads `sweep.yaml` of a sweep folder.
pub fn read_plan(dir: &Path) -> Result<SweepPlan, CliError> {
    let path = plan_path(dir);
    let text = fs::read_to_string(&path).map_err(|e| {
        CliError::input(anyhow!(
            "{}: {e} (is {} a sweep folder?)",
            path.display(),
            dir.display()
        ))
    })?;
    serde_norway::from_str(&text).map_err(|e| CliError::input(anyhow!("{}: {e}", path.display())))
}

fn write_plan(dir: &Path, plan: &SweepPlan) -> Result<(), CliError> {
    let yaml = serde_norway::to_string(plan).expect("plan serialises");
    write_atomic(&plan_path(dir), yaml.as_bytes())
        .with_context(|| format!("cannot write {}", plan_path(dir).display()))
        .map_err(CliError::failed)
}

/// The `psychrnn run` arguments of one run (fresh, or `--resume` when it has started).
fn run_arguments(plan: &SweepPlan, root: &Path, run: &SweepRun) -> Vec<String> {
    let dir = SweepPlan::run_dir(root, run).display().to_string();
    if run_state(Path::new(&dir)) != RunState::Pending {
        return vec!["run".into(), "--resume".into(), dir, "--quiet".into()];
    }
    let mut args = vec![
        "run".into(),
        plan.script.clone(),
        "--out".into(),
        dir,
        "--quiet".into(),
        "--seed".into(),
        run.seed.to_string(),
    ];
    for s in plan.overrides.iter().chain(&run.settings) {
        args.push("--set".into());
        args.push(s.clone());
    }
    args
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
            },
        )
        .map_err(|e| CliError::input(anyhow!("{}: {e}", run.name)))?;
        crate::validation::validate(&loaded)
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
        script: crate::run_dir::absolute(&script).display().to_string(),
        overrides,
        grid: args.grid.iter().map(|a| a.path.clone()).collect(),
        runs,
        slurm_job: None,
    };
    if let Ok(old) = read_plan(&root) {
        let same_script =
            crate::run_dir::absolute(Path::new(&old.script)) == Path::new(&plan.script);
        if old.runs != plan.runs || !same_script || old.overrides != plan.overrides {
            return Err(CliError::input(anyhow!(
                "{} holds a different sweep; choose another --out (restarting a sweep needs the same script, grid, seeds and --set)",
                root.display()
            )));
        }
        plan.slurm_job = old.slurm_job;
    }
    write_plan(&root, &plan)?;
    if args.slurm {
        return submit_slurm(args, &root, &mut plan);
    }
    run_locally(
        &plan,
        &root,
        args.jobs
            .unwrap_or_else(crate::task::generation_threads)
            .max(1),
    )
}

/// Raised by Ctrl-C / SIGTERM to the sweep: no new run starts.
static SWEEP_STOP: AtomicBool = AtomicBool::new(false);
/// The process ids of the runs in progress, so a signal to the sweep reaches them.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// On Ctrl-C or SIGTERM, stop starting runs and pass SIGTERM on to the runs in progress: each
/// writes its checkpoint and exits 130, so the same sweep command later resumes them.
fn forward_signals_to_runs() {
    // A second installation in the same process (tests) fails harmlessly.
    let _ = ctrlc::set_handler(|| {
        SWEEP_STOP.store(true, Ordering::SeqCst);
        for &pid in CHILDREN.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            // SAFETY: kill(2) with a pid this process started and has not yet reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        eprintln!("\nsweep: stopping; the runs in progress write their checkpoints");
    });
}

/// Runs one `psychrnn run` child to its end, registered for signal forwarding.
fn run_child(mut command: Command) -> std::io::Result<std::process::ExitStatus> {
    let mut children = CHILDREN.lock().unwrap_or_else(|p| p.into_inner());
    let mut child = command.spawn()?;
    let pid = child.id();
    children.push(pid);
    drop(children);
    let status = child.wait();
    CHILDREN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|&p| p != pid);
    status
}

fn run_locally(plan: &SweepPlan, root: &Path, jobs: usize) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(anyhow!("cannot find the psychrnn binary: {e}")))?;
    forward_signals_to_runs();
    let todo: VecDeque<&SweepRun> = plan
        .runs
        .iter()
        .filter(|r| run_state(&SweepPlan::run_dir(root, r)) != RunState::Done)
        .collect();
    let total = plan.runs.len();
    let already = total - todo.len();
    outln!(
        "sweep of {total} runs in {}: {already} already done, {} to run, {jobs} at a time",
        root.display(),
        todo.len()
    );
    let queue = Arc::new(Mutex::new(todo));
    // (done, failed, interrupted)
    let done = Arc::new(Mutex::new((already, 0usize, 0usize)));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (queue, done, exe) = (queue.clone(), done.clone(), exe.clone());
            scope.spawn(move || loop {
                if SWEEP_STOP.load(Ordering::SeqCst) {
                    return;
                }
                let Some(run) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                    return;
                };
                let log_path = root.join("logs").join(format!("{}.log", run.name));
                let log = fs::File::create(&log_path);
                let status = log.and_then(|log| {
                    let err = log.try_clone()?;
                    let mut command = Command::new(&exe);
                    command
                        .args(run_arguments(plan, root, run))
                        .env("RAYON_NUM_THREADS", "1")
                        .stdin(Stdio::null())
                        .stdout(log)
                        .stderr(err);
                    run_child(command)
                });
                let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
                let result = match status {
                    Ok(s) if s.success() => {
                        d.0 += 1;
                        let acc = crate::run_dir::RunDir::new(SweepPlan::run_dir(root, run))
                            .read_summary()
                            .ok()
                            .flatten()
                            .map_or("?".to_string(), |s| s.final_accuracy.to_string());
                        format!("done, test accuracy {acc}")
                    }
                    Ok(s) if s.code() == Some(ExitStatus::Interrupted.code()) => {
                        d.2 += 1;
                        "interrupted; it resumes when the sweep is run again".to_string()
                    }
                    Ok(s) => {
                        d.1 += 1;
                        format!(
                            "FAILED (exit {}); see {}",
                            s.code().map_or("signal".into(), |c| c.to_string()),
                            log_path.display()
                        )
                    }
                    Err(e) => {
                        d.1 += 1;
                        format!("FAILED to start: {e}")
                    }
                };
                outln!(
                    "[{}/{total}] {} {result} ({:.0} s)",
                    d.0 + d.1 + d.2,
                    run.name,
                    start.elapsed().as_secs_f64()
                );
            });
        }
    });
    let (ok, failed, interrupted) = *done.lock().unwrap_or_else(|p| p.into_inner());
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

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The sbatch array script: one task per run, each resuming its run if it already started.
pub fn sbatch_script(
    plan: &SweepPlan,
    root: &Path,
    exe: &Path,
    cwd: &Path,
    args: &SweepArgs,
) -> String {
    let root = if root.is_absolute() {
        root.to_path_buf()
    } else {
        cwd.join(root)
    };
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "#SBATCH --job-name=psychrnn-sweep\n#SBATCH --array=0-{}\n",
        plan.runs.len().saturating_sub(1)
    ));
    s.push_str(&format!("#SBATCH --output={}/logs/slurm-%a.log\n#SBATCH --cpus-per-task=1\n#SBATCH --ntasks=1\n#SBATCH --requeue\n", root.display()));
    if let Some(p) = &args.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &args.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(m) = &args.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    s.push_str("# Written by psychrnn sweep: one array task per run. A requeued or restarted task\n# resumes its run from the last checkpoint; a finished run is left as it is.\nset -euo pipefail\nexport RAYON_NUM_THREADS=1\n");
    s.push_str(&format!("cd {}\n", shell_quote(&cwd.display().to_string())));
    s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (i, run) in plan.runs.iter().enumerate() {
        let dir = root.join(&run.name).display().to_string();
        let mut fresh = vec![
            plan.script.clone(),
            "--out".into(),
            dir.clone(),
            "--quiet".into(),
            "--seed".into(),
            run.seed.to_string(),
        ];
        for o in plan.overrides.iter().chain(&run.settings) {
            fresh.push("--set".into());
            fresh.push(o.clone());
        }
        let fresh: Vec<String> = fresh.iter().map(|a| shell_quote(a)).collect();
        s.push_str(&format!(
            "  {i}) DIR={}; FRESH=({});;\n",
            shell_quote(&dir),
            fresh.join(" ")
        ));
    }
    s.push_str("  *) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2;;\nesac\n");
    let exe = shell_quote(&exe.display().to_string());
    s.push_str(&format!(
        "if [ -f \"$DIR/config.yaml\" ]; then\n  exec {exe} run --resume \"$DIR\" --quiet\nelse\n  exec {exe} run \"${{FRESH[@]}}\"\nfi\n"
    ));
    s
}

fn submit_slurm(args: &SweepArgs, root: &Path, plan: &mut SweepPlan) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failed(anyhow!("cannot find the psychrnn binary: {e}")))?;
    let cwd = std::env::current_dir().map_err(|e| CliError::failed(anyhow!("{e}")))?;
    let script = root.join("sweep.sbatch");
    write_atomic(
        &script,
        sbatch_script(plan, root, &exe, &cwd, args).as_bytes(),
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
    write_plan(root, plan)?;
    outln!(
        "submitted SLURM array job {job} with {} tasks; follow it with: psychrnn sweep status {}",
        plan.runs.len(),
        root.display()
    );
    Ok(())
}

/// SLURM's state of each array task of `job` (task index → state), from squeue.
fn slurm_states(job: &str) -> std::collections::HashMap<usize, String> {
    let mut states = std::collections::HashMap::new();
    let Ok(out) = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%K %T"])
        .output()
    else {
        return states;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split_whitespace();
        if let (Some(k), Some(state)) = (f.next(), f.next()) {
            if let Ok(k) = k.parse::<usize>() {
                states.insert(k, state.to_string());
            }
        }
    }
    states
}

fn status(dir: &Path) -> Result<(), CliError> {
    let plan = read_plan(dir)?;
    let slurm = plan
        .slurm_job
        .as_deref()
        .map(slurm_states)
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
