//! Helpers shared by the tests of the customer index: sample rows, an
//! index loaded without a database, and scratch rows in the test MariaDB.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts};

use super::db::{ChangeTime, CustomerRow, DbSettings};
use super::index::Index;
use super::{CustomerIndex, RefreshStats};
use crate::number::NumberPlan;

pub(super) fn ru() -> NumberPlan {
    NumberPlan {
        country_code: "7".into(),
        national_prefix: "8".into(),
        international_prefixes: vec!["00".into(), "810".into()],
        national_number_length: Some(10),
    }
}

pub(super) fn t(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> Option<ChangeTime> {
    ChangeTime::new(y, mo, d, h, mi, s, 0)
}

pub(super) fn row(id: u64, login: &str, phone: &str, mobile: &str, change_time: Option<ChangeTime>) -> CustomerRow {
    CustomerRow {
        id,
        login: login.into(),
        customer_id: "ACME".into(),
        first_name: format!("First{id}"),
        last_name: format!("Last{id}"),
        email: format!("{login}@example.invalid"),
        phone: phone.into(),
        mobile: mobile.into(),
        more_phones: Vec::new(),
        change_time,
        valid: true,
    }
}

/// An index loaded from `rows` without a database (the DB is never used).
pub(super) fn loaded(rows: &[CustomerRow]) -> CustomerIndex {
    loaded_from(DbSettings::default(), rows)
}

/// As [`loaded`], with `db` as its database (for a refresher to fail on).
pub(super) fn loaded_from(db: DbSettings, rows: &[CustomerRow]) -> CustomerIndex {
    let index = CustomerIndex::new(db, ru());
    index.install(Index::from_rows(rows.iter().cloned(), &ru()), rows.len(), Instant::now());
    index
}

pub(super) fn update(index: &CustomerIndex, rows: &[CustomerRow]) -> RefreshStats {
    index.apply_changes(rows, Instant::now())
}

pub(super) fn who(index: &CustomerIndex, number: &str) -> (usize, Option<String>) {
    let l = index.lookup(number).expect("loaded");
    (l.matches, l.customer.map(|c| c.login().to_string()))
}

/// The sample customers of tests/sql/customers.sql, as rows.
pub(super) fn samples() -> Vec<CustomerRow> {
    let now = t(2026, 1, 1, 12, 0, 0);
    vec![
        row(1, "ivanov", "89161229624", "", now),
        row(2, "petrov", "+7 (916) 555-12-34", "", now),
        row(3, "sidorova", "8 916 777 0011", "+79165550000", now),
        row(4, "orlova", "", "9031234567", now),
        row(5, "smith", "+44 20 7946 0958", "", now),
        row(7, "office1", "+7 495 123-45-67", "", t(2024, 1, 1, 10, 0, 0)),
        row(8, "office2", "8 (495) 123 45 67", "", t(2025, 6, 1, 10, 0, 0)),
        row(9, "ivanova", "00 7 916 888 99 00", "", now),
        row(10, "unknown", "", "", now),
    ]
}

/// A small deterministic generator for the randomised tests.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A port nothing listens on (bound for a moment to get a free one, then
/// closed): connects fail at once with "connection refused".
pub(super) fn dead_db() -> DbSettings {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
    DbSettings {
        host: "127.0.0.1".into(),
        port,
        password: "never-shown-pw".into(),
        connect_timeout: Duration::from_secs(1),
        query_timeout: Duration::from_secs(1),
        ..DbSettings::default()
    }
}

// ---- Against a real MariaDB (scripts/mariadb.sh) ----

/// The test database, from OTRS_TEST_DB. Unset is a failure, not a skip:
/// a green run must mean the SQL was tested.
pub(super) fn test_db() -> DbSettings {
    let url = std::env::var("OTRS_TEST_DB").unwrap_or_default();
    assert!(
        !url.is_empty(),
        "OTRS_TEST_DB is not set. These tests need the project's MariaDB with the sample \
         customers: start it with scripts/mariadb.sh (or run the project's test script, which \
         does) and set OTRS_TEST_DB=mysql://otrs:otrs-test-pw@127.0.0.1:3307/otrs"
    );
    let opts = Opts::from_url(&url).unwrap_or_else(|e| panic!("OTRS_TEST_DB is not a mysql:// URL: {e}"));
    DbSettings {
        host: opts.get_ip_or_hostname().to_string(),
        port: opts.get_tcp_port(),
        name: opts.get_db_name().unwrap_or("otrs").to_string(),
        user: opts.get_user().unwrap_or("").to_string(),
        password: opts.get_pass().unwrap_or("").to_string(),
        socket: opts.get_socket().map(str::to_string),
        connect_timeout: Duration::from_secs(5),
        query_timeout: Duration::from_secs(10),
    }
}

/// Scratch rows of one test, deleted at the start (leftovers of an aborted
/// run) and when dropped (even if the test fails).
pub(super) struct Scratch {
    conn: Conn,
    prefix: String,
}

impl Scratch {
    pub(super) fn new(db: &DbSettings, prefix: &str) -> Scratch {
        let conn = Conn::new(db.opts()).expect("connect to OTRS_TEST_DB");
        let mut s = Scratch { conn, prefix: format!("{prefix}_") };
        s.clean();
        s
    }

    fn clean(&mut self) {
        let like = format!("{}%", self.prefix);
        self.conn.exec_drop("DELETE FROM customer_user WHERE login LIKE ?", (like,)).expect("delete scratch rows");
    }

    pub(super) fn login(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub(super) fn insert(&mut self, name: &str, phone: &str, mobile: Option<&str>, change_time: Option<&str>) {
        let login = self.login(name);
        self.conn
            .exec_drop(
                "INSERT INTO customer_user (login, email, customer_id, first_name, last_name, phone, mobile, \
                 valid_id, create_time, create_by, change_time, change_by) \
                 VALUES (?, ?, 'ACME', 'Test', ?, ?, ?, 1, NOW(), 1, COALESCE(?, NOW()), 1)",
                (&login, format!("{login}@example.invalid"), name, phone, mobile, change_time),
            )
            .expect("insert scratch row");
    }

    pub(super) fn exec(&mut self, sql: &str, name: &str) {
        let login = self.login(name);
        self.conn.exec_drop(sql, (login,)).expect("update scratch row");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let like = format!("{}%", self.prefix);
        let _ = self.conn.exec_drop("DELETE FROM customer_user WHERE login LIKE ?", (like,));
    }
}
