//! The wire protocol with tokio-postgres: simple and extended protocols, text and binary
//! results, type OIDs, parameters, statements and portals, COPY, cancel.

use std::error::Error;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use tokio_postgres::types::{FromSql, Type};

use tokio_postgres::error::SqlState;

use crate::harness::{TestServer, expect_sqlstate, simple_rows};

/// Decodes a binary `interval` as (microseconds, days, months).
#[derive(Debug, PartialEq)]
struct Interval(i64, i32, i32);

impl<'a> FromSql<'a> for Interval {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let micros = i64::from_be_bytes(raw[0..8].try_into()?);
        let days = i32::from_be_bytes(raw[8..12].try_into()?);
        let months = i32::from_be_bytes(raw[12..16].try_into()?);
        Ok(Interval(micros, days, months))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

const TYPES_QUERY: &str = "SELECT CAST(1 AS SMALLINT) AS i2, CAST(2 AS INT) AS i4, CAST(3 AS BIGINT) AS i8, \
     CAST(1.5 AS REAL) AS f4, CAST(2.25 AS DOUBLE PRECISION) AS f8, CAST(12.34 AS NUMERIC(10,2)) AS num, \
     'héllo' AS txt, CAST('v' AS VARCHAR) AS vc, true AS b, DATE '2024-02-29' AS d, TIME '12:34:56' AS t, \
     TIMESTAMP '2024-01-01 10:00:00.5' AS ts, CAST('2024-01-01 10:00:00+00' AS TIMESTAMPTZ) AS tstz, \
     INTERVAL '1 day 2 hours' AS iv, CAST('ab' AS BYTEA) AS by, ARRAY[1, 2, 3] AS ia, ARRAY['x', 'y'] AS ta";

#[tokio::test]
async fn binary_results_have_the_right_types_and_values() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    // tokio-postgres uses the extended protocol with binary results.
    let row = client.query_one(TYPES_QUERY, &[]).await.expect("query");
    let types: Vec<Type> = row.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        vec![
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::NUMERIC,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
            Type::DATE,
            Type::TIME,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::INTERVAL,
            Type::BYTEA,
            Type::INT8_ARRAY,
            Type::TEXT_ARRAY,
        ]
    );
    assert_eq!(row.get::<_, i16>("i2"), 1);
    assert_eq!(row.get::<_, i32>("i4"), 2);
    assert_eq!(row.get::<_, i64>("i8"), 3);
    assert_eq!(row.get::<_, f32>("f4"), 1.5);
    assert_eq!(row.get::<_, f64>("f8"), 2.25);
    assert_eq!(row.get::<_, Decimal>("num"), Decimal::new(1234, 2));
    assert_eq!(row.get::<_, String>("txt"), "héllo");
    assert_eq!(row.get::<_, String>("vc"), "v");
    assert!(row.get::<_, bool>("b"));
    assert_eq!(
        row.get::<_, NaiveDate>("d"),
        NaiveDate::from_ymd_opt(2024, 2, 29).expect("date")
    );
    assert_eq!(
        row.get::<_, NaiveTime>("t"),
        NaiveTime::from_hms_opt(12, 34, 56).expect("time")
    );
    let ts = NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_milli_opt(10, 0, 0, 500))
        .expect("ts");
    assert_eq!(row.get::<_, NaiveDateTime>("ts"), ts);
    let tstz = Utc
        .with_ymd_and_hms(2024, 1, 1, 10, 0, 0)
        .single()
        .expect("tstz");
    assert_eq!(row.get::<_, chrono::DateTime<Utc>>("tstz"), tstz);
    assert_eq!(
        row.get::<_, Interval>("iv"),
        Interval(2 * 3_600_000_000, 1, 0)
    );
    assert_eq!(row.get::<_, Vec<u8>>("by"), b"ab".to_vec());
    assert_eq!(row.get::<_, Vec<i64>>("ia"), vec![1, 2, 3]);
    assert_eq!(
        row.get::<_, Vec<String>>("ta"),
        vec!["x".to_string(), "y".to_string()]
    );
}

#[tokio::test]
async fn text_results_look_like_postgres() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let rows = simple_rows(&client, TYPES_QUERY).await;
    let expected = [
        "1",
        "2",
        "3",
        "1.5",
        "2.25",
        "12.34",
        "héllo",
        "v",
        "t",
        "2024-02-29",
        "12:34:56",
        "2024-01-01 10:00:00.5",
        "2024-01-01 10:00:00+00",
        "1 day 02:00:00",
        "\\x6162",
        "{1,2,3}",
        "{x,y}",
    ];
    let got: Vec<String> = rows[0]
        .iter()
        .map(|v| v.clone().unwrap_or_default())
        .collect();
    assert_eq!(got, expected);
    let nulls = simple_rows(&client, "SELECT NULL::int AS n, 'x' AS s").await;
    assert_eq!(nulls, vec![vec![None, Some("x".to_string())]]);
}

#[tokio::test]
async fn json_and_jsonb_columns() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE docs (id INT, j JSON, jb JSONB); INSERT INTO docs VALUES (1, '{\"a\": 1}', '{\"b\": [1, 2]}')")
        .await
        .expect("create and insert");
    let row = client
        .query_one("SELECT j, jb FROM docs WHERE id = $1", &[&1i32])
        .await
        .expect("query");
    assert_eq!(row.columns()[0].type_(), &Type::JSON);
    assert_eq!(row.columns()[1].type_(), &Type::JSONB);
    assert_eq!(
        row.get::<_, serde_json::Value>(0),
        serde_json::json!({"a": 1})
    );
    assert_eq!(
        row.get::<_, serde_json::Value>(1),
        serde_json::json!({"b": [1, 2]})
    );
    let text = simple_rows(&client, "SELECT jb FROM docs").await;
    assert_eq!(text, vec![vec![Some("{\"b\": [1, 2]}".to_string())]]);
}

#[tokio::test]
async fn simple_protocol_runs_every_statement_of_a_string() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let messages = client
        .simple_query("CREATE TABLE m (x INT); INSERT INTO m VALUES (1), (2); SELECT SUM(x) FROM m; SELECT 'last'")
        .await
        .expect("multi-statement string");
    let mut rows = Vec::new();
    let mut completions = Vec::new();
    for message in messages {
        match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                rows.push(row.get(0).map(str::to_string))
            }
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => completions.push(n),
            _ => {}
        }
    }
    assert_eq!(rows, vec![Some("3".to_string()), Some("last".to_string())]);
    assert_eq!(completions, vec![0, 2, 1, 1]);
}

#[tokio::test]
async fn extended_protocol_parameters_named_statements_and_portals() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .batch_execute("CREATE TABLE p (id INT, name TEXT, amount DOUBLE PRECISION)")
        .await
        .expect("create");
    // A named statement with typed parameters, executed several times.
    let insert = client
        .prepare("INSERT INTO p VALUES ($1, $2, $3)")
        .await
        .expect("prepare");
    assert_eq!(insert.params(), &[Type::INT4, Type::TEXT, Type::FLOAT8]);
    for (id, name, amount) in [(1, "a", 1.5), (2, "b", 2.5), (3, "c", 3.5), (4, "d", 4.5)] {
        let n = client
            .execute(&insert, &[&id, &name, &amount])
            .await
            .expect("insert");
        assert_eq!(n, 1);
    }
    let select = client
        .prepare("SELECT name, amount FROM p WHERE id >= $1 ORDER BY id")
        .await
        .expect("prepare");
    assert_eq!(select.columns()[0].type_(), &Type::TEXT);
    let rows = client.query(&select, &[&2i32]).await.expect("query");
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(names, vec!["b", "c", "d"]);
    // Unnamed statements through query_one with parameters of several types.
    let row = client
        .query_one(
            "SELECT $1::BIGINT + 1, $2::TEXT || '!', $3::BOOLEAN",
            &[&41i64, &"hi", &true],
        )
        .await
        .expect("unnamed");
    assert_eq!(row.get::<_, i64>(0), 42);
    assert_eq!(row.get::<_, String>(1), "hi!");
    assert!(row.get::<_, bool>(2));
    // A portal fetched in chunks (Execute with a row limit).
    let transaction = client.transaction().await.expect("begin");
    let portal = transaction
        .bind("SELECT id FROM p ORDER BY id", &[])
        .await
        .expect("bind");
    let first = transaction
        .query_portal(&portal, 3)
        .await
        .expect("first chunk");
    let rest = transaction.query_portal(&portal, 3).await.expect("rest");
    assert_eq!(first.len(), 3);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].get::<_, i32>(0), 4);
    transaction.commit().await.expect("commit");
}

#[tokio::test]
async fn copy_query_to_stdout() {
    use futures::StreamExt;
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE c (id INT, name TEXT); INSERT INTO c VALUES (1, 'a b'), (2, NULL), (3, 'x,y')")
        .await
        .expect("setup");
    let read = |sql: &'static str| {
        let client = &client;
        async move {
            let stream = client.copy_out(sql).await.expect("copy out");
            let chunks: Vec<_> = stream.collect().await;
            let bytes: Vec<u8> = chunks
                .into_iter()
                .flat_map(|c| c.expect("chunk").to_vec())
                .collect();
            String::from_utf8(bytes).expect("utf8")
        }
    };
    assert_eq!(
        read("COPY (SELECT id, name FROM c ORDER BY id) TO STDOUT").await,
        "1\ta b\n2\t\\N\n3\tx,y\n"
    );
    assert_eq!(
        read("COPY (SELECT id, name FROM c ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)").await,
        "id,name\n1,a b\n2,\n3,\"x,y\"\n"
    );
    assert_eq!(read("COPY c TO STDOUT").await.lines().count(), 3);
}

#[tokio::test]
async fn cancel_request_stops_a_running_query() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let cancel = client.cancel_token();
    let query = tokio::spawn(async move {
        // An aggregation over far more rows than it can read in the test's lifetime.
        client
            .simple_query("SELECT SUM(value) FROM generate_series(1, 100000000000)")
            .await
            .map(|_| client)
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    cancel
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("send cancel");
    let result = tokio::time::timeout(std::time::Duration::from_secs(30), query)
        .await
        .expect("cancel takes effect within 30 s")
        .expect("task");
    let error = result.expect_err("query was cancelled");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    // The session still works.
    let again = server.connect().await;
    assert_eq!(
        simple_rows(&again, "SELECT 1").await,
        vec![vec![Some("1".to_string())]]
    );
}

#[tokio::test]
async fn startup_reports_parameters_and_refuses_unknown_databases() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    let rows = simple_rows(
        &client,
        "SHOW server_version; SHOW client_encoding; SHOW DateStyle",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            vec![Some("16.6".into())],
            vec![Some("UTF8".into())],
            vec![Some("ISO, MDY".into())]
        ]
    );
    let rows = simple_rows(
        &client,
        "SELECT current_database(), current_schema(), version() LIKE 'PostgreSQL 16.6 (Runnel%'",
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![
            Some("runnel".into()),
            Some("public".into()),
            Some("t".into())
        ]]
    );
    let error = server
        .connect_as("someone", "nope")
        .await
        .expect_err("unknown database refused");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_CATALOG_NAME)
    );
    // Any user is trusted on loopback.
    let other = server
        .connect_as("alice", "runnel")
        .await
        .expect("trusted user");
    assert_eq!(
        simple_rows(&other, "SELECT 2").await,
        vec![vec![Some("2".into())]]
    );
}

#[tokio::test]
async fn set_show_reset() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("SET application_name = 'tests'; SET extra_float_digits TO 2")
        .await
        .expect("set");
    assert_eq!(
        simple_rows(&client, "SHOW application_name").await,
        vec![vec![Some("tests".into())]]
    );
    client
        .batch_execute("RESET application_name")
        .await
        .expect("reset");
    assert_eq!(
        simple_rows(&client, "SHOW application_name").await,
        vec![vec![Some(String::new())]]
    );
    client
        .batch_execute("SET TIME ZONE 'Europe/Berlin'")
        .await
        .expect("set time zone");
    assert_eq!(
        simple_rows(&client, "SHOW TimeZone").await,
        vec![vec![Some("Europe/Berlin".into())]]
    );
    expect_sqlstate(
        &client,
        "SET no_such_parameter = 1",
        SqlState::UNDEFINED_OBJECT,
    )
    .await;
    client
        .batch_execute("SET datafusion.execution.batch_size = 1024")
        .await
        .expect("engine option");
    assert_eq!(
        simple_rows(&client, "SHOW datafusion.execution.batch_size").await,
        vec![vec![Some("1024".into())]]
    );
}
