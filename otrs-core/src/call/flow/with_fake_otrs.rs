//! `handle_call` and `apply_call_end` against an OTRS in memory: every
//! branch of a call's ticket and of its outcome.

use super::*;
use crate::call::testing::{self, call, world, world_with, World};
use crate::call::Status;
use crate::otrs::fake::{FakeOtrs, Op};
use crate::otrs::{ClientError, SoapError};
use crate::spool::Task;

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(3)
}

fn default_profile(w: &World) -> Profile {
    w.svc.config.profile("default").expect("default").clone()
}

fn repeat_profile(w: &World) -> Profile {
    w.svc.config.profile("repeat").expect("repeat").clone()
}

fn refused() -> ClientError {
    ClientError::Soap(SoapError::Operation {
        code: "TicketCreate.InvalidParameter".into(),
        message: "Queue 'Raw' unknown".into(),
    })
}

/// The jobs in the spool.
fn jobs(w: &World) -> Vec<crate::spool::Job> {
    w.svc.spool.list().unwrap().iter().map(|id| w.svc.spool.read(id).unwrap()).collect()
}

#[test]
fn a_known_caller_gets_a_ticket_of_their_own() {
    let w = world("known");
    let c = call("8 (916) 122-96-24", "1700000000.1");
    let o = handle_call(&w.svc, &default_profile(&w), &c, soon());
    assert_eq!(o.status(), Status::Created, "{:?}", o.result);
    assert_eq!((o.customer_user.as_str(), o.customer_id.as_str(), o.matches), ("ivanov", "ACME", Some(1)));
    assert!(o.lookup_time.is_some());
    let tickets = w.otrs.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(o.ticket().map(|t| t.ticket_id.as_str()), Some(tickets[0].id.as_str()));
    // the marker carries the node: another PBX's uniqueid 1700000000.1 is another call
    assert_eq!(tickets[0].title, "Call from Ivan Ivanov (8 (916) 122-96-24) [call:pbx-a-1700000000.1]");
    assert_eq!(tickets[0].customer_user, "ivanov");
    assert!(w.svc.spool.list().unwrap().is_empty());
}

#[test]
fn two_nodes_with_the_same_uniqueid_get_different_markers() {
    let config = testing::config();
    let profile = config.profile("default").unwrap().clone();
    let caller = Caller { display: "123".into(), customer: None, matches: Some(0) };
    let a = call("123", "1700000000.42");
    let b = CallInfo { node: "pbx-b".into(), ..a.clone() };
    let title = |c: &CallInfo| ticket_for(&config, &profile, c, &caller, SystemTime::now()).title;
    assert!(title(&a).ends_with(" [call:pbx-a-1700000000.42]"), "{}", title(&a));
    assert!(title(&b).ends_with(" [call:pbx-b-1700000000.42]"), "{}", title(&b));
    // a call of before nodes were told apart (from an old spool job)
    let old = CallInfo { node: String::new(), ..a };
    assert!(title(&old).ends_with(" [call:1700000000.42]"), "{}", title(&old));
}

#[test]
fn an_unknown_caller_gets_a_ticket_for_the_unknown_customer() {
    let w = world("unknown");
    let o = handle_call(&w.svc, &default_profile(&w), &call("84951110000", "1700000000.2"), soon());
    assert_eq!(o.status(), Status::Created);
    assert_eq!((o.customer_user.as_str(), o.customer_id.as_str(), o.matches), ("unknown", "", Some(0)));
    assert_eq!(w.otrs.tickets()[0].customer_user, "unknown");
}

#[test]
fn an_anonymous_caller_is_not_looked_up() {
    let w = world("anonymous");
    let o = handle_call(&w.svc, &default_profile(&w), &call("anonymous", "1700000000.3"), soon());
    assert_eq!(o.status(), Status::Created);
    assert_eq!((o.caller.as_str(), o.matches, o.lookup_time), ("anonymous", Some(0), None));
    assert!(w.otrs.tickets()[0].title.starts_with("Call from unknown caller (anonymous) "));
}

#[test]
fn a_repeat_call_is_added_to_the_open_ticket() {
    let w = world("repeat");
    let p = repeat_profile(&w);
    let first = handle_call(&w.svc, &p, &call("89161229624", "1700000000.4"), soon());
    let again = handle_call(&w.svc, &p, &call("+7 916 122 96 24", "1700000000.5"), soon());
    assert_eq!((first.status(), again.status()), (Status::Created, Status::Appended));
    assert_eq!(first.ticket().map(|t| &t.ticket_id), again.ticket().map(|t| &t.ticket_id));
    let tickets = w.otrs.tickets();
    assert_eq!(tickets.len(), 1, "no second ticket");
    assert_eq!(tickets[0].articles.len(), 2, "the repeat call is an article");
    assert_eq!(tickets[0].articles[1].sender_type, "customer");
    // a profile without a window: a ticket of its own
    let other = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.6"), soon());
    assert_eq!(other.status(), Status::Created);
    assert_eq!(w.otrs.tickets().len(), 2);
}

#[test]
fn a_repeat_call_of_an_unknown_number_is_added_to_its_remembered_ticket() {
    let w = world("repeat-unknown");
    let p = repeat_profile(&w);
    handle_call(&w.svc, &p, &call("84951110000", "1700000000.7"), soon());
    let again = handle_call(&w.svc, &p, &call("+7 495 111 00 00", "1700000000.8"), soon());
    assert_eq!(again.status(), Status::Appended);
    assert_eq!(w.otrs.tickets().len(), 1);
    // withheld numbers are never grouped
    let a = handle_call(&w.svc, &p, &call("anonymous", "1700000000.9"), soon());
    let b = handle_call(&w.svc, &p, &call("anonymous", "1700000000.10"), soon());
    assert_eq!((a.status(), b.status()), (Status::Created, Status::Created));
}

#[test]
fn a_repeat_call_finds_the_open_ticket_in_otrs_after_a_restart() {
    let w = world("repeat-search");
    let id = w.otrs.add_ticket("made by another PBX", "ivanov", "open");
    let o = handle_call(&w.svc, &repeat_profile(&w), &call("89161229624", "1700000000.11"), soon());
    assert_eq!(o.status(), Status::Appended);
    assert_eq!(o.ticket().map(|t| t.ticket_id.clone()), Some(id));
    assert_eq!(w.otrs.count(Op::Create), 0);
}

#[test]
fn a_closed_ticket_gets_the_repeat_call_a_new_one() {
    let w = world("repeat-closed");
    let p = repeat_profile(&w);
    let first = handle_call(&w.svc, &p, &call("89161229624", "1700000000.12"), soon());
    w.otrs.set_state_type(&first.ticket().unwrap().ticket_id, "closed");
    let again = handle_call(&w.svc, &p, &call("89161229624", "1700000000.13"), soon());
    assert_eq!(again.status(), Status::Created);
    assert_ne!(first.ticket().map(|t| &t.ticket_id), again.ticket().map(|t| &t.ticket_id));
    assert_eq!(w.otrs.tickets().len(), 2);
}

#[test]
fn a_repeat_call_whose_article_fails_gets_a_ticket_of_its_own() {
    let w = world("repeat-update-fails");
    let p = repeat_profile(&w);
    handle_call(&w.svc, &p, &call("89161229624", "1700000000.14"), soon());
    w.otrs.fail(Op::Update, ClientError::Timeout);
    let again = handle_call(&w.svc, &p, &call("89161229624", "1700000000.15"), soon());
    assert_eq!(again.status(), Status::Created);
    assert_eq!(w.otrs.tickets().len(), 2);
}

#[test]
fn otrs_refusing_the_ticket_fails_the_call_and_queues_nothing() {
    let w = world("refused");
    w.otrs.fail(Op::Create, refused());
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.16"), soon());
    assert_eq!(o.status(), Status::Failed);
    assert!(o.error().contains("InvalidParameter"), "{}", o.error());
    assert!(o.ticket().is_none());
    assert!(jobs(&w).is_empty());
    assert!(w.svc.health.otrs_down().is_none(), "a refusal is not an outage");
}

#[test]
fn a_timeout_queues_the_ticket_as_maybe_delivered_and_marks_otrs_down() {
    let w = world("timeout");
    w.otrs.fail(Op::Create, ClientError::Timeout);
    let c = call("89161229624", "1700000000.17");
    let o = handle_call(&w.svc, &default_profile(&w), &c, soon());
    assert_eq!(o.status(), Status::Queued);
    assert_eq!(o.error(), "OTRS did not answer in time");
    let jobs = jobs(&w);
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!((j.key.as_str(), j.attempts, j.maybe_delivered), ("pbx-a-1700000000.17", 1, true));
    let Task::Create(t) = &j.task else { panic!("{j:?}") };
    assert_eq!((t.call.clone(), t.matches, t.customer.as_ref().map(|c| c.login())), (c, Some(1), Some("ivanov")));
    assert!(w.svc.health.otrs_down().is_some());
}

#[test]
fn an_outage_queues_the_ticket_and_the_next_calls_do_not_wait_for_otrs() {
    let w = world("outage");
    w.otrs.fail(Op::Create, ClientError::Connect("connection refused".into()));
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.18"), soon());
    assert_eq!(o.status(), Status::Queued);
    assert!(!jobs(&w)[0].maybe_delivered, "nothing reached OTRS");
    // negative cache: the next call goes straight to the spool
    let next = handle_call(&w.svc, &default_profile(&w), &call("84951110000", "1700000000.19"), soon());
    assert_eq!(next.status(), Status::Queued);
    assert!(next.error().starts_with("OTRS down (cannot reach OTRS: connection refused)"), "{}", next.error());
    assert_eq!(w.otrs.count(Op::Create), 1, "not asked again");
    let jobs = jobs(&w);
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs.iter().map(|j| j.attempts).collect::<Vec<_>>(), [1, 0]);
}

#[test]
fn refused_credentials_queue_the_ticket_without_calling_otrs_down() {
    let w = world("authfail");
    w.otrs
        .fail(Op::Create, ClientError::Soap(SoapError::Operation { code: "TicketCreate.AuthFail".into(), message: "x".into() }));
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.20"), soon());
    assert_eq!(o.status(), Status::Queued);
    assert!(w.svc.health.otrs_down().is_none());
}

#[test]
fn without_the_customer_database_the_ticket_is_queued_with_the_number() {
    let w = world_with("no-db", FakeOtrs::new(), testing::unloaded_index());
    let c = call("89161229624", "1700000000.21");
    let o = handle_call(&w.svc, &default_profile(&w), &c, soon());
    assert_eq!(o.status(), Status::Queued);
    assert_eq!((o.error(), o.matches), ("customer database not available", None));
    assert_eq!(w.otrs.count(Op::Create), 0);
    let jobs = jobs(&w);
    let Task::Create(t) = &jobs[0].task else { panic!() };
    assert_eq!((t.call.caller.as_str(), t.matches, t.customer.is_none(), jobs[0].attempts), ("89161229624", None, true, 0));
}

/// Makes the spool folder unusable even for root: a file where it was.
fn break_spool(w: &World) {
    std::fs::remove_dir_all(w.svc.spool.dir()).unwrap();
    std::fs::write(w.svc.spool.dir(), "not a folder").unwrap();
}

#[test]
fn a_spool_that_cannot_take_the_job_fails_the_call_otrs_failed() {
    let w = world("spool-broken");
    w.otrs.fail(Op::Create, ClientError::Timeout);
    break_spool(&w);
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.22"), soon());
    assert_eq!(o.status(), Status::Failed);
    assert!(o.error().starts_with("OTRS did not answer in time; spool write failed: "), "{}", o.error());
    assert!(w.svc.health.spool_broken().is_some());
    assert_eq!(w.svc.health.spool_failures(), 1);
}

#[test]
fn a_spool_folder_removed_after_load_is_created_again() {
    let w = world("spool-gone");
    w.otrs.fail(Op::Create, ClientError::Timeout);
    std::fs::remove_dir_all(w.svc.spool.dir()).unwrap();
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.25"), soon());
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    assert_eq!(jobs(&w).len(), 1);
    assert!(w.svc.spool.dir().join("bad").is_dir());
    assert!(w.svc.health.spool_broken().is_none());
}

#[test]
fn a_full_spool_never_costs_a_ticket_otrs_could_take() {
    let w = world("spool-full");
    // OTRS failed a moment ago: the call would queue without asking it...
    w.svc.health.mark_down("connection refused");
    w.svc.spool.full.store(true, std::sync::atomic::Ordering::SeqCst);
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.26"), soon());
    // ...but the spool cannot keep the job: OTRS is asked within the budget
    assert_eq!(o.status(), Status::Created, "{:?}", o.result);
    assert_eq!(w.otrs.tickets().len(), 1);
    assert!(w.svc.health.otrs_down().is_none(), "OTRS answered");
    let (_, why) = w.svc.health.spool_broken().expect("the spool's state");
    assert!(why.contains("No space left on device"), "{why}");
    // while the spool is broken, calls do not skip OTRS even when it is down
    w.svc.health.mark_down("connection refused");
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.27"), soon());
    assert_eq!(o.status(), Status::Created, "{:?}", o.result);
    assert_eq!(w.otrs.count(Op::Create), 2);
    // the first write that works again clears it
    w.svc.spool.full.store(false, std::sync::atomic::Ordering::SeqCst);
    w.otrs.fail(Op::Create, ClientError::Connect("refused".into()));
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.28"), soon());
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    assert!(w.svc.health.spool_broken().is_none());
    assert_eq!(w.svc.health.spool_failures(), 1, "the direct tickets wrote nothing");
}

#[test]
fn with_rpc_there_are_no_repeat_calls_and_no_searches() {
    let w = world_with("rpc", FakeOtrs::rpc(), testing::index());
    let p = repeat_profile(&w);
    let a = handle_call(&w.svc, &p, &call("89161229624", "1700000000.23"), soon());
    let b = handle_call(&w.svc, &p, &call("89161229624", "1700000000.24"), soon());
    assert_eq!((a.status(), b.status()), (Status::Created, Status::Created));
    assert_eq!((w.otrs.count(Op::Search), w.otrs.count(Op::Get), w.otrs.count(Op::Update)), (0, 0, 0));
    // and no call outcomes: rpc.pl cannot add articles
    let end = testing::missed_call();
    let r = apply_call_end(&w.svc, &a_key(), "CREATED", "1", &end, soon());
    assert!(matches!(r, EndResult::Skipped(_)), "{r:?}");
}

fn a_key() -> String {
    call("1", "1700000000.99").key()
}

#[test]
fn a_call_outcome_goes_into_its_ticket() {
    let w = world("end-added");
    let o = handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.25"), soon());
    let id = o.ticket().unwrap().ticket_id.clone();
    let r = apply_call_end(&w.svc, &call("", "1700000000.25").key(), "CREATED", &id, &testing::missed_call(), soon());
    assert_eq!(r, EndResult::Added);
    let t = &w.otrs.tickets()[0];
    assert_eq!((t.state.as_str(), t.priority.as_str(), t.articles.len()), ("open", "4 high", 2));
    assert_eq!(t.articles[1].sender_type, "system");
}

#[test]
fn a_call_outcome_waits_with_its_queued_ticket_or_alone() {
    let w = world("end-queued");
    w.otrs.fail(Op::Create, ClientError::Timeout);
    let c = call("89161229624", "1700000000.26");
    handle_call(&w.svc, &default_profile(&w), &c, soon());
    let r = apply_call_end(&w.svc, &c.key(), "QUEUED", "", &testing::missed_call(), soon());
    assert!(matches!(&r, EndResult::Queued(why) if why == "with the queued ticket"), "{r:?}");
    let jobs = jobs(&w);
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].creates_ticket() && jobs[0].end().is_some());
    // the worker made the ticket meanwhile: the outcome waits on its own
    let r = apply_call_end(&w.svc, &call("", "1700000000.27").key(), "QUEUED", "", &testing::missed_call(), soon());
    assert!(matches!(&r, EndResult::Queued(_)), "{r:?}");
    let update = jobs_of_key(&w, "pbx-a-1700000000.27");
    assert!(matches!(&update[..], [j] if matches!(&j.task, Task::Update { ticket_id: None, .. })), "{update:?}");
    // OTRS down when the outcome comes: queued for its known ticket
    let o = {
        w.otrs.heal();
        w.svc.health.mark_up();
        handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.28"), soon())
    };
    let id = o.ticket().unwrap().ticket_id.clone();
    w.otrs.fail(Op::Update, ClientError::Timeout);
    let r = apply_call_end(&w.svc, &call("", "1700000000.28").key(), "APPENDED", &id, &testing::missed_call(), soon());
    assert!(matches!(&r, EndResult::Queued(_)), "{r:?}");
    let update = jobs_of_key(&w, "pbx-a-1700000000.28");
    assert!(matches!(&update[..], [j] if matches!(&j.task, Task::Update { ticket_id: Some(t), .. } if *t == id)), "{update:?}");
    // refused outright: failed, nothing queued
    w.otrs.fail(Op::Update, refused());
    let r = apply_call_end(&w.svc, &call("", "1700000000.28").key(), "CREATED", &id, &testing::missed_call(), soon());
    assert!(matches!(&r, EndResult::Failed(_)), "{r:?}");
}

#[test]
fn a_call_without_a_ticket_has_no_outcome_to_add() {
    let w = world("end-skipped");
    for (status, want) in [("", "did not run"), ("FAILED", "OTRSSTATUS is FAILED"), ("CREATED", "OTRSSTATUS is CREATED")] {
        let r = apply_call_end(&w.svc, &a_key(), status, "", &testing::missed_call(), soon());
        assert!(matches!(&r, EndResult::Skipped(why) if why.contains(want)), "{status}: {r:?}");
    }
    // without the title marker a queued outcome could never find its ticket
    let mut w = world("end-no-marker");
    w.svc.config.general.title_call_id = false;
    let r = apply_call_end(&w.svc, &a_key(), "QUEUED", "", &testing::missed_call(), soon());
    assert!(matches!(&r, EndResult::Failed(why) if why.contains("title_call_id")), "{r:?}");
}

fn jobs_of_key(w: &World, key: &str) -> Vec<crate::spool::Job> {
    jobs(w).into_iter().filter(|j| j.key == key).collect()
}

/// Ivanov, and a customer whose login holds TicketSearch's wildcard.
fn star_world(tag: &str, raw_login_search: bool) -> World {
    let iv = testing::ivanov();
    let star = crate::customers::Customer::new("iv*", "STAR", iv.first_name(), iv.last_name(), iv.email());
    let index = crate::customers::index_for_tests(
        &[(testing::ivanov(), "+7 916 122-96-24"), (star, "+7 495 111-22-33")],
        testing::plan(),
    );
    world_with(tag, FakeOtrs::with_raw_login_search(raw_login_search), index)
}

#[test]
fn a_repeat_call_never_lands_on_another_customers_ticket() {
    for raw in [false, true] {
        let w = star_world(&format!("repeat-star-{raw}"), raw);
        // Ivanov's open ticket, made elsewhere (so not remembered here)
        let ivanovs = w.otrs.add_ticket("Ivanov's ticket", "ivanov", "open");
        let o = handle_call(&w.svc, &repeat_profile(&w), &call("84951112233", "1700000000.40"), soon());
        assert_eq!(o.status(), Status::Created, "Raw honoured: {raw}: {:?}", o.result);
        assert_eq!(o.customer_user, "iv*");
        let tickets = w.otrs.tickets();
        assert_eq!(tickets.len(), 2);
        assert_eq!(
            tickets.iter().find(|t| t.id == ivanovs).map(|t| t.articles.len()),
            Some(0),
            "nothing added to Ivanov's ticket"
        );
        // and iv*'s own open ticket is found by its exact login
        let again = handle_call(&w.svc, &repeat_profile(&w), &call("84951112233", "1700000000.41"), soon());
        assert_eq!(again.status(), Status::Appended, "{:?}", again.result);
    }
}

#[test]
fn a_repeat_call_search_sends_the_login_raw_as_well() {
    let w = star_world("repeat-raw-criteria", true);
    w.otrs.add_ticket("Ivanov's ticket", "ivanov", "open");
    // with Raw honoured, the search itself finds nothing of Ivanov's: no TicketGet needed
    let o = handle_call(&w.svc, &repeat_profile(&w), &call("84951112233", "1700000000.42"), soon());
    assert_eq!(o.status(), Status::Created);
    assert_eq!(w.otrs.count(Op::Get), 0);
}

#[test]
fn a_slow_spool_disk_does_not_keep_the_call_past_its_budget() {
    let w = world("spool-slow");
    w.otrs.fail(Op::Create, ClientError::Connect("refused".into()));
    w.svc.spool.slow_ms.store(700, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let o =
        handle_call(&w.svc, &default_profile(&w), &call("89161229624", "1700000000.60"), started + Duration::from_millis(100));
    let took = started.elapsed();
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    assert!(o.error().ends_with("; being written to the spool"), "{}", o.error());
    // well short of the 700 ms write: the call did not wait for it (the
    // margin over deadline + grace is for a loaded test machine)
    assert!(took < Duration::from_millis(100) + WRITE_GRACE + Duration::from_millis(350), "the call waited {took:?}");
    // the job is still made durable
    assert!(crate::spool::join_writers(Duration::from_secs(5)));
    assert_eq!(jobs(&w).len(), 1);
    // a write that finishes in time is waited for
    w.svc.spool.slow_ms.store(10, std::sync::atomic::Ordering::SeqCst);
    w.svc.health.mark_down("refused");
    let o = handle_call(
        &w.svc,
        &default_profile(&w),
        &call("89161229624", "1700000000.61"),
        Instant::now() + Duration::from_millis(500),
    );
    assert_eq!(o.status(), Status::Queued);
    assert!(!o.error().contains("being written"), "{}", o.error());
    assert_eq!(jobs(&w).len(), 2);
}

#[test]
fn a_slow_repeat_call_search_gets_a_share_of_the_budget_and_is_no_outage() {
    let w = world("repeat-slow-search");
    w.otrs.slow_search(Duration::from_secs(5));
    let started = Instant::now();
    let o = handle_call(&w.svc, &repeat_profile(&w), &call("89161229624", "1700000000.70"), started + Duration::from_millis(600));
    assert_eq!(o.status(), Status::Created, "time was left for the ticket: {:?}", o.result);
    assert!(started.elapsed() < Duration::from_millis(700), "{:?}", started.elapsed());
    assert!(w.svc.health.otrs_down().is_none(), "a slow search is not an outage");
}
