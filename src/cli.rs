//! The module's CLI commands.

use std::sync::atomic::Ordering;

use crate::asterisk::cli::{self, CliError, Command};
use crate::state::{self, IN_FLIGHT, LOADED_AT, STATS};
use otrs_core::status::{self, StatusInput};

static COMMANDS: [Command; 2] = [
    Command {
        command: c"otrs show status",
        summary: c"Show OTRS ticket module status",
        usage: c"Usage: otrs show status\n       Shows the OTRS and database settings (never passwords), the state of\n       OTRS, the database and the customer index, the spool, counters since\n       load, the last error and the latency of the ticket flow.\n",
        run: show_status,
    },
    Command {
        command: c"otrs spool retry",
        summary: c"Retry queued OTRS tickets now",
        usage: c"Usage: otrs spool retry\n       Makes the spool worker try the queued tickets now instead of waiting\n       for its backoff.\n",
        run: spool_retry,
    },
];

fn spool_retry(args: &[String]) -> Result<String, CliError> {
    if !args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let depth = state::current().map(|s| s.spool.stats().depth).unwrap_or(0);
    if state::kick_worker() {
        Ok(format!("Retrying {depth} queued ticket(s) now; watch the log or 'otrs show status'.\n"))
    } else {
        Ok("The spool worker is not running.\n".to_string())
    }
}

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
        spool_dir: svc.as_deref().map(|s| s.spool.dir().display().to_string()),
        spool: svc.as_deref().map(|s| s.spool.stats()),
        otrs_down: state::HEALTH.otrs_down(),
    };
    Ok(status::render(&input))
}

pub fn register() -> bool {
    cli::register(&COMMANDS)
}

pub fn unregister() {
    cli::unregister();
}
