//! Every error: its SQLSTATE, and the position of the token it is about.

use super::{assert_error, position_of};
use crate::flink::{parse_create_table, parse_type};

#[test]
fn temporary_tables_are_unsupported() {
    let sql = "CREATE TEMPORARY TABLE t (a INT) WITH ('connector' = 'datagen')";
    let error = assert_error(parse_create_table(sql), "0A000", sql, "TEMPORARY");
    assert_eq!(error.message, "temporary tables are not supported");
}

#[test]
fn partitioned_by_and_like_are_unsupported() {
    let sql = "CREATE TABLE t (a INT) PARTITIONED BY (a) WITH ('connector' = 'filesystem')";
    assert_error(parse_create_table(sql), "0A000", sql, "PARTITIONED");
    let sql = "CREATE TABLE t (a INT) WITH ('connector' = 'kafka') LIKE base";
    assert_error(parse_create_table(sql), "0A000", sql, "LIKE");
    let sql = "CREATE TABLE t (a INT, UNIQUE (a))";
    assert_error(parse_create_table(sql), "0A000", sql, "UNIQUE");
}

#[test]
fn primary_key_must_be_not_enforced() {
    let sql = "CREATE TABLE t (id INT, PRIMARY KEY (id)) WITH ('connector' = 'kafka')";
    let error = assert_error(parse_create_table(sql), "0A000", sql, "PRIMARY");
    assert!(error.message.contains("NOT ENFORCED"), "{error:?}");
    let sql = "CREATE TABLE t (id INT PRIMARY KEY, b INT)";
    let error = assert_error(parse_create_table(sql), "0A000", sql, "PRIMARY");
    assert!(error.message.contains("NOT ENFORCED"), "{error:?}");
    let sql = "CREATE TABLE t (id INT, CONSTRAINT pk PRIMARY KEY (id) ENFORCED)";
    assert_error(parse_create_table(sql), "0A000", sql, "PRIMARY");
}

#[test]
fn key_columns_must_be_declared_physical_and_once() {
    let sql = "CREATE TABLE t (id INT, PRIMARY KEY (id, nope) NOT ENFORCED)";
    let error = assert_error(parse_create_table(sql), "42703", sql, "nope");
    assert_eq!(error.message, "column \"nope\" named in key does not exist");

    let sql = "CREATE TABLE t (id INT, c AS id + 1, PRIMARY KEY (c) NOT ENFORCED)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42P16");
    assert_eq!(error.position, position_of(sql, "c)", 0));

    let sql = "CREATE TABLE t (id INT, PRIMARY KEY (id, id) NOT ENFORCED)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42701");
    assert_eq!(error.position, position_of(sql, "id)", 0));

    let sql = "CREATE TABLE t (id INT PRIMARY KEY NOT ENFORCED, PRIMARY KEY (id) NOT ENFORCED)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42P16");
    assert_eq!(error.position, position_of(sql, "PRIMARY", 1));
}

#[test]
fn duplicate_column() {
    let sql = "CREATE TABLE t (a INT, b INT, A STRING)";
    let error = assert_error(parse_create_table(sql), "42701", sql, "A STRING");
    assert_eq!(error.message, "column \"a\" specified more than once");
    let sql = "CREATE TABLE t (a INT, a AS 1)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42701");
    assert_eq!(error.position, position_of(sql, "a AS", 0));
}

#[test]
fn watermark_on_missing_column() {
    let sql = "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR tz AS tz)";
    let error = assert_error(parse_create_table(sql), "42703", sql, "tz AS");
    assert_eq!(error.message, "column \"tz\" does not exist");
}

#[test]
fn two_watermarks() {
    let sql = "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42601");
    assert_eq!(error.position, position_of(sql, "WATERMARK", 1));
}

#[test]
fn watermark_on_non_timestamp_column() {
    let sql = "CREATE TABLE t (ts BIGINT, WATERMARK FOR ts AS ts - 5000)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42804");
    assert_eq!(error.position, position_of(sql, "ts AS", 0));
    assert!(error.message.contains("\"ts\""), "{error:?}");
    assert!(error.message.contains("bigint"), "{error:?}");
}

#[test]
fn duplicate_option_key() {
    let sql = "CREATE TABLE t (a INT) WITH ('connector' = 'kafka', 'connector' = 'datagen')";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42710");
    assert_eq!(error.position, position_of(sql, "'connector'", 1));
}

#[test]
fn unknown_type() {
    let sql = "CREATE TABLE t (\n  a INT,\n  b FOOBAR(3)\n)";
    let error = assert_error(parse_create_table(sql), "42704", sql, "FOOBAR");
    assert_eq!(error.message, "type \"foobar\" does not exist");
    let error = assert_error(parse_type("ARRAY<nope>"), "42704", "ARRAY<nope>", "nope");
    assert_eq!(error.message, "type \"nope\" does not exist");
    // Positions count characters, not bytes.
    let sql = "CREATE TABLE \"été\" (a FOOBAR)";
    assert_eq!(
        parse_create_table(sql).expect_err("fails").position,
        Some(23)
    );
}

#[test]
fn out_of_range_type_arguments() {
    assert_error(
        parse_type("DECIMAL(39, 2)"),
        "22023",
        "DECIMAL(39, 2)",
        "39",
    );
    assert_error(parse_type("DECIMAL(0)"), "22023", "DECIMAL(0)", "0");
    assert_error(parse_type("DECIMAL(5, 6)"), "22023", "DECIMAL(5, 6)", "6");
    assert_error(parse_type("TIMESTAMP(10)"), "22023", "TIMESTAMP(10)", "10");
    assert_error(parse_type("VARCHAR(0)"), "22023", "VARCHAR(0)", "0");
    assert_error(parse_type("FLOAT(54)"), "22023", "FLOAT(54)", "54");
    let sql = "TIME WITH TIME ZONE";
    assert_error(parse_type(sql), "0A000", sql, "WITH");
    assert_error(
        parse_type("MULTISET<INT>"),
        "0A000",
        "MULTISET<INT>",
        "MULTISET",
    );
}

#[test]
fn syntax_errors_point_at_the_token() {
    let sql = "CREATE TABLE t (a INT) WITH (connector = 'kafka')";
    let error = assert_error(parse_create_table(sql), "42601", sql, "connector");
    assert_eq!(error.message, "syntax error at or near \"connector\"");

    let sql = "CREATE TABLE t (a INT, b AS a +, c INT)";
    let error = assert_error(parse_create_table(sql), "42601", sql, ", c");
    assert_eq!(error.message, "syntax error at or near \",\"");

    let sql = "CREATE TABLE t (a ARRAY<INT>>)";
    let error = assert_error(parse_create_table(sql), "42601", sql, ">)");
    assert_eq!(error.message, "syntax error at or near \">\"");

    let sql = "CREATE TABLE t (a ARRAY<ARRAY<INT>>>> NOT NULL)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.message, "syntax error at or near \">\"");
    assert_eq!(error.position, position_of(sql, ">> NOT", 0));

    let sql = "CREATE TABLE t ('a' INT)";
    let error = assert_error(parse_create_table(sql), "42601", sql, "'a'");
    assert_eq!(error.message, "syntax error at or near \"'a'\"");

    let sql = "CREATE TABLE t AS SELECT 1";
    assert_error(parse_create_table(sql), "42601", sql, "AS");

    let sql = "CREATE TABLE t (a INT) extra";
    assert_error(parse_create_table(sql), "42601", sql, "extra");

    let sql = "CREATE TABLE t (a INT) WITH ('k' = 'v'); SELECT 1";
    assert_error(parse_create_table(sql), "42601", sql, "SELECT");
}

#[test]
fn end_of_input_and_bad_tokens() {
    let sql = "CREATE TABLE t (a INT";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42601");
    assert_eq!(error.message, "syntax error at end of input");
    assert_eq!(error.position, Some(sql.len() + 1));

    let sql = "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.message, "syntax error at end of input");
    assert_eq!(error.position, Some(sql.len() + 1));

    let sql = "CREATE TABLE t (a INT) WITH ('k' = 'unterminated)";
    let error = parse_create_table(sql).expect_err("fails");
    assert_eq!(error.state.code(), "42601");
    assert!(error.position.is_some(), "{error:?}");
}
