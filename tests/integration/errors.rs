//! Bad statements: the right SQLSTATE, a message, a position; the session stays usable.

use tokio_postgres::error::{ErrorPosition, SqlState};

use crate::harness::{TestServer, db_error, simple_rows};

fn position(error: &tokio_postgres::Error) -> Option<u32> {
    match db_error(error).position() {
        Some(ErrorPosition::Original(p)) => Some(*p),
        _ => None,
    }
}

#[tokio::test]
async fn syntax_error_has_42601_and_position_then_session_works() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let error = client
        .simple_query("SELEC 1")
        .await
        .expect_err("syntax error");
    assert_eq!(error.code(), Some(&SqlState::SYNTAX_ERROR));
    assert_eq!(position(&error), Some(1));
    assert!(
        db_error(&error).message().contains("SELEC"),
        "{}",
        db_error(&error).message()
    );
    assert_eq!(
        simple_rows(&client, "SELECT 1").await,
        vec![vec![Some("1".to_string())]]
    );
    // The position counts characters of the whole string, across statements.
    let error = client
        .simple_query("SELECT 1; SELECT * FROM t WHERE")
        .await
        .expect_err("syntax error");
    assert_eq!(error.code(), Some(&SqlState::SYNTAX_ERROR));
    assert!(position(&error).is_some_and(|p| p > 10));
    // Same through the extended protocol.
    let error = client.prepare("SELEC 1").await.expect_err("syntax error");
    assert_eq!(error.code(), Some(&SqlState::SYNTAX_ERROR));
    assert_eq!(position(&error), Some(1));
    assert_eq!(
        client
            .query_one("SELECT 2", &[])
            .await
            .expect("works")
            .get::<_, i64>(0),
        2
    );
}

#[tokio::test]
async fn unknown_table_and_column() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let error = client
        .simple_query("SELECT * FROM nowhere")
        .await
        .expect_err("unknown table");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE));
    assert_eq!(
        db_error(&error).message(),
        "relation \"nowhere\" does not exist"
    );
    assert_eq!(position(&error), Some(15));
    client
        .batch_execute("CREATE TABLE t (id INT)")
        .await
        .expect("create");
    let error = client
        .simple_query("SELECT nope FROM t")
        .await
        .expect_err("unknown column");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_COLUMN));
    assert_eq!(position(&error), Some(8));
    let error = client
        .query("SELECT id FROM missing WHERE id = $1", &[&1i32])
        .await
        .expect_err("extended");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE));
    assert_eq!(
        simple_rows(&client, "SELECT COUNT(*) FROM t").await,
        vec![vec![Some("0".to_string())]]
    );
}

#[tokio::test]
async fn type_errors_and_runtime_errors() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let error = client
        .simple_query("SELECT 1 + 'a'::text")
        .await
        .expect_err("type error");
    let code = error.code().cloned().expect("code");
    assert!(
        code == SqlState::UNDEFINED_FUNCTION || code == SqlState::DATATYPE_MISMATCH,
        "type error code was {code:?}"
    );
    let error = client
        .simple_query("SELECT CAST('abc' AS INT)")
        .await
        .expect_err("cast error");
    assert_eq!(error.code(), Some(&SqlState::INVALID_TEXT_REPRESENTATION));
    let error = client
        .simple_query("SELECT 1 / 0")
        .await
        .expect_err("division by zero");
    assert_eq!(error.code(), Some(&SqlState::DIVISION_BY_ZERO));
    let error = client
        .simple_query("SELECT no_such_function(1)")
        .await
        .expect_err("unknown function");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_FUNCTION));
    assert_eq!(
        simple_rows(&client, "SELECT 'still here'").await,
        vec![vec![Some("still here".to_string())]]
    );
}

#[tokio::test]
async fn catalog_errors() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT); CREATE VIEW v AS SELECT id FROM t")
        .await
        .expect("setup");
    let error = client
        .simple_query("CREATE TABLE t (x INT)")
        .await
        .expect_err("duplicate");
    assert_eq!(error.code(), Some(&SqlState::DUPLICATE_TABLE));
    let error = client
        .simple_query("DROP TABLE v")
        .await
        .expect_err("wrong kind");
    assert_eq!(error.code(), Some(&SqlState::WRONG_OBJECT_TYPE));
    let error = client
        .simple_query("DROP TABLE t")
        .await
        .expect_err("dependent view");
    assert_eq!(error.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));
    let error = client
        .simple_query("DROP TABLE nope")
        .await
        .expect_err("missing");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE));
    client
        .batch_execute("DROP TABLE IF EXISTS nope")
        .await
        .expect("if exists");
    let error = client
        .simple_query("CREATE TABLE k (id INT PRIMARY KEY)")
        .await
        .expect_err("unenforced constraint refused");
    assert_eq!(error.code(), Some(&SqlState::FEATURE_NOT_SUPPORTED));
    let error = client
        .simple_query("CREATE TABLE other.t (id INT)")
        .await
        .expect_err("schema");
    assert_eq!(error.code(), Some(&SqlState::INVALID_SCHEMA_NAME));
    client
        .batch_execute("DROP TABLE t CASCADE")
        .await
        .expect("cascade");
    assert!(simple_rows(&client, "SHOW TABLES").await.is_empty());
}
