//! An open-addressing hash table of small buckets: 16-byte ones for the
//! numbers (key, text, count), 8-byte ones for the refresh-only tables of
//! customer ids and logins (a tag of the key's hash and a slot).

use super::pages::{Sweep, ZeroBuf, Zeroed};

/// A bucket of a [`Table`]: its key, 0 when empty.
pub(super) trait Keyed: Zeroed + Default + PartialEq {
    fn key(&self) -> u64;
}

/// One slot of the numbers table: `key` 0 is an empty slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bucket {
    pub(super) key: u64,
    /// Where the best customer's text is ([`TextRef`](super::arena::TextRef)).
    pub(super) a: u32,
    /// How many customers have the number.
    pub(super) b: u32,
}

/// One slot of the ids and logins tables: 32 bits of the key's hash (never
/// 0) and the customer's slot; the slot itself says whether it is the one
/// (the caller's `pred`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Ref {
    pub(super) tag: u32,
    pub(super) a: u32,
}

impl Ref {
    /// The key a 64-bit hash is found under: 32 bits of it, never 0 (an
    /// empty bucket).
    pub(super) fn tag(hash: u64) -> u64 {
        u64::from(((hash >> 32) as u32 ^ hash as u32).max(1))
    }

    pub(super) fn new(hash: u64, a: u32) -> Ref {
        Ref { tag: Ref::tag(hash) as u32, a }
    }
}

// SAFETY: structs of integers: all-zero bytes are a valid (empty) bucket.
// The unsafe lines outside pages.rs: the marker must stand next to the
// types it vouches for.
#[allow(unsafe_code)]
unsafe impl Zeroed for Bucket {}
#[allow(unsafe_code)]
unsafe impl Zeroed for Ref {}

impl Keyed for Bucket {
    fn key(&self) -> u64 {
        self.key
    }
}

impl Keyed for Ref {
    fn key(&self) -> u64 {
        u64::from(self.tag)
    }
}

/// A hash table with linear probing: a lookup usually reads one cache line,
/// with no pointer to follow to find or compare the key. Keys are integers
/// (never 0) and may repeat (the login table, keyed by a hash, keeps
/// colliding logins side by side); deletion shifts later buckets back, so
/// there are no tombstones. Any number of buckets (not only powers of two):
/// a full load sizes the table to its rows, so a million customers do not
/// pay for a doubling they never use.
#[derive(Debug)]
pub(super) struct Table<B: Keyed = Bucket> {
    pub(super) buckets: ZeroBuf<B>,
    pub(super) len: usize,
    /// Grows beyond this percentage of buckets in use.
    max_load: usize,
}

/// Below this many buckets the table is not grown for load factor reasons
/// alone.
const MIN_BUCKETS: usize = 16;

impl<B: Keyed> Table<B> {
    #[cfg(test)]
    pub(super) fn new(max_load: usize) -> Self {
        Table::with_buckets(MIN_BUCKETS, max_load)
    }

    /// Empty, with room for `len` keys at `max_load`.
    pub(super) fn with_room(len: usize, max_load: usize) -> Self {
        Table::with_buckets(Self::buckets_for(len, max_load), max_load)
    }

    fn buckets_for(len: usize, max_load: usize) -> usize {
        (len * 100).div_ceil(max_load).max(MIN_BUCKETS)
    }

    fn with_buckets(n: usize, max_load: usize) -> Self {
        Table { buckets: ZeroBuf::new(n.max(MIN_BUCKETS)), len: 0, max_load }
    }

    /// See [`ZeroBuf::touch_pages`].
    pub(super) fn touch_pages(&self, sweep: Sweep) -> usize {
        self.buckets.touch_pages(sweep)
    }

    fn fits(&self, len: usize) -> bool {
        len * 100 <= self.buckets.len() * self.max_load
    }

    /// Fibonacci hashing, then the top bits scaled to the table's size
    /// (Lemire's multiply-shift): keys that differ in their low digits
    /// (consecutive numbers) land far apart, whatever the size.
    fn home(&self, key: u64) -> usize {
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((u128::from(h) * self.buckets.len() as u128) >> 64) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.buckets.len() {
            0
        } else {
            i + 1
        }
    }

    /// How far `to` is after `from`, wrapping.
    fn dist(&self, from: usize, to: usize) -> usize {
        if to >= from {
            to - from
        } else {
            to + self.buckets.len() - from
        }
    }

    /// The bucket holding `key` (the first one, if it repeats).
    pub(super) fn find(&self, key: u64) -> Option<usize> {
        self.find_where(key, |_| true)
    }

    /// The first bucket holding `key` for which `pred` holds.
    pub(super) fn find_where(&self, key: u64, pred: impl Fn(&B) -> bool) -> Option<usize> {
        let mut i = self.home(key);
        loop {
            let b = &self.buckets[i];
            let k = b.key();
            if k == key && pred(b) {
                return Some(i);
            }
            if k == 0 {
                return None;
            }
            i = self.next(i);
        }
    }

    /// Adds a bucket (even if the key is there already). Grows past
    /// `max_load`, which keeps probe runs short.
    pub(super) fn insert(&mut self, bucket: B) {
        if !self.fits(self.len + 1) {
            self.rehash(self.buckets.len() * 2);
        }
        self.put(bucket);
        self.len += 1;
    }

    fn put(&mut self, bucket: B) {
        let mut i = self.home(bucket.key());
        while self.buckets[i].key() != 0 {
            i = self.next(i);
        }
        self.buckets[i] = bucket;
    }

    pub(super) fn remove_at(&mut self, at: usize) {
        let mut hole = at;
        let mut j = at;
        loop {
            j = self.next(j);
            let b = self.buckets[j];
            if b.key() == 0 {
                break;
            }
            // b may move back to the hole if the hole is not before its home.
            let home = self.home(b.key());
            if self.dist(home, j) >= self.dist(hole, j) {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = B::default();
        self.len -= 1;
    }

    /// Room for `extra` more keys without growing, in as few buckets as
    /// that takes: after a full load, a table grown by doublings shrinks to
    /// its rows plus `extra` (the memory goes back at once: big tables are
    /// mapped on their own).
    pub(super) fn fit_to(&mut self, extra: usize) {
        let want = Self::buckets_for(self.len + extra, self.max_load);
        // Rebuilt when it must grow, or saves more than a thirty-second (a
        // table of 1 250 000 numbers grown to 2^21 buckets: 3 MiB).
        if want > self.buckets.len() || want + want / 32 < self.buckets.len() {
            self.rehash(want);
        }
    }

    fn rehash(&mut self, n: usize) {
        let old = std::mem::replace(self, Table::with_buckets(n, self.max_load));
        self.len = old.len;
        for b in old.buckets.iter().filter(|b| b.key() != 0) {
            self.put(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::customers::index::{LOGINS_LOAD, NUMBERS_LOAD};
    use crate::customers::test_support::*;

    #[test]
    fn a_table_grown_into_mapped_buckets_keeps_every_key() {
        let mut big: ZeroBuf<Bucket> = ZeroBuf::new(300_000);
        assert!(big.iter().all(|b| *b == Bucket::default()));
        big[299_999] = Bucket { key: 7, a: 1, b: 2 };
        assert_eq!(big[299_999].key, 7);
        let mut t = Table::new(NUMBERS_LOAD);
        for k in 1..=200_000u64 {
            t.insert(Bucket { key: k * 2, a: k as u32, b: 1 });
        }
        assert!(t.buckets.mapping().is_some());
        assert!((1..=200_000u64).all(|k| t.find(k * 2).map(|i| t.buckets[i].a) == Some(k as u32)));
        assert_eq!(t.find(3), None);
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
    fn any_size_works_and_fit_to_shrinks_a_grown_table() {
        // Sizes that are not powers of two (a table sized to its rows), with
        // removals that wrap around the end, against a HashMap.
        for n in [16usize, 17, 1000, 4099] {
            let mut t: Table<Ref> = Table::with_buckets(n, LOGINS_LOAD);
            let mut model: HashMap<u64, u32> = HashMap::new();
            let mut rng = Lcg(n as u64);
            for step in 0..5_000u32 {
                let key = 1 + rng.below((n as u64) / 2 + 1);
                match model.contains_key(&key) {
                    false if t.fits(t.len + 1) || rng.below(2) == 0 => {
                        t.insert(Ref { tag: key as u32, a: step });
                        model.insert(key, step);
                    }
                    true if rng.below(2) == 0 => {
                        t.remove_at(t.find(key).expect("in the table"));
                        model.remove(&key);
                    }
                    _ => {}
                }
            }
            for k in 1..=(n as u64) / 2 + 1 {
                assert_eq!(t.find(k).map(|i| t.buckets[i].a), model.get(&k).copied(), "size {n}, key {k}");
            }
        }
        // Grown by doublings to 2^k buckets, then fitted to its keys plus an
        // eighth: fewer buckets, every key still found.
        let mut t: Table = Table::new(NUMBERS_LOAD);
        for k in 1..=120_000u64 {
            t.insert(Bucket { key: k * 7, a: k as u32, b: 1 });
        }
        let grown = t.buckets.len();
        t.fit_to(t.len / 8);
        assert!(t.buckets.len() < grown, "{} buckets, {grown} before", t.buckets.len());
        assert_eq!(t.buckets.len(), (135_000usize * 100).div_ceil(NUMBERS_LOAD));
        assert!(t.fits(135_000) && !t.fits(135_100));
        assert!((1..=120_000u64).all(|k| t.find(k * 7).map(|i| t.buckets[i].a) == Some(k as u32)));
        // Fitted already: left alone; asked for more room: grows.
        let before = t.buckets.len();
        t.fit_to(t.len / 8);
        assert_eq!(t.buckets.len(), before);
        t.fit_to(t.len);
        assert!(t.fits(200_000));
    }
}
