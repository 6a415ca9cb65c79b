//! What every layer uses: logging, the panic guard, local time, OTRS's
//! health, counters, ticket events and the status text.

pub mod logger;

pub mod clock;
pub mod events;
pub mod guard;
pub mod health;
pub mod stats;
pub mod status;
