//! The durable store of one server: one RocksDB instance per data directory.
//!
//! Everything Runnel must not lose lives here, in column families by concept:
//! - `catalog`: catalog objects, opaque bytes keyed by object name (the `sql` crate owns their
//!   encoding), plus a few counters;
//! - `table_data`: the rows of durable tables, as Arrow IPC segments keyed by
//!   `(table id, segment sequence)`;
//! - `state`: what streaming jobs checkpoint (operator state, source positions, materialized-view
//!   rows), keyed by job (see [`crate::checkpoint`]).
//!
//! A change that must be all-or-nothing (an `INSERT`, a `DROP TABLE` with its data) is collected
//! in a [`StoreWrite`] and applied by [`Store::commit`] as one synced RocksDB write batch: after a
//! crash either all of it is there or none of it.

mod codec;
mod error;

use std::path::{Path, PathBuf};

use datafusion::arrow::record_batch::RecordBatch;
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};

pub use error::StorageError;

/// Encodes an Arrow schema in the store's format (an Arrow IPC schema message), for catalog
/// entries that must describe data independently of SQL re-planning.
pub fn encode_schema(
    schema: &datafusion::arrow::datatypes::Schema,
) -> Result<Vec<u8>, StorageError> {
    codec::encode_schema(schema)
}

/// Encodes batches sharing one schema as one Arrow IPC stream (checkpointed operator state).
pub fn encode_state_batches(batches: &[RecordBatch]) -> Result<Vec<u8>, StorageError> {
    codec::encode_batches(batches)
}

/// Decodes batches written by [`encode_state_batches`].
pub fn decode_state_batches(bytes: &[u8]) -> Result<Vec<RecordBatch>, StorageError> {
    codec::decode_batches(bytes)
}

/// Decodes a schema written by [`encode_schema`].
pub fn decode_schema(
    bytes: &[u8],
) -> Result<datafusion::arrow::datatypes::SchemaRef, StorageError> {
    codec::decode_schema(bytes)
}

const CF_CATALOG: &str = "catalog";
const CF_TABLE_DATA: &str = "table_data";
const CF_STATE: &str = "state";

/// The most write-ahead log kept before RocksDB flushes the column families that hold the
/// oldest of it (it bounds what a restart replays).
const MAX_TOTAL_WAL_SIZE: u64 = 128 << 20;

/// Prefix of catalog-object keys in the `catalog` column family.
const OBJECT_PREFIX: &[u8] = b"object/";
/// Prefix of counters and other metadata in the `catalog` column family.
const META_PREFIX: &[u8] = b"meta/";

/// Version of the on-disk layout, stored at `meta/layout_version`; a server refuses to open a
/// data directory written by a layout it does not know.
pub const LAYOUT_VERSION: u64 = 1;

/// The RocksDB store of a data directory. Cheap to share behind an `Arc`; RocksDB itself is
/// thread-safe.
pub struct Store {
    db: DB,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store under `dir/store`.
    ///
    /// Fails with [`StorageError::Locked`] when another process already has the directory open,
    /// and with [`StorageError::UnknownLayout`] when the directory was written by an
    /// incompatible layout version.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        let path = dir.join("store");
        std::fs::create_dir_all(&path).map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // Window state is written between checkpoints at a high rate while the catalog's
        // column families change rarely: without a cap, their small unflushed memtables keep
        // every write-ahead log alive, and a restart replays all of them. Past the cap RocksDB
        // flushes the column families holding the oldest log, so recovery replays little.
        options.set_max_total_wal_size(MAX_TOTAL_WAL_SIZE);
        let families = [CF_CATALOG, CF_TABLE_DATA, CF_STATE]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, &path, families)
            .map_err(|e| StorageError::from_open(&path, e))?;
        let store = Store { db, path };
        store.check_layout_version()?;
        Ok(store)
    }

    /// The directory RocksDB writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_layout_version(&self) -> Result<(), StorageError> {
        match self.meta_u64("layout_version")? {
            Some(LAYOUT_VERSION) => Ok(()),
            Some(found) => Err(StorageError::UnknownLayout {
                found,
                expected: LAYOUT_VERSION,
            }),
            None => {
                let mut write = StoreWrite::default();
                write.put_meta_u64("layout_version", LAYOUT_VERSION);
                self.commit(write)
            }
        }
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db
            .cf_handle(name)
            .ok_or(StorageError::MissingColumnFamily(name))
    }

    /// All catalog objects, as `(name, encoded object)` in name order.
    pub fn catalog_objects(&self) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let mut objects = Vec::new();
        for (name, value) in self.prefixed(CF_CATALOG, OBJECT_PREFIX)? {
            let name = String::from_utf8(name)
                .map_err(|_| StorageError::Corrupt("catalog key is not UTF-8".into()))?;
            objects.push((name, value));
        }
        Ok(objects)
    }

    /// Reads a counter or other integer kept in the catalog's metadata.
    pub fn meta_u64(&self, key: &str) -> Result<Option<u64>, StorageError> {
        let cf = self.cf(CF_CATALOG)?;
        match self.db.get_cf(cf, meta_key(key))? {
            None => Ok(None),
            Some(bytes) => {
                let array: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                    StorageError::Corrupt(format!("metadata value {key} is not a u64"))
                })?;
                Ok(Some(u64::from_be_bytes(array)))
            }
        }
    }

    /// Reads every segment of a table, in insertion order, and the next free segment sequence.
    pub fn table_segments(&self, table_id: u64) -> Result<(Vec<RecordBatch>, u64), StorageError> {
        let cf = self.cf(CF_TABLE_DATA)?;
        let prefix = table_id.to_be_bytes();
        let mut batches = Vec::new();
        let mut next_seq = 0;
        let iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(&prefix, Direction::Forward));
        for item in iter {
            let (key, value) = item?;
            let Some((id, seq)) = codec::decode_segment_key(&key) else {
                return Err(StorageError::Corrupt(
                    "table segment key has a bad length".into(),
                ));
            };
            if id != table_id {
                break;
            }
            batches.extend(codec::decode_batches(&value)?);
            next_seq = seq + 1;
        }
        Ok((batches, next_seq))
    }

    /// Every `(key, value)` of the `state` column family whose key starts with `prefix`, in key
    /// order, with the prefix removed from the keys.
    pub fn state_entries(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, StorageError> {
        self.prefixed(CF_STATE, prefix)
    }

    /// Every `(key, value)` of column family `cf` whose key starts with `prefix`, in key order,
    /// with the prefix removed from the keys.
    fn prefixed(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<KeyValue>, StorageError> {
        let cf = self.cf(cf)?;
        let mut entries = Vec::new();
        let iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(prefix, Direction::Forward));
        for item in iter {
            let (key, value) = item?;
            let Some(rest) = key.strip_prefix(prefix) else {
                break;
            };
            entries.push((rest.to_vec(), value.to_vec()));
        }
        Ok(entries)
    }

    /// Calls `visit` with every `(key, value)` of the `state` column family whose key starts
    /// with `prefix`, in key order (keys whole), without collecting them: state read on demand
    /// by an operator whose state does not fit in memory.
    pub fn state_scan<E: From<StorageError>>(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let cf = self.cf(CF_STATE)?;
        let iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(prefix, Direction::Forward));
        for item in iter {
            let (key, value) = item.map_err(StorageError::from)?;
            if !key.starts_with(prefix) {
                break;
            }
            visit(&key, &value)?;
        }
        Ok(())
    }

    /// Stores `value` at `key` in the `state` column family without syncing the WAL. Such a
    /// write is durable once a later [`Store::commit`] returns (a synced write syncs the WAL up
    /// to itself); until then a crash may lose it, so only state that a later checkpoint
    /// declares may be written this way.
    pub fn state_put_unsynced(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let cf = self.cf(CF_STATE)?;
        let mut options = WriteOptions::default();
        options.set_sync(false);
        self.db.put_cf_opt(cf, key, value, &options)?;
        Ok(())
    }

    /// Removes the keys in `[from, to)` of the `state` column family without syncing the WAL
    /// (state no durable epoch refers to).
    pub fn state_delete_range_unsynced(&self, from: &[u8], to: &[u8]) -> Result<(), StorageError> {
        let cf = self.cf(CF_STATE)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, from, to);
        self.db.write(batch)?;
        Ok(())
    }

    /// The value of `key` in the `state` column family.
    pub fn state_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let cf = self.cf(CF_STATE)?;
        Ok(self.db.get_cf(cf, key)?)
    }

    /// Applies every change of `write` atomically and durably (the WAL is synced before this
    /// returns).
    pub fn commit(&self, write: StoreWrite) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        let catalog = self.cf(CF_CATALOG)?;
        let data = self.cf(CF_TABLE_DATA)?;
        let state = self.cf(CF_STATE)?;
        for op in write.ops {
            match op {
                WriteOp::PutCatalog(key, value) => batch.put_cf(catalog, key, value),
                WriteOp::DeleteCatalog(key) => batch.delete_cf(catalog, key),
                WriteOp::PutSegment(key, value) => batch.put_cf(data, key, value),
                WriteOp::ClearTable(table_id) => {
                    let from = codec::segment_key(table_id, 0).to_vec();
                    let to = match table_id.checked_add(1) {
                        Some(next) => codec::segment_key(next, 0).to_vec(),
                        None => vec![0xff; 17],
                    };
                    batch.delete_range_cf(data, from, to);
                }
                WriteOp::PutState(key, value) => batch.put_cf(state, key, value),
                WriteOp::DeleteState(key) => batch.delete_cf(state, key),
                WriteOp::DeleteStatePrefix(prefix) => {
                    let to = prefix_end(&prefix);
                    batch.delete_range_cf(state, prefix, to);
                }
                WriteOp::DeleteStateRange(from, to) => batch.delete_range_cf(state, from, to),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options)?;
        Ok(())
    }
}

/// A key and its value, as stored.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A set of changes applied all-or-nothing by [`Store::commit`].
#[derive(Default)]
pub struct StoreWrite {
    ops: Vec<WriteOp>,
}

enum WriteOp {
    PutCatalog(Vec<u8>, Vec<u8>),
    DeleteCatalog(Vec<u8>),
    PutSegment([u8; 16], Vec<u8>),
    ClearTable(u64),
    PutState(Vec<u8>, Vec<u8>),
    DeleteState(Vec<u8>),
    DeleteStatePrefix(Vec<u8>),
    DeleteStateRange(Vec<u8>, Vec<u8>),
}

impl StoreWrite {
    /// Stores (or replaces) the encoded catalog object `name`.
    pub fn put_catalog_object(&mut self, name: &str, encoded: Vec<u8>) {
        self.ops
            .push(WriteOp::PutCatalog(object_key(name), encoded));
    }

    /// Removes the catalog object `name`.
    pub fn delete_catalog_object(&mut self, name: &str) {
        self.ops.push(WriteOp::DeleteCatalog(object_key(name)));
    }

    /// Sets a counter or other integer in the catalog's metadata.
    pub fn put_meta_u64(&mut self, key: &str, value: u64) {
        self.ops.push(WriteOp::PutCatalog(
            meta_key(key),
            value.to_be_bytes().to_vec(),
        ));
    }

    /// Appends `batches` to table `table_id` as segment `seq` (one IPC stream).
    pub fn append_segment(
        &mut self,
        table_id: u64,
        seq: u64,
        batches: &[RecordBatch],
    ) -> Result<(), StorageError> {
        let value = codec::encode_batches(batches)?;
        self.ops.push(WriteOp::PutSegment(
            codec::segment_key(table_id, seq),
            value,
        ));
        Ok(())
    }

    /// Deletes every segment of table `table_id`.
    pub fn clear_table(&mut self, table_id: u64) {
        self.ops.push(WriteOp::ClearTable(table_id));
    }

    /// Stores (or replaces) `key` in the `state` column family.
    pub fn put_state(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(WriteOp::PutState(key, value));
    }

    /// Removes `key` from the `state` column family.
    pub fn delete_state(&mut self, key: Vec<u8>) {
        self.ops.push(WriteOp::DeleteState(key));
    }

    /// Removes every key of the `state` column family that starts with `prefix`.
    pub fn delete_state_prefix(&mut self, prefix: Vec<u8>) {
        self.ops.push(WriteOp::DeleteStatePrefix(prefix));
    }

    /// Removes the keys in `[from, to)` of the `state` column family.
    pub fn delete_state_range(&mut self, from: Vec<u8>, to: Vec<u8>) {
        self.ops.push(WriteOp::DeleteStateRange(from, to));
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The smallest key above every key starting with `prefix` (for a range delete).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // The prefix is all 0xff (or empty): everything after it.
    vec![0xff; prefix.len() + 1]
}

fn object_key(name: &str) -> Vec<u8> {
    [OBJECT_PREFIX, name.as_bytes()].concat()
}

fn meta_key(key: &str) -> Vec<u8> {
    [META_PREFIX, key.as_bytes()].concat()
}

#[cfg(test)]
mod tests;
