//! The Nexmark queries as files in `server/nexmark/`, built into the binary: the source DDL
//! with its views, one file per query (a blackhole sink and the `INSERT`), and for the
//! queries that run a reference computation in plain DataFusion SQL.

use runnel_sql::parser::statement_ranges;

/// The source table and the `person`, `auction`, `bid` views, with `${...}` placeholders.
pub const DDL: &str = include_str!("../../../nexmark/ddl.sql");

/// The views of the reference computations.
pub const REFERENCE_VIEWS: &str = include_str!("../../../nexmark/reference/views.sql");

/// One query of the suite.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// `q0` ... `q22`, `q5-window` for the window part of a query, or `source`.
    pub name: &'static str,
    /// The file: the sink's `CREATE TABLE` and the `INSERT INTO`.
    pub sql: &'static str,
    /// The same results computed with plain DataFusion SQL over the materialized events.
    pub reference: Option<&'static str>,
    /// For a query whose rows depend on more than the events (q12's processing-time windows):
    /// SQL over its streamed rows (the table `streamed`) that gives what `reference` computes.
    /// The reference is then no batch equivalent of the query, and is not timed.
    pub streamed_summary: Option<&'static str>,
}

macro_rules! query {
    ($name:literal) => {
        Query {
            name: $name,
            sql: include_str!(concat!("../../../nexmark/queries/", $name, ".sql")),
            reference: None,
            streamed_summary: None,
        }
    };
    ($name:literal, reference) => {
        Query {
            name: $name,
            sql: include_str!(concat!("../../../nexmark/queries/", $name, ".sql")),
            reference: Some(include_str!(concat!(
                "../../../nexmark/reference/",
                $name,
                ".sql"
            ))),
            streamed_summary: None,
        }
    };
    ($name:literal, reference, summary) => {
        Query {
            streamed_summary: Some(include_str!(concat!(
                "../../../nexmark/reference/",
                $name,
                ".streamed.sql"
            ))),
            ..query!($name, reference)
        }
    };
}

/// Every query, in the suite's order (window parts after their query), after `source`: the
/// source table alone into blackhole, the generator's own rate.
pub fn all() -> Vec<Query> {
    vec![
        query!("source", reference),
        query!("q0", reference),
        query!("q1", reference),
        query!("q2", reference),
        query!("q3"),
        query!("q4"),
        query!("q5"),
        query!("q5-window", reference),
        query!("q6"),
        query!("q7"),
        query!("q7-window", reference),
        query!("q8"),
        query!("q8-window", reference),
        query!("q9"),
        query!("q10", reference),
        query!("q11", reference),
        query!("q12", reference, summary),
        query!("q13"),
        query!("q14", reference),
        query!("q15"),
        query!("q16"),
        query!("q17"),
        query!("q18"),
        query!("q19"),
        query!("q20"),
        query!("q21", reference),
        query!("q22", reference),
    ]
}

/// The event time of the first event: fixed, so that runs are comparable.
pub const BASE_TIME: &str = "2024-01-01 00:00:00";

/// What the source generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// `events.num`.
    pub events: u64,
    /// `first-event.rate` and `next-event.rate`: events per second of event time.
    pub rate: u64,
}

impl Workload {
    /// The source DDL and views with the placeholders filled in. The generator emits at full
    /// speed (`max-emit-speed`) from a fixed `base-time`.
    pub fn ddl(&self) -> String {
        DDL.replace("${TPS}", &self.rate.to_string())
            .replace("${EVENTS_NUM}", &self.events.to_string())
            .replace("${PERSON_PROPORTION}", "1")
            .replace("${AUCTION_PROPORTION}", "3")
            .replace("${BID_PROPORTION}", "46")
            .replace(
                "'connector' = 'nexmark',",
                &format!(
                    "'connector' = 'nexmark', 'max-emit-speed' = 'true', 'base-time' = '{BASE_TIME}',"
                ),
            )
    }

    /// The source table's `CREATE TABLE` alone.
    pub fn create_table(&self) -> Result<String, String> {
        let ddl = self.ddl();
        let ranges = statement_ranges(&ddl).map_err(|e| e.message.clone())?;
        let (start, end) = ranges.first().ok_or("the DDL has no statement")?;
        Ok(ddl[*start..*end].to_string())
    }

    /// The pipeline file of `query`: the DDL, then the query.
    pub fn pipeline(&self, query: &Query) -> String {
        format!(
            "{}\n\n{}",
            self.ddl(),
            query.sql.replace("${SIDE_INPUT}", "nexmark-side-input.csv")
        )
    }

    /// The pipeline file of `query` with its `INSERT INTO sink` removed, so that the query's
    /// rows are the file's output.
    pub fn select_pipeline(&self, query: &Query) -> Result<String, String> {
        let sql = query.sql.replace("${SIDE_INPUT}", "nexmark-side-input.csv");
        let start = sql
            .find("INSERT INTO ")
            .ok_or_else(|| format!("{}: no INSERT INTO", query.name))?;
        let rest = &sql[start + "INSERT INTO ".len()..];
        let name_end = rest
            .find(|c: char| c.is_whitespace())
            .ok_or_else(|| format!("{}: no query after INSERT INTO", query.name))?;
        let select = format!("{}{}", &sql[..start], &rest[name_end..]);
        Ok(format!("{}\n\n{select}", self.ddl()))
    }
}
