//! Hash partitioning of a stream across the parallel instances of a keyed operator.

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, UInt32Array};
use datafusion::arrow::compute::{take, take_record_batch};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::physical_plan::PhysicalExpr;

use super::{StreamBatch, StreamError};

/// Splits batches by the hash of key expressions. The hash is seeded with a constant, so the
/// same key goes to the same instance in every run (restored state must meet its keys again).
pub struct HashPartitioner {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    partitions: usize,
    random_state: RandomState,
    hashes: Vec<u64>,
    indices: Vec<Vec<u32>>,
}

impl std::fmt::Debug for HashPartitioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPartitioner")
            .field("keys", &self.keys)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl HashPartitioner {
    /// A partitioner over `partitions` (at least 1) instances.
    pub fn new(keys: Vec<Arc<dyn PhysicalExpr>>, partitions: usize) -> Self {
        let partitions = partitions.max(1);
        HashPartitioner {
            keys,
            partitions,
            random_state: RandomState::with_seed(0x52_75_6e_6e_65_6c),
            hashes: Vec::new(),
            indices: vec![Vec::new(); partitions],
        }
    }

    /// Splits `batch`; returns `(partition, rows)` for every partition that gets rows, in
    /// partition order. Rows keep their relative order within a partition.
    pub fn partition(
        &mut self,
        batch: StreamBatch,
    ) -> Result<Vec<(usize, StreamBatch)>, StreamError> {
        if self.partitions == 1 || batch.num_rows() == 0 {
            return Ok(vec![(0, batch)]);
        }
        let rows = batch.num_rows();
        let keys = self
            .keys
            .iter()
            .map(|k| k.evaluate(&batch.data)?.into_array(rows))
            .collect::<Result<Vec<_>, _>>()?;
        self.hashes.clear();
        self.hashes.resize(rows, 0);
        create_hashes(&keys, &self.random_state, &mut self.hashes)?;
        for list in &mut self.indices {
            list.clear();
        }
        for (row, hash) in self.hashes.iter().enumerate() {
            self.indices[(*hash % self.partitions as u64) as usize].push(row as u32);
        }
        let mut out = Vec::new();
        for (partition, list) in self.indices.iter_mut().enumerate() {
            if list.is_empty() {
                continue;
            }
            let indices = UInt32Array::from(std::mem::take(list));
            let data = take_record_batch(&batch.data, &indices)?;
            let arrival = take(&batch.arrival_watermark, &indices, None)?;
            let arrival = arrival
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .ok_or_else(|| StreamError::Internal("arrival watermarks".into()))?;
            out.push((partition, StreamBatch::new(data, arrival)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::Column;

    #[test]
    fn equal_keys_meet_in_one_partition_in_order() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Utf8, true)]));
        let keys: Vec<&str> = (0..200).map(|i| ["a", "b", "c", "d", "e"][i % 5]).collect();
        let data =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(keys))]).expect("batch");
        let arrival = Int64Array::from_iter_values(0..200);
        let mut partitioner = HashPartitioner::new(vec![Arc::new(Column::new("k", 0))], 3);
        let parts = partitioner
            .partition(StreamBatch::new(data, arrival).expect("batch"))
            .expect("partition");
        let mut seen = std::collections::HashMap::new();
        let mut total = 0;
        for (partition, batch) in &parts {
            total += batch.num_rows();
            let keys = batch.data.column(0).as_string::<i32>();
            for row in 0..batch.num_rows() {
                let previous = seen.insert(keys.value(row).to_string(), *partition);
                assert!(
                    previous.is_none_or(|p| p == *partition),
                    "key split across partitions"
                );
            }
            let arrival = batch.arrival_watermark.values();
            assert!(arrival.windows(2).all(|w| w[0] < w[1]), "order kept");
        }
        assert_eq!(total, 200);
        assert!(
            parts.len() > 1,
            "5 keys over 3 partitions use more than one"
        );
    }
}
