//! `history.csv`: one row per evaluation, written and read with the `csv` crate so any stage
//! name (commas, quotes, colons, newlines, unicode) round-trips and `pandas.read_csv` reads it.

use std::path::Path;

use super::{write_atomic, RunDirError};
use crate::train::HistoryRow;

/// The columns, in order.
pub const HISTORY_COLUMNS: [&str; 7] = [
    "iteration",
    "trials_seen",
    "loss",
    "eval_loss",
    "accuracy",
    "stage",
    "seconds",
];

/// history.csv's text for `rows` (a header line, then one line per row).
pub fn history_text(rows: &[HistoryRow]) -> Result<Vec<u8>, csv::Error> {
    // The header is written by hand so an empty history still has one.
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(HISTORY_COLUMNS)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Writes `rows` to `path` atomically.
pub fn write_history(path: &Path, rows: &[HistoryRow]) -> Result<(), RunDirError> {
    let text = history_text(rows).map_err(|e| RunDirError::Malformed {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, &text).map_err(|source| RunDirError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads history.csv; a missing file is an empty history.
pub fn read_history(path: &Path) -> Result<Vec<HistoryRow>, RunDirError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut r = csv::Reader::from_path(path).map_err(|e| RunDirError::Malformed {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let headers = r
        .headers()
        .map_err(|e| RunDirError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
        .clone();
    if headers.iter().ne(HISTORY_COLUMNS) {
        return Err(RunDirError::Malformed {
            path: path.to_path_buf(),
            message: format!(
                "its columns are {}, expected {}",
                headers.iter().collect::<Vec<_>>().join(","),
                HISTORY_COLUMNS.join(",")
            ),
        });
    }
    r.deserialize()
        .enumerate()
        .map(|(k, row)| {
            row.map_err(|e| RunDirError::Malformed {
                path: path.to_path_buf(),
                message: format!("row {}: {e}", k + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stage: &str, accuracy: f64) -> HistoryRow {
        HistoryRow {
            iteration: 10,
            trials_seen: 640,
            loss: 0.25,
            eval_loss: 0.125,
            accuracy,
            stage: stage.into(),
            seconds: 1.5,
        }
    }

    #[test]
    fn odd_stage_names_and_nan_round_trip() {
        let rows = vec![
            row("coh 0.7, easy", 0.5),
            row("coh: 0.3 #hard \"q\" <b>é", f64::NAN),
            row("two\nlines", 1.0),
        ];
        let dir = std::env::temp_dir().join(format!("psychrnn-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.csv");
        write_history(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("iteration,trials_seen,loss,eval_loss,accuracy,stage,seconds\n"));
        assert!(text.contains("\"coh 0.7, easy\""), "{text}");
        let back = read_history(&path).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], rows[0]);
        assert_eq!(back[1].stage, rows[1].stage);
        assert!(back[1].accuracy.is_nan());
        assert_eq!(back[2], rows[2]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_columns_are_named() {
        let dir = std::env::temp_dir().join(format!("psychrnn-history-b-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.csv");
        std::fs::write(&path, "iteration,loss\n1,0.5\n").unwrap();
        let e = read_history(&path).unwrap_err().to_string();
        assert!(
            e.contains("its columns are iteration,loss, expected iteration,trials_seen"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
