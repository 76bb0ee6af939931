//! BEGIN / COMMIT / ROLLBACK with autocommit semantics and PostgreSQL's failed-block rules.

use tokio_postgres::error::SqlState;

use crate::harness::{TestServer, expect_sqlstate, simple_rows};

#[tokio::test]
async fn error_inside_a_block_aborts_it_until_rollback() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT)")
        .await
        .expect("create");
    client.batch_execute("BEGIN").await.expect("begin");
    client
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .expect("insert");
    expect_sqlstate(&client, "SELEC 1", SqlState::SYNTAX_ERROR).await;
    expect_sqlstate(&client, "SELECT 1", SqlState::IN_FAILED_SQL_TRANSACTION).await;
    client.batch_execute("ROLLBACK").await.expect("rollback");
    // Autocommit: the insert was committed when it ran.
    assert_eq!(
        simple_rows(&client, "SELECT COUNT(*) FROM t").await,
        vec![vec![Some("1".to_string())]]
    );
}

#[tokio::test]
async fn commit_of_a_failed_block_reports_rollback() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let messages = client.simple_query("BEGIN").await.expect("begin");
    assert!(!messages.is_empty());
    let _ = client
        .simple_query("SELECT * FROM missing")
        .await
        .expect_err("error");
    // tokio-postgres exposes the command tag only through the row count; check the block ends
    // and the session is usable again.
    client
        .batch_execute("COMMIT")
        .await
        .expect("commit ends the block");
    assert_eq!(
        simple_rows(&client, "SELECT 5").await,
        vec![vec![Some("5".to_string())]]
    );
}

#[tokio::test]
async fn extended_protocol_inside_a_transaction() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .batch_execute("CREATE TABLE e (id INT)")
        .await
        .expect("create");
    let transaction = client.transaction().await.expect("begin");
    transaction
        .execute("INSERT INTO e VALUES ($1)", &[&7i32])
        .await
        .expect("insert");
    let error = transaction
        .query("SELECT * FROM missing", &[])
        .await
        .expect_err("error");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE));
    let error = transaction
        .query("SELECT 1", &[])
        .await
        .expect_err("aborted");
    assert_eq!(error.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    transaction.rollback().await.expect("rollback");
    let row = client
        .query_one("SELECT COUNT(*) FROM e", &[])
        .await
        .expect("count");
    assert_eq!(row.get::<_, i64>(0), 1);
}
