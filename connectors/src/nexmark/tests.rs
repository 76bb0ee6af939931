use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StructArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{
    DataType, Field, Fields, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit,
    TimestampMillisecondType,
};

use super::*;

fn text() -> DataType {
    DataType::Utf8
}

fn time() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn row(fields: &[(&str, DataType)]) -> DataType {
    DataType::Struct(Fields::from(
        fields
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// The standard Nexmark source table's physical columns.
fn standard() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_type", DataType::Int32, true),
        Field::new(
            "person",
            row(&[
                ("id", DataType::Int64),
                ("name", text()),
                ("emailAddress", text()),
                ("creditCard", text()),
                ("city", text()),
                ("state", text()),
                ("dateTime", time()),
                ("extra", text()),
            ]),
            true,
        ),
        Field::new(
            "auction",
            row(&[
                ("id", DataType::Int64),
                ("itemName", text()),
                ("description", text()),
                ("initialBid", DataType::Int64),
                ("reserve", DataType::Int64),
                ("dateTime", time()),
                ("expires", time()),
                ("seller", DataType::Int64),
                ("category", DataType::Int64),
                ("extra", text()),
            ]),
            true,
        ),
        Field::new(
            "bid",
            row(&[
                ("auction", DataType::Int64),
                ("bidder", DataType::Int64),
                ("price", DataType::Int64),
                ("channel", text()),
                ("url", text()),
                ("dateTime", time()),
                ("extra", text()),
            ]),
            true,
        ),
    ]))
}

fn parse(pairs: &[(&str, &str)], schema: &SchemaRef) -> Result<NexmarkOptions, ConnectorError> {
    let entries: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut options = Options::new("nexmark", &entries);
    let parsed = parse_options(&mut options, schema)?;
    options.finish()?;
    Ok(parsed)
}

fn options(pairs: &[(&str, &str)]) -> NexmarkOptions {
    parse(pairs, &standard()).expect("options")
}

const BASE: i64 = 1_700_000_000_000;

fn events(options: &NexmarkOptions, first: u64, rows: usize) -> RecordBatch {
    generate(options, BASE, first, rows).expect("generate")
}

fn member<'a>(batch: &'a RecordBatch, column: &str) -> &'a StructArray {
    batch.column_by_name(column).expect("column").as_struct()
}

fn ints(array: &StructArray, field: &str) -> Vec<Option<i64>> {
    let values = array
        .column_by_name(field)
        .expect("field")
        .as_primitive::<Int64Type>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| values.value(i)))
        .collect()
}

fn strings(array: &StructArray, field: &str) -> Vec<Option<String>> {
    let values = array
        .column_by_name(field)
        .expect("field")
        .as_string::<i32>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| values.value(i).to_string()))
        .collect()
}

fn times(array: &StructArray, field: &str) -> Vec<Option<i64>> {
    let values = array
        .column_by_name(field)
        .expect("field")
        .as_primitive::<TimestampMillisecondType>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| values.value(i)))
        .collect()
}

#[test]
fn events_come_in_the_proportions_one_three_forty_six() {
    let batch = events(&options(&[]), 0, 50_000);
    let types = batch.column(0).as_primitive::<Int32Type>();
    let count = |code: i32| types.values().iter().filter(|t| **t == code).count();
    assert_eq!((count(0), count(1), count(2)), (1000, 3000, 46_000));
    // Within every 50 events: one person, then three auctions, then the bids.
    let pattern: Vec<i32> = types.values()[50..100].to_vec();
    assert_eq!(&pattern[..4], &[0, 1, 1, 1]);
    assert!(pattern[4..].iter().all(|t| *t == 2));
    // Exactly one ROW is set per event, the one of its type.
    for (i, t) in types.values().iter().enumerate() {
        let set: Vec<bool> = ["person", "auction", "bid"]
            .iter()
            .map(|c| member(&batch, c).is_valid(i))
            .collect();
        assert_eq!(set, [*t == 0, *t == 1, *t == 2], "event {i}");
    }
    // Other proportions are honoured too.
    let custom = events(
        &options(&[
            ("person.proportion", "2"),
            ("auction.proportion", "2"),
            ("bid.proportion", "6"),
        ]),
        0,
        1000,
    );
    let types = custom.column(0).as_primitive::<Int32Type>();
    assert_eq!(types.values().iter().filter(|t| **t == 0).count(), 200);
    assert_eq!(types.values().iter().filter(|t| **t == 1).count(), 200);
}

#[test]
fn ids_follow_the_event_numbers_and_bids_refer_to_recent_ones() {
    let batch = events(&options(&[]), 0, 100_000);
    let people: Vec<i64> = ints(member(&batch, "person"), "id")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(people, (1000..3000).collect::<Vec<_>>());
    let auctions: Vec<i64> = ints(member(&batch, "auction"), "id")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(auctions, (1000..7000).collect::<Vec<_>>());

    let bids = member(&batch, "bid");
    let mut hot_auctions = 0;
    let mut hot_bidders = 0;
    let mut total = 0;
    for (i, (auction, bidder)) in ints(bids, "auction")
        .into_iter()
        .zip(ints(bids, "bidder"))
        .enumerate()
    {
        let (Some(auction), Some(bidder)) = (auction, bidder) else {
            continue;
        };
        total += 1;
        // The auctions and people that exist at this event (ids from 1000), plus the lead.
        let epoch = i as i64 / 50;
        let last_auction = 1000 + epoch * 3 + 2;
        let last_person = 1000 + epoch;
        assert!(auction >= 1000 && auction <= last_auction + 10, "bid {i}");
        assert!(auction >= last_auction - 100 - 100, "bid {i} too old");
        assert!(bidder >= 1000 && bidder <= last_person + 10, "bid {i}");
        if (auction - 1000) % 100 == 0 {
            hot_auctions += 1;
        }
        if (bidder - 1000) % 100 == 1 {
            hot_bidders += 1;
        }
    }
    // Hot auctions: 1 - 1/2 of bids (plus the random ones that land there); hot bidders 3/4.
    let share = |n: i32| f64::from(n) / f64::from(total);
    assert!(
        (0.49..0.56).contains(&share(hot_auctions)),
        "{}",
        share(hot_auctions)
    );
    assert!(
        (0.74..0.78).contains(&share(hot_bidders)),
        "{}",
        share(hot_bidders)
    );

    let sellers = ints(member(&batch, "auction"), "seller");
    let hot_sellers = sellers
        .iter()
        .flatten()
        .filter(|s| (**s - 1000) % 100 == 0)
        .count();
    let share = hot_sellers as f64 / 6000.0;
    assert!((0.74..0.78).contains(&share), "{share}");
    let categories = ints(member(&batch, "auction"), "category");
    assert!(categories.iter().flatten().all(|c| (10..15).contains(c)));
}

#[test]
fn event_time_is_spaced_by_the_rate() {
    let batch = events(&options(&[("first-event.rate", "1000")]), 0, 5000);
    let event_times = |batch: &RecordBatch| -> Vec<i64> {
        let people = times(member(batch, "person"), "dateTime");
        let auctions = times(member(batch, "auction"), "dateTime");
        let bids = times(member(batch, "bid"), "dateTime");
        (0..batch.num_rows())
            .map(|i| people[i].or(auctions[i]).or(bids[i]).expect("one kind"))
            .collect()
    };
    let times_1000 = event_times(&batch);
    assert_eq!(
        times_1000,
        (0..5000).map(|n| BASE + n).collect::<Vec<_>>(),
        "1000 events/s: one per millisecond"
    );
    // 10 M events per second: ten thousand events share a millisecond.
    let fast = events(&options(&[("first-event.rate", "10000000")]), 0, 30_000);
    let fast_times = event_times(&fast);
    assert_eq!(fast_times[9_999], BASE);
    assert_eq!(fast_times[10_000], BASE + 1);
    assert_eq!(fast_times[29_999], BASE + 2);
    // SQUARE: 1000/s for 5 s, then 100/s for 5 s, then again.
    let square = options(&[
        ("first-event.rate", "1000"),
        ("next-event.rate", "100"),
        ("rate.period", "10 s"),
    ]);
    let model = square.model();
    let at = |n: u64| {
        let mut model = model.clone();
        model.base_time = 0;
        model.timestamp(n)
    };
    assert_eq!(at(4999), 4999);
    assert_eq!(at(5000), 5000);
    assert_eq!(at(5001), 5010);
    assert_eq!(at(5499), 9990);
    assert_eq!(at(5500), 10_000);
    assert_eq!(at(10_500), 15_000);
}

#[test]
fn values_have_the_published_shapes() {
    let batch = events(&options(&[]), 0, 200_000);
    let people = member(&batch, "person");
    for ((((name, email), card), state), extra) in strings(people, "name")
        .into_iter()
        .flatten()
        .zip(strings(people, "emailAddress").into_iter().flatten())
        .zip(strings(people, "creditCard").into_iter().flatten())
        .zip(strings(people, "state").into_iter().flatten())
        .zip(strings(people, "extra").into_iter().flatten())
    {
        let (first, last) = name.split_once(' ').expect("first and last name");
        assert!(model::FIRST_NAMES.contains(&first) && model::LAST_NAMES.contains(&last));
        assert!(email.ends_with(".com") && email.contains('@'), "{email}");
        assert_eq!(card.len(), 19);
        assert!(
            card.split(' ')
                .all(|g| g.len() == 4 && g.parse::<u32>().is_ok())
        );
        assert!(model::US_STATES.contains(&state.as_str()));
        assert!(extra.bytes().all(|b| b.is_ascii_lowercase()));
    }

    let bids = member(&batch, "bid");
    let prices: Vec<i64> = ints(bids, "price").into_iter().flatten().collect();
    assert!(prices.iter().all(|p| (100..=100_000_000).contains(p)));
    // Log-uniform over six decades: the median is about $1000.
    let mut sorted = prices.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    assert!((80_000..125_000).contains(&median), "{median}");

    // A bid averages 100 bytes: 32 of numbers and about 68 of padding.
    let extras: Vec<usize> = strings(bids, "extra")
        .into_iter()
        .flatten()
        .map(|e| e.len())
        .collect();
    let mean = extras.iter().sum::<usize>() as f64 / extras.len() as f64;
    assert!((66.0..70.0).contains(&mean), "{mean}");
    assert!(extras.iter().all(|l| (54..82).contains(l)));

    // Half the bids come through the four hot channels; most others carry a channel_id.
    let channels: Vec<String> = strings(bids, "channel").into_iter().flatten().collect();
    let urls: Vec<String> = strings(bids, "url").into_iter().flatten().collect();
    let hot = channels
        .iter()
        .filter(|c| model::HOT_CHANNELS.contains(&c.as_str()))
        .count();
    let share = hot as f64 / channels.len() as f64;
    assert!((0.48..0.52).contains(&share), "{share}");
    let with_id = channels
        .iter()
        .zip(&urls)
        .filter(|(c, u)| c.starts_with("channel-") && u.contains("&channel_id="))
        .count();
    let share = with_id as f64 / (channels.len() - hot) as f64;
    assert!((0.85..0.95).contains(&share), "{share}");
    assert!(
        urls.iter()
            .all(|u| u.starts_with("https://www.nexmark.com/"))
    );
    assert!(
        urls.iter()
            .all(|u| u.split('/').count() >= 7 && u.contains("/item.htm?query=1"))
    );

    let auctions = member(&batch, "auction");
    let created = times(auctions, "dateTime");
    let expires = times(auctions, "expires");
    for (c, e) in created.iter().flatten().zip(expires.iter().flatten()) {
        assert!(e > c);
    }
    let reserve = ints(auctions, "reserve");
    let initial = ints(auctions, "initialBid");
    for (r, i) in reserve.iter().flatten().zip(initial.iter().flatten()) {
        assert!(r > i);
    }
}

fn read_all(mut splits: Vec<Box<dyn SplitReader>>) -> Vec<Vec<RecordBatch>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut out = Vec::new();
        for split in &mut splits {
            let mut batches = Vec::new();
            while let Some(batch) = split.next_batch().await.expect("batch") {
                batches.push(batch);
            }
            out.push(batches);
        }
        out
    })
}

fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let schema = batches[0].schema();
    let all = concat_batches(&schema, batches).expect("concat");
    let formatted = datafusion::arrow::util::pretty::pretty_format_batches(&[all])
        .expect("format")
        .to_string();
    let mut rows: Vec<String> = formatted
        .lines()
        .filter(|l| l.starts_with("| "))
        .skip(1)
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

#[test]
fn splits_divide_the_same_events_whatever_the_parallelism() {
    let pairs = [
        ("events.num", "25000"),
        ("first-event.rate", "20000"),
        ("max-emit-speed", "true"),
        ("base-time", "2024-01-01 00:00:00"),
    ];
    let nexmark = options(&pairs);
    let one = read_all(nexmark.splits(1, None));
    let three = read_all(nexmark.splits(3, None));
    let again = read_all(nexmark.splits(3, None));
    let count = |splits: &[Vec<RecordBatch>]| -> usize {
        splits.iter().flatten().map(RecordBatch::num_rows).sum()
    };
    assert_eq!(count(&one), 25_000);
    assert_eq!(count(&three), 25_000);
    // The same configuration gives the same batches in the same order per split.
    assert_eq!(three, again);
    let flat = |splits: Vec<Vec<RecordBatch>>| -> Vec<RecordBatch> {
        splits.into_iter().flatten().collect()
    };
    assert_eq!(sorted_rows(&flat(one)), sorted_rows(&flat(three)));
}

#[test]
fn a_resumed_split_continues_where_it_stopped() {
    let pairs = [
        ("events.num", "20000"),
        ("first-event.rate", "20000"),
        ("max-emit-speed", "true"),
    ];
    let nexmark = options(&pairs);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let (first_two, positions) = runtime.block_on(async {
        let mut splits = nexmark.splits(2, None);
        let mut batches = Vec::new();
        for split in &mut splits {
            batches.push(split.next_batch().await.expect("batch").expect("some"));
        }
        let positions: BTreeMap<String, i64> = splits.iter().flat_map(|s| s.position()).collect();
        (batches, positions)
    });
    assert_eq!(positions.get("nexmark:0"), Some(&2));
    assert_eq!(positions.get("nexmark:1"), Some(&3));
    let base = positions["nexmark:0:base-time"];
    // Without a fixed base time, the resumed splits keep the first run's timeline.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let resumed = read_all(nexmark.splits(2, Some(&positions)));
    let uninterrupted = {
        let mut fixed = nexmark.clone();
        fixed.model.base_time = base;
        fixed.fixed_base = true;
        read_all(fixed.splits(2, None))
    };
    for (split, batches) in uninterrupted.iter().enumerate() {
        assert_eq!(batches[0], first_two[split]);
        assert_eq!(&batches[1..], resumed[split].as_slice());
    }
}

#[test]
fn declared_subsets_and_bad_columns() {
    // A table may declare some fields only, in any order, with any case.
    let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new(
        "BID",
        row(&[("PRICE", DataType::Int64), ("datetime", time())]),
        true,
    )]));
    let subset = parse(&[], &schema).expect("subset");
    let batch = generate(&subset, BASE, 0, 100).expect("generate");
    let full = events(&options(&[]), 0, 100);
    assert_eq!(
        ints(member(&batch, "BID"), "PRICE"),
        ints(member(&full, "bid"), "price")
    );

    let bad = |fields: Vec<Field>| {
        parse(&[], &Arc::new(Schema::new(fields)))
            .expect_err("refused")
            .to_string()
    };
    let message = bad(vec![Field::new("bids", DataType::Int32, true)]);
    assert!(message.contains("column 'bids'"), "{message}");
    let message = bad(vec![Field::new("event_type", DataType::Utf8, true)]);
    assert!(message.contains("expected INT"), "{message}");
    let message = bad(vec![Field::new(
        "bid",
        row(&[("cost", DataType::Int64)]),
        true,
    )]);
    assert!(
        message.contains("bid.cost") && message.contains("price"),
        "{message}"
    );
    let message = bad(vec![Field::new(
        "bid",
        row(&[("price", DataType::Utf8)]),
        true,
    )]);
    assert!(message.contains("expected BIGINT"), "{message}");

    let refused =
        |pairs: &[(&str, &str)]| parse(pairs, &standard()).expect_err("refused").to_string();
    assert!(refused(&[("rate.shape", "SINE")]).contains("only SQUARE"));
    assert!(refused(&[("first-event.rate", "0")]).contains("positive"));
    assert!(refused(&[("base-time", "yesterday")]).contains("base-time"));
    assert!(refused(&[("bid.avg-size", "33kb")]).contains("at most 32kb"));
    // The largest average is met: 32 KiB bids are 32 KiB on average.
    let big = options(&[("bid.avg-size", "32kb")]);
    let batch = events(&big, 0, 5000);
    let lengths: Vec<usize> = strings(member(&batch, "bid"), "extra")
        .into_iter()
        .flatten()
        .map(|e| e.len())
        .collect();
    let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
    assert!((32_000.0..33_500.0).contains(&(mean + 32.0)), "{mean}");
    assert!(refused(&[("events.number", "10")]).contains("unsupported option 'events.number'"));
}

#[tokio::test]
async fn without_max_emit_speed_events_come_as_the_clock_passes_their_event_time() {
    // 1000 events/s in blocks of 100 (a tenth of a second each), from before 1970: the third
    // block is due 200 ms after the first.
    let pairs = [
        ("events.num", "300"),
        ("first-event.rate", "1000"),
        ("base-time", "1969-12-31 23:59:59"),
    ];
    let mut splits = options(&pairs).splits(1, None);
    let split = &mut splits[0];
    let started = std::time::Instant::now();
    let mut events = 0;
    while let Some(batch) = split.next_batch().await.expect("batch") {
        events += batch.num_rows();
    }
    let elapsed = started.elapsed();
    assert_eq!(events, 300);
    assert!(
        elapsed >= std::time::Duration::from_millis(200),
        "{elapsed:?}"
    );
}
