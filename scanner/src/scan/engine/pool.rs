//! Content buffers kept for reuse between files (issue 12).
//!
//! Every file's content travels in its own `Vec<u8>` from the coordinator to a worker and
//! back; with batches of 32 files, about a hundred of them are in flight at once. Keeping only
//! a handful (as before) meant a fresh allocation and a free per small file; with the stick's
//! mimalloc set to hand memory back to the kernel at once (as it was on 2026-12-03), a page
//! emptied by those frees was returned and faulted in again: measured on the 24,000-file NTFS
//! benchmark image, 25,000 to 28,000 page faults against 8,000 for the glibc build, and about
//! twice its system time (17,000 faults with this pool).
//!
//! The pool sorts buffers by capacity in power-of-two classes from 4 KiB to [`MAX_BUFFER`];
//! a file takes the first kept buffer that holds it, looking from the smallest class that
//! surely does upwards, so a large file does not grow a small buffer. What it keeps is bounded
//! in bytes ([`MAX_KEPT`]), on top of the in-flight budget; so is what small files can pin by
//! taking larger buffers, which all came from the pool.

/// Largest buffer kept (larger ones are freed: a kept 64 MiB buffer is resident memory for
/// nothing).
const MAX_BUFFER: usize = 1 << 20;
/// Total capacity the pool may hold.
const MAX_KEPT: usize = 8 << 20;
/// Smallest class: 4 KiB.
const MIN_SHIFT: u32 = 12;
const CLASSES: usize = (MAX_BUFFER.trailing_zeros() - MIN_SHIFT + 1) as usize;

#[derive(Default)]
pub(super) struct BufferPool {
    classes: [Vec<Vec<u8>>; CLASSES],
    kept: usize,
}

/// The class whose buffers all hold at least `len` bytes (`None` above [`MAX_BUFFER`]).
fn class_for(len: usize) -> Option<usize> {
    if len > MAX_BUFFER {
        return None;
    }
    let shift = len
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .max(MIN_SHIFT);
    Some((shift - MIN_SHIFT) as usize)
}

/// The class a buffer of `capacity` belongs to: the largest whose size it reaches.
fn class_of(capacity: usize) -> Option<usize> {
    if !(1 << MIN_SHIFT..=MAX_BUFFER).contains(&capacity) {
        return None;
    }
    let shift = usize::BITS - 1 - capacity.leading_zeros();
    Some((shift - MIN_SHIFT) as usize)
}

impl BufferPool {
    /// An empty buffer able to hold `len` bytes without growing, reused when one is kept.
    pub(super) fn take(&mut self, len: usize) -> Vec<u8> {
        if let Some(c) = class_for(len) {
            for class in &mut self.classes[c..] {
                if let Some(buf) = class.pop() {
                    self.kept -= buf.capacity();
                    return buf;
                }
            }
        }
        Vec::new()
    }

    /// Gives a buffer back; kept if it fits a class and the pool's byte bound.
    pub(super) fn give(&mut self, mut buf: Vec<u8>) {
        let Some(c) = class_of(buf.capacity()) else {
            return;
        };
        if self.kept + buf.capacity() > MAX_KEPT {
            return;
        }
        buf.clear();
        self.kept += buf.capacity();
        self.classes[c].push(buf);
    }

    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_hold_what_they_promise() {
        assert_eq!(class_for(0), Some(0));
        assert_eq!(class_for(4096), Some(0));
        assert_eq!(class_for(4097), Some(1));
        assert_eq!(class_for(MAX_BUFFER), Some(CLASSES - 1));
        assert_eq!(class_for(MAX_BUFFER + 1), None);
        assert_eq!(class_of(4095), None);
        assert_eq!(class_of(4096), Some(0));
        assert_eq!(class_of(8191), Some(0));
        assert_eq!(class_of(8192), Some(1));
        assert_eq!(class_of(MAX_BUFFER + 1), None);
        // Whatever a class holds is at least what a request for it needs.
        for len in [1, 4096, 5000, 8192, 100_000, MAX_BUFFER] {
            let c = class_for(len).unwrap();
            assert!(1usize << (c as u32 + MIN_SHIFT) >= len, "{len}");
        }
    }

    #[test]
    fn a_small_file_gets_a_small_buffer_and_a_large_one_a_large_buffer() {
        let mut pool = BufferPool::default();
        pool.give(Vec::with_capacity(MAX_BUFFER));
        pool.give(Vec::with_capacity(4096));
        let small = pool.take(100);
        assert_eq!(small.capacity(), 4096);
        let large = pool.take(200_000);
        assert_eq!(large.capacity(), MAX_BUFFER);
        assert!(large.is_empty());
        // Nothing left that holds 10 bytes: a fresh buffer.
        assert_eq!(pool.take(10).capacity(), 0);
        assert_eq!(pool.kept(), 0);
    }

    #[test]
    fn the_pool_stays_within_its_byte_bound() {
        let mut pool = BufferPool::default();
        for _ in 0..100 {
            pool.give(Vec::with_capacity(MAX_BUFFER));
        }
        assert_eq!(pool.kept(), MAX_KEPT);
        pool.give(Vec::with_capacity(MAX_BUFFER * 2));
        pool.give(Vec::with_capacity(100));
        assert_eq!(pool.kept(), MAX_KEPT);
        let mut full = vec![1u8; 5000];
        full.truncate(3);
        let mut pool = BufferPool::default();
        pool.give(full);
        assert!(pool.take(3).is_empty(), "given back cleared");
    }
}
