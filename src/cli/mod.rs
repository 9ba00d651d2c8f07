//! The command line, one module per subcommand. Exit codes: 0 success, 1 the run failed,
//! 2 bad input (command line, script or settings).

/// `println!` that ignores a closed stdout (e.g. `psychrnn doc | head`) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod allocator;
pub mod bench;
pub mod check;
pub mod collect;
pub mod doc;
pub mod fixed_points;
pub mod flag_values;
pub mod report;
pub mod run;
pub mod script_args;
pub mod simulate;
pub mod sweep;
pub mod test;
pub mod threads;
pub mod trained_run;
pub mod trials;

use clap::{Parser, Subcommand};

/// Train rate RNNs with biological constraints on cognitive tasks written as Rhai scripts.
#[derive(Debug, Parser)]
#[command(name = "psychrnn", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network on the experiment a script declares and write its run directory.
    Run(run::RunArgs),
    /// Run a script, draw one batch and describe it: channels, epochs, conditions, shapes.
    Check(check::CheckArgs),
    /// Draw example trials (inputs, targets, mask, epochs) to a PNG or SVG.
    Trials(trials::TrialsArgs),
    /// List the functions scripts can call (built-ins, standard library, or a module file).
    Doc(doc::DocArgs),
    /// Run a trained network on fresh trials and write trials.npz (inputs, outputs, states, conditions).
    Test(test::TestArgs),
    /// Run a trained rate RNN on fresh trials, optionally perturbed, and save what it did.
    Simulate(simulate::SimulateArgs),
    /// Find fixed and slow points of a trained rate RNN under a constant input.
    Fixedpoints(fixed_points::FixedPointsArgs),
    /// Draw the report of a run (figures and report/index.html).
    Report(report::ReportArgs),
    /// Train a grid of settings × seeds, here or as a SLURM array job (`sweep status DIR` to follow).
    Sweep(sweep::SweepArgs),
    /// Gather a sweep's runs into sweep.csv and a comparison report.
    Collect(collect::CollectArgs),
    /// Measure trial generation and training speed on this machine.
    Bench(bench::BenchArgs),
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// 1: the run failed; 2: bad input.
    pub code: i32,
    /// What happened.
    pub error: anyhow::Error,
}

impl CliError {
    /// Bad input (script, settings, command line): exit code 2.
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: 2,
            error: error.into(),
        }
    }
    /// A failure while running: exit code 1.
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: 1,
            error: error.into(),
        }
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    allocator::keep_freed_memory();
    // One thread for the model's products unless a command chooses otherwise (`run` by
    // network size); the batch thread uses another core. RAYON_NUM_THREADS set by the user wins.
    threads::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::execute(&args),
        Command::Check(args) => check::execute(&args),
        Command::Trials(args) => trials::execute(&args),
        Command::Doc(args) => doc::execute(&args),
        Command::Bench(args) => bench::execute(&args),
        Command::Sweep(args) => sweep::execute(&args),
        Command::Collect(args) => collect::execute(&args),
        Command::Simulate(args) => simulate::execute(&args),
        Command::Test(args) => test::execute(&args),
        Command::Report(args) => report::execute(&args),
        Command::Fixedpoints(args) => fixed_points::execute(&args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            e.code
        }
    }
}
