//! Whether OTRS is believed down. After OTRS fails a call, the next calls
//! do not each wait for the whole time budget: they go straight to the
//! spool while the spool worker retries in the background (as res_odbc's
//! negative_connection_cache does for ODBC). The worker's first success
//! marks OTRS up again; it also probes OTRS on its own schedule, so "down"
//! always means OTRS failed recently.
//!
//! Also whether the spool can take jobs: while it cannot (full disk, folder
//! gone, unwritable), calls do not skip OTRS, since a queued ticket could
//! not be kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::lock;
use std::time::SystemTime;

#[derive(Default)]
pub struct Health {
    otrs_down: Mutex<Option<(SystemTime, String)>>,
    spool_broken: Mutex<Option<(SystemTime, String)>>,
    spool_failures: AtomicU64,
}

impl Health {
    /// `Some((since, reason))` while OTRS is believed down.
    pub fn otrs_down(&self) -> Option<(SystemTime, String)> {
        lock(&self.otrs_down).clone()
    }

    /// Returns true when this changed the state (so it is logged once).
    pub fn mark_down(&self, reason: &str) -> bool {
        let mut d = lock(&self.otrs_down);
        let changed = d.is_none();
        if changed {
            *d = Some((SystemTime::now(), reason.to_string()));
        }
        changed
    }

    /// Returns true when this changed the state.
    pub fn mark_up(&self) -> bool {
        lock(&self.otrs_down).take().is_some()
    }

    /// Marks OTRS up for an answer to a request sent at `asked`, unless
    /// OTRS was found down after that: a slow success must not undo a
    /// newer failure (the next calls would each wait for a dead OTRS).
    pub fn mark_up_asked_at(&self, asked: SystemTime) -> bool {
        let mut d = lock(&self.otrs_down);
        match *d {
            Some((since, _)) if since > asked => false,
            Some(_) => {
                *d = None;
                true
            }
            None => false,
        }
    }

    /// `Some((since, reason))` while the last spool write failed.
    pub fn spool_broken(&self) -> Option<(SystemTime, String)> {
        lock(&self.spool_broken).clone()
    }

    /// A spool write failed: counted; true when this changed the state
    /// (logged once at ERROR by the caller).
    pub fn spool_failed(&self, reason: &str) -> bool {
        self.spool_failures.fetch_add(1, Ordering::Relaxed);
        let mut b = lock(&self.spool_broken);
        let changed = b.is_none();
        if changed {
            *b = Some((SystemTime::now(), reason.to_string()));
        }
        changed
    }

    /// A spool write succeeded; true when this changed the state.
    pub fn spool_ok(&self) -> bool {
        lock(&self.spool_broken).take().is_some()
    }

    /// Spool writes that failed since load.
    pub fn spool_failures(&self) -> u64 {
        self.spool_failures.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_older_than_the_failure_does_not_mark_otrs_up() {
        let h = Health::default();
        let asked = SystemTime::now() - std::time::Duration::from_secs(5);
        assert!(h.mark_down("timeout"));
        assert!(!h.mark_up_asked_at(asked), "a reply to a request sent before the failure");
        assert!(h.otrs_down().is_some());
        assert!(h.mark_up_asked_at(SystemTime::now()));
        assert!(h.otrs_down().is_none());
    }

    #[test]
    fn down_then_up_reports_changes_once() {
        let h = Health::default();
        assert!(h.otrs_down().is_none());
        assert!(h.mark_down("connect refused"));
        assert!(!h.mark_down("again"));
        assert_eq!(h.otrs_down().unwrap().1, "connect refused");
        assert!(h.mark_up());
        assert!(!h.mark_up());
    }
}
