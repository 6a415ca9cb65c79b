//! What every layer uses: logging, the panic guard, local time, OTRS's
//! health, counters, ticket events and the status text.

pub mod logger;

pub mod clock;
pub mod events;
pub mod guard;
pub mod health;
pub mod series;
pub mod stats;
pub mod status;

use std::sync::{Mutex, MutexGuard};

/// Locks, ignoring poisoning: a poisoned lock only means another thread
/// panicked mid-update of a plain value (swaps and assignments), which is
/// still usable, and a panic elsewhere must not make every later call
/// panic too.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
