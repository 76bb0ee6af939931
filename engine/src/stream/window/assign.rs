//! Which windows a row belongs to.

use super::super::{EventTime, StreamError};

/// A window function's shape. All lengths are milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLE(size [, offset])`: consecutive windows of `size`.
    Tumble {
        /// Window length.
        size: i64,
        /// Shift of window starts from the epoch.
        offset: i64,
    },
    /// `HOP(slide, size [, offset])`: windows of `size` starting every `slide`.
    Hop {
        /// Distance between window starts.
        slide: i64,
        /// Window length (a multiple of `slide`).
        size: i64,
        /// Shift of window starts from the epoch.
        offset: i64,
    },
    /// `CUMULATE(step, max_size [, offset])`: windows that share a start every `max_size` and
    /// grow by `step`: `[s, s+step)`, `[s, s+2*step)`, ... `[s, s+max_size)`.
    Cumulate {
        /// Growth step.
        step: i64,
        /// Largest window (a multiple of `step`).
        max_size: i64,
        /// Shift of window starts from the epoch.
        offset: i64,
    },
}

impl WindowKind {
    /// Checks the sizes the way Flink does: positive, and HOP/CUMULATE sizes whole multiples of
    /// their slide/step.
    pub fn validate(&self) -> Result<(), StreamError> {
        let positive = |what: &str, value: i64| {
            if value > 0 {
                Ok(())
            } else {
                Err(StreamError::InvalidWindow(format!(
                    "the window {what} must be positive, got {value} ms"
                )))
            }
        };
        match *self {
            WindowKind::Tumble { size, .. } => positive("size", size),
            WindowKind::Hop { slide, size, .. } => {
                positive("slide", slide)?;
                positive("size", size)?;
                if size % slide != 0 {
                    return Err(StreamError::InvalidWindow(format!(
                        "HOP window size ({size} ms) must be a whole multiple of its slide ({slide} ms)"
                    )));
                }
                Ok(())
            }
            WindowKind::Cumulate { step, max_size, .. } => {
                positive("step", step)?;
                positive("max size", max_size)?;
                if max_size % step != 0 {
                    return Err(StreamError::InvalidWindow(format!(
                        "CUMULATE max size ({max_size} ms) must be a whole multiple of its step ({step} ms)"
                    )));
                }
                Ok(())
            }
        }
    }

    /// Calls `f(start, end)` for every window containing `time`, in order of `end`.
    #[inline]
    pub fn for_each_window(&self, time: EventTime, mut f: impl FnMut(EventTime, EventTime)) {
        match *self {
            WindowKind::Tumble { size, offset } => {
                let start = window_start(time, offset, size);
                f(start, start.saturating_add(size));
            }
            WindowKind::Hop {
                slide,
                size,
                offset,
            } => {
                let last = window_start(time, offset, slide);
                let count = size / slide;
                for i in (0..count).rev() {
                    let start = last - i * slide;
                    f(start, start.saturating_add(size));
                }
            }
            WindowKind::Cumulate {
                step,
                max_size,
                offset,
            } => {
                let start = window_start(time, offset, max_size);
                // The first end after `time`, then every step up to the largest window.
                let first = (time - start) / step + 1;
                for k in first..=max_size / step {
                    f(start, start.saturating_add(k * step));
                }
            }
        }
    }
}

/// The start of the window of length `size` (shifted by `offset`) that contains `time`.
#[inline]
fn window_start(time: EventTime, offset: i64, size: i64) -> EventTime {
    time - (time - offset).rem_euclid(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(kind: WindowKind, time: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        kind.for_each_window(time, |s, e| out.push((s, e)));
        out
    }

    #[test]
    fn tumble_boundaries_and_negative_times() {
        let kind = WindowKind::Tumble {
            size: 10,
            offset: 0,
        };
        assert_eq!(windows(kind, 0), vec![(0, 10)]);
        assert_eq!(windows(kind, 9), vec![(0, 10)]);
        assert_eq!(windows(kind, 10), vec![(10, 20)]);
        assert_eq!(windows(kind, -1), vec![(-10, 0)]);
        let shifted = WindowKind::Tumble {
            size: 10,
            offset: 3,
        };
        assert_eq!(windows(shifted, 2), vec![(-7, 3)]);
        assert_eq!(windows(shifted, 3), vec![(3, 13)]);
    }

    #[test]
    fn hop_lists_every_window_in_end_order() {
        let kind = WindowKind::Hop {
            slide: 2,
            size: 6,
            offset: 0,
        };
        assert_eq!(windows(kind, 5), vec![(0, 6), (2, 8), (4, 10)]);
        assert_eq!(windows(kind, 6), vec![(2, 8), (4, 10), (6, 12)]);
    }

    #[test]
    fn cumulate_lists_the_growing_windows_that_contain_the_time() {
        let kind = WindowKind::Cumulate {
            step: 2,
            max_size: 6,
            offset: 0,
        };
        assert_eq!(windows(kind, 0), vec![(0, 2), (0, 4), (0, 6)]);
        assert_eq!(windows(kind, 3), vec![(0, 4), (0, 6)]);
        assert_eq!(windows(kind, 5), vec![(0, 6)]);
        assert_eq!(windows(kind, 6), vec![(6, 8), (6, 10), (6, 12)]);
    }

    #[test]
    fn sizes_are_validated_like_flink() {
        assert!(
            WindowKind::Hop {
                slide: 3,
                size: 10,
                offset: 0
            }
            .validate()
            .is_err()
        );
        assert!(
            WindowKind::Cumulate {
                step: 0,
                max_size: 10,
                offset: 0
            }
            .validate()
            .is_err()
        );
        assert!(WindowKind::Tumble { size: 5, offset: 0 }.validate().is_ok());
    }
}
