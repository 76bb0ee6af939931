//! Runnel's runtime.
//!
//! The engine owns everything that runs and everything that is durable: the RocksDB store of a
//! server's data directory ([`storage`]), the tables kept in it ([`table`]), and the streaming
//! runtime's messages, watermarks and operators ([`stream`]), and the barriers, checkpoints
//! and recovery that make jobs durable ([`checkpoint`]).
//!
//! It knows nothing of SQL text or of the Postgres protocol: the `sql` crate decides *what* to
//! store and run, the engine decides *how*.

pub mod checkpoint;
pub mod failpoint;
pub mod storage;
pub mod stream;
pub mod table;

pub use storage::{StorageError, Store, StoreWrite};
pub use table::DurableTable;
