//! The table's declared columns bound to generated values, and Arrow batches built from them
//! column by column (flat buffers, no per-row allocation).
//!
//! A `nexmark` table declares any of `event_type`, `person`, `auction` and `bid` (names match
//! without regard to case, as Flink's are written `dateTime`, `emailAddress`, ...), and each
//! ROW any subset of its standard fields in any order; only what is declared is generated.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int32Array, Int64Array, PrimitiveArray, RecordBatch, StringArray, StructArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    DataType, Fields, SchemaRef, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};

use super::model::{
    Channels, EventKind, FIRST_NAMES, HOT_CHANNELS, LAST_NAMES, Model, Pool, Random, Stream,
    US_CITIES, US_STATES, push_string,
};
use crate::error::{ConnectorError, sql_type_name};

/// A field of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonField {
    /// `id`
    Id,
    /// `name`
    Name,
    /// `emailAddress`
    EmailAddress,
    /// `creditCard`
    CreditCard,
    /// `city`
    City,
    /// `state`
    State,
    /// `dateTime`
    DateTime,
    /// `extra`
    Extra,
}

/// A field of an auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuctionField {
    /// `id`
    Id,
    /// `itemName`
    ItemName,
    /// `description`
    Description,
    /// `initialBid`
    InitialBid,
    /// `reserve`
    Reserve,
    /// `dateTime`
    DateTime,
    /// `expires`
    Expires,
    /// `seller`
    Seller,
    /// `category`
    Category,
    /// `extra`
    Extra,
}

/// A field of a bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BidField {
    /// `auction`
    Auction,
    /// `bidder`
    Bidder,
    /// `price`
    Price,
    /// `channel`
    Channel,
    /// `url`
    Url,
    /// `dateTime`
    DateTime,
    /// `extra`
    Extra,
}

/// What a field holds, for type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Int,
    Text,
    Time,
}

const PERSON_FIELDS: &[(&str, PersonField, Shape)] = &[
    ("id", PersonField::Id, Shape::Int),
    ("name", PersonField::Name, Shape::Text),
    ("emailaddress", PersonField::EmailAddress, Shape::Text),
    ("creditcard", PersonField::CreditCard, Shape::Text),
    ("city", PersonField::City, Shape::Text),
    ("state", PersonField::State, Shape::Text),
    ("datetime", PersonField::DateTime, Shape::Time),
    ("extra", PersonField::Extra, Shape::Text),
];

const AUCTION_FIELDS: &[(&str, AuctionField, Shape)] = &[
    ("id", AuctionField::Id, Shape::Int),
    ("itemname", AuctionField::ItemName, Shape::Text),
    ("description", AuctionField::Description, Shape::Text),
    ("initialbid", AuctionField::InitialBid, Shape::Int),
    ("reserve", AuctionField::Reserve, Shape::Int),
    ("datetime", AuctionField::DateTime, Shape::Time),
    ("expires", AuctionField::Expires, Shape::Time),
    ("seller", AuctionField::Seller, Shape::Int),
    ("category", AuctionField::Category, Shape::Int),
    ("extra", AuctionField::Extra, Shape::Text),
];

const BID_FIELDS: &[(&str, BidField, Shape)] = &[
    ("auction", BidField::Auction, Shape::Int),
    ("bidder", BidField::Bidder, Shape::Int),
    ("price", BidField::Price, Shape::Int),
    ("channel", BidField::Channel, Shape::Text),
    ("url", BidField::Url, Shape::Text),
    ("datetime", BidField::DateTime, Shape::Time),
    ("extra", BidField::Extra, Shape::Text),
];

/// One declared top-level column.
#[derive(Debug, Clone)]
enum Column {
    EventType,
    Person(Fields, Vec<PersonField>),
    Auction(Fields, Vec<AuctionField>),
    Bid(Fields, Vec<BidField>),
}

/// The declared columns, checked against the standard schema.
#[derive(Debug, Clone)]
pub struct Layout {
    schema: SchemaRef,
    columns: Vec<Column>,
}

fn unsupported(column: &str, data_type: &DataType, why: &str) -> ConnectorError {
    ConnectorError::UnsupportedColumnType {
        connector: "nexmark".to_string(),
        column: column.to_string(),
        data_type: format!("{} ({why})", sql_type_name(data_type)),
    }
}

fn check_shape(column: &str, data_type: &DataType, shape: Shape) -> Result<(), ConnectorError> {
    let ok = match shape {
        Shape::Int => matches!(data_type, DataType::Int64),
        Shape::Text => matches!(data_type, DataType::Utf8),
        Shape::Time => matches!(data_type, DataType::Timestamp(_, _)),
    };
    if ok {
        return Ok(());
    }
    let expected = match shape {
        Shape::Int => "expected BIGINT",
        Shape::Text => "expected VARCHAR or STRING",
        Shape::Time => "expected TIMESTAMP(3)",
    };
    Err(unsupported(column, data_type, expected))
}

fn bind_fields<T: Copy>(
    column: &str,
    data_type: &DataType,
    known: &[(&str, T, Shape)],
) -> Result<(Fields, Vec<T>), ConnectorError> {
    let DataType::Struct(fields) = data_type else {
        return Err(unsupported(column, data_type, "expected a ROW<...>"));
    };
    let mut bound = Vec::with_capacity(fields.len());
    for field in fields {
        let lower = field.name().to_ascii_lowercase();
        let Some((_, which, shape)) = known.iter().find(|(name, _, _)| *name == lower) else {
            let names: Vec<&str> = known.iter().map(|(name, _, _)| *name).collect();
            return Err(unsupported(
                &format!("{column}.{}", field.name()),
                field.data_type(),
                &format!("no such {column} field; {column} has {}", names.join(", ")),
            ));
        };
        check_shape(
            &format!("{column}.{}", field.name()),
            field.data_type(),
            *shape,
        )?;
        bound.push(*which);
    }
    Ok((fields.clone(), bound))
}

impl Layout {
    /// Binds the table's physical columns; an error names the first column that is not part
    /// of the Nexmark schema or has the wrong type.
    pub fn bind(schema: &SchemaRef) -> Result<Self, ConnectorError> {
        let mut columns = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let name = field.name();
            let column = match name.to_ascii_lowercase().as_str() {
                "event_type" => {
                    if !matches!(field.data_type(), DataType::Int32) {
                        return Err(unsupported(name, field.data_type(), "expected INT"));
                    }
                    Column::EventType
                }
                "person" => {
                    let (fields, bound) = bind_fields(name, field.data_type(), PERSON_FIELDS)?;
                    Column::Person(fields, bound)
                }
                "auction" => {
                    let (fields, bound) = bind_fields(name, field.data_type(), AUCTION_FIELDS)?;
                    Column::Auction(fields, bound)
                }
                "bid" => {
                    let (fields, bound) = bind_fields(name, field.data_type(), BID_FIELDS)?;
                    Column::Bid(fields, bound)
                }
                _ => {
                    return Err(unsupported(
                        name,
                        field.data_type(),
                        "a nexmark table has the columns event_type INT, person ROW<...>, auction ROW<...> and bid ROW<...>",
                    ));
                }
            };
            columns.push(column);
        }
        Ok(Layout {
            schema: schema.clone(),
            columns,
        })
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Reused buffers and the tables built once per split.
#[derive(Debug)]
pub struct BatchBuilder {
    layout: Layout,
    model: Model,
    channels: Arc<Channels>,
    pool: Arc<Pool>,
    kinds: Vec<EventKind>,
    times: Vec<i64>,
}

/// Text values under construction.
struct Text {
    offsets: Vec<i32>,
    data: Vec<u8>,
}

impl Text {
    fn new(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Text {
            offsets,
            data: Vec::with_capacity(bytes),
        }
    }

    fn end_row(&mut self) {
        self.offsets.push(self.data.len() as i32);
    }

    /// Where the current row started.
    fn last(&self) -> i32 {
        self.offsets.last().copied().unwrap_or(0)
    }

    fn finish(self, nulls: Option<NullBuffer>) -> ArrayRef {
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        // Only ASCII is ever generated, so the bytes are valid UTF-8.
        Arc::new(StringArray::new(
            offsets,
            Buffer::from_vec(self.data),
            nulls,
        ))
    }
}

fn timestamps(values: Vec<i64>, data_type: &DataType, nulls: Option<NullBuffer>) -> ArrayRef {
    let DataType::Timestamp(unit, zone) = data_type else {
        return Arc::new(Int64Array::new(ScalarBuffer::from(values), nulls));
    };
    let scale = |factor: i64| -> ScalarBuffer<i64> {
        values.iter().map(|v| v.saturating_mul(factor)).collect()
    };
    match unit {
        TimeUnit::Second => Arc::new(
            PrimitiveArray::<TimestampSecondType>::new(
                values.iter().map(|v| v.div_euclid(1000)).collect(),
                nulls,
            )
            .with_timezone_opt(zone.clone()),
        ),
        TimeUnit::Millisecond => Arc::new(
            PrimitiveArray::<TimestampMillisecondType>::new(ScalarBuffer::from(values), nulls)
                .with_timezone_opt(zone.clone()),
        ),
        TimeUnit::Microsecond => Arc::new(
            PrimitiveArray::<TimestampMicrosecondType>::new(scale(1000), nulls)
                .with_timezone_opt(zone.clone()),
        ),
        TimeUnit::Nanosecond => Arc::new(
            PrimitiveArray::<TimestampNanosecondType>::new(scale(1_000_000), nulls)
                .with_timezone_opt(zone.clone()),
        ),
    }
}

fn push_name(n: u64, out: &mut Vec<u8>) {
    let mut random = Random::new(n, Stream::Name);
    out.extend_from_slice(FIRST_NAMES[random.below(FIRST_NAMES.len() as u64) as usize].as_bytes());
    out.push(b' ');
    out.extend_from_slice(LAST_NAMES[random.below(LAST_NAMES.len() as u64) as usize].as_bytes());
}

fn push_email(n: u64, out: &mut Vec<u8>) {
    let mut random = Random::new(n, Stream::Email);
    push_string(&mut random, 7, b' ', out);
    out.push(b'@');
    push_string(&mut random, 5, b' ', out);
    out.extend_from_slice(b".com");
}

fn push_credit_card(n: u64, out: &mut Vec<u8>) {
    let mut random = Random::new(n, Stream::CreditCard);
    for group in 0..4 {
        if group > 0 {
            out.push(b' ');
        }
        let value = random.below(10_000);
        for digit in [1000, 100, 10, 1] {
            out.push(b'0' + ((value / digit) % 10) as u8);
        }
    }
}

fn push_city(n: u64, out: &mut Vec<u8>) {
    let mut random = Random::new(n, Stream::City);
    out.extend_from_slice(US_CITIES[random.below(US_CITIES.len() as u64) as usize].as_bytes());
}

fn push_state(n: u64, out: &mut Vec<u8>) {
    let mut random = Random::new(n, Stream::State);
    out.extend_from_slice(US_STATES[random.below(US_STATES.len() as u64) as usize].as_bytes());
}

fn push_item_name(n: u64, out: &mut Vec<u8>) {
    push_string(&mut Random::new(n, Stream::ItemName), 20, b' ', out);
}

fn push_description(n: u64, out: &mut Vec<u8>) {
    push_string(&mut Random::new(n, Stream::Description), 100, b' ', out);
}

impl BatchBuilder {
    /// A builder for `layout` with `model`'s values.
    pub fn new(layout: Layout, model: Model, channels: Arc<Channels>, pool: Arc<Pool>) -> Self {
        BatchBuilder {
            layout,
            model,
            channels,
            pool,
            kinds: Vec::new(),
            times: Vec::new(),
        }
    }

    /// The events `first .. first + rows` as one batch.
    pub fn build(&mut self, first: u64, rows: usize) -> Result<RecordBatch, ConnectorError> {
        self.kinds.clear();
        self.times.clear();
        for i in 0..rows as u64 {
            self.kinds.push(self.model.kind(first + i));
            self.times.push(self.model.timestamp(first + i));
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.layout.columns.len());
        let columns = self.layout.columns.clone();
        for column in &columns {
            let array: ArrayRef = match column {
                Column::EventType => Arc::new(Int32Array::from_iter_values(
                    self.kinds.iter().map(|k| k.code()),
                )),
                Column::Person(fields, bound) => self.person(first, fields, bound),
                Column::Auction(fields, bound) => self.auction(first, fields, bound),
                Column::Bid(fields, bound) => self.bid(first, fields, bound),
            };
            arrays.push(array);
        }
        RecordBatch::try_new(self.layout.schema.clone(), arrays)
            .map_err(|e| ConnectorError::Io(format!("nexmark: {e}")))
    }

    fn validity(&self, kind: EventKind) -> NullBuffer {
        NullBuffer::new(BooleanBuffer::collect_bool(self.kinds.len(), |i| {
            self.kinds[i] == kind
        }))
    }

    /// An integer field: `value(n)` for the rows of `kind`, 0 elsewhere (masked by the ROW's
    /// validity).
    fn ints(&self, first: u64, kind: EventKind, value: impl Fn(u64) -> i64) -> Vec<i64> {
        self.kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if *k == kind {
                    value(first + i as u64)
                } else {
                    0
                }
            })
            .collect()
    }

    /// A text field: `push(n, out)` for the rows of `kind`, empty elsewhere.
    fn text(
        &self,
        first: u64,
        kind: EventKind,
        bytes_per_row: usize,
        mut push: impl FnMut(u64, &mut Vec<u8>),
    ) -> Text {
        let rows = self.kinds.len();
        let mut text = Text::new(rows, rows * bytes_per_row);
        for (i, k) in self.kinds.iter().enumerate() {
            if *k == kind {
                push(first + i as u64, &mut text.data);
            }
            text.end_row();
        }
        text
    }

    fn times_of(&self, kind: EventKind) -> Vec<i64> {
        self.kinds
            .iter()
            .zip(&self.times)
            .map(|(k, t)| if *k == kind { *t } else { 0 })
            .collect()
    }

    fn finish_struct(fields: &Fields, children: Vec<ArrayRef>, nulls: NullBuffer) -> ArrayRef {
        Arc::new(StructArray::new(fields.clone(), children, Some(nulls)))
    }

    /// The person strings (name, e-mail, credit card, city, state, extra), made in one pass
    /// since `extra`'s length depends on the others.
    fn person_texts(&self, first: u64) -> [Text; 6] {
        const KIND: EventKind = EventKind::Person;
        let rows = self.kinds.len();
        let people = self.kinds.iter().filter(|k| **k == KIND).count();
        let sizes = [16, 20, 20, 10, 2, 150];
        let mut texts = sizes.map(|size| Text::new(rows, people * size));
        for (i, kind) in self.kinds.iter().enumerate() {
            if *kind == KIND {
                let n = first + i as u64;
                push_name(n, &mut texts[0].data);
                push_email(n, &mut texts[1].data);
                push_credit_card(n, &mut texts[2].data);
                push_city(n, &mut texts[3].data);
                push_state(n, &mut texts[4].data);
                let current = 8 + texts[..5]
                    .iter()
                    .map(|t| t.data.len() as i64 - i64::from(t.last()))
                    .sum::<i64>();
                let length = Model::extra_length(n, current, self.model.avg_person_size);
                texts[5].data.extend_from_slice(self.pool.slice(n, length));
            }
            for text in &mut texts {
                text.end_row();
            }
        }
        texts
    }

    fn person(&self, first: u64, fields: &Fields, bound: &[PersonField]) -> ArrayRef {
        const KIND: EventKind = EventKind::Person;
        let model = &self.model;
        let needs_text = bound
            .iter()
            .any(|f| !matches!(f, PersonField::Id | PersonField::DateTime));
        let mut texts = needs_text.then(|| self.person_texts(first).map(Some));
        let mut take = |slot: usize| -> ArrayRef {
            let text = texts.as_mut().and_then(|t| t[slot].take());
            text.map_or_else(
                || Arc::new(StringArray::new_null(0)) as ArrayRef,
                |t| t.finish(None),
            )
        };
        let mut children: Vec<ArrayRef> = Vec::with_capacity(bound.len());
        for (field, which) in fields.iter().zip(bound) {
            let array: ArrayRef = match which {
                PersonField::Id => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.person_id(n)),
                )),
                PersonField::Name => take(0),
                PersonField::EmailAddress => take(1),
                PersonField::CreditCard => take(2),
                PersonField::City => take(3),
                PersonField::State => take(4),
                PersonField::DateTime => timestamps(self.times_of(KIND), field.data_type(), None),
                PersonField::Extra => take(5),
            };
            children.push(array);
        }
        Self::finish_struct(fields, children, self.validity(KIND))
    }

    /// The auction strings (item name, description, extra), made in one pass since `extra`'s
    /// length depends on the others.
    fn auction_texts(&self, first: u64) -> [Text; 3] {
        const KIND: EventKind = EventKind::Auction;
        let rows = self.kinds.len();
        let auctions = self.kinds.iter().filter(|k| **k == KIND).count();
        let mut texts = [12, 55, 420].map(|size| Text::new(rows, auctions * size));
        for (i, kind) in self.kinds.iter().enumerate() {
            if *kind == KIND {
                let n = first + i as u64;
                push_item_name(n, &mut texts[0].data);
                push_description(n, &mut texts[1].data);
                let current = 8
                    + texts[..2]
                        .iter()
                        .map(|t| t.data.len() as i64 - i64::from(t.last()))
                        .sum::<i64>()
                    + 40;
                let length = Model::extra_length(n, current, self.model.avg_auction_size);
                texts[2].data.extend_from_slice(self.pool.slice(n, length));
            }
            for text in &mut texts {
                text.end_row();
            }
        }
        texts
    }

    fn auction(&self, first: u64, fields: &Fields, bound: &[AuctionField]) -> ArrayRef {
        const KIND: EventKind = EventKind::Auction;
        let model = &self.model;
        let needs_text = bound.iter().any(|f| {
            matches!(
                f,
                AuctionField::ItemName | AuctionField::Description | AuctionField::Extra
            )
        });
        let mut texts = needs_text.then(|| self.auction_texts(first).map(Some));
        let mut take = |slot: usize| -> ArrayRef {
            let text = texts.as_mut().and_then(|t| t[slot].take());
            text.map_or_else(
                || Arc::new(StringArray::new_null(0)) as ArrayRef,
                |t| t.finish(None),
            )
        };
        let mut children: Vec<ArrayRef> = Vec::with_capacity(bound.len());
        for (field, which) in fields.iter().zip(bound) {
            let array: ArrayRef = match which {
                AuctionField::Id => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.auction_id(n)),
                )),
                AuctionField::ItemName => take(0),
                AuctionField::Description => take(1),
                AuctionField::InitialBid => {
                    Arc::new(Int64Array::from(
                        self.ints(first, KIND, |n| model.auction_prices(n).0),
                    ))
                }
                AuctionField::Reserve => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.auction_prices(n).1),
                )),
                AuctionField::DateTime => timestamps(self.times_of(KIND), field.data_type(), None),
                AuctionField::Expires => {
                    let times = &self.times;
                    let values = self
                        .kinds
                        .iter()
                        .enumerate()
                        .map(|(i, k)| {
                            if *k == KIND {
                                model.expires(first + i as u64, times[i])
                            } else {
                                0
                            }
                        })
                        .collect();
                    timestamps(values, field.data_type(), None)
                }
                AuctionField::Seller => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.seller(n)),
                )),
                AuctionField::Category => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.category(n)),
                )),
                AuctionField::Extra => take(2),
            };
            children.push(array);
        }
        Self::finish_struct(fields, children, self.validity(KIND))
    }

    fn bid(&mut self, first: u64, fields: &Fields, bound: &[BidField]) -> ArrayRef {
        const KIND: EventKind = EventKind::Bid;
        let model = &self.model;
        let channels = &self.channels;
        let pool = &self.pool;
        let mut children: Vec<ArrayRef> = Vec::with_capacity(bound.len());
        for (field, which) in fields.iter().zip(bound) {
            let array: ArrayRef = match which {
                BidField::Auction => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.bid_auction(n)),
                )),
                BidField::Bidder => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.bidder(n)),
                )),
                BidField::Price => Arc::new(Int64Array::from(
                    self.ints(first, KIND, |n| model.bid_price(n)),
                )),
                BidField::Channel => self
                    .text(first, KIND, 12, |n, out| match model.channel(n) {
                        Ok(hot) => out.extend_from_slice(HOT_CHANNELS[hot].as_bytes()),
                        Err(other) => out.extend_from_slice(channels.names[other].as_bytes()),
                    })
                    .finish(None),
                BidField::Url => self
                    .text(first, KIND, 72, |n, out| match model.channel(n) {
                        Ok(hot) => out.extend_from_slice(channels.hot_urls[hot].as_bytes()),
                        Err(other) => out.extend_from_slice(channels.urls[other].as_bytes()),
                    })
                    .finish(None),
                BidField::DateTime => timestamps(self.times_of(KIND), field.data_type(), None),
                BidField::Extra => self
                    .text(first, KIND, 84, |n, out| {
                        let length = Model::extra_length(n, 32, model.avg_bid_size);
                        out.extend_from_slice(pool.slice(n, length));
                    })
                    .finish(None),
            };
            children.push(array);
        }
        Self::finish_struct(fields, children, self.validity(KIND))
    }
}
