//! A whole pipeline on the runtime: source -> hash exchange -> parallel window aggregates.

use std::sync::Arc;

use datafusion::physical_expr::expressions::Column;

use super::Message;
use super::exchange::HashPartitioner;
use super::runtime::{Output, edge, run_operator};
use super::watermark::WatermarkGenerator;
use super::window::tests::{
    WINDOW_KINDS, result_lines, rows, run, spec, wandering_input, watermark_expr,
};
use super::window::{WindowAggregate, WindowKind};

fn input() -> Vec<(i64, Option<&'static str>, i64)> {
    wandering_input(600, 17, 25)
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
            Message::Watermark(_) | Message::Idle | Message::Barrier(_) => {}
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

#[tokio::test]
async fn an_instance_watermark_is_the_minimum_of_inputs_still_running() {
    use super::calc::Calc;
    use datafusion::arrow::datatypes::Schema;

    let (a, a_rx) = edge();
    let (b, b_rx) = edge();
    let (out_tx, mut out) = edge();
    let forward = Calc::new(None, Vec::new(), Arc::new(Schema::empty()));
    let task = tokio::spawn(run_operator(
        Box::new(forward),
        vec![a_rx, b_rx],
        Output::Forward(out_tx),
    ));
    let next = |message: Option<Message>| match message {
        Some(Message::Watermark(w)) => format!("watermark {w}"),
        Some(Message::End) => "end".to_string(),
        other => format!("{other:?}"),
    };
    a.send(Message::Watermark(5)).await.expect("send");
    b.send(Message::Watermark(10)).await.expect("send");
    // Nothing before both inputs have a watermark; then their minimum.
    assert_eq!(next(within(out.recv()).await), "watermark 5");
    a.send(Message::Watermark(20)).await.expect("send");
    assert_eq!(next(within(out.recv()).await), "watermark 10");
    // An ended input no longer holds the watermark back.
    b.send(Message::End).await.expect("send");
    assert_eq!(next(within(out.recv()).await), "watermark 20");
    a.send(Message::End).await.expect("send");
    assert_eq!(next(within(out.recv()).await), "end");
    assert!(within(out.recv()).await.is_none());
    task.await.expect("task").expect("operator");
}

/// Awaits `future`, failing the test instead of hanging when the message never comes.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), future)
        .await
        .expect("no message within 10 s")
}
