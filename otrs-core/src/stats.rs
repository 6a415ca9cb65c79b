//! Counters since load, the last error, and ticket-flow latency, for
//! `otrs show status`. Cheap on the call path: atomics plus one short lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How many recent latencies the percentiles are computed over.
const WINDOW: usize = 1024;

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
    /// Attempts of the spool worker.
    pub retries: AtomicU64,
    /// Queued tickets the worker created.
    pub created_later: AtomicU64,
    /// Queued tickets found already created (no second ticket).
    pub duplicates_avoided: AtomicU64,
    /// Jobs moved aside (unreadable, or refused by OTRS).
    pub moved_aside: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Ring buffer of recent latencies, microseconds.
    latencies: Vec<u64>,
    next: usize,
    max_us: u64,
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
    pub retries: u64,
    pub created_later: u64,
    pub duplicates_avoided: u64,
    pub moved_aside: u64,
    pub last_error: Option<(SystemTime, String)>,
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
    pub max: Option<Duration>,
    pub samples: usize,
}

impl Stats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if i.latencies.len() < WINDOW {
            i.latencies.push(us);
        } else {
            let at = i.next;
            i.latencies[at] = us;
        }
        i.next = (i.next + 1) % WINDOW;
        i.max_us = i.max_us.max(us);
    }

    pub fn record_error(&self, msg: &str) {
        let mut i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        i.last_error = Some((SystemTime::now(), msg.to_string()));
    }

    pub fn snapshot(&self) -> Snapshot {
        let i = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut sorted = i.latencies.clone();
        sorted.sort_unstable();
        let pct = |p: f64| -> Option<Duration> {
            if sorted.is_empty() {
                return None;
            }
            // nearest-rank percentile
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted.get(rank - 1).map(|us| Duration::from_micros(*us))
        };
        Snapshot {
            calls: self.calls.load(Ordering::Relaxed),
            created: self.created.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            unknown_callers: self.unknown_callers.load(Ordering::Relaxed),
            appended: self.appended.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            created_later: self.created_later.load(Ordering::Relaxed),
            duplicates_avoided: self.duplicates_avoided.load(Ordering::Relaxed),
            moved_aside: self.moved_aside.load(Ordering::Relaxed),
            last_error: i.last_error.clone(),
            p50: pct(0.50),
            p95: pct(0.95),
            max: (!sorted.is_empty()).then(|| Duration::from_micros(i.max_us)),
            samples: sorted.len(),
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
        let snap = s.snapshot();
        assert_eq!(snap.p50, Some(Duration::from_millis(50)));
        assert_eq!(snap.p95, Some(Duration::from_millis(95)));
        assert_eq!(snap.max, Some(Duration::from_millis(100)));
        assert_eq!(snap.samples, 100);
    }

    #[test]
    fn empty_has_no_percentiles() {
        let snap = Stats::default().snapshot();
        assert_eq!((snap.p50, snap.max), (None, None));
    }

    #[test]
    fn window_keeps_recent_and_max_is_all_time() {
        let s = Stats::default();
        s.record_latency(Duration::from_secs(9));
        for _ in 0..WINDOW {
            s.record_latency(Duration::from_millis(1));
        }
        let snap = s.snapshot();
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
