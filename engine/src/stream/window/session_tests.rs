//! Session windows against hand-worked Flink semantics.

use std::sync::Arc;

use datafusion::physical_expr::expressions::Column;

use super::tests::{aggregates, drive, schema, wandering_input};
use super::{SessionAggregate, SessionAggregateSpec};
use crate::stream::Operator;

fn run(
    gap: i64,
    delay: i64,
    input: &[(i64, Option<&str>, i64)],
    batch_size: usize,
) -> (Vec<String>, u64) {
    let mut operator = SessionAggregate::try_new(SessionAggregateSpec {
        input_schema: schema(),
        time_column: 0,
        gap,
        keys: vec![(Arc::new(Column::new("k", 1)), "k".to_string())],
        aggregates: aggregates(),
    })
    .expect("operator");
    let lines = drive(&mut operator, delay, input, batch_size);
    assert_eq!(operator.open_sessions(), 0, "all state freed at the end");
    (lines, operator.metrics().late_rows_dropped())
}

#[test]
fn rows_within_the_gap_form_one_session_per_key() {
    // Gap 10: a at 0, 5 -> [0, 15); a at 30 -> [30, 40); b at 3 -> [3, 13).
    let input = [
        (0, Some("a"), 1),
        (5, Some("a"), 2),
        (3, Some("b"), 4),
        (30, Some("a"), 8),
    ];
    let (lines, late) = run(10, 100, &input, 100);
    assert_eq!(lines, vec!["0 15 a 2 3 2", "3 13 b 1 4 4", "30 40 a 1 8 8"]);
    assert_eq!(late, 0);
}

#[test]
fn a_bridging_row_merges_two_sessions_and_touching_sessions_merge() {
    // Gap 10: [0, 10) and [20, 30); the row at 10 gives [10, 20), which touches both.
    let input = [(0, Some("a"), 1), (20, Some("a"), 2), (10, Some("a"), 4)];
    let (lines, _) = run(10, 100, &input, 1);
    assert_eq!(lines, vec!["0 30 a 3 7 4"]);
}

#[test]
fn a_fired_session_is_never_reopened_and_late_rows_are_counted() {
    // Delay 0, gap 10. After the row at 25 the watermark is 25: [0, 10) has fired.
    // The row at 9 would touch it; on its own, [9, 19) has end - 1 = 18 <= 25: late, dropped.
    // The row at 20: [20, 30) overlaps the open [25, 35), merged into [20, 35).
    let input = [
        (0, Some("a"), 1),
        (25, Some("a"), 2),
        (9, Some("a"), 4),
        (20, Some("a"), 8),
    ];
    let (lines, late) = run(10, 0, &input, 100);
    assert_eq!(lines, vec!["0 10 a 1 1 1", "20 35 a 2 10 8"]);
    assert_eq!(late, 1);

    // With more delay, the row at 9 comes after [0, 10) fired but is not late itself: it
    // starts its own session instead of reopening the fired one.
    let input = [(0, Some("a"), 1), (14, Some("a"), 2), (9, Some("a"), 4)];
    // Delay 5: watermark 9 after the row at 14 -> [0, 10) fires; [9, 19) touches [14, 24).
    let (lines, late) = run(10, 5, &input, 1);
    assert_eq!(lines, vec!["0 10 a 1 1 1", "9 24 a 2 6 4"]);
    assert_eq!(late, 0);
}

#[test]
fn session_results_do_not_depend_on_batch_size() {
    let input = wandering_input(400, 13, 40);
    let (expected, expected_late) = run(8, 3, &input, 4096);
    assert!(expected_late > 0, "the input has late rows");
    for batch_size in [1, 7] {
        let (lines, late) = run(8, 3, &input, batch_size);
        assert_eq!(lines, expected, "batch size {batch_size}");
        assert_eq!(late, expected_late);
    }
}
