//! One client's session: its settings, its transaction block, and the execution of its
//! statements.
//!
//! A statement goes through [`Session::prepare`] (parse-time work: classify, and plan queries
//! with DataFusion so parameter and result types are known) and [`Session::execute`] (bind
//! parameters, run). The simple query protocol does both at once; the extended protocol splits
//! them over Parse and Execute. Nothing here knows the wire format: results are Arrow streams
//! and command tags, errors are [`SqlError`]s.
//!
//! Transactions have autocommit semantics: every statement is committed when it completes.
//! `BEGIN`/`COMMIT`/`ROLLBACK` are accepted and tracked like PostgreSQL tracks them (so clients
//! see the transaction status they expect, and an error in a block aborts the block until it
//! ends), but `ROLLBACK` cannot undo statements that already ran; it says so with a warning.

mod copy;
mod execute;
pub mod insert_jobs;
mod rewrite;
pub mod settings;
pub mod stop_job;
pub mod streaming;

use std::sync::{Arc, Mutex};

use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use runnel_sql::Catalog;
use tokio_util::sync::CancellationToken;

use crate::job::JobManager;

pub use copy::{CopyFormat, CopyOptions};
use execute::rows;
pub use execute::{Executed, Notice, Outcome, Prepared};
use settings::Settings;

/// Where the session is with respect to a transaction block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionState {
    /// No block: each statement stands alone.
    #[default]
    Idle,
    /// Inside `BEGIN ... COMMIT`.
    Block,
    /// Inside a block in which a statement failed: only `COMMIT`/`ROLLBACK` are accepted.
    Failed,
}

#[derive(Debug, Default)]
struct Transaction {
    state: TransactionState,
    /// Statements that changed data or the catalog inside the current block.
    writes: usize,
}

/// The state of one client connection.
pub struct Session {
    ctx: SessionContext,
    catalog: Arc<Catalog>,
    jobs: Arc<JobManager>,
    compat: Arc<PostgresCompatibilityParser>,
    settings: Mutex<Settings>,
    transaction: Mutex<Transaction>,
    cancel: Mutex<CancellationToken>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// A session over `template` (the server's prepared DataFusion state, cloned so settings
    /// stay per session while the catalog and the jobs are shared).
    pub fn new(
        template: &SessionState,
        catalog: Arc<Catalog>,
        jobs: Arc<JobManager>,
        compat: Arc<PostgresCompatibilityParser>,
    ) -> Self {
        Session {
            ctx: SessionContext::new_with_state(template.clone()),
            catalog,
            jobs,
            compat,
            settings: Mutex::new(Settings::default()),
            transaction: Mutex::new(Transaction::default()),
            cancel: Mutex::new(CancellationToken::new()),
        }
    }

    /// The session's settings.
    pub fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        lock(&self.settings)
    }

    /// The transaction block state.
    pub fn transaction_state(&self) -> TransactionState {
        lock(&self.transaction).state
    }

    /// Records that a statement failed: inside a block, the block is now aborted.
    pub fn on_error(&self) {
        let mut transaction = lock(&self.transaction);
        if transaction.state == TransactionState::Block {
            transaction.state = TransactionState::Failed;
        }
    }

    /// A fresh cancellation token for the statement about to run; a cancel request for this
    /// session cancels it.
    pub fn begin_statement(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *lock(&self.cancel) = token.clone();
        token
    }

    /// Cancels the running statement, if any (a PostgreSQL cancel request).
    pub fn cancel_running_statement(&self) {
        lock(&self.cancel).cancel();
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
