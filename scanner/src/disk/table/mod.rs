//! Partition tables: MBR (primary + extended/logical chain) and GPT.
//!
//! Sector 0 decides. A volume boot record there (NTFS, FAT, exFAT, BitLocker: they end in
//! 0x55AA too) or no 0x55AA at all means no table: the disk is one volume. A protective 0xEE
//! entry sends us to the GPT ([`super::gpt`]), anything else is read as an MBR with its
//! extended chain ([`super::mbr`]). Every value comes from a disk that may be corrupt or
//! hostile: counts are capped, chains are loop-checked, entries past the end of the disk are
//! clipped, and every such repair leaves a short note for the disk record.
//!
//! Here: which table sector 0 holds, and the checks over the partitions found (clipping,
//! overlaps). [`partition`] holds what a table reads into, [`notes`] the capped problem list,
//! [`read`] the short-read helper; the MBR and GPT readers use those three, never this file.

mod notes;
mod partition;
mod read;
#[cfg(test)]
mod tests;

pub(super) use notes::Notes;
pub use partition::{Partition, PartitionTable, PartitionType, TableError};
pub(super) use read::read_full;

use super::{detect, gpt, mbr};
use crate::io::ReadAt;
use crate::record::TableKind;

/// Sector sizes we accept from a caller's hint.
fn valid_sector_size(s: u32) -> bool {
    s.is_power_of_two() && (512..=4096).contains(&s)
}

/// Reads the partition table. `sector_size` is the device's logical sector size when known
/// (block devices); `None` probes 512 then 4096 for a GPT header.
pub fn read_partition_table(
    dev: &dyn ReadAt,
    sector_size: Option<u32>,
) -> Result<PartitionTable, TableError> {
    let mut notes = Notes::default();
    let hint = match sector_size {
        Some(s) if valid_sector_size(s) => Some(s),
        Some(s) => {
            notes.push(format!(
                "ignored the reported sector size of {s} bytes and probed instead"
            ));
            None
        }
        None => None,
    };
    let no_table = |notes: Notes| PartitionTable {
        kind: TableKind::None,
        sector_size: hint.unwrap_or(512),
        partitions: Vec::new(),
        notes: notes.finish(),
    };

    let mut s0 = [0u8; 512];
    if !read_full(dev, 0, &mut s0)? {
        // Smaller than one sector: nothing to read, and nothing a volume could hold either.
        return Ok(no_table(notes));
    }
    if detect::boot_sector_kind(&s0).is_some() {
        // A filesystem (or BitLocker) starts at sector 0: the whole disk is one volume.
        return Ok(no_table(notes));
    }
    if s0[510..512] != [0x55, 0xAA] {
        return Ok(no_table(notes));
    }
    let entries = mbr::entries(&s0);
    if entries.iter().any(|e| e.boot != 0 && e.boot != 0x80) {
        // Linux does the same: with a bad boot indicator this is not a partition table.
        notes.push("sector 0 ends in 0x55AA but holds no valid partition table");
        return Ok(no_table(notes));
    }

    let size = dev.size();
    if entries.iter().any(|e| e.kind == mbr::PROTECTIVE) {
        if let Some((ss, parts)) = gpt::read(dev, hint, &mut notes)? {
            return Ok(finish(TableKind::Gpt, ss, parts, size, notes));
        }
        let hybrid = entries
            .iter()
            .any(|e| e.kind != mbr::PROTECTIVE && e.kind != 0 && e.sectors != 0);
        if !hybrid {
            return Err(TableError::Malformed(format!(
                "protective MBR but no usable GPT header ({})",
                notes.list.join("; ")
            )));
        }
        notes.push("no usable GPT behind the protective MBR: used the other MBR entries");
    }
    let ss = hint.unwrap_or(512);
    let parts = mbr::read(dev, &s0, ss, &mut notes)?;
    Ok(finish(TableKind::Mbr, ss, parts, size, notes))
}

/// Clips partitions to the disk, notes overlaps, sorts by number.
fn finish(
    kind: TableKind,
    sector_size: u32,
    mut parts: Vec<Partition>,
    disk_size: u64,
    mut notes: Notes,
) -> PartitionTable {
    parts.sort_by_key(|p| p.number);

    // Overlaps, on the declared extents: sort by start and compare with the furthest end seen.
    let mut order: Vec<(u64, u64, u32)> = parts
        .iter()
        .filter(|p| p.len > 0)
        .map(|p| (p.start, p.start.saturating_add(p.len), p.number))
        .collect();
    order.sort_unstable();
    let mut furthest: Option<(u64, u32)> = None;
    for &(start, end, number) in &order {
        if let Some((fend, fnum)) = furthest {
            if start < fend {
                notes.push(format!("partitions {fnum} and {number} overlap"));
            }
            if end > fend {
                furthest = Some((end, number));
            }
        } else {
            furthest = Some((end, number));
        }
    }

    for p in &mut parts {
        if p.start >= disk_size {
            if p.len > 0 {
                notes.push(format!(
                    "partition {} starts at byte {}, past the end of the disk ({} bytes): it is empty here",
                    p.number, p.start, disk_size
                ));
            }
            p.len = 0;
        } else if p.len > disk_size - p.start {
            let clipped = disk_size - p.start;
            notes.push(format!(
                "partition {} runs past the end of the disk: clipped from {} to {} bytes",
                p.number, p.len, clipped
            ));
            p.len = clipped;
        }
    }

    PartitionTable {
        kind,
        sector_size,
        partitions: parts,
        notes: notes.finish(),
    }
}
