//! `runnel run` and `runnel check` on pipeline files, as CI and users call them.

use std::process::Command;

use crate::harness::repo_root;

fn runnel() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runnel"));
    command.current_dir(repo_root());
    command
}

#[test]
fn run_prints_the_seed_example_in_both_window_forms() {
    let output = runnel()
        .args(["run", "examples/orders/revenue.sql", "--parallelism", "2"])
        .output()
        .expect("runnel runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    // The group-window query: its header, then 5 windows/customers in any order.
    assert_eq!(
        lines[0],
        "window_start,window_end,customer_id,order_count,total"
    );
    let mut tumble: Vec<&str> = lines[1..6].to_vec();
    tumble.sort();
    assert_eq!(
        tumble,
        vec![
            // o5 (09:02) arrives after o4 (09:05) but before the watermark passes 09:04:59.999.
            "2024-03-01 09:00:00.000,2024-03-01 09:05:00.000,alice,3,27.75",
            "2024-03-01 09:00:00.000,2024-03-01 09:05:00.000,bob,1,20.00",
            "2024-03-01 09:05:00.000,2024-03-01 09:10:00.000,bob,1,3.75",
            "2024-03-01 09:05:00.000,2024-03-01 09:10:00.000,carol,1,7.00",
            "2024-03-01 09:10:00.000,2024-03-01 09:15:00.000,alice,1,1.00",
        ]
    );
    // The TVF query: HOP 10 min every minute puts each order in 10 windows.
    assert_eq!(
        lines[6],
        "window_start,window_end,customer_id,count(*),sum(orders.total_amount)"
    );
    let hop = lines.split_off(7);
    assert!(hop.contains(&"2024-03-01 09:00:00.000,2024-03-01 09:10:00.000,bob,2,23.75"));
    let counted: i64 = hop
        .iter()
        .map(|line| {
            line.split(',')
                .nth(3)
                .expect("count")
                .parse::<i64>()
                .expect("int")
        })
        .sum();
    // Each order falls in 10 windows, but o5 (09:02) arrives when the watermark is 09:04:55:
    // its windows ending 09:03 and 09:04 have fired, so it counts in the other 8 only.
    assert_eq!(counted, 7 * 10 - 2);
}

#[test]
fn check_reports_every_error_with_file_line_column_and_caret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.sql");
    std::fs::write(
        &file,
        "CREATE TABLE t (a INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen');\nCREATE TABLE u (a INT) WITH ('connector' = 'datagen', 'bogus' = 'x');\nSELECT totl\n  FROM t;\nSELECT a, COUNT(*) FROM t GROUP BY a;\n",
    )
    .expect("write");
    let output = runnel()
        .args(["check", file.to_str().expect("path")])
        .output()
        .expect("runnel runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = file.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{name}:2:14: table \"u\": unsupported option 'bogus' for connector 'datagen'"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{name}:3:8: column \"totl\" does not exist [SQLSTATE 42703]\n 3 | SELECT totl\n   |        ^"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("cannot run incrementally"), "{stderr}");
    let clean = runnel()
        .args(["check", "examples/orders/revenue.sql"])
        .output()
        .expect("runnel runs");
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(clean.stdout.is_empty(), "check runs nothing");
}

#[test]
fn insert_jobs_write_a_sink_and_run_fails_on_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let file = dir.path().join("job.sql");
    std::fs::write(
        &file,
        format!(
            "CREATE TABLE g (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
               'connector' = 'datagen', 'number-of-rows' = '1000', 'rows-per-second' = '1000000',
               'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000');
             CREATE TABLE sink (n BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             INSERT INTO sink SELECT COUNT(*), SUM(id) FROM TABLE(TUMBLE(TABLE g, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end;",
            out.display()
        ),
    )
    .expect("write");
    let output = runnel()
        .args(["run", file.to_str().expect("path")])
        .output()
        .expect("runnel runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut written = String::new();
    for entry in std::fs::read_dir(&out).expect("sink directory") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert!(
            name.starts_with("part-"),
            "finished part files only: {name}"
        );
        written.push_str(&std::fs::read_to_string(path).expect("read"));
    }
    // datagen timestamps are within the last second: one or two daily windows.
    let (rows, total) = written.lines().fold((0, 0), |(n, t), line| {
        let mut parts = line.split(',');
        let n_part: i64 = parts.next().expect("n").parse().expect("int");
        let t_part: i64 = parts.next().expect("total").parse().expect("int");
        (n + n_part, t + t_part)
    });
    assert_eq!((rows, total), (1000, 500_500));

    let broken = dir.path().join("broken.sql");
    std::fs::write(&broken, "SELECT * FROM missing;").expect("write");
    let output = runnel()
        .args(["run", broken.to_str().expect("path")])
        .output()
        .expect("runnel runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing"));
}
