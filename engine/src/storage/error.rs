use std::path::{Path, PathBuf};

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Another process (usually another `runnel serve`) holds the data directory.
    #[error(
        "the data directory {path} is in use by another Runnel process (RocksDB lock held); stop it or choose another --data-dir"
    )]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The data directory was written by an incompatible version of Runnel.
    #[error(
        "the data directory uses storage layout version {found}; this Runnel reads version {expected}"
    )]
    UnknownLayout {
        /// Layout version found on disk.
        found: u64,
        /// Layout version this build writes.
        expected: u64,
    },
    /// A file-system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// RocksDB reported an error.
    #[error("storage error: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Encoding or decoding Arrow data failed.
    #[error("storage encoding error: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Bytes on disk do not have the expected shape.
    #[error("corrupt data in the store: {0}")]
    Corrupt(String),
    /// A column family the layout requires is missing.
    #[error("the store has no column family {0}")]
    MissingColumnFamily(&'static str),
}

impl StorageError {
    pub(super) fn from_open(path: &Path, error: rocksdb::Error) -> Self {
        let message = error.to_string();
        if message.contains("lock") || message.contains("Resource temporarily unavailable") {
            StorageError::Locked {
                path: path.to_path_buf(),
            }
        } else {
            StorageError::Rocks(error)
        }
    }
}
