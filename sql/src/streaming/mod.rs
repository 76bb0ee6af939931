//! Streaming queries: Flink's window syntax, stream tables, and planning a query into the
//! stages of a job.
//!
//! A query text goes through three steps:
//! 1. [`rewrite_window_tvfs`] replaces each `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), ...))` in the
//!    text by a window relation name, because sqlparser cannot parse the call;
//! 2. after parsing, [`rewrite_group_window`] turns Flink's group-window form
//!    (`GROUP BY TUMBLE(ts, INTERVAL ...)`, `TUMBLE_START(...)`) into the same window relation;
//! 3. [`plan_stream_query`] plans the query with DataFusion, window relations and stream tables
//!    in scope, and walks the logical plan into a [`StreamPlan`]: one source, then Calc and
//!    window-aggregation stages. What cannot run incrementally is rejected with the reason.
//!    Views over stream tables are inlined; a window may read one that passes the table's
//!    event-time column through ([`views`]).

mod avg;
mod context;
mod fuse;
mod group_window;
mod plan;
mod planner;
mod table;
mod views;
mod window_tvf;

pub use avg::flink_avg;
pub use group_window::rewrite_group_window;
pub use plan::{CalcStage, SourceStage, Stage, StreamPlan, WindowAggregateKind, WindowStage};
pub use planner::{UPDATING_AGGREGATE, plan_stream_query, stream_table};
pub use table::{StreamTable, StreamTableProvider, WindowRelationProvider};
pub use window_tvf::{
    RewrittenText, WINDOW_RELATION_PREFIX, WindowCall, WindowFunction, rewrite_window_tvfs,
};
