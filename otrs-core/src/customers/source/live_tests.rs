//! The LDAP and PostgreSQL sources against the project's real servers
//! (scripts/slapd.sh, scripts/postgres.sh; scripts/test.sh starts both and
//! runs these). Unset addresses are a failure, not a skip.

use std::process::Command;
use std::time::Duration;

use super::config::Scope;
use super::*;
use crate::customers::test_support::*;

const NEEDS: &str = "needs the project's slapd/PostgreSQL: scripts/test.sh";

/// The tests share one directory and one database and run in parallel: a
/// test that changes an entry for a while holds this exclusively, so a test
/// that counts entries never sees the change half-way.
static SERVERS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn reading() -> std::sync::RwLockReadGuard<'static, ()> {
    SERVERS.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn changing() -> std::sync::RwLockWriteGuard<'static, ()> {
    SERVERS.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn env(name: &str) -> String {
    let v = std::env::var(name).unwrap_or_default();
    assert!(
        !v.is_empty(),
        "{name} is not set. These tests need the project's slapd and PostgreSQL: run scripts/test.sh, \
         or start scripts/slapd.sh and scripts/postgres.sh and set OTRS_TEST_LDAP=127.0.0.1:3389, \
         OTRS_TEST_LDAPS=127.0.0.1:3636, OTRS_TEST_LDAP_CA=<slapd dir>/tls/ca.pem, \
         OTRS_TEST_PG=127.0.0.1:5433, OTRS_TEST_PG_CA=<postgres dir>/tls/ca.pem"
    );
    v
}

fn script(name: &str, args: &[&str], stdin: &str) {
    use std::io::Write;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/");
    let mut child = Command::new("bash")
        .arg(format!("{path}{name}"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    assert!(child.wait().expect("script").success(), "{name} {args:?} failed");
}

/// The test directory as an Active Directory site would configure it.
fn ad(url: &str) -> LdapSettings {
    LdapSettings {
        url: url.to_string(),
        starttls: false,
        bind_dn: "cn=otrs-reader,ou=Service,dc=helpdesk,dc=example".into(),
        bind_password: std::env::var("OTRS_LDAP_READER_PW").unwrap_or_else(|_| "reader-test-pw".into()),
        base_dn: "ou=People,dc=helpdesk,dc=example".into(),
        scope: Scope::Sub,
        filter: "(&(objectClass=inetOrgPerson)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))".into(),
        login_attribute: "sAMAccountName".into(),
        customer_id_attribute: String::new(),
        customer_id: Some("HELPDESK".into()),
        first_name_attribute: "givenName".into(),
        last_name_attribute: "sn".into(),
        email_attribute: "mail".into(),
        phone_attributes: vec!["telephoneNumber".into(), "mobile".into(), "ipPhone".into(), "otherTelephone".into()],
        changed_attribute: "modifyTimestamp".into(),
        page_size: 7,
        timeout: Duration::from_secs(5),
        tls_ca_file: None,
    }
}

fn ldap_index(settings: LdapSettings) -> CustomerIndex {
    CustomerIndex::with_source("customers-ad", Box::new(LdapSource::new(settings)), ru())
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn ldap_loads_the_whole_directory_in_pages() {
    let _servers = reading();
    let _ = NEEDS;
    let index = ldap_index(ad(&format!("ldap://{}", env("OTRS_TEST_LDAP"))));
    let stats = index.refresh_full().expect("full load");
    // 46 users, one disabled; the bind account's size limit is 20 and a
    // page 7, so only paging reads them all.
    assert_eq!((stats.rows, stats.customers), (45, 45), "{stats:?}");
    assert_eq!(who(&index, "89167001001"), (1, Some("ldap.ivanov".into())));
    assert_eq!(who(&index, "+79167001002"), (1, Some("ldap.both".into())));
    assert_eq!(who(&index, "89167001004"), (0, None), "a disabled account must not match");
    assert_eq!(who(&index, "+7 916 701 00 40"), (1, Some("filler.40".into())));
    // Ten numbers in four attributes, one an internal extension.
    for n in [
        "89167002001",
        "89167002002",
        "89167002003",
        "89167002004",
        "89167002005",
        "89167002006",
        "4501",
        "89167002007",
        "89167002008",
        "89167002009",
    ] {
        assert_eq!(who(&index, n), (1, Some("ldap.ten".into())), "{n}");
    }
    let l = index.lookup("89167003001").expect("loaded");
    let c = l.customer.expect("hostile entry");
    assert_eq!(c.login(), "ldap.hostile");
    assert!(!c.first_name().chars().any(char::is_control) && !c.last_name().chars().any(char::is_control), "{c:?}");
    assert_eq!(c.first_name(), "EveSet(CALLERID(name)=x)");
    assert_eq!(c.customer_id(), "HELPDESK");
    let l = index.lookup("89167001001").expect("loaded").customer.expect("ivanov");
    assert_eq!((l.full_name().as_str(), l.email()), ("Lev Ivanov", "ldap.ivanov@helpdesk.example"));
    // Unchanged directory: an incremental pass changes nothing.
    let stats = index.refresh_changed().expect("incremental");
    assert!(!stats.full && stats.changed == 0, "{stats:?}");
    assert!(index.status().db_up);
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn ldap_errors_are_clear_and_never_show_the_password() {
    let _servers = reading();
    let host = env("OTRS_TEST_LDAP");
    let wrong = LdapSettings { bind_password: "Wrong-Bind-Pw-7".into(), ..ad(&format!("ldap://{host}")) };
    let index = ldap_index(wrong);
    let e = index.refresh_full().expect_err("wrong password");
    assert!(e.contains("invalid credentials") && e.contains("cn=otrs-reader"), "{e}");
    assert!(!e.contains("Wrong-Bind-Pw-7"), "{e}");
    let (_, stored) = index.status().last_error.expect("recorded");
    assert!(!stored.contains("Wrong-Bind-Pw-7"), "{stored}");
    assert!(format!("{index:?}").find("Wrong-Bind-Pw-7").is_none());

    let base = LdapSettings { base_dn: "ou=Nobody,dc=helpdesk,dc=example".into(), ..ad(&format!("ldap://{host}")) };
    let e = ldap_index(base).refresh_full().expect_err("no such base");
    assert!(e.contains("no such object"), "{e}");

    // Nothing listens there: a quick, clear failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let t0 = std::time::Instant::now();
    let e = ldap_index(ad(&format!("ldap://127.0.0.1:{port}"))).refresh_full().expect_err("down");
    assert!(e.contains("cannot connect to the LDAP server"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn ldap_over_tls_checks_the_certificate() {
    let _servers = reading();
    let ca = env("OTRS_TEST_LDAP_CA");
    let ldaps = format!("ldaps://{}", env("OTRS_TEST_LDAPS"));
    let trusted = LdapSettings { tls_ca_file: Some(ca.clone()), ..ad(&ldaps) };
    assert_eq!(ldap_index(trusted).refresh_full().expect("ldaps").customers, 45);
    let starttls = LdapSettings { starttls: true, tls_ca_file: Some(ca), ..ad(&format!("ldap://{}", env("OTRS_TEST_LDAP"))) };
    assert_eq!(ldap_index(starttls).refresh_full().expect("starttls").customers, 45);
    // The test CA is in no system store: refused.
    let e = ldap_index(ad(&ldaps)).refresh_full().expect_err("untrusted");
    assert!(e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer"), "{e}");
}

/// Puts the entry back as seeded, even when the test fails.
struct Restore(&'static str);

impl Drop for Restore {
    fn drop(&mut self) {
        script("slapd.sh", &["modify"], self.0);
    }
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn ldap_incremental_follows_changes_and_disabled_accounts() {
    let _servers = changing();
    let index = ldap_index(ad(&format!("ldap://{}", env("OTRS_TEST_LDAP"))));
    index.refresh_full().expect("full load");
    assert_eq!(who(&index, "+79167010039"), (1, Some("filler.39".into())));
    let _restore = Restore(
        "dn: uid=filler.39,ou=People,dc=helpdesk,dc=example\nchangetype: modify\nreplace: telephoneNumber\n\
         telephoneNumber: +7 916 701 00 39\n-\nreplace: userAccountControl\nuserAccountControl: 512\n",
    );
    script(
        "slapd.sh",
        &["modify"],
        "dn: uid=filler.39,ou=People,dc=helpdesk,dc=example\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: 8 (916) 709-39-39\n",
    );
    let stats = index.refresh_changed().expect("incremental");
    assert!(!stats.full && stats.changed >= 1, "{stats:?}");
    assert_eq!(who(&index, "89167093939"), (1, Some("filler.39".into())));
    assert_eq!(who(&index, "+79167010039"), (0, None), "the old number is gone");
    // Disabled in AD's way: out of the filter, so out of the index at the
    // next incremental pass, not only at the next full one.
    script(
        "slapd.sh",
        &["modify"],
        "dn: uid=filler.39,ou=People,dc=helpdesk,dc=example\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n",
    );
    index.refresh_changed().expect("incremental");
    assert_eq!(who(&index, "89167093939"), (0, None), "disabled");
    script(
        "slapd.sh",
        &["modify"],
        "dn: uid=filler.39,ou=People,dc=helpdesk,dc=example\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n",
    );
    index.refresh_changed().expect("incremental");
    assert_eq!(who(&index, "89167093939"), (1, Some("filler.39".into())), "enabled again");
}

// ---- PostgreSQL ----

fn pg(map: SqlMap) -> (PgSettings, SqlMap) {
    let addr = env("OTRS_TEST_PG");
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let settings = PgSettings {
        host: host.into(),
        port: port.parse().expect("port"),
        name: "otrs".into(),
        user: "otrs".into(),
        password: std::env::var("OTRS_PG_PASS").unwrap_or_else(|_| "otrs-pg-test-pw".into()),
        sslmode: SslMode::Require,
        tls_ca_file: Some(env("OTRS_TEST_PG_CA")),
        connect_timeout: Duration::from_secs(3),
        query_timeout: Duration::from_secs(10),
    };
    (settings, map)
}

fn pg_index((settings, map): (PgSettings, SqlMap)) -> CustomerIndex {
    CustomerIndex::with_source("customers-pg", Box::new(PgSource::new(settings, map)), ru())
}

fn crm_map() -> SqlMap {
    SqlMap {
        table: "crm_contacts".into(),
        id: String::new(),
        login: "contact_key".into(),
        customer_id: "company".into(),
        first_name: "given".into(),
        last_name: "family".into(),
        email: "mail_addr".into(),
        phones: vec!["work_phone".into(), "cell_phone".into(), "home_phone".into()],
        valid: "active".into(),
        changed: "modified".into(),
    }
}

fn psql(sql: &str) {
    script("postgres.sh", &["sql"], sql);
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn pg_znuny_schema_over_tls() {
    let _servers = reading();
    let index = pg_index(pg(SqlMap::default()));
    let stats = index.refresh_full().expect("full load");
    assert!(stats.rows >= 3, "{stats:?}");
    assert_eq!(who(&index, "89168001001"), (1, Some("pg.petrova".into())));
    assert_eq!(who(&index, "+7 916 700-10-02"), (1, Some("pg.both".into())));
    assert_eq!(who(&index, "89168001002"), (0, None), "valid_id 2");
    let c = index.lookup("89168001001").expect("loaded").customer.expect("petrova");
    assert_eq!((c.full_name().as_str(), c.customer_id()), ("Polina Petrova", "PGCO"));
    index.refresh_changed().expect("incremental");
    assert_eq!(who(&index, "89168001001"), (1, Some("pg.petrova".into())));
    // Without TLS it works as well; an untrusted certificate does not.
    let (mut plain, map) = pg(SqlMap::default());
    plain.sslmode = SslMode::Disable;
    assert!(pg_index((plain, map)).refresh_full().is_ok());
    let (mut untrusted, map) = pg(SqlMap::default());
    untrusted.tls_ca_file = None;
    let e = pg_index((untrusted, map)).refresh_full().expect_err("untrusted");
    assert!(e.contains("certificate") || e.contains("UnknownIssuer"), "{e}");
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn pg_a_kept_connection_the_server_closed_is_replaced() {
    // Reads keep their connection for the next one; when the server has
    // closed it meanwhile (a restart, an idle timeout, an admin), the next
    // read runs on a new connection instead of failing.
    let _servers = changing();
    let index = pg_index(pg(SqlMap::default()));
    index.refresh_full().expect("full load");
    index.refresh_changed().expect("incremental, on the kept connection");
    psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'app_otrsticket' AND usename = 'otrs' AND pid <> pg_backend_pid();",
    );
    let stats = index.refresh_changed().expect("incremental after the server closed the kept connection");
    assert!(!stats.full, "{stats:?}");
    assert!(index.status().db_up);
    psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'app_otrsticket' AND usename = 'otrs' AND pid <> pg_backend_pid();",
    );
    index.refresh_full().expect("a full load after it as well");
    assert_eq!(who(&index, "89168001001"), (1, Some("pg.petrova".into())));
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn pg_wrong_password_is_clear() {
    let _servers = reading();
    let (mut s, map) = pg(SqlMap::default());
    s.password = "Wrong-Pg-Pw-8".into();
    let index = pg_index((s, map));
    let e = index.refresh_full().expect_err("wrong password");
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains("Wrong-Pg-Pw-8") && !format!("{index:?}").contains("Wrong-Pg-Pw-8"), "{e}");
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn pg_any_table_through_a_column_map() {
    let _servers = changing();
    let index = pg_index(pg(crm_map()));
    index.refresh_full().expect("full load");
    assert_eq!(who(&index, "89168002001"), (1, Some("crm.kim".into())));
    assert_eq!(who(&index, "89168002002"), (1, Some("crm.kim".into())), "the third phone column");
    assert_eq!(who(&index, "89168002003"), (0, None), "active = false");
    let c = index.lookup("89168002001").expect("loaded").customer.expect("kim");
    assert_eq!((c.full_name().as_str(), c.customer_id(), c.email()), ("Kim Crm", "CRMCO", "kim@crm.invalid"));

    struct Back;
    impl Drop for Back {
        fn drop(&mut self) {
            psql(
                "UPDATE crm_contacts SET work_phone = '8 916 800 20 01', active = true WHERE contact_key = 'crm.kim';\n\
                  UPDATE crm_contacts SET active = false WHERE contact_key = 'crm.gone';",
            );
        }
    }
    let _back = Back;
    psql(
        "UPDATE crm_contacts SET work_phone = '8 916 809 99 99', modified = now() WHERE contact_key = 'crm.kim';\n\
          UPDATE crm_contacts SET active = true, modified = now() WHERE contact_key = 'crm.gone';",
    );
    index.refresh_changed().expect("incremental (timestamp with time zone)");
    assert_eq!(who(&index, "89168099999"), (1, Some("crm.kim".into())));
    assert_eq!(who(&index, "89168002001"), (0, None));
    assert_eq!(who(&index, "89168002003"), (1, Some("crm.gone".into())), "made active");
}

#[test]
#[ignore = "needs the project's slapd/PostgreSQL: scripts/test.sh"]
fn ldap_then_pg_the_directory_wins() {
    let _servers = reading();
    let second = pg_index(pg(SqlMap::default()));
    let first = ldap_index(ad(&format!("ldap://{}", env("OTRS_TEST_LDAP")))).followed_by(vec![std::sync::Arc::new(second)]);
    first.refresh_full().expect("ldap");
    first.later()[0].refresh_full().expect("pg");
    assert_eq!(who(&first, "89167001002"), (2, Some("ldap.both".into())));
    assert_eq!(who(&first, "89168001001"), (1, Some("pg.petrova".into())));
    let (_, all) = first.lookup_sources("89167001002").expect("loaded");
    let got: Vec<(&str, &str)> = all.iter().map(|(s, c)| (s.as_str(), c.login())).collect();
    assert_eq!(got, [("customers-ad", "ldap.both"), ("customers-pg", "pg.both")]);
}
