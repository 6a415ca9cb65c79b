//! The module's CLI commands.

use std::sync::atomic::Ordering;

use crate::asterisk::cli::{self, CliError, Command};
use crate::state::{self, IN_FLIGHT, LOADED_AT, STATS};
use otrs_core::status::{self, StatusInput};

static COMMANDS: [Command; 1] = [Command {
    command: c"otrs show status",
    summary: c"Show OTRS ticket module status",
    usage: c"Usage: otrs show status\n       Shows the OTRS and database settings (never passwords), the state of the\n       customer index, counters since load, the last error and the latency of\n       the ticket flow.\n",
    run: show_status,
}];

fn show_status(args: &[String]) -> Result<String, CliError> {
    if !args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let svc = state::current();
    let input = StatusInput {
        version: env!("CARGO_PKG_VERSION"),
        config: svc.as_deref().map(|s| &s.config),
        index: svc.as_deref().map(|s| s.index.status()),
        stats: STATS.snapshot(),
        in_flight: IN_FLIGHT.load(Ordering::SeqCst),
        loaded_at: *LOADED_AT.lock().unwrap_or_else(|p| p.into_inner()),
    };
    Ok(status::render(&input))
}

pub fn register() -> bool {
    cli::register(&COMMANDS)
}

pub fn unregister() {
    cli::unregister();
}
