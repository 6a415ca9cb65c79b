//! The customers' text, packed one record per customer in big chunks.

use super::db::CustomerRow;
use super::pages::ZeroBuf;
use super::Customer;

/// Where a customer's text is in the [`Arena`]: chunk << 21 | offset.
pub(super) type TextRef = u32;

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
    pub(super) fn push(&mut self, slot: u32, text: &[u8]) -> TextRef {
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

    pub(super) fn text(&self, at: TextRef) -> &[u8] {
        self.record(at).1
    }

    pub(super) fn slot(&self, at: TextRef) -> u32 {
        self.record(at).0
    }

    pub(super) fn forget(&mut self, at: TextRef) {
        self.garbage += RECORD_HEAD + self.text(at).len();
    }

    pub(super) fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.used).sum()
    }

    pub(super) fn customer(&self, at: TextRef) -> Customer {
        let mut fields = self.text(at).split(|&b| b == SEP).map(|f| String::from_utf8_lossy(f).into_owned());
        let mut next = || fields.next().unwrap_or_default();
        Customer { login: next(), customer_id: next(), first_name: next(), last_name: next(), email: next() }
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
