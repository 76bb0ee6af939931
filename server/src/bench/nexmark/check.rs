//! The correctness check: a query's streaming results must equal the same query computed a
//! second way, by DataFusion over the materialized events with the window logic written out
//! in plain SQL. Rows are compared as sorted lists of their printed values.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;
use runnel_sql::SqlError;

use super::reference::Events;
use super::suite::{Query, Workload};
use crate::pipeline::{Mode, Pipeline, report};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Both ways gave these many rows, the same.
    Same(usize),
    /// They differ; the reason says how.
    Different(String),
    /// The query has no reference computation.
    NoReference,
}

/// Collects a query's rows.
struct Collector(Arc<Mutex<Vec<RecordBatch>>>);

#[async_trait]
impl SinkWriter for Collector {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        self.0
            .lock()
            .map_err(|_| StreamError::Internal("collector poisoned".into()))?
            .push(batch);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
}

/// Plans `query` as `runnel check` would: the first error, rendered, if it does not plan.
pub async fn plan_error(query: &Query, workload: &Workload) -> Option<String> {
    let text = workload.pipeline(query);
    let mut pipeline = Pipeline::new(Mode::Check, 1);
    let mut ignore = |_: &SchemaRef| -> Result<Box<dyn SinkWriter>, SqlError> {
        Ok(Box::new(Collector(Arc::default())))
    };
    let errors = pipeline.execute(&text, &mut ignore).await;
    errors
        .into_iter()
        .next()
        .map(|e| first_line(&report::render(query.name, &text, &e.error)))
}

/// The message part of a rendered error (`q3:70:1: <message> [SQLSTATE ...]`).
fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or(rendered);
    let mut parts = line.splitn(4, ':');
    let (_, _, _, message) = (parts.next(), parts.next(), parts.next(), parts.next());
    message.map_or(line, str::trim).to_string()
}

/// Runs `query` (one that plans: see [`plan_error`]) as a streaming query over `workload` at
/// `parallelism` and compares its rows with the reference computation over `events`.
pub async fn check(
    query: &Query,
    workload: &Workload,
    parallelism: usize,
    events: &Events,
) -> Verdict {
    let Some(reference) = query.reference else {
        return Verdict::NoReference;
    };
    let text = match workload.select_pipeline(query) {
        Ok(text) => text,
        Err(error) => return Verdict::Different(error),
    };
    let rows = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = Pipeline::new(Mode::Run, parallelism);
    let collected = rows.clone();
    let mut results = move |_: &SchemaRef| -> Result<Box<dyn SinkWriter>, SqlError> {
        Ok(Box::new(Collector(collected.clone())))
    };
    let errors = pipeline.execute(&text, &mut results).await;
    if let Some(error) = errors.into_iter().next() {
        return Verdict::Different(format!(
            "the streaming query failed: {}",
            error.error.message
        ));
    }
    if let Err(error) = pipeline.finish().await {
        return Verdict::Different(format!("the streaming query failed: {}", error.message));
    }
    let streamed = match rows.lock() {
        Ok(rows) => rows.clone(),
        Err(_) => return Verdict::Different("collector poisoned".into()),
    };
    let streamed = match query.streamed_summary {
        Some(summary) => match summarize(streamed, summary).await {
            Ok(summary) => summary,
            Err(error) => {
                return Verdict::Different(format!("the streamed rows' summary failed: {error}"));
            }
        },
        None => streamed,
    };
    let expected = match events.query(reference).await {
        Ok(batches) => batches,
        Err(error) => return Verdict::Different(format!("the reference query failed: {error}")),
    };
    compare(&rows_of(&streamed), &rows_of(&expected))
}

/// The rows of `summary`, SQL over `batches` as the table `streamed`.
async fn summarize(batches: Vec<RecordBatch>, summary: &str) -> Result<Vec<RecordBatch>, String> {
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Ok(Vec::new());
    };
    let ctx = SessionContext::new();
    let table = MemTable::try_new(schema, vec![batches]).map_err(|e| e.to_string())?;
    ctx.register_table("streamed", Arc::new(table))
        .map_err(|e| e.to_string())?;
    ctx.sql(summary)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())
}

/// The rows of `batches` printed, one string per row, sorted.
pub fn rows_of(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter<'_>> = match batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect()
        {
            Ok(formatters) => formatters,
            Err(error) => {
                rows.push(format!("<unprintable: {error}>"));
                continue;
            }
        };
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(cells.join(" | "));
        }
    }
    rows.sort_unstable();
    rows
}

/// Same rows, or how they differ (counts, and the first rows only one side has).
pub fn compare(streamed: &[String], expected: &[String]) -> Verdict {
    if streamed == expected {
        return Verdict::Same(streamed.len());
    }
    // Both are sorted: walk them together for the first rows only one side has.
    let (mut i, mut j) = (0, 0);
    let (mut only_streamed, mut only_expected) = (Vec::new(), Vec::new());
    while (i < streamed.len() || j < expected.len())
        && (only_streamed.len() < 3 || only_expected.len() < 3)
    {
        match (streamed.get(i), expected.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                only_streamed.push(a.clone());
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                only_expected.push(b.clone());
                j += 1;
            }
            (Some(a), None) => {
                only_streamed.push(a.clone());
                i += 1;
            }
            (None, None) => break,
        }
    }
    only_streamed.truncate(3);
    only_expected.truncate(3);
    Verdict::Different(format!(
        "{} rows streamed, {} expected; only streamed: {:?}; only expected: {:?}",
        streamed.len(),
        expected.len(),
        only_streamed,
        only_expected
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn equal_rows_pass_and_any_difference_is_shown() {
        assert_eq!(
            compare(&rows(&["a", "b"]), &rows(&["a", "b"])),
            Verdict::Same(2)
        );
        let Verdict::Different(reason) = compare(&rows(&["a", "b", "b"]), &rows(&["a", "b", "c"]))
        else {
            panic!("a duplicate and a missing row must differ");
        };
        assert!(reason.contains("3 rows streamed, 3 expected"), "{reason}");
        assert!(reason.contains("only streamed: [\"b\"]"), "{reason}");
        assert!(reason.contains("only expected: [\"c\"]"), "{reason}");
        assert!(matches!(
            compare(&rows(&[]), &rows(&["a"])),
            Verdict::Different(_)
        ));
    }
}
