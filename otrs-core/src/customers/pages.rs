//! Zero-initialised buffers, mapped on their own huge pages when big: the
//! tables and the text arena live in them. The one module of otrs-core
//! allowed unsafe code (lib.rs denies it everywhere else): mapping memory
//! and viewing it as a slice cannot be done safely. `ZeroBuf` derefs to a
//! plain slice above it.
#![allow(unsafe_code)]

use std::fmt;

/// Marks types whose all-zero bytes are a valid value (fresh anonymous
/// memory is zeroed).
///
/// # Safety
/// Only for plain integer types and structs of them.
pub(super) unsafe trait Zeroed: Copy {}
// SAFETY: integers.
unsafe impl Zeroed for u8 {}

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

    /// Reads one byte of each 4 KiB page of a mapped buffer that is this
    /// pass's share of a sweep (see [`Sweep`] and
    /// [`super::CustomerIndex::keep_warm`]); how many it read (0 for a plain
    /// vector, which lives on the malloc heap).
    pub(super) fn touch_pages(&self, sweep: Sweep) -> usize {
        let Some((start, size)) = self.map else { return 0 };
        let mut n = 0;
        for offset in (sweep.first() * PAGE..size).step_by(sweep.every * PAGE) {
            // SAFETY: inside our own mapping, readable for its whole length;
            // volatile, so the read is not optimised away.
            unsafe { std::ptr::read_volatile(start.cast::<u8>().add(offset)) };
            n += 1;
        }
        n
    }
}

/// The page size a sweep reads at: a VM was measured to let each 4 KiB
/// page of a huge one go slow on its own.
const PAGE: usize = 4096;

/// One pass of a sweep over the mapped buffers: pass number `pass` reads
/// the 4 KiB pages whose number is `pass` modulo `every`, so `every`
/// consecutive passes read each page once. `every` is at most 256, so that
/// each pass still reads every 2 MiB page (and every buffer, all of at
/// least 1 MiB) at least once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sweep {
    pass: u64,
    every: usize,
}

impl Sweep {
    pub(super) const MAX_EVERY: usize = 256;

    pub(super) fn new(pass: u64, every: usize) -> Sweep {
        Sweep { pass, every: every.clamp(1, Sweep::MAX_EVERY) }
    }

    fn first(self) -> usize {
        (self.pass % self.every as u64) as usize
    }
}

/// Returns the heap memory freed since to the system (glibc keeps freed
/// memory for later, and a full load frees a lot of it at once: the rows as
/// read, the drivers' buffers, the index replaced). Elsewhere a no-op.
pub(super) fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: glibc's malloc_trim takes no pointer and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl<T: Zeroed> ZeroBuf<T> {
    #[cfg(test)]
    /// Whether the buffer has a mapping of its own (huge pages), and then
    /// where it starts and how long it is.
    pub(super) fn mapping(&self) -> Option<(usize, usize)> {
        self.map.map(|(start, size)| (start as usize, size))
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

    #[test]
    fn big_buffers_are_mapped_and_zeroed() {
        let small: ZeroBuf<u8> = ZeroBuf::new(100);
        assert!(small.mapping().is_none() && small.iter().all(|&b| b == 0));
        let mut big: ZeroBuf<u8> = ZeroBuf::new(3 << 20);
        assert_eq!(big.len(), 3 << 20);
        if let Some((start, size)) = big.mapping() {
            assert_eq!(start % HUGE_PAGE, 0);
            assert!(size >= 3 << 20);
        }
        assert!(big.iter().all(|b| *b == 0));
        big[(3 << 20) - 1] = 7;
        assert_eq!(big[(3 << 20) - 1], 7);
        // 3 MiB mapped on 4 MiB: a sweep reads each of its 1024 pages once
        // over `every` passes, each pass some of every 2 MiB page; a vector
        // is never read.
        if big.mapping().is_some() {
            assert_eq!(big.touch_pages(Sweep::new(7, 1)), 1024);
            for every in [2, 3, 50, 256, 1000] {
                let passes: Vec<usize> = (0..every.min(256) as u64).map(|p| big.touch_pages(Sweep::new(p, every))).collect();
                assert_eq!(passes.iter().sum::<usize>(), 1024, "every {every}");
                assert!(passes.iter().all(|&n| n >= 2), "every {every}: {passes:?}");
            }
        }
        assert_eq!(small.touch_pages(Sweep::new(0, 1)), 0);
        assert_eq!(big[(3 << 20) - 1], 7);
        let empty: ZeroBuf<u8> = ZeroBuf::new(0);
        assert!(empty.is_empty());
    }
}
