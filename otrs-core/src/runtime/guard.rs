//! The one guard around every function Asterisk calls into: a panic must
//! never unwind into C (undefined behaviour, and in practice a dead PBX with
//! every call on it). A caught panic is logged with the place it happened
//! (file:line) and turned into the value the caller expects on failure.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Once;

/// Where a panic happened, copied into a fixed buffer: the hook must not
/// allocate, and the location std lends it only lives for the call.
#[derive(Clone, Copy)]
struct Place {
    /// The file name's last bytes (its end says most: crate/src/file.rs).
    file: [u8; FILE_BYTES],
    len: usize,
    line: u32,
}

const FILE_BYTES: usize = 160;

impl Place {
    fn of(at: &Location<'_>) -> Place {
        let name = at.file();
        // the tail of the name, cut on a character boundary
        let mut from = name.len().saturating_sub(FILE_BYTES);
        while !name.is_char_boundary(from) {
            from += 1;
        }
        let tail = name.get(from..).unwrap_or_default().as_bytes();
        let mut file = [0u8; FILE_BYTES];
        let len = tail.len().min(FILE_BYTES);
        if let (Some(dst), Some(src)) = (file.get_mut(..len), tail.get(..len)) {
            dst.copy_from_slice(src);
        }
        Place { file, len, line: at.line() }
    }

    fn text(&self) -> String {
        let file = self.file.get(..self.len).unwrap_or_default();
        format!("{}:{}", String::from_utf8_lossy(file), self.line)
    }
}

thread_local! {
    /// Where the last panic on this thread happened, set by the panic hook.
    /// Per thread, so panics on other threads never mix in. A `Copy` value
    /// with a const initialiser: no TLS destructor is registered (one would
    /// keep the module mapped after `module unload`, see src/asterisk/thread.rs).
    static PANIC_AT: Cell<Option<Place>> = const { Cell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs (once) a panic hook that notes the panic's location for the
/// guard, then runs the hook that was there before (the default one prints
/// to stderr, which a daemonised Asterisk discards). The hook only copies a
/// few bytes: no allocation, no lock, no logging, so it cannot panic itself
/// (a panic inside a panic hook aborts the whole process).
fn install_hook() {
    // set_hook panics when called while panicking: never try it then.
    if std::thread::panicking() {
        return;
    }
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                let _ = PANIC_AT.try_with(|p| p.set(Some(Place::of(at))));
            }
            previous(info);
        }));
    });
}

/// Runs `f`; on panic returns the line to log: what panicked, the message
/// and where.
fn catch<R>(what: &str, f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    // A location left from an earlier panic must not be blamed on this one
    // (a payload re-raised with resume_unwind does not call the hook).
    let _ = PANIC_AT.try_with(|p| p.set(None));
    // AssertUnwindSafe: after a panic we only return the fallback; shared
    // state is behind locks whose poisoning the code tolerates.
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let at = PANIC_AT.try_with(Cell::take).ok().flatten().map(|p| p.text()).unwrap_or_else(|| "an unknown place".to_string());
        format!("internal error in {what}: {msg} at {at} (caught; Asterisk is unaffected)")
    })
}

/// Runs `f`; on panic logs `what` with the panic message and its file:line,
/// and returns `on_panic`.
pub fn guard<R>(what: &str, on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch(what, f) {
        Ok(r) => r,
        Err(line) => {
            crate::log_error!("{line}");
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

    #[test]
    fn the_log_line_names_the_panics_file_and_line() {
        let line = line!() + 1;
        let e = catch("test", || -> i32 { panic!("boom") }).unwrap_err();
        assert_eq!(e, format!("internal error in test: boom at {}:{line} (caught; Asterisk is unaffected)", file!()));
    }

    #[test]
    fn an_unwrap_is_blamed_on_its_caller_not_on_std() {
        // black_box: a None the compiler (and clippy) cannot see through
        let none: Option<u8> = std::hint::black_box(None);
        let line = line!() + 1;
        let e = catch("unwrap", || none.unwrap()).unwrap_err();
        assert!(e.contains(&format!("{}:{line}", file!())), "{e}");
    }

    #[test]
    fn any_payload_is_reported_with_its_place() {
        let line = line!() + 1;
        let e = catch::<()>("odd", || std::panic::panic_any(42u32)).unwrap_err();
        assert!(e.contains("unknown panic") && e.contains(&format!("{}:{line}", file!())), "{e}");
    }

    #[test]
    fn a_resumed_payload_is_not_blamed_on_an_earlier_panic() {
        // the first panic's location must not stick to the second one,
        // which never passes through the hook
        let _ = catch::<()>("first", || panic!("first"));
        let e = catch::<()>("second", || std::panic::resume_unwind(Box::new("again"))).unwrap_err();
        assert_eq!(e, "internal error in second: again at an unknown place (caught; Asterisk is unaffected)");
    }

    #[test]
    fn panics_on_many_threads_each_get_their_own_place() {
        // Panics raced on eight threads: each one's line must be its own
        // (the location is kept per thread, never shared).
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8u32)
            .map(|i| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let (e, line) = if i % 2 == 0 {
                        (catch::<()>("even", || panic!("even {i}")).unwrap_err(), line!())
                    } else {
                        (catch::<()>("odd", || panic!("odd {i}")).unwrap_err(), line!())
                    };
                    assert!(e.contains(&format!("{}:{line}", file!())), "{e}");
                    assert!(e.contains(&format!(" {i} at ")), "{e}");
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a thread's assertion failed");
        }
    }
}
