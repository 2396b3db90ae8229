//! The allocator of the static musl build (the binary on the stick), in two parts.
//!
//! musl's own allocator made every scan 1.4 to 2.7 times slower than the glibc build (many
//! small allocations per file, from two threads), so small and medium blocks come from
//! mimalloc. Large blocks (over [`LARGE`]: the content of a big file, read whole) come from
//! musl's `malloc`, which maps each of them on its own and unmaps it when it is freed: the
//! memory goes back to the kernel at once, which a 256 MiB workstation needs, without asking
//! mimalloc to hand back every page it frees. Measured side by side (2 threads):
//! - mimalloc alone at its default 10 ms purge delay: peak RSS 127-130 MiB on a 1.2 GB ext4
//!   image of large files (glibc build: 109-110 MiB);
//! - mimalloc alone, purging at once (`purge_delay` 0): 108.6 MiB there, but on 24,000 small
//!   files about 11,300 page faults (ext4) and 17,000 (NTFS) against 8,000 and 8,900 for the
//!   glibc build, and up to 1.22 times its time (ext4): pages emptied by ordinary frees were
//!   given back and faulted in again;
//! - this split, mimalloc keeping its default 10 ms delay: see the README's benchmark.
//!
//! Which part owns a block is decided by its size alone, which `dealloc` and `realloc` are
//! given back exactly as it was allocated (the `GlobalAlloc` contract), so no header or lookup
//! is needed.

use std::alloc::{GlobalAlloc, Layout, System};

use mimalloc::MiMalloc;

/// Blocks larger than this come from musl's `malloc` (mapped on their own).
pub const LARGE: usize = 1 << 20;

pub struct SplitAlloc;

fn large(size: usize) -> bool {
    size > LARGE
}

// SAFETY: every method forwards to one of two allocators that implement `GlobalAlloc`
// themselves; a block is always freed or resized by the one that allocated it, because both
// sides choose by the same size (`large`), and `dealloc`/`realloc` receive the layout the block
// was allocated with. A block that changes sides in `realloc` is copied into a new block of the
// other side and the old one freed by its own side.
unsafe impl GlobalAlloc for SplitAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees on `layout` (non-zero size) are passed on unchanged.
        unsafe {
            if large(layout.size()) {
                System.alloc(layout)
            } else {
                MiMalloc.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if large(layout.size()) {
                System.alloc_zeroed(layout)
            } else {
                MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator with `layout`, so by the side that
        // `large(layout.size())` names.
        unsafe {
            if large(layout.size()) {
                System.dealloc(ptr, layout)
            } else {
                MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (was, will) = (large(layout.size()), large(new_size));
        // SAFETY: same side: forwarded with the caller's guarantees. Changing sides: the new
        // layout keeps the alignment and has a non-zero size (the caller guarantees
        // `new_size` > 0 and that it does not overflow when rounded to the alignment); the
        // old block is valid for `layout.size()` bytes and the new one for `new_size`, they
        // are distinct blocks, and the old one is freed by its own side.
        unsafe {
            match (was, will) {
                (true, true) => System.realloc(ptr, layout, new_size),
                (false, false) => MiMalloc.realloc(ptr, layout, new_size),
                _ => {
                    let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}
