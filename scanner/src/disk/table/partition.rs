//! What a partition table reads into: the partitions, how each declares its type, and why no
//! table could be read at all. Shared by the MBR and GPT readers and the callers of
//! [`super::read_partition_table`].

use crate::record::TableKind;

/// How a partition declares its type (informational only: volumes are detected by content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionType {
    /// MBR system id byte.
    Mbr(u8),
    /// GPT partition type GUID, lowercase canonical text form.
    Gpt(String),
}

/// One partition that may hold a volume (extended containers are not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Number as Linux gives it: MBR primaries 1-4, logicals from 5; GPT entry index + 1.
    pub number: u32,
    /// Byte offset on the disk.
    pub start: u64,
    /// Length in bytes (clipped to the disk; see `notes`).
    pub len: u64,
    /// Declared type.
    pub type_id: PartitionType,
    /// GPT partition name, if any.
    pub name: Option<String>,
    /// MBR active flag / GPT legacy BIOS bootable attribute.
    pub bootable: bool,
}

impl Partition {
    /// The whole disk as one volume (number 0): how a disk without a partition table is read.
    pub fn whole_disk(len: u64) -> Self {
        Self {
            number: 0,
            start: 0,
            len,
            type_id: PartitionType::Mbr(0),
            name: None,
            bootable: false,
        }
    }
}

/// A disk's partitioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    /// MBR, GPT or none (the disk is one volume, number 0).
    pub kind: TableKind,
    /// Logical sector size used.
    pub sector_size: u32,
    /// Partitions in number order.
    pub partitions: Vec<Partition>,
    /// Problems met (overlaps, entries past the end, chain loops, CRC mismatch, ...).
    pub notes: Vec<String>,
}

/// Why no table could be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The device failed.
    #[error("I/O error reading the partition table: {0}")]
    Io(#[from] std::io::Error),
    /// A table is present but unusable.
    #[error("malformed partition table: {0}")]
    Malformed(String),
}
