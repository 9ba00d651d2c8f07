//! Running a sweep as a SLURM array job: the sbatch script (one array task per run, each
//! resuming its run when requeued) and the states squeue reports.

use std::collections::HashMap;
use std::path::Path;

use super::SweepPlan;

/// `#SBATCH` settings a user chooses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (e.g. `02:00:00`).
    pub time: Option<String>,
    /// `--mem` (e.g. `4G`).
    pub mem: Option<String>,
}

/// `s` quoted for bash when it holds anything but plain path and flag characters.
pub fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The sbatch array script for the sweep in `root`, run from `cwd` with the psychrnn binary
/// `exe`: one task per run, each resuming its run if it already started.
pub fn sbatch_script(
    plan: &SweepPlan,
    root: &Path,
    exe: &Path,
    cwd: &Path,
    options: &SlurmOptions,
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
    if let Some(p) = &options.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &options.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(m) = &options.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    s.push_str("# Written by psychrnn sweep: one array task per run. A requeued or restarted task\n# resumes its run from the last checkpoint; a finished run is left as it is.\nset -euo pipefail\n");
    s.push_str(&format!("cd {}\n", shell_quote(&cwd.display().to_string())));
    s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (i, run) in plan.runs.iter().enumerate() {
        let dir = root.join(&run.name).display().to_string();
        let mut fresh = vec![
            plan.script.clone(),
            "--out".into(),
            dir.clone(),
            "--quiet".into(),
            "--threads".into(),
            "1".into(),
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
        "if [ -f \"$DIR/config.yaml\" ]; then\n  exec {exe} run --resume \"$DIR\" --quiet --threads 1\nelse\n  exec {exe} run \"${{FRESH[@]}}\"\nfi\n"
    ));
    s
}

/// SLURM's state of each array task (task index → state), parsed from `squeue -h -r -o "%K %T"`
/// output.
pub fn parse_squeue(text: &str) -> HashMap<usize, String> {
    let mut states = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if let (Some(k), Some(state)) = (f.next(), f.next()) {
            if let Ok(k) = k.parse::<usize>() {
                states.insert(k, state.to_string());
            }
        }
    }
    states
}
