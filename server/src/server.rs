//! A running server: the data directory, the catalog, the listener and its connections.

use std::net::SocketAddr;
use std::sync::Arc;

use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use runnel_engine::{StorageError, Store};
use runnel_sql::{Catalog, SqlError};
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::job::JobManager;
use crate::pgwire::HandlerFactory;
use crate::session::insert_jobs::restart_insert_jobs;
use crate::session::streaming::restart_materialized_views;
use crate::system_catalog::build_session_state;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be opened.
    #[error("cannot open the data directory {dir}: {source}")]
    Store {
        /// The directory.
        dir: std::path::PathBuf,
        /// Why.
        source: StorageError,
    },
    /// The catalog could not be loaded.
    #[error("cannot load the catalog: {0}")]
    Catalog(SqlError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for a shutdown signal failed.
    #[error("cannot wait for shutdown signals: {0}")]
    Signal(std::io::Error),
}

/// A started server.
pub struct Server {
    listener: TcpListener,
    handlers: Arc<HandlerFactory>,
    local_addr: SocketAddr,
}

impl Server {
    /// Opens the data directory, loads the catalog (re-planning views) and binds the listener.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let store = Store::open(&config.data_dir).map_err(|source| ServerError::Store {
            dir: config.data_dir.clone(),
            source,
        })?;
        let store = Arc::new(store);
        let catalog = Catalog::open(store.clone()).map_err(ServerError::Catalog)?;
        let jobs = Arc::new(
            JobManager::default()
                .with_checkpoints(store, config.checkpoint_interval)
                .with_memory_budget(config.state_memory_budget),
        );
        let template = build_session_state(catalog.clone(), jobs.clone())
            .await
            .map_err(ServerError::Catalog)?;
        for (view, error) in catalog.restore_views(&template).await {
            tracing::error!(view, error = %error, "a stored view or table no longer plans; it is unavailable until fixed");
        }
        for (view, error) in restart_materialized_views(&catalog, &jobs, &template).await {
            tracing::error!(view, error = %error, "the job of a materialized view cannot start; the view stays empty until fixed");
        }
        for (job, error) in restart_insert_jobs(&catalog, &jobs, &template).await {
            tracing::error!(job, error = %error, "a stored INSERT job cannot resume");
        }
        let compat = Arc::new(PostgresCompatibilityParser::new());
        let handlers = Arc::new(HandlerFactory::new(template, catalog, jobs, compat));
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        tracing::info!(
            address = %local_addr,
            data_dir = %config.data_dir.display(),
            "Runnel {} listening (PostgreSQL protocol)",
            crate::VERSION
        );
        Ok(Server {
            listener,
            handlers,
            local_addr,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts connections until SIGINT or SIGTERM, then stops accepting and returns. Every
    /// committed change is already durable, so nothing needs flushing.
    pub async fn run_until_shutdown_signal(self) -> Result<(), ServerError> {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(ServerError::Signal)?;
        tokio::select! {
            () = self.accept_loop() => Ok(()),
            result = tokio::signal::ctrl_c() => {
                result.map_err(ServerError::Signal)?;
                tracing::info!("interrupted; shutting down");
                Ok(())
            }
            _ = terminate.recv() => {
                tracing::info!("terminated; shutting down");
                Ok(())
            }
        }
    }

    async fn accept_loop(&self) {
        loop {
            match self.listener.accept().await {
                Ok((socket, peer)) => {
                    let handlers = self.handlers.clone();
                    tokio::spawn(async move {
                        if let Err(error) =
                            pgwire::tokio::process_socket(socket, None, handlers).await
                        {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
