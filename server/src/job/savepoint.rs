//! Savepoints: a stopped job's state at its last checkpoint, written out of the store into a
//! directory of its own, from which the same pipeline SQL can start again (after an upgrade of
//! the binary, on another server).
//!
//! A savepoint is a directory `savepoint-<job>-<epoch>-<millis>` with two files:
//! - `_metadata`: JSON [`SavepointMeta`]: the savepoint format version, the state layout version
//!   ([`STATE_VERSION`]), the epoch, the job's shape (parallelism, source splits), its
//!   statement and its operator plan (what `EXPLAIN` shows);
//! - `state`: every state entry of the job (split positions, operator state, the job's metadata),
//!   keys relative to the job's key space: `u32` key length, key, `u64` value length, value
//!   (big-endian), then a `u64` entry count.
//!
//! The directory is written under a temporary name, synced, then renamed: a savepoint exists
//! completely or not at all. The sink's own state is left out: the job stopped only after its
//! sink committed the last epoch.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use runnel_engine::checkpoint::{FROM_SAVEPOINT, JobKey, STATE_VERSION};
use runnel_engine::{Store, StoreWrite};
use serde::{Deserialize, Serialize};

/// Version of the savepoint directory's layout.
pub const FORMAT_VERSION: u32 = 1;

/// What a savepoint's `_metadata` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavepointMeta {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The state layout version ([`STATE_VERSION`]) of the writer.
    pub state_version: u32,
    /// The epoch the job stopped at.
    pub epoch: u64,
    /// The statement of the job.
    pub sql: String,
    /// The job's operator plan; a job resumes from the savepoint only with the same plan.
    pub plan: String,
    /// The Runnel version that wrote it.
    pub runnel_version: String,
}

/// Why a savepoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SavepointError {
    /// A file of the savepoint could not be written or read.
    #[error("savepoint {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The savepoint is not one this Runnel can read.
    #[error("savepoint {path}: {reason}")]
    Invalid {
        /// The savepoint directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store could not be read or written.
    #[error("savepoint: {0}")]
    Store(#[from] runnel_engine::StorageError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SavepointError + '_ {
    move |source| SavepointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the state of job `key` (stopped at `epoch`) into a new savepoint under `dir`;
/// returns the savepoint's directory.
pub fn write(
    store: &Store,
    key: &JobKey,
    dir: &Path,
    name: &str,
    meta: &SavepointMeta,
) -> Result<PathBuf, SavepointError> {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = store
        .state_entries(key.prefix())?
        .into_iter()
        .filter(|(key, _)| key.first() != Some(&b'k'))
        .collect();
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let final_dir = dir.join(format!("savepoint-{name}-{}-{millis}", meta.epoch));
    let temporary = dir.join(format!(".savepoint-{name}-{}-{millis}.tmp", meta.epoch));
    std::fs::create_dir_all(&temporary).map_err(io(&temporary))?;
    let state_path = temporary.join("state");
    let file = File::create(&state_path).map_err(io(&state_path))?;
    let mut out = BufWriter::new(file);
    for (key, value) in &entries {
        out.write_all(&(key.len() as u32).to_be_bytes())
            .and_then(|()| out.write_all(key))
            .and_then(|()| out.write_all(&(value.len() as u64).to_be_bytes()))
            .and_then(|()| out.write_all(value))
            .map_err(io(&state_path))?;
    }
    out.write_all(&(entries.len() as u64).to_be_bytes())
        .map_err(io(&state_path))?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .map_err(io(&state_path))?;
    file.sync_all().map_err(io(&state_path))?;
    let meta_path = temporary.join("_metadata");
    let json = serde_json::to_vec_pretty(meta).map_err(|e| SavepointError::Invalid {
        path: meta_path.clone(),
        reason: e.to_string(),
    })?;
    let mut file = File::create(&meta_path).map_err(io(&meta_path))?;
    file.write_all(&json).map_err(io(&meta_path))?;
    file.sync_all().map_err(io(&meta_path))?;
    std::fs::rename(&temporary, &final_dir).map_err(io(&final_dir))?;
    if let Ok(parent) = File::open(dir) {
        let _ = parent.sync_all();
    }
    Ok(final_dir)
}

/// Reads the savepoint at `path`: its metadata and its state entries.
#[allow(clippy::type_complexity)]
pub fn read(path: &Path) -> Result<(SavepointMeta, Vec<(Vec<u8>, Vec<u8>)>), SavepointError> {
    let invalid = |reason: String| SavepointError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let meta_path = path.join("_metadata");
    let bytes = std::fs::read(&meta_path).map_err(io(&meta_path))?;
    let meta: SavepointMeta =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("unreadable metadata: {e}")))?;
    if meta.format != FORMAT_VERSION || meta.state_version != STATE_VERSION {
        return Err(invalid(format!(
            "written in savepoint format {} with state layout {}; this Runnel reads format {FORMAT_VERSION}, layout {STATE_VERSION}",
            meta.format, meta.state_version
        )));
    }
    let state_path = path.join("state");
    let mut input = BufReader::new(File::open(&state_path).map_err(io(&state_path))?);
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(io(&state_path))?;
    let truncated = || invalid("the state file is truncated".to_string());
    let mut entries = Vec::new();
    let mut at = 0usize;
    let take = |at: &mut usize, len: usize| -> Option<&[u8]> {
        let slice = bytes.get(*at..at.checked_add(len)?)?;
        *at += len;
        Some(slice)
    };
    loop {
        if bytes.len() - at == 8 {
            let count = u64::from_be_bytes(
                take(&mut at, 8)
                    .ok_or_else(truncated)?
                    .try_into()
                    .map_err(|_| truncated())?,
            );
            if count != entries.len() as u64 {
                return Err(truncated());
            }
            return Ok((meta, entries));
        }
        let key_len = u32::from_be_bytes(
            take(&mut at, 4)
                .ok_or_else(truncated)?
                .try_into()
                .map_err(|_| truncated())?,
        );
        let key = take(&mut at, key_len as usize)
            .ok_or_else(truncated)?
            .to_vec();
        let value_len = u64::from_be_bytes(
            take(&mut at, 8)
                .ok_or_else(truncated)?
                .try_into()
                .map_err(|_| truncated())?,
        );
        let value_len = usize::try_from(value_len).map_err(|_| truncated())?;
        let value = take(&mut at, value_len).ok_or_else(truncated)?.to_vec();
        entries.push((key, value));
    }
}

/// Puts a savepoint's `entries` into `write` as the state of job `key` (whose key space must
/// be empty), marked as resumed from a savepoint for the sink.
pub fn restore_into(write: &mut StoreWrite, key: &JobKey, entries: Vec<(Vec<u8>, Vec<u8>)>) {
    for (relative, value) in entries {
        write.put_state([key.prefix(), relative.as_slice()].concat(), value);
    }
    write.put_state([key.sink().as_slice(), FROM_SAVEPOINT].concat(), Vec::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_savepoint_reads_back_what_was_written_and_refuses_damage() {
        let temp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&temp.path().join("data")).expect("store");
        let key = JobKey::new("insert:1");
        let mut batch = StoreWrite::default();
        batch.put_state(key.meta(), b"{}".to_vec());
        batch.put_state(key.source(0), b"position".to_vec());
        batch.put_state([key.operators(), b"x".to_vec()].concat(), vec![0; 1000]);
        batch.put_state([key.sink(), b"e1".to_vec()].concat(), b"kept".to_vec());
        batch.put_state(JobKey::new("insert:2").meta(), b"other".to_vec());
        store.commit(batch).expect("commit");
        let meta = SavepointMeta {
            format: FORMAT_VERSION,
            state_version: STATE_VERSION,
            epoch: 7,
            sql: "INSERT INTO t SELECT * FROM s".into(),
            plan: "plan".into(),
            runnel_version: "test".into(),
        };
        let dir = temp.path().join("savepoints");
        let path = write(&store, &key, &dir, "1", &meta).expect("write");
        let (read_meta, entries) = read(&path).expect("read");
        assert_eq!(read_meta, meta);
        // The job's entries, not another job's, and not the sink's.
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().all(|(k, _)| k[0] != b'k'));
        assert!(entries.iter().any(|(_, v)| v == b"position"));

        let state = path.join("state");
        let bytes = std::fs::read(&state).expect("state");
        std::fs::write(&state, &bytes[..bytes.len() - 3]).expect("truncate");
        let error = read(&path).expect_err("truncated");
        assert!(error.to_string().contains("truncated"), "{error}");

        let mut old = meta.clone();
        old.format = 99;
        std::fs::write(
            path.join("_metadata"),
            serde_json::to_vec(&old).expect("json"),
        )
        .expect("metadata");
        let error = read(&path).expect_err("format");
        assert!(error.to_string().contains("savepoint format 99"), "{error}");
    }
}
