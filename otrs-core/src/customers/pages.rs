//! Zero-initialised buffers, mapped on their own huge pages when big: the
//! tables and the text arena live in them. All the unsafe code of the
//! customer index is here; `ZeroBuf` derefs to a plain slice above it.

use std::fmt;

use super::table::Bucket;

/// Marks types whose all-zero bytes are a valid value (fresh anonymous
/// memory is zeroed).
///
/// # Safety
/// Only for plain integer types and structs of them.
pub(super) unsafe trait Zeroed: Copy {}
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
pub(super) struct ZeroBuf<T: Zeroed> {
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
    pub(super) fn new(len: usize) -> ZeroBuf<T> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::index::NUMBERS_LOAD;
    use crate::customers::table::Table;

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
}
