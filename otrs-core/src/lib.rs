//! The logic of app_otrsticket that knows nothing of Asterisk: number
//! normalisation, the in-memory customer index, OTRS's SOAP protocol and
//! client, otrs.conf's rules, and the ticket flow of one call. Everything
//! here is tested and benchmarked without an Asterisk; the module crate at
//! the top of the repository glues it to Asterisk's C API.
//!
//! No unsafe code but where it cannot be avoided, each place allowing it
//! with its reason: `customers::pages` (huge-page buffers), the `Zeroed`
//! marker on the index's buckets, and the libc call that formats local time
//! in `runtime::clock`.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod runtime;

pub mod agents;
pub mod call;
pub mod config;
pub mod customers;
pub mod ignore;
pub mod number;
pub mod otrs;
pub mod spool;
pub mod template;
pub mod text;
