//! The ticket flow of one call: who is calling, which texts the ticket gets,
//! the exchange with OTRS, and what happens when OTRS cannot take it now
//! (the job goes to the spool and the call goes on). Knows nothing of
//! Asterisk: the app hands it a `CallInfo` and turns the `Outcome` into
//! channel variables.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::clock;
use crate::config::{Config, Profile};
use crate::customers::{Customer, CustomerIndex};
use crate::health::Health;
use crate::number;
use crate::otrs_client::{ClientError, OtrsClient};
use crate::soap::{NewTicket, SoapError, TicketCreated};
use crate::spool::{new_job_id, Job, Spool};
use crate::template;

/// What the app knows about the call, copied off the channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallInfo {
    /// The number as the dialplan passed it: untrusted (a SIP From header).
    pub caller: String,
    pub channel: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub exten: String,
    pub context: String,
}

impl CallInfo {
    /// The key that identifies this call's ticket in OTRS (see `call_marker`).
    pub fn key(&self) -> &str {
        &self.uniqueid
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The ticket exists in OTRS.
    Created,
    /// OTRS could not take it now; it is in the spool and will be created.
    Queued,
    /// No ticket, and none will come (OTRS refused it, or the spool failed).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::Queued => "QUEUED",
            Status::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    /// Short reason when not created; empty otherwise.
    pub error: String,
    pub ticket: Option<TicketCreated>,
    pub customer_user: String,
    pub customer_id: String,
    /// Customer rows that matched; 0 = unknown caller. None when the
    /// customer database could not be asked (the job looks again later).
    pub matches: Option<usize>,
    /// The caller as shown in the ticket ("anonymous" when withheld).
    pub caller: String,
}

/// Everything the flow needs, built from one configuration.
pub struct Services {
    pub config: Config,
    pub client: OtrsClient,
    pub index: Arc<CustomerIndex>,
    pub spool: Spool,
    pub health: Arc<Health>,
}

/// Who the caller is: the matching customer, or the placeholder customer.
pub struct Caller {
    pub display: String,
    pub customer: Option<Arc<Customer>>,
    /// None: the customer index was not available.
    pub matches: Option<usize>,
}

/// The caller as ticket texts show it.
pub fn display_caller(raw: &str) -> String {
    let shown = number::sanitize_caller(raw);
    if shown.is_empty() {
        "anonymous".to_string()
    } else {
        shown
    }
}

pub fn identify(index: &CustomerIndex, raw: &str) -> Caller {
    let display = display_caller(raw);
    if number::is_anonymous(raw) {
        return Caller { display, customer: None, matches: Some(0) };
    }
    match index.lookup(raw) {
        Ok(found) => Caller { display, customer: found.customer, matches: Some(found.matches) },
        Err(_) => Caller { display, customer: None, matches: None },
    }
}

/// The text added to every ticket title so that a retry can find a ticket
/// an earlier, unanswered attempt may have created (TicketSearch on Title).
pub fn call_marker(key: &str) -> String {
    let clean: String = key.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(80).collect();
    format!("[call:{clean}]")
}

fn placeholders<'a>(
    config: &'a Config,
    profile: &'a Profile,
    call: &'a CallInfo,
    caller: &'a Caller,
    when: SystemTime,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name: &str| {
        let c = caller.customer.as_deref();
        let v = match name {
            "caller" => caller.display.clone(),
            "caller_name" => match c {
                Some(c) if !c.full_name().is_empty() => c.full_name(),
                Some(c) => c.login.clone(),
                None => "unknown caller".to_string(),
            },
            "customer_name" => c.map(Customer::full_name).unwrap_or_default(),
            "customer_user" => c.map(|c| c.login.clone()).unwrap_or_else(|| config.general.unknown_customer.clone()),
            "customer_id" => c.map(|c| c.customer_id.clone()).unwrap_or_default(),
            "customer_email" => c.map(|c| c.email.clone()).unwrap_or_default(),
            "matches" => caller.matches.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            "channel" => clean(&call.channel),
            "uniqueid" => clean(&call.uniqueid),
            "linkedid" => clean(&call.linkedid),
            "exten" => clean(&call.exten),
            "context" => clean(&call.context),
            "time" => clock::local_datetime(when),
            "date" => clock::local_date(when),
            "profile" => profile.name.clone(),
            _ => return None,
        };
        Some(v)
    }
}

/// Builds the ticket a call gets. Pure: tested without OTRS. `when` is the
/// time of the call (a queued ticket keeps it).
pub fn ticket_for(config: &Config, profile: &Profile, call: &CallInfo, caller: &Caller, when: SystemTime) -> NewTicket {
    let vars = placeholders(config, profile, call, caller, when);
    let customer_user = caller
        .customer
        .as_ref()
        .map(|c| c.login.clone())
        .unwrap_or_else(|| config.general.unknown_customer.clone());
    let mut title = template::render(&profile.title, &vars);
    if config.general.title_call_id && !call.key().is_empty() {
        title = format!("{title} {}", call_marker(call.key()));
    }
    NewTicket {
        title,
        queue: profile.queue.clone(),
        state: profile.state.clone(),
        priority: profile.priority.clone(),
        ticket_type: profile.ticket_type.clone(),
        customer_user,
        subject: template::render(&profile.subject, &vars),
        body: template::render(&profile.body, &vars),
        from: None,
    }
}

/// OTRS refused the ticket itself (unknown queue, missing field): trying
/// again would only be refused again.
pub fn is_permanent(e: &ClientError) -> bool {
    matches!(e, ClientError::Soap(SoapError::Operation { .. })) && !e.is_auth_fail()
}

/// OTRS did not work (as opposed to refusing one ticket): the next calls
/// should not wait for it.
pub fn is_outage(e: &ClientError) -> bool {
    !is_permanent(e) && !e.is_auth_fail()
}

/// Runs the whole flow for one call; never waits past `deadline`.
pub fn handle_call(svc: &Services, profile: &Profile, call: &CallInfo, deadline: Instant) -> Outcome {
    let when = SystemTime::now();
    let caller = identify(&svc.index, &call.caller);
    let customer_id = caller.customer.as_ref().map(|c| c.customer_id.clone()).unwrap_or_default();
    let ticket = ticket_for(&svc.config, profile, call, &caller, when);
    let mut outcome = Outcome {
        status: Status::Failed,
        error: String::new(),
        ticket: None,
        customer_user: ticket.customer_user.clone(),
        customer_id,
        matches: caller.matches,
        caller: caller.display.clone(),
    };

    // Reasons not to try OTRS now: the customer is not known yet, or OTRS
    // failed a moment ago and the spool worker is watching for it.
    let skip = if caller.matches.is_none() {
        Some("customer database not available".to_string())
    } else {
        svc.health.otrs_down().map(|(_, why)| format!("OTRS down ({why})"))
    };
    let attempted = skip.is_none();
    let (reason, maybe_delivered) = match skip {
        Some(reason) => (reason, false),
        None => match svc.client.create_ticket(&ticket, deadline) {
            Ok(t) => {
                outcome.status = Status::Created;
                outcome.ticket = Some(t);
                return outcome;
            }
            Err(e) if is_permanent(&e) => {
                outcome.error = e.to_string();
                return outcome;
            }
            Err(e) => {
                if is_outage(&e) && svc.health.mark_down(&e.to_string()) {
                    crate::log_warning!("OTRS is down ({e}): new calls queue their tickets until it answers again");
                }
                (e.to_string(), e.maybe_delivered())
            }
        },
    };
    let job = Job {
        id: new_job_id(call.key(), when),
        key: call.key().to_string(),
        created: when,
        attempts: u32::from(attempted),
        maybe_delivered,
        last_error: reason.clone(),
        call: call.clone(),
        profile: profile.clone(),
        customer: caller.customer.as_deref().cloned(),
        matches: caller.matches,
    };
    match svc.spool.write(&job) {
        Ok(()) => {
            outcome.status = Status::Queued;
            outcome.error = reason;
        }
        Err(e) => {
            crate::log_error!("cannot write ticket job to spool {}: {e}", svc.spool.dir().display());
            outcome.error = format!("{reason}; spool write failed: {e}");
        }
    }
    outcome
}

/// Channel fields (name, uniqueid, exten) for ticket texts: no control
/// characters, bounded length. They come from Asterisk but may carry what a
/// peer sent (an exten dialled from outside).
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(128).collect()
}
