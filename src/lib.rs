//! app_otrsticket: an Asterisk module whose OTRSTicket() application creates
//! an OTRS/Znuny ticket for the caller before the call reaches an operator.
//!
//! The logic lives in the `otrs-core` crate (no Asterisk in it); here
//! `asterisk` holds every unsafe FFI call, and `app`, `cli`, `module` and
//! `state` glue the two together.

// Inside an `unsafe fn` each unsafe operation still needs its own block and
// SAFETY comment: the function's contract is not a licence for its body.
#![deny(unsafe_op_in_unsafe_fn)]

mod app;
mod asterisk;
mod call_end_app;
mod cli;
mod module;
mod state;
