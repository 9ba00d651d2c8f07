//! The command line, one module per subcommand. Exit codes come from [`ExitStatus`]: 0 success,
//! 1 the run failed, 2 bad input (command line, script, settings or files), 130 interrupted.

/// `println!` that ignores a closed stdout (e.g. `psychrnn doc | head`) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod bench;
pub mod check;
pub mod collect;
pub mod doc;
pub mod fixed_points;
pub mod flag_values;
pub mod lib;
pub mod malloc_settings;
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
    /// Share script libraries: add, list, remove, lock, test and document them.
    Lib(lib::LibArgs),
}

/// How a command ended: the process exit status, from this one place (README, "Command line").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done.
    Success,
    /// 1: the run failed while working (a file could not be written, a computation failed).
    Failed,
    /// 2: bad input: the command line, a script, a setting or a file given; nothing was written.
    BadInput,
    /// 130: interrupted (Ctrl-C, SIGTERM); a checkpoint was written and the run can be resumed.
    Interrupted,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::BadInput => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code() as u8)
    }
}

/// An error with the exit status it maps to.
#[derive(Debug)]
pub struct CliError {
    /// How the command ended.
    pub status: ExitStatus,
    /// What happened.
    pub error: anyhow::Error,
}

impl CliError {
    /// Bad input (script, settings, command line): exit code 2.
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            status: ExitStatus::BadInput,
            error: error.into(),
        }
    }
    /// A failure while running: exit code 1.
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            status: ExitStatus::Failed,
            error: error.into(),
        }
    }
    /// Interrupted by a signal, resumable: exit code 130.
    pub fn interrupted(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            status: ExitStatus::Interrupted,
            error: error.into(),
        }
    }
    /// A pipeline error: bad input when the user can fix it, else a failure.
    pub fn pipeline(error: psychrnn::pipeline::PipelineError) -> Self {
        if error.is_bad_input() {
            CliError::input(error)
        } else {
            CliError::failed(error)
        }
    }
    /// A run-directory error: bad input when the user can fix it, else a failure.
    pub fn run_dir(error: psychrnn::run_dir::RunDirError) -> Self {
        if error.is_bad_input() {
            CliError::input(error)
        } else {
            CliError::failed(error)
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message
/// already holds (the library's errors quote their source; anyhow's `{:#}` would repeat it).
fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Runs the command line; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    malloc_settings::keep_freed_memory();
    let cli = Cli::parse();
    // The model's thread count for candle's products, before any thread starts (`threads`).
    threads::init(&cli.command);
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
        Command::Lib(args) => lib::execute(&args),
    };
    match result {
        Ok(()) => ExitStatus::Success.into(),
        Err(e) => {
            eprintln!("error: {}", error_text(&e.error));
            e.status.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot write out.npz: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_quotes_is_not_repeated_but_a_context_is_kept() {
        let io = || std::io::Error::other("disk full");
        let quoted = anyhow::Error::new(Quoting { source: io() });
        assert_eq!(error_text(&quoted), "cannot write out.npz: disk full");
        let context = anyhow::Error::new(io()).context("cannot write run.yaml");
        assert_eq!(error_text(&context), "cannot write run.yaml: disk full");
    }
}
