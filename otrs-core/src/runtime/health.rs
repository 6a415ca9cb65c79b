//! Whether OTRS is believed down. After OTRS fails a call, the next calls
//! do not each wait for the whole time budget: they go straight to the
//! spool while the spool worker retries in the background (as res_odbc's
//! negative_connection_cache does for ODBC). The worker's first success
//! marks OTRS up again.

use std::sync::Mutex;

use super::lock;
use std::time::SystemTime;

#[derive(Default)]
pub struct Health {
    otrs_down: Mutex<Option<(SystemTime, String)>>,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
