//! The tickets of recent calls, for repeat calls (`repeat_window`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::otrs::TicketCreated;
use crate::runtime::lock;

/// The tickets recent calls created, by customer login or, for unknown
/// callers, by number: a repeat call within the window is added to that
/// ticket while it is still open. In memory only: after a restart, known
/// customers are still found by a TicketSearch in OTRS.
#[derive(Default)]
pub struct RecentTickets {
    inner: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    map: HashMap<String, (TicketCreated, Instant)>,
    /// Keys in the order they were remembered, with how long each is
    /// kept, for cheap expiry.
    order: VecDeque<(String, Instant, Duration)>,
}

/// Entries older than this go (the longest window is 7 days), and at most
/// this many are kept.
const RECENT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
const RECENT_MAX_ENTRIES: usize = 100_000;

impl RecentTickets {
    /// Remembers a call's ticket for `window` (a profile's repeat_window).
    /// Expires old entries from the front: O(1) per call on average.
    pub fn remember(&self, key: &str, t: &TicketCreated, window: Duration) {
        let now = Instant::now();
        let keep = window.min(RECENT_MAX_AGE);
        let mut r = lock(&self.inner);
        r.map.insert(key.to_string(), (t.clone(), now));
        r.order.push_back((key.to_string(), now, keep));
        while let Some((k, at, kept)) = r.order.front().cloned() {
            if now.duration_since(at) <= kept && r.order.len() <= RECENT_MAX_ENTRIES {
                break;
            }
            r.order.pop_front();
            // only if not remembered again since
            if r.map.get(&k).is_some_and(|(_, when)| *when == at) {
                r.map.remove(&k);
            }
        }
    }

    pub fn within(&self, key: &str, window: Duration) -> Option<TicketCreated> {
        let r = lock(&self.inner);
        r.map.get(key).filter(|(_, at)| at.elapsed() <= window).map(|(t, _)| t.clone())
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TicketCreated {
        TicketCreated { ticket_id: id.into(), ticket_number: format!("20261126100000{id}"), article_id: "1".into() }
    }

    #[test]
    fn recent_tickets_respect_the_window() {
        let r = RecentTickets::default();
        let hour = Duration::from_secs(3600);
        r.remember("customer:ivanov", &t("7"), hour);
        assert_eq!(r.within("customer:ivanov", Duration::from_secs(60)).map(|t| t.ticket_id), Some("7".into()));
        assert!(r.within("customer:petrov", Duration::from_secs(60)).is_none());
        std::thread::sleep(Duration::from_millis(20));
        assert!(r.within("customer:ivanov", Duration::from_millis(10)).is_none(), "outside the window");
        r.remember("customer:ivanov", &t("8"), hour);
        assert_eq!(r.within("customer:ivanov", Duration::from_millis(10)).map(|t| t.ticket_id), Some("8".into()));
    }

    #[test]
    fn recent_tickets_expire_from_the_front() {
        let r = RecentTickets::default();
        r.remember("number:1", &t("1"), Duration::from_millis(5));
        r.remember("number:2", &t("2"), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(10));
        r.remember("number:3", &t("3"), Duration::from_millis(5));
        assert_eq!(r.len(), 1, "expired entries are dropped when a new one comes");
        // a key remembered again is not dropped by its older queue entry
        r.remember("number:3", &t("4"), Duration::from_secs(60));
        assert_eq!(r.within("number:3", Duration::from_secs(60)).map(|t| t.ticket_id), Some("4".into()));
    }
}
