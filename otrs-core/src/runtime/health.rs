//! Whether OTRS is believed down. After OTRS fails a call, the next calls
//! do not each wait for the whole time budget: they go straight to the
//! spool while the spool worker retries in the background (as res_odbc's
//! negative_connection_cache does for ODBC). The worker's first success
//! marks OTRS up again; it also probes OTRS on its own schedule, so "down"
//! always means OTRS failed recently.
//!
//! "Rejects" is kept apart from "down": OTRS answers, but refuses every
//! request of ours (wrong url, namespace, web service, credentials). Calls
//! queue their tickets then too (they are created once the configuration
//! is fixed), but the admin is told to fix the configuration, not to wait,
//! and the worker asks only at its long interval.
//!
//! Also whether the spool can take jobs: while it cannot (full disk, folder
//! gone, unwritable), calls do not skip OTRS, since a queued ticket could
//! not be kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::lock;
use crate::otrs::error::{ClientError, Failure};
use std::time::SystemTime;

/// Why OTRS is not asked now.
#[derive(Clone, Debug)]
struct Trouble {
    since: SystemTime,
    why: String,
    rejects: bool,
}

#[derive(Default)]
pub struct Health {
    otrs: Mutex<Option<Trouble>>,
    spool_broken: Mutex<Option<(SystemTime, String)>>,
    spool_failures: AtomicU64,
}

impl Health {
    /// `Some((since, reason))` while OTRS is believed down.
    pub fn otrs_down(&self) -> Option<(SystemTime, String)> {
        lock(&self.otrs).as_ref().filter(|t| !t.rejects).map(|t| (t.since, t.why.clone()))
    }

    /// `Some((since, reason))` while OTRS rejects every request of ours.
    pub fn otrs_rejects(&self) -> Option<(SystemTime, String)> {
        lock(&self.otrs).as_ref().filter(|t| t.rejects).map(|t| (t.since, t.why.clone()))
    }

    /// Why new calls should not ask OTRS now (down or rejecting): the text
    /// their OTRSERROR and the queued job carry.
    pub fn skip_reason(&self) -> Option<String> {
        lock(&self.otrs).as_ref().map(|t| match t.rejects {
            true => rejects_text(&t.why),
            false => format!("OTRS down ({})", t.why),
        })
    }

    /// Returns true when this changed the state (so it is logged once).
    pub fn mark_down(&self, reason: &str) -> bool {
        self.mark(reason, false)
    }

    /// OTRS refuses every request (see [`Failure::Rejects`]); true when
    /// this changed the state.
    pub fn mark_rejects(&self, reason: &str) -> bool {
        self.mark(reason, true)
    }

    fn mark(&self, reason: &str, rejects: bool) -> bool {
        let mut d = lock(&self.otrs);
        let changed = d.as_ref().is_none_or(|t| t.rejects != rejects);
        if changed {
            *d = Some(Trouble { since: SystemTime::now(), why: reason.to_string(), rejects });
        }
        changed
    }

    /// Records a failed request as down or rejecting, logging each change
    /// of state once (a rejection at ERROR: only the admin can end it).
    /// A refused ticket says nothing about OTRS. Returns the failure kind.
    pub fn otrs_failed(&self, e: &ClientError) -> Failure {
        let kind = e.failure();
        match kind {
            Failure::Down if self.mark_down(&e.to_string()) => {
                crate::log_warning!("OTRS is down ({e}): new calls queue their tickets until it answers again")
            }
            Failure::Rejects if self.mark_rejects(&e.to_string()) => {
                crate::log_error!(
                    "{}; new calls queue their tickets until it is fixed (then `module reload`)",
                    rejects_text(&e.to_string())
                )
            }
            _ => {}
        }
        kind
    }

    /// Returns true when this changed the state.
    pub fn mark_up(&self) -> bool {
        lock(&self.otrs).take().is_some()
    }

    /// The configuration was (re)loaded: a rejection may be fixed now, so
    /// the next calls try OTRS again. True when OTRS was rejecting.
    pub fn config_changed(&self) -> bool {
        let mut d = lock(&self.otrs);
        let was = d.as_ref().is_some_and(|t| t.rejects);
        if was {
            *d = None;
        }
        was
    }

    /// Marks OTRS up for an answer to a request sent at `asked`, unless
    /// OTRS was found down after that: a slow success must not undo a
    /// newer failure (the next calls would each wait for a dead OTRS).
    pub fn mark_up_asked_at(&self, asked: SystemTime) -> bool {
        let mut d = lock(&self.otrs);
        match *d {
            Some(Trouble { since, .. }) if since > asked => false,
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

/// What status, log and OTRSERROR say while OTRS rejects our requests.
pub fn rejects_text(why: &str) -> String {
    format!("OTRS rejects our requests: {why} - check url / soap_namespace / web service / user")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otrs::SoapError;

    #[test]
    fn a_rejection_is_not_down_and_ends_with_a_new_configuration() {
        let h = Health::default();
        let fault = ClientError::Soap(SoapError::Fault { code: "Server".into(), message: "Got no OperationType!".into() });
        assert_eq!(h.otrs_failed(&fault), Failure::Rejects);
        assert!(h.otrs_down().is_none());
        assert!(h.otrs_rejects().unwrap().1.contains("Got no OperationType"));
        assert!(h.skip_reason().unwrap().starts_with("OTRS rejects our requests: SOAP fault Server"));
        assert!(!h.mark_rejects("again"), "one state change, one log line");
        assert_eq!(h.otrs_failed(&ClientError::Timeout), Failure::Down);
        assert!(h.otrs_down().is_some() && h.otrs_rejects().is_none());
        assert!(!h.config_changed(), "a reload does not end an outage");
        h.mark_rejects("x");
        assert!(h.config_changed());
        assert!(h.skip_reason().is_none());
    }

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
