//! Pacing generated rows to the wall clock, shared by the generators (`datagen`'s
//! `rows-per-second`, `nexmark`'s event rate).

use std::time::Duration;

use tokio::time::Instant;

/// How far behind the clock a generator may fall before it stops catching up.
const MAX_LAG: Duration = Duration::from_secs(1);

/// Releases rows when they are due: a row due `offset` after the generator's start waits
/// until that much wall-clock time has passed since the first wait. After a stall of more
/// than a second (a slow consumer) the clock restarts from the current row instead of
/// bursting to catch up.
#[derive(Debug, Default)]
pub struct Pacer {
    /// When the clock (re)started, and the offset of the row it started at.
    start: Option<(Instant, Duration)>,
}

impl Pacer {
    /// Waits until the row due at `offset` (time since the generator's start) is due.
    pub async fn wait(&mut self, offset: Duration) {
        let now = Instant::now();
        let (start, base) = *self.start.get_or_insert((now, offset));
        let due = start + offset.saturating_sub(base);
        if due > now {
            tokio::time::sleep_until(due).await;
        } else if now.duration_since(due) > MAX_LAG {
            self.start = Some((now, offset));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_wait_for_their_offset_and_a_stall_restarts_the_clock() {
        let ms = Duration::from_millis;
        let mut pacer = Pacer::default();
        let begin = Instant::now();
        pacer.wait(ms(5_000)).await; // the first row starts the clock
        pacer.wait(ms(5_050)).await; // due 50 ms after the first
        assert!(begin.elapsed() >= ms(50), "{:?}", begin.elapsed());
        // A stall of more than a second: the next row goes at once (no catching up on the
        // 1.2 s missed) and the clock restarts from it.
        tokio::time::sleep(ms(1_200)).await;
        let stalled = Instant::now();
        pacer.wait(ms(5_060)).await;
        pacer.wait(ms(5_100)).await; // due 40 ms after the restart
        let waited = stalled.elapsed();
        assert!(waited >= ms(40) && waited < ms(1_000), "{waited:?}");
    }
}
