//! Which statements go to the Flink parser.

use crate::flink::is_flink_create_table;

#[test]
fn flink_tables_are_detected() {
    let flink = [
        "CREATE TABLE t (id INT) WITH ('connector' = 'kafka')",
        "create table if not exists public.t (id INT) with ('a' = 'b');",
        "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)",
        "CREATE TABLE t (a INT, b AS a + 1)",
        "CREATE TABLE t (ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp')",
        "CREATE TABLE t (ts TIMESTAMP(3) METADATA)",
        "CREATE TABLE t (a ARRAY<INT>)",
        "CREATE TABLE t (a MAP<STRING, INT>)",
        "CREATE TABLE t (a ROW<x INT>)",
        "CREATE TABLE t (a ROW(x INT))",
        "CREATE TABLE t (a INT ARRAY)",
        "CREATE TABLE t (a TIMESTAMP_LTZ(3))",
        "CREATE TABLE t (a TIMESTAMP(3) WITH LOCAL TIME ZONE)",
        "CREATE TABLE t (a BYTES)",
        "CREATE TABLE t (id INT, PRIMARY KEY (id) NOT ENFORCED)",
        "CREATE TABLE t (id INT) COMMENT 'x'",
        "CREATE TABLE t (id INT) PARTITIONED BY (id)",
        "CREATE TEMPORARY TABLE t (id INT) WITH ('connector' = 'datagen')",
    ];
    for sql in flink {
        assert!(is_flink_create_table(sql), "{sql}");
    }
}

#[test]
fn other_statements_are_not() {
    let other = [
        "CREATE TABLE t (id INT, name TEXT)",
        "CREATE TABLE t (id INT PRIMARY KEY, tags TEXT[], ts TIMESTAMP WITH TIME ZONE)",
        "CREATE TABLE t (id INT CHECK (id < 5), a INT[] DEFAULT ARRAY[1])",
        "CREATE TABLE t AS SELECT 1 AS a",
        "CREATE TABLE t (a, b) AS SELECT 1, 2",
        "CREATE TABLE t AS (SELECT 1) WITH NO DATA",
        "CREATE TEMPORARY TABLE t (id INT)",
        "CREATE VIEW v AS SELECT 1",
        "SELECT * FROM t WITH ('a' = 'b')",
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE t (a INT",
        "CREATE TABLE 'unterminated",
        "",
    ];
    for sql in other {
        assert!(!is_flink_create_table(sql), "{sql}");
    }
}
