//! The dialplan application OTRSAnswered([ticketid]), meant for Dial()'s
//! U() subroutine: the agent who answered owns the call's ticket.

use std::os::raw::c_char;
use std::time::Instant;

use crate::asterisk::channel::Channel;
use crate::asterisk::{self, copy_cstr, sys};
use crate::state::{self, InFlight};
use otrs_core::call::answered::{self, Answered};

pub const NAME: &std::ffi::CStr = c"OTRSAnswered";
pub const SYNOPSIS: &std::ffi::CStr = c"Make the agent who answered the owner of the call's OTRS ticket";
pub const DESCRIPTION: &std::ffi::CStr = c"Syntax: OTRSAnswered([ticketid])
  ticketid  the ticket (default: OTRSTICKETID, inherited from the caller's
            channel with OTRSTicket()'s option i)

Meant for the subroutine Dial() runs on the answered channel, before the
two are connected:
  same => n,OTRSTicket(${CALLERID(num)},,i)
  same => n,Dial(PJSIP/4507,30,U(otrs-answered))
  [otrs-answered]
  exten => s,1,OTRSAnswered()
   same => n,Return()
The answering channel (its name without the -0000001a suffix) is looked up
in [agents] of otrs.conf; that agent becomes the ticket's Owner (and
Responsible with set_responsible = yes) and the ticket's state open, while
the agent is still on the call. A queued ticket gets its owner with the
call's outcome (OTRSCallEnd()). The application waits at most 'timeout'.

Sets OTRSANSWERSTATUS on the answered channel: OWNER (done), NOAGENT (no
[agents] entry), QUEUED, SKIPPED (no ticket), REFUSED (OTRS does not know
the agent: see OTRSERROR), FAILED (OTRS did not answer: OTRSCallEnd() tries
again); OTRSAGENT the agent's login.
";

/// Entry point Asterisk calls on the answered channel's thread.
///
/// # Safety
/// Called by Asterisk only (registered by [`register`]): `raw` is NULL or
/// the live channel running the application, `data` NULL or its argument
/// string, both valid until this returns.
pub unsafe extern "C" fn exec(raw: *mut sys::ast_channel, data: *const c_char) -> i32 {
    otrs_core::runtime::guard::guard("OTRSAnswered()", 0, || {
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

fn run(chan: &Channel, ticket_arg: &str) {
    let _in = InFlight::enter();
    let started = Instant::now();
    let Some(svc) = state::current() else {
        chan.set_var("OTRSANSWERSTATUS", "FAILED");
        return;
    };
    let (status, ticket_id) = if ticket_arg.is_empty() {
        (chan.var("OTRSSTATUS").unwrap_or_default(), chan.var("OTRSTICKETID").unwrap_or_default())
    } else {
        ("CREATED".to_string(), ticket_arg.to_string())
    };
    let id = chan.identity();
    let deadline = state::deadline_from(started, &svc.config);
    let result = {
        // the caller and the agent wait for this: keep both serviced
        let _service = chan.autoservice();
        answered::on_answer(&svc, &id.name, &status, &ticket_id, deadline)
    };
    match &result {
        Answered::Owner(agent) => {
            otrs_core::log_verbose!(
                "OTRSAnswered: {}: agent {agent} owns ticket id {ticket_id} ({} ms)",
                id.name,
                started.elapsed().as_millis()
            )
        }
        Answered::NoAgent => otrs_core::log_verbose!("OTRSAnswered: {}: no [agents] entry, ticket owner unchanged", id.name),
        Answered::Queued(agent) => {
            otrs_core::log_verbose!("OTRSAnswered: {}: ticket queued; OTRSCallEnd() gives it to {agent}", id.name)
        }
        Answered::Skipped(why) => otrs_core::log_verbose!("OTRSAnswered: {}: {why}", id.name),
        Answered::Refused(why) | Answered::Failed(why) => otrs_core::log_warning!("OTRSAnswered: {}: {why}", id.name),
    }
    if let Answered::Owner(a) | Answered::Queued(a) = &result {
        chan.set_var("OTRSAGENT", a);
    }
    if !result.error().is_empty() {
        chan.set_var("OTRSERROR", result.error());
    }
    chan.set_var("OTRSANSWERSTATUS", result.as_str());
}

pub fn register() -> bool {
    asterisk::register_application(NAME, exec, SYNOPSIS, DESCRIPTION)
}

pub fn unregister() {
    asterisk::unregister_application(NAME);
}
