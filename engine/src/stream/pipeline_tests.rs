//! A whole pipeline on the runtime: source -> hash exchange -> parallel window aggregates.

use std::sync::Arc;

use datafusion::physical_expr::expressions::Column;

use super::Message;
use super::exchange::HashPartitioner;
use super::runtime::{Output, edge, run_operator};
use super::watermark::WatermarkGenerator;
use super::window::tests::{WINDOW_KINDS, result_lines, rows, run, spec, watermark_expr};
use super::window::{WindowAggregate, WindowKind};

/// 600 rows over three keys with a wandering clock; every 17th row is 25 ms behind.
fn input() -> Vec<(i64, Option<&'static str>, i64)> {
    let mut input = Vec::new();
    let mut time = 0i64;
    for i in 0..600i64 {
        time += (i * 7919) % 13 - 4;
        let row_time = if i % 17 == 0 { time - 25 } else { time };
        input.push((row_time, Some(["x", "y", "z"][(i % 3) as usize]), i));
    }
    input
}

/// Runs the pipeline at `parallelism`, feeding batches of `batch_size`.
async fn pipeline(window: WindowKind, parallelism: usize, batch_size: usize) -> Vec<String> {
    let (collect_tx, mut collect_rx) = edge();
    let mut partitions = Vec::new();
    let mut tasks = Vec::new();
    let mut schemas = Vec::new();
    for _ in 0..parallelism {
        let (tx, rx) = edge();
        partitions.push(tx);
        let operator = WindowAggregate::try_new(spec(window)).expect("operator");
        schemas.push(operator.output_schema());
        tasks.push(tokio::spawn(run_operator(
            Box::new(operator),
            vec![rx],
            Output::Forward(collect_tx.clone()),
        )));
    }
    drop(collect_tx);
    let schema = schemas[0].clone();
    let source = tokio::spawn(async move {
        let mut output = Output::Partition(
            HashPartitioner::new(vec![Arc::new(Column::new("k", 1))], parallelism),
            partitions,
        );
        let mut generator = WatermarkGenerator::new(watermark_expr(3));
        for chunk in input().chunks(batch_size) {
            let stamped = generator.stamp(rows(chunk)).expect("stamp");
            output.send(Message::Batch(stamped)).await.expect("send");
            output
                .send(Message::Watermark(generator.current()))
                .await
                .expect("send");
        }
        output.send(Message::End).await.expect("send");
    });
    let mut batches = Vec::new();
    let mut ends = 0;
    while let Some(message) = collect_rx.recv().await {
        match message {
            Message::Batch(batch) => batches.push(batch.data),
            Message::End => ends += 1,
            Message::Watermark(_) => {}
        }
    }
    source.await.expect("source");
    for task in tasks {
        task.await.expect("task").expect("operator");
    }
    assert_eq!(ends, parallelism, "every instance ends once");
    result_lines(&schema, &batches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_instances_give_the_single_instance_result() {
    for window in WINDOW_KINDS {
        let (expected, late) = run(window, 3, &input(), 4096);
        assert!(late > 0, "the input has late rows");
        for parallelism in [1, 2, 4] {
            for batch_size in [1, 7, 4096] {
                let lines = pipeline(window, parallelism, batch_size).await;
                assert_eq!(
                    lines, expected,
                    "{window:?} parallelism {parallelism} batch {batch_size}"
                );
            }
        }
    }
}
