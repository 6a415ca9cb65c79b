//! The OTRS customers, indexed by phone number, free of Asterisk.
//!
//! A call must cost the same at 100 000 customers as at 10, and must not wait
//! for the database. So the module keeps every valid customer's numbers in
//! memory, keyed by canonical form ([`canonical_key`], packed into one
//! integer): a call does one hash lookup and no SQL. A background thread
//! ([`start_refresher`]) loads the index from `customer_user` and keeps it
//! fresh:
//!
//! - a full reload builds a new index off to the side, row by row as they
//!   arrive, and swaps it in whole; it also catches deleted rows, which leave
//!   no trace an incremental pass could see;
//! - in between, an incremental pass reads the rows changed since what the
//!   previous pass surely saw (see `Cursor`; [`CHANGE_TIME_SLACK_SECS`]
//!   covers transactions that commit a little after they stamp the row),
//!   skips those that change nothing, and applies the others in place, a
//!   batch at a time under the write lock.
//!
//! Compact, for the CPU caches and for Asterisk's memory: a number is one
//! 16-byte bucket of a flat open-addressing table (its key, how many
//! customers have it, where the chosen one's text is), and a customer's text
//! is one record in an arena of 2 MiB huge pages. A lookup reads the bucket's
//! cache line and the record's, and builds the [`Customer`] it returns from
//! the record; nothing else per customer is kept but a 40-byte slot (id,
//! change_time, numbers) for refreshes.
//!
//! Lookups take a read lock for the bucket and the record only, so they never
//! wait for the database or for an index being built, and wait for a change
//! no longer than one batch takes to apply.

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

use crate::number::{canonical_key, Canonical, NumberPlan};

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
fn row_keys(row: &CustomerRow, plan: &NumberPlan) -> Vec<Canonical> {
    let mut keys: Vec<Canonical> = Vec::new();
    for field in [&row.phone, &row.mobile] {
        for piece in split_numbers(field) {
            if let Some(key) = canonical_key(piece, plan) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

/// `change_time` as one integer in the same order; 0 for none, which sorts
/// before (loses to) every real time. 16+4+5+5+6+6+20 = 62 bits.
fn time_key(t: Option<ChangeTime>) -> u64 {
    match t {
        None => 0,
        Some(t) => {
            u64::from(t.year) << 46
                | u64::from(t.month) << 42
                | u64::from(t.day) << 37
                | u64::from(t.hour) << 32
                | u64::from(t.minute) << 26
                | u64::from(t.second) << 20
                | u64::from(t.micros)
        }
    }
}

/// Numbers too long to pack ([`Canonical::packed`]) get keys with bit 63 set,
/// handed out in order; packed keys never have it.
const LONG_KEY: u64 = 1 << 63;

/// One slot of an open-addressing table: `key` 0 is an empty slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    key: u64,
    /// numbers: where the best customer's text is ([`TextRef`]); logins: slot.
    a: u32,
    /// numbers: how many customers have the number.
    b: u32,
}

/// A hash table of 16-byte buckets with linear probing: a lookup usually
/// reads one cache line, with no pointer to follow to find or compare the key.
/// Keys are integers (never 0) and may repeat (the login table, keyed by a
/// hash, keeps colliding logins side by side); deletion shifts later buckets
/// back, so there are no tombstones.
#[derive(Debug)]
struct Table {
    buckets: ZeroBuf<Bucket>,
    len: usize,
    /// 64 - log2(buckets.len())
    shift: u32,
    /// Grows beyond this percentage of buckets in use.
    max_load: usize,
}

/// Below this many buckets the table is not grown for load factor reasons
/// alone (16 buckets: 256 bytes).
const MIN_BUCKETS: usize = 16;

impl Table {
    fn new(max_load: usize) -> Table {
        Table::with_buckets(MIN_BUCKETS, max_load)
    }

    fn with_buckets(n: usize, max_load: usize) -> Table {
        let n = n.max(MIN_BUCKETS).next_power_of_two();
        Table { buckets: ZeroBuf::new(n), len: 0, shift: 64 - n.trailing_zeros(), max_load }
    }

    fn fits(&self, len: usize) -> bool {
        len * 100 <= self.buckets.len() * self.max_load
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    /// Fibonacci hashing: the top bits of key * 2^64/phi. Keys that differ
    /// in their low digits (consecutive numbers) land far apart.
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The bucket holding `key` (the first one, if it repeats).
    fn find(&self, key: u64) -> Option<usize> {
        self.find_where(key, |_| true)
    }

    /// The first bucket holding `key` for which `pred` holds.
    fn find_where(&self, key: u64, pred: impl Fn(&Bucket) -> bool) -> Option<usize> {
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let b = &self.buckets[i];
            if b.key == key && pred(b) {
                return Some(i);
            }
            if b.key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds a bucket (even if the key is there already). Grows past
    /// `max_load`, which keeps probe runs short.
    fn insert(&mut self, bucket: Bucket) {
        if !self.fits(self.len + 1) {
            self.rehash(self.buckets.len() * 2);
        }
        self.put(bucket);
        self.len += 1;
    }

    fn put(&mut self, bucket: Bucket) {
        let mask = self.mask();
        let mut i = self.home(bucket.key);
        while self.buckets[i].key != 0 {
            i = (i + 1) & mask;
        }
        self.buckets[i] = bucket;
    }

    fn remove_at(&mut self, at: usize) {
        let mask = self.mask();
        let mut hole = at;
        let mut j = at;
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b.key == 0 {
                break;
            }
            // b may move back to the hole if the hole is not before its home.
            let home = self.home(b.key);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = Bucket::default();
        self.len -= 1;
    }

    /// Room for `extra` more buckets without growing.
    fn reserve(&mut self, extra: usize) {
        let want = self.len + extra;
        if !self.fits(want) {
            self.rehash((want * 100).div_ceil(self.max_load));
        }
    }

    fn rehash(&mut self, n: usize) {
        let old = std::mem::replace(self, Table::with_buckets(n, self.max_load));
        self.len = old.len;
        for b in old.buckets.iter().filter(|b| b.key != 0) {
            self.put(*b);
        }
    }
}

/// Linear probing stays short up to about this load (a hit reads 1.2
/// buckets on average, a miss 2.6 at 70 %; four buckets share a cache line).
const NUMBERS_LOAD: usize = 70;
/// The login table is only used by refreshes: fuller is fine.
const LOGINS_LOAD: usize = 85;

/// Marks types whose all-zero bytes are a valid value (fresh anonymous
/// memory is zeroed).
///
/// # Safety
/// Only for plain integer types and structs of them.
unsafe trait Zeroed: Copy {}
// SAFETY: integers.
unsafe impl Zeroed for u8 {}
// SAFETY: a struct of integers.
unsafe impl Zeroed for Bucket {}

const HUGE_PAGE: usize = 2 << 20;

/// A fixed-size, zero-initialised array. From 1 MiB up it is mapped on its
/// own, aligned to 2 MiB and advised to use transparent huge pages
/// (MADV_HUGEPAGE; THP is in `madvise` mode on usual servers): random
/// lookups over a large index then miss the TLB about never, and the memory
/// goes back to the system as soon as it is dropped (a replaced index leaves
/// no holes in the malloc heap). Smaller ones are plain vectors.
struct ZeroBuf<T: Zeroed> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    /// The mapping (start, length) when mapped; None for a leaked Vec's.
    map: Option<(*mut libc::c_void, usize)>,
}

// SAFETY: owns its memory like a Box<[T]>.
unsafe impl<T: Zeroed + Send> Send for ZeroBuf<T> {}
// SAFETY: as above; shared access only reads.
unsafe impl<T: Zeroed + Sync> Sync for ZeroBuf<T> {}

impl<T: Zeroed> ZeroBuf<T> {
    fn new(len: usize) -> ZeroBuf<T> {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        if bytes >= 1 << 20 {
            if let Some(buf) = Self::mapped(len, bytes) {
                return buf;
            }
        }
        // SAFETY: T is Zeroed.
        let boxed: Box<[T]> = (0..len).map(|_| unsafe { std::mem::zeroed() }).collect();
        let len = boxed.len();
        let ptr = std::ptr::NonNull::new(Box::into_raw(boxed).cast::<T>()).unwrap_or(std::ptr::NonNull::dangling());
        ZeroBuf { ptr, len, map: None }
    }

    fn mapped(len: usize, bytes: usize) -> Option<ZeroBuf<T>> {
        let size = bytes.next_multiple_of(HUGE_PAGE);
        let total = size + HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping; checked for failure.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let start = (base as usize).next_multiple_of(HUGE_PAGE);
        let head = start - base as usize;
        let tail = total - head - size;
        // SAFETY: trimming the unaligned ends of our own mapping, then a
        // hint on the rest; none of it has been touched yet, so the first
        // touch can fault in a huge page.
        unsafe {
            if head > 0 {
                libc::munmap(base, head);
            }
            if tail > 0 {
                libc::munmap((start + size) as *mut libc::c_void, tail);
            }
            libc::madvise(start as *mut libc::c_void, size, libc::MADV_HUGEPAGE);
        }
        let ptr = std::ptr::NonNull::new(start as *mut T)?;
        Some(ZeroBuf { ptr, len, map: Some((start as *mut libc::c_void, size)) })
    }
}

impl<T: Zeroed> std::ops::Deref for ZeroBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: ptr points at len initialised (zeroed or written) Ts we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroed> std::ops::DerefMut for ZeroBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, and &mut self is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroed> Drop for ZeroBuf<T> {
    fn drop(&mut self) {
        match self.map {
            // SAFETY: our mapping, unmapped once.
            Some((start, size)) => unsafe {
                libc::munmap(start, size);
            },
            // SAFETY: made by Box::into_raw from a Box<[T]> of this length.
            None => unsafe {
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len)));
            },
        }
    }
}

impl<T: Zeroed> fmt::Debug for ZeroBuf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZeroBuf({} x {} bytes, mapped: {})", self.len, std::mem::size_of::<T>(), self.map.is_some())
    }
}

/// Where a customer's text is in the [`Arena`]: chunk << 21 | offset.
type TextRef = u32;

const CHUNK_BITS: u32 = 21;
/// Text is stored in chunks of 2 MiB, one huge page each (a bigger record
/// gets a chunk of its own); the first one is small, for small indexes.
const CHUNK: usize = 1 << CHUNK_BITS;
const FIRST_CHUNK: usize = 64 << 10;
/// Separates the fields of a record: never part of UTF-8 text.
const SEP: u8 = 0xFF;
/// slot (u32) and length (u32) before each record's text.
const RECORD_HEAD: usize = 8;

/// The text of all customers, packed: per customer one record, its slot
/// number, length, then login, customer_id, first name, last name and email
/// separated by [`SEP`]. A lookup reads one record (one or two cache lines)
/// instead of five strings behind five pointers. Chunks are never moved, so
/// appending needs no copy; replaced records stay as garbage until the next
/// full reload builds a fresh arena.
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Chunk>,
    garbage: usize,
}

#[derive(Debug)]
struct Chunk {
    buf: ZeroBuf<u8>,
    used: usize,
}

impl Arena {
    fn push(&mut self, slot: u32, text: &[u8]) -> TextRef {
        let need = RECORD_HEAD + text.len();
        let fits = self.chunks.last().is_some_and(|c| c.buf.len() - c.used >= need);
        if !fits {
            let size = if self.chunks.is_empty() { FIRST_CHUNK } else { CHUNK };
            self.chunks.push(Chunk { buf: ZeroBuf::new(need.max(size)), used: 0 });
        }
        let index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[index];
        let offset = chunk.used;
        let record = &mut chunk.buf[offset..offset + need];
        record[..4].copy_from_slice(&slot.to_le_bytes());
        record[4..8].copy_from_slice(&(text.len() as u32).to_le_bytes());
        record[8..].copy_from_slice(text);
        chunk.used += need;
        // 2048 chunks of 2 MiB: 4 GiB of customer text before this wraps.
        ((index as u32) << CHUNK_BITS) | offset as u32
    }

    /// The record at `at`: its slot and text. Never panics, even on a
    /// reference that is not one (an index left half-changed by a panic
    /// while the lock was held is read until the next full reload replaces it).
    fn record(&self, at: TextRef) -> (u32, &[u8]) {
        let offset = (at & ((1 << CHUNK_BITS) - 1)) as usize;
        let read = || {
            let chunk = &self.chunks.get((at >> CHUNK_BITS) as usize)?.buf;
            let head = chunk.get(offset..offset + RECORD_HEAD)?;
            let slot = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
            Some((slot, chunk.get(offset + RECORD_HEAD..offset + RECORD_HEAD + len)?))
        };
        read().unwrap_or((u32::MAX, &[]))
    }

    fn text(&self, at: TextRef) -> &[u8] {
        self.record(at).1
    }

    fn slot(&self, at: TextRef) -> u32 {
        self.record(at).0
    }

    fn forget(&mut self, at: TextRef) {
        self.garbage += RECORD_HEAD + self.text(at).len();
    }

    fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.used).sum()
    }

    fn customer(&self, at: TextRef) -> Customer {
        let mut fields = self.text(at).split(|&b| b == SEP).map(|f| String::from_utf8_lossy(f).into_owned());
        let mut next = || fields.next().unwrap_or_default();
        Customer { login: next(), customer_id: next(), first_name: next(), last_name: next(), email: next() }
    }

    fn login(&self, at: TextRef) -> &[u8] {
        let text = self.text(at);
        text.split(|&b| b == SEP).next().unwrap_or(text)
    }
}

/// A row's record text (see [`Arena`]), written into `out`.
fn encode_text(row: &CustomerRow, out: &mut Vec<u8>) {
    out.clear();
    for (i, field) in [&row.login, &row.customer_id, &row.first_name, &row.last_name, &row.email].into_iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(field.as_bytes());
    }
}

fn login_hash(login: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    login.hash(&mut h);
    h.finish().max(1)
}

/// What is kept per customer besides its text: 40 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    id: u64,
    /// [`time_key`] of change_time.
    time: u64,
    text: TextRef,
    /// How many numbers; the first two are in `keys`, all of them in
    /// `Index::more_keys` when there are more.
    nkeys: u32,
    keys: [u64; 2],
}

impl Slot {
    /// Order within a number: most recently changed first, then smaller id.
    /// (0, a missing change_time, sorts after every real time.)
    fn rank(&self) -> (Reverse<u64>, u64) {
        (Reverse(self.time), self.id)
    }
}

/// The index proper, changed in place under the write lock.
#[derive(Debug)]
struct Index {
    /// number key -> (best customer's text, how many customers).
    numbers: Table,
    /// number key -> slots of its customers, best first (see [`Slot::rank`]),
    /// for numbers that more than one customer has.
    multi: HashMap<u64, Vec<u32>>,
    /// Keys given to numbers too long to pack (19 or 20 digits: not phone
    /// numbers, but they must still match). Kept until the next full reload.
    long_keys: HashMap<Box<str>, u64>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Keys of slots with more than two numbers.
    more_keys: HashMap<u32, Box<[u64]>>,
    /// customer_user.id -> slot.
    ids: HashMap<u64, u32>,
    /// hash of login -> slot; a login is unique, so a row with a known login
    /// but a new id (deleted and re-created) replaces the old one.
    logins: Table,
    text: Arena,
    /// Scratch for encoding a row's text.
    scratch: Vec<u8>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            numbers: Table::new(NUMBERS_LOAD),
            multi: HashMap::new(),
            long_keys: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            more_keys: HashMap::new(),
            ids: HashMap::new(),
            logins: Table::new(LOGINS_LOAD),
            text: Arena::default(),
            scratch: Vec::new(),
        }
    }
}

impl Index {
    /// Builds an index from a full read. Each shared number's list is sorted
    /// once at the end: inserting in order would be quadratic when thousands
    /// of customers share an office number.
    #[cfg(test)]
    fn from_rows(rows: impl IntoIterator<Item = CustomerRow>, plan: &NumberPlan) -> Index {
        let mut index = Index::default();
        for row in rows {
            index.apply(&row, plan, false);
        }
        index.finish_build();
        index
    }

    fn finish_build(&mut self) {
        let Index { multi, slots, numbers, .. } = self;
        for (key, list) in multi.iter_mut() {
            list.sort_by_key(|&s| slots[s as usize].rank());
            if let Some(i) = numbers.find(*key) {
                numbers.buckets[i].a = slots[list[0] as usize].text;
            }
        }
        // Room for a quarter more numbers before an incremental change has
        // to grow (rehash) the table under the lock.
        self.numbers.reserve(self.numbers.len / 4);
    }

    fn customers(&self) -> usize {
        self.ids.len()
    }

    fn number_count(&self) -> usize {
        self.numbers.len
    }

    /// The key of a number, if it is in the index (long ones may not be).
    fn key_of(&self, number: &Canonical) -> Option<u64> {
        match number.packed() {
            Some(k) => Some(k),
            None => self.long_keys.get(number.as_str()).copied(),
        }
    }

    fn intern(&mut self, number: &Canonical) -> u64 {
        if let Some(k) = self.key_of(number) {
            return k;
        }
        let k = LONG_KEY | (self.long_keys.len() as u64 + 1);
        self.long_keys.insert(number.as_str().into(), k);
        k
    }

    fn keys(&self, slot: u32) -> &[u64] {
        let s = &self.slots[slot as usize];
        if s.nkeys as usize <= s.keys.len() {
            &s.keys[..s.nkeys as usize]
        } else {
            self.more_keys.get(&slot).map_or(&[], |k| &k[..])
        }
    }

    fn login_slot(&self, login: &[u8]) -> Option<u32> {
        let i = self
            .logins
            .find_where(login_hash(login), |b| self.text.login(self.slots[b.a as usize].text) == login)?;
        Some(self.logins.buckets[i].a)
    }

    /// Puts one row in: removes what was indexed for its id or login, then, if
    /// it is valid, indexes it. `sorted` keeps each number's list in order
    /// (incremental changes); a full build sorts once at the end instead.
    fn apply(&mut self, row: &CustomerRow, plan: &NumberPlan, sorted: bool) {
        if let Some(slot) = self.ids.get(&row.id).copied() {
            self.remove(slot);
        }
        if let Some(other) = self.login_slot(row.login.as_bytes()) {
            self.remove(other);
        }
        if !row.valid {
            return;
        }
        let numbers = row_keys(row, plan);
        let keys: Vec<u64> = numbers.iter().map(|n| self.intern(n)).collect();
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        encode_text(row, &mut scratch);
        let text = self.text.push(slot, &scratch);
        self.scratch = scratch;
        let mut inline = [0u64; 2];
        for (dst, k) in inline.iter_mut().zip(&keys) {
            *dst = *k;
        }
        self.slots[slot as usize] =
            Slot { id: row.id, time: time_key(row.change_time), text, nkeys: keys.len() as u32, keys: inline };
        if keys.len() > inline.len() {
            self.more_keys.insert(slot, keys.clone().into_boxed_slice());
        }
        self.ids.insert(row.id, slot);
        self.logins.insert(Bucket { key: login_hash(row.login.as_bytes()), a: slot, b: 0 });
        for key in keys {
            self.add_to_number(key, slot, sorted);
        }
    }

    fn add_to_number(&mut self, key: u64, slot: u32, sorted: bool) {
        let text = self.slots[slot as usize].text;
        let Some(i) = self.numbers.find(key) else {
            self.numbers.insert(Bucket { key, a: text, b: 1 });
            return;
        };
        let bucket = self.numbers.buckets[i];
        let slots = &self.slots;
        let list = self.multi.entry(key).or_insert_with(|| vec![self.text.slot(bucket.a)]);
        if sorted {
            let rank = slots[slot as usize].rank();
            let at = list.partition_point(|&s| slots[s as usize].rank() < rank);
            list.insert(at, slot);
        } else {
            list.push(slot);
        }
        self.numbers.buckets[i] = Bucket { key, a: slots[list[0] as usize].text, b: list.len() as u32 };
    }

    fn remove_from_number(&mut self, key: u64, slot: u32) {
        let Some(i) = self.numbers.find(key) else { return };
        if self.numbers.buckets[i].b <= 1 {
            self.numbers.remove_at(i);
            return;
        }
        let Some(list) = self.multi.get_mut(&key) else { return };
        if let Some(at) = list.iter().position(|&s| s == slot) {
            list.remove(at);
        }
        let first = list.first().map_or(0, |&s| self.slots[s as usize].text);
        let count = list.len() as u32;
        if list.len() <= 1 {
            self.multi.remove(&key);
        }
        if count == 0 {
            self.numbers.remove_at(i);
        } else {
            self.numbers.buckets[i] = Bucket { key, a: first, b: count };
        }
    }

    fn remove(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        if self.ids.get(&s.id) == Some(&slot) {
            self.ids.remove(&s.id);
        }
        let login = self.text.login(s.text);
        if let Some(i) = self.logins.find_where(login_hash(login), |b| b.a == slot) {
            self.logins.remove_at(i);
        }
        let keys = self.keys(slot).to_vec();
        for key in keys {
            self.remove_from_number(key, slot);
        }
        self.more_keys.remove(&slot);
        self.text.forget(s.text);
        self.slots[slot as usize] = Slot::default();
        self.free.push(slot);
    }

    /// Whether applying `row` would change nothing (the incremental window
    /// re-reads the newest rows).
    fn is_current(&self, row: &CustomerRow, plan: &NumberPlan, scratch: &mut Vec<u8>) -> bool {
        let Some(&slot) = self.ids.get(&row.id) else {
            return !row.valid && self.login_slot(row.login.as_bytes()).is_none();
        };
        let s = &self.slots[slot as usize];
        if !row.valid || s.time != time_key(row.change_time) {
            return false;
        }
        encode_text(row, scratch);
        if self.text.text(s.text) != scratch.as_slice() {
            return false;
        }
        let numbers = row_keys(row, plan);
        let have = self.keys(slot);
        numbers.len() == have.len() && numbers.iter().zip(have).all(|(n, k)| self.key_of(n) == Some(*k))
    }

    fn lookup(&self, number: &Canonical) -> (usize, Option<Arc<Customer>>) {
        let found = self.key_of(number).and_then(|k| self.numbers.find(k));
        match found {
            Some(i) => {
                let b = self.numbers.buckets[i];
                (b.b as usize, Some(Arc::new(self.text.customer(b.a))))
            }
            None => (0, None),
        }
    }

    fn all(&self, number: &Canonical) -> Vec<Arc<Customer>> {
        let Some(key) = self.key_of(number) else { return Vec::new() };
        let Some(i) = self.numbers.find(key) else { return Vec::new() };
        match self.multi.get(&key) {
            Some(list) => list.iter().map(|&s| Arc::new(self.text.customer(self.slots[s as usize].text))).collect(),
            None => vec![Arc::new(self.text.customer(self.numbers.buckets[i].a))],
        }
    }

    /// Whether replaced text outweighs the live text (then the next refresh
    /// should be a full one, which packs it afresh).
    fn wants_rebuild(&self) -> bool {
        let garbage = self.text.garbage;
        garbage > (4 << 20) && garbage > self.text.bytes() - garbage
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
    /// The longest the index was locked for writing: lookups waited no
    /// longer than this (unless the thread holding it was descheduled).
    pub longest_hold: Duration,
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

/// Incremental passes reread this many seconds before what the previous pass
/// surely saw: a transaction may stamp a row, then commit after a newer row
/// was read. Rows re-read because of it are recognised and skipped.
pub const CHANGE_TIME_SLACK_SECS: u32 = 5;

/// Only `valid_id = 1` customers may be matched; a full read needs no others.
/// Bound parameters only, even for constants.
fn full_sql() -> String {
    format!("SELECT {COLUMNS} FROM customer_user WHERE valid_id = ?")
}

/// Every row changed since a bound ([`Cursor::since`]: a change_time plus a
/// signed number of microseconds), valid or not: a customer made invalid
/// must leave the index.
fn changed_sql() -> String {
    format!("SELECT {COLUMNS} FROM customer_user WHERE change_time >= DATE_ADD(?, INTERVAL ? MICROSECOND)")
}

/// Where the next incremental pass starts reading.
///
/// The rule before was "change_time >= newest seen - slack", which rereads
/// every row of a bulk import (all with the newest change_time) on every pass
/// until somebody edits a customer. Now the bound also moves with time: the
/// newest change_time `newest` had been written by the time the read that
/// returned it ended (`newest_seen`, our clock), so when the previous pass
/// started its read (`last_read`), the database's clock read at least
/// `newest + (last_read - newest_seen)`. Every row stamped more than the slack
/// before that had committed (the same assumption as before: a transaction
/// commits within the slack after stamping its rows) and was seen by that
/// read. So the next pass reads from
/// `newest + max(0, last_read - newest_seen) - slack`: right after a change
/// the old window, one pass later only what is new. Only `change_time` values
/// and our monotonic clock are compared, never the database's NOW(), so
/// neither clock's zone matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cursor {
    newest: Option<ChangeTime>,
    newest_seen: Option<Instant>,
    last_read: Option<Instant>,
}

impl Cursor {
    /// The newest change_time of a read that started at `started` and ended
    /// at `ended`.
    fn advance(&mut self, newest: Option<ChangeTime>, started: Instant, ended: Instant) {
        if newest > self.newest || self.newest_seen.is_none() {
            self.newest = newest.max(self.newest);
            self.newest_seen = Some(ended);
        }
        self.last_read = Some(started);
    }

    /// The bound of the next read: (change_time, microseconds to add), or
    /// `None` when nothing was seen yet.
    fn since(&self) -> Option<(ChangeTime, i64)> {
        let newest = self.newest?;
        let elapsed = match (self.last_read, self.newest_seen) {
            (Some(read), Some(seen)) => read.saturating_duration_since(seen),
            _ => Duration::ZERO,
        };
        let micros = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX / 2);
        Some((newest, micros - i64::from(CHANGE_TIME_SLACK_SECS) * 1_000_000))
    }
}

/// Rows applied under one hold of the write lock: a lookup never waits for
/// more than this many changes (some tens of microseconds).
const APPLY_BATCH: usize = 16;

/// How long a lookup spins for the read lock before it sleeps on it.
const SPIN_LIMIT: Duration = Duration::from_millis(1);

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
    /// Changed in place by incremental passes, a batch of rows per write
    /// lock; replaced whole by a full reload.
    current: RwLock<Option<Box<Index>>>,
    /// One refresh at a time, and where the next incremental one starts.
    refresh: Mutex<Cursor>,
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
            refresh: Mutex::new(Cursor::default()),
            health: Mutex::new(Health::default()),
        }
    }

    pub fn plan(&self) -> &NumberPlan {
        &self.plan
    }

    pub fn is_loaded(&self) -> bool {
        self.read().is_some()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Box<Index>>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The read lock for a lookup. While a refresh applies a batch, waiting
    /// for it by spinning costs the caller some microseconds; sleeping on the
    /// lock would cost it the wakeup, which on a busy machine can be several
    /// milliseconds before the thread gets a CPU again. After about a
    /// millisecond of spinning (the writer itself was descheduled), sleep.
    fn read_spinning(&self) -> std::sync::RwLockReadGuard<'_, Option<Box<Index>>> {
        let mut started: Option<Instant> = None;
        for round in 0u32.. {
            match self.current.try_read() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if round % 64 == 63 {
                let since = *started.get_or_insert_with(Instant::now);
                if since.elapsed() > SPIN_LIMIT {
                    return self.read();
                }
            }
            std::hint::spin_loop();
        }
        self.read()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Box<Index>>> {
        self.current.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, index: Index) {
        let old = {
            let mut current = self.write();
            // A panic while applying a change may have left the old index
            // half-changed; this one is whole.
            self.current.clear_poison();
            current.replace(Box::new(index))
        };
        // Freed here, after the lock is released: lookups must not wait for it.
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
        let key = canonical_key(raw_number, &self.plan);
        let current = self.read_spinning();
        let index = current.as_ref().ok_or(IndexError::NotLoaded)?;
        let Some(key) = key else {
            return Ok(Lookup { matches: 0, customer: None, key: None });
        };
        let (matches, customer) = index.lookup(&key);
        drop(current);
        Ok(Lookup { matches, customer, key: Some(key.to_string()) })
    }

    /// Every customer with this number, in the order the rule picks them
    /// (first = the one a call gets), with the canonical form looked up.
    /// For the CLI dry run `otrs test lookup`.
    pub fn lookup_all(&self, raw_number: &str) -> Result<(Option<String>, Vec<Arc<Customer>>), IndexError> {
        let key = canonical_key(raw_number, &self.plan);
        let current = self.read_spinning();
        let index = current.as_ref().ok_or(IndexError::NotLoaded)?;
        let all = key.as_ref().map(|k| index.all(k)).unwrap_or_default();
        Ok((key.map(|k| k.to_string()), all))
    }

    pub fn status(&self) -> IndexStatus {
        let (loaded, customers, numbers) = {
            let current = self.read();
            let index = current.as_ref();
            (index.is_some(), index.map_or(0, |i| i.customers()), index.map_or(0, |i| i.number_count()))
        };
        let health = lock(&self.health);
        IndexStatus {
            loaded,
            customers,
            numbers,
            last_refresh: health.last_refresh,
            last_error: health.last_error.clone(),
            db_up: health.db_up,
        }
    }

    /// Reads every valid customer and replaces the index with a new one built
    /// from them. On error the old index (if any) stays in use.
    pub fn refresh_full(&self) -> Result<RefreshStats, String> {
        let mut cursor = lock(&self.refresh);
        self.full_locked(&mut cursor)
    }

    /// Reads the rows changed since the last refresh (see `Cursor`) and
    /// updates their customers in place (a row now invalid is removed).
    /// Deleted rows are only noticed by [`refresh_full`](Self::refresh_full).
    /// Does a full reload when the index was never loaded, or when replaced
    /// text has piled up.
    pub fn refresh_changed(&self) -> Result<RefreshStats, String> {
        let mut cursor = lock(&self.refresh);
        let rebuild = self.current.is_poisoned() || self.read().as_ref().is_none_or(|i| i.wants_rebuild());
        let since = cursor.since();
        let Some(since) = since.filter(|_| !rebuild) else {
            // Nothing seen yet (no valid customer): nothing to start from.
            return self.full_locked(&mut cursor);
        };
        let started = Instant::now();
        // Rows that change nothing (the slack window's rereads) are dropped as
        // they arrive: a reread of 100 000 rows keeps none of them.
        let (mut rows, mut newest, mut changed) = (0usize, None, Vec::new());
        let mut scratch = Vec::new();
        self.fetch(Some(since), &mut |row| {
            rows += 1;
            newest = newest.max(row.change_time);
            let current = self.read();
            if !current.as_ref().is_some_and(|i| i.is_current(&row, &self.plan, &mut scratch)) {
                changed.push(row);
            }
        })
        .inspect_err(|e| self.note_error(e))?;
        cursor.advance(newest, started, Instant::now());
        let mut stats = self.apply_changes(&changed, started);
        stats.rows = rows;
        self.note_success();
        Ok(stats)
    }

    fn full_locked(&self, cursor: &mut Cursor) -> Result<RefreshStats, String> {
        let started = Instant::now();
        let mut index = Index::default();
        let (mut rows, mut newest) = (0usize, None);
        self.fetch(None, &mut |row| {
            rows += 1;
            newest = newest.max(row.change_time);
            index.apply(&row, &self.plan, false);
        })
        .inspect_err(|e| self.note_error(e))?;
        index.finish_build();
        // The cursor carries on: this read saw every row the next
        // incremental pass could otherwise have to reread (see [`Cursor`]),
        // so a full reload does not make the next pass reread a bulk import.
        cursor.advance(newest, started, Instant::now());
        let stats = self.install(index, rows, started);
        self.note_success();
        Ok(stats)
    }

    /// Publishes a freshly built index; the SQL-free half of a full reload.
    fn install(&self, index: Index, rows: usize, started: Instant) -> RefreshStats {
        let stats = RefreshStats {
            full: true,
            rows,
            changed: rows,
            customers: index.customers(),
            numbers: index.number_count(),
            elapsed: started.elapsed(),
            longest_hold: Duration::ZERO,
        };
        let t0 = Instant::now();
        self.publish(index);
        RefreshStats { longest_hold: t0.elapsed(), ..stats }
    }

    /// Applies the rows that change something, in place, [`APPLY_BATCH`] at a
    /// time under the write lock; lookups go on between batches and see each
    /// row either before or after, never half applied. Rows that change
    /// nothing (the slack window's rereads) cost a comparison under the read
    /// lock only.
    fn apply_changes(&self, rows: &[CustomerRow], started: Instant) -> RefreshStats {
        let changed: Vec<&CustomerRow> = {
            let current = self.read();
            let Some(index) = current.as_ref() else {
                return RefreshStats {
                    full: false,
                    rows: rows.len(),
                    changed: 0,
                    customers: 0,
                    numbers: 0,
                    elapsed: started.elapsed(),
                    longest_hold: Duration::ZERO,
                };
            };
            let mut scratch = Vec::new();
            rows.iter().filter(|r| !index.is_current(r, &self.plan, &mut scratch)).collect()
        };
        let (mut longest_hold, mut applied) = (Duration::ZERO, 0);
        let mut scratch = Vec::new();
        for batch in changed.chunks(APPLY_BATCH) {
            let mut current = self.write();
            let t0 = Instant::now();
            if let Some(index) = current.as_mut() {
                for row in batch {
                    // Checked again: an earlier row of this pass may have
                    // made it current (or no longer so).
                    if !index.is_current(row, &self.plan, &mut scratch) {
                        index.apply(row, &self.plan, true);
                        applied += 1;
                    }
                }
            }
            drop(current);
            longest_hold = longest_hold.max(t0.elapsed());
            // Lookups spinning for the lock get their turn before the next batch.
            thread::yield_now();
        }
        let (customers, numbers) = {
            let current = self.read();
            current.as_ref().map_or((0, 0), |i| (i.customers(), i.number_count()))
        };
        RefreshStats {
            full: false,
            rows: rows.len(),
            changed: applied,
            customers,
            numbers,
            elapsed: started.elapsed(),
            longest_hold,
        }
    }

    /// Reads customer rows, handing each to `each`: all valid ones (`since`
    /// None), or all changed at or after the bound `since`. A connection per
    /// refresh: refreshes are seconds apart, and a fresh connection needs no
    /// handling of one the server closed meanwhile (wait_timeout, restarts).
    fn fetch(&self, since: Option<(ChangeTime, i64)>, each: &mut dyn FnMut(CustomerRow)) -> Result<(), String> {
        let fail = |what: &str, e: mysql::Error| self.db.scrub(format!("{what} {}: {e}", self.db.target()));
        let mut conn = Conn::new(self.db.opts()).map_err(|e| fail("cannot connect to the OTRS database at", e))?;
        let result = match since {
            None => conn.exec_iter(full_sql(), (1u8,)),
            Some((t, micros)) => conn.exec_iter(changed_sql(), (t.to_value(), micros)),
        }
        .map_err(|e| fail("cannot read customer_user from", e))?;
        for row in result {
            let row = row.map_err(|e| fail("cannot read customer_user from", e))?;
            // A row without id or login cannot be a ticket's customer: skip it.
            if let Some(row) = CustomerRow::from_mysql(&row) {
                each(row);
            }
        }
        Ok(())
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
        index.install(Index::from_rows(rows.iter().cloned(), &ru()), rows.len(), Instant::now());
        index
    }

    fn update(index: &CustomerIndex, rows: &[CustomerRow]) -> RefreshStats {
        index.apply_changes(rows, Instant::now())
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
        // Re-reading unchanged rows changes nothing.
        let stats = update(&index, &samples());
        assert_eq!((stats.rows, stats.changed), (9, 0));

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

    /// A small deterministic generator for the randomised tests.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn table_insert_find_remove() {
        // Against a HashMap, with enough keys that probe runs form and
        // deletions have to shift buckets back.
        let mut table = Table::new(NUMBERS_LOAD);
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut rng = Lcg(1);
        for step in 0..20_000u32 {
            let key = 1 + rng.below(3_000);
            match (model.contains_key(&key), rng.below(3)) {
                (false, _) => {
                    table.insert(Bucket { key, a: step, b: 0 });
                    model.insert(key, step);
                }
                (true, 0) => {
                    let i = table.find(key).expect("in the table");
                    table.remove_at(i);
                    model.remove(&key);
                }
                (true, _) => {}
            }
            if step % 1000 == 0 {
                for k in 1..=3_000u64 {
                    assert_eq!(table.find(k).map(|i| table.buckets[i].a), model.get(&k).copied(), "key {k} at step {step}");
                }
            }
        }
        assert_eq!(table.len, model.len());
        assert!(table.fits(table.len));
        // Repeated keys (colliding login hashes) are told apart by `pred`.
        let mut t = Table::new(LOGINS_LOAD);
        for a in 0..5 {
            t.insert(Bucket { key: 42, a, b: 0 });
        }
        let i = t.find_where(42, |b| b.a == 3).expect("the fourth");
        t.remove_at(i);
        assert_eq!(t.find_where(42, |b| b.a == 3), None);
        for a in [0, 1, 2, 4] {
            assert!(t.find_where(42, |b| b.a == a).is_some(), "{a}");
        }
    }

    #[test]
    fn big_buffers_are_mapped_and_zeroed() {
        let small: ZeroBuf<u8> = ZeroBuf::new(100);
        assert!(small.map.is_none() && small.iter().all(|&b| b == 0));
        let mut big: ZeroBuf<Bucket> = ZeroBuf::new(300_000);
        assert_eq!(big.len(), 300_000);
        if let Some((start, size)) = big.map {
            assert_eq!(start as usize % HUGE_PAGE, 0);
            assert!(size >= 300_000 * 16);
        }
        assert!(big.iter().all(|b| *b == Bucket::default()));
        big[299_999] = Bucket { key: 7, a: 1, b: 2 };
        assert_eq!(big[299_999].key, 7);
        let empty: ZeroBuf<u8> = ZeroBuf::new(0);
        assert!(empty.is_empty());
        // A table that grows into mapped buckets keeps every key.
        let mut t = Table::new(NUMBERS_LOAD);
        for k in 1..=200_000u64 {
            t.insert(Bucket { key: k * 2, a: k as u32, b: 1 });
        }
        assert!(t.buckets.map.is_some());
        assert!((1..=200_000u64).all(|k| t.find(k * 2).map(|i| t.buckets[i].a) == Some(k as u32)));
        assert_eq!(t.find(3), None);
    }

    #[test]
    fn time_key_keeps_order() {
        let times = [
            None,
            t(1970, 1, 1, 0, 0, 0),
            ChangeTime::new(1970, 1, 1, 0, 0, 0, 1),
            t(2024, 12, 31, 23, 59, 59),
            ChangeTime::new(2024, 12, 31, 23, 59, 59, 999_999),
            t(2025, 1, 1, 0, 0, 0),
            t(2025, 6, 1, 10, 0, 0),
            t(9999, 12, 31, 23, 59, 59),
        ];
        for w in times.windows(2) {
            assert!(time_key(w[0]) < time_key(w[1]), "{w:?}");
        }
        assert_eq!(time_key(None), 0);
    }

    #[test]
    fn long_numbers_and_leading_zeros() {
        let plain = NumberPlan { national_prefix: String::new(), international_prefixes: vec![], ..NumberPlan::default() };
        let index = CustomerIndex::new(DbSettings::default(), plain.clone());
        let when = t(2025, 1, 1, 0, 0, 0);
        let rows = [
            row(1, "zero", "0123456", "", when),
            row(2, "nozero", "123456", "", when),
            row(3, "long19", &"1".repeat(19), "", when),
            row(4, "long20", &"2".repeat(20), "", when),
            row(5, "long20b", &"2".repeat(20), &"3".repeat(19), when),
        ];
        index.install(Index::from_rows(rows.iter().cloned(), &plain), rows.len(), Instant::now());
        assert_eq!(who(&index, "0123456"), (1, Some("zero".into())));
        assert_eq!(who(&index, "123456"), (1, Some("nozero".into())));
        assert_eq!(who(&index, "00123456"), (0, None));
        assert_eq!(who(&index, &"1".repeat(19)), (1, Some("long19".into())));
        assert_eq!(who(&index, &"1".repeat(20)), (0, None));
        assert_eq!(who(&index, &"2".repeat(20)), (2, Some("long20".into())));
        assert_eq!(who(&index, &"3".repeat(19)), (1, Some("long20b".into())));
        let (key, all) = index.lookup_all(&"2".repeat(20)).expect("loaded");
        assert_eq!(key, Some("2".repeat(20)));
        assert_eq!(all.iter().map(|c| c.login.as_str()).collect::<Vec<_>>(), ["long20", "long20b"]);
        // Changed in place: the long number moves, the short one goes.
        update(&index, &[row(5, "long20b", "", &"4".repeat(19), t(2026, 1, 1, 0, 0, 0)), row(1, "zero", "", "", when)]);
        assert_eq!(who(&index, &"2".repeat(20)), (1, Some("long20".into())));
        assert_eq!(who(&index, &"3".repeat(19)), (0, None));
        assert_eq!(who(&index, &"4".repeat(19)), (1, Some("long20b".into())));
        assert_eq!(who(&index, "0123456"), (0, None));
        assert_eq!(who(&index, "123456"), (1, Some("nozero".into())));
        assert_eq!(index.status().numbers, 4);
    }

    /// Every number's customers, best first, and the counts: what a lookup
    /// can tell apart.
    fn contents(index: &CustomerIndex, numbers: &[String]) -> (Vec<Vec<Customer>>, usize, usize) {
        let all = numbers
            .iter()
            .map(|n| index.lookup_all(n).expect("loaded").1.iter().map(|c| Customer::clone(c)).collect())
            .collect();
        let s = index.status();
        (all, s.customers, s.numbers)
    }

    #[test]
    fn in_place_changes_match_a_full_build() {
        // Random edits, re-creations and invalidations of 60 customers over
        // 12 numbers, applied in place one batch at a time; after each batch
        // the index must answer exactly as one built afresh from the same rows.
        let numbers: Vec<String> = (0..12).map(|i| format!("8916{:07}", i * 1111)).collect();
        let logins: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
        let mut rng = Lcg(5);
        let mut db: HashMap<u64, CustomerRow> = HashMap::new();
        let mut renamed = 0;
        let index = loaded(&[]);
        for _ in 0..300 {
            let mut batch = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let id = 1 + rng.below(60);
                let login = logins[rng.below(logins.len() as u64) as usize].clone();
                // The database keeps logins unique: the row that had it is
                // renamed first (a deletion would only be seen by a full
                // reload, see db_incremental_refresh).
                renamed += 1;
                if let Some(other) = db.values_mut().find(|r| r.id != id && r.login == login) {
                    other.login = format!("renamed{renamed}");
                    batch.push(other.clone());
                }
                let pick = |rng: &mut Lcg| {
                    (0..rng.below(3)).map(|_| numbers[rng.below(numbers.len() as u64) as usize].clone()).collect::<Vec<_>>().join(", ")
                };
                let phone = pick(&mut rng);
                let mobile = pick(&mut rng);
                let when = match rng.below(4) {
                    0 => None,
                    n => t(2025, 1, 1, 0, rng.below(3) as u8, n as u8),
                };
                let mut r = row(id, &login, &phone, &mobile, when);
                r.first_name = format!("v{}", rng.below(3));
                r.valid = rng.below(5) != 0;
                db.insert(id, r.clone());
                batch.push(r);
            }
            // What one read returns: each changed row once, as it is now (a
            // snapshot never holds two rows with one login).
            let mut ids: Vec<u64> = Vec::new();
            for r in &batch {
                if !ids.contains(&r.id) {
                    ids.push(r.id);
                }
            }
            let read: Vec<CustomerRow> = ids.iter().filter_map(|id| db.get(id).cloned()).collect();
            update(&index, &read);
            let valid: Vec<CustomerRow> = db.values().filter(|r| r.valid).cloned().collect();
            let fresh = loaded(&valid);
            assert_eq!(contents(&index, &numbers), contents(&fresh, &numbers), "after {read:?}");
            // Rereading the rows as they now are changes nothing.
            let now: Vec<CustomerRow> = db.values().cloned().collect();
            assert_eq!(update(&index, &now).changed, 0);
        }
    }

    #[test]
    fn replaced_text_asks_for_a_full_reload() {
        let index = loaded(&samples());
        assert!(!index.read().as_ref().expect("loaded").wants_rebuild());
        let mut r = row(1, "ivanov", "89161229624", "", t(2026, 1, 1, 0, 0, 0));
        for i in 0..80_000 {
            r.last_name = format!("Renamed {i}");
            update(&index, std::slice::from_ref(&r));
        }
        assert_eq!(index.status().customers, 9);
        assert!(index.read().as_ref().expect("loaded").wants_rebuild());
        let c = index.lookup("89161229624").expect("loaded").customer.expect("found");
        assert_eq!(c.last_name, "Renamed 79999");
    }

    #[test]
    fn cursor_moves_on_with_time() {
        let newest = t(2026, 1, 1, 12, 0, 0);
        let slack = i64::from(CHANGE_TIME_SLACK_SECS) * 1_000_000;
        let mut c = Cursor::default();
        assert_eq!(c.since(), None);
        let t0 = Instant::now();
        // A full load that saw `newest`: the next pass rereads the slack.
        c.advance(newest, t0, t0 + Duration::from_millis(300));
        assert_eq!(c.since(), Some((newest.expect("a time"), -slack)));
        // That pass, 15 s later, found nothing newer: the one after it
        // starts 15 s (less the slack) after `newest`, so rows of a bulk
        // import stamped `newest` are not read again.
        let p1 = t0 + Duration::from_secs(15);
        c.advance(None, p1, p1 + Duration::from_millis(10));
        let (at, micros) = c.since().expect("a bound");
        assert_eq!(at, newest.expect("a time"));
        assert_eq!(micros, 15_000_000 - 300_000 - slack);
        // An older row read meanwhile (late commit) does not move it back.
        let p2 = t0 + Duration::from_secs(30);
        c.advance(t(2026, 1, 1, 11, 59, 58), p2, p2 + Duration::from_millis(10));
        assert_eq!(c.since().expect("a bound").1, 30_000_000 - 300_000 - slack);
        // A newer row: the window is the slack before it again.
        let p3 = t0 + Duration::from_secs(45);
        let newer = t(2026, 1, 1, 12, 0, 40);
        c.advance(newer, p3, p3 + Duration::from_millis(10));
        assert_eq!(c.since(), Some((newer.expect("a time"), -slack)));
    }

    /// `cargo test --release -p otrs-core --lib memory_at_100k -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn memory_at_100k() {
        let status = || std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
        let field = |s: &str, name: &str| {
            s.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        let before = status();
        let rows: Vec<CustomerRow> = (1..=100_000u64)
            .map(|i| {
                let mut r = row(i, &format!("bulk{i:06}"), &format!("8 920 {i:07}"), if i % 4 == 0 { "+7930" } else { "" }, t(2025, 1, 1, 0, 0, 0));
                r.first_name = "Bulk".into();
                r.last_name = format!("Customer {i}");
                r.customer_id = "BULK".into();
                r
            })
            .collect();
        let index = Index::from_rows(rows, &ru());
        let after = status();
        println!("Rss {} -> {}, AnonHugePages {} -> {}", field(&before, "Rss:"), field(&after, "Rss:"), field(&before, "AnonHugePages:"), field(&after, "AnonHugePages:"));
        println!(
            "numbers {} buckets ({} used), logins {} buckets, slots {}, ids cap {}, text {} bytes in {} chunks",
            index.numbers.buckets.len(),
            index.numbers.len,
            index.logins.buckets.len(),
            index.slots.capacity(),
            index.ids.capacity(),
            index.text.bytes(),
            index.text.chunks.len()
        );
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
        index.install(Index::from_rows(samples(), &ru()), 9, Instant::now());
        lock(&index.refresh).advance(t(2026, 1, 1, 12, 0, 0), Instant::now(), Instant::now());
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
    fn db_cursor_skips_old_rows_and_catches_late_ones() {
        // Rows stamped long ago and a cursor set by hand: other tests' rows
        // (stamped NOW()) come and go meanwhile, so only what happens to
        // this test's rows is checked. A change that keeps change_time shows
        // whether a pass read the row.
        let db = test_db();
        let mut scratch = Scratch::new(&db, "t_cursor");
        scratch.insert("a", "89169003001", None, Some("2001-01-01 00:00:10"));
        scratch.insert("b", "89169003002", None, Some("2001-01-01 00:00:10"));
        let index = CustomerIndex::new(db, ru());
        index.refresh_full().expect("full refresh");
        assert_eq!(who(&index, "89169003001"), (1, Some(scratch.login("a"))));
        let back = |by: u64| Instant::now().checked_sub(Duration::from_secs(by)).expect("uptime");
        let newest = t(2001, 1, 1, 0, 0, 10);

        // The previous read started 2 s after `newest` was seen: the window
        // reaches the slack (5 s) back from there, 3 s before `newest`. A
        // transaction that stamped its row 2 s before `newest` but committed
        // after that read is found; a row stamped 10 s before is beyond the
        // slack (the periodic full reload finds it); a row stamped `newest`
        // is reread.
        *lock(&index.refresh) = Cursor { newest, newest_seen: Some(back(3)), last_read: Some(back(1)) };
        scratch.insert("late", "89169003003", None, Some("2001-01-01 00:00:08"));
        scratch.insert("older", "89169003004", None, Some("2001-01-01 00:00:00"));
        scratch.exec("UPDATE customer_user SET phone = '89169003011' WHERE login = ?", "a");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169003003"), (1, Some(scratch.login("late"))));
        assert_eq!(who(&index, "89169003004"), (0, None));
        assert_eq!(who(&index, "89169003011"), (1, Some(scratch.login("a"))));
        assert_eq!(who(&index, "89169003001"), (0, None));

        // 20 s later, as the refresher's passes are: rows stamped `newest`
        // (a bulk import) are not read again.
        *lock(&index.refresh) = Cursor { newest, newest_seen: Some(back(40)), last_read: Some(back(20)) };
        scratch.exec("UPDATE customer_user SET phone = '89169003012' WHERE login = ?", "b");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169003002"), (1, Some(scratch.login("b"))));
        assert_eq!(who(&index, "89169003012"), (0, None));

        // A full reload sees everything; an edit (new change_time) is found
        // by the next pass.
        index.refresh_full().expect("full refresh");
        assert_eq!(who(&index, "89169003004"), (1, Some(scratch.login("older"))));
        assert_eq!(who(&index, "89169003012"), (1, Some(scratch.login("b"))));
        scratch.exec("UPDATE customer_user SET phone = '89169003005', change_time = NOW() WHERE login = ?", "a");
        index.refresh_changed().expect("incremental");
        assert_eq!(who(&index, "89169003011"), (0, None));
        assert_eq!(who(&index, "89169003005"), (1, Some(scratch.login("a"))));
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
