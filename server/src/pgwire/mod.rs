//! The PostgreSQL wire protocol, on the `pgwire` crate.
//!
//! [`HandlerFactory`] hands `pgwire` Runnel's handlers: [`startup`] (parameters, trust on
//! loopback, the session), [`query`] (simple and extended query protocols), [`cancel`] (cancel
//! requests), with results encoded by [`encode`] and errors by [`error`].

pub mod cancel;
pub mod encode;
pub mod error;
pub mod query;
pub mod startup;
pub mod text;

use std::sync::Arc;

use datafusion::execution::SessionState;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ErrorHandler, PgWireServerHandlers};
use pgwire::error::PgWireError;
use runnel_sql::Catalog;

use crate::job::JobManager;
use crate::session::Session;

/// The per-connection [`Session`], kept in `pgwire`'s session extensions.
#[derive(Clone)]
pub struct SessionHandle(pub Arc<Session>);

/// Builds sessions for new connections and shares the handlers between them.
pub struct HandlerFactory {
    query: Arc<query::QueryHandler>,
    startup: Arc<startup::Startup>,
    cancel: Arc<cancel::Cancel>,
}

impl HandlerFactory {
    /// Handlers over the server's template session state, catalog and jobs.
    pub fn new(
        template: SessionState,
        catalog: Arc<Catalog>,
        jobs: Arc<JobManager>,
        compat: Arc<PostgresCompatibilityParser>,
    ) -> Self {
        let registry = Arc::new(cancel::SessionRegistry::default());
        HandlerFactory {
            query: Arc::new(query::QueryHandler::new()),
            startup: Arc::new(startup::Startup::new(
                template,
                catalog,
                jobs,
                compat,
                registry.clone(),
            )),
            cancel: Arc::new(cancel::Cancel::new(registry)),
        }
    }
}

impl PgWireServerHandlers for HandlerFactory {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.query.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.query.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

/// Logs protocol-level errors at debug level (statement errors are the client's business).
struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        tracing::debug!(peer = %client.socket_addr(), %error, "error sent to client");
    }
}
