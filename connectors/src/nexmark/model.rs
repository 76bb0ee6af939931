//! The Nexmark event model: which event a number is, its ids, its time and its values.
//!
//! Semantics follow the published Nexmark generator (Apache Beam's
//! `org.apache.beam.sdk.nexmark.sources.generator`, carried over into the Flink Nexmark
//! connector, `nexmark/nexmark` on GitHub); `docs/connectors.md` lists them with the
//! deliberate differences. In short:
//!
//! - Event `n` (from 0) is a person, an auction or a bid by `n mod (p + a + b)` against the
//!   proportions (1:3:46 by default): the first `p` slots of every 50 are people, the next `a`
//!   auctions, the rest bids.
//! - Ids come from the event number: the person and auction ids are the count of people and
//!   auctions before this event (plus 1000, the first id of both); a bid's auction and bidder
//!   are "hot" (the first auction / second person of the current block of 100) with
//!   probability `1 - 1/ratio`, otherwise a random recent one.
//! - Event time is `base + n * 1e6 / rate` microseconds (rounded down to milliseconds); with
//!   `next-event.rate` different from `first-event.rate` the rate alternates every half
//!   `rate.period` (Beam's SQUARE shape).
//! - Values are random, but a function of the event number only: every field draws from its
//!   own counter-based random stream seeded by `(event number, field)`. The same
//!   configuration gives the same events whatever the parallelism, and a field that is not
//!   declared costs nothing.

/// The first person id (Nexmark's `FIRST_PERSON_ID`).
pub const FIRST_PERSON_ID: i64 = 1000;
/// The first auction id (Nexmark's `FIRST_AUCTION_ID`).
pub const FIRST_AUCTION_ID: i64 = 1000;
/// The first category id.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// How many categories there are.
pub const NUM_CATEGORIES: u64 = 5;
/// Random person ids are drawn among this many recent people.
pub const NUM_ACTIVE_PEOPLE: i64 = 1000;
/// Random auction ids are drawn among this many recent auctions.
pub const NUM_IN_FLIGHT_AUCTIONS: i64 = 100;
/// Ids up to this many ahead of the last one may be drawn (a bid may name an auction or
/// person generated just after it).
pub const ID_LEAD: i64 = 10;
/// Hot ids are the first (sellers, auctions) or second (bidders) of each block of this many.
pub const HOT_BLOCK: i64 = 100;
/// A bid's channel is one of the hot channels with probability `1 - 1/HOT_CHANNELS_RATIO`.
pub const HOT_CHANNELS_RATIO: u64 = 2;
/// The hot channels.
pub const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// How many other channels there are (`channel-0` ... `channel-9999`).
pub const CHANNELS: u64 = 10_000;

/// First names of people.
pub const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
/// Last names of people.
pub const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
/// Cities of people.
pub const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
/// States of people.
pub const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A new person (`event_type` 0).
    Person,
    /// A new auction (`event_type` 1).
    Auction,
    /// A bid (`event_type` 2).
    Bid,
}

impl EventKind {
    /// The `event_type` column's value.
    pub fn code(self) -> i32 {
        match self {
            EventKind::Person => 0,
            EventKind::Auction => 1,
            EventKind::Bid => 2,
        }
    }
}

/// The generator's parameters (the connector's options, resolved).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// People per `total` events.
    pub person_proportion: i64,
    /// Auctions per `total` events.
    pub auction_proportion: i64,
    /// Bids per `total` events.
    pub bid_proportion: i64,
    /// Average bytes of a person, an auction and a bid (the `extra` field pads to it).
    pub avg_person_size: i64,
    /// See `avg_person_size`.
    pub avg_auction_size: i64,
    /// See `avg_person_size`.
    pub avg_bid_size: i64,
    /// A bid is for a hot auction with probability `1 - 1/hot_auctions_ratio`.
    pub hot_auctions_ratio: u64,
    /// A bid is by a hot bidder with probability `1 - 1/hot_bidders_ratio`.
    pub hot_bidders_ratio: u64,
    /// An auction is by a hot seller with probability `1 - 1/hot_sellers_ratio`.
    pub hot_sellers_ratio: u64,
    /// Event time of event 0, milliseconds since the epoch.
    pub base_time: i64,
    /// The rate steps: (events in the step, microseconds between events).
    pub steps: Vec<(f64, f64)>,
}

/// Field streams: each field of an event draws from the stream `(event, field)`.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    /// Person name.
    Name = 1,
    /// Person email address.
    Email,
    /// Person credit card.
    CreditCard,
    /// Person city.
    City,
    /// Person state.
    State,
    /// Length of the extra padding of any event.
    Extra,
    /// Where in the pool the extra padding starts.
    ExtraOffset,
    /// Auction item name.
    ItemName,
    /// Auction description.
    Description,
    /// Auction initial bid and reserve.
    Prices,
    /// Auction length.
    Expires,
    /// Auction seller.
    Seller,
    /// Auction category.
    Category,
    /// Bid auction.
    BidAuction,
    /// Bid bidder.
    Bidder,
    /// Bid price.
    Price,
    /// Bid channel and URL.
    Channel,
}

/// A small counter-based random stream (SplitMix64): seeded from an event and a field, it
/// costs a few multiplications per draw and no allocation.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// The stream of `field` for event `event`.
    pub fn new(event: u64, field: Stream) -> Self {
        Random(mix(event.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (field as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }

    /// A stream seeded with `seed` (for tables built once, such as the channel URLs).
    pub fn seeded(seed: u64) -> Self {
        Random(mix(seed ^ 0x5851_F42D_4C95_7F2D))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number in `[0, bound)` (`bound` > 0), by multiply-shift.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Model {
    /// `p + a + b`.
    pub fn total(&self) -> i64 {
        self.person_proportion + self.auction_proportion + self.bid_proportion
    }

    /// What event `n` is.
    pub fn kind(&self, n: u64) -> EventKind {
        let slot = (n % self.total() as u64) as i64;
        if slot < self.person_proportion {
            EventKind::Person
        } else if slot < self.person_proportion + self.auction_proportion {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// Event time of event `n`, milliseconds since the epoch.
    pub fn timestamp(&self, n: u64) -> i64 {
        let n = n as f64;
        let offset_us = match self.steps.as_slice() {
            [(_, delay)] => n * delay,
            steps => {
                let per_epoch: f64 = steps.iter().map(|(events, _)| events).sum();
                let epoch_us: f64 = steps.iter().map(|(events, delay)| events * delay).sum();
                let epoch = (n / per_epoch).floor();
                let mut rest = n - epoch * per_epoch;
                let mut offset = epoch * epoch_us;
                for (events, delay) in steps {
                    if rest < *events {
                        offset += rest * delay;
                        break;
                    }
                    offset += events * delay;
                    rest -= events;
                }
                offset
            }
        };
        self.base_time + (offset_us / 1000.0).floor() as i64
    }

    /// People generated up to and including event `n`, minus one: the id (from 0) of the last
    /// person (Nexmark's `lastBase0PersonId`).
    pub fn last_person(&self, n: u64) -> i64 {
        let total = self.total();
        let epoch = n as i64 / total;
        let offset = (n as i64 % total).min(self.person_proportion - 1);
        epoch * self.person_proportion + offset
    }

    /// The id (from 0) of the last auction generated up to and including event `n`
    /// (Nexmark's `lastBase0AuctionId`; -1 before the first).
    pub fn last_auction(&self, n: u64) -> i64 {
        let total = self.total();
        let mut epoch = n as i64 / total;
        let mut offset = n as i64 % total;
        if offset < self.person_proportion {
            epoch -= 1;
            offset = self.auction_proportion - 1;
        } else if offset >= self.person_proportion + self.auction_proportion {
            offset = self.auction_proportion - 1;
        } else {
            offset -= self.person_proportion;
        }
        epoch * self.auction_proportion + offset
    }

    /// The id of the person of event `n`.
    pub fn person_id(&self, n: u64) -> i64 {
        self.last_person(n) + FIRST_PERSON_ID
    }

    /// The id of the auction of event `n`.
    pub fn auction_id(&self, n: u64) -> i64 {
        self.last_auction(n) + FIRST_AUCTION_ID
    }

    /// A random recent person (from 0): one of the last `NUM_ACTIVE_PEOPLE`, or up to
    /// `ID_LEAD` ahead.
    fn random_person(&self, n: u64, random: &mut Random) -> i64 {
        let people = self.last_person(n) + 1;
        let active = people.min(NUM_ACTIVE_PEOPLE);
        people - active + random.below((active + ID_LEAD) as u64) as i64
    }

    /// The seller of auction event `n`.
    pub fn seller(&self, n: u64) -> i64 {
        let mut random = Random::new(n, Stream::Seller);
        let base0 = if random.below(self.hot_sellers_ratio) > 0 {
            (self.last_person(n) / HOT_BLOCK) * HOT_BLOCK
        } else {
            self.random_person(n, &mut random)
        };
        base0 + FIRST_PERSON_ID
    }

    /// The category of auction event `n`.
    pub fn category(&self, n: u64) -> i64 {
        FIRST_CATEGORY_ID + Random::new(n, Stream::Category).below(NUM_CATEGORIES) as i64
    }

    /// The initial bid and the reserve of auction event `n`.
    pub fn auction_prices(&self, n: u64) -> (i64, i64) {
        let mut random = Random::new(n, Stream::Prices);
        let initial = price(&mut random);
        (initial, initial + price(&mut random))
    }

    /// When auction event `n` (at `timestamp`) expires: on average as far ahead as the
    /// auction `NUM_IN_FLIGHT_AUCTIONS` later will be created.
    pub fn expires(&self, n: u64, timestamp: i64) -> i64 {
        let ahead = (NUM_IN_FLIGHT_AUCTIONS * self.total() / self.auction_proportion) as u64;
        let horizon = self.timestamp(n + ahead) - timestamp;
        let length = 1 + Random::new(n, Stream::Expires).below((horizon * 2).max(1) as u64);
        timestamp + length as i64
    }

    /// The auction a bid event `n` is for.
    pub fn bid_auction(&self, n: u64) -> i64 {
        let mut random = Random::new(n, Stream::BidAuction);
        let last = self.last_auction(n);
        let base0 = if random.below(self.hot_auctions_ratio) > 0 {
            (last / HOT_BLOCK) * HOT_BLOCK
        } else {
            let min = (last - NUM_IN_FLIGHT_AUCTIONS).max(0);
            min + random.below((last - min + 1 + ID_LEAD) as u64) as i64
        };
        base0 + FIRST_AUCTION_ID
    }

    /// The bidder of bid event `n`.
    pub fn bidder(&self, n: u64) -> i64 {
        let mut random = Random::new(n, Stream::Bidder);
        let base0 = if random.below(self.hot_bidders_ratio) > 0 {
            (self.last_person(n) / HOT_BLOCK) * HOT_BLOCK + 1
        } else {
            self.random_person(n, &mut random)
        };
        base0 + FIRST_PERSON_ID
    }

    /// The price of bid event `n`.
    pub fn bid_price(&self, n: u64) -> i64 {
        price(&mut Random::new(n, Stream::Price))
    }

    /// Which channel bid event `n` came through: `Ok(hot channel index)` or `Err(channel
    /// number)`.
    pub fn channel(&self, n: u64) -> Result<usize, usize> {
        let mut random = Random::new(n, Stream::Channel);
        if random.below(HOT_CHANNELS_RATIO) > 0 {
            Ok(random.below(HOT_CHANNELS.len() as u64) as usize)
        } else {
            Err(random.below(CHANNELS) as usize)
        }
    }

    /// The length of the `extra` padding of an event whose other fields take `current` bytes,
    /// so that events average `average` bytes: uniform in `[0.8, 1.2)` times the gap.
    pub fn extra_length(n: u64, current: i64, average: i64) -> usize {
        if current > average {
            return 0;
        }
        let gap = average - current;
        let delta = (gap as f64 * 0.2).round() as i64;
        let min = gap - delta;
        let extra = if delta == 0 {
            0
        } else {
            Random::new(n, Stream::Extra).below((2 * delta) as u64) as i64
        };
        (min + extra) as usize
    }
}

/// Nexmark's price: `round(10^(6u) * 100)` cents for a uniform `u`, from $1 to $1 000 000,
/// log-uniformly.
fn price(random: &mut Random) -> i64 {
    ((random.unit() * 6.0 * std::f64::consts::LOG2_10).exp2() * 100.0).round() as i64
}

/// Nexmark's `nextString`: 3 to `max_length - 1` characters, lowercase letters with about one
/// in 13 a `space` character, then trimmed when `space` is a space.
pub fn push_string(random: &mut Random, max_length: u64, space: u8, out: &mut Vec<u8>) {
    let length = 3 + random.below(max_length - 3);
    let start = out.len();
    let mut draw = 0u64;
    for i in 0..length {
        // One draw makes two characters: per character, 16 bits choose a space (1 in 13) and
        // another 16 bits the letter.
        if i % 2 == 0 {
            draw = random.next_u64();
        }
        let bits = (draw >> (32 * (i % 2))) as u32;
        if ((bits & 0xFFFF) * 13) >> 16 == 0 {
            out.push(space);
        } else {
            out.push(b'a' + (((bits >> 16) * 26) >> 16) as u8);
        }
    }
    if space == b' ' {
        let text = &out[start..];
        let begin = text.iter().position(|&c| c != b' ').unwrap_or(text.len());
        let end = text
            .iter()
            .rposition(|&c| c != b' ')
            .map_or(begin, |i| i + 1);
        let trimmed: Vec<u8> = text[begin..end].to_vec();
        out.truncate(start);
        out.extend_from_slice(&trimmed);
    }
}

/// A base URL as Nexmark makes them: `https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1`
/// with short random path parts.
pub fn base_url(random: &mut Random) -> String {
    let mut parts = Vec::with_capacity(64);
    parts.extend_from_slice(b"https://www.nexmark.com/");
    for _ in 0..3 {
        push_string(random, 5, b'_', &mut parts);
        parts.push(b'/');
    }
    parts.extend_from_slice(b"item.htm?query=1");
    String::from_utf8_lossy(&parts).into_owned()
}

/// The channels' names and URLs, built once per source: the hot channels have a plain base
/// URL; `channel-<i>` has its own, nine in ten with `&channel_id=<i, bits reversed>`.
#[derive(Debug)]
pub struct Channels {
    /// URLs of the hot channels.
    pub hot_urls: Vec<String>,
    /// Names of the other channels.
    pub names: Vec<String>,
    /// URLs of the other channels.
    pub urls: Vec<String>,
}

impl Channels {
    /// Builds the table (deterministic).
    pub fn new() -> Self {
        let hot_urls = (0..HOT_CHANNELS.len())
            .map(|i| base_url(&mut Random::seeded(u64::MAX - i as u64)))
            .collect();
        let mut names = Vec::with_capacity(CHANNELS as usize);
        let mut urls = Vec::with_capacity(CHANNELS as usize);
        for i in 0..CHANNELS {
            let mut random = Random::seeded(i);
            let mut url = base_url(&mut random);
            if random.below(10) > 0 {
                let id = i64::from((i as i32).reverse_bits()).abs();
                url.push_str(&format!("&channel_id={id}"));
            }
            names.push(format!("channel-{i}"));
            urls.push(url);
        }
        Channels {
            hot_urls,
            names,
            urls,
        }
    }
}

impl Default for Channels {
    fn default() -> Self {
        Self::new()
    }
}

/// Lowercase letters the `extra` fields are cut from: an event's padding is a slice of this
/// pool at a random offset, so padding costs a copy rather than a draw per character.
#[derive(Debug)]
pub struct Pool(Vec<u8>);

/// Bytes in the padding pool; paddings are at most a few hundred bytes.
pub const POOL_SIZE: usize = 1 << 16;

impl Pool {
    /// Builds the pool (deterministic).
    pub fn new() -> Self {
        let mut random = Random::seeded(0x006E_6578_6D61_726B);
        Pool(
            (0..POOL_SIZE)
                .map(|_| b'a' + random.below(26) as u8)
                .collect(),
        )
    }

    /// `length` letters for event `n`.
    pub fn slice(&self, n: u64, length: usize) -> &[u8] {
        let length = length.min(self.0.len());
        let room = (self.0.len() - length) as u64 + 1;
        let start = Random::new(n, Stream::ExtraOffset).below(room);
        &self.0[start as usize..start as usize + length]
    }
}

impl Default for Pool {
    fn default() -> Self {
        Self::new()
    }
}
