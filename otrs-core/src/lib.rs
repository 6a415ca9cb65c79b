//! The logic of app_otrsticket that knows nothing of Asterisk: number
//! normalisation, the in-memory customer index, OTRS's SOAP protocol and
//! client, otrs.conf's rules, and the ticket flow of one call. Everything
//! here is tested and benchmarked without an Asterisk; the module crate at
//! the top of the repository glues it to Asterisk's C API.

pub mod runtime;

pub mod call;
pub mod config;
pub mod customers;
pub mod number;
pub mod otrs;
pub mod spool;
pub mod template;
pub mod text;
