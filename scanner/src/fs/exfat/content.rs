//! A file's bytes: its clusters (one contiguous run or a FAT chain) up to `ValidDataLength`,
//! then zeros up to `DataLength`, as the specification says and the Linux driver reads them.

use std::io::{self, Read};

use super::alloc::{Chain, Clusters};
use super::dir::Entry;
use crate::fs::guard;
use crate::io::ReadAt;

/// Most bytes asked of the device in one read.
const MAX_READ: u64 = 4 * 1024 * 1024;

/// Streams one file.
pub(crate) struct FileReader<'a> {
    vol: &'a Clusters,
    chain: Chain,
    size: u64,
    valid: u64,
    pos: u64,
    /// Device offset and bytes left of the current run of clusters.
    run: (u64, u64),
}

impl<'a> FileReader<'a> {
    /// A reader for `entry`, or why its clusters cannot be what it says.
    pub(crate) fn new(vol: &'a Clusters, entry: &Entry) -> Result<Self, String> {
        let cs = vol.geo.cluster_size;
        let clusters = entry.valid.div_ceil(cs);
        if entry.size.div_ceil(cs) > vol.geo.cluster_count {
            return Err(format!(
                "file size {} is larger than the volume's cluster heap",
                entry.size
            ));
        }
        if clusters > 0 && !vol.geo.valid_cluster(entry.first_cluster) {
            return Err(format!(
                "file data starts at invalid cluster {}",
                entry.first_cluster
            ));
        }
        Ok(Self {
            vol,
            chain: Chain::new(entry.first_cluster, clusters, entry.contiguous),
            size: entry.size,
            valid: entry.valid,
            pos: 0,
            run: (0, 0),
        })
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let room = buf.len() as u64;
        if self.pos >= self.valid {
            let n = usize::try_from(room.min(self.size - self.pos)).unwrap_or(buf.len());
            buf[..n].fill(0);
            self.pos += n as u64;
            return Ok(n);
        }
        if self.run.1 == 0 {
            let cs = self.vol.geo.cluster_size;
            let per_run = (MAX_READ / cs).max(1);
            match self.chain.next_run(self.vol, per_run) {
                Ok(Some((c, n))) => self.run = (self.vol.geo.cluster_offset(c), n * cs),
                Ok(None) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "cluster chain ends before the valid data length",
                    ))
                }
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = room
            .min(self.run.1)
            .min(self.valid - self.pos)
            .min(MAX_READ);
        let len = usize::try_from(n).unwrap_or(buf.len());
        self.vol
            .data
            .read_exact_at(self.run.0, &mut buf[..len])
            .map_err(|e| io::Error::new(e.kind(), format!("file data unreadable: {e}")))?;
        self.run = (self.run.0 + n, self.run.1 - n);
        self.pos += n;
        Ok(len)
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        guard(|| self.read_inner(buf))
            .map_err(|p| io::Error::other(format!("reader crashed: {p}")))?
    }
}
