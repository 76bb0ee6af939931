//! The catalog and table data survive a restart and a crash.

use crate::harness::{TestServer, simple_rows};

fn text(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn tour_survives_restart() {
    let mut server = TestServer::start().await;
    {
        let client = server.connect().await;
        client
            .batch_execute(
                "CREATE TABLE t (id INT, name TEXT, amount DOUBLE PRECISION, ts TIMESTAMP);
                 INSERT INTO t VALUES (1, 'a', 10.5, '2024-01-01 00:00:00'), (2, 'b', 3.25, '2024-01-01 00:00:01');
                 CREATE VIEW big AS SELECT * FROM t WHERE amount > 5;",
            )
            .await
            .expect("tour");
        let rows = text(
            simple_rows(
                &client,
                "SELECT name, SUM(amount) FROM t GROUP BY name ORDER BY name",
            )
            .await,
        );
        assert_eq!(rows, vec![vec!["a", "10.5"], vec!["b", "3.25"]]);
    }
    server.restart().await;
    let client = server.connect().await;
    let rows = text(simple_rows(&client, "SELECT id, name, amount, ts FROM t ORDER BY id").await);
    assert_eq!(
        rows,
        vec![
            vec!["1", "a", "10.5", "2024-01-01 00:00:00"],
            vec!["2", "b", "3.25", "2024-01-01 00:00:01"]
        ]
    );
    let rows = text(simple_rows(&client, "SELECT id FROM big").await);
    assert_eq!(rows, vec![vec!["1"]]);
    let rows = text(simple_rows(&client, "SHOW TABLES").await);
    assert_eq!(rows, vec![vec!["big", "view"], vec!["t", "table"]]);
    // Writes after a restart go on from where the table was.
    client
        .batch_execute("INSERT INTO t SELECT id + 10, name, amount, ts FROM t")
        .await
        .expect("insert select");
    let rows = text(simple_rows(&client, "SELECT COUNT(*) FROM t").await);
    assert_eq!(rows, vec![vec!["4"]]);
}

#[tokio::test]
async fn committed_inserts_survive_a_crash() {
    let mut server = TestServer::start().await;
    {
        let client = server.connect().await;
        client
            .batch_execute("CREATE TABLE k (v BIGINT)")
            .await
            .expect("create");
        for i in 0..20 {
            client
                .batch_execute(&format!("INSERT INTO k VALUES ({i})"))
                .await
                .expect("insert");
        }
    }
    server.kill();
    server.start_again().await;
    let client = server.connect().await;
    let rows = text(simple_rows(&client, "SELECT COUNT(*), SUM(v) FROM k").await);
    assert_eq!(rows, vec![vec!["20", "190"]]);
}

#[tokio::test]
async fn a_failed_insert_leaves_nothing_behind() {
    let mut server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE f (v INT); INSERT INTO f VALUES (1)")
        .await
        .expect("setup");
    // The second row fails after the first was produced: nothing of the insert may remain.
    client
        .batch_execute("INSERT INTO f SELECT 10 / x FROM (VALUES (1), (0)) AS s(x)")
        .await
        .expect_err("division by zero");
    assert_eq!(
        text(simple_rows(&client, "SELECT COUNT(*) FROM f").await),
        vec![vec!["1"]]
    );
    drop(client);
    server.restart().await;
    let client = server.connect().await;
    assert_eq!(
        text(simple_rows(&client, "SELECT COUNT(*) FROM f").await),
        vec![vec!["1"]]
    );
    assert!(server.data_dir().exists());
}

#[tokio::test]
async fn sql_features_over_durable_tables() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE o (id INT, customer TEXT, amount DOUBLE PRECISION);
             CREATE TABLE c (name TEXT, country TEXT);
             INSERT INTO o VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5);
             INSERT INTO c VALUES ('ann', 'fr'), ('bob', 'de');
             CREATE TABLE copy_of_o AS SELECT * FROM o WHERE amount > 6;",
        )
        .await
        .expect("setup");
    let rows = text(
        simple_rows(
            &client,
            "WITH totals AS (SELECT customer, SUM(amount) AS total FROM o GROUP BY customer)
             SELECT c.country, t.total, RANK() OVER (ORDER BY t.total DESC) AS r
             FROM totals t JOIN c ON c.name = t.customer
             WHERE t.total > (SELECT MIN(amount) FROM o) ORDER BY r",
        )
        .await,
    );
    assert_eq!(rows, vec![vec!["de", "20", "1"], vec!["fr", "15", "2"]]);
    assert_eq!(
        text(simple_rows(&client, "SELECT COUNT(*) FROM copy_of_o").await),
        vec![vec!["2"]]
    );
    let rows = text(simple_rows(&client, "DESCRIBE o").await);
    assert_eq!(
        rows,
        vec![
            vec!["id", "integer", "YES"],
            vec!["customer", "text", "YES"],
            vec!["amount", "double precision", "YES"]
        ]
    );
    let rows = text(simple_rows(&client, "SHOW CREATE TABLE c").await);
    assert_eq!(rows[0][0], "c");
    assert!(rows[0][1].starts_with("CREATE TABLE c"), "{}", rows[0][1]);
}
