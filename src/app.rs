//! The dialplan application OTRSTicket(number[,profile]).

use std::os::raw::c_char;
use std::time::Instant;

use crate::asterisk::channel::Channel;
use crate::asterisk::{self, copy_cstr, sys};
use crate::state::{self, InFlight, STATS};
use otrs_core::call::args;
use otrs_core::call::flow::{self, Services};
use otrs_core::call::{CallInfo, Outcome, Status};
use otrs_core::runtime::events::{self, Source, TicketEvent};
use otrs_core::runtime::stats::Stats;

pub const NAME: &std::ffi::CStr = c"OTRSTicket";
pub const SYNOPSIS: &std::ffi::CStr = c"Create an OTRS/Znuny ticket for the caller before the call reaches an operator";
pub const DESCRIPTION: &std::ffi::CStr = c"Syntax: OTRSTicket(number[,profile[,options]])
  number   the caller's number, usually ${CALLERID(num)}
  profile  a section of otrs.conf (default: [default])
  options  i  the result variables are inherited by the channels dialled
              next (the operator's channel sees OTRSTICKETNUMBER etc.)
           n  the caller name shown on the operator's phone becomes the
              profile's 'display' template (default: name #ticket number)

Finds the caller in the OTRS customer database (customer_user.phone and
.mobile, numbers compared after normalisation) and creates a ticket through
the GenericInterface SOAP connector. An unknown or anonymous caller gets a
ticket for the 'unknown_customer' of otrs.conf. The call always goes on:
the application waits at most 'timeout' milliseconds and returns 0 (-1 only
when the caller hung up meanwhile).

Sets these channel variables:
  OTRSSTATUS        CREATED  the ticket was created
                    APPENDED a repeat call: added to the open ticket of an
                             earlier call (profile option repeat_window)
                    QUEUED   OTRS could not take it in time: it is in the
                             spool and is created as soon as OTRS answers
                    FAILED   OTRS refused it (see OTRSERROR)
                    IGNORED  the caller is in ignore_numbers: nothing
                             was asked of OTRS (OTRSERROR names the entry)
  OTRSERROR         short reason when not created at once, else empty
  OTRSTICKETID      the ticket's TicketID
  OTRSTICKETNUMBER  the ticket number agents see (e.g. 2026112610000015)
  OTRSARTICLEID     the first article's ArticleID
  OTRSCUSTOMERUSER  the customer login the ticket belongs to
  OTRSCUSTOMERID    that customer's company (customer_id)
  OTRSMATCHES       customer records that matched the number (0 = unknown)
  OTRSTICKETURL     the ticket in the agent interface (option agent_url)

Every created or appended ticket raises the AMI event OTRSTicket.
";

const VARIABLES: &[&str] = &[
    "OTRSSTATUS",
    "OTRSERROR",
    "OTRSTICKETID",
    "OTRSTICKETNUMBER",
    "OTRSARTICLEID",
    "OTRSCUSTOMERUSER",
    "OTRSCUSTOMERID",
    "OTRSMATCHES",
    "OTRSTICKETURL",
    // which profile: OTRSCallEnd() uses the same
    "OTRSPROFILE",
    // when the call reached OTRSTicket() (unix seconds): OTRSCallEnd()'s
    // waiting time when Dial() did not say
    "OTRSSTARTED",
];

/// Entry point Asterisk calls on the channel's thread.
///
/// # Safety
/// Called by Asterisk only (registered by [`register`]): `raw` is NULL or
/// the live channel running the application, `data` NULL or its argument
/// string, both valid until this returns.
pub unsafe extern "C" fn exec(raw: *mut sys::ast_channel, data: *const c_char) -> i32 {
    otrs_core::runtime::guard::guard("OTRSTicket()", 0, || {
        // SAFETY: Asterisk passes the live channel and the argument string.
        let Some(chan) = (unsafe { Channel::from_raw(raw) }) else {
            return 0;
        };
        // SAFETY: NULL or Asterisk's NUL-terminated argument string.
        let data = unsafe { copy_cstr(data) };
        run(&chan, &data)
    })
}

fn run(chan: &Channel, data: &str) -> i32 {
    let _in = InFlight::enter();
    let started = Instant::now();
    Stats::count(&STATS.calls);
    let result = otrs_core::runtime::guard::guard("OTRSTicket() flow", None, || Some(create(chan, data, started)));
    let (outcome, handoff) =
        result.unwrap_or_else(|| (Outcome::failed("internal error (see the Asterisk log)"), Handoff::default()));
    STATS.record_latency(started.elapsed());
    if let Some(t) = outcome.lookup_time {
        STATS.record_lookup(t);
    }
    outcome.count_in(&STATS);
    set_variables(chan, &outcome, &handoff, handoff.varset_events);
    if let Some(name) = &handoff.display {
        if !chan.write_function("CALLERID(name)", name) {
            otrs_core::log_warning!("OTRSTicket: option n: cannot set CALLERID(name) (is func_callerid loaded?)");
        }
    }
    if chan.hung_up() {
        -1
    } else {
        0
    }
}

/// What the operator's side gets: option i, option n, the ticket URL.
#[derive(Default)]
struct Handoff {
    profile: String,
    started: String,
    inherit: bool,
    display: Option<String>,
    url: String,
    /// `varset_events` of the configuration the call ran with.
    varset_events: bool,
}

fn handoff_for(svc: &Services, profile: &otrs_core::config::Profile, call: &CallInfo, o: &Outcome, options: &str) -> Handoff {
    let when = std::time::SystemTime::now();
    let url = flow::agent_url(&svc.config, profile, call, o, when);
    let display = (options.contains('n') && o.ticket().is_some())
        .then(|| flow::render_handoff(&svc.config, profile, call, o, when, &profile.display));
    let now = when.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Handoff {
        profile: profile.name.clone(),
        started: format!("{}.{:03}", now.as_secs(), now.subsec_millis()),
        inherit: options.contains('i'),
        display,
        url,
        varset_events: svc.config.general.varset_events,
    }
}

fn raise_event(call: &CallInfo, o: &Outcome, url: &str) {
    if let Some(e) = flow::ticket_event(call, o, url, Source::Call) {
        events::emit(&e);
    }
}

/// Forwards ticket events to AMI (set as the events sink at load).
pub fn ami_sink(e: &TicketEvent) {
    asterisk::manager_event("OTRSTicket", &e.ami_body());
}

fn create(chan: &Channel, data: &str, started: Instant) -> (Outcome, Handoff) {
    let Some(svc) = state::current() else {
        let why = state::not_configured().unwrap_or_else(|| "not loaded".into());
        return (Outcome::failed(&format!("module not configured: {why}")), Handoff::default());
    };
    let a = args::split(data, chan.caller_number().as_deref());
    let profile = match svc.config.profile(&a.profile) {
        Some(p) => p,
        None => {
            otrs_core::log_warning!("OTRSTicket: no profile [{}] in otrs.conf; using [default]", a.profile);
            match svc.config.profile("default") {
                Some(p) => p,
                None => return (Outcome::failed("no [default] profile"), Handoff::default()),
            }
        }
    };
    let id = chan.identity();
    let call = CallInfo {
        caller: a.number,
        channel: id.name,
        uniqueid: id.uniqueid,
        linkedid: id.linkedid,
        exten: id.exten,
        context: id.context,
        node: svc.node.clone(),
    };
    let deadline = state::deadline_from(started, &svc.config);
    let outcome = {
        let _service = chan.autoservice();
        flow::handle_call(&svc, profile, &call, deadline)
    };
    let handoff = handoff_for(&svc, profile, &call, &outcome, &a.options);
    raise_event(&call, &outcome, &handoff.url);
    match (outcome.status(), outcome.ticket()) {
        (Status::Created | Status::Appended, Some(t)) => otrs_core::log_verbose!(
            "OTRSTicket: {} call {} from {}: {} ticket {} (id {}) for customer {} in queue {} ({} ms)",
            call.channel,
            call.uniqueid,
            outcome.caller,
            if outcome.status() == Status::Appended { "added to" } else { "created" },
            t.ticket_number,
            t.ticket_id,
            outcome.customer_user,
            profile.queue,
            started.elapsed().as_millis()
        ),
        (Status::Ignored, _) => otrs_core::log_verbose!(
            "OTRSTicket: {} call {} from {}: no ticket ({})",
            call.channel,
            call.uniqueid,
            outcome.caller,
            outcome.error()
        ),
        (Status::Queued, _) => otrs_core::log_warning!(
            "OTRSTicket: {} call {} from {}: ticket queued ({}); the call goes on, the spool worker creates it later",
            call.channel,
            call.uniqueid,
            outcome.caller,
            outcome.error()
        ),
        _ => otrs_core::log_warning!(
            "OTRSTicket: {} call {} from {}: no ticket: {}",
            call.channel,
            call.uniqueid,
            outcome.caller,
            outcome.error()
        ),
    }
    (outcome, handoff)
}

fn set_variables(chan: &Channel, o: &Outcome, h: &Handoff, varset_events: bool) {
    let t = o.ticket();
    let values = [
        o.status().as_str().to_string(),
        o.error().to_string(),
        t.map(|t| t.ticket_id.clone()).unwrap_or_default(),
        t.map(|t| t.ticket_number.clone()).unwrap_or_default(),
        t.map(|t| t.article_id.clone()).unwrap_or_default(),
        o.customer_user.clone(),
        o.customer_id.clone(),
        o.matches.map(|m| m.to_string()).unwrap_or_default(),
        h.url.clone(),
        h.profile.clone(),
        h.started.clone(),
    ];
    // "__" makes Asterisk copy the variable to every channel dialled from
    // this one, however deep (the operator's channel).
    let prefix = if h.inherit { "__" } else { "" };
    let vars: Vec<(String, String)> =
        VARIABLES.iter().zip(values).map(|(name, value)| (format!("{prefix}{name}"), value)).collect();
    if varset_events {
        for (name, value) in &vars {
            chan.set_var(name, value);
        }
    } else {
        chan.set_vars_quiet(&vars);
    }
}

pub fn register() -> bool {
    asterisk::register_application(NAME, exec, SYNOPSIS, DESCRIPTION)
}

pub fn unregister() {
    asterisk::unregister_application(NAME);
}
