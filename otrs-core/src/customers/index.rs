//! The index proper: customers' slots, their numbers in a [`Table`], their
//! text in an [`Arena`], changed in place one row at a time.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use super::arena::{Arena, TextRef};
use super::db::{time_key, CustomerRow};
use super::numbers::row_keys;
use super::pages::Sweep;
use super::table::{Bucket, Ref, Table};
use super::Customer;
use crate::number::{Canonical, NumberPlan};

/// Numbers too long to pack ([`Canonical::packed`]) get keys with bit 63 set,
/// handed out in order; packed keys never have it.
const LONG_KEY: u64 = 1 << 63;

/// Linear probing stays short up to about this load. After a full load the
/// table is 75 % full (the room below): a hit reads 2.5 buckets on average,
/// a miss 8.7 (Knuth), one or two cache lines of four buckets; at 70 % it
/// was 2.0 and 4.8, for 4 MiB more at a million customers.
pub(super) const NUMBERS_LOAD: usize = 80;
/// The id and login tables are only used by refreshes: fuller is fine.
pub(super) const LOGINS_LOAD: usize = 85;
/// Room left after a full load for numbers and customers added by
/// incremental passes, before a table has to grow (a rehash under the write
/// lock, some milliseconds at a million): a sixteenth more numbers, a
/// thirty-second more customers (at 1 000 000: 78 000 numbers, 31 000
/// customers). More room would cost every customer memory.
const NUMBERS_ROOM: usize = 16;
const CUSTOMERS_ROOM: usize = 32;

fn login_hash(login: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    login.hash(&mut h);
    h.finish().max(1)
}

/// What is kept per customer besides its text: 32 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    id: u64,
    /// Its numbers' keys (never 0): up to two here, the unused ones 0; with
    /// more, `[0, how many]` and all of them in `Index::more_keys`.
    keys: [u64; 2],
    /// [`time_key`] of change_time.
    time: u32,
    text: TextRef,
}

impl Slot {
    fn new(id: u64, time: u32, text: TextRef, keys: &[u64]) -> Slot {
        let keys = match keys {
            [] => [0, 0],
            [a] => [*a, 0],
            [a, b] => [*a, *b],
            more => [0, more.len() as u64],
        };
        Slot { id, keys, time, text }
    }

    /// Whether its keys are in `Index::more_keys`.
    fn more(&self) -> bool {
        self.keys[0] == 0 && self.keys[1] != 0
    }

    /// Order within a number: most recently changed first, then smaller id.
    /// (0, a missing change_time, sorts after every real time.)
    fn rank(&self) -> (Reverse<u32>, u64) {
        (Reverse(self.time), self.id)
    }
}

/// The index proper, changed in place under the write lock.
#[derive(Debug)]
pub(super) struct Index {
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
    /// customer_user.id -> slot (the slot holds the id itself).
    ids: Table<Ref>,
    /// hash of login -> slot; a login is unique, so a row with a known login
    /// but a new id (deleted and re-created) replaces the old one.
    logins: Table<Ref>,
    text: Arena,
    /// Scratch for encoding a row's text.
    scratch: Vec<u8>,
}

impl Default for Index {
    fn default() -> Self {
        Index::sized(0, 0)
    }
}

impl Index {
    /// Empty, with room for `customers` and `numbers` (those of the previous
    /// load: a reload of about as many rows then never grows a table, which
    /// costs a rehash and, while it runs, the old and the new buffer).
    pub(super) fn sized(customers: usize, numbers: usize) -> Index {
        Index {
            numbers: Table::with_room(numbers + numbers / NUMBERS_ROOM, NUMBERS_LOAD),
            multi: HashMap::new(),
            long_keys: HashMap::new(),
            slots: Vec::with_capacity(customers + customers / CUSTOMERS_ROOM),
            free: Vec::new(),
            more_keys: HashMap::new(),
            ids: Table::with_room(customers + customers / CUSTOMERS_ROOM, LOGINS_LOAD),
            logins: Table::with_room(customers + customers / CUSTOMERS_ROOM, LOGINS_LOAD),
            text: Arena::default(),
            scratch: Vec::new(),
        }
    }

    /// The size to give the next full load's index (see [`sized`](Self::sized)).
    pub(super) fn size_hint(&self) -> (usize, usize) {
        (self.customers(), self.number_count())
    }

    /// Builds an index from a full read. Each shared number's list is sorted
    /// once at the end: inserting in order would be quadratic when thousands
    /// of customers share an office number.
    #[cfg(test)]
    pub(super) fn from_rows(rows: impl IntoIterator<Item = CustomerRow>, plan: &NumberPlan) -> Index {
        let mut index = Index::default();
        for row in rows {
            index.apply(&row, plan, false);
        }
        index.finish_build();
        index
    }

    pub(super) fn finish_build(&mut self) {
        let Index { multi, slots, numbers, .. } = self;
        for (key, list) in multi.iter_mut() {
            list.sort_by_key(|&s| slots[s as usize].rank());
            if let Some(i) = numbers.find(*key) {
                numbers.buckets[i].a = slots[list[0] as usize].text;
            }
        }
        // Sized to what was loaded, plus room for incremental changes (see
        // NUMBERS_ROOM): tables grown by doublings during the load shrink.
        self.numbers.fit_to(self.numbers.len / NUMBERS_ROOM);
        let customers = self.ids.len;
        self.ids.fit_to(customers / CUSTOMERS_ROOM);
        self.logins.fit_to(customers / CUSTOMERS_ROOM);
        let keep = self.slots.len() + self.slots.len() / CUSTOMERS_ROOM;
        if self.slots.capacity() > keep + keep / 8 {
            self.slots.shrink_to(keep);
        }
    }

    pub(super) fn customers(&self) -> usize {
        self.ids.len
    }

    pub(super) fn number_count(&self) -> usize {
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
        if s.more() {
            self.more_keys.get(&slot).map_or(&[], |k| &k[..])
        } else {
            let n = s.keys.iter().take_while(|&&k| k != 0).count();
            &s.keys[..n]
        }
    }

    fn login_slot(&self, login: &[u8]) -> Option<u32> {
        let i =
            self.logins.find_where(Ref::tag(login_hash(login)), |b| self.text.login(self.slots[b.a as usize].text) == login)?;
        Some(self.logins.buckets[i].a)
    }

    fn id_slot(&self, id: u64) -> Option<u32> {
        let i = self.ids.find_where(Ref::tag(id), |b| self.slots[b.a as usize].id == id)?;
        Some(self.ids.buckets[i].a)
    }

    /// Puts one row in: removes what was indexed for its id or login, then, if
    /// it is valid, indexes it. `sorted` keeps each number's list in order
    /// (incremental changes); a full build sorts once at the end instead.
    pub(super) fn apply(&mut self, row: &CustomerRow, plan: &NumberPlan, sorted: bool) {
        if let Some(slot) = self.id_slot(row.id) {
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
        self.text.encode(row, &mut scratch);
        let text = self.text.push(&scratch);
        self.scratch = scratch;
        self.slots[slot as usize] = Slot::new(row.id, time_key(row.change_time), text, &keys);
        if self.slots[slot as usize].more() {
            self.more_keys.insert(slot, keys.clone().into_boxed_slice());
        }
        self.ids.insert(Ref::new(row.id, slot));
        self.logins.insert(Ref::new(login_hash(row.login.as_bytes()), slot));
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
        // The customer that had the number alone, found by its login (the
        // record does not keep its slot: 4 bytes a customer).
        let first = self.login_slot(self.text.login(bucket.a));
        let list = self.multi.entry(key).or_insert_with(|| first.into_iter().collect());
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
        if let Some(i) = self.ids.find_where(Ref::tag(s.id), |b| b.a == slot) {
            self.ids.remove_at(i);
        }
        let login = self.text.login(s.text);
        if let Some(i) = self.logins.find_where(Ref::tag(login_hash(login)), |b| b.a == slot) {
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
    pub(super) fn is_current(&self, row: &CustomerRow, plan: &NumberPlan, scratch: &mut Vec<u8>) -> bool {
        let Some(slot) = self.id_slot(row.id) else {
            return !row.valid && self.login_slot(row.login.as_bytes()).is_none();
        };
        let s = &self.slots[slot as usize];
        if !row.valid || s.time != time_key(row.change_time) {
            return false;
        }
        self.text.encode_known(row, scratch);
        if self.text.text(s.text) != scratch.as_slice() {
            return false;
        }
        let numbers = row_keys(row, plan);
        let have = self.keys(slot);
        numbers.len() == have.len() && numbers.iter().zip(have).all(|(n, k)| self.key_of(n) == Some(*k))
    }

    pub(super) fn lookup(&self, number: &Canonical) -> (usize, Option<Arc<Customer>>) {
        let found = self.key_of(number).and_then(|k| self.numbers.find(k));
        match found {
            Some(i) => {
                let b = self.numbers.buckets[i];
                (b.b as usize, Some(Arc::new(self.text.customer(b.a))))
            }
            None => (0, None),
        }
    }

    /// This pass's share of a sweep over the pages a lookup may read: the
    /// number table and the text (the other tables serve the refresh only).
    pub(super) fn touch_pages(&self, sweep: Sweep) -> usize {
        self.numbers.touch_pages(sweep) + self.text.touch_pages(sweep)
    }

    /// How many customers have this number (no text read).
    pub(super) fn count(&self, number: &Canonical) -> usize {
        let found = self.key_of(number).and_then(|k| self.numbers.find(k));
        found.map_or(0, |i| self.numbers.buckets[i].b as usize)
    }

    pub(super) fn all(&self, number: &Canonical) -> Vec<Arc<Customer>> {
        let Some(key) = self.key_of(number) else { return Vec::new() };
        let Some(i) = self.numbers.find(key) else { return Vec::new() };
        match self.multi.get(&key) {
            Some(list) => list.iter().map(|&s| Arc::new(self.text.customer(self.slots[s as usize].text))).collect(),
            None => vec![Arc::new(self.text.customer(self.numbers.buckets[i].a))],
        }
    }

    /// Whether replaced text outweighs the live text (then the next refresh
    /// should be a full one, which packs it afresh).
    pub(super) fn wants_rebuild(&self) -> bool {
        let garbage = self.text.garbage;
        garbage > (4 << 20) && garbage > self.text.bytes() - garbage
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::customers::test_support::*;
    use crate::customers::{CustomerIndex, DbSettings, Lookup};

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
        assert_eq!(c.email(), "ivanov@example.invalid");
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
        assert_eq!(c.last_name(), "Renamed");

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
        // Its number table (2.3 MB) and text (about 4 MB) are mapped on huge
        // pages: a sweep of keep_warm reads each of their 4 KiB pages once,
        // a share of them each pass; the 10 samples live on the heap,
        // nothing to read.
        let whole = index.keep_warm(1);
        assert!((4 * 512..=8 * 512).contains(&whole), "{whole}");
        let sweep: Vec<usize> = (0..50).map(|_| index.keep_warm(50)).collect();
        assert_eq!(sweep.iter().sum::<usize>(), whole);
        assert!(sweep.iter().all(|&n| n >= 4 && n <= whole / 25), "{sweep:?}");
        assert_eq!(index.pages_warmed(), 2 * whole as u64);
        assert_eq!(loaded(&samples()).keep_warm(1), 0);
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
        assert_eq!(all.iter().map(|c| c.login()).collect::<Vec<_>>(), ["long20", "long20b"]);
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
        let all =
            numbers.iter().map(|n| index.lookup_all(n).expect("loaded").1.iter().map(|c| Customer::clone(c)).collect()).collect();
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
                    (0..rng.below(3))
                        .map(|_| numbers[rng.below(numbers.len() as u64) as usize].clone())
                        .collect::<Vec<_>>()
                        .join(", ")
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
        for i in 0..120_000 {
            r.last_name = format!("Renamed {i}");
            update(&index, std::slice::from_ref(&r));
        }
        assert_eq!(index.status().customers, 9);
        assert!(index.read().as_ref().expect("loaded").wants_rebuild());
        let c = index.lookup("89161229624").expect("loaded").customer.expect("found");
        assert_eq!(c.last_name(), "Renamed 119999");
    }

    /// `cargo test --release -p otrs-core --lib memory_at_100k -- --ignored --nocapture`
    fn bulk_rows(n: u64) -> Vec<CustomerRow> {
        (1..=n)
            .map(|i| {
                let mobile = if i % 4 == 0 { format!("+7930{i:07}") } else { String::new() };
                row(i, &format!("bulk{i:06}"), &format!("8 920 {i:07}"), &mobile, t(2025, 1, 1, 0, 0, 0))
            })
            .collect()
    }

    #[test]
    fn a_full_load_keeps_tables_sized_to_its_rows() {
        // 20 000 customers, 25 000 numbers: each table holds them plus the
        // room for incremental changes, and no doubling beyond that (a
        // table grown to the next power of two and then given room for a
        // quarter more would be twice the size).
        let rows = bulk_rows(20_000);
        let index = Index::from_rows(rows.iter().cloned(), &ru());
        let numbers = 25_000usize;
        assert_eq!(index.number_count(), numbers);
        let room = |len: usize, extra: usize, load: usize| ((len + extra) * 100).div_ceil(load);
        assert!(index.numbers.buckets.len() <= room(numbers, numbers / NUMBERS_ROOM, NUMBERS_LOAD) * 9 / 8);
        assert!(index.numbers.buckets.len() >= room(numbers, numbers / NUMBERS_ROOM, NUMBERS_LOAD));
        for t in [&index.ids, &index.logins] {
            assert_eq!(t.len, 20_000);
            assert!(t.buckets.len() <= room(20_000, 20_000 / CUSTOMERS_ROOM, LOGINS_LOAD) * 9 / 8, "{}", t.buckets.len());
        }
        assert!(index.slots.capacity() <= 20_000 + 20_000 / CUSTOMERS_ROOM + 20_000 / 8);

        // The next full load is sized from this one: built without growing
        // a table, it ends with the same sizes.
        let (customers, numbers) = index.size_hint();
        let mut next = Index::sized(customers, numbers);
        let presized = (next.numbers.buckets.len(), next.ids.buckets.len(), next.logins.buckets.len(), next.slots.capacity());
        for r in &rows {
            next.apply(r, &ru(), false);
        }
        let grown = (next.numbers.buckets.len(), next.ids.buckets.len(), next.logins.buckets.len(), next.slots.capacity());
        assert_eq!(grown, presized);
        next.finish_build();
        assert_eq!(next.numbers.buckets.len(), index.numbers.buckets.len());
        assert_eq!(next.ids.buckets.len(), index.ids.buckets.len());
        // And it answers as the first one.
        for r in rows.iter().step_by(997) {
            let key = crate::number::canonical_key(&r.phone, &ru()).expect("a number");
            assert_eq!(next.lookup(&key).1.map(|c| c.login().to_string()), Some(r.login.clone()));
            assert_eq!(index.lookup(&key).1.map(|c| c.login().to_string()), Some(r.login.clone()));
        }
    }

    #[test]
    #[ignore]
    fn memory_at_100k() {
        let status = || std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
        let field =
            |s: &str, name: &str| s.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default();
        let before = status();
        let rows: Vec<CustomerRow> = (1..=100_000u64)
            .map(|i| {
                let mut r = row(
                    i,
                    &format!("bulk{i:06}"),
                    &format!("8 920 {i:07}"),
                    if i % 4 == 0 { "+7930" } else { "" },
                    t(2025, 1, 1, 0, 0, 0),
                );
                r.first_name = "Bulk".into();
                r.last_name = format!("Customer {i}");
                r.customer_id = "BULK".into();
                r
            })
            .collect();
        let index = Index::from_rows(rows, &ru());
        let after = status();
        println!(
            "Rss {} -> {}, AnonHugePages {} -> {}",
            field(&before, "Rss:"),
            field(&after, "Rss:"),
            field(&before, "AnonHugePages:"),
            field(&after, "AnonHugePages:")
        );
        println!(
            "numbers {} buckets ({} used), logins {} buckets, slots {}, ids {} buckets, text {} bytes in {} chunks",
            index.numbers.buckets.len(),
            index.numbers.len,
            index.logins.buckets.len(),
            index.slots.capacity(),
            index.ids.buckets.len(),
            index.text.bytes(),
            index.text.chunks.len()
        );
    }
}
