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
//! the record; nothing else per customer is kept but a 32-byte slot (id,
//! change_time, numbers) and two 8-byte buckets of the id and login tables
//! for refreshes. Every table is sized to the rows loaded (plus room for
//! incremental changes), and the next full reload to the last one's size;
//! after a refresh of many rows the heap memory the read freed goes back to
//! the system: at 1 000 000 customers the index is 110–130 bytes a customer.
//!
//! Lookups take a read lock for the bucket and the record only, so they never
//! wait for the database or for an index being built, and wait for a change
//! no longer than one batch takes to apply.
//!
//! Customers may come from several sources (`source`: MySQL, PostgreSQL,
//! LDAP, in the order of otrs.conf). Each has its own part of the index: a
//! `CustomerIndex` of one source, with the later sources' parts chained to
//! the first. A lookup asks every part; the earliest source with a match
//! gives the customer and the matches of all are counted.
//!
//! The parts: `db` (settings, rows), `source` (where rows come from, the
//! SQL and LDAP that read them), `numbers` (a row's numbers),
//! `table` (the hash table), `pages` (zeroed huge-page buffers: all the
//! unsafe code), `arena` (the text), `index` (the index proper), `cursor`
//! (where an incremental pass starts reading) and `refresher` (the thread).

mod arena;
mod cursor;
mod db;
mod index;
mod numbers;
mod pages;
mod refresher;
pub mod source;
mod table;
#[cfg(test)]
mod test_support;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::number::{canonical_key, NumberPlan};
// poisoning ignored: the data behind these locks is always left consistent
use crate::runtime::lock;
use cursor::Cursor;
use db::CustomerRow;
use index::Index;
use pages::Sweep;

pub use db::DbSettings;
pub use refresher::{start_refresher, Refresher};
use source::cancel::Cutter;
use source::CustomerSource;
pub use source::{build_index, start_refreshers, SourceConfig};

/// A number's canonical form and every matching customer with the name of
/// its source, the one a call gets first.
pub type SourceMatches = (Option<String>, Vec<(String, Arc<Customer>)>);

/// An OTRS customer user, as needed to open a ticket for them.
///
/// Its five texts are one string (login, customer_id, first name, last
/// name, email, one after the other): a call's lookup allocates once for
/// the customer it found, not five times. Each allocation on a channel's
/// fresh thread can wait on the allocator (its arena, a page fault); with
/// five strings they made the lookup's p99 inside calls 15–40 µs where
/// finding the customer took 3–4 µs.
#[derive(Clone, PartialEq, Eq)]
pub struct Customer {
    text: Box<str>,
    /// Where login, customer_id, first name and last name end in `text`.
    ends: [u32; 4],
}

impl Customer {
    pub fn new(login: &str, customer_id: &str, first_name: &str, last_name: &str, email: &str) -> Customer {
        let mut c =
            CustomerText::with_capacity(login.len() + customer_id.len() + first_name.len() + last_name.len() + email.len());
        for field in [login, customer_id, first_name, last_name, email] {
            c.push(field);
        }
        c.done()
    }

    pub fn login(&self) -> &str {
        self.field(0)
    }

    pub fn customer_id(&self) -> &str {
        self.field(1)
    }

    pub fn first_name(&self) -> &str {
        self.field(2)
    }

    pub fn last_name(&self) -> &str {
        self.field(3)
    }

    pub fn email(&self) -> &str {
        self.field(4)
    }

    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.text.len(), |&e| e as usize);
        self.text.get(start..end).unwrap_or("")
    }

    /// "First Last", without stray spaces when a part is empty.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name().trim(), self.last_name().trim()).trim().to_string()
    }
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customer")
            .field("login", &self.login())
            .field("customer_id", &self.customer_id())
            .field("first_name", &self.first_name())
            .field("last_name", &self.last_name())
            .field("email", &self.email())
            .finish()
    }
}

/// Builds a [`Customer`]'s one string field by field (five pushes).
pub(crate) struct CustomerText {
    text: Vec<u8>,
    ends: [u32; 4],
    fields: usize,
}

impl CustomerText {
    pub(crate) fn with_capacity(bytes: usize) -> CustomerText {
        CustomerText { text: Vec::with_capacity(bytes), ends: [0; 4], fields: 0 }
    }

    pub(crate) fn push(&mut self, field: &str) {
        self.push_parts(&[field.as_bytes()]);
    }

    /// One field made of several pieces (the index's packed text).
    pub(crate) fn push_parts(&mut self, parts: &[&[u8]]) {
        if let Some(end) = self.ends.get_mut(self.fields.wrapping_sub(1)) {
            *end = self.text.len() as u32;
        }
        if self.fields < 5 {
            for part in parts {
                self.text.extend_from_slice(part);
            }
            self.fields += 1;
        }
    }

    /// The customer; fields not pushed are empty.
    pub(crate) fn done(mut self) -> Customer {
        let len = self.text.len() as u32;
        for end in self.ends.iter_mut().skip(self.fields.saturating_sub(1)) {
            *end = len;
        }
        // The pieces are whole UTF-8 text put back together: checked once,
        // copied only if a record was not one (a bad reference).
        let text = String::from_utf8(self.text).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Customer { text: text.into_boxed_str(), ends: self.ends }
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
    /// Each source, in order (the first is the one the fields above
    /// describe when there is only one).
    pub sources: Vec<SourceStatus>,
    /// After a reload to other sources not loaded yet: the customers of the
    /// index of before, which still answer calls.
    pub previous_customers: Option<usize>,
}

/// One customer source, for `otrs show status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStatus {
    /// Its section in otrs.conf (`general` for the db* options there).
    pub name: String,
    /// mysql, postgresql, ldap.
    pub kind: String,
    /// Where it reads from (no password).
    pub target: String,
    pub loaded: bool,
    pub up: bool,
    /// Since when it is up or down (its last change of state).
    pub since: Option<SystemTime>,
    pub customers: usize,
    pub numbers: usize,
    pub last_refresh: Option<SystemTime>,
    pub last_error: Option<(SystemTime, String)>,
}

#[derive(Debug, Default)]
struct Health {
    last_refresh: Option<SystemTime>,
    last_error: Option<(SystemTime, String)>,
    db_up: bool,
    /// When `db_up` last changed (or was first set).
    since: Option<SystemTime>,
}

/// Incremental passes reread this many seconds before what the previous pass
/// surely saw: a transaction may stamp a row, then commit after a newer row
/// was read. Rows re-read because of it are recognised and skipped.
pub const CHANGE_TIME_SLACK_SECS: u32 = 5;

/// Rows applied under one hold of the write lock: a lookup never waits for
/// more than this many changes (some tens of microseconds).
const APPLY_BATCH: usize = 16;

/// The longest one read of a source may take, whatever the server does
/// (the drivers' timeouts are per read: a server trickling a byte every few
/// seconds would hold the refresh thread for ever). A full read of a
/// million rows takes seconds; the bounds are far above that.
pub const FULL_DEADLINE: Duration = Duration::from_secs(300);
pub const INCREMENTAL_DEADLINE: Duration = Duration::from_secs(60);

/// A refresh that read this many rows gives the heap memory it freed back
/// to the system (malloc_trim). Not below: trimming holds every thread's
/// malloc for some milliseconds (a lookup allocates the customer it
/// returns), which only a large index's memory is worth.
const TRIM_AFTER_ROWS: usize = 10_000;

/// How long a lookup spins for the read lock before it sleeps on it.
const SPIN_LIMIT: Duration = Duration::from_millis(1);

/// Customers by canonical phone number, loaded from one source, with the
/// parts of the later sources chained to it (see [`source`]).
pub struct CustomerIndex {
    source: Box<dyn CustomerSource>,
    /// The source's section, shown with its matches and its state.
    name: String,
    /// The parts of the sources after this one, in order.
    later: Vec<Arc<CustomerIndex>>,
    plan: NumberPlan,
    /// Changed in place by incremental passes, a batch of rows per write
    /// lock; replaced whole by a full reload.
    current: RwLock<Option<Box<Index>>>,
    /// One refresh at a time, and where the next incremental one starts.
    refresh: Mutex<Cursor>,
    health: Mutex<Health>,
    /// Bounds each read of the source, and ends it when the refresher stops.
    cutter: Arc<Cutter>,
    /// After a reload to other sources: the index of before, answering
    /// lookups until every part of this one has loaded (a new source that
    /// is unreachable must not cost the customers known a moment ago).
    previous: RwLock<Option<Arc<CustomerIndex>>>,
    /// Pages read by [`keep_warm`](Self::keep_warm) so far.
    warmed: AtomicU64,
    /// Its passes so far (which share of the sweep the next one reads).
    warm_passes: AtomicU64,
}

impl fmt::Debug for CustomerIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerIndex")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("plan", &self.plan)
            .field("status", &self.status())
            .finish()
    }
}

impl CustomerIndex {
    /// An empty, not yet loaded index of OTRS's `customer_user` in MySQL.
    /// Nothing is read until a refresh.
    pub fn new(db: DbSettings, plan: NumberPlan) -> Self {
        let source = source::MysqlSource::new(db, source::SqlMap::default());
        CustomerIndex::with_source("general", Box::new(source), plan)
    }

    /// An empty, not yet loaded index of one source.
    pub(crate) fn with_source(name: &str, source: Box<dyn CustomerSource>, plan: NumberPlan) -> Self {
        CustomerIndex {
            source,
            name: name.to_string(),
            later: Vec::new(),
            plan,
            current: RwLock::new(None),
            refresh: Mutex::new(Cursor::default()),
            health: Mutex::new(Health::default()),
            cutter: Arc::new(Cutter::default()),
            previous: RwLock::new(None),
            warmed: AtomicU64::new(0),
            warm_passes: AtomicU64::new(0),
        }
    }

    /// This index, with the parts of later sources after it: lookups ask
    /// them in order. Each part is refreshed by its own thread
    /// ([`start_refreshers`]).
    pub fn followed_by(mut self, later: Vec<Arc<CustomerIndex>>) -> Self {
        self.later = later;
        self
    }

    /// Until every part of this index has loaded, lookups are answered by
    /// `old` (the index in use before a reload; its refreshers stopped), or
    /// by what `old` itself was still answering with.
    pub fn serve_meanwhile(&self, old: &Arc<CustomerIndex>) {
        let keep = if old.all_loaded() { Some(Arc::clone(old)) } else { old.previous() };
        *self.previous.write().unwrap_or_else(PoisonError::into_inner) = keep;
    }

    /// The index answering for this one while it loads, if any.
    fn previous(&self) -> Option<Arc<CustomerIndex>> {
        self.previous.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The previous index while this one is not loaded whole.
    fn stand_in(&self) -> Option<Arc<CustomerIndex>> {
        self.previous().filter(|_| !self.all_loaded())
    }

    /// Keeps this source's index warm, one pass of a sweep: `every` passes
    /// read one byte of each 4 KiB page a lookup may read (the number table
    /// and the text: about 16 000 pages at 1 000 000 customers, some 100 µs
    /// for the whole sweep), each pass a share of every 2 MiB page.
    ///
    /// On a virtual machine memory no one reads goes slow (measured on this
    /// project's test machines, Firecracker VMs, `bench/cold-pages.c`): a
    /// huge page nobody read for some tens of milliseconds could cost the
    /// next read 100-300 µs, and a 4 KiB page nobody read for 30 s or more
    /// 20-130 µs even while one byte of its huge page was read every 20 ms.
    /// With every huge page read every 20 ms and every 4 KiB page every
    /// second, none did. Skipped while a refresh holds the index; 0 when the
    /// index is small enough to live on the malloc heap (nothing to keep
    /// warm).
    pub fn keep_warm(&self, every: usize) -> usize {
        let sweep = Sweep::new(self.warm_passes.fetch_add(1, Ordering::Relaxed), every);
        let pages = match self.current.try_read() {
            Ok(current) => current.as_ref().map_or(0, |index| index.touch_pages(sweep)),
            Err(_) => 0,
        };
        self.warmed.fetch_add(pages as u64, Ordering::Relaxed);
        pages
    }

    /// Pages [`keep_warm`](Self::keep_warm) has read so far.
    pub fn pages_warmed(&self) -> u64 {
        self.warmed.load(Ordering::Relaxed)
    }

    /// Lets the previous index go once every part has loaded (called by the
    /// refresher after a refresh: freeing it must not cost a call).
    pub fn drop_previous_if_loaded(&self) -> bool {
        if self.all_loaded() {
            let old = self.previous.write().unwrap_or_else(PoisonError::into_inner).take();
            drop(old);
            true
        } else {
            false
        }
    }

    /// Customers of the previous index still answering lookups, if any.
    pub fn serving_previous(&self) -> Option<usize> {
        self.stand_in().map(|p| p.status().customers)
    }

    fn all_loaded(&self) -> bool {
        self.parts().all(CustomerIndex::is_loaded)
    }

    /// The parts of the sources after this one.
    pub fn later(&self) -> &[Arc<CustomerIndex>] {
        &self.later
    }

    /// This source's section name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn parts(&self) -> impl Iterator<Item = &CustomerIndex> {
        std::iter::once(self).chain(self.later.iter().map(|p| &**p))
    }

    pub fn plan(&self) -> &NumberPlan {
        &self.plan
    }

    /// Whether this source's part has been loaded (a later source's part
    /// has its own).
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
    /// One hash lookup on the canonical number per source, no SQL. When
    /// several valid customers of a source have the number, the one whose
    /// row was changed most recently (`change_time`) is chosen, ties going to
    /// the smaller `id`: the latest edit is the best guess of who holds the
    /// line now, and the rule gives the same answer on every call. The
    /// earliest source with a match gives the customer, as OTRS searches its
    /// backends in order; `matches` counts the matches of every source.
    ///
    /// Not loaded: when no source was ever loaded, or when nothing matched
    /// and some source was never loaded (it may hold the caller). A source
    /// that was loaded once keeps its last load while it is down.
    ///
    /// After a reload to other sources, while one of them has not loaded: a
    /// caller the loaded ones do not know is looked up in the index of
    /// before (see [`serve_meanwhile`](Self::serve_meanwhile)); found there,
    /// they get that customer, else the answer stays "not loaded".
    pub fn lookup(&self, raw_number: &str) -> Result<Lookup, IndexError> {
        let own = self.own_lookup(raw_number);
        match (&own, self.stand_in()) {
            (Err(IndexError::NotLoaded), Some(previous)) => match previous.lookup(raw_number) {
                Ok(l) if l.customer.is_some() => Ok(l),
                _ => own,
            },
            _ => own,
        }
    }

    fn own_lookup(&self, raw_number: &str) -> Result<Lookup, IndexError> {
        let key = canonical_key(raw_number, &self.plan);
        let (mut matches, mut customer, mut loaded, mut missing) = (0, None, false, false);
        for part in self.parts() {
            let current = part.read_spinning();
            let Some(index) = current.as_ref() else {
                missing = true;
                continue;
            };
            loaded = true;
            if let Some(key) = &key {
                if customer.is_none() {
                    let (m, c) = index.lookup(key);
                    matches += m;
                    customer = c;
                } else {
                    matches += index.count(key);
                }
            }
        }
        if !loaded || (missing && customer.is_none() && key.is_some()) {
            return Err(IndexError::NotLoaded);
        }
        Ok(Lookup { matches, customer, key: key.map(|k| k.to_string()) })
    }

    /// Every customer with this number, in the order the rule picks them
    /// (first = the one a call gets), with the canonical form looked up.
    pub fn lookup_all(&self, raw_number: &str) -> Result<(Option<String>, Vec<Arc<Customer>>), IndexError> {
        let (key, all) = self.lookup_sources(raw_number)?;
        Ok((key, all.into_iter().map(|(_, c)| c).collect()))
    }

    /// As [`lookup_all`](Self::lookup_all), with the section of the source
    /// each match comes from. For the CLI dry run `otrs test lookup`.
    pub fn lookup_sources(&self, raw_number: &str) -> Result<SourceMatches, IndexError> {
        let own = self.own_lookup_sources(raw_number);
        match (&own, self.stand_in()) {
            (Err(IndexError::NotLoaded), Some(previous)) => match previous.lookup_sources(raw_number) {
                Ok(found) if !found.1.is_empty() => Ok(found),
                _ => own,
            },
            _ => own,
        }
    }

    fn own_lookup_sources(&self, raw_number: &str) -> Result<SourceMatches, IndexError> {
        let key = canonical_key(raw_number, &self.plan);
        let (mut all, mut loaded, mut missing) = (Vec::new(), false, false);
        for part in self.parts() {
            let current = part.read_spinning();
            let Some(index) = current.as_ref() else {
                missing = true;
                continue;
            };
            loaded = true;
            if let Some(k) = &key {
                all.extend(index.all(k).into_iter().map(|c| (part.name.clone(), c)));
            }
        }
        if !loaded || (missing && all.is_empty() && key.is_some()) {
            return Err(IndexError::NotLoaded);
        }
        Ok((key.map(|k| k.to_string()), all))
    }

    /// The state of every source, and of the whole: loaded when any source
    /// is, up when every source is.
    pub fn status(&self) -> IndexStatus {
        let sources: Vec<SourceStatus> = self.parts().map(CustomerIndex::own_status).collect();
        let newest_error = sources.iter().filter_map(|s| s.last_error.clone()).max_by_key(|(t, _)| *t);
        IndexStatus {
            loaded: sources.iter().any(|s| s.loaded),
            customers: sources.iter().map(|s| s.customers).sum(),
            numbers: sources.iter().map(|s| s.numbers).sum(),
            last_refresh: sources.iter().filter_map(|s| s.last_refresh).max(),
            last_error: newest_error,
            db_up: sources.iter().all(|s| s.up),
            sources,
            previous_customers: self.serving_previous(),
        }
    }

    fn own_status(&self) -> SourceStatus {
        let (loaded, customers, numbers) = {
            let current = self.read();
            let index = current.as_ref();
            (index.is_some(), index.map_or(0, |i| i.customers()), index.map_or(0, |i| i.number_count()))
        };
        let health = lock(&self.health);
        SourceStatus {
            name: self.name.clone(),
            kind: self.source.kind().to_string(),
            target: self.source.describe(),
            loaded,
            up: health.db_up,
            since: health.since,
            customers,
            numbers,
            last_refresh: health.last_refresh,
            last_error: health.last_error.clone(),
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
        if !rebuild && !self.source.incremental() {
            // No changed column / attribute: only the full reloads read it.
            return Ok(self.apply_changes(&[], Instant::now()));
        }
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
        self.fetch(Some(since), INCREMENTAL_DEADLINE, &mut |row| {
            rows += 1;
            newest = newest.max(row.change_time);
            let current = self.read();
            if !current.as_ref().is_some_and(|i| i.is_current(&row, &self.plan, &mut scratch)) {
                changed.push(row);
            }
        })?;
        cursor.advance(newest, started, Instant::now());
        let mut stats = self.apply_changes(&changed, started);
        stats.rows = rows;
        if rows >= TRIM_AFTER_ROWS {
            // A reread of a bulk import went through the drivers' buffers.
            pages::give_back_freed();
        }
        self.note_success();
        Ok(stats)
    }

    fn full_locked(&self, cursor: &mut Cursor) -> Result<RefreshStats, String> {
        let started = Instant::now();
        let (customers, numbers) = self.read().as_ref().map_or((0, 0), |i| i.size_hint());
        let mut index = Index::sized(customers, numbers);
        let (mut rows, mut newest) = (0usize, None);
        self.fetch(None, FULL_DEADLINE, &mut |row| {
            rows += 1;
            newest = newest.max(row.change_time);
            index.apply(&row, &self.plan, false);
        })?;
        index.finish_build();
        // The cursor carries on: this read saw every row the next
        // incremental pass could otherwise have to reread (see [`Cursor`]),
        // so a full reload does not make the next pass reread a bulk import.
        cursor.advance(newest, started, Instant::now());
        let stats = self.install(index, rows, started);
        if rows >= TRIM_AFTER_ROWS {
            // The read's buffers and the old index's small parts are free
            // now: back to the system, or Asterisk keeps a load's high-water
            // mark (6 MiB at 1 000 000 customers).
            pages::give_back_freed();
        }
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

    /// One read of the source, cut at `within` (or when the refresher
    /// stops); the cut's reason replaces the driver's error, which would
    /// only say the connection was closed.
    fn fetch(
        &self,
        since: Option<(db::ChangeTime, i64)>,
        within: Duration,
        each: &mut dyn FnMut(CustomerRow),
    ) -> Result<(), String> {
        let result = self.cutter.run(within, || self.source.fetch(since, &self.cutter, each));
        match (result, self.cutter.reason()) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(why)) => Err(self.failed(format!("{} {}: {why}", self.source.kind(), self.source.describe()))),
            (Err(e), None) => Err(self.failed(e)),
        }
    }

    /// Ends the read in progress at once, and fails every later one until
    /// [`resume_reads`](Self::resume_reads): for stopping the refresher.
    pub fn stop_reads(&self) {
        self.cutter.stop();
    }

    pub fn resume_reads(&self) {
        self.cutter.resume();
    }

    fn note_success(&self) {
        let mut health = lock(&self.health);
        let now = SystemTime::now();
        let was_down = !health.db_up && health.since.is_some();
        if !health.db_up || health.since.is_none() {
            health.since = Some(now);
        }
        health.last_refresh = Some(now);
        health.db_up = true;
        drop(health);
        // Only changes of state are logged: a refresh every few seconds
        // must not fill the log.
        if was_down {
            crate::log_notice!("customer source [{}] ({} {}) is up again", self.name, self.source.kind(), self.source.describe());
        }
    }

    /// A failed read: recorded, and returned without the source's secrets.
    fn failed(&self, message: String) -> String {
        let message = source::scrub(&*self.source, message);
        self.note_error(&message);
        message
    }

    fn note_error(&self, message: &str) {
        let mut health = lock(&self.health);
        let now = SystemTime::now();
        let went_down = health.db_up || health.since.is_none();
        if went_down {
            health.since = Some(now);
        }
        let message = source::scrub(&*self.source, message.to_string());
        health.last_error = Some((now, message.clone()));
        health.db_up = false;
        drop(health);
        if went_down {
            let keeps = if self.is_loaded() { "its last load stays in use" } else { "not loaded yet" };
            crate::log_warning!("customer source [{}] is down ({keeps}): {message}", self.name);
        }
    }
}

/// An index loaded with `customers` (each with its phone number) without a
/// database, for the tests of the layers above (the ticket flow, the spool
/// worker).
#[cfg(test)]
pub(crate) fn index_for_tests(customers: &[(Customer, &str)], plan: NumberPlan) -> CustomerIndex {
    let rows: Vec<CustomerRow> = customers
        .iter()
        .enumerate()
        .map(|(i, (c, phone))| CustomerRow {
            id: i as u64 + 1,
            login: c.login().to_string(),
            customer_id: c.customer_id().to_string(),
            first_name: c.first_name().to_string(),
            last_name: c.last_name().to_string(),
            email: c.email().to_string(),
            phone: phone.to_string(),
            mobile: String::new(),
            more_phones: Vec::new(),
            change_time: None,
            valid: true,
        })
        .collect();
    let index = CustomerIndex::new(DbSettings::default(), plan);
    let built = Index::from_rows(rows.iter().cloned(), index.plan());
    index.install(built, rows.len(), Instant::now());
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::test_support::*;

    #[test]
    fn full_name() {
        let c = |first: &str, last: &str| Customer::new("x", "X", first, last, "").full_name();
        assert_eq!(c(" Ivan ", "Ivanov"), "Ivan Ivanov");
        assert_eq!(c(" Ivan ", ""), "Ivan");
        assert_eq!(c("", "Петров"), "Петров");
        assert_eq!(c("", ""), "");
    }

    #[test]
    fn a_customer_is_one_string_with_its_five_fields() {
        let c = Customer::new("ivanov", "", "Иван", "Иванов", "ivanov@example.invalid");
        assert_eq!(
            (c.login(), c.customer_id(), c.first_name(), c.last_name(), c.email()),
            ("ivanov", "", "Иван", "Иванов", "ivanov@example.invalid")
        );
        assert_eq!(Customer::new("", "", "", "", "e").email(), "e");
        assert_eq!(
            format!("{c:?}"),
            r#"Customer { login: "ivanov", customer_id: "", first_name: "Иван", last_name: "Иванов", email: "ivanov@example.invalid" }"#
        );
        // fewer fields than five (a record cut short): the rest are empty
        let mut t = CustomerText::with_capacity(8);
        t.push("login");
        t.push("ACME");
        let short = t.done();
        assert_eq!((short.login(), short.customer_id(), short.first_name(), short.email()), ("login", "ACME", "", ""));
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
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CustomerIndex>();
        check::<Arc<CustomerIndex>>();
        check::<Refresher>();
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

    // ---- Against a real MariaDB (scripts/mariadb.sh) ----

    #[test]
    #[ignore = "needs MariaDB with the sample customers (OTRS_TEST_DB): run scripts/test.sh"]
    fn db_sample_customers() {
        let index = CustomerIndex::new(test_db(), ru());
        let stats = index.refresh_full().expect("full refresh");
        assert!(stats.full && stats.rows >= 9, "{stats:?}");
        let check = |n: &str, expect: Option<&str>, matches: usize| {
            let l = index.lookup(n).expect("loaded");
            assert_eq!(l.customer.map(|c| c.login().to_string()).as_deref(), expect, "{n}");
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
    #[ignore = "needs MariaDB with the sample customers (OTRS_TEST_DB): run scripts/test.sh"]
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
    #[ignore = "needs MariaDB with the sample customers (OTRS_TEST_DB): run scripts/test.sh"]
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
    #[ignore = "needs MariaDB with the sample customers (OTRS_TEST_DB): run scripts/test.sh"]
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
}
