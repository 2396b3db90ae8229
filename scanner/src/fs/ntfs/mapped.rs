//! A non-resident, uncompressed stream seen as a random-access device over the volume: what
//! the scan engine needs to open a container larger than its in-memory limit (an ISO or a disk
//! image in `Downloads`) in place, through the file's own data runs. Holes and the bytes past
//! `initialized_size` read as zeros, as in [`super::content`]. Nothing is allocated by a size
//! read from disk: the run list is the one the walker already built and capped (`MAX_RUNS`),
//! and reads go to the volume one run at a time; a cluster no run maps is a read error.

use std::io;

use super::content::read_span;
use super::NonResident;
use crate::io::{Device, ReadAt};

/// Streams below this size are not offered as devices (no container worth opening in place
/// is that small, and the run list is then not cloned for every small file).
pub(super) const MAPPED_MIN: u64 = 1 << 20;

/// The logical bytes of one stream, by position.
pub(super) struct StreamDevice {
    dev: Device,
    nr: NonResident,
}

impl StreamDevice {
    /// A device over `nr` (which must not be compressed: the caller checks `unit`).
    pub(super) fn new(dev: Device, nr: NonResident) -> Self {
        Self { dev, nr }
    }
}

impl ReadAt for StreamDevice {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.nr.data_size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from((size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        let buf = &mut buf[..want];
        let init = self.nr.init_size.min(size);
        let stored = usize::try_from(init.saturating_sub(offset).min(want as u64)).unwrap_or(0);
        if stored > 0 {
            read_span(&self.dev, &self.nr, offset, &mut buf[..stored])?;
        }
        buf[stored..].fill(0);
        Ok(want)
    }
    fn size(&self) -> u64 {
        self.nr.data_size
    }
}
