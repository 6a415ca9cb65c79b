//! The OTRS database: where it is and the rows of `customer_user`. The SQL
//! that reads them is in `source/mysql.rs` (any table, any column names).

use std::fmt;
use std::time::Duration;

use mysql::{Opts, OptsBuilder, Value};

/// Where the OTRS database is.
#[derive(Clone, PartialEq, Eq)]
pub struct DbSettings {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: String,
    /// A Unix socket path; used instead of host/port when set (non-empty).
    pub socket: Option<String>,
    /// TCP connect timeout. Zero means the default (5 s): a zero socket
    /// timeout is an error in std, and "no timeout" could hang a refresh.
    pub connect_timeout: Duration,
    /// Read and write timeout of each network operation. Zero means the
    /// default (10 s), as above.
    pub query_timeout: Duration,
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for DbSettings {
    fn default() -> Self {
        DbSettings {
            host: "127.0.0.1".to_string(),
            port: 3306,
            name: "otrs".to_string(),
            user: "otrs".to_string(),
            password: String::new(),
            socket: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }
}

/// Written by hand so that the password never reaches a log.
impl fmt::Debug for DbSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = if self.password.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("DbSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("name", &self.name)
            .field("user", &self.user)
            .field("password", &password)
            .field("socket", &self.socket)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

impl DbSettings {
    /// Connection options for the `mysql` crate.
    pub fn opts(&self) -> Opts {
        let nonzero = |d: Duration, default: Duration| if d.is_zero() { default } else { d };
        let query_timeout = nonzero(self.query_timeout, DEFAULT_QUERY_TIMEOUT);
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let mut builder = OptsBuilder::new()
            .user(non_empty(&self.user))
            .pass(non_empty(&self.password))
            .db_name(non_empty(&self.name))
            .tcp_port(self.port)
            .tcp_connect_timeout(Some(nonzero(self.connect_timeout, DEFAULT_CONNECT_TIMEOUT)))
            .read_timeout(Some(query_timeout))
            .write_timeout(Some(query_timeout));
        if let Some(socket) = self.socket.as_deref().filter(|s| !s.is_empty()) {
            builder = builder.socket(Some(socket));
        }
        if !self.host.is_empty() {
            // The crate would otherwise ask a loopback server for its socket
            // and reconnect there, ignoring the host and port configured.
            builder = builder.ip_or_hostname(Some(self.host.clone())).prefer_socket(false);
        }
        Opts::from(builder)
    }

    /// Where we connect, for messages (no credentials).
    pub(super) fn target(&self) -> String {
        match self.socket.as_deref().filter(|s| !s.is_empty()) {
            Some(socket) => format!("{socket} (database {})", self.name),
            None => format!("{}:{} (database {})", self.host, self.port, self.name),
        }
    }

    /// Belt and braces: MariaDB errors do not echo the password, but an error
    /// must never carry it, whatever the driver puts in it.
    pub(super) fn scrub(&self, message: String) -> String {
        if self.password.is_empty() {
            message
        } else {
            message.replace(&self.password, "<hidden>")
        }
    }
}

/// `change_time` of a row: the DATETIME's parts, compared as they are. OTRS
/// writes it in the database's own clock and zone and we only ever compare it
/// with other values from the same column, so no time zone is involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ChangeTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
}

impl ChangeTime {
    pub(super) fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, micros: u32) -> Option<Self> {
        // MariaDB's zero date and out-of-range parts say "no time".
        let valid = year > 0
            && (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60
            && micros < 1_000_000;
        valid.then_some(ChangeTime { year, month, day, hour, minute, second, micros })
    }

    /// From a DATETIME column: `Value::Date` in the binary protocol, text
    /// (`YYYY-MM-DD HH:MM:SS[.ffffff]`) in the text protocol.
    pub(super) fn from_value(value: Option<&Value>) -> Option<Self> {
        match value? {
            Value::Date(y, mo, d, h, mi, s, us) => ChangeTime::new(*y, *mo, *d, *h, *mi, *s, *us),
            Value::Bytes(bytes) => ChangeTime::parse(std::str::from_utf8(bytes).ok()?),
            _ => None,
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
        let mut d = date.splitn(3, '-');
        let year = d.next()?.parse().ok()?;
        let month = d.next()?.parse().ok()?;
        let day = d.next()?.parse().ok()?;
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.splitn(3, ':');
        let hour = t.next()?.parse().ok()?;
        let minute = t.next()?.parse().ok()?;
        let second = t.next()?.parse().ok()?;
        let micros = if frac.is_empty() {
            0
        } else {
            // ".5" is 500000 µs: pad to six digits; more than six is nonsense.
            if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            format!("{frac:0<6}").parse().ok()?
        };
        ChangeTime::new(year, month, day, hour, minute, second, micros)
    }

    /// Its parts: year, month, day, hour, minute, second, microseconds.
    pub(super) fn parts(self) -> (u16, u8, u8, u8, u8, u8, u32) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros)
    }

    pub(super) fn to_value(self) -> Value {
        Value::Date(self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros)
    }
}

/// One `customer_user` row, as read (the SQL-free input of the index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CustomerRow {
    pub(crate) id: u64,
    pub(crate) login: String,
    pub(crate) customer_id: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) mobile: String,
    /// Further phone fields (phone_columns / phone_attributes beyond two, each
    /// value of a multi-valued LDAP attribute), each split like `phone`.
    pub(crate) more_phones: Vec<String>,
    pub(crate) change_time: Option<ChangeTime>,
    /// `valid_id = 1`
    pub(crate) valid: bool,
}

/// The columns read, in this order, by both queries.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const COLUMNS: &str = "id, login, customer_id, first_name, last_name, email, phone, mobile, change_time, valid_id";

impl CustomerRow {
    /// `None` for a row without a usable id or login (it could not be given
    /// to OTRS as a customer anyway). Never panics on what the database holds:
    /// NULLs become "", bytes that are not UTF-8 are replaced.
    /// `cell(i)` is column `i` of [`COLUMNS`]; `None` for a missing column.
    pub(super) fn from_cells<'a>(cell: impl Fn(usize) -> Option<&'a Value>) -> Option<Self> {
        let text = |i: usize| value_text(cell(i));
        let id = value_u64(cell(0))?;
        let login = text(1);
        if login.is_empty() {
            return None;
        }
        Some(CustomerRow {
            id,
            login,
            customer_id: text(2),
            first_name: text(3),
            last_name: text(4),
            email: text(5),
            phone: text(6),
            mobile: text(7),
            more_phones: Vec::new(),
            change_time: ChangeTime::from_value(cell(8)),
            valid: value_u64(cell(9)) == Some(1),
        })
    }
}

pub(super) fn value_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::Bytes(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::Int(n)) => n.to_string(),
        Some(Value::UInt(n)) => n.to_string(),
        _ => String::new(),
    }
}

pub(super) fn value_u64(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::UInt(n) => Some(*n),
        Value::Bytes(bytes) => std::str::from_utf8(bytes).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// `change_time` as one integer in the same order, to the second (OTRS's
/// columns hold seconds: DATETIME, timestamp(0)); 0 for none, which sorts
/// before (loses to) every real time. Seconds since 1970 plus one, clamped
/// to 32 bits (1970 to 2106): 4 bytes per customer, not 8.
pub(super) fn time_key(t: Option<ChangeTime>) -> u32 {
    let Some(t) = t else { return 0 };
    let (y, mo, d, h, mi, s, _) = t.parts();
    // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    // days_from_civil).
    let (y, m) = (i64::from(y) - i64::from(mo <= 2), i64::from(mo));
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + i64::from(d) - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    (secs.clamp(0, i64::from(u32::MAX) - 1) + 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::test_support::*;
    use crate::customers::CustomerIndex;

    #[test]
    fn debug_hides_password() {
        let db = DbSettings { password: "s3cret-pw".into(), ..DbSettings::default() };
        let text = format!("{db:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(text.contains("<hidden>"));
        let index = CustomerIndex::new(db.clone(), ru());
        assert!(!format!("{index:?}").contains("s3cret-pw"));
        assert_eq!(db.scrub("user x, pw s3cret-pw".into()), "user x, pw <hidden>");
    }

    #[test]
    fn opts_from_settings() {
        let db = DbSettings {
            host: "db.example.invalid".into(),
            port: 3307,
            name: "otrs".into(),
            user: "otrs".into(),
            password: "pw".into(),
            socket: None,
            connect_timeout: Duration::from_secs(3),
            query_timeout: Duration::ZERO,
        };
        let o = db.opts();
        assert_eq!(o.get_ip_or_hostname(), "db.example.invalid");
        assert_eq!(o.get_tcp_port(), 3307);
        assert_eq!(o.get_user(), Some("otrs"));
        assert_eq!(o.get_pass(), Some("pw"));
        assert_eq!(o.get_db_name(), Some("otrs"));
        assert_eq!(o.get_tcp_connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(o.get_read_timeout(), Some(&DEFAULT_QUERY_TIMEOUT));
        assert_eq!(o.get_write_timeout(), Some(&DEFAULT_QUERY_TIMEOUT));
        assert!(!o.get_prefer_socket());
        assert_eq!(o.get_socket(), None);

        let s = DbSettings { host: String::new(), socket: Some("/run/mysqld/mysqld.sock".into()), ..db };
        let o = s.opts();
        assert_eq!(o.get_socket(), Some("/run/mysqld/mysqld.sock"));
        assert!(s.target().contains("/run/mysqld/mysqld.sock"));
        let e = DbSettings { socket: Some(String::new()), ..DbSettings::default() };
        assert_eq!(e.opts().get_socket(), None);
    }

    #[test]
    fn change_time_values() {
        let a = ChangeTime::from_value(Some(&Value::Date(2024, 1, 1, 10, 0, 0, 0)));
        assert_eq!(a, t(2024, 1, 1, 10, 0, 0));
        let b = ChangeTime::from_value(Some(&Value::Bytes(b"2024-01-01 10:00:00".to_vec())));
        assert_eq!(a, b);
        let c = ChangeTime::from_value(Some(&Value::Bytes(b"2024-01-01 10:00:00.5".to_vec())));
        assert_eq!(c, ChangeTime::new(2024, 1, 1, 10, 0, 0, 500_000));
        assert!(c > a);
        for bad in [
            Value::NULL,
            Value::Int(5),
            Value::Date(0, 0, 0, 0, 0, 0, 0),
            Value::Date(2024, 13, 1, 0, 0, 0, 0),
            Value::Bytes(b"0000-00-00 00:00:00".to_vec()),
            Value::Bytes(b"garbage".to_vec()),
            Value::Bytes(b"2024-01-01 10:00:00.1234567".to_vec()),
            Value::Bytes(vec![0xff, 0xfe]),
        ] {
            assert_eq!(ChangeTime::from_value(Some(&bad)), None, "{bad:?}");
        }
        assert_eq!(ChangeTime::from_value(None), None);
        // Ordering follows time, and None sorts before every time.
        assert!(t(2025, 6, 1, 10, 0, 0) > t(2024, 12, 31, 23, 59, 59));
        assert!(None < t(1970, 1, 1, 0, 0, 0));
    }

    #[test]
    fn row_from_db_values() {
        let from = |values: &[Value]| CustomerRow::from_cells(|i| values.get(i));
        let good = [
            Value::Int(7),
            Value::Bytes(b"office1".to_vec()),
            Value::NULL,
            Value::Bytes("Мария".as_bytes().to_vec()),
            Value::Bytes(vec![b'A', 0xff]),
            Value::NULL,
            Value::Bytes(b"+7 495 123-45-67".to_vec()),
            Value::NULL,
            Value::Date(2024, 1, 1, 10, 0, 0, 0),
            Value::Int(1),
        ];
        let r = from(&good).expect("a good row");
        assert_eq!(r.id, 7);
        assert_eq!(r.login, "office1");
        assert_eq!(r.customer_id, "");
        assert_eq!(r.first_name, "Мария");
        assert_eq!(r.last_name, "A\u{fffd}");
        assert_eq!(r.phone, "+7 495 123-45-67");
        assert_eq!(r.mobile, "");
        assert_eq!(r.change_time, t(2024, 1, 1, 10, 0, 0));
        assert!(r.valid);
        // Text protocol shapes; valid_id 2.
        let text = [
            Value::Bytes(b"8".to_vec()),
            Value::Bytes(b"x".to_vec()),
            Value::NULL,
            Value::NULL,
            Value::NULL,
            Value::NULL,
            Value::Int(89161229624),
            Value::NULL,
            Value::Bytes(b"2025-06-01 10:00:00".to_vec()),
            Value::Bytes(b"2".to_vec()),
        ];
        let r = from(&text).expect("a text row");
        assert_eq!(r.id, 8);
        assert_eq!(r.phone, "89161229624");
        assert_eq!(r.change_time, t(2025, 6, 1, 10, 0, 0));
        assert!(!r.valid);
        // No id, negative id, empty login: skipped, no panic.
        let mut bad = vec![Value::NULL; 10];
        bad[1] = Value::Bytes(b"x".to_vec());
        assert_eq!(from(&bad), None);
        bad[0] = Value::Int(-1);
        assert_eq!(from(&bad), None);
        bad[0] = Value::Double(1.0);
        assert_eq!(from(&bad), None);
        bad[0] = Value::Int(1);
        bad[1] = Value::Bytes(Vec::new());
        assert_eq!(from(&bad), None);
        // Too few columns: what is there is used, the rest is empty/invalid.
        let r = from(&[Value::UInt(1), Value::Bytes(b"y".to_vec())]).expect("id and login");
        assert!(!r.valid && r.change_time.is_none());
        assert_eq!(from(&[]), None);
    }

    #[test]
    fn time_key_keeps_order() {
        let times = [
            None,
            t(1969, 12, 31, 23, 59, 59),
            t(1970, 1, 1, 0, 0, 1),
            t(2000, 2, 29, 12, 0, 0),
            t(2000, 3, 1, 0, 0, 0),
            t(2024, 12, 31, 23, 59, 59),
            t(2025, 1, 1, 0, 0, 0),
            t(2025, 6, 1, 10, 0, 0),
            t(2106, 1, 1, 0, 0, 0),
            t(9999, 12, 31, 23, 59, 59),
        ];
        for w in times.windows(2) {
            assert!(time_key(w[0]) < time_key(w[1]), "{w:?}");
        }
        assert_eq!(time_key(None), 0);
        // Seconds since 1970, plus one.
        assert_eq!(time_key(t(1970, 1, 1, 0, 0, 0)), 1);
        assert_eq!(time_key(t(2025, 1, 1, 0, 0, 0)), 1_735_689_601);
        assert_eq!(time_key(ChangeTime::new(2025, 1, 1, 0, 0, 0, 999_999)), 1_735_689_601);
        assert_eq!(time_key(t(1900, 1, 1, 0, 0, 0)), 1);
        assert_eq!(time_key(t(9999, 1, 1, 0, 0, 0)), u32::MAX);
    }
}
