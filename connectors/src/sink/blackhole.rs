//! The `blackhole` sink: discards every row (for measuring a query without output costs).

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use runnel_engine::stream::StreamError;
use runnel_engine::stream::sink::SinkWriter;

/// Discards rows.
#[derive(Debug, Default)]
pub struct BlackholeSink;

#[async_trait]
impl SinkWriter for BlackholeSink {
    async fn write(&mut self, _batch: RecordBatch) -> Result<(), StreamError> {
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    #[tokio::test]
    async fn rows_are_discarded() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1, 2]))])
            .expect("batch");
        let mut sink = BlackholeSink;
        sink.write(batch).await.expect("write");
        sink.on_watermark(5).await.expect("watermark");
        sink.finish().await.expect("finish");
    }
}
