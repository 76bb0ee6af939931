//! The results as a Markdown table and as JSON.

use serde::Serialize;

/// One query at one parallelism.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The query (`q0`, `q5-window`, ...).
    pub query: String,
    /// Parallel instances.
    pub parallelism: usize,
    /// Events generated.
    pub events: u64,
    /// `ok`, `unsupported` or `failed`.
    pub status: String,
    /// Why the query did not run (the planner's error) or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Wall time of the run, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Events per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_per_second: Option<f64>,
    /// CPU cores the run kept busy on average (CPU time / wall time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<f64>,
    /// Events per second per busy core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_per_second_per_core: Option<f64>,
    /// Peak resident memory, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_mib: Option<f64>,
    /// The correctness check: `pass (<rows> rows)`, `FAIL: ...`, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// DataFusion's batch query over the same events in memory, events per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_events_per_second: Option<f64>,
}

/// `12.3 M`, `456 K`, `789`.
pub fn rate(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.0} K", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn cell(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_string())
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| query | p | events | events/s | events/s per core | cores | wall s | peak MiB | check | DataFusion batch events/s | note |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let note = match (&row.status[..], &row.reason) {
            ("ok", _) => String::new(),
            (status, Some(reason)) => format!("{status}: {}", reason.replace('|', "\\|")),
            (status, None) => status.to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.query,
            row.parallelism,
            rate(row.events as f64),
            cell(row.events_per_second.map(rate)),
            cell(row.events_per_second_per_core.map(rate)),
            cell(row.cores.map(|c| format!("{c:.2}"))),
            cell(row.seconds.map(|s| format!("{s:.2}"))),
            cell(row.peak_memory_mib.map(|m| format!("{m:.0}"))),
            cell(row.check.clone()),
            cell(row.reference_events_per_second.map(rate)),
            note,
        ));
    }
    out
}

/// The rows as JSON.
pub fn json(rows: &[Row]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
