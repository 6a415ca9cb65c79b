//! The customers' text, packed one record per customer in big chunks.

use super::db::CustomerRow;
use super::pages::ZeroBuf;
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

/// The text of all customers, packed: per customer one record, its length
/// (LEB128: one byte below 128), then login, customer_id, first name, last name and email
/// separated by [`SEP`]. A lookup reads one record (one or two cache lines)
/// instead of five strings behind five pointers. Chunks are never moved, so
/// appending needs no copy; replaced records stay as garbage until the next
/// full reload builds a fresh arena.
#[derive(Debug, Default)]
pub(super) struct Arena {
    pub(super) chunks: Vec<Chunk>,
    pub(super) garbage: usize,
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
        let mut n = 0;
        let mut len = text.len() as u32;
        loop {
            head[n] = (len & 0x7F) as u8 | if len >= 0x80 { 0x80 } else { 0 };
            n += 1;
            len >>= 7;
            if len == 0 {
                break;
            }
        }
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
        let (mut len, mut n) = (0usize, 0);
        loop {
            let b = *chunk.get(offset + n)?;
            len |= usize::from(b & 0x7F) << (7 * n);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n == MAX_HEAD {
                return None;
            }
        }
        Some((n, chunk.get(offset + n..offset + n + len)?))
    }

    pub(super) fn forget(&mut self, at: TextRef) {
        self.garbage += self.record(at).map_or(0, |(n, text)| n + text.len());
    }

    /// See [`ZeroBuf::touch_pages`].
    pub(super) fn touch_pages(&self) -> usize {
        self.chunks.iter().map(|c| c.buf.touch_pages()).sum()
    }

    pub(super) fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.used).sum()
    }

    /// The customer of the record at `at`, in one allocation.
    pub(super) fn customer(&self, at: TextRef) -> Customer {
        let text = self.text(at);
        let mut c = CustomerText::with_capacity(text.len());
        for field in text.split(|&b| b == SEP).take(5) {
            c.push(&String::from_utf8_lossy(field));
        }
        c.done()
    }

    pub(super) fn login(&self, at: TextRef) -> &[u8] {
        let text = self.text(at);
        text.split(|&b| b == SEP).next().unwrap_or(text)
    }
}

/// A row's record text (see [`Arena`]), written into `out`.
pub(super) fn encode_text(row: &CustomerRow, out: &mut Vec<u8>) {
    out.clear();
    for (i, field) in [&row.login, &row.customer_id, &row.first_name, &row.last_name, &row.email].into_iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(field.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
