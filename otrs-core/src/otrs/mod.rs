//! Talking to OTRS: the GenericInterface SOAP connector and the legacy
//! rpc.pl, over one HTTP transport.

pub mod generic;
pub mod generic_client;
pub mod rpc;
pub mod transport;
