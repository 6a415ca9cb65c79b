//! The customers' text, packed one record per customer in big chunks.

use std::collections::HashMap;

use super::db::CustomerRow;
use super::pages::{Sweep, ZeroBuf};
use super::{Customer, CustomerText};

/// Where a customer's text is in the [`Arena`]: chunk << 21 | offset.
pub(super) type TextRef = u32;

const CHUNK_BITS: u32 = 21;
/// Text is stored in chunks of 2 MiB, one huge page each (a bigger record
/// gets a chunk of its own); the first one is small, for small indexes.
const CHUNK: usize = 1 << CHUNK_BITS;
const FIRST_CHUNK: usize = 64 << 10;
/// Separates the fields of a record: never part of UTF-8 text.
const SEP: u8 = 0xFF;
/// The longest length prefix of a record (LEB128 of a u32): most records
/// need one byte.
const MAX_HEAD: usize = 5;
/// At most this many email domains are kept once (see [`Domains`]); later
/// new ones are written out in full, so an index of a million customers
/// with a million domains costs no more than it did without the table.
const MAX_DOMAINS: usize = 4096;

/// The text of all customers, packed: per customer one record, its length
/// (LEB128: one byte below 128), then login, customer_id, first name, last
/// name and email separated by [`SEP`]. A lookup reads one record (one or
/// two cache lines) instead of five strings behind five pointers. Chunks are
/// never moved, so appending needs no copy; replaced records stay as garbage
/// until the next full reload builds a fresh arena.
///
/// The email, the record's last field, is written against what customers
/// share: how many of its first bytes are the login's (one byte; OTRS
/// often has login = email, or its local part), then its domain's number
/// in [`Domains`] (LEB128, 0 for none), then the bytes left. At 1 000 000
/// customers that was 22–28 MiB less of Asterisk's memory.
#[derive(Debug, Default)]
pub(super) struct Arena {
    pub(super) chunks: Vec<Chunk>,
    pub(super) garbage: usize,
    domains: Domains,
}

/// Email domains, each kept once: a helpdesk's customers share a few
/// (the company's, a few mail providers').
#[derive(Debug, Default)]
struct Domains {
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

impl Domains {
    /// The domain's number (from 1), if it has one or, with `add`, gets one.
    fn number(&mut self, domain: &str, add: bool) -> Option<u32> {
        if let Some(&n) = self.numbers.get(domain) {
            return Some(n);
        }
        if !add || self.names.len() >= MAX_DOMAINS {
            return None;
        }
        self.names.push(domain.into());
        let n = self.names.len() as u32;
        self.numbers.insert(domain.into(), n);
        Some(n)
    }

    fn name(&self, number: u32) -> &str {
        number.checked_sub(1).and_then(|i| self.names.get(i as usize)).map_or("", |d| d)
    }
}

#[derive(Debug)]
pub(super) struct Chunk {
    buf: ZeroBuf<u8>,
    used: usize,
}

impl Arena {
    pub(super) fn push(&mut self, text: &[u8]) -> TextRef {
        // 4 GiB of text would not fit a TextRef anyway.
        let text = &text[..text.len().min(u32::MAX as usize >> 1)];
        let mut head = [0u8; MAX_HEAD];
        let n = put_leb128(text.len() as u32, &mut head);
        let need = n + text.len();
        let fits = self.chunks.last().is_some_and(|c| c.buf.len() - c.used >= need);
        if !fits {
            let size = if self.chunks.is_empty() { FIRST_CHUNK } else { CHUNK };
            self.chunks.push(Chunk { buf: ZeroBuf::new(need.max(size)), used: 0 });
        }
        let index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[index];
        let offset = chunk.used;
        let record = &mut chunk.buf[offset..offset + need];
        record[..n].copy_from_slice(&head[..n]);
        record[n..].copy_from_slice(text);
        chunk.used += need;
        // 2048 chunks of 2 MiB: 4 GiB of customer text before this wraps.
        ((index as u32) << CHUNK_BITS) | offset as u32
    }

    /// The text of the record at `at`. Never panics, even on a reference
    /// that is not one (an index left half-changed by a panic while the lock
    /// was held is read until the next full reload replaces it).
    pub(super) fn text(&self, at: TextRef) -> &[u8] {
        self.record(at).map_or(&[], |(_, text)| text)
    }

    /// The record's length prefix's size, and its text.
    fn record(&self, at: TextRef) -> Option<(usize, &[u8])> {
        let offset = (at & ((1 << CHUNK_BITS) - 1)) as usize;
        let chunk = &self.chunks.get((at >> CHUNK_BITS) as usize)?.buf;
        let (len, n) = read_leb128(chunk.get(offset..)?)?;
        let len = len as usize;
        Some((n, chunk.get(offset + n..offset + n + len)?))
    }

    pub(super) fn forget(&mut self, at: TextRef) {
        self.garbage += self.record(at).map_or(0, |(n, text)| n + text.len());
    }

    /// See [`ZeroBuf::touch_pages`].
    pub(super) fn touch_pages(&self, sweep: Sweep) -> usize {
        self.chunks.iter().map(|c| c.buf.touch_pages(sweep)).sum()
    }

    pub(super) fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.used).sum()
    }

    /// The customer of the record at `at`, in one allocation.
    pub(super) fn customer(&self, at: TextRef) -> Customer {
        let text = self.text(at);
        let mut fields = text.splitn(5, |&b| b == SEP);
        let head: [&[u8]; 4] = std::array::from_fn(|_| fields.next().unwrap_or_default());
        let email = self.email(head[0], fields.next().unwrap_or_default());
        let len = head.iter().chain(&email).map(|f| f.len()).sum();
        let mut c = CustomerText::with_capacity(len);
        for field in head {
            c.push_parts(&[field]);
        }
        c.push_parts(&email);
        c.done()
    }

    /// The pieces of a record's email field (see [`Arena`]): the login's
    /// first bytes, the rest, and "@domain" when its domain is kept once.
    fn email<'a>(&'a self, login: &'a [u8], field: &'a [u8]) -> [&'a [u8]; 4] {
        let Some((&shared, rest)) = field.split_first() else { return [&[]; 4] };
        let (domain, n) = read_leb128(rest).unwrap_or((0, rest.len()));
        let start = login.get(..usize::from(shared)).unwrap_or(login);
        let rest = rest.get(n..).unwrap_or_default();
        match domain {
            0 => [start, rest, &[], &[]],
            d => [start, rest, b"@", self.domains.name(d).as_bytes()],
        }
    }

    pub(super) fn login(&self, at: TextRef) -> &[u8] {
        let text = self.text(at);
        text.split(|&b| b == SEP).next().unwrap_or(text)
    }

    /// A row's record text (see [`Arena`]), written into `out`; a new email
    /// domain gets its number.
    pub(super) fn encode(&mut self, row: &CustomerRow, out: &mut Vec<u8>) {
        encode_text(row, out, |d| self.domains.number(d, true));
    }

    /// The same for comparing with a record: no domain is added (one that
    /// has no number now had none when the record was written either).
    pub(super) fn encode_known(&self, row: &CustomerRow, out: &mut Vec<u8>) {
        let mut domains = |d: &str| self.domains.numbers.get(d).copied();
        encode_text(row, out, &mut domains);
    }
}

/// `value` in LEB128 (7 bits a byte, low first): one byte below 128; how
/// many bytes it took.
fn put_leb128(mut value: u32, out: &mut [u8; MAX_HEAD]) -> usize {
    let mut n = 0;
    loop {
        out[n] = (value & 0x7F) as u8 | if value >= 0x80 { 0x80 } else { 0 };
        n += 1;
        value >>= 7;
        if value == 0 {
            return n;
        }
    }
}

/// The LEB128 number `bytes` start with, and how many bytes it took; None
/// if it runs past their end or past [`MAX_HEAD`] bytes.
fn read_leb128(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (n, &b) in bytes.iter().take(MAX_HEAD).enumerate() {
        value |= u32::from(b & 0x7F) << (7 * n);
        if b & 0x80 == 0 {
            return Some((value, n + 1));
        }
    }
    None
}

fn encode_text(row: &CustomerRow, out: &mut Vec<u8>, mut domain_number: impl FnMut(&str) -> Option<u32>) {
    out.clear();
    for field in [&row.login, &row.customer_id, &row.first_name, &row.last_name] {
        out.extend_from_slice(field.as_bytes());
        out.push(SEP);
    }
    let email = row.email.as_str();
    if email.is_empty() {
        return;
    }
    let (local, number) = match email.rsplit_once('@') {
        Some((local, domain)) if !domain.is_empty() => match domain_number(domain) {
            Some(n) => (local, n),
            None => (email, 0),
        },
        _ => (email, 0),
    };
    let shared = local.bytes().zip(row.login.bytes()).take_while(|(a, b)| a == b).count().min(255);
    out.push(shared as u8);
    let mut head = [0u8; MAX_HEAD];
    let n = put_leb128(number, &mut head);
    out.extend_from_slice(&head[..n]);
    out.extend_from_slice(&local.as_bytes()[shared..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_email(login: &str, email: &str) -> CustomerRow {
        let mut r = crate::customers::test_support::row(1, login, "", "", None);
        r.email = email.into();
        r
    }

    fn put(arena: &mut Arena, r: &CustomerRow) -> (TextRef, usize) {
        let mut out = Vec::new();
        arena.encode(r, &mut out);
        (arena.push(&out), out.len())
    }

    #[test]
    fn emails_read_back_whole_however_they_are_packed() {
        let mut arena = Arena::default();
        let cases = [
            ("ivanov", "ivanov@example.com"),
            ("ivanov@example.com", "ivanov@example.com"),
            ("petrov", "p.petrov@example.com"),
            ("sidorova", "olga@mail.example"),
            ("nobody", ""),
            ("x", "no-at-sign"),
            ("y", "trailing@"),
            ("z", "two@at@signs.example"),
            // shared bytes that end inside a character (é C3 A9, è C3 A8)
            ("é", "è@example.com"),
            ("Фёдор", "Фёдор@пример.рф"),
            (&"l".repeat(300), &format!("{}@example.com", "l".repeat(300))),
        ];
        let refs: Vec<TextRef> = cases.iter().map(|(l, e)| put(&mut arena, &with_email(l, e)).0).collect();
        for ((login, email), at) in cases.iter().zip(refs) {
            let c = arena.customer(at);
            assert_eq!((c.login(), c.email(), c.customer_id(), c.last_name()), (*login, *email, "ACME", "Last1"));
            assert_eq!(arena.login(at), login.as_bytes());
        }
        // The domain is kept once and the login's bytes are not repeated:
        // the email costs two bytes and its local part's rest.
        let (_, same) = put(&mut arena, &with_email("ivanov", "ivanov@example.com"));
        let (_, other) = put(&mut arena, &with_email("ivanov", "ivanov2@example.com"));
        let fields = "ivanov".len() + "ACME".len() + "First1".len() + "Last1".len() + 4;
        assert_eq!((same, other), (fields + 2, fields + 3));
    }

    #[test]
    fn past_the_domain_limit_emails_are_written_in_full_and_still_compare() {
        let mut arena = Arena::default();
        for i in 0..MAX_DOMAINS {
            put(&mut arena, &with_email("a", &format!("a@d{i}.example")));
        }
        let late = with_email("b", "b@late.example");
        let (at, len) = put(&mut arena, &late);
        assert_eq!(arena.customer(at).email(), "b@late.example");
        assert_eq!(len, "bACMEFirst1Last1".len() + 4 + 2 + "late.example".len() + 1);
        // Comparing a row with its record encodes it as it was written.
        let (mut known, mut again) = (Vec::new(), Vec::new());
        arena.encode_known(&late, &mut known);
        arena.encode(&late, &mut again);
        assert_eq!((arena.text(at), arena.text(at)), (&known[..], &again[..]));
        let early = with_email("a", "a@d7.example");
        arena.encode_known(&early, &mut known);
        assert_eq!(known.len(), "aACMEFirst1Last1".len() + 4 + 2);
    }

    #[test]
    fn records_of_any_length_read_back_with_a_short_head() {
        let mut arena = Arena::default();
        let lens = [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000, 3 << 20];
        let refs: Vec<(TextRef, Vec<u8>)> = lens
            .iter()
            .map(|&n| {
                let text: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                (arena.push(&text), text)
            })
            .collect();
        for (at, text) in &refs {
            assert_eq!(arena.text(*at), &text[..], "length {}", text.len());
        }
        // One byte of length below 128, two below 16 384.
        let small: usize = [0usize, 1, 127].iter().map(|n| n + 1).sum();
        assert_eq!(arena.chunks[0].used, small + (128 + 2) + (300 + 2) + (16_383 + 2) + (16_384 + 3));
        // A reference that is none reads as empty, never panics.
        assert_eq!(arena.text(u32::MAX), b"");
        assert_eq!(arena.text((arena.chunks.len() as u32) << CHUNK_BITS), b"");
        // A length prefix that runs past MAX_HEAD bytes (0x80 in every byte).
        let bad = arena.push(&[0x80; 8]);
        assert_eq!(arena.text(bad + 1), b"");
        let before = arena.garbage;
        arena.forget(refs[4].0);
        assert_eq!(arena.garbage - before, 302);
    }
}
