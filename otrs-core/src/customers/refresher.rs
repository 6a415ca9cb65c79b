//! The background thread that loads a [`CustomerIndex`] and keeps it fresh.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{lock, CustomerIndex};

/// The background thread keeping a [`CustomerIndex`] fresh.
///
/// [`stop`](Refresher::stop) (or dropping it) wakes the thread at once and
/// joins it: the module must not be unloaded while a thread runs its code.
/// A refresh talking to the database is cut at once (its sockets shut, see
/// `source::cancel`), so stopping takes milliseconds whatever the server
/// does (a DNS lookup of the source's host name is the one wait left).
#[derive(Debug)]
pub struct Refresher {
    control: Arc<Control>,
    index: Arc<CustomerIndex>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Control {
    flags: Mutex<Flags>,
    wake: Condvar,
    running: AtomicBool,
}

#[derive(Debug, Default)]
struct Flags {
    stop: bool,
    full_requested: bool,
}

/// First wait after a failed refresh; it doubles on each further failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between retries while the database is down (if the
/// incremental interval is shorter, that is the cap).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Floor for the intervals, so a zero in the config cannot spin the CPU.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Floor for `index_keep_warm`.
const MIN_WARM_INTERVAL: Duration = Duration::from_millis(1);
/// How often keeping warm reads each 4 KiB page (see
/// [`CustomerIndex::keep_warm`]): pages read every 2-10 s stayed fast on the
/// test VM, so once a second leaves room. At the default 20 ms a pass reads
/// one page in 50.
const WARM_SWEEP: Duration = Duration::from_secs(1);

/// Passes of `keep_warm` per sweep, so that a sweep takes about [`WARM_SWEEP`].
fn passes_per_sweep(keep_warm: Duration) -> usize {
    let every = keep_warm.max(MIN_WARM_INTERVAL);
    usize::try_from(WARM_SWEEP.as_micros() / every.as_micros()).unwrap_or(usize::MAX).max(1)
}

impl Refresher {
    /// Stops the thread and waits for it to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Whether the thread is alive (false if it could not be started).
    pub fn is_running(&self) -> bool {
        self.control.running.load(Ordering::SeqCst)
    }

    /// Asks for a full reload now (e.g. from a CLI command), without waiting
    /// for it.
    pub fn request_full(&self) {
        lock(&self.control.flags).full_requested = true;
        self.control.wake.notify_all();
    }

    /// Stops several at once: all are told first, then each is joined, so
    /// unloading waits for the slowest refresh, not for their sum.
    pub fn stop_all(all: Vec<Refresher>) {
        for r in &all {
            r.tell_stop();
        }
        for r in all {
            r.stop();
        }
    }

    fn tell_stop(&self) {
        lock(&self.control.flags).stop = true;
        self.control.wake.notify_all();
        self.index.stop_reads();
    }

    fn shutdown(&mut self) {
        self.tell_stop();
        if let Some(handle) = self.handle.take() {
            // Joining itself would deadlock; can only happen if the index's
            // owner drops the Refresher from inside a refresh, which it does not.
            if handle.thread().id() != thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the thread "otrs-customers": a full load at once (retried with a
/// growing delay while the database is down), then an incremental refresh
/// every `incremental_every` and a full one every `full_every` (which also
/// drops deleted customers). While a refresh fails, the last good index stays
/// in use and the error shows in [`CustomerIndex::status`]. Between
/// refreshes, every `keep_warm` (zero: never) it keeps a large index's pages
/// warm ([`CustomerIndex::keep_warm`]), reading each 4 KiB page about once
/// a second; a small one's waits are not cut.
pub fn start_refresher(
    index: Arc<CustomerIndex>,
    incremental_every: Duration,
    full_every: Duration,
    keep_warm: Duration,
) -> Refresher {
    let control = Arc::new(Control::default());
    control.running.store(true, Ordering::SeqCst);
    index.resume_reads();
    let thread_control = Arc::clone(&control);
    let thread_index = Arc::clone(&index);
    let spawned = thread::Builder::new().name("otrs-customers".to_string()).spawn(move || {
        run_refresher(&thread_index, &thread_control, incremental_every, full_every, keep_warm);
        thread_control.running.store(false, Ordering::SeqCst);
    });
    let handle = match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            control.running.store(false, Ordering::SeqCst);
            index.note_error(&format!("cannot start the customer refresh thread: {e}"));
            None
        }
    };
    Refresher { control, index, handle }
}

fn run_refresher(
    index: &CustomerIndex,
    control: &Control,
    incremental_every: Duration,
    full_every: Duration,
    keep_warm: Duration,
) {
    let incremental_every = incremental_every.max(MIN_INTERVAL);
    let full_every = full_every.max(MIN_INTERVAL);
    let backoff_cap = incremental_every.min(MAX_BACKOFF);
    let mut backoff = FIRST_BACKOFF.min(backoff_cap);
    let mut last_full: Option<Instant> = None;
    loop {
        let full_requested = {
            let mut flags = lock(&control.flags);
            if flags.stop {
                return;
            }
            std::mem::take(&mut flags.full_requested)
        };
        let full_due = last_full.is_none_or(|t| t.elapsed() >= full_every);
        let full = full_requested || full_due || !index.is_loaded();
        // A bug must not end the thread silently and freeze the index.
        let outcome = catch_unwind(AssertUnwindSafe(|| if full { index.refresh_full() } else { index.refresh_changed() }));
        let ok = match outcome {
            Ok(Ok(stats)) => {
                if stats.full {
                    last_full = Some(Instant::now());
                }
                index.drop_previous_if_loaded();
                true
            }
            Ok(Err(_)) => false, // already recorded in the index's status
            Err(_) => {
                index.note_error("the customer refresh panicked (a bug); retrying");
                false
            }
        };
        let wait = if ok {
            backoff = FIRST_BACKOFF.min(backoff_cap);
            incremental_every
        } else {
            let wait = backoff;
            backoff = backoff.saturating_mul(2).min(backoff_cap);
            wait
        };
        wait_keeping_warm(index, control, wait, keep_warm);
    }
}

/// Waits `wait`, or until told to stop or to reload; meanwhile keeps the
/// index warm every `keep_warm` while it has pages to keep warm.
fn wait_keeping_warm(index: &CustomerIndex, control: &Control, wait: Duration, keep_warm: Duration) {
    let until = Instant::now() + wait;
    let every = passes_per_sweep(keep_warm);
    let mut warm = !keep_warm.is_zero() && index.keep_warm(every) > 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let slice = if warm { left.min(keep_warm.max(MIN_WARM_INTERVAL)) } else { left };
        let flags = lock(&control.flags);
        // wait_timeout_while: spurious wakeups do not end the wait early.
        let (flags, _) = control
            .wake
            .wait_timeout_while(flags, slice, |f| !f.stop && !f.full_requested)
            .unwrap_or_else(PoisonError::into_inner);
        if flags.stop || flags.full_requested {
            return;
        }
        drop(flags);
        if warm {
            warm = index.keep_warm(every) > 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::customers::test_support::*;

    #[test]
    fn refresher_stops_at_once() {
        let index = Arc::new(CustomerIndex::new(dead_db(), ru()));
        let r = start_refresher(Arc::clone(&index), Duration::from_secs(3600), Duration::from_secs(3600), Duration::ZERO);
        assert!(r.is_running());
        // Let it fail once and go to sleep in its backoff.
        let deadline = Instant::now() + Duration::from_secs(5);
        while index.status().last_error.is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(index.status().last_error.is_some());
        let started = Instant::now();
        r.stop();
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());

        // Dropping it stops it as well.
        let r = start_refresher(Arc::clone(&index), Duration::from_secs(3600), Duration::from_secs(3600), Duration::ZERO);
        let control = Arc::clone(&r.control);
        drop(r);
        assert!(!control.running.load(Ordering::SeqCst));
        // Only the test's own references are left: the thread is gone.
        assert_eq!(Arc::strong_count(&index), 1);
    }

    #[test]
    fn refresher_retries_with_backoff() {
        let index = Arc::new(CustomerIndex::new(dead_db(), ru()));
        let r = start_refresher(Arc::clone(&index), Duration::from_millis(200), Duration::from_secs(3600), Duration::ZERO);
        // The first attempt fails, and a retry follows (the backoff is capped
        // by the 200 ms interval here) instead of the thread giving up.
        let first = wait_for_error_change(&index, None);
        let second = wait_for_error_change(&index, first);
        assert!(second.is_some() && second != first);
        r.stop();
    }

    #[test]
    fn a_large_index_is_kept_warm_between_refreshes_and_still_stops_at_once() {
        // Loaded, then its database gone: the refresher waits in its
        // backoff, reading a share of the index's pages every 5 ms
        // meanwhile, all of them within about a second.
        let rows: Vec<_> = (0..100_000u64).map(|i| row(i + 1, &format!("w{i}"), &format!("8 920 {i:07}"), "", None)).collect();
        let index = Arc::new(loaded_from(dead_db(), &rows));
        let whole = index.keep_warm(1);
        assert!(whole >= 1024, "{whole}");
        let r =
            start_refresher(Arc::clone(&index), Duration::from_secs(3600), Duration::from_secs(3600), Duration::from_millis(5));
        let deadline = Instant::now() + Duration::from_secs(5);
        while index.pages_warmed() < 2 * whole as u64 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(index.pages_warmed() >= 2 * whole as u64, "{} of {}", index.pages_warmed(), 2 * whole);
        let started = Instant::now();
        r.stop();
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
        // Off (zero): never read.
        let index = Arc::new(loaded_from(dead_db(), &rows));
        let r = start_refresher(Arc::clone(&index), Duration::from_secs(3600), Duration::from_secs(3600), Duration::ZERO);
        thread::sleep(Duration::from_millis(100));
        r.stop();
        assert_eq!(index.pages_warmed(), 0);
    }

    #[test]
    fn a_sweep_reads_every_page_about_once_a_second() {
        assert_eq!(passes_per_sweep(Duration::from_millis(20)), 50);
        assert_eq!(passes_per_sweep(Duration::from_millis(5)), 200);
        assert_eq!(passes_per_sweep(Duration::from_millis(1)), 1000);
        assert_eq!(passes_per_sweep(Duration::ZERO), 1000);
        // Passes a second or more apart: each reads every page.
        assert_eq!(passes_per_sweep(Duration::from_secs(1)), 1);
        assert_eq!(passes_per_sweep(Duration::from_secs(10)), 1);
    }

    fn wait_for_error_change(index: &CustomerIndex, previous: Option<SystemTime>) -> Option<SystemTime> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let at = index.status().last_error.map(|(at, _)| at);
            if at.is_some() && at != previous {
                return at;
            }
            if Instant::now() > deadline {
                return at;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    #[ignore = "needs MariaDB with the sample customers (OTRS_TEST_DB): run scripts/test.sh"]
    fn db_refresher_loads_and_follows() {
        let db = test_db();
        let mut scratch = Scratch::new(&db, "t_thread");
        let index = Arc::new(CustomerIndex::new(db, ru()));
        let r = start_refresher(Arc::clone(&index), Duration::from_millis(200), Duration::from_secs(3600), Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !index.is_loaded() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(who(&index, "89161229624"), (1, Some("ivanov".into())));
        scratch.insert("z", "89169002001", None, None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while who(&index, "89169002001").0 == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(who(&index, "89169002001"), (1, Some(scratch.login("z"))));
        assert!(index.status().db_up);
        let started = Instant::now();
        r.stop();
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
