//! Whole statements that parse.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::{BinaryOperator, DateTimeField, Expr, Value};

use crate::flink::{ColumnKind, parse_create_table, parse_type};

const ORDERS: &str = "CREATE TABLE orders (
  order_id STRING,
  customer_id STRING,
  total_amount DECIMAL(10, 2),
  order_time TIMESTAMP(3),
  amount_x2 AS total_amount * 2,                                   -- computed column
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'data/orders.jsonl', 'format' = 'json',
        'json.timestamp-format.standard' = 'ISO-8601');";

fn physical(data_type: DataType) -> ColumnKind {
    ColumnKind::Physical {
        data_type,
        nullable: true,
    }
}

#[test]
fn orders_example() {
    let table = parse_create_table(ORDERS).expect("parses");
    assert_eq!(table.name, "orders");
    assert!(!table.if_not_exists);
    assert_eq!(table.primary_key, None);
    assert_eq!(table.comment, None);

    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "order_id",
            "customer_id",
            "total_amount",
            "order_time",
            "amount_x2"
        ]
    );
    assert_eq!(table.columns[0].kind, physical(DataType::Utf8));
    assert_eq!(table.columns[1].kind, physical(DataType::Utf8));
    assert_eq!(table.columns[2].kind, physical(DataType::Decimal128(10, 2)));
    assert_eq!(
        table.columns[3].kind,
        physical(DataType::Timestamp(TimeUnit::Millisecond, None))
    );
    let ColumnKind::Computed { expr } = &table.columns[4].kind else {
        panic!("amount_x2 should be computed: {:?}", table.columns[4]);
    };
    assert_eq!(expr.to_string(), "total_amount * 2");
    assert!(table.columns.iter().all(|c| c.comment.is_none()));

    let watermark = table.watermark.expect("has a watermark");
    assert_eq!(watermark.column, "order_time");
    let Expr::BinaryOp { left, op, right } = &watermark.expr else {
        panic!("not a subtraction: {:?}", watermark.expr);
    };
    assert_eq!(*op, BinaryOperator::Minus);
    assert_eq!(left.to_string(), "order_time");
    let Expr::Interval(interval) = right.as_ref() else {
        panic!("not an interval: {right:?}");
    };
    assert_eq!(interval.leading_field, Some(DateTimeField::Second));
    let Expr::Value(value) = interval.value.as_ref() else {
        panic!("not a literal: {:?}", interval.value);
    };
    assert_eq!(value.value, Value::SingleQuotedString("5".into()));

    assert_eq!(
        table.options,
        [
            ("connector", "filesystem"),
            ("path", "data/orders.jsonl"),
            ("format", "json"),
            ("json.timestamp-format.standard", "ISO-8601"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn kafka_table_with_key_metadata_and_nested_types() {
    let sql = r#"create table if not exists "Events" (
        id BIGINT,
        payload ARRAY<ROW<a INT NOT NULL, b MAP<STRING, BIGINT>>>,
        ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
        part INT METADATA COMMENT 'partition',
        CONSTRAINT pk PRIMARY KEY (id) NOT ENFORCED,
        WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE
    ) COMMENT 'from kafka' WITH ('connector' = 'kafka', 'topic' = 'events')"#;
    let table = parse_create_table(sql).expect("parses");
    assert_eq!(table.name, "Events");
    assert!(table.if_not_exists);
    assert_eq!(table.primary_key, Some(vec!["id".to_string()]));
    assert_eq!(table.comment.as_deref(), Some("from kafka"));
    assert_eq!(table.watermark.expect("has a watermark").column, "ts");

    // Key columns are NOT NULL.
    assert_eq!(
        table.columns[0].kind,
        ColumnKind::Physical {
            data_type: DataType::Int64,
            nullable: false
        }
    );
    assert_eq!(
        table.columns[1].kind,
        physical(parse_type("ARRAY<ROW<a INT NOT NULL, b MAP<STRING, BIGINT>>>").expect("parses"))
    );
    let ColumnKind::Physical {
        data_type: DataType::List(item),
        ..
    } = &table.columns[1].kind
    else {
        panic!("payload should be a list: {:?}", table.columns[1]);
    };
    let DataType::Struct(fields) = item.data_type() else {
        panic!("element should be a struct: {item:?}");
    };
    assert_eq!(fields[0].name(), "a");
    assert!(!fields[0].is_nullable());
    assert_eq!(fields[1].name(), "b");
    assert!(matches!(fields[1].data_type(), DataType::Map(_, false)));

    assert_eq!(
        table.columns[2].kind,
        ColumnKind::Metadata {
            data_type: DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            key: Some("timestamp".into()),
            is_virtual: true,
        }
    );
    assert_eq!(
        table.columns[3].kind,
        ColumnKind::Metadata {
            data_type: DataType::Int32,
            key: None,
            is_virtual: false,
        }
    );
    assert_eq!(table.columns[3].comment.as_deref(), Some("partition"));
    assert_eq!(
        table.options,
        [("connector", "kafka"), ("topic", "events")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn column_level_key_comments_and_qualified_name() {
    let sql = "CREATE TABLE Public.Users (
        Id INT CONSTRAINT users_pk PRIMARY KEY NOT ENFORCED COMMENT 'the id',
        name STRING NOT NULL COMMENT 'it''s the name',
        tags STRING ARRAY,
        total AS id + 1 COMMENT 'computed'
    ) WITH ('connector' = 'datagen');";
    let table = parse_create_table(sql).expect("parses");
    assert_eq!(table.name, "public.users");
    assert_eq!(table.primary_key, Some(vec!["id".to_string()]));
    assert_eq!(table.columns[0].name, "id");
    assert_eq!(table.columns[0].comment.as_deref(), Some("the id"));
    assert_eq!(
        table.columns[1].kind,
        ColumnKind::Physical {
            data_type: DataType::Utf8,
            nullable: false
        }
    );
    assert_eq!(table.columns[1].comment.as_deref(), Some("it's the name"));
    assert_eq!(
        table.columns[2].kind,
        physical(parse_type("ARRAY<STRING>").expect("parses"))
    );
    assert!(matches!(table.columns[3].kind, ColumnKind::Computed { .. }));
    assert_eq!(table.columns[3].comment.as_deref(), Some("computed"));
}

#[test]
fn table_without_options_and_watermark_on_computed_column() {
    let sql = "CREATE TABLE t (raw BIGINT, ts AS TO_TIMESTAMP_LTZ(raw, 3), \
               WATERMARK FOR ts AS ts)";
    let table = parse_create_table(sql).expect("parses");
    assert!(table.options.is_empty());
    assert_eq!(
        table.watermark.expect("has a watermark").expr.to_string(),
        "ts"
    );
}

#[test]
fn columns_may_be_named_like_flink_keywords() {
    let sql = "CREATE TABLE t (watermark INT, metadata STRING, comment STRING, \"Row\" INT)";
    let table = parse_create_table(sql).expect("parses");
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["watermark", "metadata", "comment", "Row"]);
}
