//! The logic of app_otrsticket that knows nothing of Asterisk: number
//! normalisation, the in-memory customer index, OTRS's SOAP protocol and
//! client, otrs.conf's rules, and the ticket flow of one call. Everything
//! here is tested and benchmarked without an Asterisk; the module crate at
//! the top of the repository glues it to Asterisk's C API.

pub mod logger;

pub mod args;
pub mod call_end;
pub mod clock;
pub mod config;
pub mod customers;
pub mod events;
pub mod flow;
pub mod guard;
pub mod health;
pub mod number;
pub mod otrs_client;
pub mod rpc;
pub mod soap;
pub mod spool;
pub mod stats;
pub mod status;
pub mod template;
pub mod transport;
pub mod worker;
