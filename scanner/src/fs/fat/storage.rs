//! The storage handed to `fatfs`: reads and seeks go to the read-only adapter, writes are
//! refused by it and counted, so tests can prove the crate never even tried.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::io::ReadSeekAdapter;

/// The storage handed to `fatfs`: reads and seeks go to the adapter, writes are refused by it
/// and counted here, so tests can prove the crate never even tried.
pub(super) struct FatIo {
    pub(super) inner: ReadSeekAdapter,
    pub(super) writes: Arc<AtomicU64>,
}

impl Read for FatIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Seek for FatIo {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl Write for FatIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
