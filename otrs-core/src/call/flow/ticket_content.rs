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
