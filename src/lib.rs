//! app_otrsticket: an Asterisk module whose OTRSTicket() application creates
//! an OTRS/Znuny ticket for the caller before the call reaches an operator.
//!
//! The logic lives in the `otrs-core` crate (no Asterisk in it); here
//! `asterisk` holds every unsafe FFI call, and `app`, `cli`, `module` and
//! `state` glue the two together.

// Inside an `unsafe fn` each unsafe operation still needs its own block and
// SAFETY comment: the function's contract is not a licence for its body.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(otrs_no_asterisk))]
mod answered_app;
#[cfg(not(otrs_no_asterisk))]
mod app;
#[cfg(not(otrs_no_asterisk))]
mod asterisk;
#[cfg(not(otrs_no_asterisk))]
mod call_end_app;
#[cfg(not(otrs_no_asterisk))]
mod cli;
#[cfg(not(otrs_no_asterisk))]
mod module;
#[cfg(not(otrs_no_asterisk))]
mod state;

// Built without Asterisk's headers (build.rs): no module, only a reference
// to a symbol that exists nowhere, so loading this file always fails with
// "undefined symbol: app_otrsticket_built_without_asterisk_headers" instead
// of looking like a module. Not in test builds: they are programs, and
// must link.
#[cfg(all(otrs_no_asterisk, not(test)))]
mod stub {
    extern "C" {
        static app_otrsticket_built_without_asterisk_headers: u8;
    }

    // SAFETY: only the address is taken, for the loader to resolve; the
    // symbol exists nowhere, so nothing ever reads it.
    #[used]
    static REFUSE_TO_LOAD: &u8 = unsafe { &app_otrsticket_built_without_asterisk_headers };
}
