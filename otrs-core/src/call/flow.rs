//! The ticket flow of one call: who is calling, which texts the ticket gets,
//! the exchange with OTRS, and what happens when OTRS cannot take it now
//! (the job goes to the spool and the call goes on). Knows nothing of
//! Asterisk: the app hands it a `CallInfo` and turns the `Outcome` into
//! channel variables.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::end::CallEnd;
use super::recent::RecentTickets;
use super::{CallInfo, Outcome, TicketResult};
use crate::config::{Config, Profile};
use crate::customers::{Customer, CustomerIndex};
use crate::number;
use crate::otrs::error::Failure;
use crate::otrs::{Article, ClientError, NewTicket, TicketApi, TicketChange, TicketCreated};
use crate::runtime::clock;
use crate::runtime::events::{Source, TicketEvent};
use crate::runtime::health::Health;
use crate::spool::{Job, Spool};
use crate::template;
use crate::text::clean;

/// Everything the flow needs, built from one configuration.
pub struct Services {
    pub config: Config,
    /// OTRS, through the interface the configuration names (`api`).
    pub otrs: Box<dyn TicketApi>,
    pub index: Arc<CustomerIndex>,
    pub spool: Spool,
    pub health: Arc<Health>,
    /// Tickets of recent calls, for `repeat_window`; kept across reloads.
    pub recent: Arc<RecentTickets>,
    /// Which PBX this is (see [`super::call_key`]): Asterisk's systemname,
    /// else the host name, else its entity ID. Empty: calls are keyed by
    /// the bare uniqueid.
    pub node: String,
}

/// Whose repeat calls are grouped: the customer login, or the number.
fn repeat_key(caller: &Caller, raw: &str, plan: &number::NumberPlan) -> Option<String> {
    match &caller.customer {
        Some(c) => Some(format!("customer:{}", c.login())),
        None => number::canonical(raw, plan).map(|n| format!("number:{n}")),
    }
}

/// At most this many tickets a repeat-call search found are checked for
/// the caller's exact login (a pattern may have matched others' first).
const MAX_REPEAT_CANDIDATES: usize = 5;

/// State types of a ticket still being worked on. `StateType` takes a list
/// over SOAP (see the samples).
const OPEN_STATE_TYPES: &[&str] = &["new", "open", "pending reminder", "pending auto"];

/// Who the caller is: the matching customer, or the placeholder customer.
pub struct Caller {
    pub display: String,
    pub customer: Option<Arc<Customer>>,
    /// None: the customer index was not available.
    pub matches: Option<usize>,
}

impl Caller {
    /// What came of this caller's call; `customer_user`: the ticket's.
    pub fn outcome(&self, customer_user: &str, result: TicketResult, lookup_time: Option<Duration>) -> Outcome {
        Outcome {
            result,
            customer_user: customer_user.to_string(),
            customer_id: self.customer.as_ref().map(|c| c.customer_id().to_string()).unwrap_or_default(),
            matches: self.matches,
            caller: self.display.clone(),
            customer: self.customer.clone(),
            lookup_time,
        }
    }
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
    identify_timed(index, raw).0
}

/// [`identify`], and how long the index lookup took (None for a withheld
/// number: nothing is looked up).
fn identify_timed(index: &CustomerIndex, raw: &str) -> (Caller, Option<Duration>) {
    let display = display_caller(raw);
    if number::is_anonymous(raw) {
        return (Caller { display, customer: None, matches: Some(0) }, None);
    }
    let started = Instant::now();
    let found = index.lookup(raw);
    let took = started.elapsed();
    let caller = match found {
        Ok(found) => Caller { display, customer: found.customer, matches: Some(found.matches) },
        Err(_) => Caller { display, customer: None, matches: None },
    };
    (caller, Some(took))
}

/// The text added to every ticket title so that a retry can find a ticket
/// an earlier, unanswered attempt may have created (TicketSearch on Title).
pub fn call_marker(key: &str) -> String {
    let clean: String = key.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(80).collect();
    format!("[call:{clean}]")
}

/// Znuny keeps the first 255 characters of a title: `substr($Param{Title},
/// 0, 255)` in Kernel/System/Ticket.pm's TicketCreate (Perl counts
/// characters, not bytes).
pub const MAX_TITLE_CHARS: usize = 255;

/// `title` and the call's marker, cut so that the marker always survives
/// Znuny's cut: the text is shortened, never the marker.
pub fn with_marker(title: &str, marker: &str) -> String {
    let room = MAX_TITLE_CHARS.saturating_sub(marker.chars().count() + 1);
    let text: String = title.chars().take(room).collect();
    format!("{} {marker}", text.trim_end())
}

/// `${customer}`: who the caller is, as a phrase that reads well for every
/// caller: "Ivan Ivanov (login ivanov, customer ACME)", or why there is no
/// customer (unknown number, withheld number, database not available).
fn describe_customer(c: Option<&Customer>, matches: Option<usize>, raw_caller: &str) -> String {
    match c {
        Some(c) => {
            let mut details = format!("login {}", c.login());
            if !c.customer_id().is_empty() {
                details.push_str(&format!(", customer {}", c.customer_id()));
            }
            match c.full_name() {
                name if name.is_empty() => details,
                name => format!("{name} ({details})"),
            }
        }
        None if number::is_anonymous(raw_caller) => "anonymous caller (the number was withheld)".to_string(),
        None if matches.is_none() => "not known (the customer database could not be asked)".to_string(),
        None => "unknown caller (no customer record matches this number)".to_string(),
    }
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
                Some(c) => c.login().to_string(),
                None => "unknown caller".to_string(),
            },
            "customer" => describe_customer(c, caller.matches, &call.caller),
            "customer_name" => c.map(Customer::full_name).unwrap_or_default(),
            "customer_user" => c.map(|c| c.login().to_string()).unwrap_or_else(|| config.general.unknown_customer.clone()),
            "customer_id" => c.map(|c| c.customer_id().to_string()).unwrap_or_default(),
            "customer_email" => c.map(|c| c.email().to_string()).unwrap_or_default(),
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
    let customer_user =
        caller.customer.as_ref().map(|c| c.login().to_string()).unwrap_or_else(|| config.general.unknown_customer.clone());
    let mut title = template::render(&profile.title, &vars);
    if config.general.title_call_id && !call.uniqueid.is_empty() {
        title = with_marker(&title, &call_marker(&call.key()));
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
        dynamic_fields: match (&config.general.call_id_field, config.general.api) {
            (Some(field), crate::config::Api::Generic) if !call.uniqueid.is_empty() => vec![(field.clone(), call.key())],
            _ => Vec::new(),
        },
    }
}

/// TicketCreate; when OTRS has no `call_id_field` (it refuses the
/// DynamicField), once more without it, within the same deadline: a
/// misspelt field name must not cost tickets.
pub fn create_ticket(
    svc: &Services,
    ticket: &NewTicket,
    customer_id: Option<&str>,
    deadline: Instant,
) -> Result<TicketCreated, crate::otrs::ClientError> {
    match svc.otrs.create(ticket, customer_id, deadline) {
        Err(e) if !ticket.dynamic_fields.is_empty() && e.is_permanent() && e.to_string().contains("DynamicField") => {
            crate::log_error!(
                "call_id_field: OTRS refused the ticket dynamic field ({e}); creating the ticket without it: create the field (README) or remove call_id_field"
            );
            let plain = NewTicket { dynamic_fields: Vec::new(), ..ticket.clone() };
            svc.otrs.create(&plain, customer_id, deadline)
        }
        r => r,
    }
}

/// The tickets of call `key` in OTRS: by `call_id_field` when set, else (or
/// when that finds none: a ticket created before the field was set) by the
/// title's marker. Every value in it is data: the key is the sanitised one.
pub fn find_call_tickets(svc: &Services, key: &str, deadline: Instant) -> Result<Vec<String>, crate::otrs::ClientError> {
    if let (Some(field), true) = (&svc.config.general.call_id_field, svc.otrs.can_search()) {
        let criterion = format!("DynamicField_{field}/Equals");
        let found = svc.otrs.search(&[(criterion.as_str(), key)], deadline)?;
        if !found.is_empty() {
            // Znuny's GenericInterface drops a criterion on a field it does
            // not have (_GetDynamicFields loops over the configured ones):
            // then every ticket matches. A value no ticket has tells.
            let control = svc.otrs.search(&[(criterion.as_str(), "no-such-call-0")], deadline)?;
            if control.is_empty() {
                return Ok(found);
            }
            crate::log_warning!(
                "call_id_field = {field}: OTRS has no such ticket dynamic field (its TicketSearch ignores it); looking for the title's call marker instead"
            );
        }
    }
    if !svc.config.general.title_call_id {
        return Ok(Vec::new());
    }
    let pattern = format!("*{}", call_marker(key));
    svc.otrs.search(&[("Title", pattern.as_str())], deadline)
}

/// Runs the whole flow for one call; never waits past `deadline`.
pub fn handle_call(svc: &Services, profile: &Profile, call: &CallInfo, deadline: Instant) -> Outcome {
    // before the customer lookup: an ignored caller costs nothing
    if let Some(rule) = svc.config.ignored(profile, &call.caller) {
        let caller = Caller { display: display_caller(&call.caller), customer: None, matches: None };
        return caller.outcome("", TicketResult::Ignored(format!("ignore_numbers: {rule}")), None);
    }
    let when = SystemTime::now();
    let (caller, lookup_time) = identify_timed(&svc.index, &call.caller);
    let ticket = ticket_for(&svc.config, profile, call, &caller, when);
    let outcome = |result| caller.outcome(&ticket.customer_user, result, lookup_time);

    // Reasons not to try OTRS now: the customer is not known yet, or OTRS
    // failed a moment ago and the spool worker is watching for it. Never
    // while the spool cannot take jobs: a skipped ticket would be lost.
    let skip = if svc.health.spool_broken().is_some() {
        None
    } else if caller.matches.is_none() {
        Some("customer database not available".to_string())
    } else {
        svc.health.skip_reason()
    };
    if skip.is_none() && !profile.repeat_window.is_zero() && svc.otrs.can_search() {
        if let Some(t) = append_to_recent(svc, profile, call, &caller, &ticket, deadline) {
            return outcome(TicketResult::Appended(t));
        }
    }
    // A repeat-call search that used up the budget is not OTRS failing:
    // queue without calling OTRS down.
    let skip = match skip {
        None if Instant::now() >= deadline => Some("no time left for OTRS after the repeat-call search".to_string()),
        s => s,
    };
    let attempted = skip.is_none();
    let (reason, maybe_delivered) = match skip {
        Some(reason) => (reason, false),
        None => match create_ticket(svc, &ticket, caller.customer.as_ref().map(|c| c.customer_id()), deadline) {
            Ok(t) => {
                if !profile.repeat_window.is_zero() {
                    if let Some(key) = repeat_key(&caller, &call.caller, &svc.config.general.plan) {
                        svc.recent.remember(&key, &t, profile.repeat_window);
                    }
                }
                return outcome(TicketResult::Created(t));
            }
            Err(e) if e.is_permanent() => return outcome(TicketResult::Failed(e.to_string())),
            Err(e) => {
                let reason = match svc.health.otrs_failed(&e) {
                    Failure::Rejects => crate::runtime::health::rejects_text(&e.to_string()),
                    _ => e.to_string(),
                };
                (reason, e.maybe_delivered())
            }
        },
    };
    let mut job = Job::new_ticket(when, call.clone(), profile.clone(), caller.customer.as_deref().cloned(), caller.matches);
    job.attempts = u32::from(attempted);
    job.maybe_delivered = maybe_delivered;
    job.last_error = reason.clone();
    // The budget covers the durable write too: on a slow disk the call goes
    // on at the deadline (plus a moment) and a thread finishes the write.
    let (health, dir, key) = (svc.health.clone(), svc.spool.dir().to_path_buf(), call.key());
    let written = svc.spool.write_until(job, deadline.max(Instant::now()) + WRITE_GRACE, move |r| {
        note_spool(&health, &dir, r);
        if let Err(e) = r {
            crate::log_error!("call {key}: the ticket's job could not be written to the spool ({e})");
        }
    });
    let written = match written {
        Some(r) => r,
        None => {
            crate::log_warning!("call {}: the spool is slow; the call goes on, the job is still being written", call.key());
            return outcome(TicketResult::Queued(format!("{reason}; being written to the spool")));
        }
    };
    match written {
        Ok(()) => outcome(TicketResult::Queued(reason)),
        Err(e) if !attempted && Instant::now() < deadline => {
            // The spool cannot keep the ticket: OTRS may still take it, in
            // what is left of the budget.
            let asked = SystemTime::now();
            match create_ticket(svc, &ticket, caller.customer.as_ref().map(|c| c.customer_id()), deadline) {
                Ok(t) => {
                    if svc.health.mark_up_asked_at(asked) {
                        crate::log_notice!("OTRS answers again: calls create their tickets directly");
                    }
                    outcome(TicketResult::Created(t))
                }
                Err(e2) => {
                    svc.health.otrs_failed(&e2);
                    outcome(TicketResult::Failed(format!("{reason}; spool write failed: {e}; OTRS: {e2}")))
                }
            }
        }
        Err(e) => outcome(TicketResult::Failed(format!("{reason}; spool write failed: {e}"))),
    }
}

/// Writes `job` to the spool, keeping the spool's health: a failure is
/// counted and logged at ERROR once until a write succeeds again.
pub fn spool_write(svc: &Services, job: &Job) -> Result<(), crate::spool::SpoolError> {
    spool_noted(svc, svc.spool.write(job))
}

/// Records what a spool write came to (see [`spool_write`]).
pub fn spool_noted<T>(svc: &Services, r: Result<T, crate::spool::SpoolError>) -> Result<T, crate::spool::SpoolError> {
    note_spool(&svc.health, svc.spool.dir(), &r);
    r
}

/// How long past its deadline a call waits for its job to be durable
/// before it goes on and leaves the write to a thread.
pub const WRITE_GRACE: Duration = Duration::from_millis(50);

fn note_spool<T>(health: &Health, dir: &std::path::Path, r: &Result<T, crate::spool::SpoolError>) {
    match r {
        Ok(_) => {
            if health.spool_ok() {
                crate::log_notice!("spool {} takes jobs again", dir.display());
            }
        }
        Err(e) => {
            if health.spool_failed(&e.to_string()) {
                crate::log_error!(
                    "spool {} cannot take jobs ({e}): calls try OTRS directly; a ticket OTRS cannot take now is lost",
                    dir.display()
                );
            }
        }
    }
}

/// A repeat call: finds the customer's (or number's) ticket from a call
/// within the window that is still open, and adds the call as a phone
/// article. None when there is none, or OTRS did not cooperate in time (the
/// call then gets a ticket of its own).
fn append_to_recent(
    svc: &Services,
    profile: &Profile,
    call: &CallInfo,
    caller: &Caller,
    ticket: &NewTicket,
    deadline: Instant,
) -> Option<TicketCreated> {
    let key = repeat_key(caller, &call.caller, &svc.config.general.plan)?;
    // Finding the ticket gets half of what is left: a slow search must leave
    // the call time for a ticket of its own.
    let now = Instant::now();
    let find_by = now + deadline.saturating_duration_since(now) / 2;
    // A ticket this module remembers, if OTRS still has it open...
    let remembered = svc.recent.within(&key, profile.repeat_window).and_then(|t| {
        let info = svc.otrs.get(&t.ticket_id, find_by).ok()?;
        OPEN_STATE_TYPES.contains(&info.state_type.as_str()).then_some(t.ticket_id)
    });
    let candidate = match remembered {
        Some(id) => id,
        None => {
            // ...else ask OTRS: finds known customers' tickets after a
            // restart, or created by another PBX.
            let login = caller.customer.as_ref()?.login().to_string();
            let minutes = (profile.repeat_window.as_secs() / 60).max(1).to_string();
            // The login is data, not a pattern. TicketSearch takes
            // CustomerUserLogin as a pattern (`*` is a wildcard: see
            // Kernel/System/Ticket/TicketSearch.pm) and CustomerUserLoginRaw
            // as is, but the GenericInterface operation passes only the
            // former on (_GetParams in Kernel/GenericInterface/Operation/
            // Ticket/TicketSearch.pm). So both are sent, and every ticket
            // found is checked for the exact login before it is used.
            let mut criteria: Vec<(&str, &str)> = vec![
                ("CustomerUserLogin", login.as_str()),
                ("CustomerUserLoginRaw", login.as_str()),
                ("TicketCreateTimeNewerMinutes", minutes.as_str()),
                ("SortBy", "Age"),
                ("OrderBy", "Up"),
            ];
            criteria.extend(OPEN_STATE_TYPES.iter().map(|s| ("StateType", *s)));
            let found = svc.otrs.search(&criteria, find_by).ok()?;
            found.into_iter().take(MAX_REPEAT_CANDIDATES).find(|id| {
                svc.otrs.get(id, find_by).is_ok_and(|t| {
                    t.customer_user_id.to_lowercase() == login.to_lowercase() && OPEN_STATE_TYPES.contains(&t.state_type.as_str())
                })
            })?
        }
    };
    let article = Article::phone("customer", &ticket.subject, &ticket.body);
    match svc.otrs.update(&candidate, &TicketChange::default(), Some(&article), deadline) {
        Ok(u) => {
            let t = TicketCreated {
                ticket_id: u.ticket_id,
                ticket_number: u.ticket_number,
                article_id: u.article_id.unwrap_or_default(),
            };
            svc.recent.remember(&key, &t, profile.repeat_window);
            Some(t)
        }
        Err(e) => {
            crate::log_warning!("repeat call {}: adding to ticket {candidate} failed ({e}); creating a new ticket", call.key());
            None
        }
    }
}

/// Values for `display` and `agent_url`: the ticket texts' placeholders
/// (at `when`, the time of the call) plus the ticket's id, number and the
/// status. The same for a ticket created at call time and one created later
/// from the spool.
pub fn render_handoff(
    config: &Config,
    profile: &Profile,
    call: &CallInfo,
    outcome: &Outcome,
    when: SystemTime,
    template_text: &str,
) -> String {
    let caller = Caller { display: outcome.caller.clone(), customer: outcome.customer.clone(), matches: outcome.matches };
    let base = placeholders(config, profile, call, &caller, when);
    let t = outcome.ticket();
    template::render(template_text, |name| match name {
        "ticket_id" => Some(t.map(|t| t.ticket_id.clone()).unwrap_or_default()),
        "ticket_number" => Some(t.map(|t| t.ticket_number.clone()).unwrap_or_default()),
        "status" => Some(outcome.status().as_str().to_string()),
        _ => base(name),
    })
}

/// The ticket in the agent interface (`agent_url`), empty without one.
pub fn agent_url(config: &Config, profile: &Profile, call: &CallInfo, outcome: &Outcome, when: SystemTime) -> String {
    match (&config.general.agent_url, outcome.ticket()) {
        (Some(tpl), Some(_)) => render_handoff(config, profile, call, outcome, when, tpl),
        _ => String::new(),
    }
}

/// The event of a call's created or appended ticket (None without one), for
/// screen-pop and CTI tools: raised by the app at call time and by the spool
/// worker when it creates a queued ticket.
pub fn ticket_event(call: &CallInfo, outcome: &Outcome, url: &str, source: Source) -> Option<TicketEvent> {
    let t = outcome.ticket()?;
    Some(TicketEvent {
        status: outcome.status().as_str().to_string(),
        channel: call.channel.clone(),
        uniqueid: call.uniqueid.clone(),
        linkedid: call.linkedid.clone(),
        caller: outcome.caller.clone(),
        customer_user: outcome.customer_user.clone(),
        customer_id: outcome.customer_id.clone(),
        ticket_id: t.ticket_id.clone(),
        ticket_number: t.ticket_number.clone(),
        url: url.to_string(),
        source,
    })
}

/// What OTRSCallEnd() achieved.
#[derive(Clone, Debug, PartialEq)]
pub enum EndResult {
    /// The outcome article is in the ticket.
    Added,
    /// It is, but OTRS refused the answering agent as the owner; why.
    AddedWithoutOwner(String),
    /// It waits in the spool (with the queued ticket, or for OTRS).
    Queued(String),
    /// The call has no ticket to write to.
    Skipped(String),
    Failed(String),
}

/// Adds a call's outcome to its ticket: at once when the ticket exists,
/// else together with the queued ticket; when OTRS cannot take it now, the
/// outcome is queued on its own (the worker finds the ticket by its call
/// marker).
pub fn apply_call_end(svc: &Services, key: &str, status: &str, ticket_id: &str, end: &CallEnd, deadline: Instant) -> EndResult {
    if !svc.otrs.can_search() {
        return EndResult::Skipped("api = rpc cannot add articles to a ticket".into());
    }
    match status {
        "CREATED" | "APPENDED" if !ticket_id.is_empty() => {
            match write_end(&*svc.otrs, &svc.config.general, ticket_id, end, deadline, false) {
                Ok(None) => EndResult::Added,
                Ok(Some(why)) => EndResult::AddedWithoutOwner(why),
                Err(e) if e.is_permanent() => EndResult::Failed(e.to_string()),
                Err(e) => queue_end(svc, key, Some(ticket_id), end, &e.to_string()),
            }
        }
        "QUEUED" => match svc.spool.attach_end(key, &spooled(svc, key, end)) {
            Ok(true) => EndResult::Queued("with the queued ticket".into()),
            // the worker created the ticket meanwhile: queue the outcome on
            // its own; the worker finds the ticket by the call marker
            Ok(false) => queue_end(svc, key, None, end, "ticket created from the spool meanwhile"),
            Err(e) => EndResult::Failed(format!("spool: {e}")),
        },
        "" => EndResult::Skipped("OTRSTicket() did not run on this channel".into()),
        other => EndResult::Skipped(format!("OTRSSTATUS is {other}")),
    }
}

/// Writes a call's outcome into ticket `ticket_id`: first the answering
/// agent as the owner (a TicketUpdate of its own, see
/// [`CallEnd::owner_change`]), then the article with its file. `Ok(Some(why))`:
/// the article is in, the owner was refused (the ticket keeps its owner). An
/// error that may pass (OTRS down) is returned: the whole is tried again
/// later, and setting the same owner twice changes nothing. `retry`: an
/// earlier attempt may have made the article (Znuny makes it, then fails on
/// a file too big for its database): with a file, the ticket's articles are
/// searched for this outcome's marker first, so there is never a second.
pub fn write_end(
    otrs: &dyn TicketApi,
    general: &crate::config::General,
    ticket_id: &str,
    end: &CallEnd,
    deadline: Instant,
    retry: bool,
) -> Result<Option<String>, ClientError> {
    let mut refused = None;
    if let Some(change) = end.owner_change() {
        match otrs.update(ticket_id, &change, None, deadline) {
            Ok(_) => {}
            Err(e) if e.is_permanent() => {
                let agent = end.owner.as_deref().unwrap_or_default();
                crate::log_warning!(
                    "ticket id {ticket_id}: OTRS refused agent '{agent}' as the owner ({e}): check [agents] in otrs.conf"
                );
                refused = Some(format!("owner {agent} refused: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    let Some(file) = &end.file else {
        otrs.update(ticket_id, &end.change(), Some(&end.article()), deadline)?;
        return Ok(refused);
    };
    let marker = file.marker.as_str();
    if retry && !marker.is_empty() {
        match otrs.article_bodies(ticket_id, deadline) {
            Ok(bodies) if bodies.iter().any(|b| b.lines().any(|l| l.trim() == marker)) => {
                crate::log_notice!("ticket id {ticket_id}: the outcome article ({marker}) is in already: not sent again");
                super::recording::done_with(file, false);
                return Ok(refused);
            }
            Ok(_) => {}
            Err(e) if e.is_permanent() => {}
            Err(e) => return Err(e),
        }
    }
    let (line, attachment) = super::recording::prepare(file, general.max_attachment_size);
    let mut article = end.article();
    article.body.push_str(&line);
    if !marker.is_empty() {
        article.body.push_str(marker);
        article.body.push('\n');
    }
    let attached = attachment.is_some();
    // a big file takes longer to send than a ticket: a second per MB more
    let bytes = attachment.as_ref().map_or(0, |a| a.content.len() as u64);
    let deadline = deadline.max(Instant::now() + Duration::from_secs(10 + bytes / 1_000_000));
    article.attachments.extend(attachment);
    otrs.update(ticket_id, &end.change(), Some(&article), deadline)?;
    super::recording::done_with(file, general.delete_after_upload && attached);
    Ok(refused)
}

/// The outcome as it waits in the spool: its file referenced where it is,
/// or with `spool_copy = yes` copied into the spool (`files/`), so that
/// cleaning the recordings folder cannot take it away before the upload.
fn spooled(svc: &Services, key: &str, end: &CallEnd) -> CallEnd {
    let mut end = end.clone();
    let Some(f) = end.file.as_mut().filter(|f| svc.config.general.spool_copy && !f.copied) else {
        return end;
    };
    let dir = svc.spool.dir().join("files");
    let safe: String = key.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(80).collect();
    let copy = dir.join(format!("{safe}-{}", super::recording::file_name(&f.filename)));
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::copy(&f.path, &copy)) {
        Ok(_) => {
            f.original = std::mem::replace(&mut f.path, copy.to_string_lossy().into_owned());
            f.copied = true;
        }
        Err(e) => crate::log_warning!("call {key}: cannot copy {} into the spool ({e}): it stays referenced", f.path),
    }
    end
}

fn queue_end(svc: &Services, key: &str, ticket_id: Option<&str>, end: &CallEnd, why: &str) -> EndResult {
    if ticket_id.is_none() && !svc.config.general.title_call_id && svc.config.general.call_id_field.is_none() {
        return EndResult::Failed(format!("{why}; with title_call_id = no the ticket cannot be found later"));
    }
    match spool_write(svc, &Job::update(key, ticket_id, spooled(svc, key, end), why)) {
        Ok(()) => EndResult::Queued(why.to_string()),
        Err(e) => EndResult::Failed(format!("{why}; spool write failed: {e}")),
    }
}

#[cfg(test)]
mod with_fake_otrs;

#[cfg(test)]
mod ticket_content;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_key_groups_by_customer_or_number() {
        let plan = number::NumberPlan {
            country_code: "7".into(),
            national_prefix: "8".into(),
            international_prefixes: vec!["00".into()],
            national_number_length: None,
        };
        let unknown = Caller { display: "x".into(), customer: None, matches: Some(0) };
        assert_eq!(repeat_key(&unknown, "+7 916 122-96-24", &plan), repeat_key(&unknown, "89161229624", &plan));
        assert_eq!(repeat_key(&unknown, "anonymous", &plan), None);
        let known = Caller {
            display: "x".into(),
            customer: Some(Arc::new(Customer::new("ivanov", "ACME", "", "", ""))),
            matches: Some(1),
        };
        assert_eq!(repeat_key(&known, "89161229624", &plan).as_deref(), Some("customer:ivanov"));
    }

    #[test]
    fn the_marker_always_fits_in_znunys_255_characters() {
        let marker = call_marker(&format!("pbx-a-{}", "9".repeat(200)));
        assert_eq!(marker.chars().count(), 87, "the key is cut at 80 characters: {marker}");
        for text in ["short".to_string(), "x".repeat(300), "Ж".repeat(300), format!("{} tail", "a".repeat(166))] {
            let t = with_marker(&text, &marker);
            assert!(t.chars().count() <= MAX_TITLE_CHARS, "{} characters", t.chars().count());
            let kept: String = t.chars().take(MAX_TITLE_CHARS).collect();
            assert!(kept.ends_with(&format!(" {marker}")), "{kept}");
        }
        assert_eq!(with_marker("Call from Ivan", "[call:1.2]"), "Call from Ivan [call:1.2]");
        // Cyrillic: 2 bytes a character, counted as one as Perl does
        let t = with_marker(&"Ж".repeat(300), "[call:1.2]");
        assert_eq!(t.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn call_marker_is_safe_for_titles_and_search() {
        assert_eq!(call_marker("1700000000.42"), "[call:1700000000.42]");
        assert_eq!(call_marker("a*b%c [x]"), "[call:abcx]");
    }

    fn body_for(caller: Caller, raw: &str) -> String {
        let general = crate::config::Section {
            name: "general".into(),
            entries: [
                ("url", "http://otrs.example/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
                ("user", "agent"),
                ("password", "pw"),
                ("dbuser", "otrs"),
                ("unknown_customer", "phone-unknown"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let default = crate::config::Section { name: "default".into(), entries: vec![("queue".into(), "Raw".into())] };
        let (config, _) = crate::config::from_sections(&[general, default]).unwrap();
        let call = CallInfo {
            caller: raw.into(),
            channel: "PJSIP/trunk-1".into(),
            uniqueid: "1700000000.1".into(),
            linkedid: String::new(),
            exten: "4509".into(),
            context: "otrs".into(),
            node: "pbx-a".into(),
        };
        ticket_for(&config, config.profile("").unwrap(), &call, &caller, SystemTime::now()).body
    }

    fn customer_line(body: &str) -> &str {
        body.lines().find(|l| l.starts_with("Customer:")).unwrap_or_else(|| panic!("{body}"))
    }

    #[test]
    fn the_default_body_reads_well_for_every_caller() {
        let ivanov = Customer::new("ivanov", "ACME", "Ivan", "Ivanov", "");
        let known = Caller { display: "89161229624".into(), customer: Some(Arc::new(ivanov.clone())), matches: Some(1) };
        assert_eq!(customer_line(&body_for(known, "89161229624")), "Customer: Ivan Ivanov (login ivanov, customer ACME).");
        let nameless = Customer::new("ivanov", "", "", "", "");
        let known = Caller { display: "89161229624".into(), customer: Some(Arc::new(nameless)), matches: Some(1) };
        assert_eq!(customer_line(&body_for(known, "89161229624")), "Customer: login ivanov.");
        let unknown = Caller { display: "84951110000".into(), customer: None, matches: Some(0) };
        assert_eq!(
            customer_line(&body_for(unknown, "84951110000")),
            "Customer: unknown caller (no customer record matches this number)."
        );
        let anonymous = Caller { display: "anonymous".into(), customer: None, matches: Some(0) };
        assert_eq!(customer_line(&body_for(anonymous, "")), "Customer: anonymous caller (the number was withheld).");
        let no_db = Caller { display: "89161229624".into(), customer: None, matches: None };
        assert_eq!(
            customer_line(&body_for(no_db, "89161229624")),
            "Customer: not known (the customer database could not be asked)."
        );
    }
}
