//! The OTRS session both web-service clients (SOAP and REST) keep: one
//! SessionID shared by every call, made by one SessionCreate at a time, and
//! replaced once when OTRS no longer takes it.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::error::ClientError;
use crate::runtime::lock;

#[derive(Default)]
pub(crate) struct Sessions {
    current: Mutex<Option<String>>,
    /// One SessionCreate at a time: a burst of calls after a restart (or an
    /// expired session) waits for one login instead of each making its own.
    creating: Mutex<bool>,
    ready: Condvar,
}

impl Sessions {
    pub(crate) fn has_session(&self) -> bool {
        lock(&self.current).is_some()
    }

    pub(crate) fn clear(&self) {
        *lock(&self.current) = None;
    }

    #[cfg(test)]
    pub(crate) fn set(&self, sid: &str) {
        *lock(&self.current) = Some(sid.to_string());
    }

    /// Runs `send` with a session: the cached one, or one `create` makes.
    /// A cached SessionID that OTRS no longer accepts (AuthFail: expired,
    /// server restarted) is replaced once and `send` runs once more: an
    /// AuthFail means OTRS did nothing, so the retry cannot duplicate anything.
    pub(crate) fn with_session<T>(
        &self,
        deadline: Instant,
        create: impl Fn() -> Result<String, ClientError>,
        send: impl Fn(&str) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let cached = lock(&self.current).clone();
        let sid = match &cached {
            Some(sid) => sid.clone(),
            None => self.new_session(deadline, None, &create)?,
        };
        match send(&sid) {
            Err(e) if e.is_auth_fail() => {
                self.drop_session(&sid);
                if cached.is_none() {
                    return Err(e); // a brand-new session refused: do not loop
                }
                let sid = self.new_session(deadline, Some(&sid), &create)?;
                send(&sid)
            }
            other => other,
        }
    }

    /// A session for a call: the one another thread is creating right now
    /// (waited for, within `deadline`), or a new one. `refused`: the session
    /// OTRS just refused, not to be handed out again.
    fn new_session(
        &self,
        deadline: Instant,
        refused: Option<&str>,
        create: &dyn Fn() -> Result<String, ClientError>,
    ) -> Result<String, ClientError> {
        {
            let mut creating = lock(&self.creating);
            loop {
                let current = lock(&self.current).clone();
                if let Some(sid) = current.filter(|s| Some(s.as_str()) != refused) {
                    return Ok(sid);
                }
                if !*creating {
                    *creating = true;
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ClientError::Connect("no time left while another call logged in to OTRS".into()));
                }
                creating = match self.ready.wait_timeout(creating, left) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
        }
        // whatever happens below (even a panic), let the next one try
        struct Done<'a>(&'a Sessions);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                *lock(&self.0.creating) = false;
                self.0.ready.notify_all();
            }
        }
        let _done = Done(self);
        let sid = create()?;
        *lock(&self.current) = Some(sid.clone());
        Ok(sid)
    }

    /// Forgets `sid` unless another thread already replaced it.
    fn drop_session(&self, sid: &str) {
        let mut slot = lock(&self.current);
        if slot.as_deref() == Some(sid) {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn auth_fail() -> ClientError {
        ClientError::Soap(super::super::error::SoapError::Operation {
            code: "TicketCreate.AuthFail".into(),
            message: "Authorization failing!".into(),
        })
    }

    #[test]
    fn a_call_waits_for_another_ones_login_only_within_its_own_deadline() {
        let s = Sessions::default();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let slow = || {
                    std::thread::sleep(Duration::from_millis(600));
                    Ok("sid-1".to_string())
                };
                s.with_session(Instant::now() + Duration::from_secs(5), slow, |sid| Ok(sid.to_string())).unwrap();
            });
            std::thread::sleep(Duration::from_millis(100));
            let t0 = Instant::now();
            let r = s.with_session(Instant::now() + Duration::from_millis(150), || Ok("sid-2".into()), |sid| Ok(sid.to_string()));
            assert!(matches!(r, Err(ClientError::Connect(_))), "{r:?}");
            assert!(t0.elapsed() < Duration::from_millis(450), "waited {:?}, past its deadline", t0.elapsed());
        });
        // the login that finished is shared
        let made = AtomicUsize::new(0);
        let create = || {
            made.fetch_add(1, Ordering::SeqCst);
            Ok("sid-3".to_string())
        };
        assert_eq!(s.with_session(Instant::now() + Duration::from_secs(1), create, |sid| Ok(sid.to_string())).unwrap(), "sid-1");
        assert_eq!(made.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_refused_cached_session_is_replaced_once_and_a_new_one_never_loops() {
        let s = Sessions::default();
        s.set("old");
        let sent = Mutex::new(Vec::new());
        let send = |sid: &str| {
            lock(&sent).push(sid.to_string());
            if sid == "old" {
                Err(auth_fail())
            } else {
                Ok(())
            }
        };
        s.with_session(Instant::now() + Duration::from_secs(1), || Ok("new".into()), send).unwrap();
        assert_eq!(*lock(&sent), ["old", "new"]);
        // a brand-new session refused too: one try, no loop
        s.clear();
        lock(&sent).clear();
        let r = s.with_session(
            Instant::now() + Duration::from_secs(1),
            || Ok("fresh".into()),
            |sid: &str| -> Result<(), _> {
                lock(&sent).push(sid.to_string());
                Err(auth_fail())
            },
        );
        assert!(r.is_err_and(|e| e.is_auth_fail()));
        assert_eq!(*lock(&sent), ["fresh"]);
        assert!(!s.has_session(), "the refused session is dropped");
    }
}
