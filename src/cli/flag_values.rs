//! Parsers for command-line values, so a bad count or number is refused while the command
//! line is read (clap prints the flag with the message and exits with status 2) instead of
//! being clamped, accepted as NaN, or crashing later.
//!
//! Counts use [`count`] with an upper bound per flag (`MAX_*` below); numbers use the float
//! parsers here.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;

/// Most trials `simulate -n` and `test -n` run at once.
pub const MAX_TRIALS: u64 = 100_000;
/// Most trials `trials -n` draws (one panel each).
pub const MAX_DRAWN_TRIALS: u64 = 100;
/// Most starting states of `fixedpoints --starts`.
pub const MAX_STARTS: u64 = 10_000;
/// Most seeds per grid point of `sweep --seeds`.
pub const MAX_SEEDS: u64 = 10_000;
/// Most runs at a time of `sweep --jobs`.
pub const MAX_JOBS: u64 = 1024;
/// Largest recurrent size of `bench --sizes`.
pub const MAX_BENCH_SIZE: u64 = 4096;
/// Most model threads of `bench --threads`.
pub const MAX_THREADS: u64 = 1024;
/// Most batches or iterations per `bench` measurement.
pub const MAX_BENCH_REPEATS: u64 = 100_000;

/// A count in 1..=`max` (clap's message: "0 is not in 1..=100000").
pub fn count(max: u64) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..=max)
}

fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("expected a number, got `{s}`"))
}

/// A finite number ≥ 0 (a noise level, a standard deviation).
pub fn finite_non_negative(s: &str) -> Result<f64, String> {
    match number(s)? {
        x if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("must be a finite number ≥ 0, got {}", s.trim())),
    }
}

/// A finite number > 0 (a tolerance).
pub fn finite_positive(s: &str) -> Result<f64, String> {
    match number(s)? {
        x if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("must be a finite number > 0, got {}", s.trim())),
    }
}

/// A finite number of either sign (an input value).
pub fn finite(s: &str) -> Result<f64, String> {
    match number(s)? {
        x if x.is_finite() => Ok(x),
        _ => Err(format!("must be a finite number, got {}", s.trim())),
    }
}

/// A folder that exists.
pub fn existing_dir(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(path),
        Ok(_) => Err("is not a directory (give a folder of Rhai modules)".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("no such directory".into()),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// `FROM:TO`, two unit indices (checked against the network's size later).
pub fn unit_pair(s: &str) -> Result<(usize, usize), String> {
    s.split_once(':')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .ok_or_else(|| format!("expected FROM:TO with two unit numbers, e.g. 7:3, got `{s}`"))
}

/// A SLURM time limit: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`.
pub fn slurm_time(s: &str) -> Result<String, String> {
    let (days, clock) = match s.split_once('-') {
        Some((d, c)) => (Some(d), c),
        None => (None, s),
    };
    let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = clock.split(':').collect();
    if days.is_none_or(digits) && parts.len() <= 3 && parts.iter().all(|p| digits(p)) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "expected a SLURM time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS), got `{s}`"
        ))
    }
}

/// SLURM memory: a whole number with an optional unit K, M, G or T (e.g. `2G`).
pub fn slurm_memory(s: &str) -> Result<String, String> {
    let number = s.trim_end_matches(['K', 'M', 'G', 'T']);
    if !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && s.len() - number.len() <= 1
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "expected SLURM memory: a whole number with an optional unit K, M, G or T (e.g. 2G), got `{s}`"
        ))
    }
}

/// SLURM partition names: letters, digits, `_`, `-`, `.`, and `,` between several.
pub fn slurm_partition(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,".contains(c))
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "expected a SLURM partition name (letters, digits, _ - . and , between several), got `{s}`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_refused_when_not_finite_or_out_of_range() {
        assert_eq!(finite_non_negative("0.5"), Ok(0.5));
        assert_eq!(finite_non_negative("0"), Ok(0.0));
        assert_eq!(
            finite_non_negative("nan").unwrap_err(),
            "must be a finite number ≥ 0, got nan"
        );
        assert!(finite_non_negative("-1").unwrap_err().contains("got -1"));
        assert!(finite_non_negative("inf").is_err());
        assert!(finite_positive("0").is_err());
        assert_eq!(finite("-2"), Ok(-2.0));
        assert!(finite("nan").is_err());
        assert!(finite("x")
            .unwrap_err()
            .contains("expected a number, got `x`"));
    }

    #[test]
    fn slurm_values_are_checked() {
        for ok in ["30", "30:00", "12:00:00", "1-12", "1-12:30", "2-00:00:00"] {
            assert!(slurm_time(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1:2:3:4", "a", "1-", "12:00\n#SBATCH --x"] {
            assert!(slurm_time(bad).is_err(), "{bad:?}");
        }
        assert!(slurm_memory("2G").is_ok() && slurm_memory("500").is_ok());
        assert!(slurm_memory("2GG").is_err() && slurm_memory("G").is_err());
        assert!(slurm_partition("gpu,cpu").is_ok());
        assert!(slurm_partition("a b").is_err());
        assert_eq!(unit_pair("7:3"), Ok((7, 3)));
        assert!(unit_pair("7").is_err());
    }
}
