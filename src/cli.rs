//! The module's CLI commands.

use std::sync::atomic::Ordering;

use crate::asterisk::cli::{self, CliError, Command};
use crate::state::{self, IN_FLIGHT, LOADED_AT, STATS};
use otrs_core::call::flow;
use otrs_core::call::CallInfo;
use otrs_core::otrs::generic_client;
use otrs_core::runtime::stats::Stats;
use otrs_core::runtime::status::{self, StatusInput};

static COMMANDS: [Command; 5] = [
    Command {
        command: c"otrs show status",
        summary: c"Show OTRS ticket module status",
        usage: c"Usage: otrs show status\n       Shows the OTRS and database settings (never passwords), the state of\n       OTRS, the customer index and each customer source, the spool, counters\n       since load, the last error and the latency of the ticket flow.\n",
        run: show_status,
        complete: None,
    },
    Command {
        command: c"otrs spool retry",
        summary: c"Retry queued OTRS tickets now",
        usage: c"Usage: otrs spool retry\n       Makes the spool worker try the queued tickets now instead of waiting\n       for its backoff.\n",
        run: spool_retry,
        complete: None,
    },
    Command {
        command: c"otrs test lookup",
        summary: c"Show which OTRS customer a number matches",
        usage: c"Usage: otrs test lookup <number>\n       Shows the number's normalised form and every customer record that\n       matches it with the source it came from, the one a call would get\n       first. Creates nothing. The number may contain spaces:\n       +7 (916) 122-96-24 needs no quotes.\n",
        run: test_lookup,
        complete: None,
    },
    Command {
        command: c"otrs test ticket",
        summary: c"Create an OTRS ticket as a call would",
        usage: c"Usage: otrs test ticket <number> [profile]\n       Runs the whole ticket flow without a channel, as a call from <number>\n       would, and prints the result. Creates (or queues) a REAL ticket, and\n       counts in 'otrs show status' as a call does. The number may contain\n       spaces; the last word is the profile when it names one or has no\n       digit: otrs test ticket +7 (916) 122-96-24 vip\n",
        run: test_ticket,
        complete: Some(complete_profile),
    },
    Command {
        command: c"otrs set debug",
        summary: c"Log every OTRS SOAP request and reply",
        usage: c"Usage: otrs set debug {on|off}\n       Logs each SOAP request and reply at debug level, passwords and\n       session ids masked. Needs 'core set debug 1' (or a logger channel\n       with debug) to be seen.\n",
        run: set_debug,
        complete: Some(complete_on_off),
    },
];

fn complete_on_off(index: usize) -> Vec<String> {
    if index == 0 {
        vec!["on".into(), "off".into()]
    } else {
        Vec::new()
    }
}

/// The profiles of otrs.conf, for any word after the number.
fn complete_profile(index: usize) -> Vec<String> {
    match state::current() {
        Some(svc) if index > 0 => svc.config.profiles.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn test_lookup(args: &[String]) -> Result<String, CliError> {
    let number = &otrs_core::call::args::cli_number(args).ok_or(CliError::ShowUsage)?;
    let Some(svc) = state::current() else {
        return Ok("app_otrsticket is not configured.\n".into());
    };
    let mut o = format!("Number:           {number}\nShown in tickets: {}\n", flow::display_caller(number));
    if otrs_core::number::is_anonymous(number) {
        o.push_str("Anonymous:        yes (the ticket goes to the unknown-caller customer)\n");
    }
    match svc.index.lookup_sources(number) {
        Err(e) => o.push_str(&format!("Customer index:   {e}\n")),
        Ok((key, all)) => {
            o.push_str(&format!("Normalised:       {}\n", key.as_deref().unwrap_or("(no digits)")));
            o.push_str(&format!("Matches:          {}\n", all.len()));
            for (i, (source, c)) in all.iter().enumerate() {
                let mark = if i == 0 { "*" } else { " " };
                o.push_str(&format!(
                    "  {mark} {:<20} {:<30} customer {:<12} {:<30} from [{source}]\n",
                    c.login(),
                    c.full_name(),
                    c.customer_id(),
                    c.email()
                ));
            }
            if all.is_empty() {
                o.push_str(&format!("A call gets:      the unknown-caller customer '{}'\n", svc.config.general.unknown_customer));
            } else {
                o.push_str("A call gets:      the one marked * (earliest source, then most recently changed)\n");
            }
        }
    }
    Ok(o)
}

fn test_ticket(args: &[String]) -> Result<String, CliError> {
    if args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let Some(svc) = state::current() else {
        return Ok("app_otrsticket is not configured.\n".into());
    };
    let (number, profile_name) =
        otrs_core::call::args::cli_number_and_profile(args, |p| svc.config.profile(p).is_some()).ok_or(CliError::ShowUsage)?;
    let (number, profile_name) = (number.as_str(), profile_name.as_str());
    let Some(profile) = svc.config.profile(profile_name) else {
        return Ok(format!("No profile [{profile_name}] in otrs.conf.\n"));
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let call = CallInfo {
        caller: number.to_string(),
        channel: "CLI/otrs-test-ticket".into(),
        uniqueid: format!("cli-{}.{:03}", now.as_secs(), now.subsec_millis()),
        linkedid: String::new(),
        exten: "cli".into(),
        context: "cli".into(),
        node: svc.node.clone(),
    };
    let started = std::time::Instant::now();
    let o = flow::handle_call(&svc, profile, &call, started + svc.config.general.timeout);
    // A real ticket (or spool job) like a call's: counted like one, so
    // `otrs show status` agrees with the spool. Not in the latency figures,
    // which are those of channels.
    Stats::count(&STATS.calls);
    Stats::count(&STATS.cli_tests);
    o.count_in(&STATS);
    let mut out = format!(
        "Status:           {}\nTime:             {} ms\nCustomer user:    {}\nCustomer id:      {}\nMatches:          {}\n",
        o.status().as_str(),
        started.elapsed().as_millis(),
        o.customer_user,
        o.customer_id,
        o.matches.map(|m| m.to_string()).unwrap_or_else(|| "?".into())
    );
    if let Some(t) = o.ticket() {
        out.push_str(&format!("Ticket:           {} (TicketID {}, ArticleID {})\n", t.ticket_number, t.ticket_id, t.article_id));
    }
    if !o.error().is_empty() {
        out.push_str(&format!("Error:            {}\n", o.error()));
    }
    Ok(out)
}

fn set_debug(args: &[String]) -> Result<String, CliError> {
    match args {
        [v] if v.eq_ignore_ascii_case("on") => {
            generic_client::set_debug(true);
            Ok("OTRS SOAP debugging on (passwords masked).\n".into())
        }
        [v] if v.eq_ignore_ascii_case("off") => {
            generic_client::set_debug(false);
            Ok("OTRS SOAP debugging off.\n".into())
        }
        _ => Err(CliError::ShowUsage),
    }
}

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
        config_history: state::config_history().clone(),
        index: svc.as_deref().map(|s| s.index.status()),
        stats: STATS.snapshot(),
        in_flight: IN_FLIGHT.load(Ordering::SeqCst),
        loaded_at: *LOADED_AT.lock().unwrap_or_else(|p| p.into_inner()),
        spool_dir: svc.as_deref().map(|s| s.spool.dir().display().to_string()),
        spool: svc.as_deref().map(|s| s.spool.stats()),
        otrs_down: state::HEALTH.otrs_down(),
        otrs_rejects: state::HEALTH.otrs_rejects(),
        otrs_protocol: svc.as_deref().map(|s| s.otrs.protocol()),
        spool_broken: state::HEALTH.spool_broken(),
        spool_failures: state::HEALTH.spool_failures(),
        not_configured: state::not_configured(),
    };
    let text = status::render(&input);
    // The Asterisk lines right under the module's own version line.
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    Ok(format!("{first}\n{}{rest}", crate::asterisk::built_for_status()))
}

pub fn register() -> bool {
    cli::register(&COMMANDS)
}

pub fn unregister() {
    cli::unregister();
}
