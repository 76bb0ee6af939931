//! Starting and stopping a real `runnel serve` process.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// A `runnel serve` child process on a free port, with its own data directory.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    _temp: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl TestServer {
    /// Starts a server with a new, empty data directory.
    pub async fn start() -> TestServer {
        TestServer::start_with_env(&[]).await
    }

    /// Starts a server with a new, empty data directory and these environment variables.
    pub async fn start_with_env(env: &[(&str, &str)]) -> TestServer {
        let temp = tempfile::tempdir().expect("tempdir");
        let data_dir = temp.path().join("data");
        let mut server = TestServer {
            child: None,
            port: 0,
            data_dir,
            env: Vec::new(),
            _temp: Some(temp),
        };
        server.set_env(env);
        server.spawn().await;
        server
    }

    /// The environment variables of the next start (replacing the earlier ones).
    pub fn set_env(&mut self, env: &[(&str, &str)]) {
        self.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    /// Waits up to `timeout` for the server to exit by itself; its exit status when it did.
    pub async fn exited_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => {
                    self.child = None;
                    return Some(status);
                }
                None | Some(Err(_)) => return None,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        None
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    async fn spawn(&mut self) {
        self.port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_runnel"))
            .args(["serve", "--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env("RUNNEL_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn runnel");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("runnel exited during startup: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "runnel did not start listening within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("runnel did not stop on SIGTERM within 20 s");
        }
    }

    /// Kills the server with SIGKILL (a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again over the same data directory.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Starts the server again after [`TestServer::kill`].
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    /// A tokio-postgres connection as user `runnel` to database `runnel`.
    pub async fn connect(&self) -> Client {
        self.connect_as("runnel", "runnel").await.expect("connect")
    }

    pub async fn connect_as(
        &self,
        user: &str,
        database: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        let config = format!(
            "host=127.0.0.1 port={} user={user} dbname={database}",
            self.port
        );
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The rows of a simple-protocol query as text (None for NULL).
pub async fn simple_rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}: {:?}", e.as_db_error().map(|d| d.message())));
    messages
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Runs `sql` (simple protocol), expects it to fail with `code`, and returns the error.
pub async fn expect_sqlstate(
    client: &tokio_postgres::Client,
    sql: &str,
    code: tokio_postgres::error::SqlState,
) -> tokio_postgres::Error {
    let error = client.simple_query(sql).await.map(|_| ()).expect_err(sql);
    assert_eq!(error.code(), Some(&code), "{sql}: {error}");
    error
}

/// The server-side error of a failed statement.
pub fn db_error(error: &tokio_postgres::Error) -> &tokio_postgres::error::DbError {
    error
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {error}"))
}

/// The workspace root (for scripts and fixture folders).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}
