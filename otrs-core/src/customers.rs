//! The OTRS customers, indexed by phone number, free of Asterisk.
//!
//! A call must cost the same at 100 000 customers as at 10, and must not wait
//! for the database. So the module keeps every valid customer's numbers in
//! memory, keyed by [`canonical`] form: a call does one hash lookup and no
//! SQL. A background thread ([`start_refresher`]) loads the index from
//! `customer_user` and keeps it fresh:
//!
//! - a full reload builds a new index off to the side and swaps it in whole;
//!   it also catches deleted rows, which leave no trace an incremental pass
//!   could see;
//! - in between, an incremental pass reads only the rows whose `change_time`
//!   is at or after the newest one seen (minus [`CHANGE_TIME_SLACK_SECS`], for
//!   transactions that commit a little after they stamp the row) and replaces
//!   those customers' entries, on a copy, swapped in the same way.
//!
//! Lookups take a read lock only long enough to clone an `Arc`, so they never
//! wait for the database or for an index being built.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Row, Value};

use crate::number::{canonical, NumberPlan};

/// An OTRS customer user, as needed to open a ticket for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    pub login: String,
    pub customer_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

impl Customer {
    /// "First Last", without stray spaces when a part is empty.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name.trim(), self.last_name.trim())
            .trim()
            .to_string()
    }
}

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
            builder = builder
                .ip_or_hostname(Some(self.host.clone()))
                .prefer_socket(false);
        }
        Opts::from(builder)
    }

    /// Where we connect, for messages (no credentials).
    fn target(&self) -> String {
        match self.socket.as_deref().filter(|s| !s.is_empty()) {
            Some(socket) => format!("{socket} (database {})", self.name),
            None => format!("{}:{} (database {})", self.host, self.port, self.name),
        }
    }

    /// Belt and braces: MariaDB errors do not echo the password, but an error
    /// must never carry it, whatever the driver puts in it.
    fn scrub(&self, message: String) -> String {
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
    fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, micros: u32) -> Option<Self> {
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
    fn from_value(value: Option<&Value>) -> Option<Self> {
        match value? {
            Value::Date(y, mo, d, h, mi, s, us) => ChangeTime::new(*y, *mo, *d, *h, *mi, *s, *us),
            Value::Bytes(bytes) => ChangeTime::parse(std::str::from_utf8(bytes).ok()?),
            _ => None,
        }
    }

    fn parse(text: &str) -> Option<Self> {
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

    fn to_value(self) -> Value {
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
    pub(crate) change_time: Option<ChangeTime>,
    /// `valid_id = 1`
    pub(crate) valid: bool,
}

/// The columns read, in this order, by both queries.
const COLUMNS: &str =
    "id, login, customer_id, first_name, last_name, email, phone, mobile, change_time, valid_id";

impl CustomerRow {
    /// `None` for a row without a usable id or login (it could not be given
    /// to OTRS as a customer anyway). Never panics on what the database holds:
    /// NULLs become "", bytes that are not UTF-8 are replaced.
    fn from_mysql(row: &Row) -> Option<Self> {
        CustomerRow::from_cells(|i| row.as_ref(i))
    }

    /// `cell(i)` is column `i` of [`COLUMNS`]; `None` for a missing column.
    fn from_cells<'a>(cell: impl Fn(usize) -> Option<&'a Value>) -> Option<Self> {
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
            change_time: ChangeTime::from_value(cell(8)),
            valid: value_u64(cell(9)) == Some(1),
        })
    }
}

fn value_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::Bytes(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::Int(n)) => n.to_string(),
        Some(Value::UInt(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn value_u64(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::UInt(n) => Some(*n),
        Value::Bytes(bytes) => std::str::from_utf8(bytes).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A piece of a field with fewer digits than this is not a number of its own
/// when the field also holds longer ones: it is an extension (`, доб. 12`), a
/// shorthand (`.../25`), or, before a `/`, an area code (`030/1234567`).
const MIN_NUMBER_DIGITS: usize = 5;

fn digit_count(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

/// The numbers written in one `phone` or `mobile` field; several are
/// separated by `,`, `;` or `/` (`8 916 ..., 8 495 ...`).
///
/// The field is cut at `,` and `;`; each item is cut again at `/` unless its
/// first piece is short (then the `/` is inside one number: `030/1234567`).
/// Pieces without digits are dropped, and if any piece has at least
/// [`MIN_NUMBER_DIGITS`] digits, the shorter ones are dropped too.
pub(crate) fn split_numbers(field: &str) -> Vec<&str> {
    let mut pieces: Vec<&str> = Vec::new();
    for item in field.split([',', ';']) {
        let parts: Vec<&str> = item.split('/').filter(|p| digit_count(p) > 0).collect();
        match parts.first() {
            Some(first) if parts.len() > 1 && digit_count(first) < MIN_NUMBER_DIGITS => pieces.push(item),
            _ => pieces.extend(parts),
        }
    }
    if pieces.iter().any(|p| digit_count(p) >= MIN_NUMBER_DIGITS) {
        pieces.retain(|p| digit_count(p) >= MIN_NUMBER_DIGITS);
    }
    pieces
}

/// The distinct canonical numbers of a row: a number in both `phone` and
/// `mobile`, or twice in one field, counts once.
fn row_keys(row: &CustomerRow, plan: &NumberPlan) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for field in [&row.phone, &row.mobile] {
        for piece in split_numbers(field) {
            if let Some(key) = canonical(piece, plan) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

/// One customer under one number.
#[derive(Clone, Debug)]
struct Entry {
    id: u64,
    change_time: Option<ChangeTime>,
    customer: Arc<Customer>,
}

impl Entry {
    /// Order within a number: most recently changed first, then smaller id.
    /// (`None`, a missing change_time, sorts after every real time.)
    fn rank(&self) -> (Reverse<Option<ChangeTime>>, u64) {
        (Reverse(self.change_time), self.id)
    }
}

/// What is indexed for one customer, to remove or compare it later.
#[derive(Clone, Debug)]
struct Record {
    login: String,
    phone: String,
    mobile: String,
    change_time: Option<ChangeTime>,
    keys: Vec<String>,
    customer: Arc<Customer>,
}

impl Record {
    fn same_as(&self, row: &CustomerRow) -> bool {
        let c = &*self.customer;
        self.login == row.login
            && self.phone == row.phone
            && self.mobile == row.mobile
            && self.change_time == row.change_time
            && c.customer_id == row.customer_id
            && c.first_name == row.first_name
            && c.last_name == row.last_name
            && c.email == row.email
    }
}

/// The index proper. Immutable once published; changes are made on a copy.
#[derive(Clone, Debug, Default)]
struct Index {
    /// canonical number -> customers with it, best first (see [`Entry::rank`]).
    numbers: HashMap<String, Vec<Entry>>,
    /// customer_user.id -> what was indexed for it.
    records: HashMap<u64, Record>,
    /// login -> id; a login is unique, so a row with a known login but a new
    /// id (deleted and re-created) replaces the old one.
    logins: HashMap<String, u64>,
    /// Newest change_time seen: where the next incremental pass starts.
    max_change: Option<ChangeTime>,
}

impl Index {
    /// Builds an index from a full read. Each number's list is sorted once at
    /// the end: inserting in order would be quadratic when thousands of
    /// customers share an office number.
    fn from_rows(rows: &[CustomerRow], plan: &NumberPlan) -> Index {
        let mut index = Index::default();
        for row in rows {
            index.apply(row, plan, false);
        }
        for list in index.numbers.values_mut() {
            list.sort_by_key(Entry::rank);
        }
        index
    }

    /// Puts one row in: removes what was indexed for its id or login, then, if
    /// it is valid, indexes it. `sorted` keeps each number's list in order
    /// (incremental changes); a full build sorts once at the end instead.
    fn apply(&mut self, row: &CustomerRow, plan: &NumberPlan, sorted: bool) {
        if row.change_time > self.max_change {
            self.max_change = row.change_time;
        }
        self.remove(row.id);
        if let Some(other) = self.logins.get(&row.login).copied() {
            self.remove(other);
        }
        if !row.valid {
            return;
        }
        let customer = Arc::new(Customer {
            login: row.login.clone(),
            customer_id: row.customer_id.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            email: row.email.clone(),
        });
        let entry = Entry { id: row.id, change_time: row.change_time, customer: Arc::clone(&customer) };
        let keys = row_keys(row, plan);
        for key in &keys {
            let list = self.numbers.entry(key.clone()).or_default();
            if sorted {
                let at = list.partition_point(|e| e.rank() < entry.rank());
                list.insert(at, entry.clone());
            } else {
                list.push(entry.clone());
            }
        }
        self.logins.insert(row.login.clone(), row.id);
        self.records.insert(
            row.id,
            Record {
                login: row.login.clone(),
                phone: row.phone.clone(),
                mobile: row.mobile.clone(),
                change_time: row.change_time,
                keys,
                customer,
            },
        );
    }

    fn remove(&mut self, id: u64) {
        let Some(record) = self.records.remove(&id) else { return };
        if self.logins.get(&record.login) == Some(&id) {
            self.logins.remove(&record.login);
        }
        for key in &record.keys {
            if let Some(list) = self.numbers.get_mut(key) {
                list.retain(|e| e.id != id);
                if list.is_empty() {
                    self.numbers.remove(key);
                }
            }
        }
    }

    /// Whether applying `row` would change nothing (the incremental window
    /// re-reads the newest rows every time).
    fn is_current(&self, row: &CustomerRow) -> bool {
        match self.records.get(&row.id) {
            Some(record) => row.valid && record.same_as(row),
            None => !row.valid && !self.logins.contains_key(&row.login),
        }
    }

    fn lookup(&self, key: &str) -> (usize, Option<Arc<Customer>>) {
        match self.numbers.get(key) {
            Some(list) => (list.len(), list.first().map(|e| Arc::clone(&e.customer))),
            None => (0, None),
        }
    }

    fn all(&self, key: &str) -> Vec<Arc<Customer>> {
        self.numbers.get(key).map(|l| l.iter().map(|e| Arc::clone(&e.customer)).collect()).unwrap_or_default()
    }
}

/// The answer for one caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// How many distinct valid customers have this number.
    pub matches: usize,
    /// The one chosen (see [`CustomerIndex::lookup`]); `None` when no match.
    pub customer: Option<Arc<Customer>>,
    /// The canonical number looked up; `None` when the caller ID holds no
    /// phone number.
    pub key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// The index has never been loaded (database unreachable since start).
    NotLoaded,
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::NotLoaded => f.write_str("the customer index has not been loaded from the OTRS database yet"),
        }
    }
}

impl std::error::Error for IndexError {}

/// What one refresh did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshStats {
    /// A full reload (`false`: incremental).
    pub full: bool,
    /// Rows read from the database.
    pub rows: usize,
    /// Rows that changed the index (all of them for a full reload).
    pub changed: usize,
    /// Customers in the index afterwards.
    pub customers: usize,
    /// Distinct numbers in the index afterwards.
    pub numbers: usize,
    pub elapsed: Duration,
}

/// For a status command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexStatus {
    pub loaded: bool,
    /// Valid customers indexed (with or without a number).
    pub customers: usize,
    /// Distinct canonical numbers.
    pub numbers: usize,
    /// End of the last successful refresh.
    pub last_refresh: Option<SystemTime>,
    /// The most recent failure, kept after the database recovers.
    pub last_error: Option<(SystemTime, String)>,
    /// Whether the last refresh reached the database.
    pub db_up: bool,
}

#[derive(Debug, Default)]
struct Health {
    last_refresh: Option<SystemTime>,
    last_error: Option<(SystemTime, String)>,
    db_up: bool,
}

/// Incremental passes start this many seconds before the newest change_time
/// seen: a transaction may stamp a row, then commit after a newer row was
/// read. Rows re-read because of it are recognised and skipped.
pub const CHANGE_TIME_SLACK_SECS: u32 = 5;

/// Only `valid_id = 1` customers may be matched; a full read needs no others.
/// Bound parameters only, even for constants.
fn full_sql() -> String {
    format!("SELECT {COLUMNS} FROM customer_user WHERE valid_id = ?")
}

/// Every row changed since the watermark, valid or not: a customer made
/// invalid must leave the index.
fn changed_sql() -> String {
    format!("SELECT {COLUMNS} FROM customer_user WHERE change_time >= DATE_SUB(?, INTERVAL ? SECOND)")
}

/// Locks, ignoring poisoning: the data behind these locks is always left
/// consistent (swaps and plain assignments), and a panic elsewhere must not
/// make every later call panic too.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Customers by canonical phone number, loaded from `customer_user`.
pub struct CustomerIndex {
    db: DbSettings,
    plan: NumberPlan,
    current: RwLock<Option<Arc<Index>>>,
    /// One refresh at a time: an incremental pass must not publish a copy of
    /// an index a concurrent full reload has just replaced.
    refresh_lock: Mutex<()>,
    health: Mutex<Health>,
}

impl fmt::Debug for CustomerIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerIndex")
            .field("db", &self.db)
            .field("plan", &self.plan)
            .field("status", &self.status())
            .finish()
    }
}

impl CustomerIndex {
    /// An empty, not yet loaded index. Nothing is read until a refresh.
    pub fn new(db: DbSettings, plan: NumberPlan) -> Self {
        CustomerIndex {
            db,
            plan,
            current: RwLock::new(None),
            refresh_lock: Mutex::new(()),
            health: Mutex::new(Health::default()),
        }
    }

    pub fn plan(&self) -> &NumberPlan {
        &self.plan
    }

    pub fn is_loaded(&self) -> bool {
        self.snapshot().is_some()
    }

    fn snapshot(&self) -> Option<Arc<Index>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn publish(&self, index: Index) {
        let old = self.current.write().unwrap_or_else(PoisonError::into_inner).replace(Arc::new(index));
        // Freed here, after the lock is released: dropping 100 000 customers
        // takes a while, and lookups must not wait for it (nor do it: they
        // never hold the Arc, see `lookup`).
        drop(old);
    }

    /// The customer calling from `raw_number` (a caller ID as it arrives).
    ///
    /// One hash lookup on the canonical number, no SQL. When several valid
    /// customers have the number, the one whose `customer_user` row was
    /// changed most recently (`change_time`) is chosen, ties going to the
    /// smaller `id`: the latest edit is the best guess of who holds the line
    /// now, and the rule gives the same answer on every call. `matches` says
    /// how many there were.
    pub fn lookup(&self, raw_number: &str) -> Result<Lookup, IndexError> {
        let key = canonical(raw_number, &self.plan);
        // Under the read lock, not on a clone of the Arc: a call must never
        // be the one that frees a replaced index.
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let index = current.as_ref().ok_or(IndexError::NotLoaded)?;
        let Some(key) = key else {
            return Ok(Lookup { matches: 0, customer: None, key: None });
        };
        let (matches, customer) = index.lookup(&key);
        Ok(Lookup { matches, customer, key: Some(key) })
    }

    /// Every customer with this number, in the order the rule picks them
    /// (first = the one a call gets), with the canonical form looked up.
    /// For the CLI dry run `otrs test lookup`.
    pub fn lookup_all(&self, raw_number: &str) -> Result<(Option<String>, Vec<Arc<Customer>>), IndexError> {
        let key = canonical(raw_number, &self.plan);
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let index = current.as_ref().ok_or(IndexError::NotLoaded)?;
        let all = key.as_deref().map(|k| index.all(k)).unwrap_or_default();
        Ok((key, all))
    }

    pub fn status(&self) -> IndexStatus {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        let index = current.as_ref();
        let health = lock(&self.health);
        IndexStatus {
            loaded: index.is_some(),
            customers: index.as_ref().map_or(0, |i| i.records.len()),
            numbers: index.as_ref().map_or(0, |i| i.numbers.len()),
            last_refresh: health.last_refresh,
            last_error: health.last_error.clone(),
            db_up: health.db_up,
        }
    }

    /// Reads every valid customer and replaces the index with a new one built
    /// from them. On error the old index (if any) stays in use.
    pub fn refresh_full(&self) -> Result<RefreshStats, String> {
        let _one_at_a_time = lock(&self.refresh_lock);
        self.full_locked()
    }

    /// Reads the rows changed since the last refresh and updates their
    /// customers (a row now invalid is removed). Deleted rows are only noticed
    /// by [`refresh_full`](Self::refresh_full). Does a full reload when the
    /// index was never loaded.
    pub fn refresh_changed(&self) -> Result<RefreshStats, String> {
        let _one_at_a_time = lock(&self.refresh_lock);
        let Some(current) = self.snapshot() else {
            return self.full_locked();
        };
        let Some(since) = current.max_change else {
            // Nothing seen yet (no valid customer): nothing to start from.
            return self.full_locked();
        };
        let started = Instant::now();
        let rows = self.fetch(Some(since)).inspect_err(|e| self.note_error(e))?;
        let stats = self.apply_changes(&current, &rows, started);
        self.note_success();
        Ok(stats)
    }

    fn full_locked(&self) -> Result<RefreshStats, String> {
        let started = Instant::now();
        let rows = self.fetch(None).inspect_err(|e| self.note_error(e))?;
        let stats = self.install_full(&rows, started);
        self.note_success();
        Ok(stats)
    }

    /// Builds an index from `rows` (all valid customers) and publishes it.
    /// The SQL-free half of a full reload.
    fn install_full(&self, rows: &[CustomerRow], started: Instant) -> RefreshStats {
        let index = Index::from_rows(rows, &self.plan);
        let stats = RefreshStats {
            full: true,
            rows: rows.len(),
            changed: rows.len(),
            customers: index.records.len(),
            numbers: index.numbers.len(),
            elapsed: started.elapsed(),
        };
        self.publish(index);
        stats
    }

    /// Applies changed rows to a copy of `current` and publishes it, unless
    /// none of them changes anything (the usual case: the slack window
    /// re-reads the newest rows), which costs no copy at all.
    fn apply_changes(&self, current: &Arc<Index>, rows: &[CustomerRow], started: Instant) -> RefreshStats {
        let changed: Vec<&CustomerRow> = rows.iter().filter(|r| !current.is_current(r)).collect();
        let mut stats = RefreshStats {
            full: false,
            rows: rows.len(),
            changed: changed.len(),
            customers: current.records.len(),
            numbers: current.numbers.len(),
            elapsed: Duration::ZERO,
        };
        if !changed.is_empty() {
            let mut next = Index::clone(current);
            for row in changed {
                next.apply(row, &self.plan, true);
            }
            stats.customers = next.records.len();
            stats.numbers = next.numbers.len();
            self.publish(next);
        }
        stats.elapsed = started.elapsed();
        stats
    }

    /// Reads customer rows: all valid ones (`since` None), or all changed at
    /// or after `since` minus the slack. A connection per refresh: refreshes
    /// are seconds apart, and a fresh connection needs no handling of one the
    /// server closed meanwhile (wait_timeout, restarts).
    fn fetch(&self, since: Option<ChangeTime>) -> Result<Vec<CustomerRow>, String> {
        let fail = |what: &str, e: mysql::Error| self.db.scrub(format!("{what} {}: {e}", self.db.target()));
        let mut conn = Conn::new(self.db.opts()).map_err(|e| fail("cannot connect to the OTRS database at", e))?;
        let result = match since {
            None => conn.exec_iter(full_sql(), (1u8,)),
            Some(t) => conn.exec_iter(changed_sql(), (t.to_value(), CHANGE_TIME_SLACK_SECS)),
        }
        .map_err(|e| fail("cannot read customer_user from", e))?;
        let mut rows = Vec::new();
        for row in result {
            let row = row.map_err(|e| fail("cannot read customer_user from", e))?;
            // A row without id or login cannot be a ticket's customer: skip it.
            if let Some(row) = CustomerRow::from_mysql(&row) {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    fn note_success(&self) {
        let mut health = lock(&self.health);
        health.last_refresh = Some(SystemTime::now());
        health.db_up = true;
    }

    fn note_error(&self, message: &str) {
        let mut health = lock(&self.health);
        health.last_error = Some((SystemTime::now(), self.db.scrub(message.to_string())));
        health.db_up = false;
    }
}

/// The background thread keeping a [`CustomerIndex`] fresh.
///
/// [`stop`](Refresher::stop) (or dropping it) wakes the thread at once and
/// joins it: the module must not be unloaded while a thread runs its code.
/// A refresh already talking to the database is finished first; that is
/// bounded by the connect and query timeouts.
#[derive(Debug)]
pub struct Refresher {
    control: Arc<Control>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Control {
    flags: Mutex<Flags>,
    wake: Condvar,
    running: AtomicBool,
}

#[derive(Debug, Default)]
struct Flags {
    stop: bool,
    full_requested: bool,
}

/// First wait after a failed refresh; it doubles on each further failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between retries while the database is down (if the
/// incremental interval is shorter, that is the cap).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Floor for the intervals, so a zero in the config cannot spin the CPU.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

impl Refresher {
    /// Stops the thread and waits for it to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Whether the thread is alive (false if it could not be started).
    pub fn is_running(&self) -> bool {
        self.control.running.load(Ordering::SeqCst)
    }

    /// Asks for a full reload now (e.g. from a CLI command), without waiting
    /// for it.
    pub fn request_full(&self) {
        lock(&self.control.flags).full_requested = true;
        self.control.wake.notify_all();
    }

    fn shutdown(&mut self) {
        lock(&self.control.flags).stop = true;
        self.control.wake.notify_all();
        if let Some(handle) = self.handle.take() {
            // Joining itself would deadlock; can only happen if the index's
            // owner drops the Refresher from inside a refresh, which it does not.
            if handle.thread().id() != thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the thread "otrs-customers": a full load at once (retried with a
/// growing delay while the database is down), then an incremental refresh
/// every `incremental_every` and a full one every `full_every` (which also
/// drops deleted customers). While a refresh fails, the last good index stays
/// in use and the error shows in [`CustomerIndex::status`].
pub fn start_refresher(index: Arc<CustomerIndex>, incremental_every: Duration, full_every: Duration) -> Refresher {
    let control = Arc::new(Control::default());
    control.running.store(true, Ordering::SeqCst);
    let thread_control = Arc::clone(&control);
    let thread_index = Arc::clone(&index);
    let spawned = thread::Builder::new().name("otrs-customers".to_string()).spawn(move || {
        run_refresher(&thread_index, &thread_control, incremental_every, full_every);
        thread_control.running.store(false, Ordering::SeqCst);
    });
    let handle = match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            control.running.store(false, Ordering::SeqCst);
            index.note_error(&format!("cannot start the customer refresh thread: {e}"));
            None
        }
    };
    Refresher { control, handle }
}

fn run_refresher(index: &CustomerIndex, control: &Control, incremental_every: Duration, full_every: Duration) {
    let incremental_every = incremental_every.max(MIN_INTERVAL);
    let full_every = full_every.max(MIN_INTERVAL);
    let backoff_cap = incremental_every.min(MAX_BACKOFF);
    let mut backoff = FIRST_BACKOFF.min(backoff_cap);
    let mut last_full: Option<Instant> = None;
    loop {
        let full_requested = {
            let mut flags = lock(&control.flags);
            if flags.stop {
                return;
            }
            std::mem::take(&mut flags.full_requested)
        };
        let full_due = last_full.is_none_or(|t| t.elapsed() >= full_every);
        let full = full_requested || full_due || !index.is_loaded();
        // A bug must not end the thread silently and freeze the index.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if full {
                index.refresh_full()
            } else {
                index.refresh_changed()
            }
        }));
        let ok = match outcome {
            Ok(Ok(stats)) => {
                if stats.full {
                    last_full = Some(Instant::now());
                }
                true
            }
            Ok(Err(_)) => false, // already recorded in the index's status
            Err(_) => {
                index.note_error("the customer refresh panicked (a bug); retrying");
                false
            }
        };
        let wait = if ok {
            backoff = FIRST_BACKOFF.min(backoff_cap);
            incremental_every
        } else {
            let wait = backoff;
            backoff = backoff.saturating_mul(2).min(backoff_cap);
            wait
        };
        let flags = lock(&control.flags);
        // wait_timeout_while: spurious wakeups do not end the wait early.
        let _ = control
            .wake
            .wait_timeout_while(flags, wait, |f| !f.stop && !f.full_requested)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru() -> NumberPlan {
        NumberPlan {
            country_code: "7".into(),
            national_prefix: "8".into(),
            international_prefixes: vec!["00".into(), "810".into()],
            national_number_length: Some(10),
        }
    }

    fn t(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> Option<ChangeTime> {
        ChangeTime::new(y, mo, d, h, mi, s, 0)
    }

    fn row(id: u64, login: &str, phone: &str, mobile: &str, change_time: Option<ChangeTime>) -> CustomerRow {
        CustomerRow {
            id,
            login: login.into(),
            customer_id: "ACME".into(),
            first_name: format!("First{id}"),
            last_name: format!("Last{id}"),
            email: format!("{login}@example.invalid"),
            phone: phone.into(),
            mobile: mobile.into(),
            change_time,
            valid: true,
        }
    }

    /// An index loaded from `rows` without a database (the DB is never used).
    fn loaded(rows: &[CustomerRow]) -> CustomerIndex {
        let index = CustomerIndex::new(DbSettings::default(), ru());
        index.install_full(rows, Instant::now());
        index
    }

    fn update(index: &CustomerIndex, rows: &[CustomerRow]) -> RefreshStats {
        let current = index.snapshot().expect("loaded");
        index.apply_changes(&current, rows, Instant::now())
    }

    fn who(index: &CustomerIndex, number: &str) -> (usize, Option<String>) {
        let l = index.lookup(number).expect("loaded");
        (l.matches, l.customer.map(|c| c.login.clone()))
    }

    /// The sample customers of tests/sql/customers.sql, as rows.
    fn samples() -> Vec<CustomerRow> {
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

    #[test]
    fn full_name() {
        let mut c = Customer {
            login: "x".into(),
            customer_id: "X".into(),
            first_name: " Ivan ".into(),
            last_name: "Ivanov".into(),
            email: String::new(),
        };
        assert_eq!(c.full_name(), "Ivan Ivanov");
        c.last_name.clear();
        assert_eq!(c.full_name(), "Ivan");
        c.first_name.clear();
        c.last_name = "Петров".into();
        assert_eq!(c.full_name(), "Петров");
        c.last_name.clear();
        assert_eq!(c.full_name(), "");
    }

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
    fn splitting_fields() {
        assert_eq!(split_numbers(""), Vec::<&str>::new());
        assert_eq!(split_numbers("   "), Vec::<&str>::new());
        assert_eq!(split_numbers("89161229624"), vec!["89161229624"]);
        assert_eq!(split_numbers("8 916 122 96 24, 8 495 123 45 67"), vec!["8 916 122 96 24", " 8 495 123 45 67"]);
        assert_eq!(split_numbers("89161229624;89165550000"), vec!["89161229624", "89165550000"]);
        assert_eq!(split_numbers("89161229624 / 89165550000"), vec!["89161229624 ", " 89165550000"]);
        // Extensions and shorthands are dropped, area codes kept together.
        assert_eq!(split_numbers("89161229624, доб. 12"), vec!["89161229624"]);
        assert_eq!(split_numbers("+7 916 122-96-24/25"), vec!["+7 916 122-96-24"]);
        assert_eq!(split_numbers("030/1234567"), vec!["030/1234567"]);
        assert_eq!(split_numbers("030/1234567, 030/7654321"), vec!["030/1234567", " 030/7654321"]);
        // Only short numbers: all kept.
        assert_eq!(split_numbers("101, 102"), vec!["101", " 102"]);
        assert_eq!(split_numbers("101"), vec!["101"]);
        assert_eq!(split_numbers(",,;/"), Vec::<&str>::new());
    }

    #[test]
    fn not_loaded() {
        let index = CustomerIndex::new(DbSettings::default(), ru());
        assert_eq!(index.lookup("89161229624"), Err(IndexError::NotLoaded));
        assert!(!index.is_loaded());
        let s = index.status();
        assert!(!s.loaded && !s.db_up);
        assert_eq!((s.customers, s.numbers), (0, 0));
        assert_eq!(s.last_refresh, None);
        assert!(!IndexError::NotLoaded.to_string().is_empty());
    }

    #[test]
    fn sample_rules_without_db() {
        let index = loaded(&samples());
        for n in ["89161229624", "+7 (916) 122-96-24", "+79161229624", "9161229624", "0079161229624", "81079161229624"] {
            assert_eq!(who(&index, n), (1, Some("ivanov".into())), "{n}");
        }
        assert_eq!(who(&index, "+79165551234"), (1, Some("petrov".into())));
        assert_eq!(who(&index, "89167770011"), (1, Some("sidorova".into())));
        assert_eq!(who(&index, "89165550000"), (1, Some("sidorova".into())));
        assert_eq!(who(&index, "+79031234567"), (1, Some("orlova".into())));
        assert_eq!(who(&index, "00442079460958"), (1, Some("smith".into())));
        assert_eq!(who(&index, "+442079460958"), (1, Some("smith".into())));
        // Two customers, most recently changed wins.
        assert_eq!(who(&index, "+74951234567"), (2, Some("office2".into())));
        assert_eq!(who(&index, "84951234567"), (2, Some("office2".into())));
        assert_eq!(who(&index, "+7 916 888 99 00"), (1, Some("ivanova".into())));
        assert_eq!(who(&index, "89160000000"), (0, None));
        let l = index.lookup("anonymous").expect("loaded");
        assert_eq!(l, Lookup { matches: 0, customer: None, key: None });
        let l = index.lookup("8 916 122 96 24").expect("loaded");
        assert_eq!(l.key.as_deref(), Some("9161229624"));
        let c = l.customer.expect("ivanov");
        assert_eq!(c.full_name(), "First1 Last1");
        assert_eq!(c.email, "ivanov@example.invalid");
        let s = index.status();
        assert!(s.loaded);
        assert_eq!(s.customers, 9);
        // ivanov, petrov, sidorova x2, orlova, smith, office, ivanova
        assert_eq!(s.numbers, 8);
    }

    #[test]
    fn ties_go_to_smaller_id_and_missing_time_loses() {
        let same = t(2025, 1, 1, 0, 0, 0);
        let rows = vec![
            row(30, "c30", "89160000030", "", same),
            row(20, "c20", "89160000030", "", same),
            row(10, "c10", "89160000030", "", None),
            row(40, "c40", "89160000030", "", t(2024, 1, 1, 0, 0, 0)),
        ];
        let index = loaded(&rows);
        assert_eq!(who(&index, "89160000030"), (4, Some("c20".into())));
        // Same order however the rows arrive.
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(who(&loaded(&reversed), "89160000030"), (4, Some("c20".into())));
        // And after incremental changes: c40 edited now wins.
        update(&index, &[row(40, "c40", "89160000030", "", t(2026, 1, 1, 0, 0, 0))]);
        assert_eq!(who(&index, "89160000030"), (4, Some("c40".into())));
        // c40 made invalid: back to c20.
        let mut gone = row(40, "c40", "89160000030", "", t(2026, 1, 1, 0, 0, 1));
        gone.valid = false;
        update(&index, &[gone]);
        assert_eq!(who(&index, "89160000030"), (3, Some("c20".into())));
    }

    #[test]
    fn one_customer_counts_once() {
        let rows = vec![
            row(1, "both", "8 916 122 96 24", "+7 916 122-96-24", t(2025, 1, 1, 0, 0, 0)),
            row(2, "twice", "89165550000, +79165550000; 9165550000", "", t(2025, 1, 1, 0, 0, 0)),
            row(3, "multi", "8 916 111 11 11, 8 916 222 22 22", "8 916 333 33 33 / 8 916 444 44 44", t(2025, 1, 1, 0, 0, 0)),
        ];
        let index = loaded(&rows);
        assert_eq!(who(&index, "89161229624"), (1, Some("both".into())));
        assert_eq!(who(&index, "89165550000"), (1, Some("twice".into())));
        for n in ["89161111111", "89162222222", "89163333333", "89164444444"] {
            assert_eq!(who(&index, n), (1, Some("multi".into())), "{n}");
        }
        assert_eq!(index.status().numbers, 6);
    }

    #[test]
    fn incremental_changes_without_db() {
        let index = loaded(&samples());
        let before = Arc::as_ptr(&index.snapshot().expect("loaded"));
        // Re-reading unchanged rows changes nothing and copies nothing.
        let stats = update(&index, &samples());
        assert_eq!((stats.rows, stats.changed), (9, 0));
        assert_eq!(Arc::as_ptr(&index.snapshot().expect("loaded")), before);

        // New customer.
        let later = t(2026, 2, 1, 0, 0, 0);
        let stats = update(&index, &[row(100, "newbie", "8 916 100 00 01", "", later)]);
        assert_eq!((stats.changed, stats.customers), (1, 10));
        assert_eq!(who(&index, "+79161000001"), (1, Some("newbie".into())));

        // Number changed: old key gone, new key found.
        update(&index, &[row(100, "newbie", "8 916 100 00 02", "", later)]);
        assert_eq!(who(&index, "+79161000001"), (0, None));
        assert_eq!(who(&index, "+79161000002"), (1, Some("newbie".into())));

        // Name changed, same number: new name served.
        let mut renamed = row(100, "newbie", "8 916 100 00 02", "", later);
        renamed.last_name = "Renamed".into();
        update(&index, &[renamed]);
        let c = index.lookup("89161000002").expect("loaded").customer.expect("found");
        assert_eq!(c.last_name, "Renamed");

        // Login renamed (same id): only the new login remains.
        update(&index, &[row(100, "newbie2", "8 916 100 00 02", "", later)]);
        assert_eq!(who(&index, "89161000002"), (1, Some("newbie2".into())));
        assert_eq!(index.status().customers, 10);

        // Deleted and re-created with the same login under a new id.
        update(&index, &[row(101, "newbie2", "8 916 100 00 03", "", later)]);
        assert_eq!(who(&index, "89161000002"), (0, None));
        assert_eq!(who(&index, "89161000003"), (1, Some("newbie2".into())));
        assert_eq!(index.status().customers, 10);

        // Made invalid: gone; an unknown invalid row changes nothing.
        let mut invalid = row(101, "newbie2", "8 916 100 00 03", "", later);
        invalid.valid = false;
        let mut stranger = row(102, "stranger", "8 916 100 00 04", "", later);
        stranger.valid = false;
        let stats = update(&index, &[invalid, stranger]);
        assert_eq!(stats.changed, 1);
        assert_eq!(who(&index, "89161000003"), (0, None));
        assert_eq!(who(&index, "89161000004"), (0, None));
        assert_eq!(index.status().customers, 9);

        // A customer loses their number but stays a customer.
        update(&index, &[row(1, "ivanov", "", "", later)]);
        assert_eq!(who(&index, "89161229624"), (0, None));
        assert_eq!(index.status().customers, 9);
        // The watermark follows the newest row.
        assert_eq!(index.snapshot().expect("loaded").max_change, later);
    }

    #[test]
    fn many_customers_one_number() {
        // An office number shared by many customers must not make the build
        // quadratic, and the rule still holds.
        let rows: Vec<CustomerRow> = (1..=20_000u64)
            .map(|i| row(i, &format!("c{i}"), "8 495 123 45 67", "", t(2025, 1, 1, 0, 0, (i % 60) as u8)))
            .collect();
        let started = Instant::now();
        let index = loaded(&rows);
        assert!(started.elapsed() < Duration::from_secs(10));
        // second 59 is the latest; the smallest such id is 59.
        assert_eq!(who(&index, "84951234567"), (20_000, Some("c59".into())));
    }

    #[test]
    fn lookup_cost_does_not_grow() {
        // 100 000 customers: a lookup is one canonicalisation and one hash
        // lookup. Generous bound, to catch an accidental scan, not to benchmark.
        let rows: Vec<CustomerRow> = (0..100_000u64)
            .map(|i| row(i + 1, &format!("bulk{i}"), &format!("8 920 {:07}", i), "", t(2025, 1, 1, 0, 0, 0)))
            .collect();
        let index = loaded(&rows);
        assert_eq!(index.status().customers, 100_000);
        let started = Instant::now();
        for i in 0..10_000u64 {
            let l = index.lookup(&format!("+7920{:07}", i * 7)).expect("loaded");
            assert_eq!(l.matches, 1);
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CustomerIndex>();
        check::<Arc<CustomerIndex>>();
        check::<Refresher>();
    }

    /// A port nothing listens on (bound for a moment to get a free one, then
    /// closed): connects fail at once with "connection refused".
    fn dead_db() -> DbSettings {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        DbSettings {
            host: "127.0.0.1".into(),
            port,
            password: "never-shown-pw".into(),
            connect_timeout: Duration::from_secs(1),
            query_timeout: Duration::from_secs(1),
            ..DbSettings::default()
        }
    }

    #[test]
    fn db_down_errors_and_keeps_old_index() {
        let index = CustomerIndex::new(dead_db(), ru());
        let err = index.refresh_full().expect_err("no database");
        assert!(!err.contains("never-shown-pw"), "{err}");
        assert!(err.contains("127.0.0.1"), "{err}");
        let s = index.status();
        assert!(!s.loaded && !s.db_up);
        let (_, message) = s.last_error.expect("error recorded");
        assert!(!message.contains("never-shown-pw"));
        // Incremental without a load falls back to full, and fails the same.
        assert!(index.refresh_changed().is_err());

        // A loaded index stays in use when the database goes away.
        index.install_full(&samples(), Instant::now());
        index.note_success();
        assert!(index.refresh_changed().is_err());
        assert!(index.refresh_full().is_err());
        assert_eq!(who(&index, "89161229624"), (1, Some("ivanov".into())));
        let s = index.status();
        assert!(s.loaded && !s.db_up && s.last_refresh.is_some() && s.last_error.is_some());
    }

    #[test]
    fn refresher_stops_at_once() {
        let index = Arc::new(CustomerIndex::new(dead_db(), ru()));
        let r = start_refresher(Arc::clone(&index), Duration::from_secs(3600), Duration::from_secs(3600));
        assert!(r.is_running());
        // Let it fail once and go to sleep in its backoff.
        let deadline = Instant::now() + Duration::from_secs(5);
        while index.status().last_error.is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(index.status().last_error.is_some());
        let started = Instant::now();
        r.stop();
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());

        // Dropping it stops it as well.
        let r = start_refresher(Arc::clone(&index), Duration::from_secs(3600), Duration::from_secs(3600));
        let control = Arc::clone(&r.control);
        drop(r);
        assert!(!control.running.load(Ordering::SeqCst));
        // Only the test's own references are left: the thread is gone.
        assert_eq!(Arc::strong_count(&index), 1);
    }

    #[test]
    fn refresher_retries_with_backoff() {
        let index = Arc::new(CustomerIndex::new(dead_db(), ru()));
        let r = start_refresher(Arc::clone(&index), Duration::from_millis(200), Duration::from_secs(3600));
        // The first attempt fails, and a retry follows (the backoff is capped
        // by the 200 ms interval here) instead of the thread giving up.
        let first = wait_for_error_change(&index, None);
        let second = wait_for_error_change(&index, first);
        assert!(second.is_some() && second != first);
        r.stop();
    }

    fn wait_for_error_change(index: &CustomerIndex, previous: Option<SystemTime>) -> Option<SystemTime> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let at = index.status().last_error.map(|(at, _)| at);
            if at.is_some() && at != previous {
                return at;
            }
            if Instant::now() > deadline {
                return at;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    // ---- Against a real MariaDB (scripts/mariadb.sh) ----

    /// The test database, from OTRS_TEST_DB. Unset is a failure, not a skip:
    /// a green run must mean the SQL was tested.
    fn test_db() -> DbSettings {
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
    struct Scratch {
        conn: Conn,
        prefix: String,
    }

    impl Scratch {
        fn new(db: &DbSettings, prefix: &str) -> Scratch {
            let conn = Conn::new(db.opts()).expect("connect to OTRS_TEST_DB");
            let mut s = Scratch { conn, prefix: format!("{prefix}_") };
            s.clean();
            s
        }

        fn clean(&mut self) {
            let like = format!("{}%", self.prefix);
            self.conn.exec_drop("DELETE FROM customer_user WHERE login LIKE ?", (like,)).expect("delete scratch rows");
        }

        fn login(&self, name: &str) -> String {
            format!("{}{name}", self.prefix)
        }

        fn insert(&mut self, name: &str, phone: &str, mobile: Option<&str>, change_time: Option<&str>) {
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

        fn exec(&mut self, sql: &str, name: &str) {
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

    #[test]
    fn db_sample_customers() {
        let index = CustomerIndex::new(test_db(), ru());
        let stats = index.refresh_full().expect("full refresh");
        assert!(stats.full && stats.rows >= 9, "{stats:?}");
        let check = |n: &str, expect: Option<&str>, matches: usize| {
            let l = index.lookup(n).expect("loaded");
            assert_eq!(l.customer.map(|c| c.login.clone()).as_deref(), expect, "{n}");
            assert_eq!(l.matches, matches, "{n}");
        };
        for n in ["89161229624", "+7 (916) 122-96-24", "8 916 122 9624", "+79161229624", "9161229624", "0079161229624"] {
            check(n, Some("ivanov"), 1);
        }
        check("+79165551234", Some("petrov"), 1);
        check("89167770011", Some("sidorova"), 1);
        check("+79165550000", Some("sidorova"), 1);
        check("89031234567", Some("orlova"), 1);
        check("+44 20 7946 0958", Some("smith"), 1);
        check("00442079460958", Some("smith"), 1);
        check("89161112233", None, 0); // kuznetsov, valid_id 2
        check("+7 495 123 45 67", Some("office2"), 2);
        check("84951234567", Some("office2"), 2);
        check("+79168889900", Some("ivanova"), 1);
        let l = index.lookup("+79168889900").expect("loaded");
        assert_eq!(l.customer.expect("ivanova").full_name(), "Мария Иванова");
        // The placeholder customer is loaded (it has no number to match).
        let s = index.status();
        assert!(s.loaded && s.db_up && s.last_refresh.is_some());
        assert!(s.customers >= 9);
        // A repeated incremental pass over unchanged data changes nothing
        // about the samples.
        index.refresh_changed().expect("incremental");
        check("84951234567", Some("office2"), 2);
    }

    #[test]
    fn db_incremental_refresh() {
        let db = test_db();
        let mut scratch = Scratch::new(&db, "t_incr");
        let index = CustomerIndex::new(db, ru());
        index.refresh_full().expect("full refresh");
        assert_eq!(who(&index, "89169000001").0, 0);

        // New customer: found after an incremental pass.
        scratch.insert("a", "8 916 900-00-01", Some("+7 916 900 00 02"), None);
        let stats = index.refresh_changed().expect("incremental");
        assert!(!stats.full && stats.changed >= 1, "{stats:?}");
        assert_eq!(who(&index, "+79169000001"), (1, Some(scratch.login("a"))));
        assert_eq!(who(&index, "89169000002"), (1, Some(scratch.login("a"))));

        // Number changed: the old one is gone.
        scratch.exec("UPDATE customer_user SET phone = '89169000003', change_time = NOW() WHERE login = ?", "a");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169000001"), (0, None));
        assert_eq!(who(&index, "89169000003"), (1, Some(scratch.login("a"))));
        assert_eq!(who(&index, "89169000002"), (1, Some(scratch.login("a"))));

        // Made invalid: gone.
        scratch.exec("UPDATE customer_user SET valid_id = 2, change_time = NOW() WHERE login = ?", "a");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169000003"), (0, None));
        assert_eq!(who(&index, "89169000002"), (0, None));

        // Valid again.
        scratch.exec("UPDATE customer_user SET valid_id = 1, change_time = NOW() WHERE login = ?", "a");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169000003"), (1, Some(scratch.login("a"))));

        // Deleted: only a full refresh notices.
        scratch.exec("DELETE FROM customer_user WHERE login = ?", "a");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169000003").0, 1);
        index.refresh_full().expect("full refresh");
        assert_eq!(who(&index, "89169000003"), (0, None));

        // A row stamped in the past is beyond the incremental window; the
        // periodic full refresh picks it up.
        scratch.insert("old", "89169000004", None, Some("2020-01-01 00:00:00"));
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169000004"), (0, None));
        index.refresh_full().expect("full refresh");
        assert_eq!(who(&index, "89169000004"), (1, Some(scratch.login("old"))));
    }

    #[test]
    fn db_most_recent_change_wins() {
        let db = test_db();
        let mut scratch = Scratch::new(&db, "t_recent");
        scratch.insert("x", "8 916 900 10 01", None, Some("2024-03-01 00:00:00"));
        scratch.insert("y", "+7 916 900-10-01", Some("89169001001"), Some("2024-02-01 00:00:00"));
        let index = CustomerIndex::new(db, ru());
        index.refresh_full().expect("full refresh");
        assert_eq!(who(&index, "89169001001"), (2, Some(scratch.login("x"))));
        // y edited now: it wins after an incremental pass.
        scratch.exec("UPDATE customer_user SET change_time = NOW() WHERE login = ?", "y");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169001001"), (2, Some(scratch.login("y"))));
    }

    #[test]
    fn db_refresher_loads_and_follows() {
        let db = test_db();
        let mut scratch = Scratch::new(&db, "t_thread");
        let index = Arc::new(CustomerIndex::new(db, ru()));
        let r = start_refresher(Arc::clone(&index), Duration::from_millis(200), Duration::from_secs(3600));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !index.is_loaded() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(who(&index, "89161229624"), (1, Some("ivanov".into())));
        scratch.insert("z", "89169002001", None, None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while who(&index, "89169002001").0 == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(who(&index, "89169002001"), (1, Some(scratch.login("z"))));
        assert!(index.status().db_up);
        let started = Instant::now();
        r.stop();
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
