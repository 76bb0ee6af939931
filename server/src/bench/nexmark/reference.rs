//! The events in memory for DataFusion: the reference computations (the correctness check's
//! second way, and the batch upper bound the throughput table compares with).

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use runnel_connectors::nexmark::{self, MAX_BLOCK};
use runnel_connectors::options::Options;
use runnel_sql::streaming::StreamTable;

use super::suite::{BASE_TIME, REFERENCE_VIEWS, Workload};

/// A DataFusion session holding the events of a workload as the table `nexmark` (its physical
/// columns and `datetime`) and the views `person`, `auction`, `bid`.
pub struct Events {
    ctx: SessionContext,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

fn base_time_millis() -> Result<i64, String> {
    chrono::NaiveDateTime::parse_from_str(BASE_TIME, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|e| e.to_string())
}

impl Events {
    /// Generates the workload's events, in `partitions` partitions (DataFusion's
    /// parallelism).
    pub async fn generate(workload: &Workload, partitions: usize) -> Result<Self, String> {
        let partitions = partitions.max(1);
        let config = SessionConfig::new().with_target_partitions(partitions);
        let ctx = SessionContext::new_with_config(config);
        let create = workload.create_table()?;
        let def = runnel_sql::flink::parse_create_table(&create).map_err(|e| e.message)?;
        let table = StreamTable::bind(def, create.clone(), &ctx.state()).map_err(|e| e.message)?;
        let mut options = Options::new("nexmark", table.options());
        options.string("connector");
        let nexmark = nexmark::parse_options(&mut options, &table.physical_schema)
            .map_err(|e| e.to_string())?;
        let base_time = base_time_millis()?;
        let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
        let mut first = 0;
        let mut block = 0;
        while first < workload.events {
            let rows = (workload.events - first).min(MAX_BLOCK);
            let batch = nexmark::generate(&nexmark, base_time, first, rows as usize)
                .map_err(|e| e.to_string())?;
            parts[block % partitions].push(batch);
            first += rows;
            block += 1;
        }
        let raw =
            MemTable::try_new(table.physical_schema.clone(), parts).map_err(|e| e.to_string())?;
        ctx.register_table("nexmark_events", Arc::new(raw))
            .map_err(|e| e.to_string())?;
        let statements = [
            "CREATE TABLE nexmark AS SELECT *, CASE WHEN event_type = 0 THEN person.datetime \
             WHEN event_type = 1 THEN auction.datetime ELSE bid.datetime END AS datetime \
             FROM nexmark_events"
                .to_string(),
            "DROP TABLE nexmark_events".to_string(),
        ];
        for statement in statements
            .iter()
            .map(String::as_str)
            .chain(split(REFERENCE_VIEWS))
        {
            ctx.sql(statement)
                .await
                .map_err(|e| e.to_string())?
                .collect()
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(Events { ctx })
    }

    /// The rows of `sql`.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        self.ctx
            .sql(sql)
            .await
            .map_err(|e| e.to_string())?
            .collect()
            .await
            .map_err(|e| e.to_string())
    }

    /// How long `sql` takes, its output consumed and dropped as it comes (nothing kept).
    pub async fn time(&self, sql: &str) -> Result<Duration, String> {
        let start = Instant::now();
        let frame = self.ctx.sql(sql).await.map_err(|e| e.to_string())?;
        let streams = frame
            .execute_stream_partitioned()
            .await
            .map_err(|e| e.to_string())?;
        let drains = streams.into_iter().map(|mut stream| {
            tokio::spawn(async move {
                while let Some(batch) = stream.next().await {
                    batch.map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        });
        for drain in futures::future::join_all(drains).await {
            drain.map_err(|e| e.to_string())??;
        }
        Ok(start.elapsed())
    }
}

/// The statements of a file of `;`-separated statements.
fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(';').map(str::trim).filter(|s| {
        !s.lines()
            .all(|l| l.trim().is_empty() || l.trim().starts_with("--"))
    })
}
