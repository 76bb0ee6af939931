//! A window aggregation's state in its own key space ([`StateSpace`]): state larger than memory,
//! and checkpoints that write only what changed.
//!
//! In memory, an open window holds only the changes since its state last left memory. They
//! leave at every checkpoint barrier, and between barriers when the operators together hold
//! more than the server's memory budget: the window's table becomes state columns (group keys
//! and DataFusion's intermediate aggregate state), split by a hash of the group keys into
//! [`BUCKETS`] buckets, each bucket written as one *run* (an Arrow IPC batch) numbered by a
//! sequence number that grows with every write. A window's state is the merge of its runs; it
//! is read back one bucket at a time when the window fires, so firing a window needs memory
//! for one bucket, not the whole window.
//!
//! A bucket whose runs pile up is compacted when the next run is written: its runs and the new
//! changes are merged into one run covering their sequence numbers (`lo..=hi` in its key), and
//! the runs it replaces are deleted with the next epoch. Until then both exist; a reader takes,
//! from the newest run down, only the runs not covered by one it already took.
//!
//! Durability: runs are written without syncing and belong to an epoch when its checkpoint
//! records the last sequence number written before its barrier (see
//! [`StateSpace`]). Recovery discards every run numbered after the restored epoch's, and a
//! window the restored epoch did not know has its runs discarded before its first write.

use std::collections::{BTreeSet, HashMap};

use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::common::hash_utils::create_hashes_with_hasher;

use super::super::{EventTime, StreamError};
use super::groups::{GroupTable, Tables};
use super::state;
use crate::checkpoint::{StateSpace, StateWriter};

/// Buckets a window's state is split into: firing a window reads one at a time.
pub(super) const BUCKETS: u16 = 64;

/// Runs a bucket may hold before the next write merges them.
const COMPACT_AT: u32 = 16;

/// Seed of the bucket hash (xxHash64: the same on every platform and version, so buckets read
/// back the same after an upgrade or on another machine).
const BUCKET_SEED: u64 = 0x7275_6e73;

type Window = (EventTime, EventTime);

/// The runs of one window-aggregation instance.
pub(super) struct Runs {
    space: StateSpace,
    /// The last sequence number used.
    seq: u64,
    /// The sequence number changed since the last barrier.
    seq_dirty: bool,
    /// Windows with runs in the store.
    stored: BTreeSet<Window>,
    /// Windows whose first runs were written since the last barrier (recorded at the next).
    newly_stored: Vec<Window>,
    /// Windows restored from the last durable epoch (their stale runs were discarded).
    restored: BTreeSet<Window>,
    /// Runs per bucket written by this instance (a restored bucket counts from zero).
    counts: HashMap<(Window, u16), u32>,
    /// Key ranges of runs replaced by merged ones, deleted with the next epoch.
    replaced: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes written since the last barrier.
    written: u64,
    hasher: twox_hash::xxhash64::State,
    hashes: Vec<u64>,
}

impl Runs {
    /// Runs kept in `space`.
    pub fn new(space: StateSpace) -> Self {
        Runs {
            space,
            seq: 0,
            seq_dirty: false,
            stored: BTreeSet::new(),
            newly_stored: Vec::new(),
            restored: BTreeSet::new(),
            counts: HashMap::new(),
            replaced: Vec::new(),
            written: 0,
            hasher: twox_hash::xxhash64::State::with_seed(BUCKET_SEED),
            hashes: Vec::new(),
        }
    }

    /// The key space (with the server's memory budget).
    pub fn space(&self) -> &StateSpace {
        &self.space
    }

    /// Whether `window` has runs in the store.
    pub fn is_stored(&self, window: Window) -> bool {
        self.stored.contains(&window)
    }

    /// After a restore: the epoch included runs up to `seq`, of `windows`; runs written after
    /// it (by the instance that crashed) are discarded.
    pub fn restore(
        &mut self,
        seq: u64,
        windows: impl IntoIterator<Item = Window>,
    ) -> Result<(), StreamError> {
        self.seq = seq;
        for window in windows {
            for bucket in 0..BUCKETS {
                let end = if bucket + 1 < BUCKETS {
                    self.space
                        .absolute(&state::run_bucket_prefix(window, bucket + 1))
                } else {
                    self.space.absolute_end(&state::run_window_prefix(window))
                };
                let start = self.space.absolute(&state::run_after(window, bucket, seq));
                self.space.discard_absolute(&start, &end)?;
            }
            self.stored.insert(window);
            self.restored.insert(window);
        }
        Ok(())
    }

    /// Writes the state columns of a window's table (changes not yet in the store) as one run
    /// per bucket they touch.
    pub fn write(
        &mut self,
        tables: &Tables,
        window: Window,
        columns: Vec<ArrayRef>,
    ) -> Result<(), StreamError> {
        let rows = columns.first().map_or(0, |c| c.len());
        if rows == 0 {
            return Ok(());
        }
        if !self.stored.contains(&window) {
            if !self.restored.contains(&window) {
                // Runs of this window left by a crashed instance belong to no durable epoch.
                let prefix = state::run_window_prefix(window);
                let end = self.space.absolute_end(&prefix);
                let start = self.space.absolute(&prefix);
                self.space.discard_absolute(&start, &end)?;
            }
            self.stored.insert(window);
            self.newly_stored.push(window);
        }
        self.seq += 1;
        self.seq_dirty = true;
        let seq = self.seq;
        for (bucket, part) in self.partition(tables.keys(), &columns, rows)? {
            let count = self.counts.entry((window, bucket)).or_insert(0);
            if *count + 1 >= COMPACT_AT {
                *count = 1;
                let mut merged = tables.fresh()?;
                let lo = self
                    .read_bucket(tables, window, bucket, &mut merged)?
                    .unwrap_or(seq);
                let part_rows = part.first().map_or(0, |c| c.len());
                tables.merge(&mut merged, &part, part_rows)?;
                let key = state::run_key(window, bucket, seq, lo);
                self.put(&key, merged.take_state()?)?;
                self.replaced.push((
                    self.space
                        .absolute(&state::run_bucket_prefix(window, bucket)),
                    self.space.absolute(&key),
                ));
            } else {
                *count += 1;
                self.put(&state::run_key(window, bucket, seq, seq), part)?;
            }
        }
        Ok(())
    }

    /// Merges the state of one bucket of `window` into `table`; returns the lowest sequence
    /// number it covers, `None` when the bucket has no runs.
    pub fn read_bucket(
        &self,
        tables: &Tables,
        window: Window,
        bucket: u16,
        table: &mut GroupTable,
    ) -> Result<Option<u64>, StreamError> {
        let mut runs: Vec<(u64, u64, Vec<u8>)> = Vec::new();
        self.space
            .scan(&state::run_bucket_prefix(window, bucket), |key, value| {
                let (hi, lo) = state::parse_run_key(key)?;
                runs.push((hi, lo, value.to_vec()));
                Ok(())
            })?;
        // Newest first; a run covered by a merged run taken before it is skipped.
        let mut covered_from = u64::MAX;
        let mut lowest = None;
        for (hi, lo, value) in runs.into_iter().rev() {
            if hi >= covered_from {
                continue;
            }
            covered_from = lo;
            lowest = Some(lo);
            let (columns, rows) = state::decode_columns(&value)?;
            tables.merge(table, &columns, rows)?;
        }
        Ok(lowest)
    }

    /// `window` fired: its runs leave the store with the next epoch.
    pub fn forget(&mut self, window: Window, writer: &mut StateWriter) {
        if self.stored.remove(&window) {
            let prefix = state::run_window_prefix(window);
            writer.delete_range_at(
                self.space.absolute(&prefix),
                self.space.absolute_end(&prefix),
            );
        }
        self.restored.remove(&window);
        self.counts.retain(|(w, _), _| *w != window);
        self.newly_stored.retain(|w| *w != window);
    }

    /// At a barrier, after every table was written: what the epoch records of the runs.
    pub fn checkpoint(&mut self, writer: &mut StateWriter) {
        for window in self.newly_stored.drain(..) {
            writer.put(&state::window_key(window), Vec::new());
        }
        for (from, to) in self.replaced.drain(..) {
            writer.delete_range_at(from, to);
        }
        if std::mem::take(&mut self.seq_dirty) {
            writer.put(state::RUN_SEQ_KEY, self.seq.to_be_bytes().to_vec());
        }
        writer.wrote(std::mem::take(&mut self.written));
    }

    fn put(&mut self, key: &[u8], columns: Vec<ArrayRef>) -> Result<(), StreamError> {
        let value = state::encode_columns(columns)?;
        self.written += (key.len() + value.len()) as u64;
        self.space.put(key, &value)
    }

    /// The rows of state columns by bucket (hash of the group keys; bucket 0 without keys).
    fn partition(
        &mut self,
        keys: usize,
        columns: &[ArrayRef],
        rows: usize,
    ) -> Result<Vec<(u16, Vec<ArrayRef>)>, StreamError> {
        if keys == 0 {
            return Ok(vec![(0, columns.to_vec())]);
        }
        self.hashes.clear();
        self.hashes.resize(rows, 0);
        create_hashes_with_hasher(&columns[..keys], &self.hasher, &mut self.hashes)?;
        let mut counts = [0u32; BUCKETS as usize + 1];
        for hash in &self.hashes {
            counts[(hash % BUCKETS as u64) as usize + 1] += 1;
        }
        for bucket in 1..counts.len() {
            counts[bucket] += counts[bucket - 1];
        }
        let mut next = counts;
        let mut order = vec![0u32; rows];
        for (row, hash) in self.hashes.iter().enumerate() {
            let bucket = (hash % BUCKETS as u64) as usize;
            order[next[bucket] as usize] = row as u32;
            next[bucket] += 1;
        }
        let order = UInt32Array::from(order);
        let mut parts = Vec::new();
        for bucket in 0..BUCKETS as usize {
            let (from, to) = (counts[bucket] as usize, counts[bucket + 1] as usize);
            if from == to {
                continue;
            }
            let indices = order.slice(from, to - from);
            let part = columns
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<Result<Vec<_>, _>>()?;
            parts.push((bucket as u16, part));
        }
        Ok(parts)
    }
}
