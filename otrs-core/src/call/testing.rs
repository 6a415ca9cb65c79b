//! A whole set of services for the tests of the ticket flow and the spool
//! worker: a configuration, a customer index loaded without a database, a
//! spool in a scratch folder and an OTRS in memory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::end::CallEnd;
use super::flow::Services;
use super::recent::RecentTickets;
use super::CallInfo;
use crate::config::{from_sections, Config, Section, PLACEHOLDERS, TICKET_PLACEHOLDERS};
use crate::customers::{index_for_tests, Customer, CustomerIndex, DbSettings};
use crate::number::NumberPlan;
use crate::otrs::fake::FakeOtrs;
use crate::runtime::events::{self, TicketEvent};
use crate::runtime::health::Health;
use crate::runtime::lock;
use crate::spool::Spool;

/// `agent_url` with every placeholder it may use, as `name=value` pairs.
pub(crate) fn every_placeholder_url() -> String {
    let pairs: Vec<String> = PLACEHOLDERS.iter().chain(TICKET_PLACEHOLDERS).map(|n| format!("{n}=${{{n}}}")).collect();
    format!("http://otrs.example/index.pl?{}", pairs.join("&"))
}

pub(crate) fn config() -> Config {
    let section = |name: &str, entries: &[(&str, &str)]| Section {
        name: name.into(),
        entries: entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let url = every_placeholder_url();
    let general = section(
        "general",
        &[
            ("url", "http://otrs.example/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
            ("user", "soapagent"),
            ("password", "pw"),
            ("dbuser", "otrs"),
            ("unknown_customer", "unknown"),
            ("country_code", "7"),
            ("national_prefix", "8"),
            ("agent_url", url.as_str()),
        ],
    );
    let default = section("default", &[("queue", "Raw")]);
    let repeat = section("repeat", &[("queue", "Raw"), ("repeat_window", "60")]);
    let (mut c, _) = from_sections(&[general, default, repeat]).expect("the test configuration is valid");
    // no waiting in tests: a recheck may follow at once
    c.general.recheck_delay = Duration::ZERO;
    c
}

pub(crate) fn plan() -> NumberPlan {
    config().general.plan
}

pub(crate) fn ivanov() -> Customer {
    Customer::new("ivanov", "ACME", "Ivan", "Ivanov", "ivanov@example.com")
}

/// Ivan Ivanov at 8 916 122-96-24; nobody else.
pub(crate) fn index() -> CustomerIndex {
    index_for_tests(&[(ivanov(), "+7 916 122-96-24")], plan())
}

/// An index the database never filled.
pub(crate) fn unloaded_index() -> CustomerIndex {
    CustomerIndex::new(DbSettings::default(), plan())
}

/// A scratch folder, removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "otrs-flow-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("scratch folder");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Services around `otrs` (kept by the test to look into), with their
/// spool folder.
pub(crate) struct World {
    pub svc: Services,
    pub otrs: Arc<FakeOtrs>,
    /// Kept for its drop: the spool folder goes with the test.
    pub _dir: TempDir,
}

pub(crate) fn world_with(tag: &str, otrs: FakeOtrs, index: CustomerIndex) -> World {
    let dir = TempDir::new(tag);
    let otrs = Arc::new(otrs);
    let svc = Services {
        config: config(),
        otrs: Box::new(otrs.clone()),
        index: Arc::new(index),
        spool: Spool::open(&dir.0.join("spool")).expect("spool"),
        health: Arc::new(Health::default()),
        recent: Arc::new(RecentTickets::default()),
        node: "pbx-a".into(),
    };
    World { svc, otrs, _dir: dir }
}

pub(crate) fn world(tag: &str) -> World {
    world_with(tag, FakeOtrs::new(), index())
}

/// A call from `caller`; `uniqueid` tells the calls of a test apart.
pub(crate) fn call(caller: &str, uniqueid: &str) -> CallInfo {
    CallInfo {
        caller: caller.into(),
        channel: format!("PJSIP/trunk-{uniqueid}"),
        uniqueid: uniqueid.into(),
        linkedid: uniqueid.into(),
        exten: "4509".into(),
        context: "from-trunk".into(),
        node: "pbx-a".into(),
    }
}

static EVENTS: Mutex<Vec<TicketEvent>> = Mutex::new(Vec::new());

fn capture(e: &TicketEvent) {
    lock(&EVENTS).push(e.clone());
}

/// Collects ticket events from now on (all tests share the sink: look
/// them up by uniqueid).
pub(crate) fn capture_events() {
    events::set_sink(Some(capture));
}

/// The ticket events raised for call `uniqueid` so far.
pub(crate) fn events_of(uniqueid: &str) -> Vec<TicketEvent> {
    lock(&EVENTS).iter().filter(|e| e.uniqueid == uniqueid).cloned().collect()
}

/// What OTRSCallEnd() makes of a missed call, with the profile's
/// missed_state and missed_priority.
pub(crate) fn missed_call() -> CallEnd {
    CallEnd {
        answered: false,
        subject: "Missed call (NOANSWER)".into(),
        body: "Outcome: missed\n".into(),
        state: Some("open".into()),
        priority: Some("4 high".into()),
        time_unit: None,
        ..CallEnd::default()
    }
}
