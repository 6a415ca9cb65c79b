//! One call's ticket: the app's arguments, the flow, the call's outcome.

pub mod args;
pub mod end;
pub mod flow;
