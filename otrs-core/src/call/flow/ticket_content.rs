//! What ends up on the ticket besides the call itself, against an OTRS in
//! memory: numbers that never make tickets, the agent who answered.

use super::*;
use crate::call::testing::{call, world};
use crate::call::Status;
use crate::ignore::IgnoreList;
use crate::otrs::fake::Op;
use crate::runtime::stats::Stats;

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(3)
}

#[test]
fn an_ignored_number_costs_no_otrs_request_and_no_spool_job() {
    let mut w = world("ignored");
    let plan = w.svc.config.general.plan.clone();
    w.svc.config.general.ignore_numbers = IgnoreList::parse("anonymous, +7495*", &plan).unwrap();
    let mut profile = w.svc.config.profile("default").unwrap().clone();
    profile.ignore_numbers = IgnoreList::parse("4500-4599", &plan).unwrap();
    // OTRS down: an ignored call must not even be queued
    w.svc.health.mark_down("connection refused");
    let stats = Stats::default();
    for (n, (caller, rule)) in
        [("4507", "4500-4599"), ("8 (495) 111-00-00", "+7495*"), ("anonymous", "anonymous"), ("", "anonymous")].iter().enumerate()
    {
        let o = handle_call(&w.svc, &profile, &call(caller, &format!("1700000100.{n}")), soon());
        assert_eq!(o.status(), Status::Ignored, "{caller}: {:?}", o.result);
        assert_eq!(o.error(), format!("ignore_numbers: {rule}"));
        assert_eq!(o.status().as_str(), "IGNORED");
        o.count_in(&stats);
    }
    for op in [Op::Create, Op::Search, Op::Update, Op::Get] {
        assert_eq!(w.otrs.count(op), 0, "{op:?}");
    }
    assert!(w.svc.spool.list().unwrap().is_empty());
    let snap = stats.snapshot();
    assert_eq!((snap.ignored, snap.queued, snap.failed, snap.unknown_callers), (4, 0, 0, 0));
    assert_eq!(snap.last_error, None);
    // another number, another profile: a ticket as ever (queued: OTRS is down)
    let o = handle_call(&w.svc, &profile, &call("4607", "1700000100.9"), soon());
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    let plain = w.svc.config.profile("default").unwrap().clone();
    let o = handle_call(&w.svc, &plain, &call("4507", "1700000100.10"), soon());
    assert_eq!(o.status(), Status::Queued, "the profile's list is the profile's only: {:?}", o.result);
}

fn answered_by(agent: Option<&str>, set_responsible: bool) -> CallEnd {
    let info = crate::call::end::CallEndInfo {
        dialstatus: "ANSWER".into(),
        peer_name: "PJSIP/4507-00000001".into(),
        peer_number: "4507".into(),
        answered_secs: Some(61),
        agent: agent.map(str::to_string),
        set_responsible,
        ..Default::default()
    };
    crate::call::end::outcome(&info, w_profile())
}

fn w_profile() -> &'static Profile {
    static P: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
    P.get_or_init(|| crate::call::testing::config().profile("default").unwrap().clone())
}

#[test]
fn the_answering_agent_owns_the_ticket_and_the_article_names_them() {
    let w = world("owner");
    w.otrs.set_agents(&["ivanova", "petrov"]);
    let c = call("89161229624", "1700000200.1");
    let o = handle_call(&w.svc, w_profile(), &c, soon());
    let id = o.ticket().unwrap().ticket_id.clone();
    let r = apply_call_end(&w.svc, &c.key(), "CREATED", &id, &answered_by(Some("ivanova"), true), soon());
    assert_eq!(r, EndResult::Added);
    let t = &w.otrs.tickets()[0];
    assert_eq!((t.owner.as_str(), t.responsible.as_str(), t.state.as_str()), ("ivanova", "ivanova", "open"));
    assert_eq!(t.articles.len(), 2);
    assert_eq!(t.articles[1].subject, "Call answered by ivanova");
    assert!(t.articles[1].body.contains("answered by agent ivanova on PJSIP/4507-00000001"), "{}", t.articles[1].body);
    // without set_responsible only the owner changes
    let c = call("89161229624", "1700000200.2");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    assert_eq!(apply_call_end(&w.svc, &c.key(), "CREATED", &id, &answered_by(Some("petrov"), false), soon()), EndResult::Added);
    let t = &w.otrs.tickets()[1];
    assert_eq!((t.owner.as_str(), t.responsible.as_str()), ("petrov", ""));
}

#[test]
fn an_agent_otrs_does_not_know_leaves_the_owner_but_not_the_article() {
    let w = world("owner-unknown");
    w.otrs.set_agents(&["ivanova"]);
    let c = call("89161229624", "1700000201.1");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    let r = apply_call_end(&w.svc, &c.key(), "CREATED", &id, &answered_by(Some("nobody"), false), soon());
    match r {
        EndResult::AddedWithoutOwner(why) => assert!(why.contains("nobody") && why.contains("InvalidParameter"), "{why}"),
        other => panic!("{other:?}"),
    }
    let t = &w.otrs.tickets()[0];
    assert_eq!((t.owner.as_str(), t.state.as_str()), ("", "new"));
    assert_eq!(t.articles.len(), 2, "the outcome article is in all the same");
    assert!(w.svc.spool.list().unwrap().is_empty());
}

#[test]
fn a_queued_ticket_gets_its_owner_through_the_spool() {
    let w = world("owner-queued");
    w.otrs.set_agents(&["ivanova"]);
    let mut retrier = crate::spool::worker::Retrier::default();
    let c = call("89161229624", "1700000202.1");
    w.otrs.fail(Op::Create, crate::otrs::ClientError::Connect("connection refused".into()));
    let o = handle_call(&w.svc, w_profile(), &c, soon());
    assert_eq!(o.status(), Status::Queued, "{:?}", o.result);
    let r = apply_call_end(&w.svc, &c.key(), "QUEUED", "", &answered_by(Some("ivanova"), false), soon());
    assert!(matches!(r, EndResult::Queued(_)), "{r:?}");
    assert_eq!(w.otrs.tickets().len(), 0);
    w.svc.health.mark_up();
    let stats = Stats::default();
    retrier.step(&w.svc, &stats, &|| false);
    let t = &w.otrs.tickets()[0];
    assert_eq!((t.owner.as_str(), t.state.as_str(), t.articles.len()), ("ivanova", "open", 2));
    assert_eq!(t.articles[1].subject, "Call answered by ivanova");
    assert!(w.svc.spool.list().unwrap().is_empty());
}
