//! Where the next incremental refresh starts reading `customer_user`.

use std::time::{Duration, Instant};

use super::db::ChangeTime;
use super::CHANGE_TIME_SLACK_SECS;

/// Where the next incremental pass starts reading.
///
/// The rule before was "change_time >= newest seen - slack", which rereads
/// every row of a bulk import (all with the newest change_time) on every pass
/// until somebody edits a customer. Now the bound also moves with time: the
/// newest change_time `newest` had been written by the time the read that
/// returned it ended (`newest_seen`, our clock), so when the previous pass
/// started its read (`last_read`), the database's clock read at least
/// `newest + (last_read - newest_seen)`. Every row stamped more than the slack
/// before that had committed (the same assumption as before: a transaction
/// commits within the slack after stamping its rows) and was seen by that
/// read. So the next pass reads from
/// `newest + max(0, last_read - newest_seen) - slack`: right after a change
/// the old window, one pass later only what is new. Only `change_time` values
/// and our monotonic clock are compared, never the database's NOW(), so
/// neither clock's zone matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Cursor {
    pub(super) newest: Option<ChangeTime>,
    pub(super) newest_seen: Option<Instant>,
    pub(super) last_read: Option<Instant>,
}

impl Cursor {
    /// The newest change_time of a read that started at `started` and ended
    /// at `ended`.
    pub(super) fn advance(&mut self, newest: Option<ChangeTime>, started: Instant, ended: Instant) {
        if newest > self.newest || self.newest_seen.is_none() {
            self.newest = newest.max(self.newest);
            self.newest_seen = Some(ended);
        }
        self.last_read = Some(started);
    }

    /// The bound of the next read: (change_time, microseconds to add), or
    /// `None` when nothing was seen yet.
    pub(super) fn since(&self) -> Option<(ChangeTime, i64)> {
        let newest = self.newest?;
        let elapsed = match (self.last_read, self.newest_seen) {
            (Some(read), Some(seen)) => read.saturating_duration_since(seen),
            _ => Duration::ZERO,
        };
        let micros = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX / 2);
        Some((newest, micros - i64::from(CHANGE_TIME_SLACK_SECS) * 1_000_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::test_support::*;

    #[test]
    fn cursor_moves_on_with_time() {
        let newest = t(2026, 1, 1, 12, 0, 0);
        let slack = i64::from(CHANGE_TIME_SLACK_SECS) * 1_000_000;
        let mut c = Cursor::default();
        assert_eq!(c.since(), None);
        let t0 = Instant::now();
        // A full load that saw `newest`: the next pass rereads the slack.
        c.advance(newest, t0, t0 + Duration::from_millis(300));
        assert_eq!(c.since(), Some((newest.expect("a time"), -slack)));
        // That pass, 15 s later, found nothing newer: the one after it
        // starts 15 s (less the slack) after `newest`, so rows of a bulk
        // import stamped `newest` are not read again.
        let p1 = t0 + Duration::from_secs(15);
        c.advance(None, p1, p1 + Duration::from_millis(10));
        let (at, micros) = c.since().expect("a bound");
        assert_eq!(at, newest.expect("a time"));
        assert_eq!(micros, 15_000_000 - 300_000 - slack);
        // An older row read meanwhile (late commit) does not move it back.
        let p2 = t0 + Duration::from_secs(30);
        c.advance(t(2026, 1, 1, 11, 59, 58), p2, p2 + Duration::from_millis(10));
        assert_eq!(c.since().expect("a bound").1, 30_000_000 - 300_000 - slack);
        // A newer row: the window is the slack before it again.
        let p3 = t0 + Duration::from_secs(45);
        let newer = t(2026, 1, 1, 12, 0, 40);
        c.advance(newer, p3, p3 + Duration::from_millis(10));
        assert_eq!(c.since(), Some((newer.expect("a time"), -slack)));
    }
}
