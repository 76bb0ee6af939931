//! The progress line `runnel run` keeps on stderr while jobs run, when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::job::{JobCounters, progress as job_progress};

/// Shows progress until dropped.
pub struct ProgressLine {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: ProgressBar,
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}

/// Starts the progress line for `jobs` (nothing happens when stderr is not a terminal).
pub fn start(jobs: Vec<(String, Arc<JobCounters>)>) -> ProgressLine {
    if !std::io::stderr().is_terminal() || jobs.is_empty() {
        return ProgressLine {
            task: None,
            bar: ProgressBar::hidden(),
        };
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            let mut parts = Vec::new();
            for (name, counters) in &jobs {
                let p = job_progress(counters);
                let watermark = match p.watermark {
                    Some(i64::MAX) => "end".to_string(),
                    Some(ms) => chrono::DateTime::from_timestamp_millis(ms)
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
                        .unwrap_or_else(|| ms.to_string()),
                    None => "-".to_string(),
                };
                parts.push(format!(
                    "{name}: in {} out {} late {} skipped {} watermark {watermark}",
                    p.rows_in, p.rows_out, p.late_rows, p.malformed_skipped
                ));
            }
            shown.set_message(parts.join(" | "));
            shown.tick();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    ProgressLine {
        task: Some(task),
        bar,
    }
}
