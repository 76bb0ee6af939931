//! Type names.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};

use crate::flink::parse_type;

fn ty(sql: &str) -> DataType {
    match parse_type(sql) {
        Ok(data_type) => data_type,
        Err(error) => panic!("{sql}: {error:?}"),
    }
}

fn list(element: DataType, nullable: bool) -> DataType {
    DataType::List(Arc::new(Field::new("item", element, nullable)))
}

#[test]
fn scalar_types() {
    let cases = [
        ("STRING", DataType::Utf8),
        ("varchar", DataType::Utf8),
        ("VARCHAR(20)", DataType::Utf8),
        ("CHAR(3)", DataType::Utf8),
        ("character varying(5)", DataType::Utf8),
        ("text", DataType::Utf8),
        ("JSON", DataType::Utf8),
        ("jsonb", DataType::Utf8),
        ("BOOLEAN", DataType::Boolean),
        ("bool", DataType::Boolean),
        ("TINYINT", DataType::Int8),
        ("SMALLINT", DataType::Int16),
        ("int2", DataType::Int16),
        ("INT", DataType::Int32),
        ("Integer", DataType::Int32),
        ("int4", DataType::Int32),
        ("BIGINT", DataType::Int64),
        ("int8", DataType::Int64),
        ("FLOAT", DataType::Float32),
        ("REAL", DataType::Float32),
        ("float4", DataType::Float32),
        ("FLOAT(53)", DataType::Float64),
        ("DOUBLE", DataType::Float64),
        ("DOUBLE PRECISION", DataType::Float64),
        ("float8", DataType::Float64),
        ("DECIMAL", DataType::Decimal128(10, 0)),
        ("NUMERIC(38)", DataType::Decimal128(38, 0)),
        ("dec(5, 5)", DataType::Decimal128(5, 5)),
        ("DATE", DataType::Date32),
        ("TIME", DataType::Time64(TimeUnit::Nanosecond)),
        (
            "TIME(3) WITHOUT TIME ZONE",
            DataType::Time64(TimeUnit::Nanosecond),
        ),
        ("BYTES", DataType::Binary),
        ("VARBINARY(10)", DataType::Binary),
        ("BINARY", DataType::Binary),
        ("bytea", DataType::Binary),
        ("INTERVAL", DataType::Interval(IntervalUnit::MonthDayNano)),
        (
            "INTERVAL DAY(2) TO SECOND(3)",
            DataType::Interval(IntervalUnit::MonthDayNano),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(ty(sql), expected, "{sql}");
    }
}

#[test]
fn timestamp_precision_picks_the_unit() {
    let utc = || Some(Arc::from("+00:00"));
    let cases = [
        (
            "TIMESTAMP",
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        (
            "TIMESTAMP(0)",
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
        (
            "TIMESTAMP(3)",
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
        (
            "timestamp(6) without time zone",
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        (
            "TIMESTAMP(9)",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ),
        (
            "TIMESTAMP_LTZ",
            DataType::Timestamp(TimeUnit::Microsecond, utc()),
        ),
        (
            "TIMESTAMP_LTZ(3)",
            DataType::Timestamp(TimeUnit::Millisecond, utc()),
        ),
        (
            "TIMESTAMP(3) WITH LOCAL TIME ZONE",
            DataType::Timestamp(TimeUnit::Millisecond, utc()),
        ),
        (
            "TIMESTAMP WITH TIME ZONE",
            DataType::Timestamp(TimeUnit::Microsecond, utc()),
        ),
        (
            "timestamptz",
            DataType::Timestamp(TimeUnit::Microsecond, utc()),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(ty(sql), expected, "{sql}");
    }
}

#[test]
fn arrays_in_all_three_spellings() {
    assert_eq!(ty("ARRAY<INT>"), list(DataType::Int32, true));
    assert_eq!(ty("ARRAY<INT NOT NULL>"), list(DataType::Int32, false));
    assert_eq!(ty("INT ARRAY"), list(DataType::Int32, true));
    assert_eq!(ty("int[]"), list(DataType::Int32, true));
    assert_eq!(ty("text[3][]"), list(list(DataType::Utf8, true), true));
    assert_eq!(
        ty("ARRAY<ARRAY<ARRAY<BIGINT>>>"),
        list(list(list(DataType::Int64, true), true), true)
    );
    assert_eq!(
        ty("ARRAY<ARRAY<ARRAY<ARRAY<INT>>>>"),
        list(list(list(list(DataType::Int32, true), true), true), true)
    );
    assert_eq!(
        ty("ARRAY< ARRAY<INT> >"),
        list(list(DataType::Int32, true), true)
    );
}

#[test]
fn maps_and_rows() {
    let entries = |value: DataType, nullable: bool| {
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", value, nullable),
                ])),
                false,
            )),
            false,
        )
    };
    assert_eq!(ty("MAP<STRING, BIGINT>"), entries(DataType::Int64, true));
    assert_eq!(
        ty("MAP<STRING, ARRAY<INT>>"),
        entries(list(DataType::Int32, true), true)
    );
    assert_eq!(
        ty("MAP<STRING, INT NOT NULL>"),
        entries(DataType::Int32, false)
    );

    let row = DataType::Struct(Fields::from(vec![
        Field::new("a", DataType::Int32, false),
        Field::new("B", DataType::Utf8, true),
    ]));
    assert_eq!(ty("ROW<a INT NOT NULL, \"B\" STRING>"), row);
    assert_eq!(ty("row(A int not null, \"B\" text null)"), row);
}

#[test]
fn deep_nesting_fails_cleanly() {
    let sql = format!("{}INT{}", "ARRAY<".repeat(500), ">".repeat(500));
    let error = parse_type(&sql).expect_err("fails");
    assert_eq!(error.state.code(), "42601");
    assert!(error.message.contains("too deeply nested"), "{error:?}");
}
