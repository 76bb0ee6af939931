//! Real client programs against the server: psql (meta-commands), Python drivers (psycopg 3,
//! SQLAlchemy, asyncpg). `.ci/run` installs them; a missing client fails the test.

use std::process::Command;

use crate::harness::{TestServer, repo_root};

fn run(program: &str, args: &[&str], port: u16) {
    let output = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .env("RUNNEL_PORT", port.to_string())
        .env("RUNNEL_HOST", "127.0.0.1")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (install it with the README's set-up command): {e}")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{program} {args:?} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

#[tokio::test]
async fn psql_smoke_test() {
    let server = TestServer::start().await;
    run("bash", &["tests/psql/smoke.sh"], server.port);
}

#[tokio::test]
async fn python_clients() {
    let server = TestServer::start().await;
    run(
        "python3",
        &[
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/python",
        ],
        server.port,
    );
}
