//! app_otrsticket: an Asterisk module whose OTRSTicket() application creates
//! an OTRS/Znuny ticket for the caller before the call reaches an operator.
//!
//! Pure logic (numbers, SOAP, config, the ticket flow) is in plain modules
//! that know nothing of Asterisk; `asterisk` holds every unsafe FFI call;
//! `app`, `cli` and `module` glue the two together.

pub mod logger;

pub mod args;
pub mod clock;
pub mod config;
pub mod customers;
pub mod flow;
pub mod guard;
pub mod number;
pub mod otrs_client;
pub mod soap;
pub mod state;
pub mod stats;
pub mod status;
pub mod template;

// The Asterisk side. Left out of unit-test builds, which link no Asterisk.
#[cfg(not(test))]
mod app;
#[cfg(not(test))]
mod asterisk;
#[cfg(not(test))]
mod cli;
#[cfg(not(test))]
mod module;
