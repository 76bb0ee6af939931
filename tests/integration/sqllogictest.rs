//! The `.slt` conformance suite in `sqllogictest/`, run against a real server over pgwire.

use crate::harness::{TestServer, repo_root};

#[tokio::test]
async fn slt_suite() {
    let server = TestServer::start().await;
    let files = runnel_sqllogictest::slt_files(&repo_root().join("sqllogictest").join("slt"));
    assert!(!files.is_empty(), "no .slt files found");
    if let Err(error) = runnel_sqllogictest::run_files("127.0.0.1", server.port, &files).await {
        panic!("{error}");
    }
}
