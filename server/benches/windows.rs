//! Window aggregation throughput, end to end from the `datagen` source: events per second for
//! TUMBLE 10 s, HOP 10 s / 2 s and SESSION 5 s, each computing COUNT/SUM/MAX grouped by a
//! 10k-key column, at parallelism 1 and 2.
//!
//! ```text
//! cargo bench --bench windows                      # 10 M events per run
//! RUNNEL_BENCH_EVENTS=1000000 cargo bench --bench windows
//! cargo bench --bench windows -- SESSION             # only the queries whose name has SESSION
//! ```
//!
//! Each run plans the SQL below through the same code as `runnel run`, generates the events in
//! the source (a sequence `id`, a random key in [0, 10 000), a random value), derives the event
//! time `ts = id / 100` ms (100 000 events per second of event time, in order per split, with a
//! 1 s watermark delay) and writes the results into a `blackhole` sink. The figure is events
//! read divided by wall time from the `INSERT` to the end of the job (the last windows fire at
//! the end of input). Results go to docs/benchmarks.md.

#[path = "common.rs"]
mod common;

use common::{events, run_all};

const KEYS: u32 = 10_000;

struct Query {
    name: &'static str,
    from: &'static str,
}

const QUERIES: &[Query] = &[
    Query {
        name: "TUMBLE 10 s",
        from: "TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))",
    },
    Query {
        name: "HOP 10 s / 2 s",
        from: "TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))",
    },
    Query {
        name: "SESSION 5 s",
        from: "TABLE(SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '5' SECOND))",
    },
];

fn pipeline_sql(events: u64, query: &Query) -> String {
    format!(
        "CREATE TABLE events (
           id BIGINT, k INT, v INT,
           ts AS to_timestamp_millis(id / 100),
           WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
         ) WITH ('connector' = 'datagen', 'rows-per-second' = '1000000000000',
                 'fields.id.kind' = 'sequence', 'fields.id.start' = '0',
                 'fields.id.end' = '{last}',
                 'fields.k.min' = '0', 'fields.k.max' = '{max_key}',
                 'fields.v.min' = '0', 'fields.v.max' = '1000', 'seed' = '7');
         CREATE TABLE out (window_start TIMESTAMP(3), window_end TIMESTAMP(3), k INT,
                           n BIGINT, total BIGINT, biggest INT)
           WITH ('connector' = 'blackhole');
         INSERT INTO out
         SELECT window_start, window_end, k, COUNT(*), SUM(v), MAX(v)
         FROM {from}
         GROUP BY window_start, window_end, k;",
        last = events - 1,
        max_key = KEYS - 1,
        from = query.from,
    )
}

fn main() {
    let events = events();
    let title = format!("{events} events, {KEYS} keys, COUNT/SUM/MAX per key and window");
    let queries = QUERIES.iter().map(|q| (q.name, pipeline_sql(events, q)));
    if let Err(error) = run_all(&title, queries, events) {
        eprintln!("windows bench: {error}");
        std::process::exit(1);
    }
}
