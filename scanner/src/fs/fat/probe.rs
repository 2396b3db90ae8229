//! The probe under `fatfs`: it watches which clusters the crate reads while a directory is
//! listed, and fails a listing whose chain loops, meets another directory's clusters, or reads
//! more than a FAT directory can hold (the crate itself would spin forever). It also tells
//! where the crate read a file's first byte ([`Probe::first_data_read`]): `fatfs` keeps the
//! first cluster private, and the mapped device of a large file starts there.

use std::collections::HashSet;
use std::io;
use std::sync::Mutex;

use super::geometry::Geometry;
use crate::io::{Device, ReadAt};

/// Most bytes of directory data one listing may read: 2 MiB is the largest FAT directory.
const MAX_DIR_BYTES: u64 = 2 * 1024 * 1024 + 64 * 1024;

/// Watches the crate's reads while a directory is listed (see the module documentation).
pub(super) struct Probe {
    pub(super) inner: Device,
    pub(super) geo: Geometry,
    pub(super) state: Mutex<ProbeState>,
}

#[derive(Default)]
pub(super) struct ProbeState {
    listing: bool,
    bytes: u64,
    last: Option<u64>,
    this_dir: HashSet<u64>,
    all_dirs: HashSet<u64>,
    /// Watching for the first read in the data region, and where it was.
    watch: bool,
    first_data: Option<u64>,
}

/// Probe key for the fixed FAT12/16 root directory region.
const ROOT_REGION: u64 = u64::MAX;

impl Probe {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProbeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every directory seen, for a new walk.
    pub(super) fn reset(&self) {
        *self.lock() = ProbeState::default();
    }

    pub(super) fn begin_listing(&self) {
        let mut s = self.lock();
        s.listing = true;
        s.bytes = 0;
        s.last = None;
        s.this_dir.clear();
    }

    /// Ends a listing; `commit` records its clusters as belonging to a walked directory.
    pub(super) fn end_listing(&self, commit: bool) {
        let mut s = self.lock();
        s.listing = false;
        let this: Vec<u64> = s.this_dir.drain().collect();
        if commit {
            s.all_dirs.extend(this);
        }
    }

    /// The device offset of the first read of the data region that `read` makes, if any.
    pub(super) fn first_data_read(&self, read: impl FnOnce()) -> Option<u64> {
        {
            let mut s = self.lock();
            s.watch = true;
            s.first_data = None;
        }
        let _ = crate::fs::guard(read);
        let mut s = self.lock();
        s.watch = false;
        s.first_data.take()
    }

    fn check(&self, offset: u64, len: usize) -> io::Result<()> {
        let mut s = self.lock();
        if s.watch && s.first_data.is_none() && offset >= self.geo.data_start {
            s.first_data = Some(offset);
        }
        if !s.listing || offset < self.geo.fat_end {
            return Ok(());
        }
        s.bytes += len as u64;
        if s.bytes > MAX_DIR_BYTES {
            return Err(io::Error::other(
                "directory larger than FAT allows (corrupt or looping cluster chain)",
            ));
        }
        let key = if offset < self.geo.data_start {
            ROOT_REGION
        } else {
            (offset - self.geo.data_start) / self.geo.cluster_size
        };
        if s.last != Some(key) {
            if s.this_dir.contains(&key) {
                return Err(io::Error::other(
                    "directory cluster chain loops onto itself",
                ));
            }
            if s.all_dirs.contains(&key) {
                return Err(io::Error::other(
                    "directory shares clusters with another directory (cross-linked or cyclic)",
                ));
            }
            s.this_dir.insert(key);
            s.last = Some(key);
        }
        Ok(())
    }
}

impl ReadAt for Probe {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.check(offset, buf.len())?;
        self.inner.read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}
