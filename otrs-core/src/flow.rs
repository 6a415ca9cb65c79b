//! The ticket flow of one call: who is calling, which texts the ticket gets,
//! the exchange with OTRS, and what happens when OTRS cannot take it now
//! (the job goes to the spool and the call goes on). Knows nothing of
//! Asterisk: the app hands it a `CallInfo` and turns the `Outcome` into
//! channel variables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::clock;
use crate::config::{Config, Profile};
use crate::customers::{Customer, CustomerIndex};
use crate::health::Health;
use crate::number;
use crate::otrs_client::{ClientError, OtrsClient};
use crate::soap::{Article, NewTicket, SoapError, TicketChange, TicketCreated};
use crate::spool::{new_job_id, Job, Spool};
use crate::stats::Stats;
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
    /// A repeat call: a phone article was added to the customer's open ticket.
    Appended,
    /// OTRS could not take it now; it is in the spool and will be created.
    Queued,
    /// No ticket, and none will come (OTRS refused it, or the spool failed).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::Appended => "APPENDED",
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
    /// The matched customer, if any.
    pub customer: Option<Arc<Customer>>,
    /// How long finding the caller in the customer index took (None for a
    /// withheld number: nothing to look up).
    pub lookup_time: Option<Duration>,
}

impl Outcome {
    /// Counts what the flow ended in: created, added to an open ticket,
    /// queued or failed (its error becomes the last error), and an unknown
    /// caller. Calls and `otrs test ticket` count the same way, so the
    /// spool's depth, `Queued` and `Last error` tell one story.
    pub fn count_in(&self, stats: &Stats) {
        match self.status {
            Status::Created => Stats::count(&stats.created),
            Status::Appended => Stats::count(&stats.appended),
            Status::Queued => {
                Stats::count(&stats.queued);
                stats.record_error(&self.error);
            }
            Status::Failed => {
                Stats::count(&stats.failed);
                stats.record_error(&self.error);
            }
        }
        if self.matches == Some(0) {
            Stats::count(&stats.unknown_callers);
        }
    }
}

/// Everything the flow needs, built from one configuration.
pub struct Services {
    pub config: Config,
    /// The GenericInterface client (TicketSearch, TicketUpdate... and
    /// TicketCreate unless `rpc` is set).
    pub client: OtrsClient,
    /// With `api = rpc`: tickets are created through rpc.pl.
    pub rpc: Option<crate::rpc::RpcClient>,
    pub rpc_warned: std::sync::atomic::AtomicBool,
    pub index: Arc<CustomerIndex>,
    pub spool: Spool,
    pub health: Arc<Health>,
    /// Tickets of recent calls, for `repeat_window`; kept across reloads.
    pub recent: Arc<RecentTickets>,
}

impl Services {
    /// Creates a ticket through the configured interface.
    pub fn create_ticket(&self, t: &NewTicket, customer_id: Option<&str>, deadline: Instant) -> Result<TicketCreated, ClientError> {
        let Some(rpc) = &self.rpc else {
            return self.client.create_ticket(t, deadline);
        };
        let created = rpc.create_ticket_for(t, customer_id, deadline)?;
        if let Some(w) = created.article_warning {
            if !self.rpc_warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                crate::log_warning!(
                    "api = rpc: tickets are created without their article ({w}); OTRS 6 and later need api = generic"
                );
            }
        }
        Ok(created.ticket)
    }

    /// TicketSearch and TicketUpdate exist (not with rpc.pl).
    pub fn can_search(&self) -> bool {
        self.rpc.is_none()
    }
}

/// The tickets recent calls created, by customer login or, for unknown
/// callers, by number: a repeat call within the window is added to that
/// ticket while it is still open. In memory only: after a restart, known
/// customers are still found by a TicketSearch in OTRS.
#[derive(Default)]
pub struct RecentTickets {
    inner: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    map: HashMap<String, (TicketCreated, Instant)>,
    /// Keys in the order they were remembered, with how long each is
    /// kept, for cheap expiry.
    order: std::collections::VecDeque<(String, Instant, Duration)>,
}

/// Entries older than this go (the longest window is 7 days), and at most
/// this many are kept.
const RECENT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
const RECENT_MAX_ENTRIES: usize = 100_000;

impl RecentTickets {
    /// Remembers a call's ticket for `window` (a profile's repeat_window).
    /// Expires old entries from the front: O(1) per call on average.
    pub fn remember(&self, key: &str, t: &TicketCreated, window: Duration) {
        let now = Instant::now();
        let keep = window.min(RECENT_MAX_AGE);
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        r.map.insert(key.to_string(), (t.clone(), now));
        r.order.push_back((key.to_string(), now, keep));
        while let Some((k, at, kept)) = r.order.front().cloned() {
            if now.duration_since(at) <= kept && r.order.len() <= RECENT_MAX_ENTRIES {
                break;
            }
            r.order.pop_front();
            // only if not remembered again since
            if r.map.get(&k).is_some_and(|(_, when)| *when == at) {
                r.map.remove(&k);
            }
        }
    }

    pub fn within(&self, key: &str, window: Duration) -> Option<TicketCreated> {
        let r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        r.map.get(key).filter(|(_, at)| at.elapsed() <= window).map(|(t, _)| t.clone())
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whose repeat calls are grouped: the customer login, or the number.
fn repeat_key(caller: &Caller, raw: &str, plan: &number::NumberPlan) -> Option<String> {
    match &caller.customer {
        Some(c) => Some(format!("customer:{}", c.login)),
        None => number::canonical(raw, plan).map(|n| format!("number:{n}")),
    }
}

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

/// `${customer}`: who the caller is, as a phrase that reads well for every
/// caller: "Ivan Ivanov (login ivanov, customer ACME)", or why there is no
/// customer (unknown number, withheld number, database not available).
fn describe_customer(c: Option<&Customer>, matches: Option<usize>, raw_caller: &str) -> String {
    match c {
        Some(c) => {
            let mut details = format!("login {}", c.login);
            if !c.customer_id.is_empty() {
                details.push_str(&format!(", customer {}", c.customer_id));
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
                Some(c) => c.login.clone(),
                None => "unknown caller".to_string(),
            },
            "customer" => describe_customer(c, caller.matches, &call.caller),
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
    let (caller, lookup_time) = identify_timed(&svc.index, &call.caller);
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
        customer: caller.customer.clone(),
        lookup_time,
    };

    // Reasons not to try OTRS now: the customer is not known yet, or OTRS
    // failed a moment ago and the spool worker is watching for it.
    let skip = if caller.matches.is_none() {
        Some("customer database not available".to_string())
    } else {
        svc.health.otrs_down().map(|(_, why)| format!("OTRS down ({why})"))
    };
    if skip.is_none() && !profile.repeat_window.is_zero() && svc.can_search() {
        if let Some(t) = append_to_recent(svc, profile, call, &caller, &ticket, deadline) {
            outcome.status = Status::Appended;
            outcome.ticket = Some(t);
            return outcome;
        }
    }
    let attempted = skip.is_none();
    let (reason, maybe_delivered) = match skip {
        Some(reason) => (reason, false),
        None => match svc.create_ticket(&ticket, caller.customer.as_ref().map(|c| c.customer_id.as_str()), deadline) {
            Ok(t) => {
                if !profile.repeat_window.is_zero() {
                    if let Some(key) = repeat_key(&caller, &call.caller, &svc.config.general.plan) {
                        svc.recent.remember(&key, &t, profile.repeat_window);
                    }
                }
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
        end: None,
        update_only: false,
        ticket_id: None,
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
    // A ticket this module remembers, if OTRS still has it open...
    let remembered = svc.recent.within(&key, profile.repeat_window).and_then(|t| {
        let info = svc.client.get_ticket(&t.ticket_id, deadline).ok()?;
        OPEN_STATE_TYPES.contains(&info.state_type.as_str()).then_some(t.ticket_id)
    });
    let candidate = match remembered {
        Some(id) => id,
        None => {
            // ...else ask OTRS: finds known customers' tickets after a
            // restart, or created by another PBX.
            let login = caller.customer.as_ref()?.login.clone();
            let minutes = (profile.repeat_window.as_secs() / 60).max(1).to_string();
            let mut criteria: Vec<(&str, &str)> = vec![
                ("CustomerUserLogin", login.as_str()),
                ("TicketCreateTimeNewerMinutes", minutes.as_str()),
                ("SortBy", "Age"),
                ("OrderBy", "Up"),
            ];
            criteria.extend(OPEN_STATE_TYPES.iter().map(|s| ("StateType", *s)));
            let found = svc.client.search_tickets(&criteria, deadline).ok()?;
            found.into_iter().next()?
        }
    };
    let article = Article::phone("customer", &ticket.subject, &ticket.body);
    match svc.client.update_ticket(&candidate, &TicketChange::default(), Some(&article), deadline) {
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
/// plus the ticket's id, number and the status.
pub fn render_handoff(svc: &Services, profile: &Profile, call: &CallInfo, outcome: &Outcome, template_text: &str) -> String {
    let caller = Caller { display: outcome.caller.clone(), customer: outcome.customer.clone(), matches: outcome.matches };
    let base = placeholders(&svc.config, profile, call, &caller, SystemTime::now());
    let t = outcome.ticket.as_ref();
    template::render(template_text, |name| match name {
        "ticket_id" => Some(t.map(|t| t.ticket_id.clone()).unwrap_or_default()),
        "ticket_number" => Some(t.map(|t| t.ticket_number.clone()).unwrap_or_default()),
        "status" => Some(outcome.status.as_str().to_string()),
        _ => base(name),
    })
}

/// Channel fields (name, uniqueid, exten) for ticket texts: no control
/// characters, bounded length. They come from Asterisk but may carry what a
/// peer sent (an exten dialled from outside).
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(128).collect()
}

/// What OTRSCallEnd() achieved.
#[derive(Clone, Debug, PartialEq)]
pub enum EndResult {
    /// The outcome article is in the ticket.
    Added,
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
pub fn apply_call_end(
    svc: &Services,
    key: &str,
    status: &str,
    ticket_id: &str,
    end: &crate::call_end::CallEnd,
    deadline: Instant,
) -> EndResult {
    if !svc.can_search() {
        return EndResult::Skipped("api = rpc cannot add articles to a ticket".into());
    }
    match status {
        "CREATED" | "APPENDED" if !ticket_id.is_empty() => {
            let change = TicketChange { state: end.state.as_deref(), priority: end.priority.as_deref() };
            match svc.client.update_ticket(ticket_id, &change, Some(&end.article()), deadline) {
                Ok(_) => EndResult::Added,
                Err(e) if is_permanent(&e) => EndResult::Failed(e.to_string()),
                Err(e) => queue_end(svc, key, Some(ticket_id), end, &e.to_string()),
            }
        }
        "QUEUED" => match svc.spool.attach_end(key, end) {
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

fn queue_end(svc: &Services, key: &str, ticket_id: Option<&str>, end: &crate::call_end::CallEnd, why: &str) -> EndResult {
    if ticket_id.is_none() && !svc.config.general.title_call_id {
        return EndResult::Failed(format!("{why}; with title_call_id = no the ticket cannot be found later"));
    }
    match svc.spool.write(&Job::update(key, ticket_id, end.clone(), why)) {
        Ok(()) => EndResult::Queued(why.to_string()),
        Err(e) => EndResult::Failed(format!("{why}; spool write failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str) -> TicketCreated {
        TicketCreated { ticket_id: id.into(), ticket_number: format!("20261126100000{id}"), article_id: "1".into() }
    }

    #[test]
    fn recent_tickets_respect_the_window() {
        let r = RecentTickets::default();
        let hour = Duration::from_secs(3600);
        r.remember("customer:ivanov", &t("7"), hour);
        assert_eq!(r.within("customer:ivanov", Duration::from_secs(60)).map(|t| t.ticket_id), Some("7".into()));
        assert!(r.within("customer:petrov", Duration::from_secs(60)).is_none());
        std::thread::sleep(Duration::from_millis(20));
        assert!(r.within("customer:ivanov", Duration::from_millis(10)).is_none(), "outside the window");
        r.remember("customer:ivanov", &t("8"), hour);
        assert_eq!(r.within("customer:ivanov", Duration::from_millis(10)).map(|t| t.ticket_id), Some("8".into()));
    }

    #[test]
    fn recent_tickets_expire_from_the_front() {
        let r = RecentTickets::default();
        r.remember("number:1", &t("1"), Duration::from_millis(5));
        r.remember("number:2", &t("2"), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(10));
        r.remember("number:3", &t("3"), Duration::from_millis(5));
        assert_eq!(r.len(), 1, "expired entries are dropped when a new one comes");
        // a key remembered again is not dropped by its older queue entry
        r.remember("number:3", &t("4"), Duration::from_secs(60));
        assert_eq!(r.within("number:3", Duration::from_secs(60)).map(|t| t.ticket_id), Some("4".into()));
    }

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
            customer: Some(Arc::new(Customer {
                login: "ivanov".into(),
                customer_id: "ACME".into(),
                first_name: String::new(),
                last_name: String::new(),
                email: String::new(),
            })),
            matches: Some(1),
        };
        assert_eq!(repeat_key(&known, "89161229624", &plan).as_deref(), Some("customer:ivanov"));
    }

    #[test]
    fn call_marker_is_safe_for_titles_and_search() {
        assert_eq!(call_marker("1700000000.42"), "[call:1700000000.42]");
        assert_eq!(call_marker("a*b%c [x]"), "[call:abcx]");
    }

    #[test]
    fn permanent_and_outage_errors() {
        use crate::otrs_client::ClientError;
        let refused = ClientError::Soap(SoapError::Operation { code: "TicketCreate.InvalidParameter".into(), message: "x".into() });
        let auth = ClientError::Soap(SoapError::Operation { code: "TicketCreate.AuthFail".into(), message: "x".into() });
        assert!(is_permanent(&refused) && !is_outage(&refused));
        assert!(!is_permanent(&auth) && !is_outage(&auth));
        assert!(!is_permanent(&ClientError::Timeout) && is_outage(&ClientError::Timeout));
        assert!(is_outage(&ClientError::Connect("refused".into())));
    }

    fn outcome(status: Status, error: &str, matches: Option<usize>) -> Outcome {
        Outcome {
            status,
            error: error.into(),
            ticket: None,
            customer_user: String::new(),
            customer_id: String::new(),
            matches,
            caller: String::new(),
            customer: None,
            lookup_time: None,
        }
    }

    #[test]
    fn outcomes_move_their_counter_and_the_last_error() {
        let s = Stats::default();
        outcome(Status::Created, "", Some(1)).count_in(&s);
        outcome(Status::Appended, "", Some(2)).count_in(&s);
        outcome(Status::Queued, "OTRS down (connection refused)", Some(0)).count_in(&s);
        let snap = s.snapshot();
        assert_eq!((snap.created, snap.appended, snap.queued, snap.failed, snap.unknown_callers), (1, 1, 1, 0, 1));
        assert_eq!(snap.last_error.map(|e| e.1).as_deref(), Some("OTRS down (connection refused)"));
        outcome(Status::Failed, "TicketCreate.InvalidParameter", None).count_in(&s);
        let snap = s.snapshot();
        assert_eq!((snap.failed, snap.unknown_callers), (1, 1));
        assert_eq!(snap.last_error.map(|e| e.1).as_deref(), Some("TicketCreate.InvalidParameter"));
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
        };
        ticket_for(&config, config.profile("").unwrap(), &call, &caller, SystemTime::now()).body
    }

    fn customer_line(body: &str) -> &str {
        body.lines().find(|l| l.starts_with("Customer:")).unwrap_or_else(|| panic!("{body}"))
    }

    #[test]
    fn the_default_body_reads_well_for_every_caller() {
        let ivanov = Customer {
            login: "ivanov".into(),
            customer_id: "ACME".into(),
            first_name: "Ivan".into(),
            last_name: "Ivanov".into(),
            email: String::new(),
        };
        let known = Caller { display: "89161229624".into(), customer: Some(Arc::new(ivanov.clone())), matches: Some(1) };
        assert_eq!(customer_line(&body_for(known, "89161229624")), "Customer: Ivan Ivanov (login ivanov, customer ACME).");
        let nameless = Customer { first_name: String::new(), last_name: String::new(), customer_id: String::new(), ..ivanov };
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
