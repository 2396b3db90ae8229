//! MBR partition entries and the extended/logical chain, numbered as Linux numbers them.
//!
//! Primaries are 1-4 by slot; logical partitions follow from 5 in chain order. In each EBR the
//! data entries are relative to that EBR, while the link to the next EBR is relative to the
//! start of the extended partition (the primary 0x05/0x0F/0x85 entry): mixing the two up
//! shifts every logical partition after the first. The chain comes from disk, so it is
//! loop-checked and capped.

use std::io;

use super::table::{read_full, Notes, Partition, PartitionType};
use crate::io::ReadAt;

/// GPT protective (or hybrid) MBR entry type.
pub(super) const PROTECTIVE: u8 = 0xEE;
/// Logical partitions we list at most (Linux allows 256 partitions per disk in all).
const MAX_LOGICALS: u32 = 128;
/// EBRs we read at most, empty ones included.
const MAX_EBRS: usize = 256;

/// One 16-byte partition entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// Boot indicator: 0x00 or 0x80 in a real table.
    pub boot: u8,
    /// System id.
    pub kind: u8,
    /// First sector (relative, in an EBR).
    pub start: u32,
    /// Length in sectors.
    pub sectors: u32,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.kind == 0 || self.sectors == 0
    }
}

/// Extended container types: DOS (0x05), Windows LBA (0x0F), Linux (0x85).
pub(super) fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

/// The four entries at byte 446 of a 512-byte MBR or EBR.
pub(super) fn entries(sector: &[u8; 512]) -> [Entry; 4] {
    std::array::from_fn(|i| {
        let e = &sector[446 + 16 * i..446 + 16 * (i + 1)];
        Entry {
            boot: e[0],
            kind: e[4],
            start: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
            sectors: u32::from_le_bytes([e[12], e[13], e[14], e[15]]),
        }
    })
}

fn partition(number: u32, e: &Entry, abs_start: u64, ss: u32) -> Partition {
    Partition {
        number,
        start: abs_start * u64::from(ss),
        len: u64::from(e.sectors) * u64::from(ss),
        type_id: PartitionType::Mbr(e.kind),
        name: None,
        bootable: e.boot == 0x80,
    }
}

/// Lists the partitions of the MBR in `s0` (protective 0xEE entries are skipped: the caller
/// only comes here for a plain or hybrid MBR).
pub(super) fn read(
    dev: &dyn ReadAt,
    s0: &[u8; 512],
    ss: u32,
    notes: &mut Notes,
) -> io::Result<Vec<Partition>> {
    let mut parts = Vec::new();
    let mut extended = Vec::new();
    for (slot, e) in (1u32..).zip(entries(s0).iter()) {
        if e.is_empty() || e.kind == PROTECTIVE {
            continue;
        }
        if is_extended(e.kind) {
            extended.push(*e);
        } else {
            parts.push(partition(slot, e, u64::from(e.start), ss));
        }
    }
    let mut chain = Chain {
        next_number: 5,
        ebrs_read: 0,
    };
    for ext in &extended {
        chain.walk(dev, ext, ss, &mut parts, notes)?;
    }
    Ok(parts)
}

/// State shared by every extended chain of a disk (numbering and caps).
struct Chain {
    next_number: u32,
    ebrs_read: usize,
}

impl Chain {
    fn walk(
        &mut self,
        dev: &dyn ReadAt,
        ext: &Entry,
        ss: u32,
        parts: &mut Vec<Partition>,
        notes: &mut Notes,
    ) -> io::Result<()> {
        let first = u64::from(ext.start);
        let first_size = u64::from(ext.sectors);
        let mut this = first;
        let mut this_size = first_size;
        let mut visited: Vec<u64> = Vec::new();
        loop {
            if self.ebrs_read >= MAX_EBRS {
                notes.push(format!(
                    "more than {MAX_EBRS} extended boot records: the rest of the chain was ignored"
                ));
                return Ok(());
            }
            if visited.contains(&this) {
                notes.push(format!(
                    "the extended partition chain loops back to sector {this}: stopped there"
                ));
                return Ok(());
            }
            visited.push(this);
            self.ebrs_read += 1;

            let mut ebr = [0u8; 512];
            // `this` < 2^33 and `ss` <= 4096: no overflow.
            let read = match read_full(dev, this * u64::from(ss), &mut ebr) {
                Ok(ok) => ok,
                Err(e) => {
                    notes.push(format!(
                        "extended boot record at sector {this} unreadable ({e}): chain stopped"
                    ));
                    return Ok(());
                }
            };
            if !read {
                notes.push(format!(
                    "extended boot record at sector {this} lies past the end of the disk: chain stopped"
                ));
                return Ok(());
            }
            if ebr[510..512] != [0x55, 0xAA] {
                // An extended partition with no logical partition yet is often all zeros.
                if ebr.iter().any(|&b| b != 0) {
                    notes.push(format!(
                        "extended boot record at sector {this} has no 0x55AA signature: chain stopped"
                    ));
                }
                return Ok(());
            }

            let ents = entries(&ebr);
            for (i, e) in ents.iter().enumerate() {
                if e.is_empty() || is_extended(e.kind) {
                    continue;
                }
                let rel = u64::from(e.start);
                let size = u64::from(e.sectors);
                let abs = this + rel;
                // Linux's check: the 3rd and 4th entries sometimes hold garbage; keep them
                // only when they fit inside this EBR's area and the extended partition.
                if i >= 2
                    && (rel + size > this_size || abs < first || abs + size > first + first_size)
                {
                    notes.push(format!(
                        "ignored a stray entry (slot {}) in the extended boot record at sector {this}",
                        i + 1
                    ));
                    continue;
                }
                if self.next_number >= 5 + MAX_LOGICALS {
                    notes.push(format!(
                        "more than {MAX_LOGICALS} logical partitions: the rest were ignored"
                    ));
                    return Ok(());
                }
                parts.push(partition(self.next_number, e, abs, ss));
                self.next_number += 1;
            }

            // The link: the first extended entry, relative to the extended partition start.
            match ents.iter().find(|e| e.sectors != 0 && is_extended(e.kind)) {
                Some(link) => {
                    this = first + u64::from(link.start);
                    this_size = u64::from(link.sectors);
                }
                None => return Ok(()),
            }
        }
    }
}
