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

use common::{filters, print_header, print_run, run};

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
    let events: u64 = std::env::var("RUNNEL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    println!(
        "{events} events, {KEYS} keys, COUNT/SUM/MAX per key and window; {} worker threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    print_header();
    let only = filters();
    for query in QUERIES
        .iter()
        .filter(|q| only.is_empty() || only.iter().any(|o| q.name.contains(o.as_str())))
    {
        for parallelism in [1, 2] {
            match runtime.block_on(run(&pipeline_sql(events, query), parallelism)) {
                Ok(run) => {
                    if run.rows_in != events {
                        eprintln!(
                            "{}: read {} events, expected {events}",
                            query.name, run.rows_in
                        );
                        std::process::exit(1);
                    }
                    print_run(query.name, parallelism, &run);
                }
                Err(error) => {
                    eprintln!("{} at parallelism {parallelism}: {error}", query.name);
                    std::process::exit(1);
                }
            }
        }
    }
}
