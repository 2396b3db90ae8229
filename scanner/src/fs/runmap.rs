//! A file's logical bytes as a random-access [`Device`], from a table of the runs its walker
//! resolved: what the ext4, FAT and exFAT walkers hand to [`super::Visitor::visit_mapped`] so
//! that a container too large for memory (an ISO, a disk image) opens in place (issue 13).
//!
//! The walkers build the table with their own bounded code (extent trees, block maps, cluster
//! chains); this module checks what any table must satisfy before it is used: at most
//! [`MAX_RUNS`] runs (the table is the only allocation, and it grows with runs actually read,
//! never with a size read from disk), runs in strictly increasing logical order without
//! overlap, and no two runs sharing physical bytes (a cluster chain that loops or crosses itself
//! is refused here, even when its length stayed within the file's size). Bytes no run covers
//! read as zeros (ext4 holes) or fail (a FAT chain that ends before the file's size), as the
//! walker's own stream does; bytes at or past `valid` (exFAT's `ValidDataLength`) read as zeros.

use std::io;

use crate::io::{Device, ReadAt};

/// Files below this size are not offered as devices: no container worth opening in place is
/// that small, and the table is then not built for every small file.
pub(crate) const MAPPED_MIN: u64 = 1 << 20;

/// Most runs one table may hold (6 MiB of table): a file more fragmented than that is not
/// mapped (its container is then counted `archive_limit`, its bytes still scanned).
pub(crate) const MAX_RUNS: usize = 1 << 18;

/// One contiguous piece of a file, in bytes: `len` bytes from logical offset `logical`,
/// stored on the device from `phys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapRun {
    pub(crate) logical: u64,
    pub(crate) len: u64,
    pub(crate) phys: u64,
}

/// What bytes before `valid` that no run covers read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gap {
    /// Holes and unwritten extents (ext4).
    Zeros,
    /// A chain that does not reach the file's size (FAT, exFAT): a read error.
    Error,
}

/// A table of runs being gathered, refusing more than [`MAX_RUNS`] and runs out of order.
#[derive(Debug, Default)]
pub(crate) struct RunTable {
    runs: Vec<MapRun>,
}

impl RunTable {
    /// Appends a run after the previous ones (adjacent runs merge).
    pub(crate) fn push(&mut self, run: MapRun) -> Result<(), String> {
        if run.len == 0 {
            return Ok(());
        }
        if run.logical.checked_add(run.len).is_none() || run.phys.checked_add(run.len).is_none() {
            return Err(format!("run at byte {} overflows", run.logical));
        }
        if let Some(last) = self.runs.last_mut() {
            let end = last.logical + last.len;
            if run.logical < end {
                return Err(format!(
                    "run at byte {} overlaps the one before (ending at {end})",
                    run.logical
                ));
            }
            if run.logical == end && run.phys == last.phys + last.len {
                last.len += run.len;
                return Ok(());
            }
        }
        if self.runs.len() >= MAX_RUNS {
            return Err(format!("more than {MAX_RUNS} runs: not mapped"));
        }
        self.runs.push(run);
        Ok(())
    }

    /// How many runs so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.runs.len()
    }
}

/// The logical bytes of one file, by position.
pub(crate) struct RunMap {
    dev: Device,
    size: u64,
    valid: u64,
    gap: Gap,
    runs: Vec<MapRun>,
}

impl RunMap {
    /// A device of `size` bytes over `table` on `dev`; bytes at or past `valid` read as zeros.
    /// Fails when two runs share physical bytes (a loop or a cross-link).
    pub(crate) fn new(
        dev: Device,
        size: u64,
        valid: u64,
        gap: Gap,
        table: RunTable,
    ) -> Result<Self, String> {
        let runs = table.runs;
        let mut by_phys: Vec<(u64, u64)> = runs.iter().map(|r| (r.phys, r.len)).collect();
        by_phys.sort_unstable();
        for w in by_phys.windows(2) {
            if w[0].0 + w[0].1 > w[1].0 {
                return Err(format!(
                    "bytes {}..{} of the device are mapped twice (the chain loops or crosses \
                     itself)",
                    w[1].0,
                    (w[0].0 + w[0].1).min(w[1].0 + w[1].1)
                ));
            }
        }
        Ok(Self {
            dev,
            size,
            valid: valid.min(size),
            gap,
            runs,
        })
    }

    /// Fills `buf` (which lies before `valid`) from logical offset `at`.
    fn fill(&self, at: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut i = self.runs.partition_point(|r| r.logical + r.len <= at);
        let mut done = 0usize;
        while done < buf.len() {
            let pos = at + done as u64;
            let rest = buf.len() - done;
            let (n, phys) = match self.runs.get(i) {
                Some(r) if r.logical <= pos => {
                    let within = pos - r.logical;
                    let n = usize::try_from(r.len - within).unwrap_or(usize::MAX);
                    i += 1;
                    (n.min(rest), Some(r.phys + within))
                }
                next => {
                    let gap = next.map_or(u64::MAX, |r| r.logical - pos);
                    if self.gap == Gap::Error {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("byte {pos} of the file lies in no run of its chain"),
                        ));
                    }
                    (usize::try_from(gap).unwrap_or(usize::MAX).min(rest), None)
                }
            };
            let part = &mut buf[done..done + n];
            match phys {
                Some(p) => self.dev.read_exact_at(p, part)?,
                None => part.fill(0),
            }
            done += n;
        }
        Ok(())
    }
}

impl ReadAt for RunMap {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from((self.size - offset).min(buf.len() as u64)).unwrap_or(0);
        let buf = &mut buf[..want];
        let stored =
            usize::try_from(self.valid.saturating_sub(offset).min(want as u64)).unwrap_or(0);
        if stored > 0 {
            self.fill(offset, &mut buf[..stored])?;
        }
        buf[stored..].fill(0);
        Ok(want)
    }
    fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::io::MemDevice;

    fn dev() -> Device {
        Arc::new(MemDevice::new((0..=255u8).cycle().take(4096).collect()))
    }

    fn table(runs: &[(u64, u64, u64)]) -> RunTable {
        let mut t = RunTable::default();
        for &(logical, len, phys) in runs {
            t.push(MapRun { logical, len, phys }).unwrap();
        }
        t
    }

    #[test]
    fn runs_holes_and_the_valid_length_read_as_stated() {
        // 0..10 from 100, hole 10..20, 20..30 from 50; valid up to 25, size 40.
        let t = table(&[(0, 10, 100), (20, 10, 50)]);
        let m = RunMap::new(dev(), 40, 25, Gap::Zeros, t).unwrap();
        let mut buf = [0xAAu8; 64];
        assert_eq!(m.read_at(0, &mut buf).unwrap(), 40);
        let want: Vec<u8> = (100..110u8)
            .chain([0; 10])
            .chain(50..55u8)
            .chain([0; 15])
            .collect();
        assert_eq!(&buf[..40], &want[..]);
        let mut one = [0u8; 3];
        assert_eq!(m.read_at(21, &mut one).unwrap(), 3);
        assert_eq!(one, [51, 52, 53]);
        assert_eq!(m.read_at(40, &mut one).unwrap(), 0);
    }

    #[test]
    fn a_gap_in_a_chain_is_an_error_and_shared_bytes_are_refused() {
        let m = RunMap::new(dev(), 30, 30, Gap::Error, table(&[(0, 10, 0)])).unwrap();
        let mut buf = [0u8; 30];
        assert_eq!(m.read_at(0, &mut buf[..10]).unwrap(), 10);
        assert!(m.read_at(0, &mut buf).is_err());
        // A loop: the third run comes back onto the first one's bytes.
        let looped = table(&[(0, 10, 0), (10, 10, 200), (20, 10, 5)]);
        assert!(RunMap::new(dev(), 30, 30, Gap::Error, looped).is_err());
        let mut t = table(&[(0, 10, 0)]);
        assert!(t
            .push(MapRun {
                logical: 5,
                len: 10,
                phys: 300
            })
            .is_err());
        let merged = table(&[(0, 10, 0), (10, 10, 10)]);
        assert_eq!(merged.len(), 1);
    }
}
