//! Cluster allocation: the FAT (next-cluster links), contiguous `NoFatChain` runs, the
//! allocation bitmap, and the record of clusters already read during a walk.
//!
//! A chain is only ever walked as far as the size its directory entry states (itself capped
//! by the cluster count), so a looping FAT cannot make a walk endless. Loops and cross-links
//! are caught sooner by [`Claims`]: every cluster a directory or file reads is marked, and a
//! cluster read twice in one walk means a chain comes back on itself or on another one.

use std::io;
use std::sync::Mutex;

use super::boot::Geometry;
use crate::io::{Device, ReadAt};

/// FAT values with a meaning of their own.
const FAT_BAD: u32 = 0xFFFF_FFF7;
const FAT_END: u32 = 0xFFFF_FFFF;

/// Most clusters whose use is recorded (32 MiB of bits); clusters beyond are not checked for
/// cross-links (their chains stay bounded by their sizes).
const MAX_CLAIM_BITS: u64 = 1 << 28;

/// Largest allocation bitmap kept in memory (enough for 256 Mi clusters, a 1 TiB volume of
/// 4 KiB clusters); a larger one is not loaded and not checked.
const MAX_BITMAP_BYTES: u64 = 32 * 1024 * 1024;

/// Most clusters gathered into one contiguous run of a FAT chain per step.
const MAX_RUN: u64 = 256;

/// A growable bit set of the clusters read so far in this walk.
#[derive(Default)]
pub(crate) struct Claims {
    bits: Vec<u64>,
}

impl Claims {
    /// Marks `c`; false if it was already marked.
    fn claim(&mut self, c: u64) -> bool {
        if c >= MAX_CLAIM_BITS {
            return true;
        }
        let word = usize::try_from(c / 64).unwrap_or(usize::MAX);
        if word >= self.bits.len() {
            // Grows with the highest cluster actually used, never with a size read from disk.
            self.bits.resize(word + 1, 0);
        }
        let mask = 1u64 << (c % 64);
        let fresh = self.bits[word] & mask == 0;
        self.bits[word] |= mask;
        fresh
    }
}

/// The volume's clusters: geometry, devices and walk-wide state.
pub(crate) struct Clusters {
    pub(crate) geo: Geometry,
    /// Cached device for metadata (FAT entries, directories).
    pub(crate) meta: Device,
    /// Uncached device for file contents.
    pub(crate) data: Device,
    claims: Mutex<Claims>,
}

impl Clusters {
    pub(crate) fn new(geo: Geometry, meta: Device, data: Device) -> Self {
        Self {
            geo,
            meta,
            data,
            claims: Mutex::new(Claims::default()),
        }
    }

    /// Forgets the clusters read so far (a new walk starts).
    pub(crate) fn reset_claims(&self) {
        self.claims.lock().unwrap_or_else(|e| e.into_inner()).bits = Vec::new();
    }

    fn claim(&self, c: u64) -> bool {
        self.claims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .claim(c)
    }

    /// The FAT entry of cluster `c` (a valid cluster).
    fn fat_entry(&self, c: u64) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.meta
            .read_exact_at(self.geo.fat_offset + 4 * c, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Loads the allocation bitmap (from its first cluster, `len` bytes, contiguous as
    /// Linux reads it) if it is of a sane size; `None` when it is not kept.
    pub(crate) fn load_bitmap(&self, first: u64, len: u64) -> Result<Option<Vec<u8>>, String> {
        let want = self.geo.cluster_count.div_ceil(8);
        if len < want {
            return Err(format!(
                "allocation bitmap of {len} bytes is shorter than the {want} the cluster count needs"
            ));
        }
        if want > MAX_BITMAP_BYTES {
            return Ok(None);
        }
        if !self.geo.valid_cluster(first) {
            return Err(format!(
                "allocation bitmap starts at invalid cluster {first}"
            ));
        }
        let mut bitmap = vec![0u8; usize::try_from(want).map_err(|e| e.to_string())?];
        self.meta
            .read_exact_at(self.geo.cluster_offset(first), &mut bitmap)
            .map_err(|e| format!("allocation bitmap unreadable: {e}"))?;
        Ok(Some(bitmap))
    }
}

/// Whether the allocation bitmap marks cluster `c` as in use.
pub(crate) fn allocated(bitmap: &[u8], c: u64) -> bool {
    let i = c.wrapping_sub(2);
    usize::try_from(i / 8)
        .ok()
        .and_then(|byte| bitmap.get(byte))
        .is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// A position in a cluster chain, handing out runs of consecutive clusters.
pub(crate) struct Chain {
    contiguous: bool,
    /// The cluster that starts the next run, if the chain goes on.
    next: Option<u64>,
    /// Clusters the owner still needs (from its size), or may still take (root directory).
    remaining: u64,
    /// The owner has no stated size (the root directory): the chain's end is its end.
    until_end: bool,
    /// Whether the clusters handed out are claimed in the walk's record (not for a second
    /// reading of a file's chain, see [`Chain::unclaimed`]).
    claim: bool,
}

impl Chain {
    /// A chain of `clusters` clusters from `first`, contiguous (`NoFatChain`) or FAT-linked.
    pub(crate) fn new(first: u64, clusters: u64, contiguous: bool) -> Self {
        Self {
            contiguous,
            next: (clusters > 0).then_some(first),
            remaining: clusters,
            until_end: false,
            claim: true,
        }
    }

    /// The same chain, for a second reading of clusters the walk already claimed (the mapped
    /// device of a file its stream read first): nothing is claimed, so the caller must
    /// bound loops itself (`runmap` refuses runs that share clusters).
    pub(crate) fn unclaimed(first: u64, clusters: u64, contiguous: bool) -> Self {
        Self {
            claim: false,
            ..Self::new(first, clusters, contiguous)
        }
    }

    /// A FAT chain from `first` read to its end, but never beyond `max_clusters`.
    pub(crate) fn to_end(first: u64, max_clusters: u64) -> Self {
        Self {
            until_end: true,
            ..Self::new(first, max_clusters, false)
        }
    }

    /// Whether an open-ended chain was cut at its cap while the FAT still went on.
    pub(crate) fn cut_short(&self) -> bool {
        self.until_end && self.remaining == 0 && self.next.is_some()
    }

    /// The next run `(first cluster, count)` of at most `max` clusters, `None` once the
    /// owner's clusters are all handed out. Errors name what is wrong with the chain.
    pub(crate) fn next_run(
        &mut self,
        vol: &Clusters,
        max: u64,
    ) -> Result<Option<(u64, u64)>, String> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let Some(start) = self.next else {
            return Err(format!(
                "cluster chain ends {} clusters before the stated size",
                self.remaining
            ));
        };
        let geo = &vol.geo;
        if !geo.valid_cluster(start) {
            return Err(format!("cluster chain reaches invalid cluster {start}"));
        }
        let max = max.clamp(1, self.remaining);
        let mut len = 1u64;
        if self.contiguous {
            len = max;
            let last = start + len - 1;
            if !geo.valid_cluster(last) {
                return Err(format!(
                    "contiguous data runs past the end of the cluster heap (cluster {last})"
                ));
            }
            self.next = Some(start + len);
        } else {
            let max = max.min(MAX_RUN);
            let mut cur = start;
            loop {
                if len == self.remaining {
                    // The owner needs no more: the FAT beyond is not read.
                    self.next = None;
                    break;
                }
                let n = vol
                    .fat_entry(cur)
                    .map_err(|e| format!("FAT unreadable at cluster {cur}: {e}"))?;
                let n64 = u64::from(n);
                match n {
                    FAT_END => {
                        self.next = None;
                        break;
                    }
                    FAT_BAD => {
                        return Err(format!("cluster chain reaches bad cluster after {cur}"))
                    }
                    _ if !geo.valid_cluster(n64) => {
                        return Err(format!(
                            "cluster chain holds invalid link {n:#x} after cluster {cur}"
                        ))
                    }
                    _ => {}
                }
                if n64 == cur + 1 && len < max {
                    len += 1;
                    cur = n64;
                } else {
                    self.next = Some(n64);
                    break;
                }
            }
        }
        if self.claim {
            if let Some(c) = (start..start + len).find(|&c| !vol.claim(c)) {
                return Err(format!(
                    "cluster {c} is read twice (the chain loops or is cross-linked with another)"
                ));
            }
        }
        self.remaining -= len;
        if self.remaining > 0 && self.next.is_none() && self.until_end {
            self.remaining = 0;
        }
        Ok(Some((start, len)))
    }
}
