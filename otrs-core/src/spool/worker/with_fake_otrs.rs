//! The spool worker's retries against an OTRS in memory, one pass at a
//! time ([`Retrier::step`]): no thread, no sleep.

use super::*;
use crate::call::flow::{apply_call_end, handle_call, EndResult};
use crate::call::testing::{self, call, capture_events, events_of, world, world_with, World};
use crate::call::{CallInfo, Status};
use crate::config::{Profile, PLACEHOLDERS, TICKET_PLACEHOLDERS};
use crate::otrs::fake::{FakeOtrs, Op};
use crate::otrs::{ClientError, SoapError};
use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(3)
}

fn profile(w: &World) -> Profile {
    w.svc.config.profile("default").unwrap().clone()
}

/// A retrier as if started long before the jobs were written (their
/// recheck then counts from their last write only).
fn retrier() -> Retrier {
    Retrier { started: UNIX_EPOCH, ..Retrier::default() }
}

fn step(w: &World, r: &mut Retrier, stats: &Stats) -> (Pass, Duration) {
    r.step(&w.svc, stats, &|| false)
}

fn jobs(w: &World) -> Vec<Job> {
    w.svc.spool.list().unwrap().iter().map(|id| w.svc.spool.read(id).unwrap()).collect()
}

/// A call whose ticket was queued because OTRS failed with `e`.
fn queued(w: &World, c: &CallInfo, e: ClientError) {
    w.otrs.fail(Op::Create, e);
    let o = handle_call(&w.svc, &profile(w), c, soon());
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    // the worker's first success marks it up; the next calls try OTRS again
    w.svc.health.mark_up();
}

fn connect() -> ClientError {
    ClientError::Connect("connection refused".into())
}

fn refused() -> ClientError {
    ClientError::Soap(SoapError::Operation { code: "TicketCreate.InvalidParameter".into(), message: "no queue".into() })
}

#[test]
fn a_queued_ticket_is_created_once_otrs_answers() {
    let w = world("w-created");
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.1"), connect());
    w.svc.health.mark_down("connection refused");
    let (pass, wait) = step(&w, &mut retrier(), &stats);
    assert_eq!((pass, wait), (Pass::Done, w.svc.config.general.retry_interval));
    let tickets = w.otrs.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].title, "Call from Ivan Ivanov (89161229624) [call:pbx-a-1700000001.1]");
    assert_eq!(tickets[0].customer_user, "ivanov");
    assert!(jobs(&w).is_empty(), "removed once OTRS confirmed it");
    assert_eq!((Stats::snapshot(&stats).created_later, Stats::snapshot(&stats).retries), (1, 1));
    assert!(w.svc.health.otrs_down().is_none(), "its first success marks OTRS up");
    // nothing left: the next pass does nothing
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.count(Op::Create), 2);
}

/// Every placeholder of `agent_url`, as rendered.
fn url_values(url: &str) -> BTreeMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_spool_created_ticket_url_renders_every_placeholder_a_call_time_one_does() {
    capture_events();
    let stats = Stats::default();
    // at call time
    let w = world("w-url-call");
    let c = call("89161229624", "1700000001.2");
    let o = handle_call(&w.svc, &profile(&w), &c, soon());
    let at_call = crate::call::flow::agent_url(&w.svc.config, &profile(&w), &c, &o, SystemTime::now());
    // the same call queued, and created by the worker
    let w = world("w-url-spool");
    queued(&w, &c, connect());
    step(&w, &mut retrier(), &stats);
    let events = events_of("1700000001.2");
    let spooled = events.iter().find(|e| e.source == Source::Spool).expect("the worker's event");
    assert_eq!(
        (spooled.status.as_str(), spooled.customer_user.as_str(), spooled.customer_id.as_str()),
        ("CREATED", "ivanov", "ACME")
    );
    let (a, b) = (url_values(&at_call), url_values(&spooled.url));
    let names: Vec<&str> = PLACEHOLDERS.iter().chain(TICKET_PLACEHOLDERS).copied().collect();
    assert_eq!(a.len(), names.len(), "{at_call}");
    for name in names {
        let (x, y) = (&a[name], &b[name]);
        assert!(!y.is_empty() && !y.contains("${"), "{name} not rendered in the spool ticket's URL: {}", spooled.url);
        match name {
            // the clock may have moved on between the two
            "time" | "date" => assert_eq!(x.len(), y.len(), "{name}"),
            "ticket_id" => assert_eq!(y, &spooled.ticket_id),
            "ticket_number" => assert_eq!(y, &spooled.ticket_number),
            _ => assert_eq!(x, y, "{name}"),
        }
    }
}

#[test]
fn a_ticket_whose_reply_was_lost_is_found_by_its_marker_not_created_again() {
    let w = world("w-recheck-found");
    let stats = Stats::default();
    // OTRS created it, the reply never came back
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000001.3"), soon());
    w.svc.health.mark_up();
    assert!(jobs(&w)[0].maybe_delivered);
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1, "exactly one ticket");
    assert_eq!(w.otrs.count(Op::Create), 1);
    assert!(jobs(&w).is_empty());
    assert_eq!(stats.snapshot().duplicates_avoided, 1);
}

#[test]
fn a_ticket_whose_request_was_lost_is_searched_then_created() {
    let w = world("w-recheck-none");
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.4"), ClientError::Timeout);
    assert!(jobs(&w)[0].maybe_delivered);
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!((w.otrs.count(Op::Search), w.otrs.tickets().len()), (1, 1));
    assert_eq!(stats.snapshot().duplicates_avoided, 0);
    assert_eq!(stats.snapshot().rechecks_empty, 1, "shown as a warning in status");
}

#[test]
fn a_ticket_an_agent_renamed_before_the_recheck_is_counted_as_a_warning() {
    let w = world("w-renamed");
    let stats = Stats::default();
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000001.19"), soon());
    w.svc.health.mark_up();
    w.otrs.rename(&w.otrs.tickets()[0].id, "Customer wants a callback");
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    // without call_id_field the title is the only key: a twin, and a warning
    assert_eq!(w.otrs.tickets().len(), 2);
    assert_eq!(stats.snapshot().rechecks_empty, 1);
    let text = crate::runtime::status::render(&crate::runtime::status::StatusInput {
        version: "1",
        stats: stats.snapshot(),
        ..Default::default()
    });
    assert!(text.contains("Rechecks:         WARNING 1 found no ticket"), "{text}");
}

#[test]
fn a_recheck_waits_for_its_delay() {
    let mut w = world("w-recheck-delay");
    w.svc.config.general.recheck_delay = Duration::from_secs(30);
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.5"), ClientError::Timeout);
    let (pass, wait) = step(&w, &mut retrier(), &stats);
    assert_eq!(pass, Pass::Done);
    assert!(wait <= Duration::from_secs(30) && wait > Duration::from_secs(5), "{wait:?}");
    assert_eq!((w.otrs.count(Op::Search), w.otrs.count(Op::Create)), (0, 1), "not yet");
    // written before this worker started (a restart after kill -9): the
    // request's own time limit is added
    let mut fresh = Retrier { started: SystemTime::now() + Duration::from_secs(1), ..Retrier::default() };
    let (_, wait) = step(&w, &mut fresh, &stats);
    assert!(wait > Duration::from_secs(5), "{wait:?}");
}

#[test]
fn a_search_that_fails_blocks_the_job_and_a_refused_one_creates_it() {
    let w = world("w-recheck-errors");
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.6"), ClientError::Timeout);
    w.otrs.fail(Op::Search, connect());
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Blocked);
    assert_eq!(w.otrs.count(Op::Create), 1, "not created blindly");
    let j = &jobs(&w)[0];
    assert!(j.maybe_delivered && j.last_error.contains("connection refused"), "{j:?}");
    // the agent may not search: created anyway (a duplicate is possible)
    w.otrs.fail(
        Op::Search,
        ClientError::Soap(SoapError::Operation { code: "TicketSearch.AccessDenied".into(), message: "x".into() }),
    );
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1);
    assert!(jobs(&w).is_empty());
}

#[test]
fn a_refused_ticket_is_moved_aside() {
    let w = world("w-refused");
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.7"), connect());
    w.otrs.fail(Op::Create, refused());
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert!(jobs(&w).is_empty());
    assert_eq!((w.svc.spool.stats().bad, stats.snapshot().moved_aside), (1, 1));
    assert!(w.otrs.tickets().is_empty());
}

#[test]
fn an_unreadable_job_is_moved_aside() {
    let w = world("w-corrupt");
    let stats = Stats::default();
    let id = crate::spool::new_job_id("x", SystemTime::now());
    std::fs::write(w.svc.spool.dir().join(format!("{id}.job")), "not a job\n").unwrap();
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.svc.spool.stats().bad, 1);
}

#[test]
fn an_outage_backs_off_and_keeps_the_job() {
    let w = world("w-backoff");
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.8"), connect());
    queued(&w, &call("84951110000", "1700000001.9"), connect());
    w.otrs.fail_always(Op::Create, connect());
    let g = &w.svc.config.general;
    let mut r = retrier();
    let waits: Vec<Duration> = (0..3)
        .map(|_| step(&w, &mut r, &stats))
        .map(|(p, d)| {
            assert_eq!(p, Pass::Blocked);
            d
        })
        .collect();
    assert_eq!(waits, [g.retry_interval, g.retry_interval * 2, g.retry_interval * 4]);
    let jobs = jobs(&w);
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].attempts, 4, "the call's attempt and three of the worker's");
    assert_eq!(jobs[1].attempts, 1, "the pass stops at the first job OTRS did not take");
    assert!(jobs[0].last_error.contains("connection refused"));
    assert!(w.svc.health.otrs_down().is_some());
    // OTRS back: both created, the backoff forgotten
    w.otrs.heal();
    assert_eq!(step(&w, &mut r, &stats), (Pass::Done, g.retry_interval));
    assert_eq!(w.otrs.tickets().len(), 2);
}

#[test]
fn the_backoff_doubles_up_to_its_maximum() {
    let (retry, max) = (Duration::from_secs(10), Duration::from_secs(300));
    let waits: Vec<u64> = (1..=8).map(|n| backoff(n, retry, max).as_secs()).collect();
    assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(backoff(u32::MAX, retry, max), max);
    assert_eq!(backoff(3, retry, Duration::from_secs(1)), retry, "never below the first wait");
}

#[test]
fn a_call_outcome_attached_to_a_queued_ticket_follows_it_into_otrs() {
    let w = world("w-end-attached");
    let stats = Stats::default();
    let c = call("89161229624", "1700000001.10");
    queued(&w, &c, connect());
    assert!(matches!(apply_call_end(&w.svc, &c.key(), "QUEUED", "", &testing::missed_call(), soon()), EndResult::Queued(_)));
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    let t = &w.otrs.tickets()[0];
    assert_eq!((t.articles.len(), t.state.as_str(), t.priority.as_str()), (2, "open", "4 high"));
    assert_eq!(t.articles[1].subject, "Missed call (NOANSWER)");
    assert!(jobs(&w).is_empty());
}

#[test]
fn an_outcome_on_its_own_waits_for_its_ticket_then_finds_it_by_the_marker() {
    let w = world("w-end-waits");
    let stats = Stats::default();
    let c = call("89161229624", "1700000001.11");
    // the outcome is older than the ticket job of the same call
    w.svc.spool.write(&Job::update(&c.key(), None, testing::missed_call(), "queued before its ticket")).unwrap();
    std::thread::sleep(Duration::from_millis(2));
    queued(&w, &c, connect());
    w.otrs.fail(Op::Create, connect());
    let mut r = retrier();
    assert_eq!(step(&w, &mut r, &stats).0, Pass::Blocked);
    assert_eq!((w.otrs.count(Op::Search), w.otrs.count(Op::Update)), (0, 0), "waits for its ticket");
    assert_eq!(jobs(&w).len(), 2);
    // the ticket is created; the outcome is looked at before it in that pass
    assert_eq!(step(&w, &mut r, &stats).0, Pass::Done);
    assert_eq!(jobs(&w).len(), 1);
    // next pass: found by its marker and written
    assert_eq!(step(&w, &mut r, &stats).0, Pass::Done);
    assert!(jobs(&w).is_empty());
    let t = &w.otrs.tickets()[0];
    assert_eq!((t.articles.len(), t.state.as_str()), (2, "open"));
}

#[test]
fn an_outcome_whose_ticket_never_shows_up_is_moved_aside_after_an_hour() {
    let w = world("w-end-orphan");
    let stats = Stats::default();
    let mut job = Job::update("pbx-a-1700000001.12", None, testing::missed_call(), "x");
    w.svc.spool.write(&job).unwrap();
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!((jobs(&w).len(), w.svc.spool.stats().bad), (1, 0), "still waiting");
    w.svc.spool.remove(&job.id).unwrap();
    job.created = SystemTime::now() - OUTCOME_WAIT - Duration::from_secs(1);
    job.id = crate::spool::new_job_id(&job.key, job.created);
    w.svc.spool.write(&job).unwrap();
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!((jobs(&w).len(), w.svc.spool.stats().bad), (0, 1));
}

#[test]
fn an_outcome_otrs_refuses_is_moved_aside_and_one_it_cannot_take_waits() {
    let w = world("w-end-update-errors");
    let stats = Stats::default();
    let id = w.otrs.add_ticket("t [call:pbx-a-1700000001.13]", "ivanov", "open");
    w.svc.spool.write(&Job::update("pbx-a-1700000001.13", Some(&id), testing::missed_call(), "x")).unwrap();
    w.otrs.fail(Op::Update, ClientError::Timeout);
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Blocked);
    assert_eq!(jobs(&w).len(), 1);
    w.otrs.fail(
        Op::Update,
        ClientError::Soap(SoapError::Operation { code: "TicketUpdate.InvalidParameter".into(), message: "x".into() }),
    );
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!((jobs(&w).len(), w.svc.spool.stats().bad), (0, 1));
}

#[test]
fn a_job_waits_for_the_customer_database_then_goes_to_the_unknown_customer() {
    let w = world_with("w-no-db", FakeOtrs::new(), testing::unloaded_index());
    let stats = Stats::default();
    let c = call("89161229624", "1700000001.14");
    handle_call(&w.svc, &profile(&w), &c, soon());
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.count(Op::Create), 0, "waits for the database");
    assert_eq!(jobs(&w).len(), 1);
    // still down after CUSTOMER_WAIT: the ticket is not held back any longer
    let mut job = jobs(&w).remove(0);
    w.svc.spool.remove(&job.id).unwrap();
    job.created = SystemTime::now() - CUSTOMER_WAIT - Duration::from_secs(1);
    job.id = crate::spool::new_job_id(&job.key, job.created);
    w.svc.spool.write(&job).unwrap();
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets()[0].customer_user, "unknown");
}

#[test]
fn a_job_looks_its_caller_up_once_the_database_is_back() {
    let w = world_with("w-db-back", FakeOtrs::new(), testing::unloaded_index());
    let c = call("89161229624", "1700000001.15");
    handle_call(&w.svc, &profile(&w), &c, soon());
    let w2 = World { svc: crate::call::flow::Services { index: std::sync::Arc::new(testing::index()), ..w.svc }, ..w };
    assert_eq!(step(&w2, &mut retrier(), &Stats::default()).0, Pass::Done);
    assert_eq!(w2.otrs.tickets()[0].customer_user, "ivanov");
}

#[test]
fn with_rpc_a_ticket_whose_request_was_lost_is_searched_by_title_then_created() {
    let w = world_with("w-rpc", FakeOtrs::rpc(), testing::index());
    queued(&w, &call("89161229624", "1700000001.16"), ClientError::Timeout);
    assert_eq!(step(&w, &mut retrier(), &Stats::default()).0, Pass::Done);
    assert_eq!((w.otrs.count(Op::Search), w.otrs.tickets().len()), (1, 1));
}

#[test]
fn with_rpc_a_ticket_whose_reply_was_lost_is_found_not_created_again() {
    let w = world_with("w-rpc-found", FakeOtrs::rpc(), testing::index());
    let stats = Stats::default();
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000001.18"), soon());
    w.svc.health.mark_up();
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1, "exactly one ticket with api = rpc too");
    assert_eq!(stats.snapshot().duplicates_avoided, 1);
}

#[test]
fn a_stop_ends_the_pass_between_jobs() {
    let w = world("w-stop");
    queued(&w, &call("89161229624", "1700000001.17"), connect());
    let (pass, _) = retrier().step(&w.svc, &Stats::default(), &|| true);
    assert_eq!(pass, Pass::Done);
    assert_eq!(w.otrs.count(Op::Create), 1, "only the call's own attempt");
}

#[test]
fn old_jobs_keyed_by_the_bare_uniqueid_are_found_and_created_by_it() {
    let w = world("w-old-key");
    let stats = Stats::default();
    // as a version before node names wrote it (no call.node, bare key)
    let old = CallInfo { node: String::new(), ..call("89161229624", "1700000001.18") };
    let mut job = Job::new_ticket(SystemTime::now(), old, profile(&w), Some(testing::ivanov()), Some(1));
    job.maybe_delivered = true;
    assert_eq!(job.key, "1700000001.18");
    let id = w.otrs.add_ticket("Call from Ivan Ivanov (89161229624) [call:1700000001.18]", "ivanov", "new");
    w.svc.spool.write(&job).unwrap();
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1, "found by its old marker: {id}");
    // and one not created yet keeps its old marker
    let old = CallInfo { node: String::new(), ..call("89161229624", "1700000001.19") };
    w.svc.spool.write(&Job::new_ticket(SystemTime::now(), old, profile(&w), Some(testing::ivanov()), Some(1))).unwrap();
    step(&w, &mut retrier(), &stats);
    assert!(w.otrs.tickets()[1].title.ends_with(" [call:1700000001.19]"));
}

fn set_full(w: &World, full: bool) {
    w.svc.spool.full.store(full, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_full_spool_does_not_keep_the_worker_from_otrs() {
    let w = world("w-full");
    let stats = Stats::default();
    // OTRS went down, two calls queued, then the disk filled up
    queued(&w, &call("89161229624", "1700000001.30"), connect());
    queued(&w, &call("84951110000", "1700000001.31"), connect());
    w.svc.health.mark_down("connection refused");
    set_full(&w, true);
    // OTRS is back: the worker cannot record its attempts, and tries anyway
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 2, "both created");
    assert!(jobs(&w).is_empty(), "removing works on a full disk");
    assert!(w.svc.health.otrs_down().is_none(), "OTRS up: new calls create their tickets");
    assert!(w.svc.health.spool_broken().is_some(), "shown in status");
}

#[test]
fn an_attempt_the_full_spool_could_not_record_is_searched_before_it_is_repeated() {
    let w = world("w-full-recheck");
    let stats = Stats::default();
    queued(&w, &call("89161229624", "1700000001.32"), connect());
    assert!(!jobs(&w)[0].maybe_delivered);
    set_full(&w, true);
    // OTRS creates it, the reply is lost; the job on disk cannot say so
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    let mut r = retrier();
    assert_eq!(step(&w, &mut r, &stats).0, Pass::Blocked);
    assert!(!jobs(&w)[0].maybe_delivered, "not recorded");
    // the worker remembers: it searches, finds it, creates no second one
    assert_eq!(step(&w, &mut r, &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1, "exactly one ticket");
    assert_eq!(stats.snapshot().duplicates_avoided, 1);
}

#[test]
fn an_empty_spool_does_not_make_a_dead_otrs_up() {
    let w = world("w-probe-dead");
    let stats = Stats::default();
    // a call just failed; its job is not in the spool yet
    w.svc.health.mark_down("connection refused");
    w.otrs.fail_always(Op::Get, connect());
    let (pass, _) = step(&w, &mut retrier(), &stats);
    assert_eq!(pass, Pass::Blocked);
    assert!(w.svc.health.otrs_down().is_some(), "still down: it was asked, it failed");
    assert_eq!(w.otrs.count(Op::Get), 1, "probed");
}

#[test]
fn the_worker_probes_otrs_while_it_is_believed_down() {
    let w = world("w-probe-up");
    let stats = Stats::default();
    w.svc.health.mark_down("connection refused");
    // nothing queued: OTRS is asked all the same, and found up
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.count(Op::Get), 1);
    assert!(w.svc.health.otrs_down().is_none());
    // not asked while up
    step(&w, &mut retrier(), &stats);
    assert_eq!(w.otrs.count(Op::Get), 1);
}

#[test]
fn a_spool_folder_removed_under_the_worker_is_created_again() {
    let w = world("w-gone");
    std::fs::remove_dir_all(w.svc.spool.dir()).unwrap();
    assert_eq!(step(&w, &mut retrier(), &Stats::default()).0, Pass::Done);
    assert!(w.svc.spool.dir().join("bad").is_dir());
}

#[test]
fn a_title_template_longer_than_znunys_limit_still_gives_exactly_one_ticket() {
    let w = world("w-long-title");
    let stats = Stats::default();
    let mut p = profile(&w);
    p.title = format!("{} ${{caller_name}}", "Very verbose helpdesk title ".repeat(12));
    // OTRS created it (cutting the title at 255 characters), the reply was lost
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    let o = handle_call(&w.svc, &p, &call("89161229624", "1700000001.40"), soon());
    assert_eq!(o.status(), Status::Queued);
    w.svc.health.mark_up();
    let title = &w.otrs.tickets()[0].title;
    assert!(title.ends_with(" [call:pbx-a-1700000001.40]"), "the marker survived the cut: {title}");
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1, "found by its marker, not created again");
    assert_eq!(stats.snapshot().duplicates_avoided, 1);
}

fn df_world(tag: &str, otrs: FakeOtrs) -> World {
    let mut w = world_with(tag, otrs, testing::index());
    w.svc.config.general.call_id_field = Some("CallID".into());
    w
}

#[test]
fn with_call_id_field_a_renamed_ticket_is_still_found_exactly_once() {
    let w = df_world("w-df-renamed", FakeOtrs::with_dynamic_fields(&["CallID"]));
    let stats = Stats::default();
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000001.50"), soon());
    w.svc.health.mark_up();
    let t = &w.otrs.tickets()[0];
    assert_eq!(t.dynamic_fields, [("CallID".to_string(), "pbx-a-1700000001.50".to_string())]);
    // an agent renames it before the recheck: the title marker is gone
    w.otrs.rename(&t.id, "Customer wants a callback");
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 1, "found by the dynamic field");
    assert_eq!((stats.snapshot().duplicates_avoided, stats.snapshot().rechecks_empty), (1, 0));
}

#[test]
fn a_call_id_field_otrs_does_not_have_costs_no_ticket_and_no_twin() {
    // call_id_field set, the field never created in OTRS
    let w = df_world("w-df-missing", FakeOtrs::new());
    let stats = Stats::default();
    let o = handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000001.51"), soon());
    assert_eq!(o.status(), Status::Created, "created without the field: {:?}", o.result);
    // a lost reply: the field search matches every ticket (criterion
    // ignored by OTRS); the control search tells, the title marker finds it
    w.otrs.fail_after(Op::Create, ClientError::Timeout);
    handle_call(&w.svc, &profile(&w), &call("84951110000", "1700000001.52"), soon());
    w.svc.health.mark_up();
    assert_eq!(w.otrs.tickets().len(), 2);
    assert_eq!(step(&w, &mut retrier(), &stats).0, Pass::Done);
    let tickets = w.otrs.tickets();
    assert_eq!(tickets.len(), 2, "no twin: {:?}", tickets.iter().map(|t| &t.title).collect::<Vec<_>>());
    assert_eq!(stats.snapshot().duplicates_avoided, 1);
}

#[test]
fn a_rejection_queues_retries_at_the_long_interval_and_creates_after_the_fix() {
    let w = world("w-rejects");
    let stats = Stats::default();
    let fault = || {
        ClientError::Soap(SoapError::Http {
        status: 500,
        detail: "SOAPAction 'http://www.otrs.org/TicketConnector/#SessionCreate' does not match expected result 'http://www.otobo.org/TicketConnector/#SessionCreate'".into(),
    })
    };
    w.otrs.fail(Op::Create, fault());
    let o = handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000009.1"), soon());
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    assert!(o.error().starts_with("OTRS rejects our requests: HTTP 500: SOAPAction"), "{:?}", o.result);
    assert!(w.svc.health.otrs_down().is_none(), "not down");
    assert!(w.svc.health.otrs_rejects().is_some());
    // the next call does not ask OTRS: it queues with the same reason
    let o2 = handle_call(&w.svc, &profile(&w), &call("89161229624", "1700000009.2"), soon());
    assert_eq!(o2.status(), Status::Queued);
    assert_eq!(w.otrs.count(Op::Create), 1);
    // the worker still meets the rejection: the long interval, no backoff from the short one
    w.otrs.fail(Op::Create, fault());
    let mut r = retrier();
    let (pass, wait) = step(&w, &mut r, &stats);
    assert_eq!((pass, wait), (Pass::Blocked, w.svc.config.general.max_retry_interval));
    assert!(w.svc.health.otrs_rejects().is_some());
    // the admin fixes otrs.conf and reloads: every queued ticket is created
    assert!(w.svc.health.config_changed());
    assert_eq!(step(&w, &mut r, &stats).0, Pass::Done);
    assert_eq!(w.otrs.tickets().len(), 2);
    assert!(jobs(&w).is_empty());
    assert!(w.svc.health.otrs_rejects().is_none() && w.svc.health.otrs_down().is_none());
}
