//! The one guard around every function Asterisk calls into: a panic must
//! never unwind into C (undefined behaviour, and in practice a dead PBX with
//! every call on it). A caught panic is logged and turned into the value the
//! caller expects on failure.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; on panic logs `what` with the panic message and returns `on_panic`.
pub fn guard<R>(what: &str, on_panic: R, f: impl FnOnce() -> R) -> R {
    // AssertUnwindSafe: after a panic we only return the fallback; shared
    // state is behind locks whose poisoning the code tolerates.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            crate::log_error!("internal error in {what}: {msg} (caught; Asterisk is unaffected)");
            on_panic
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_fallback() {
        let r = guard("test", -1, || -> i32 { panic!("boom") });
        assert_eq!(r, -1);
    }

    #[test]
    fn value_passes_through() {
        assert_eq!(guard("test", -1, || 7), 7);
    }

    #[test]
    fn string_panic_payload() {
        let r = guard("test", "fallback", || -> &str { panic!("{}", String::from("x")) });
        assert_eq!(r, "fallback");
    }
}
