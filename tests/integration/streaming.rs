//! The streaming `.slt` suite (`sqllogictest/streaming/`), run through the pipeline executor
//! that `runnel run` uses, at parallelism 1 and 4: results must not depend on it. Data paths
//! in the files are written `__DATA__/...` and point at `sqllogictest/streaming/data`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;
use runnel_server::pipeline::{Mode, Pipeline};
use runnel_sql::SqlError;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

use crate::harness::repo_root;

/// Collects a query's batches.
struct Collect(Arc<Mutex<Vec<RecordBatch>>>);

#[async_trait]
impl SinkWriter for Collect {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), StreamError> {
        self.0.lock().expect("lock").push(batch);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
}

struct PipelineDb {
    pipeline: Pipeline,
    data: String,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

fn format_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .zip(batch.columns())
                    .map(|(f, column)| {
                        let text = f.value(row).to_string();
                        if matches!(column.data_type(), DataType::Utf8)
                            && !column.is_null(row)
                            && text.is_empty()
                        {
                            "(empty)".to_string()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

#[async_trait]
impl AsyncDB for PipelineDb {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let sql = sql.replace("__DATA__", &self.data);
        let collected: Arc<Mutex<Vec<RecordBatch>>> = Arc::default();
        let columns: Arc<Mutex<Option<usize>>> = Arc::default();
        let sink = collected.clone();
        let seen = columns.clone();
        let mut results = move |schema: &SchemaRef| -> Result<Box<dyn SinkWriter>, SqlError> {
            *seen.lock().expect("lock") = Some(schema.fields().len());
            Ok(Box::new(Collect(sink.clone())))
        };
        let errors = self.pipeline.execute(&sql, &mut results).await;
        if let Some(error) = errors.into_iter().next() {
            let error = error.error;
            return Err(DbError(format!(
                "{}: {}",
                error.state.code(),
                error.message
            )));
        }
        self.pipeline
            .finish()
            .await
            .map_err(|e| DbError(format!("{}: {}", e.state.code(), e.message)))?;
        let columns = *columns.lock().expect("lock");
        match columns {
            Some(count) => {
                let batches = collected.lock().expect("lock").clone();
                Ok(DBOutput::Rows {
                    types: vec![DefaultColumnType::Any; count],
                    rows: format_rows(&batches),
                })
            }
            None => Ok(DBOutput::StatementComplete(0)),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "runnel-pipeline"
    }

    async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    async fn run_command(command: std::process::Command) -> std::io::Result<std::process::Output> {
        tokio::process::Command::from(command).output().await
    }
}

async fn run_suite(parallelism: usize) {
    let dir = repo_root().join("sqllogictest").join("streaming");
    let data = dir.join("data").display().to_string();
    let files = runnel_sqllogictest::slt_files(&dir);
    assert!(!files.is_empty(), "no streaming .slt files");
    for file in files {
        let data = data.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let data = data.clone();
            async move {
                Ok(PipelineDb {
                    pipeline: Pipeline::new(Mode::Run, parallelism),
                    data,
                })
            }
        });
        if let Err(error) = runner.run_file_async(&file).await {
            panic!("{} at parallelism {parallelism}:\n{error}", file.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_suite_at_parallelism_1() {
    run_suite(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_suite_at_parallelism_4() {
    run_suite(4).await;
}
