//! The dialplan application OTRSCallEnd([profile]), meant for a hangup
//! handler: writes what happened on the call into the call's ticket.

use std::os::raw::c_char;
use std::time::Instant;

use crate::asterisk::channel::Channel;
use crate::asterisk::{self, copy_cstr, sys};
use crate::state::{self, InFlight};
use otrs_core::call::call_key;
use otrs_core::call::end::{self, CallEndInfo};
use otrs_core::call::flow::{self, EndResult};

pub const NAME: &std::ffi::CStr = c"OTRSCallEnd";
pub const SYNOPSIS: &std::ffi::CStr = c"Add the call's outcome (answered, missed, times) to its OTRS ticket";
pub const DESCRIPTION: &std::ffi::CStr = c"Syntax: OTRSCallEnd([profile])
  profile  a section of otrs.conf (default: the one OTRSTicket() used)

Meant for a hangup handler of the caller's channel, after OTRSTicket() and
Dial():
  same => n,Set(CHANNEL(hangup_handler_push)=otrs-end,s,1)
Adds an article to the call's ticket: answered (by whom) or missed (with
DIALSTATUS), waiting time, talk time (ANSWEREDTIME), hangup cause. When
[agents] of otrs.conf names the agent of the answering channel, the
article names them and they become the ticket's owner (as OTRSAnswered()
does at answer time; OTRSERROR says why when OTRS refuses). A missed
call can set the ticket's state and priority (profile options missed_state,
missed_priority); time_units = yes accounts the talk minutes. When the
ticket was only queued, the outcome is queued with it.

Sets OTRSENDSTATUS: ADDED (written to the ticket), QUEUED (will be),
SKIPPED (no ticket for this call), FAILED (see the log).
";

/// Entry point Asterisk calls on the channel's thread (a hangup handler's).
///
/// # Safety
/// Called by Asterisk only (registered by [`register`]): `raw` is NULL or
/// the live channel running the application, `data` NULL or its argument
/// string, both valid until this returns.
pub unsafe extern "C" fn exec(raw: *mut sys::ast_channel, data: *const c_char) -> i32 {
    otrs_core::runtime::guard::guard("OTRSCallEnd()", 0, || {
        // SAFETY: Asterisk passes the live channel and the argument string.
        let Some(chan) = (unsafe { Channel::from_raw(raw) }) else {
            return 0;
        };
        // SAFETY: NULL or Asterisk's NUL-terminated argument string.
        let data = unsafe { copy_cstr(data) };
        run(&chan, data.trim());
        0
    })
}

fn var(chan: &Channel, name: &str) -> String {
    chan.var(name).unwrap_or_default()
}

fn run(chan: &Channel, profile_arg: &str) {
    let _in = InFlight::enter();
    let Some(svc) = state::current() else {
        chan.set_var("OTRSENDSTATUS", "FAILED");
        return;
    };
    let profile_name = if profile_arg.is_empty() { var(chan, "OTRSPROFILE") } else { profile_arg.to_string() };
    let Some(profile) = svc.config.profile(&profile_name).or_else(|| svc.config.profile("default")) else {
        chan.set_var("OTRSENDSTATUS", "FAILED");
        return;
    };
    // Dial() sets DIALEDTIME only in some outcomes; else: since OTRSTicket()
    let since_start = var(chan, "OTRSSTARTED").trim().parse::<f64>().ok().filter(|s| s.is_finite()).map(|start| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        // rounded to the nearest second, as Dial()'s own times are
        (now.as_secs_f64() - start).max(0.0).round() as u64
    });
    let peer_name = var(chan, "DIALEDPEERNAME");
    let agent = svc.config.agents.agent_for(&peer_name).map(str::to_string);
    let info = CallEndInfo {
        dialstatus: var(chan, "DIALSTATUS"),
        agent,
        set_responsible: svc.config.general.set_responsible,
        peer_name,
        peer_number: var(chan, "DIALEDPEERNUMBER"),
        dialed_secs: end::parse_secs(&var(chan, "DIALEDTIME")).or(since_start),
        answered_secs: end::parse_secs(&var(chan, "ANSWEREDTIME")),
        hangup_cause: var(chan, "HANGUPCAUSE"),
    };
    let end = end::outcome(&info, profile);
    let id = chan.identity();
    let status = var(chan, "OTRSSTATUS");
    let ticket_id = var(chan, "OTRSTICKETID");
    let deadline = Instant::now() + svc.config.general.timeout;
    let key = call_key(&svc.node, &id.uniqueid);
    let result = flow::apply_call_end(&svc, &key, &status, &ticket_id, &end, deadline);
    let (text, log) = match &result {
        EndResult::Added => ("ADDED", format!("outcome added to ticket {ticket_id}")),
        EndResult::AddedWithoutOwner(why) => {
            chan.set_var("OTRSERROR", why);
            ("ADDED", format!("outcome added to ticket {ticket_id}, the owner not changed: {why}"))
        }
        EndResult::Queued(why) => ("QUEUED", format!("outcome queued ({why})")),
        EndResult::Skipped(why) => ("SKIPPED", format!("no ticket to add the outcome to ({why})")),
        EndResult::Failed(why) => ("FAILED", format!("outcome not added: {why}")),
    };
    otrs_core::log_verbose!("OTRSCallEnd: {} call {}: {} - {}", id.name, id.uniqueid, end.subject, log);
    chan.set_var("OTRSENDSTATUS", text);
}

pub fn register() -> bool {
    asterisk::register_application(NAME, exec, SYNOPSIS, DESCRIPTION)
}

pub fn unregister() {
    asterisk::unregister_application(NAME);
}
