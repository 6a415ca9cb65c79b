//! Counters since load, the last error, ticket-flow latency and customer
//! lookup time, for `otrs show status`. Cheap on the call path: atomics plus
//! short locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::lock;
use std::time::{Duration, SystemTime};

/// How many recent durations the percentiles are computed over.
const WINDOW: usize = 1024;

/// The last [`WINDOW`] durations of something, in nanoseconds, and the
/// longest one ever.
#[derive(Default)]
struct Window {
    ns: Vec<u64>,
    next: usize,
    max_ns: u64,
}

impl Window {
    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if self.ns.len() < WINDOW {
            self.ns.push(ns);
        } else if let Some(slot) = self.ns.get_mut(self.next) {
            *slot = ns;
        }
        self.next = (self.next + 1) % WINDOW;
        self.max_ns = self.max_ns.max(ns);
    }

    fn percentiles(&self) -> Percentiles {
        let mut sorted = self.ns.clone();
        sorted.sort_unstable();
        let pct = |p: f64| -> Option<Duration> {
            // nearest-rank percentile
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(rank - 1).map(|ns| Duration::from_nanos(*ns))
        };
        Percentiles {
            p50: pct(0.50),
            p95: pct(0.95),
            p99: pct(0.99),
            max: (!sorted.is_empty()).then(|| Duration::from_nanos(self.max_ns)),
            samples: sorted.len(),
        }
    }
}

/// Percentiles over the recent window; `None` when nothing was recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
    pub p99: Option<Duration>,
    /// The longest since load, not only in the window.
    pub max: Option<Duration>,
    pub samples: usize,
}

#[derive(Default)]
pub struct Stats {
    pub calls: AtomicU64,
    pub created: AtomicU64,
    pub failed: AtomicU64,
    pub unknown_callers: AtomicU64,
    /// Repeat calls added to an open ticket.
    pub appended: AtomicU64,
    /// Calls whose ticket went to the spool.
    pub queued: AtomicU64,
    /// Calls from `ignore_numbers`: no ticket by configuration.
    pub ignored: AtomicU64,
    /// Attempts of the spool worker.
    pub retries: AtomicU64,
    /// Queued tickets the worker created.
    pub created_later: AtomicU64,
    /// Queued tickets found already created (no second ticket).
    pub duplicates_avoided: AtomicU64,
    /// Rechecks that found no ticket for a call whose ticket OTRS may have
    /// created (it was then created; a renamed ticket, or one in a queue
    /// the agent cannot read, would now have a twin).
    pub rechecks_empty: AtomicU64,
    /// Jobs moved aside (unreadable, or refused by OTRS).
    pub moved_aside: AtomicU64,
    /// `otrs test ticket` runs: each is also counted as a call above (it
    /// runs the same flow and creates or queues a real ticket).
    pub cli_tests: AtomicU64,
    inner: Mutex<Inner>,
    /// Customer lookups of calls: their own lock, so recording one never
    /// waits for a status snapshot of the other window.
    lookups: Mutex<Window>,
}

#[derive(Default)]
struct Inner {
    /// Whole OTRSTicket() calls.
    latencies: Window,
    last_error: Option<(SystemTime, String)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub calls: u64,
    pub created: u64,
    pub failed: u64,
    pub unknown_callers: u64,
    pub appended: u64,
    pub queued: u64,
    pub ignored: u64,
    pub retries: u64,
    pub created_later: u64,
    pub duplicates_avoided: u64,
    pub rechecks_empty: u64,
    pub moved_aside: u64,
    pub cli_tests: u64,
    pub last_error: Option<(SystemTime, String)>,
    /// Time in OTRSTicket(), per call.
    pub latency: Percentiles,
    /// Time to find the caller in the customer index, per call.
    pub lookup: Percentiles,
}

impl Stats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_latency(&self, d: Duration) {
        lock(&self.inner).latencies.record(d);
    }

    pub fn record_lookup(&self, d: Duration) {
        lock(&self.lookups).record(d);
    }

    pub fn record_error(&self, msg: &str) {
        let mut i = lock(&self.inner);
        i.last_error = Some((SystemTime::now(), msg.to_string()));
    }

    pub fn snapshot(&self) -> Snapshot {
        let lookup = lock(&self.lookups).percentiles();
        let i = lock(&self.inner);
        Snapshot {
            calls: self.calls.load(Ordering::Relaxed),
            created: self.created.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            unknown_callers: self.unknown_callers.load(Ordering::Relaxed),
            appended: self.appended.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            created_later: self.created_later.load(Ordering::Relaxed),
            duplicates_avoided: self.duplicates_avoided.load(Ordering::Relaxed),
            rechecks_empty: self.rechecks_empty.load(Ordering::Relaxed),
            moved_aside: self.moved_aside.load(Ordering::Relaxed),
            cli_tests: self.cli_tests.load(Ordering::Relaxed),
            last_error: i.last_error.clone(),
            latency: i.latencies.percentiles(),
            lookup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_over_recorded_latencies() {
        let s = Stats::default();
        for ms in 1..=100 {
            s.record_latency(Duration::from_millis(ms));
        }
        let snap = s.snapshot().latency;
        assert_eq!(snap.p50, Some(Duration::from_millis(50)));
        assert_eq!(snap.p95, Some(Duration::from_millis(95)));
        assert_eq!(snap.p99, Some(Duration::from_millis(99)));
        assert_eq!(snap.max, Some(Duration::from_millis(100)));
        assert_eq!(snap.samples, 100);
    }

    #[test]
    fn lookups_have_their_own_window_in_nanoseconds() {
        let s = Stats::default();
        for ns in 1..=200u64 {
            s.record_lookup(Duration::from_nanos(ns * 10));
        }
        s.record_latency(Duration::from_millis(20));
        let snap = s.snapshot();
        assert_eq!(snap.lookup.p50, Some(Duration::from_nanos(1000)));
        assert_eq!(snap.lookup.p99, Some(Duration::from_nanos(1980)));
        assert_eq!(snap.lookup.max, Some(Duration::from_nanos(2000)));
        assert_eq!(snap.lookup.samples, 200);
        assert_eq!(snap.latency.samples, 1);
    }

    #[test]
    fn empty_has_no_percentiles() {
        let snap = Stats::default().snapshot();
        assert_eq!((snap.latency.p50, snap.latency.max, snap.lookup.p99), (None, None, None));
    }

    #[test]
    fn window_keeps_recent_and_max_is_all_time() {
        let s = Stats::default();
        s.record_latency(Duration::from_secs(9));
        for _ in 0..WINDOW {
            s.record_latency(Duration::from_millis(1));
        }
        let snap = s.snapshot().latency;
        assert_eq!(snap.p95, Some(Duration::from_millis(1)));
        assert_eq!(snap.max, Some(Duration::from_secs(9)));
        assert_eq!(snap.samples, WINDOW);
    }

    #[test]
    fn counters_and_error() {
        let s = Stats::default();
        Stats::count(&s.calls);
        Stats::count(&s.calls);
        Stats::count(&s.failed);
        s.record_error("OTRS timeout");
        let snap = s.snapshot();
        assert_eq!((snap.calls, snap.failed), (2, 1));
        assert_eq!(snap.last_error.unwrap().1, "OTRS timeout");
    }
}
