//! Bad statements: the right SQLSTATE, a message, a position; the session stays usable.

use tokio_postgres::error::{ErrorPosition, SqlState};

use crate::harness::{TestServer, db_error, expect_sqlstate, simple_rows};

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
    let error = expect_sqlstate(&client, "SELEC 1", SqlState::SYNTAX_ERROR).await;
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
    let error = expect_sqlstate(
        &client,
        "SELECT 1; SELECT * FROM t WHERE",
        SqlState::SYNTAX_ERROR,
    )
    .await;
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
    let error = expect_sqlstate(&client, "SELECT * FROM nowhere", SqlState::UNDEFINED_TABLE).await;
    assert_eq!(
        db_error(&error).message(),
        "relation \"nowhere\" does not exist"
    );
    assert_eq!(position(&error), Some(15));
    client
        .batch_execute("CREATE TABLE t (id INT)")
        .await
        .expect("create");
    let error = expect_sqlstate(&client, "SELECT nope FROM t", SqlState::UNDEFINED_COLUMN).await;
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
    expect_sqlstate(
        &client,
        "SELECT CAST('abc' AS INT)",
        SqlState::INVALID_TEXT_REPRESENTATION,
    )
    .await;
    expect_sqlstate(&client, "SELECT 1 / 0", SqlState::DIVISION_BY_ZERO).await;
    expect_sqlstate(
        &client,
        "SELECT no_such_function(1)",
        SqlState::UNDEFINED_FUNCTION,
    )
    .await;
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
    expect_sqlstate(&client, "CREATE TABLE t (x INT)", SqlState::DUPLICATE_TABLE).await;
    expect_sqlstate(&client, "DROP TABLE v", SqlState::WRONG_OBJECT_TYPE).await;
    expect_sqlstate(
        &client,
        "DROP TABLE t",
        SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
    )
    .await;
    expect_sqlstate(&client, "DROP TABLE nope", SqlState::UNDEFINED_TABLE).await;
    client
        .batch_execute("DROP TABLE IF EXISTS nope")
        .await
        .expect("if exists");
    expect_sqlstate(
        &client,
        "CREATE TABLE k (id INT PRIMARY KEY)",
        SqlState::FEATURE_NOT_SUPPORTED,
    )
    .await;
    expect_sqlstate(
        &client,
        "CREATE TABLE other.t (id INT)",
        SqlState::INVALID_SCHEMA_NAME,
    )
    .await;
    client
        .batch_execute("DROP TABLE t CASCADE")
        .await
        .expect("cascade");
    assert!(simple_rows(&client, "SHOW TABLES").await.is_empty());
}
