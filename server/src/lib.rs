//! The Runnel server: everything between a client and the engine.
//!
//! - [`config`] and [`cli`]: how a server is configured (flags, environment, a TOML file) and
//!   the `runnel` command line;
//! - [`server`]: opening the data directory, accepting connections, shutting down cleanly;
//! - [`system_catalog`]: the DataFusion session every connection starts from, with the user
//!   catalog, `pg_catalog` and `information_schema`;
//! - [`session`]: one client's state (settings, transaction block) and the execution of its
//!   statements;
//! - [`job`]: streaming jobs, a planned query running as tasks from source splits to a sink;
//! - [`pipeline`]: `runnel run` and `runnel check` over pipeline files;
//! - [`pgwire`]: the PostgreSQL wire protocol on top of the `pgwire` crate: startup, simple and
//!   extended query protocols, result encoding, errors, cancel requests.

pub mod bench;
pub mod cli;
pub mod config;
pub mod job;
pub mod pgwire;
pub mod pipeline;
pub mod server;
pub mod session;
pub mod system_catalog;

pub use config::ServerConfig;
pub use server::Server;

/// Runnel's version, as reported by `version()` and `runnel --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The PostgreSQL version Runnel presents to clients (`server_version`). Clients pick their
/// catalog queries by it; 16 is what the `pg_catalog` emulation follows.
pub const PG_SERVER_VERSION: &str = "16.6";
