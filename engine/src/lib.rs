//! Runnel's runtime.
//!
//! The engine owns everything that runs and everything that is durable: the RocksDB store of a
//! server's data directory ([`storage`]), the tables kept in it ([`table`]), and the streaming
//! runtime's messages, watermarks and operators ([`stream`]). Barriers and checkpoints of
//! DESIGN.md plug in here as they arrive.
//!
//! It knows nothing of SQL text or of the Postgres protocol: the `sql` crate decides *what* to
//! store and run, the engine decides *how*.

pub mod storage;
pub mod stream;
pub mod table;

pub use storage::{StorageError, Store, StoreWrite};
pub use table::DurableTable;
