use std::sync::Arc;

use datafusion::arrow::array::{Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use super::*;

fn batch(ids: &[i32], names: &[&str]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names.to_vec())),
        ],
    )
    .expect("valid batch")
}

#[test]
fn segments_and_catalog_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        let mut write = StoreWrite::default();
        write.put_catalog_object("t", b"table t".to_vec());
        write.put_meta_u64("next_object_id", 7);
        write
            .append_segment(1, 0, &[batch(&[1, 2], &["a", "b"])])
            .expect("encode");
        write
            .append_segment(2, 0, &[batch(&[9], &["other"])])
            .expect("encode");
        store.commit(write).expect("commit");
        let mut write = StoreWrite::default();
        write
            .append_segment(1, 1, &[batch(&[3], &["c"])])
            .expect("encode");
        store.commit(write).expect("commit");
    }
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(
        store.catalog_objects().expect("objects"),
        vec![("t".to_string(), b"table t".to_vec())]
    );
    assert_eq!(store.meta_u64("next_object_id").expect("meta"), Some(7));
    let (batches, next_seq) = store.table_segments(1).expect("segments");
    assert_eq!(next_seq, 2);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 3);
    assert_eq!(batches[1], batch(&[3], &["c"]));
    let (other, _) = store.table_segments(2).expect("segments");
    assert_eq!(other, vec![batch(&[9], &["other"])]);
}

#[test]
fn clear_table_removes_only_that_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mut write = StoreWrite::default();
    write
        .append_segment(1, 0, &[batch(&[1], &["a"])])
        .expect("encode");
    write
        .append_segment(2, 0, &[batch(&[2], &["b"])])
        .expect("encode");
    store.commit(write).expect("commit");
    let mut write = StoreWrite::default();
    write.clear_table(1);
    write.delete_catalog_object("t");
    store.commit(write).expect("commit");
    assert_eq!(store.table_segments(1).expect("segments"), (vec![], 0));
    assert_eq!(store.table_segments(2).expect("segments").0.len(), 1);
}

#[test]
fn second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _store = Store::open(dir.path()).expect("open");
    let err = Store::open(dir.path()).expect_err("second open must fail");
    assert!(matches!(err, StorageError::Locked { .. }), "{err}");
}

#[test]
fn unknown_layout_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        let mut write = StoreWrite::default();
        write.put_meta_u64("layout_version", LAYOUT_VERSION + 1);
        store.commit(write).expect("commit");
    }
    let err = Store::open(dir.path()).expect_err("must refuse");
    assert!(matches!(err, StorageError::UnknownLayout { .. }), "{err}");
}

#[test]
fn state_entries_are_read_by_prefix_and_a_prefix_delete_leaves_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mut write = StoreWrite::default();
    write.put_state(b"job/a\0m".to_vec(), b"1".to_vec());
    write.put_state(b"job/a\0o1".to_vec(), b"2".to_vec());
    write.put_state(b"job/ab\0m".to_vec(), b"3".to_vec());
    store.commit(write).expect("commit");
    let entries = store.state_entries(b"job/a\0").expect("read");
    assert_eq!(
        entries,
        vec![
            (b"m".to_vec(), b"1".to_vec()),
            (b"o1".to_vec(), b"2".to_vec())
        ]
    );
    let mut write = StoreWrite::default();
    write.delete_state_prefix(b"job/a\0".to_vec());
    store.commit(write).expect("commit");
    assert!(store.state_entries(b"job/a\0").expect("read").is_empty());
    assert_eq!(
        store.state_get(b"job/ab\0m").expect("read"),
        Some(b"3".to_vec())
    );
}
