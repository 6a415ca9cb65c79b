//! An open-addressing hash table of 16-byte buckets, for the number and
//! login tables of the index.

use super::pages::{ZeroBuf, Zeroed};

/// One slot of an open-addressing table: `key` 0 is an empty slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bucket {
    pub(super) key: u64,
    /// numbers: where the best customer's text is
    /// ([`TextRef`](super::arena::TextRef)); logins: slot.
    pub(super) a: u32,
    /// numbers: how many customers have the number.
    pub(super) b: u32,
}

// SAFETY: a struct of integers: all-zero bytes are a valid (empty) bucket.
// The one unsafe line outside pages.rs: the marker must stand next to the
// type it vouches for.
#[allow(unsafe_code)]
unsafe impl Zeroed for Bucket {}

/// A hash table of 16-byte buckets with linear probing: a lookup usually
/// reads one cache line, with no pointer to follow to find or compare the key.
/// Keys are integers (never 0) and may repeat (the login table, keyed by a
/// hash, keeps colliding logins side by side); deletion shifts later buckets
/// back, so there are no tombstones.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) buckets: ZeroBuf<Bucket>,
    pub(super) len: usize,
    /// 64 - log2(buckets.len())
    shift: u32,
    /// Grows beyond this percentage of buckets in use.
    max_load: usize,
}

/// Below this many buckets the table is not grown for load factor reasons
/// alone (16 buckets: 256 bytes).
const MIN_BUCKETS: usize = 16;

impl Table {
    pub(super) fn new(max_load: usize) -> Table {
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
    pub(super) fn find(&self, key: u64) -> Option<usize> {
        self.find_where(key, |_| true)
    }

    /// The first bucket holding `key` for which `pred` holds.
    pub(super) fn find_where(&self, key: u64, pred: impl Fn(&Bucket) -> bool) -> Option<usize> {
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
    pub(super) fn insert(&mut self, bucket: Bucket) {
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

    pub(super) fn remove_at(&mut self, at: usize) {
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
    pub(super) fn reserve(&mut self, extra: usize) {
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
}
