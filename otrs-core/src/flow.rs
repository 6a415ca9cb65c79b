//! The ticket flow of one call: who is calling, which texts the ticket gets,
//! and the exchange with OTRS. Knows nothing of Asterisk: the app hands it a
//! `CallInfo` and turns the `Outcome` into channel variables.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::clock;
use crate::config::{Config, Profile};
use crate::customers::{Customer, CustomerIndex};
use crate::number;
use crate::otrs_client::OtrsClient;
use crate::soap::{NewTicket, TicketCreated};
use crate::template;

/// What the app knows about the call, copied off the channel.
#[derive(Clone, Debug, Default)]
pub struct CallInfo {
    /// The number as the dialplan passed it: untrusted (a SIP From header).
    pub caller: String,
    pub channel: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub exten: String,
    pub context: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
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
    /// customer database could not be asked.
    pub matches: Option<usize>,
    /// The caller as shown in the ticket ("anonymous" when withheld).
    pub caller: String,
}

/// Everything the flow needs, built from one configuration.
pub struct Services {
    pub config: Config,
    pub client: OtrsClient,
    pub index: Arc<CustomerIndex>,
}

/// Who the caller is: the matching customer, or the placeholder customer.
struct Caller {
    display: String,
    customer: Option<Arc<Customer>>,
    matches: Option<usize>,
}

fn identify(svc: &Services, raw: &str) -> Caller {
    let shown = number::sanitize_caller(raw);
    if number::is_anonymous(raw) {
        let display = if shown.is_empty() { "anonymous".to_string() } else { shown };
        return Caller { display, customer: None, matches: Some(0) };
    }
    match svc.index.lookup(raw) {
        Ok(found) => Caller { display: shown, customer: found.customer, matches: Some(found.matches) },
        Err(e) => {
            crate::log_warning!(
                "customer lookup for {shown} not possible ({e}); the ticket goes to '{}'",
                svc.config.general.unknown_customer
            );
            Caller { display: shown, customer: None, matches: None }
        }
    }
}

fn placeholders<'a>(
    svc: &'a Services,
    profile: &'a Profile,
    call: &'a CallInfo,
    caller: &'a Caller,
    now: SystemTime,
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
            "customer_user" => c.map(|c| c.login.clone()).unwrap_or_else(|| svc.config.general.unknown_customer.clone()),
            "customer_id" => c.map(|c| c.customer_id.clone()).unwrap_or_default(),
            "customer_email" => c.map(|c| c.email.clone()).unwrap_or_default(),
            "matches" => caller.matches.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            "channel" => clean(&call.channel),
            "uniqueid" => clean(&call.uniqueid),
            "linkedid" => clean(&call.linkedid),
            "exten" => clean(&call.exten),
            "context" => clean(&call.context),
            "time" => clock::local_datetime(now),
            "date" => clock::local_date(now),
            "profile" => profile.name.clone(),
            _ => return None,
        };
        Some(v)
    }
}

/// Builds the ticket the call gets. Pure: tested without OTRS.
fn ticket_for(svc: &Services, profile: &Profile, call: &CallInfo, caller: &Caller, now: SystemTime) -> NewTicket {
    let vars = placeholders(svc, profile, call, caller, now);
    let customer_user = caller
        .customer
        .as_ref()
        .map(|c| c.login.clone())
        .unwrap_or_else(|| svc.config.general.unknown_customer.clone());
    NewTicket {
        title: template::render(&profile.title, &vars),
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

/// Runs the whole flow for one call; never waits past `deadline`.
pub fn handle_call(svc: &Services, profile: &Profile, call: &CallInfo, deadline: Instant) -> Outcome {
    let caller = identify(svc, &call.caller);
    let ticket = ticket_for(svc, profile, call, &caller, SystemTime::now());
    let customer_id = caller.customer.as_ref().map(|c| c.customer_id.clone()).unwrap_or_default();
    let result = svc.client.create_ticket(&ticket, deadline);
    let (status, error, created) = match result {
        Ok(t) => (Status::Created, String::new(), Some(t)),
        Err(e) => (Status::Failed, e.to_string(), None),
    };
    Outcome {
        status,
        error,
        ticket: created,
        customer_user: ticket.customer_user,
        customer_id,
        matches: caller.matches,
        caller: caller.display,
    }
}

/// Channel fields (name, uniqueid, exten) for ticket texts: no control
/// characters, bounded length. They come from Asterisk but may carry what a
/// peer sent (an exten dialled from outside).
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(128).collect()
}
