//! Flink's built-in scalar functions that PostgreSQL and DataFusion do not have, with Flink's
//! semantics, so that Flink queries (the Nexmark suite among them) run unmodified:
//!
//! - [`SPLIT_INDEX(str, sep, i)`](split_index): the `i`-th (from 0) piece of `str` split at
//!   `sep`;
//! - [`REGEXP_EXTRACT(str, regex [, group])`](regexp_extract): a group of the first match;
//! - [`DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm')`](date_format): a timestamp in a Java
//!   date-time pattern;
//! - [`MOD(a, b)`](modulo): the remainder with the sign of `a` (also PostgreSQL's);
//! - [`HOUR(ts)`, `MINUTE(ts)`, `SECOND(ts)`](time_fields): fields of a timestamp;
//! - [`PROCTIME()`](proctime): the processing-time attribute (windows over it are
//!   processing-time windows).
//!
//! [`all`] lists them for registration in a session.

pub mod date_format;
pub mod modulo;
pub mod proctime;
pub mod regexp_extract;
pub mod split_index;
pub mod time_fields;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

/// The functions, ready to register.
pub fn all() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(split_index::SplitIndex::new())),
        Arc::new(ScalarUDF::new_from_impl(
            regexp_extract::RegexpExtract::new(),
        )),
        Arc::new(ScalarUDF::new_from_impl(date_format::DateFormat::new())),
        Arc::new(ScalarUDF::new_from_impl(modulo::Modulo::new())),
        Arc::new(ScalarUDF::new_from_impl(time_fields::TimeField::hour())),
        Arc::new(ScalarUDF::new_from_impl(time_fields::TimeField::minute())),
        Arc::new(ScalarUDF::new_from_impl(time_fields::TimeField::second())),
        Arc::new(ScalarUDF::new_from_impl(proctime::Proctime::new())),
    ]
}

#[cfg(test)]
mod tests;
