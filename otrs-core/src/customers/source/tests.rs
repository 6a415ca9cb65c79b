//! The index and its refreshes over several sources, with fake sources (no
//! server): order, the earlier source winning, counts, a source down or slow.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::config::{from_sections, Section};
use crate::customers::refresher::Refresher;
use crate::customers::test_support::*;
use crate::customers::IndexError;

/// A source whose rows, state and speed the test sets.
#[derive(Default)]
struct Fake {
    rows: Mutex<Vec<CustomerRow>>,
    down: AtomicBool,
    slow: Mutex<Duration>,
    fetches: AtomicUsize,
    incremental: AtomicBool,
}

struct FakeSource(Arc<Fake>);

impl Fake {
    fn new(rows: Vec<CustomerRow>) -> Arc<Fake> {
        let f = Fake { rows: Mutex::new(rows), incremental: AtomicBool::new(true), ..Fake::default() };
        Arc::new(f)
    }
}

impl CustomerSource for FakeSource {
    fn kind(&self) -> &'static str {
        "fake"
    }

    fn describe(&self) -> String {
        "fake source".into()
    }

    fn incremental(&self) -> bool {
        self.0.incremental.load(Ordering::SeqCst)
    }

    fn fetch(
        &self,
        since: Option<(ChangeTime, i64)>,
        _: &Arc<super::cancel::Cutter>,
        each: &mut dyn FnMut(CustomerRow),
    ) -> Result<(), String> {
        self.0.fetches.fetch_add(1, Ordering::SeqCst);
        let slow = *self.0.slow.lock().unwrap();
        std::thread::sleep(slow);
        if self.0.down.load(Ordering::SeqCst) {
            return Err("fake server refused the bind with password fake-Secret-9".into());
        }
        let bound = since.and_then(|(t, micros)| shifted(t, micros));
        for row in self.0.rows.lock().unwrap().iter() {
            let wanted = match bound {
                None => row.valid,
                Some(b) => row.change_time >= Some(b),
            };
            if wanted {
                each(row.clone());
            }
        }
        Ok(())
    }

    fn secrets(&self) -> Vec<&str> {
        vec!["fake-Secret-9"]
    }
}

fn two_sources(a: &Arc<Fake>, b: &Arc<Fake>) -> Arc<CustomerIndex> {
    let second = CustomerIndex::with_source("customers-b", Box::new(FakeSource(Arc::clone(b))), ru());
    let first = CustomerIndex::with_source("customers-a", Box::new(FakeSource(Arc::clone(a))), ru());
    Arc::new(first.followed_by(vec![Arc::new(second)]))
}

fn load_all(index: &CustomerIndex) {
    index.refresh_full().expect("first source");
    for part in index.later() {
        part.refresh_full().expect("later source");
    }
}

fn now() -> Option<ChangeTime> {
    t(2026, 6, 1, 12, 0, 0)
}

#[test]
fn the_earlier_source_wins_and_every_match_counts() {
    let a = Fake::new(vec![row(1, "a-shared", "89160000001", "", now()), row(2, "a-only", "89160000002", "", now())]);
    let b = Fake::new(vec![
        // changed later than a's: within one source that would win, across
        // sources the order of otrs.conf decides
        row(1, "b-shared", "+7 916 000-00-01", "", t(2026, 7, 1, 0, 0, 0)),
        row(2, "b-only", "8 916 000 00 03", "", now()),
        row(3, "b-shared2", "89160000001", "", now()),
    ]);
    let index = two_sources(&a, &b);
    load_all(&index);
    assert_eq!(who(&index, "89160000001"), (3, Some("a-shared".into())));
    assert_eq!(who(&index, "89160000002"), (1, Some("a-only".into())));
    assert_eq!(who(&index, "+79160000003"), (1, Some("b-only".into())));
    assert_eq!(who(&index, "89169999999"), (0, None));
    let (key, all) = index.lookup_sources("8 916 000 00 01").expect("loaded");
    assert_eq!(key.as_deref(), Some("9160000001"));
    let got: Vec<(String, String)> = all.iter().map(|(s, c)| (s.clone(), c.login().to_string())).collect();
    assert_eq!(
        got,
        [("customers-a", "a-shared"), ("customers-b", "b-shared"), ("customers-b", "b-shared2")]
            .map(|(s, l)| (s.to_string(), l.to_string()))
    );
    assert_eq!(index.lookup_all("89160000001").expect("loaded").1.len(), 3);
    let s = index.status();
    assert!(s.loaded && s.db_up);
    assert_eq!((s.customers, s.sources.len()), (5, 2));
    assert_eq!(s.sources[0].name, "customers-a");
    assert_eq!((s.sources[1].name.as_str(), s.sources[1].customers), ("customers-b", 3));
}

#[test]
fn a_source_down_keeps_its_last_load() {
    let a = Fake::new(vec![row(1, "a1", "89160000011", "", now())]);
    let b = Fake::new(vec![row(1, "b1", "89160000012", "", now())]);
    let index = two_sources(&a, &b);
    load_all(&index);
    b.down.store(true, Ordering::SeqCst);
    let part = &index.later()[0];
    let e = part.refresh_full().expect_err("down");
    assert!(!e.contains("fake-Secret-9") && e.contains("<hidden>"), "{e}");
    assert!(part.refresh_changed().is_err());
    // Its customers are still found; the other source is untouched.
    assert_eq!(who(&index, "89160000012"), (1, Some("b1".into())));
    assert_eq!(who(&index, "89160000011"), (1, Some("a1".into())));
    let s = index.status();
    assert!(s.loaded && !s.db_up);
    assert!(s.sources[0].up && !s.sources[1].up && s.sources[1].loaded);
    let (_, message) = s.sources[1].last_error.clone().expect("its error");
    assert!(message.contains("<hidden>") && !message.contains("fake-Secret-9"), "{message}");
    assert!(s.sources[1].since.is_some());
    // Back up: its changes are read again.
    b.down.store(false, Ordering::SeqCst);
    b.rows.lock().unwrap().push(row(2, "b2", "89160000013", "", t(2026, 6, 1, 12, 0, 1)));
    part.refresh_changed().expect("up again");
    assert_eq!(who(&index, "89160000013"), (1, Some("b2".into())));
    assert!(index.status().db_up);
}

#[test]
fn a_source_never_loaded_does_not_hide_the_others() {
    let a = Fake::new(vec![row(1, "a1", "89160000021", "", now())]);
    let b = Fake::new(vec![row(1, "b1", "89160000022", "", now())]);
    a.down.store(true, Ordering::SeqCst);
    let index = two_sources(&a, &b);
    assert!(index.refresh_full().is_err());
    assert_eq!(index.lookup("89160000022"), Err(IndexError::NotLoaded), "nothing loaded at all");
    index.later()[0].refresh_full().expect("b");
    // Found in the loaded source: that is the answer.
    assert_eq!(who(&index, "89160000022"), (1, Some("b1".into())));
    // Not found: the source never loaded may hold the caller, so no
    // "unknown caller" yet (the ticket waits in the spool for it).
    assert_eq!(index.lookup("89160000021"), Err(IndexError::NotLoaded));
    assert_eq!(index.lookup_sources("89160000021").map(|_| ()), Err(IndexError::NotLoaded));
    // An anonymous caller is anonymous whatever the sources hold.
    assert_eq!(index.lookup("anonymous").expect("answer").matches, 0);
    let s = index.status();
    assert!(s.loaded && !s.sources[0].loaded && s.sources[1].loaded);
    a.down.store(false, Ordering::SeqCst);
    index.refresh_changed().expect("a loads");
    assert_eq!(who(&index, "89160000021"), (1, Some("a1".into())));
    assert_eq!(who(&index, "89169999999"), (0, None));
}

#[test]
fn a_slow_source_never_delays_a_lookup() {
    let a = Fake::new(vec![row(1, "a1", "89160000031", "", now())]);
    let b = Fake::new(vec![row(1, "b1", "89160000032", "", now())]);
    let index = two_sources(&a, &b);
    load_all(&index);
    *b.slow.lock().unwrap() = Duration::from_millis(1500);
    let refreshers = start_refreshers(&index, Duration::from_millis(100), Duration::from_secs(3600), Duration::ZERO);
    // Wait until b's thread is inside its slow fetch.
    let before = b.fetches.load(Ordering::SeqCst);
    let until = Instant::now() + Duration::from_secs(5);
    while b.fetches.load(Ordering::SeqCst) == before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(b.fetches.load(Ordering::SeqCst) > before, "b's refresher never ran");
    let mut longest = Duration::ZERO;
    for _ in 0..200 {
        let t0 = Instant::now();
        assert_eq!(who(&index, "89160000032"), (1, Some("b1".into())));
        assert_eq!(who(&index, "89160000031"), (1, Some("a1".into())));
        longest = longest.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(longest < Duration::from_millis(50), "a lookup waited {longest:?} for a slow source");
    // a's thread went on meanwhile: its change is found while b is still slow.
    a.rows.lock().unwrap().push(row(2, "a2", "89160000033", "", t(2026, 6, 1, 12, 0, 2)));
    let until = Instant::now() + Duration::from_secs(3);
    while who(&index, "89160000033").0 == 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(who(&index, "89160000033"), (1, Some("a2".into())));
    let t0 = Instant::now();
    Refresher::stop_all(refreshers);
    // Stopping waits for b's fetch in progress, once, not once per thread.
    assert!(t0.elapsed() < Duration::from_millis(1700), "{:?}", t0.elapsed());
    assert_eq!(Arc::strong_count(&index), 1);
}

#[test]
fn a_source_without_change_times_is_only_reloaded_in_full() {
    let a = Fake::new(vec![row(1, "a1", "89160000041", "", None)]);
    a.incremental.store(false, Ordering::SeqCst);
    let index = Arc::new(CustomerIndex::with_source("customers", Box::new(FakeSource(Arc::clone(&a))), ru()));
    // Never loaded: the incremental pass loads it in full.
    index.refresh_changed().expect("first load");
    assert_eq!(a.fetches.load(Ordering::SeqCst), 1);
    a.rows.lock().unwrap().push(row(2, "a2", "89160000042", "", None));
    let stats = index.refresh_changed().expect("nothing to do");
    assert_eq!((stats.full, stats.rows), (false, 0));
    assert_eq!(a.fetches.load(Ordering::SeqCst), 1, "an incremental pass read the source");
    assert_eq!(who(&index, "89160000042"), (0, None));
    index.refresh_full().expect("full");
    assert_eq!(who(&index, "89160000042"), (1, Some("a2".into())));
}

#[test]
fn build_index_keeps_the_order_of_the_config() {
    let (c, warnings) = from_sections(&[
        general_with_db(),
        section(
            "customers-ad",
            &[("type", "ldap"), ("ldap_url", "ldaps://dc1.example.invalid"), ("base_dn", "dc=example,dc=invalid")],
        ),
        section("default", &[("queue", "Raw")]),
        section("customers-pg", &[("type", "postgresql"), ("dbuser", "otrs"), ("dbpass", "Pg-Secret-3")]),
    ])
    .expect("config");
    assert!(warnings.is_empty(), "{warnings:?}");
    let index = build_index(&c.customers, &ru());
    let names: Vec<String> = index.status().sources.iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, ["general", "customers-ad", "customers-pg"]);
    let kinds: Vec<String> = index.status().sources.iter().map(|s| s.kind.clone()).collect();
    assert_eq!(kinds, ["mysql", "ldap", "postgresql"]);
    let text = format!("{:?} {:?}", c, index.status());
    assert!(!text.contains("Pg-Secret-3") && !text.contains("Db-secret-2"), "{text}");
}

// ---- otrs.conf ----

fn section(name: &str, entries: &[(&str, &str)]) -> Section {
    Section { name: name.into(), entries: entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
}

fn general_with(db: bool) -> Section {
    let mut entries = vec![
        ("url", "http://127.0.0.1:8089/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
        ("user", "soapagent"),
        ("password", "Secret-pw-1"),
        ("unknown_customer", "unknown"),
    ];
    if db {
        entries.extend([("dbuser", "otrs"), ("dbpass", "Db-secret-2")]);
    }
    section("general", &entries)
}

fn general_with_db() -> Section {
    general_with(true)
}

fn parse(extra: &[Section]) -> Result<(crate::config::Config, Vec<String>), crate::config::ConfigError> {
    let mut all = vec![general_with(false), section("default", &[("queue", "Raw")])];
    all.extend(extra.iter().cloned());
    from_sections(&all)
}

#[test]
fn sources_need_a_type_and_their_own_options() {
    let e = parse(&[]).expect_err("no source at all");
    assert!(e.0.contains("'dbuser'") && e.0.contains("[customers]"), "{e}");
    let e = parse(&[section("customers", &[("dbuser", "x")])]).expect_err("no type");
    assert!(e.0.contains("'type'") && e.0.contains("[customers]"), "{e}");
    let e = parse(&[section("customers", &[("type", "oracle")])]).expect_err("unknown type");
    assert!(e.0.contains("'type'") && e.0.contains("oracle"), "{e}");
    let e = parse(&[section("customers", &[("type", "postgresql")])]).expect_err("no dbuser");
    assert!(e.0.contains("'dbuser'"), "{e}");
    let e = parse(&[section("customers", &[("type", "ldap"), ("base_dn", "dc=x")])]).expect_err("no url");
    assert!(e.0.contains("'ldap_url'"), "{e}");
    let e = parse(&[section("customers", &[("type", "ldap"), ("ldap_url", "ldap://x")])]).expect_err("no base");
    assert!(e.0.contains("'base_dn'"), "{e}");
    let dup = section("customers", &[("type", "postgresql"), ("dbuser", "x")]);
    let e = parse(&[dup.clone(), dup]).expect_err("twice");
    assert!(e.0.contains("twice"), "{e}");
}

#[test]
fn sql_sources_get_znunys_defaults_and_a_column_map() {
    let (c, warnings) =
        parse(&[section("customers", &[("type", "postgresql"), ("dbuser", "otrs"), ("dbhost", "pg.example.invalid")])])
            .expect("config");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.customers.len(), 1, "no [general] source without dbuser");
    let SourceKind::Postgres(pg, map) = &c.customers[0].kind else { panic!("{:?}", c.customers) };
    assert_eq!((pg.host.as_str(), pg.port, pg.name.as_str(), pg.sslmode), ("pg.example.invalid", 5432, "otrs", SslMode::Prefer));
    assert_eq!(map, &SqlMap::default());
    assert!(c.profile("customers").is_none(), "a source is not a ticket profile");

    let custom = section(
        "customers-crm",
        &[
            ("type", "mysql"),
            ("dbuser", "crm"),
            ("dbport", "3310"),
            ("table", "crm.people"),
            ("id_column", ""),
            ("login_column", "uname"),
            ("phone_columns", "work_tel, cell ,home_tel"),
            ("valid_column", ""),
            ("changed_column", "modified"),
            ("colour", "blue"),
        ],
    );
    let (c, warnings) = parse(&[custom]).expect("config");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("colour") && warnings[0].contains("[customers-crm]"), "{warnings:?}");
    let SourceKind::Mysql(db, map) = &c.customers[0].kind else { panic!() };
    assert_eq!((db.port, db.user.as_str()), (3310, "crm"));
    assert_eq!((map.table.as_str(), map.id.as_str(), map.login.as_str()), ("crm.people", "", "uname"));
    assert_eq!(map.phones, ["work_tel", "cell", "home_tel"]);
    assert_eq!((map.valid.as_str(), map.changed.as_str(), map.email.as_str()), ("", "modified", "email"));

    // Names go into SQL: only plain identifiers.
    for (key, value) in [
        ("table", "customer_user; DROP TABLE x"),
        ("login_column", "login`"),
        ("phone_columns", "phone, mobile)--"),
        ("changed_column", "\"change_time\""),
        ("table", "a.b.c"),
        ("email_column", "1email"),
    ] {
        let e = parse(&[section("customers", &[("type", "mysql"), ("dbuser", "x"), (key, value)])]).expect_err(value);
        assert!(e.0.contains(&format!("'{key}'")), "{key}={value}: {e}");
    }
    let e = parse(&[section("customers", &[("type", "postgresql"), ("dbuser", "x"), ("sslmode", "verify-full")])])
        .expect_err("sslmode");
    assert!(e.0.contains("'sslmode'"), "{e}");
}

#[test]
fn general_db_options_stay_the_first_source() {
    let mut all = vec![general_with_db(), section("default", &[("queue", "Raw")])];
    all.push(section("customers", &[("type", "postgresql"), ("dbuser", "otrs")]));
    let (c, _) = from_sections(&all).expect("config");
    assert_eq!(c.customers.len(), 2);
    assert_eq!(c.customers[0].name, "general");
    let SourceKind::Mysql(db, map) = &c.customers[0].kind else { panic!() };
    assert_eq!((db.host.as_str(), db.port, db.user.as_str(), db.password.as_str()), ("localhost", 3306, "otrs", "Db-secret-2"));
    assert_eq!(map, &SqlMap::default());
    assert_eq!(c.customers[1].name, "customers");
}

#[test]
fn ldap_options() {
    let ad = section(
        "customers-AD",
        &[
            ("type", "ldap"),
            ("ldap_url", "ldaps://dc1.example.invalid"),
            ("bind_dn", "CN=otrs-read,OU=Service,DC=example,DC=invalid"),
            ("bind_password", "Bind-Secret-4"),
            ("base_dn", "DC=example,DC=invalid"),
            ("filter", "(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"),
            ("login_attribute", "sAMAccountName"),
            ("customer_id", "EXAMPLE"),
            ("phone_attributes", "telephoneNumber, mobile, ipPhone, otherTelephone"),
            ("changed_attribute", "whenChanged"),
            ("page_size", "1000"),
        ],
    );
    let (c, warnings) = parse(&[ad]).expect("config");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.customers[0].name, "customers-ad");
    let SourceKind::Ldap(l) = &c.customers[0].kind else { panic!() };
    assert_eq!(l.scope, config::Scope::Sub);
    assert_eq!((l.login_attribute.as_str(), l.customer_id.as_deref()), ("sAMAccountName", Some("EXAMPLE")));
    assert_eq!(
        (l.first_name_attribute.as_str(), l.last_name_attribute.as_str(), l.email_attribute.as_str()),
        ("givenName", "sn", "mail")
    );
    assert_eq!(l.phone_attributes, ["telephoneNumber", "mobile", "ipPhone", "otherTelephone"]);
    assert_eq!((l.page_size, l.timeout, l.starttls), (1000, Duration::from_secs(10), false));
    let text = format!("{c:?}");
    assert!(!text.contains("Bind-Secret-4") && text.contains("<hidden>"), "{text}");
    let source = LdapSource::new(l.clone());
    assert_eq!(
        source.customer_filter(),
        "(&(sAMAccountName=*)(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2))))"
    );
    assert!(!source.describe().contains("Bind-Secret-4"));

    let base = [("type", "ldap"), ("ldap_url", "ldap://127.0.0.1:3389"), ("base_dn", "dc=example,dc=invalid")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut e = base.to_vec();
        e.extend_from_slice(extra);
        parse(&[section("customers", &e)])
    };
    let (c, _) = with(&[]).expect("minimal");
    let SourceKind::Ldap(l) = &c.customers[0].kind else { panic!() };
    // Znuny's LDAP example: uid, CustomerID from mail, telephonenumber, mobile.
    assert_eq!((l.login_attribute.as_str(), l.customer_id_attribute.as_str(), l.customer_id.as_deref()), ("uid", "mail", None));
    assert_eq!(l.phone_attributes, ["telephoneNumber", "mobile"]);
    assert_eq!((l.changed_attribute.as_str(), l.bind_dn.as_str()), ("modifyTimestamp", ""));
    assert_eq!(LdapSource::new(l.clone()).customer_filter(), "(uid=*)");
    for (extra, key) in [
        (&[("bind_dn", "cn=x")][..], "'bind_password'"),
        (&[("bind_password", "pw")][..], "'bind_dn'"),
        (&[("filter", "objectClass=person")][..], "'filter'"),
        (&[("filter", "(objectClass=person))(")][..], "'filter'"),
        (&[("filter", "(cn=a\r\n)")][..], "'filter'"),
        (&[("scope", "tree")][..], "'scope'"),
        (&[("page_size", "0")][..], "'page_size'"),
        (&[("login_attribute", "uid)(cn=*")][..], "'login_attribute'"),
        (&[("phone_attributes", "mobile, tel ephone")][..], "'phone_attributes'"),
        (&[("starttls", "maybe")][..], "'starttls'"),
    ] {
        let e = with(extra).expect_err(key);
        assert!(e.0.contains(key), "{extra:?}: {e}");
    }
    let e =
        parse(&[section("customers", &[("type", "ldap"), ("ldap_url", "ldaps://x"), ("base_dn", "dc=x"), ("starttls", "yes")])])
            .expect_err("starttls on ldaps");
    assert!(e.0.contains("'starttls'"), "{e}");
    let e = parse(&[section("customers", &[("type", "ldap"), ("ldap_url", "http://x"), ("base_dn", "dc=x")])]).expect_err("url");
    assert!(e.0.contains("'ldap_url'"), "{e}");
}

// ---- LDAP entries and times, without a server ----

#[test]
fn ldap_entries_become_rows() {
    let (c, _) = parse(&[section(
        "customers",
        &[
            ("type", "ldap"),
            ("ldap_url", "ldap://127.0.0.1:3389"),
            ("base_dn", "dc=example,dc=invalid"),
            ("phone_attributes", "telephoneNumber, mobile, homePhone"),
        ],
    )])
    .expect("config");
    let SourceKind::Ldap(l) = &c.customers[0].kind else { panic!() };
    let source = LdapSource::new(l.clone());
    let entry = |attrs: &[(&str, &[&str])]| ldap3::SearchEntry {
        dn: "uid=jdoe,ou=People,dc=example,dc=invalid".into(),
        attrs: attrs.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect(),
        bin_attrs: Default::default(),
    };
    let ten: Vec<String> = (0..10).map(|i| format!("+7 916 100-00-{i:02}")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let e = entry(&[
        ("UID", &["jdoe"]),
        ("givenName", &["Jo\u{7}hn\r\n"]),
        ("sn", &["Doe"]),
        ("mail", &["jdoe@example.invalid"]),
        ("telephoneNumber", &ten[..7]),
        ("mobile", &ten[7..]),
        ("modifyTimestamp", &["20261201194600Z"]),
    ]);
    let r = source.row(&e, true).expect("a row");
    assert_eq!(r.login, "jdoe", "attribute names are case-insensitive");
    assert_eq!((r.first_name.as_str(), r.last_name.as_str()), ("John", "Doe"), "control characters dropped");
    assert_eq!(r.customer_id, "jdoe@example.invalid", "CustomerID from mail, as Znuny's example");
    assert_eq!(r.more_phones.len(), 10);
    assert_eq!(r.id, text_id("UID=JDOE,ou=people,DC=example,DC=invalid"), "the DN's id ignores case");
    assert_eq!(r.change_time, ChangeTime::new(2026, 12, 1, 19, 46, 0, 0));
    let index = loaded(std::slice::from_ref(&r));
    for n in &ten {
        assert_eq!(who(&index, n), (1, Some("jdoe".into())), "{n}");
    }
    // No login: not a customer. A huge value is cut, not stored whole.
    assert!(source.row(&entry(&[("sn", &["Doe"])]), true).is_none());
    let long = "9".repeat(100_000);
    let r =
        source.row(&entry(&[("uid", &["x"]), ("sn", &[long.as_str()]), ("homePhone", &[long.as_str()])]), false).expect("row");
    assert!(r.last_name.len() <= 256 && r.more_phones[0].len() <= 512 && !r.valid);
}

#[test]
fn directory_times() {
    use super::ldap::{format_generalized_time, generalized_time};
    assert_eq!(generalized_time("20261201194600Z"), ChangeTime::new(2026, 12, 1, 19, 46, 0, 0));
    assert_eq!(generalized_time("20261201194600.0Z"), ChangeTime::new(2026, 12, 1, 19, 46, 0, 0));
    assert_eq!(generalized_time("20261201194600.25Z"), ChangeTime::new(2026, 12, 1, 19, 46, 0, 250_000));
    for bad in ["", "2026", "2026120119460xZ", "20261301194600Z", "garbage garbage"] {
        assert_eq!(generalized_time(bad), None, "{bad}");
    }
    let t0 = ChangeTime::new(2026, 12, 31, 23, 59, 58, 500_000).expect("time");
    assert_eq!(format_generalized_time(t0), "20261231235958Z");
    assert_eq!(shifted(t0, 2_000_000), ChangeTime::new(2027, 1, 1, 0, 0, 0, 500_000));
    assert_eq!(shifted(t0, -5_000_000), ChangeTime::new(2026, 12, 31, 23, 59, 53, 500_000));
    let leap = ChangeTime::new(2028, 3, 1, 0, 0, 1, 0).expect("time");
    assert_eq!(shifted(leap, -2_000_000), ChangeTime::new(2028, 2, 29, 23, 59, 59, 0));
    let epoch = ChangeTime::new(1970, 1, 1, 0, 0, 0, 0).expect("time");
    assert_eq!(shifted(epoch, 86_400_000_000 * 365), ChangeTime::new(1971, 1, 1, 0, 0, 0, 0));
}

#[test]
fn after_a_reload_the_previous_index_answers_until_the_new_one_has_loaded() {
    let old_src = Fake::new(vec![row(1, "known", "89160000031", "", now())]);
    let old = Arc::new(CustomerIndex::with_source("general", Box::new(FakeSource(Arc::clone(&old_src))), ru()));
    old.refresh_full().expect("old loads");
    // The new configuration points at a source that is down.
    let a = Fake::new(vec![row(1, "new-a", "89160000032", "", now())]);
    let b = Fake::new(vec![row(1, "new-b", "89160000033", "", now())]);
    a.down.store(true, Ordering::SeqCst);
    let new = two_sources(&a, &b);
    new.serve_meanwhile(&old);
    assert!(new.refresh_full().is_err());
    new.later()[0].refresh_full().expect("b loads");
    // One part loaded, the other not: what the loaded one knows comes from
    // it, a caller it does not know from the old customers, a caller nobody
    // knows waits (the unloaded source may have them).
    assert_eq!(who(&new, "89160000033"), (1, Some("new-b".into())));
    assert_eq!(who(&new, "89160000031"), (1, Some("known".into())));
    assert_eq!(new.lookup("89160000039"), Err(IndexError::NotLoaded));
    assert_eq!(new.lookup_sources("89160000031").expect("loaded").1[0].0, "general");
    assert_eq!(new.serving_previous(), Some(1));
    assert!(!new.drop_previous_if_loaded());
    // A second reload while the first has not loaded keeps the last load
    // that did, not a chain of unloaded ones.
    let newer = two_sources(&a, &b);
    newer.serve_meanwhile(&new);
    assert_eq!(who(&newer, "89160000031"), (1, Some("known".into())));
    // Once every part has loaded, the new index answers and lets the old go.
    a.down.store(false, Ordering::SeqCst);
    new.refresh_full().expect("a loads");
    assert_eq!(who(&new, "89160000031"), (0, None));
    assert_eq!(who(&new, "89160000032"), (1, Some("new-a".into())));
    assert!(new.drop_previous_if_loaded());
    assert_eq!(new.serving_previous(), None);
    assert_eq!(Arc::strong_count(&old), 2, "held by `newer` only besides the test");
}
