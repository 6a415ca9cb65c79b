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

// ------------------------------------------------------------ recordings

fn rec_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("otrs-flow-rec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An answered call's outcome with `bytes` of recording in `dir`.
fn recorded(dir: &std::path::Path, key: &str, bytes: usize) -> (CallEnd, Vec<u8>) {
    let path = dir.join(format!("call-{key}.wav"));
    let content: Vec<u8> = (0..bytes).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let mut end = answered_by(None, false);
    end.file = Some(Box::new(crate::call::recording::file_ref(path.to_str().unwrap(), "Recording", "", key)));
    (end, content)
}

#[test]
fn the_recording_is_attached_to_the_outcome_article() {
    let w = world("rec");
    let d = rec_dir("attached");
    let c = call("89161229624", "1700000300.1");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    let (end, content) = recorded(&d, &c.key(), 3000);
    assert_eq!(apply_call_end(&w.svc, &c.key(), "CREATED", &id, &end, soon()), EndResult::Added);
    let t = &w.otrs.tickets()[0];
    assert_eq!(t.articles.len(), 2);
    let a = &t.articles[1];
    assert_eq!(a.attachments.len(), 1);
    assert_eq!(a.attachments[0].filename, "call-pbx-a-1700000300.1.wav");
    assert_eq!(a.attachments[0].content_type, "audio/wav");
    assert_eq!(a.attachments[0].content, content);
    assert!(a.body.contains("Recording: call-pbx-a-1700000300.1.wav (3 KB), attached.\n"), "{}", a.body);
    assert!(a.body.ends_with("Outcome-ID: pbx-a-1700000300.1\n"), "{}", a.body);
    // delete_after_upload = no (default): the file stays
    assert!(std::path::Path::new(&end.file.as_ref().unwrap().path).exists());
}

#[test]
fn an_oversized_recording_is_not_sent_and_the_article_says_so() {
    let mut w = world("rec-big");
    w.svc.config.general.max_attachment_size = 1000;
    let d = rec_dir("big");
    let c = call("89161229624", "1700000301.1");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    let (end, _) = recorded(&d, &c.key(), 5000);
    assert_eq!(apply_call_end(&w.svc, &c.key(), "CREATED", &id, &end, soon()), EndResult::Added);
    let a = &w.otrs.tickets()[0].articles[1];
    assert!(a.attachments.is_empty());
    assert!(a.body.contains("(5 KB) not attached: larger than max_attachment_size (1 KB)."), "{}", a.body);
}

#[test]
fn delete_after_upload_removes_the_file_once_it_is_on_the_ticket() {
    let mut w = world("rec-delete");
    w.svc.config.general.delete_after_upload = true;
    let d = rec_dir("delete");
    let c = call("89161229624", "1700000302.1");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    let (end, _) = recorded(&d, &c.key(), 100);
    let path = end.file.as_ref().unwrap().path.clone();
    // OTRS fails: the file must stay for the retry
    w.otrs.fail(Op::Update, crate::otrs::ClientError::Connect("connection refused".into()));
    assert!(matches!(apply_call_end(&w.svc, &c.key(), "CREATED", &id, &end, soon()), EndResult::Queued(_)));
    assert!(std::path::Path::new(&path).exists());
    w.svc.health.mark_up();
    crate::spool::worker::Retrier::default().step(&w.svc, &Stats::default(), &|| false);
    assert_eq!(w.otrs.tickets()[0].articles[1].attachments.len(), 1);
    assert!(!std::path::Path::new(&path).exists(), "deleted after the upload");
}

#[test]
fn a_queued_ticket_gets_its_recording_once_otrs_is_back_exactly_once() {
    let mut w = world("rec-queued");
    w.svc.config.general.spool_copy = true;
    let d = rec_dir("queued");
    let mut retrier = crate::spool::worker::Retrier::default();
    let c = call("89161229624", "1700000303.1");
    w.otrs.fail_always(Op::Create, crate::otrs::ClientError::Connect("connection refused".into()));
    assert_eq!(handle_call(&w.svc, w_profile(), &c, soon()).status(), Status::Queued);
    let (end, content) = recorded(&d, &c.key(), 2000);
    assert!(matches!(apply_call_end(&w.svc, &c.key(), "QUEUED", "", &end, soon()), EndResult::Queued(_)));
    // spool_copy = yes: the job holds a copy; the original may go
    std::fs::remove_file(&end.file.as_ref().unwrap().path).unwrap();
    let stats = Stats::default();
    retrier.step(&w.svc, &stats, &|| false);
    assert!(w.otrs.tickets().is_empty());
    w.otrs.heal();
    w.svc.health.mark_up();
    for _ in 0..3 {
        retrier.step(&w.svc, &stats, &|| false);
    }
    let t = &w.otrs.tickets();
    assert_eq!(t.len(), 1);
    let with_file: Vec<_> = t[0].articles.iter().filter(|a| !a.attachments.is_empty()).collect();
    assert_eq!(with_file.len(), 1, "{:?}", t[0].articles);
    assert_eq!(with_file[0].attachments[0].content, content);
    assert!(w.svc.spool.list().unwrap().is_empty());
    let copies: Vec<_> = std::fs::read_dir(w.svc.spool.dir().join("files")).unwrap().collect();
    assert!(copies.is_empty(), "the spool copy is removed after the upload");
}

#[test]
fn with_spool_copy_delete_after_upload_removes_the_copy_and_the_original() {
    let mut w = world("rec-copy-delete");
    w.svc.config.general.spool_copy = true;
    w.svc.config.general.delete_after_upload = true;
    let d = rec_dir("copy-delete");
    let c = call("89161229624", "1700000305.1");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    let (end, content) = recorded(&d, &c.key(), 300);
    let original = end.file.as_ref().unwrap().path.clone();
    w.otrs.fail(Op::Update, crate::otrs::ClientError::Connect("connection refused".into()));
    assert!(matches!(apply_call_end(&w.svc, &c.key(), "CREATED", &id, &end, soon()), EndResult::Queued(_)));
    assert_eq!(std::fs::read_dir(w.svc.spool.dir().join("files")).unwrap().count(), 1, "a copy in the spool");
    assert!(std::path::Path::new(&original).exists(), "kept until the upload");
    w.svc.health.mark_up();
    crate::spool::worker::Retrier::default().step(&w.svc, &Stats::default(), &|| false);
    assert_eq!(w.otrs.tickets()[0].articles[1].attachments[0].content, content);
    assert_eq!(std::fs::read_dir(w.svc.spool.dir().join("files")).unwrap().count(), 0);
    assert!(!std::path::Path::new(&original).exists());
}

#[test]
fn a_retry_after_otrs_made_the_article_and_failed_never_duplicates_it() {
    let w = world("rec-dup");
    let d = rec_dir("dup");
    let c = call("89161229624", "1700000304.1");
    let id = handle_call(&w.svc, w_profile(), &c, soon()).ticket().unwrap().ticket_id.clone();
    let (end, _) = recorded(&d, &c.key(), 500);
    // Znuny: the article is made, then the file fails (HTTP 500)
    w.otrs.fail_after(Op::Update, crate::otrs::ClientError::Timeout);
    assert!(matches!(apply_call_end(&w.svc, &c.key(), "CREATED", &id, &end, soon()), EndResult::Queued(_)));
    assert_eq!(w.otrs.tickets()[0].articles.len(), 2);
    w.svc.health.mark_up();
    let mut retrier = crate::spool::worker::Retrier::default();
    for _ in 0..3 {
        retrier.step(&w.svc, &Stats::default(), &|| false);
    }
    assert_eq!(w.otrs.tickets()[0].articles.len(), 2, "no second outcome article");
    assert!(w.svc.spool.list().unwrap().is_empty());
    assert!(w.otrs.count(Op::Get) >= 1, "the retry looked first");
}
