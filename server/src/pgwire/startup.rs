//! Connection startup: protocol negotiation, trust on loopback, the default database, the
//! parameters clients expect, and the session.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::SessionState;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use futures::Sink;
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, METADATA_DATABASE, METADATA_USER, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use runnel_sql::{Catalog, DATABASE};

use super::SessionHandle;
use super::cancel::SessionRegistry;
use super::error::fatal;
use crate::job::JobManager;
use crate::session::Session;
use crate::system_catalog::DEFAULT_USER;

/// Startup parameters that are connection metadata, not settings.
const NOT_SETTINGS: &[&str] = &["user", "database", "options", "replication"];

/// The startup handler.
pub struct Startup {
    template: SessionState,
    catalog: Arc<Catalog>,
    jobs: Arc<JobManager>,
    compat: Arc<PostgresCompatibilityParser>,
    registry: Arc<SessionRegistry>,
    pids: RandomPidSecretKeyGenerator,
}

impl Startup {
    /// A handler creating sessions over `template`.
    pub fn new(
        template: SessionState,
        catalog: Arc<Catalog>,
        jobs: Arc<JobManager>,
        compat: Arc<PostgresCompatibilityParser>,
        registry: Arc<SessionRegistry>,
    ) -> Self {
        Startup {
            template,
            catalog,
            jobs,
            compat,
            registry,
            pids: RandomPidSecretKeyGenerator::default(),
        }
    }
}

/// `ParameterStatus` values sent after authentication, from the session's settings.
struct SessionParameters {
    values: HashMap<String, String>,
}

impl ServerParameterProvider for SessionParameters {
    fn server_parameters<C>(&self, _client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        Some(self.values.clone())
    }
}

const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
];

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(startup) = message else {
            // Runnel asks for no password yet, so no other startup message is expected.
            return Err(fatal("08P01", "unexpected message during startup"));
        };
        protocol_negotiation(client, &startup).await?;
        save_startup_parameters_to_metadata(client, &startup);

        if !client.socket_addr().ip().is_loopback() {
            return Err(fatal(
                "28000",
                format!(
                    "connection from {} refused: Runnel trusts only loopback connections until password authentication exists",
                    client.socket_addr().ip()
                ),
            ));
        }
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_else(|| DEFAULT_USER.to_string());
        let database = client
            .metadata()
            .get(METADATA_DATABASE)
            .cloned()
            .unwrap_or_else(|| user.clone());
        if database != DATABASE {
            return Err(fatal(
                "3D000",
                format!("database \"{database}\" does not exist"),
            ));
        }

        let session = Arc::new(Session::new(
            &self.template,
            self.catalog.clone(),
            self.jobs.clone(),
            self.compat.clone(),
        ));
        {
            let mut settings = session.settings();
            for (name, value) in &startup.parameters {
                if NOT_SETTINGS.contains(&name.as_str()) {
                    continue;
                }
                if let Err(error) = settings.set(name, value) {
                    tracing::debug!(parameter = %name, %error, "startup parameter ignored");
                }
            }
            let _ = settings.set("session_authorization", &user);
        }
        let (pid, key) = self.pids.generate(client);
        client.set_pid_and_secret_key(pid, key.clone());
        let guard = self.registry.register(pid, &key, &session);
        client.session_extensions().insert(guard);
        client
            .session_extensions()
            .insert(SessionHandle(session.clone()));

        let values = {
            let settings = session.settings();
            REPORTED
                .iter()
                .filter_map(|name| settings.get(name).ok().map(|v| (name.to_string(), v)))
                .collect()
        };
        finish_authentication(client, &SessionParameters { values }).await?;
        tracing::debug!(peer = %client.socket_addr(), %user, pid, "session started");
        Ok(())
    }
}
