//! The spool worker: one background thread that creates the tickets calls
//! had to queue. It retries with backoff while OTRS is down (and its first
//! success marks OTRS up again), removes a job only once OTRS confirmed the
//! ticket, searches for the call's marker before creating again when an
//! earlier attempt may have reached OTRS (exactly one ticket per call), and
//! moves unreadable or refused jobs aside instead of retrying them forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::{Job, NewTicketJob, SpoolError, Task};
use crate::call::flow::{self, display_caller, identify, Caller, Services};
use crate::call::TicketResult;
use crate::otrs::error::{ClientError, Failure};
use crate::runtime::events::{self, Source};
use crate::runtime::lock;
use crate::runtime::stats::Stats;

/// How long a job waits for the customer database before its ticket is
/// created for the unknown-caller customer instead.
pub const CUSTOMER_WAIT: Duration = Duration::from_secs(300);
/// A background request may take longer than a call's budget.
const MIN_REQUEST_TIME: Duration = Duration::from_secs(10);

/// The time limit of one background attempt.
fn request_time(svc: &Services) -> Duration {
    svc.config.general.timeout.max(MIN_REQUEST_TIME)
}

pub type ServicesFn = Arc<dyn Fn() -> Option<Arc<Services>> + Send + Sync>;

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    kicked: AtomicBool,
}

pub struct Worker {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(services: ServicesFn, stats: &'static Stats) -> Worker {
        let shared = Arc::new(Shared { stop: Mutex::new(false), wake: Condvar::new(), kicked: AtomicBool::new(false) });
        let s = shared.clone();
        let handle = std::thread::Builder::new().name("otrs-spool".into()).spawn(move || run(&s, &services, stats)).ok();
        if handle.is_none() {
            crate::log_error!("cannot start the spool worker thread: queued tickets wait until the next load");
        }
        Worker { shared, handle }
    }

    /// Retry the spool now (CLI `otrs spool retry`), forgetting the backoff.
    pub fn kick(&self) {
        self.shared.kicked.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
    }

    /// Stops the thread and waits for it: the module must not unload while
    /// a thread it started lives.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

fn stopping(shared: &Shared) -> bool {
    *lock(&shared.stop)
}

/// Sleeps until `until`, a kick or stop. Returns false when stopping.
fn wait(shared: &Shared, until: Instant) -> bool {
    let mut stop = lock(&shared.stop);
    loop {
        if *stop {
            return false;
        }
        if shared.kicked.swap(false, Ordering::SeqCst) {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        stop = match shared.wake.wait_timeout(stop, until - now) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    }
}

/// What one pass over the spool came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// The spool is empty, or every job that was due was dealt with.
    Done,
    /// OTRS is not ready: stop this pass, try again after a backoff.
    Blocked,
    /// This job cannot go yet (its customer is not known yet); the others
    /// behind it may.
    Waiting,
}

/// When each job whose last request may have reached OTRS may be tried
/// again (OTRS may still be working on that request).
type NotBefore = HashMap<String, Instant>;

/// The worker's memory between passes: the thread keeps one, a test steps
/// one pass at a time without threads or sleeps.
pub struct Retrier {
    failures: u32,
    not_before: NotBefore,
    /// Jobs last written before this moment may be from a process killed
    /// during a request (see `pass`).
    started: SystemTime,
}

impl Default for Retrier {
    fn default() -> Self {
        Retrier { failures: 0, not_before: NotBefore::new(), started: SystemTime::now() }
    }
}

impl Retrier {
    /// One pass over the spool, oldest job first; returns what it came to
    /// and how long to wait before the next one (the backoff while OTRS is
    /// not ready, sooner when a job's recheck delay ends first). `stop` is
    /// asked between jobs. A panic ends the pass as `Blocked`.
    pub fn step(&mut self, svc: &Services, stats: &Stats, stop: &dyn Fn() -> bool) -> (Pass, Duration) {
        let asked_before = OTRS_ASKED.with(|n| n.get());
        let (result, due) = crate::runtime::guard::guard("spool worker", (Pass::Blocked, None), || {
            pass(svc, stats, &mut self.not_before, self.started, stop)
        });
        // No job asked OTRS in this pass (none queued, none due, or the
        // spool unreadable) while it is believed down: ask it ourselves, so
        // "down" means OTRS failed recently, not that the spool is stuck.
        let troubled = svc.health.otrs_down().is_some() || svc.health.otrs_rejects().is_some();
        let result = match OTRS_ASKED.with(|n| n.get()) == asked_before && troubled {
            true if probe(svc) => Pass::Done,
            true => Pass::Blocked,
            false => result,
        };
        let g = &svc.config.general;
        let mut wait = match result {
            Pass::Done | Pass::Waiting => {
                self.failures = 0;
                g.retry_interval
            }
            // asking a rejecting OTRS sooner would not help: only a fixed
            // configuration (a reload, which kicks the worker) does
            Pass::Blocked if svc.health.otrs_rejects().is_some() => {
                self.failures = self.failures.saturating_add(1);
                g.max_retry_interval.max(g.retry_interval)
            }
            Pass::Blocked => {
                self.failures = self.failures.saturating_add(1);
                backoff(self.failures, g.retry_interval, g.max_retry_interval)
            }
        };
        if let Some(due) = due {
            wait = wait.min(due.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)));
        }
        (result, wait)
    }
}

thread_local! {
    /// Requests this thread sent to OTRS for jobs (a pass that sent none
    /// probes OTRS while it is believed down).
    static OTRS_ASKED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn asked_otrs() {
    OTRS_ASKED.with(|n| n.set(n.get().wrapping_add(1)));
}

/// Asks OTRS something harmless (a ticket that need not exist): any answer
/// that is not an outage means it is up. True when it answered.
fn probe(svc: &Services) -> bool {
    let asked = SystemTime::now();
    match svc.otrs.get("1", Instant::now() + request_time(svc)) {
        Err(e) if e.failure() != Failure::RefusesTicket => {
            svc.health.otrs_failed(&e);
            false
        }
        _ => {
            if svc.health.mark_up_asked_at(asked) {
                crate::log_notice!("OTRS answers again: calls create their tickets directly");
            }
            true
        }
    }
}

/// The wait after `failures` blocked passes in a row: `retry` doubling up
/// to `max`.
fn backoff(failures: u32, retry: Duration, max: Duration) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    (retry * factor).min(max.max(retry))
}

fn run(shared: &Shared, services: &ServicesFn, stats: &'static Stats) {
    if let Some(svc) = services() {
        svc.spool.clean_tmp();
    }
    let mut retrier = Retrier::default();
    let mut next = Instant::now();
    while wait(shared, next) {
        let Some(svc) = services() else {
            next = Instant::now() + Duration::from_secs(1);
            continue;
        };
        let (_, wait) = retrier.step(&svc, stats, &|| stopping(shared));
        next = Instant::now() + wait;
    }
}

/// One pass over the spool. Also returns when the earliest job skipped
/// for its recheck delay is due. `started`: when this worker started.
fn pass(
    svc: &Services,
    stats: &Stats,
    not_before: &mut NotBefore,
    started: SystemTime,
    stop: &dyn Fn() -> bool,
) -> (Pass, Option<Instant>) {
    let ids = match svc.spool.list() {
        Ok(ids) => ids,
        Err(e) => {
            let _ = flow::spool_noted(svc, Err::<(), _>(e));
            return (Pass::Blocked, None);
        }
    };
    not_before.retain(|id, _| ids.contains(id));
    // An empty spool says nothing about OTRS (the job of the call that just
    // failed may not be renamed in yet): `step` probes it instead.
    if ids.is_empty() {
        return (Pass::Done, None);
    }
    let mut due: Option<Instant> = None;
    for id in ids {
        if stop() {
            return (Pass::Done, due);
        }
        let mut job = match svc.spool.read(&id) {
            Ok(job) => job,
            Err(SpoolError::Corrupt(why)) => {
                set_aside(svc, stats, &id, &format!("unreadable job: {why}"));
                continue;
            }
            Err(e) => {
                // gone meanwhile, or a transient I/O error: look again next pass
                crate::log_warning!("spool job {id}: {e}");
                continue;
            }
        };
        // tried before by this worker: its last request may have reached
        // OTRS even if the job on disk could not say so (spool full)
        if not_before.contains_key(&id) {
            job.maybe_delivered = true;
        }
        if job.maybe_delivered {
            let recheck = svc.config.general.recheck_delay;
            let at = *not_before.entry(id.clone()).or_insert_with(|| {
                // A job this worker has not tried yet. Wait recheck_delay
                // from its last request, which is not the call's time:
                // - written by a call while we run: after its request was
                //   given up, so from the file's last write;
                // - written before we started (Asterisk restarted after
                //   kill -9 during a worker's request): the worker rewrites
                //   a job (maybe_delivered) before its request, which may
                //   then leave as late as that request's time limit
                //   (SessionCreate first), so from the last write plus that
                //   limit. Searching at once after a restart found nothing
                //   while OTRS was still creating the ticket: two tickets.
                let last = svc.spool.last_written(&id).map_or(job.created, |t| t.max(job.created));
                let wait = if last < started { recheck + request_time(svc) } else { recheck };
                let age = SystemTime::now().duration_since(last).unwrap_or_default();
                Instant::now() + wait.saturating_sub(age)
            });
            if at > Instant::now() {
                due = Some(due.map_or(at, |d| d.min(at)));
                continue;
            }
        }
        let pass = retry(svc, stats, job);
        if let Pass::Waiting = pass {
            continue;
        }
        if let Pass::Blocked = pass {
            // the request of this attempt may have reached OTRS too (not
            // when it was rejected: then OTRS did nothing)
            if svc.health.otrs_rejects().is_none() {
                not_before.insert(id, Instant::now() + svc.config.general.recheck_delay);
            }
            return (Pass::Blocked, due);
        }
    }
    (Pass::Done, due)
}

fn set_aside(svc: &Services, stats: &Stats, id: &str, why: &str) {
    Stats::count(&stats.moved_aside);
    match svc.spool.move_aside(id, why) {
        Ok(path) => crate::log_error!("queued ticket {id} moved aside to {}: {why}", path.display()),
        Err(e) => crate::log_error!("queued ticket {id} could not be moved aside ({e}): {why}"),
    }
}

/// Who the job's caller is: as found at call time, or looked up now.
fn job_caller(svc: &Services, job: &Job, t: &NewTicketJob) -> Option<Caller> {
    if t.matches.is_some() {
        return Some(Caller {
            display: display_caller(&t.call.caller),
            customer: t.customer.clone().map(Arc::new),
            matches: t.matches,
        });
    }
    let caller = identify(&svc.index, &t.call.caller);
    if caller.matches.is_none() {
        let age = SystemTime::now().duration_since(job.created).unwrap_or_default();
        if age < CUSTOMER_WAIT {
            return None;
        }
        crate::log_warning!(
            "queued ticket {}: customer database still not available after {} s; creating it for '{}'",
            job.id,
            age.as_secs(),
            svc.config.general.unknown_customer
        );
    }
    Some(caller)
}

fn retry(svc: &Services, stats: &Stats, mut job: Job) -> Pass {
    let t = match &job.task {
        Task::Create(t) => t.as_ref().clone(),
        Task::Update { .. } => return add_outcome(svc, stats, job),
    };
    let Some(caller) = job_caller(svc, &job, &t) else {
        return Pass::Waiting;
    };
    let deadline = Instant::now() + request_time(svc);
    let ticket = flow::ticket_for(&svc.config, &t.profile, &t.call, &caller, job.created);

    let findable = svc.config.general.title_call_id || (svc.config.general.call_id_field.is_some() && svc.otrs.can_search());
    if job.maybe_delivered && findable && !job.key.is_empty() && svc.otrs.can_find_by_title() {
        asked_otrs();
        match flow::find_call_tickets(svc, &job.key, deadline) {
            Ok(found) if !found.is_empty() => {
                let number = found
                    .first()
                    .and_then(|id| svc.otrs.get(id, deadline).ok())
                    .map(|t| t.ticket_number)
                    .unwrap_or_else(|| format!("id {}", found.first().cloned().unwrap_or_default()));
                Stats::count(&stats.duplicates_avoided);
                crate::log_notice!(
                    "queued ticket for call {} from {}: already created by an earlier attempt: ticket {number} (not created again)",
                    job.key,
                    caller.display
                );
                let id = found.first().cloned().unwrap_or_default();
                return finish(svc, stats, &job.id, &id);
            }
            Ok(_) => {
                Stats::count(&stats.rechecks_empty);
                crate::log_warning!(
                    "queued ticket {}: no ticket of call {} found in OTRS although an earlier attempt may have created it; creating it (a renamed ticket, or one moved to a queue this agent cannot read, would now have a twin)",
                    job.id,
                    job.key
                );
            }
            // OTRS refuses the search itself (e.g. the agent may not search):
            // waiting would not help; create, and say a duplicate is possible
            Err(e) if e.is_permanent() => crate::log_warning!(
                "queued ticket {}: cannot check whether an earlier attempt created it ({e}); creating it, a duplicate is possible",
                job.id
            ),
            Err(e) => return later(svc, job, &e, true),
        }
    }

    // On disk before the request leaves: if we die mid-request, the next
    // attempt searches before it creates.
    let was_maybe_delivered = job.maybe_delivered;
    job.attempts = job.attempts.saturating_add(1);
    job.maybe_delivered = true;
    // Cannot record it (spool full): go on all the same, OTRS may take the
    // ticket now; this worker remembers the attempt (`not_before`), only a
    // crash during this request could then cost a duplicate.
    if flow::spool_noted(svc, svc.spool.update(&mut job)).is_err() {
        crate::log_warning!("queued ticket {}: attempt not recorded in the spool; trying OTRS all the same", job.id);
    }
    Stats::count(&stats.retries);
    asked_otrs();
    let customer_id = caller.customer.as_ref().map(|c| c.customer_id().to_string());
    let asked = SystemTime::now();
    match flow::create_ticket(svc, &ticket, customer_id.as_deref(), deadline) {
        Ok(created) => {
            Stats::count(&stats.created_later);
            crate::log_notice!(
                "queued ticket for call {} from {} created: ticket {} (id {}) for {} after {} attempt(s)",
                job.key,
                caller.display,
                created.ticket_number,
                created.ticket_id,
                ticket.customer_user,
                job.attempts
            );
            let ticket_id = created.ticket_id.clone();
            let outcome = caller.outcome(&ticket.customer_user, TicketResult::Created(created), None);
            // the URL as the call would have had it, at the call's time
            let url = flow::agent_url(&svc.config, &t.profile, &t.call, &outcome, job.created);
            if let Some(e) = flow::ticket_event(&t.call, &outcome, &url, Source::Spool) {
                events::emit(&e);
            }
            if svc.health.mark_up_asked_at(asked) {
                crate::log_notice!("OTRS answers again: creating the queued tickets");
            }
            finish(svc, stats, &job.id, &ticket_id)
        }
        Err(e) if e.is_permanent() => {
            set_aside(svc, stats, &job.id, &format!("OTRS refused the ticket: {e}"));
            Pass::Done
        }
        Err(e) => {
            let delivered = was_maybe_delivered || e.maybe_delivered();
            later(svc, job, &e, delivered)
        }
    }
}

/// The ticket of a job exists: remove the job, or go on with the call's
/// outcome if OTRSCallEnd() attached one.
fn finish(svc: &Services, stats: &Stats, id: &str, ticket_id: &str) -> Pass {
    match svc.spool.finish_created(id, ticket_id) {
        Ok(Some(job)) => add_outcome(svc, stats, job),
        Ok(None) => Pass::Done,
        Err(e) => {
            crate::log_error!("queued ticket {id}: ticket {ticket_id} exists but the job could not be finished: {e}");
            Pass::Done
        }
    }
}

/// How long an outcome waits for its ticket to show up in OTRS.
pub const OUTCOME_WAIT: Duration = Duration::from_secs(3600);

/// Adds a call's outcome (OTRSCallEnd) to its ticket.
fn add_outcome(svc: &Services, stats: &Stats, mut job: Job) -> Pass {
    let Task::Update { ticket_id, end } = &job.task else {
        return Pass::Done; // not reached: finish() hands over update jobs only
    };
    let end = end.clone();
    let deadline = Instant::now() + request_time(svc);
    let ticket_id = match ticket_id.clone() {
        Some(id) => id,
        None => {
            if svc.spool.has_ticket_job(&job.key) {
                return Pass::Done; // its ticket is still queued: next pass
            }
            asked_otrs();
            match flow::find_call_tickets(svc, &job.key, deadline) {
                Ok(found) if !found.is_empty() => found.first().cloned().unwrap_or_default(),
                Ok(_) => {
                    let age = SystemTime::now().duration_since(job.created).unwrap_or_default();
                    if age > OUTCOME_WAIT {
                        set_aside(svc, stats, &job.id, "call outcome: no ticket of this call found in OTRS");
                    }
                    return Pass::Done;
                }
                Err(e) => return later(svc, job, &e, false),
            }
        }
    };
    asked_otrs();
    match flow::write_end(&*svc.otrs, &svc.config.general, &ticket_id, &end, deadline, true) {
        Ok(_) => {
            let _ = svc.spool.remove(&job.id);
            crate::log_notice!("call {}: outcome '{}' added to ticket id {ticket_id}", job.key, end.subject);
            Pass::Done
        }
        Err(e) if e.is_permanent() => {
            set_aside(svc, stats, &job.id, &format!("OTRS refused the call outcome: {e}"));
            Pass::Done
        }
        Err(e) => {
            job.task = Task::Update { ticket_id: Some(ticket_id), end };
            later(svc, job, &e, false)
        }
    }
}

/// Keeps the job for the next pass; `maybe_delivered`: whether any request
/// for it so far may have reached OTRS.
fn later(svc: &Services, mut job: Job, e: &ClientError, maybe_delivered: bool) -> Pass {
    let why = e.to_string();
    job.maybe_delivered = maybe_delivered;
    job.last_error = why.clone();
    if let Err(e) = flow::spool_noted(svc, svc.spool.update(&mut job)) {
        crate::log_warning!("queued ticket {}: cannot update the job: {e}", job.id);
    }
    svc.health.otrs_failed(e);
    crate::log_notice!("queued ticket {} (call {}) not created yet: {why}; will retry", job.id, job.key);
    Pass::Blocked
}

#[cfg(test)]
mod with_fake_otrs;
