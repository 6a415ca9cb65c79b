//! The dialplan application OTRSCallEnd([profile]), meant for a hangup
//! handler: writes what happened on the call into the call's ticket.

use std::os::raw::c_char;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::asterisk::channel::Channel;
use crate::asterisk::{self, copy_cstr, sys};
use crate::state::{self, InFlight};
use otrs_core::call::call_key;
use otrs_core::call::end::{self, CallEnd, CallEndInfo};
use otrs_core::call::flow::{self, EndResult, Services};
use otrs_core::call::recording::{self, FileRef, Ready};

pub const NAME: &std::ffi::CStr = c"OTRSCallEnd";
pub const SYNOPSIS: &std::ffi::CStr = c"Add the call's outcome (answered, missed, times) to its OTRS ticket";
pub const DESCRIPTION: &std::ffi::CStr = c"Syntax: OTRSCallEnd([profile[,file]])
  profile  a section of otrs.conf (default: the one OTRSTicket() used)
  file     a recording to attach (default: MIXMONITOR_FILENAME, or for a
           missed call the message VoiceMail() left, VM_MESSAGEFILE)

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

With a file the outcome article carries it as an attachment (Filename
the file's name, the MIME type from its extension; a voicemail's duration
in the article). MixMonitor closes its file only after the hangup: the
file is waited for off the channel's thread (at most recording_wait) and
sent complete, or not at all: a file above max_attachment_size is not sent
and the article says so. When OTRS is down it waits in the spool with the
outcome (the file referenced, copied with spool_copy = yes).

Sets OTRSENDSTATUS: ADDED (written to the ticket), QUEUED (will be: also
when a file goes with it), SKIPPED (no ticket for this call), FAILED (see
the log).
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
        let (profile, file) = data.split_once(',').unwrap_or((&data, ""));
        run(&chan, profile.trim(), file.trim());
        0
    })
}

fn var(chan: &Channel, name: &str) -> String {
    chan.var(name).unwrap_or_default()
}

/// The file that goes with the outcome: the argument, a missed call's
/// voicemail, or MixMonitor's recording.
fn file_for(chan: &Channel, arg: &str, answered: bool, key: &str) -> Option<FileRef> {
    if !arg.is_empty() {
        return Some(recording::file_ref(arg, "Recording", "", key));
    }
    if !answered {
        if let Some((path, secs)) = recording::voicemail_file(&var(chan, "VM_MESSAGEFILE"), recording::VOICEMAIL_FORMATS) {
            let detail = secs.map(|s| format!("{}:{:02}, ", s / 60, s % 60)).unwrap_or_default();
            return Some(recording::file_ref(&path, "Voicemail", &detail, key));
        }
    }
    let mixmonitor = var(chan, "MIXMONITOR_FILENAME");
    (!mixmonitor.trim().is_empty()).then(|| recording::file_ref(mixmonitor.trim(), "Recording", "", key))
}

/// How long a file must stay unchanged (and closed) to count as complete.
const FILE_SETTLE: Duration = Duration::from_millis(500);

/// Off the channel's thread: waits for the file, then writes the outcome
/// with it (or queues both). Holds an InFlight so the module is not
/// unloaded under it.
fn finish_with_file(svc: Arc<Services>, key: String, status: String, ticket_id: String, mut end: CallEnd, in_flight: InFlight) {
    let _in = in_flight;
    otrs_core::runtime::guard::guard("OTRSCallEnd() file", (), || {
        if let Some(f) = end.file.clone() {
            if let Ready::TimedOut(why) =
                recording::wait_complete(std::path::Path::new(&f.path), FILE_SETTLE, svc.config.general.recording_wait)
            {
                otrs_core::log_warning!("OTRSCallEnd: call {key}: {} not attached: {why}", f.path);
                end.body.push_str(&format!("{}: {}{} not attached: {why}.\n", f.label, f.detail, f.filename));
                end.file = None;
            }
        }
        let deadline = Instant::now() + svc.config.general.timeout;
        let result = flow::apply_call_end(&svc, &key, &status, &ticket_id, &end, deadline);
        let file = end.file.as_ref().map(|f| f.filename.as_str()).unwrap_or("no file");
        match &result {
            EndResult::Added | EndResult::AddedWithoutOwner(_) => {
                otrs_core::log_verbose!("OTRSCallEnd: call {key}: {} with {file} added to ticket {ticket_id}", end.subject)
            }
            EndResult::Queued(why) => {
                otrs_core::log_notice!("OTRSCallEnd: call {key}: {} with {file} queued ({why})", end.subject)
            }
            EndResult::Skipped(why) | EndResult::Failed(why) => {
                otrs_core::log_warning!("OTRSCallEnd: call {key}: outcome with {file} not added: {why}")
            }
        }
    });
}

fn run(chan: &Channel, profile_arg: &str, file_arg: &str) {
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
    let mut end = end::outcome(&info, profile);
    let id = chan.identity();
    let status = var(chan, "OTRSSTATUS");
    let ticket_id = var(chan, "OTRSTICKETID");
    let deadline = Instant::now() + svc.config.general.timeout;
    let key = call_key(&svc.node, &id.uniqueid);
    let has_ticket = matches!(status.as_str(), "CREATED" | "APPENDED" | "QUEUED");
    if let Some(file) = file_for(chan, file_arg, end.answered, &key).filter(|_| has_ticket && svc.otrs.can_search()) {
        // the hangup handler must not wait for MixMonitor: a thread does
        let path = file.path.clone();
        end.file = Some(Box::new(file));
        let (svc2, key2, status2, ticket2, end2) = (svc.clone(), key.clone(), status.clone(), ticket_id.clone(), end.clone());
        let in_flight = InFlight::enter();
        let spawned = std::thread::Builder::new()
            .name("otrs-call-file".into())
            .spawn(move || finish_with_file(svc2, key2, status2, ticket2, end2, in_flight));
        match spawned {
            Ok(_) => {
                otrs_core::log_verbose!(
                    "OTRSCallEnd: {} call {}: {} - sent with {path} once it is complete",
                    id.name,
                    id.uniqueid,
                    end.subject
                );
                chan.set_var("OTRSENDSTATUS", "QUEUED");
                return;
            }
            Err(e) => {
                otrs_core::log_warning!(
                    "OTRSCallEnd: call {key}: no thread to wait for {path} ({e}): the outcome goes without it"
                );
                end.file = None;
            }
        }
    }
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
