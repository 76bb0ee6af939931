//! Window state in the store: results under a memory budget, incremental checkpoints, and
//! recovery that discards what the crashed instance wrote after its last durable epoch.

use std::sync::Arc;

use super::WindowAggregate;
use super::tests::{WINDOW_KINDS, output_lines as lines, rows, settle, spec};
use crate::checkpoint::{
    JobKey, MemoryBudget, OperatorGroup, StateEntries, StateOp, StateSpace, StateWriter,
};
use crate::storage::{Store, StoreWrite};
use crate::stream::watermark::WatermarkGenerator;
use crate::stream::{Message, Operator};

type Input<'a> = Vec<(i64, Option<&'a str>, i64)>;

/// `count` distinct keys.
fn keys_of(count: usize) -> Vec<String> {
    (0..count).map(|k| format!("key-{k}")).collect()
}

/// 997 distinct keys.
fn keys() -> Vec<String> {
    keys_of(997)
}

/// Rows over `keys` on a clock that wanders forward (some rows late).
fn input(keys: &[String], rows: i64) -> Input<'_> {
    let mut time = 0i64;
    (0..rows)
        .map(|i| {
            time += (i * 7919) % 5 - 1;
            let key = &keys[((i * 31) % keys.len() as i64) as usize];
            (time, Some(key.as_str()), i)
        })
        .collect()
}

/// A store in a fresh directory (kept while the directory handle lives).
fn temp_store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("store"));
    (dir, store)
}

/// An operator whose state lives in `store` under job `job`, with a budget of `budget` bytes.
fn attached(
    window: super::WindowKind,
    store: &Arc<Store>,
    budget: &Arc<MemoryBudget>,
) -> (WindowAggregate, Vec<u8>) {
    let key = JobKey::new("runs-test");
    let mut operator = WindowAggregate::try_new(spec(window)).expect("operator");
    operator.attach(StateSpace::new(
        store.clone(),
        key.space(OperatorGroup::Keyed, 0),
        budget.clone(),
    ));
    (operator, key.operator(OperatorGroup::Keyed, 0))
}

/// Feeds `chunk`s through `generator` (watermark `ts - 2 ms` after each batch).
fn feed(
    operator: &mut WindowAggregate,
    generator: &mut WatermarkGenerator,
    input: &[(i64, Option<&str>, i64)],
    batch_size: usize,
    out: &mut Vec<Message>,
    mut after_batch: impl FnMut(&WindowAggregate),
) {
    for chunk in input.chunks(batch_size) {
        let stamped = generator.stamp(rows(chunk)).expect("stamp");
        operator.on_batch(stamped, out).expect("batch");
        after_batch(operator);
        operator
            .on_watermark(generator.current(), out)
            .expect("watermark");
        settle(operator, out);
    }
}

/// Runs the whole input through an operator without a store.
fn in_memory(window: super::WindowKind, input: &[(i64, Option<&str>, i64)]) -> Vec<String> {
    let mut operator = WindowAggregate::try_new(spec(window)).expect("operator");
    let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
    let mut out = Vec::new();
    feed(&mut operator, &mut generator, input, 64, &mut out, |_| {});
    operator.on_end(&mut out).expect("end");
    settle(&mut operator, &mut out);
    lines(out)
}

/// Applies an operator's checkpoint to the store as the coordinator does; returns the bytes
/// the checkpoint counted.
fn checkpoint(operator: &mut WindowAggregate, store: &Store, namespace: &[u8]) -> u64 {
    let mut writer = StateWriter::new(namespace.to_vec());
    operator.checkpoint(&mut writer).expect("checkpoint");
    let mut write = StoreWrite::default();
    let mut bytes = 0;
    for op in writer.into_ops() {
        bytes += op.size() as u64;
        op.apply(&mut write);
    }
    store.commit(write).expect("commit");
    bytes
}

#[test]
fn with_no_memory_budget_state_leaves_memory_after_every_batch_and_results_stay_the_same() {
    let keys = keys();
    let input = input(&keys, 4000);
    for window in WINDOW_KINDS {
        let expected = in_memory(window, &input);
        assert!(
            expected.len() > 500,
            "{window:?}: {} results",
            expected.len()
        );
        let (_dir, store) = temp_store();
        // A zero budget: every batch exceeds it. Batches of 16 rows write more than 16 runs to
        // some buckets of long windows, so merged runs are exercised too.
        let (mut operator, _) = attached(window, &store, &Arc::new(MemoryBudget::new(0)));
        let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
        let mut out = Vec::new();
        let mut peak = 0;
        feed(&mut operator, &mut generator, &input, 16, &mut out, |op| {
            peak = peak.max(op.memory())
        });
        operator.on_end(&mut out).expect("end");
        settle(&mut operator, &mut out);
        assert_eq!(
            peak, 0,
            "{window:?}: no table stays in memory after a batch"
        );
        assert_eq!(lines(out), expected, "{window:?}");
    }
}

#[test]
fn under_a_budget_memory_stays_bounded_while_unlimited_it_grows() {
    let keys = keys();
    // One long window: every key's group stays open until the end.
    let window = super::WindowKind::Tumble {
        size: 1_000_000,
        offset: 0,
    };
    let input = input(&keys, 20_000);
    let peak = |budget: usize| {
        let (_dir, store) = temp_store();
        let budget = Arc::new(MemoryBudget::new(budget));
        let (mut operator, _) = attached(window, &store, &budget);
        let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
        let mut out = Vec::new();
        let mut peak = 0;
        feed(&mut operator, &mut generator, &input, 256, &mut out, |op| {
            peak = peak.max(op.memory())
        });
        assert_eq!(
            budget.used(),
            operator.memory(),
            "the budget counts the tables"
        );
        operator.on_end(&mut out).expect("end");
        settle(&mut operator, &mut out);
        (peak, lines(out))
    };
    let (unlimited, expected) = peak(usize::MAX);
    assert!(!expected.is_empty());
    let budget = 16 << 10;
    let (bounded, got) = peak(budget);
    assert_eq!(got, expected);
    assert!(
        unlimited > 4 * budget,
        "the unlimited run holds {unlimited} bytes"
    );
    // After each batch the operator is back under the budget.
    assert!(
        bounded <= budget,
        "held {bounded} bytes with a budget of {budget}"
    );
}

#[test]
fn a_window_in_the_store_fires_one_bucket_at_a_time_with_the_watermark_last() {
    let keys = keys();
    let window = super::WindowKind::Tumble {
        size: 1_000_000,
        offset: 0,
    };
    let input = input(&keys, 3000);
    let expected = in_memory(window, &input);
    for through_chain_end in [false, true] {
        let (_dir, store) = temp_store();
        let (mut operator, _) = attached(window, &store, &Arc::new(MemoryBudget::new(0)));
        let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
        // The clock starts just below 0: the window before it fires while feeding.
        let mut fed = Vec::new();
        feed(&mut operator, &mut generator, &input, 64, &mut fed, |_| {});
        let mut out = Vec::new();
        let mut chain = crate::stream::chain::Chain::new(vec![Box::new(operator)]);
        if through_chain_end {
            chain.on_end(&mut out).expect("end");
        } else {
            chain.on_watermark(2_000_000, &mut out).expect("watermark");
        }
        // One part now, the rest when asked for: never the whole window at once.
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(matches!(out[0], Message::Batch(_)));
        while chain.pending() {
            let before = out.len();
            chain.resume(&mut out).expect("resume");
            assert!(out.len() - before <= 1);
        }
        let parts = out
            .iter()
            .filter(|m| matches!(m, Message::Batch(_)))
            .count();
        assert!(parts > 32, "{parts} parts");
        let last_is_watermark = matches!(out.last(), Some(Message::Watermark(2_000_000)));
        assert_eq!(last_is_watermark, !through_chain_end);
        fed.extend(out);
        assert_eq!(lines(fed), expected);
    }
}

#[test]
fn a_dropped_operator_gives_its_memory_back_to_the_budget() {
    let keys = keys();
    let input = input(&keys, 2000);
    let (_dir, store) = temp_store();
    let budget = Arc::new(MemoryBudget::new(usize::MAX));
    let window = super::WindowKind::Tumble {
        size: 1_000_000,
        offset: 0,
    };
    let (mut operator, _) = attached(window, &store, &budget);
    let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
    feed(
        &mut operator,
        &mut generator,
        &input,
        100,
        &mut Vec::new(),
        |_| {},
    );
    assert!(budget.used() > 0);
    assert_eq!(budget.used(), operator.memory());
    drop(operator);
    assert_eq!(budget.used(), 0);
}

#[test]
fn checkpoints_write_changes_only_and_recovery_discards_runs_after_the_last_epoch() {
    let keys = keys_of(20_000);
    let window = super::WindowKind::Tumble {
        size: 1_000_000,
        offset: 0,
    };
    let input = input(&keys, 30_000);
    let expected = in_memory(window, &input);
    let (_dir, store) = temp_store();
    let budget = Arc::new(MemoryBudget::new(usize::MAX / 4));
    let (mut first, namespace) = attached(window, &store, &budget);
    let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
    let mut out = Vec::new();
    feed(
        &mut first,
        &mut generator,
        &input[..19_968],
        64,
        &mut out,
        |_| {},
    );
    let full = checkpoint(&mut first, &store, &namespace);
    // 64 rows touch at most 64 of the thousands of groups: the next checkpoint writes those alone.
    feed(
        &mut first,
        &mut generator,
        &input[19_968..20_032],
        64,
        &mut out,
        |_| {},
    );
    let changes = checkpoint(&mut first, &store, &namespace);
    assert!(
        changes * 5 < full,
        "a checkpoint after 64 rows wrote {changes} bytes, the first {full}"
    );
    // The instance goes on over a budget that is used up, so its state leaves memory after
    // every batch (runs after the epoch), then it dies.
    budget.update(0, usize::MAX / 2);
    let mut lost = Vec::new();
    let mut peak = 0;
    feed(
        &mut first,
        &mut generator,
        &input[20_032..25_024],
        64,
        &mut lost,
        |op| peak = peak.max(op.memory()),
    );
    assert_eq!(peak, 0, "the crashed instance wrote runs");
    drop(first);

    // Recovery: the operator namespace holds a few small keys, no window state.
    let entries = store.state_entries(&namespace).expect("entries");
    let stored: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(stored < 200, "{} entries, {stored} bytes", entries.len());
    let (mut second, _) = attached(window, &store, &Arc::new(MemoryBudget::new(usize::MAX)));
    second
        .restore(&StateEntries::new(entries))
        .expect("restore");
    assert_eq!(second.memory(), 0, "nothing is loaded");
    let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
    let _ = generator.stamp(rows(&input[..20_032])).expect("stamp");
    feed(
        &mut second,
        &mut generator,
        &input[20_032..],
        64,
        &mut out,
        |_| {},
    );
    second.on_end(&mut out).expect("end");
    settle(&mut second, &mut out);
    assert_eq!(lines(out), expected);
    // The fired window's state leaves the store with the next epoch.
    checkpoint(&mut second, &store, &namespace);
    let space = JobKey::new("runs-test").space(OperatorGroup::Keyed, 0);
    assert_eq!(store.state_entries(&space).expect("entries").len(), 0);
}

#[test]
fn state_ops_of_the_operator_stay_inside_its_key_spaces() {
    let keys = keys();
    let input = input(&keys, 500);
    let (_dir, store) = temp_store();
    let (mut operator, namespace) =
        attached(WINDOW_KINDS[1], &store, &Arc::new(MemoryBudget::new(0)));
    let mut generator = WatermarkGenerator::new(super::tests::watermark_expr(2));
    let mut out = Vec::new();
    feed(&mut operator, &mut generator, &input, 50, &mut out, |_| {});
    let mut writer = StateWriter::new(namespace.clone());
    operator.checkpoint(&mut writer).expect("checkpoint");
    let space = JobKey::new("runs-test").space(OperatorGroup::Keyed, 0);
    for op in writer.into_ops() {
        match op {
            StateOp::Put(key, _) | StateOp::Delete(key) | StateOp::DeletePrefix(key) => {
                assert!(key.starts_with(&namespace), "{key:?}")
            }
            StateOp::DeleteRange(from, to) => {
                assert!(from.starts_with(&space) && to > from, "{from:?}..{to:?}")
            }
            StateOp::Written(bytes) => assert!(bytes > 0),
        }
    }
}
