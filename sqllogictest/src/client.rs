//! The sqllogictest database: one pgwire session with a Runnel server.

use std::error::Error as StdError;
use std::fmt;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio::task::JoinHandle;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::format::{OutputBuilder, Response, format_value};

/// Host the CLI connects to unless told otherwise.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Port Runnel's pgwire listener uses by default.
pub const DEFAULT_PORT: u16 = 4566;
/// User name sent in the startup message unless told otherwise.
pub const DEFAULT_USER: &str = "runnel";
/// Database name sent in the startup message unless told otherwise.
pub const DEFAULT_DATABASE: &str = "runnel";

/// Engine name reported to sqllogictest, so `.slt` files can use
/// `onlyif runnel` / `skipif runnel`.
pub const ENGINE_NAME: &str = "runnel";

/// Application name the runner announces, to tell its sessions apart in
/// server logs.
const APPLICATION_NAME: &str = "runnel-slt";

/// How long to wait for the server to accept a connection. Without a limit
/// a server that accepts TCP but never answers would hang the whole run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`AsyncDB::shutdown`] waits for the session to close cleanly.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom to connect.
///
/// No password and no TLS: the runner targets a local test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// Host name or IP address of the server.
    pub host: String,
    /// TCP port of the server's pgwire listener.
    pub port: u16,
    /// User name sent in the startup message.
    pub user: String,
    /// Database name sent in the startup message.
    pub dbname: String,
}

impl ConnectConfig {
    /// Targets `host:port` with the default user and database.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            user: DEFAULT_USER.to_owned(),
            dbname: DEFAULT_DATABASE.to_owned(),
        }
    }
}

impl Default for ConnectConfig {
    /// Targets a Runnel server on its default local address.
    fn default() -> Self {
        Self::new(DEFAULT_HOST, DEFAULT_PORT)
    }
}

impl fmt::Display for ConnectConfig {
    /// Renders as `user@host:port/dbname`, for error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }
}

/// Why a statement could not be run.
///
/// The `Display` text is what `statement error <regex>` and
/// `query error <regex>` records are matched against, so server errors
/// render their severity, SQLSTATE and message, e.g.
/// `db error: ERROR: 42P01: relation "x" does not exist`. The SQLSTATE is
/// also handed to sqllogictest separately, for `error (42P01)` records.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error response.
    #[error(
        "db error: {severity}: {code}: {message}{}",
        details(.detail.as_deref(), .hint.as_deref())
    )]
    Server {
        /// Severity as sent, usually `ERROR` (or `FATAL`).
        severity: String,
        /// Five-character SQLSTATE code, e.g. `42P01`.
        code: String,
        /// Primary message.
        message: String,
        /// Optional `DETAIL` field.
        detail: Option<String>,
        /// Optional `HINT` field.
        hint: Option<String>,
    },
    /// The session could not be established.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// The `user@host:port/dbname` that was tried.
        target: String,
        /// The client library's explanation, with its causes.
        reason: String,
    },
    /// Talking to the server failed for a reason other than an error
    /// response: I/O, a protocol violation, a closed connection.
    #[error("client error: {0}")]
    Client(String),
    /// A statement was issued after [`AsyncDB::shutdown`].
    #[error("connection already shut down")]
    ShutDown,
}

/// Renders the optional `DETAIL` and `HINT` lines the way `psql` does.
fn details(detail: Option<&str>, hint: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(detail) = detail {
        text.push_str("\nDETAIL: ");
        text.push_str(detail);
    }
    if let Some(hint) = hint {
        text.push_str("\nHINT: ");
        text.push_str(hint);
    }
    text
}

/// Renders an error with all its causes, `outer: inner: innermost`.
///
/// `tokio_postgres::Error`'s own text is only a category ("db error",
/// "error communicating with the server"); the useful part is in the causes.
fn describe(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A sqllogictest database: one pgwire session with the server under test.
///
/// Statements go through the simple query protocol, so every value comes
/// back as the text the server prints for it and is compared as such; this
/// tests the server's own output formatting, not a client-side decoding.
pub struct RunnelDb {
    /// `None` once shut down.
    client: Option<tokio_postgres::Client>,
    /// Task driving the socket; ends when the client is dropped.
    connection: Option<JoinHandle<()>>,
    /// Why the socket task stopped, if it failed, to explain later
    /// "connection closed" errors (typically: the server crashed).
    connection_error: Arc<Mutex<Option<String>>>,
}

impl RunnelDb {
    /// Opens a session with the server described by `config`.
    ///
    /// Must be called within a Tokio runtime: the socket is driven by a
    /// spawned task.
    pub async fn connect(config: &ConnectConfig) -> Result<Self, ClientError> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(&config.host)
            .port(config.port)
            .user(&config.user)
            .dbname(&config.dbname)
            .application_name(APPLICATION_NAME)
            .connect_timeout(CONNECT_TIMEOUT);
        let (client, connection) =
            pg.connect(NoTls)
                .await
                .map_err(|error| ClientError::Connect {
                    target: config.to_string(),
                    reason: describe(&error),
                })?;
        let connection_error = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&connection_error);
        let connection = tokio::spawn(async move {
            if let Err(error) = connection.await
                && let Ok(mut slot) = slot.lock()
            {
                *slot = Some(describe(&error));
            }
        });
        Ok(Self {
            client: Some(client),
            connection: Some(connection),
            connection_error,
        })
    }

    /// Converts a client library error, keeping the server's fields.
    fn convert(&self, error: &tokio_postgres::Error) -> ClientError {
        if let Some(db) = error.as_db_error() {
            return ClientError::Server {
                severity: db.severity().to_owned(),
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
                detail: db.detail().map(str::to_owned),
                hint: db.hint().map(str::to_owned),
            };
        }
        let mut text = describe(error);
        let cause = self
            .connection_error
            .lock()
            .ok()
            .and_then(|slot| slot.clone());
        if let Some(cause) = cause.filter(|cause| *cause != text) {
            text.push_str(" (connection failed: ");
            text.push_str(&cause);
            text.push(')');
        }
        ClientError::Client(text)
    }
}

#[async_trait]
impl AsyncDB for RunnelDb {
    type Error = ClientError;
    type ColumnType = DefaultColumnType;

    /// Runs `sql` (possibly several statements) with the simple query
    /// protocol and reports the output of the last statement.
    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let client = self.client.as_ref().ok_or(ClientError::ShutDown)?;
        let messages = client
            .simple_query(sql)
            .await
            .map_err(|error| self.convert(&error))?;
        let mut output = OutputBuilder::new();
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    output.push(Response::Columns(columns.len()));
                }
                SimpleQueryMessage::Row(row) => {
                    let values = (0..row.len())
                        .map(|index| row.try_get(index).map(format_value))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|error| self.convert(&error))?;
                    output.push(Response::Row(values));
                }
                SimpleQueryMessage::CommandComplete(count) => {
                    output.push(Response::Complete(count));
                }
                // Future message kinds carry nothing sqllogictest compares.
                _ => {}
            }
        }
        Ok(output.finish())
    }

    /// Ends the session: sends `Terminate` and waits (briefly) for the
    /// socket task, so the server sees a clean disconnect.
    async fn shutdown(&mut self) {
        drop(self.client.take());
        if let Some(mut connection) = self.connection.take()
            && tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut connection)
                .await
                .is_err()
        {
            connection.abort();
        }
    }

    fn engine_name(&self) -> &str {
        ENGINE_NAME
    }

    /// Sleeps without blocking the runtime (`sleep` records).
    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    /// Runs `system` records without blocking the runtime.
    async fn run_command(command: Command) -> std::io::Result<Output> {
        tokio::process::Command::from(command).output().await
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        match err {
            ClientError::Server { code, .. } => Some(code.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(detail: Option<&str>, hint: Option<&str>) -> ClientError {
        ClientError::Server {
            severity: "ERROR".to_owned(),
            code: "42P01".to_owned(),
            message: "relation \"x\" does not exist".to_owned(),
            detail: detail.map(str::to_owned),
            hint: hint.map(str::to_owned),
        }
    }

    #[test]
    fn server_error_shows_severity_code_and_message() {
        assert_eq!(
            server_error(None, None).to_string(),
            "db error: ERROR: 42P01: relation \"x\" does not exist"
        );
    }

    #[test]
    fn server_error_appends_detail_and_hint() {
        assert_eq!(
            server_error(Some("d"), Some("h")).to_string(),
            "db error: ERROR: 42P01: relation \"x\" does not exist\nDETAIL: d\nHINT: h"
        );
    }

    #[test]
    fn sql_state_is_reported_for_server_errors_only() {
        assert_eq!(
            RunnelDb::error_sql_state(&server_error(None, None)).as_deref(),
            Some("42P01")
        );
        assert_eq!(RunnelDb::error_sql_state(&ClientError::ShutDown), None);
    }

    #[test]
    fn config_defaults_and_display() {
        let config = ConnectConfig::default();
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.to_string(), "runnel@127.0.0.1:4566/runnel");
    }

    #[test]
    fn describe_includes_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(describe(&error), "outer: inner");
    }
}
