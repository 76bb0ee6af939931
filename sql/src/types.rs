//! SQL type names Runnel accepts beyond DataFusion's own, and the PostgreSQL name of every
//! Arrow type Runnel stores.
//!
//! Arrow has no JSON type, so `JSON` and `JSONB` columns are UTF-8 strings whose field carries
//! [`PG_TYPE_KEY`]; the wire layer reads it to report and encode the PostgreSQL type.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast::DataType as SqlType;

/// Field metadata key naming the PostgreSQL type of a column whose Arrow type alone does not
/// say it (`json`, `jsonb`).
pub const PG_TYPE_KEY: &str = "runnel.pg_type";

/// Plans Runnel's extra SQL types, then defers to `inner` (for example the `pg_catalog`
/// emulation's planner for `regclass` and friends).
#[derive(Debug)]
pub struct RunnelTypePlanner {
    inner: Option<Arc<dyn TypePlanner>>,
}

impl RunnelTypePlanner {
    /// A planner that falls back to `inner` for types it does not know.
    pub fn new(inner: Option<Arc<dyn TypePlanner>>) -> Self {
        RunnelTypePlanner { inner }
    }
}

/// A nullable UTF-8 field tagged as PostgreSQL type `pg_type`.
pub fn tagged_text_field(pg_type: &str) -> FieldRef {
    Arc::new(
        Field::new("", DataType::Utf8, true).with_metadata(HashMap::from([(
            PG_TYPE_KEY.to_string(),
            pg_type.to_string(),
        )])),
    )
}

impl TypePlanner for RunnelTypePlanner {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        match sql_type {
            SqlType::JSON => Ok(Some(tagged_text_field("json"))),
            SqlType::JSONB => Ok(Some(tagged_text_field("jsonb"))),
            other => match &self.inner {
                Some(inner) => inner.plan_type_field(other),
                None => Ok(None),
            },
        }
    }
}

/// The PostgreSQL name of a column's type, as `format_type` prints it (`integer`,
/// `timestamp without time zone`, `numeric(10,2)`, `text[]`).
pub fn pg_type_name(field: &Field) -> String {
    if let Some(tag) = field.metadata().get(PG_TYPE_KEY) {
        return tag.clone();
    }
    data_type_name(field.data_type())
}

fn data_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "unknown".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => format!("numeric({p},{s})"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time without time zone".into(),
        DataType::Timestamp(unit, tz) => {
            let precision = match unit {
                TimeUnit::Second => "(0)",
                TimeUnit::Millisecond => "(3)",
                TimeUnit::Microsecond | TimeUnit::Nanosecond => "",
            };
            match tz {
                Some(_) => format!("timestamp{precision} with time zone"),
                None => format!("timestamp{precision} without time zone"),
            }
        }
        DataType::Interval(IntervalUnit::YearMonth)
        | DataType::Interval(_)
        | DataType::Duration(_) => "interval".into(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => format!("{}[]", pg_type_name(f)),
        DataType::Dictionary(_, value) => data_type_name(value),
        DataType::Struct(_) => "record".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_format_type() {
        let name = |t: DataType| pg_type_name(&Field::new("c", t, true));
        assert_eq!(name(DataType::Int32), "integer");
        assert_eq!(name(DataType::Float64), "double precision");
        assert_eq!(
            name(DataType::Timestamp(TimeUnit::Nanosecond, None)),
            "timestamp without time zone"
        );
        assert_eq!(name(DataType::Decimal128(10, 2)), "numeric(10,2)");
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        assert_eq!(name(list), "text[]");
        assert_eq!(pg_type_name(&tagged_text_field("jsonb")), "jsonb");
    }

    #[test]
    fn json_types_plan_to_tagged_text() {
        let planner = RunnelTypePlanner::new(None);
        let field = planner
            .plan_type_field(&SqlType::JSONB)
            .expect("plans")
            .expect("known");
        assert_eq!(field.data_type(), &DataType::Utf8);
        assert_eq!(
            field.metadata().get(PG_TYPE_KEY).map(String::as_str),
            Some("jsonb")
        );
        assert!(
            planner
                .plan_type_field(&SqlType::Regclass)
                .expect("plans")
                .is_none()
        );
    }
}
