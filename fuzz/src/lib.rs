//! What every Vigie fuzz target shares: the properties checked beyond "it returned".
//!
//! - **Our code never panics.** A panic whose location is in this repository (the scanner
//!   library, these targets) is a crash, even where a reader's `fs::guard` would have caught
//!   it. A panic inside a third-party crate that a guard catches is what the guard is for: it
//!   is allowed and printed once per location. One that escapes the library is a crash
//!   (libfuzzer-sys aborts on it).
//! - **Memory is bounded.** A global allocator refuses (and so aborts the process) any single
//!   allocation, or live total, over `VIGIE_FUZZ_ALLOC_MB` (default 512 MiB): a size read from
//!   a hostile disk must never become an allocation. libFuzzer's own `-malloc_limit_mb` needs a
//!   sanitizer's allocator hooks, which `-s none` does not have; `-rss_limit_mb` still applies.
//! - **No hang.** libFuzzer's `-timeout` (set by `scripts/fuzz`).
//! - **Readers:** every file handed to the visitor yields at most its declared size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::io;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use vigie::fs::{Content, FileMeta, Walker};
use vigie::init::fatlog::Store;

/// The allocation cap, read once from the environment (0 until then: no cap while unset).
static CAP: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator with a cap on each request and on the live total.
pub struct CappedAlloc;

fn over_cap(size: usize) -> bool {
    let cap = CAP.load(Ordering::Relaxed);
    if cap == 0 {
        return false;
    }
    let live = LIVE.load(Ordering::Relaxed);
    size > cap || live.saturating_add(size) > cap
}

fn refuse(size: usize) -> ! {
    // No allocation here: format the number into a stack buffer.
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    let mut n = size;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut err = io::stderr();
    let _ = io::Write::write_all(&mut err, b"vigie-fuzz: allocation of ");
    let _ = io::Write::write_all(&mut err, &buf[i..]);
    let _ = io::Write::write_all(&mut err, b" bytes over the cap (VIGIE_FUZZ_ALLOC_MB)\n");
    std::process::abort();
}

// SAFETY: every method forwards to `System` with the caller's layout and pointer unchanged;
// the counters only observe sizes.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if over_cap(layout.size()) {
            refuse(layout.size());
        }
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if over_cap(layout.size()) {
            refuse(layout.size());
        }
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && over_cap(new_size - layout.size()) {
            refuse(new_size);
        }
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with `layout`; same contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// Third-party panic locations already reported.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Whether a panic location is this repository's code (not a registry crate, not std).
fn ours(file: &str) -> bool {
    !(file.contains("/.cargo/registry/")
        || file.starts_with("/rustc/")
        || file.contains("/rustlib/"))
}

/// Installs the allocation cap and the panic policy; call at the top of every target.
pub fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mb = std::env::var("VIGIE_FUZZ_ALLOC_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(512);
        CAP.store(mb << 20, Ordering::Relaxed);
        // libfuzzer-sys's hook prints and aborts: keep it for our panics.
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file()).unwrap_or("");
            if ours(file) {
                abort_hook(info);
                std::process::abort();
            }
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if let Ok(mut seen) = SEEN.lock() {
                if seen.insert(at.clone()) {
                    eprintln!("vigie-fuzz: contained panic in a crate at {at}: {info}");
                }
            }
        }));
    });
}

/// Bytes a walk may read from file contents per input (keeps each run short).
const READ_BUDGET: u64 = 32 << 20;
/// Files a walk may visit per input.
const MAX_FILES: usize = 200_000;

/// Opens nothing, walks everything: every file's content is read (up to the budget) and must
/// not exceed its declared size.
pub fn walk_all(w: &mut dyn Walker) {
    let _ = w.info();
    let mut budget = READ_BUDGET;
    let mut files = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut visit = |m: &FileMeta, c: Content<'_>| {
        files += 1;
        if let Content::Data(r) = c {
            // One byte past the declared size is enough to see a violation.
            let want = m.size.saturating_add(1).min(budget);
            let mut got = 0u64;
            while got < want {
                let n = buf.len().min((want - got) as usize);
                match r.read(&mut buf[..n]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got += k as u64,
                }
            }
            budget -= got.min(budget);
            assert!(
                got <= m.size,
                "{} (stream {:?}): read {got} bytes, declared size {}",
                m.path,
                m.stream,
                m.size
            );
        }
        if budget == 0 || files >= MAX_FILES {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let _ = w.walk(&mut visit);
}

/// A log partition in memory for `fatlog`: reads and writes inside the image only.
pub struct MemStore(pub Vec<u8>);

impl Store for MemStore {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let src = usize::try_from(off)
            .ok()
            .and_then(|o| self.0.get(o..o.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        let dst = usize::try_from(off)
            .ok()
            .and_then(|o| self.0.get_mut(o..o.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        dst.copy_from_slice(buf);
        Ok(())
    }
    fn barrier(&mut self) -> io::Result<()> {
        Ok(())
    }
}
