//! Cancel requests: a second connection names a session by process id and secret key; its
//! running statement is cancelled (`57014`), the session stays open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;

use crate::session::{Session, lock};

/// Live sessions by backend process id.
#[derive(Default)]
pub struct SessionRegistry {
    sessions: Mutex<HashMap<i32, (Bytes, Weak<Session>)>>,
}

impl SessionRegistry {
    /// Registers `session` under `pid`/`key`; the entry goes away when the guard is dropped.
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        key: &SecretKey,
        session: &Arc<Session>,
    ) -> RegistrationGuard {
        lock(&self.sessions).insert(pid, (key.to_bytes(), Arc::downgrade(session)));
        RegistrationGuard {
            pid,
            registry: Arc::downgrade(self),
        }
    }

    fn find(&self, pid: i32, key: &SecretKey) -> Option<Arc<Session>> {
        let sessions = lock(&self.sessions);
        let (stored_key, session) = sessions.get(&pid)?;
        (*stored_key == key.to_bytes())
            .then(|| session.upgrade())
            .flatten()
    }
}

/// Removes a session from the registry when its connection ends.
pub struct RegistrationGuard {
    pid: i32,
    registry: Weak<SessionRegistry>,
}

impl Drop for RegistrationGuard {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            lock(&registry.sessions).remove(&self.pid);
        }
    }
}

/// The cancel handler.
pub struct Cancel {
    registry: Arc<SessionRegistry>,
}

impl Cancel {
    /// A handler over the live sessions.
    pub fn new(registry: Arc<SessionRegistry>) -> Self {
        Cancel { registry }
    }
}

#[async_trait]
impl CancelHandler for Cancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        match self.registry.find(request.pid, &request.secret_key) {
            Some(session) => {
                tracing::info!(pid = request.pid, "cancel request");
                session.cancel_running_statement();
            }
            None => tracing::debug!(
                pid = request.pid,
                "cancel request for an unknown session ignored"
            ),
        }
    }
}
