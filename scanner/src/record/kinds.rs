//! The stable codes of a disk, a volume and a scan: partition table, filesystem, volume status,
//! verdict (each serialised as its lower-case name, see `as_str`).

use serde::{Deserialize, Serialize};

/// How a disk is partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// GUID partition table.
    Gpt,
    /// MBR (with extended/logical partitions).
    Mbr,
    /// A filesystem (or nothing known) on the whole disk.
    None,
}

/// What a volume holds, from its on-disk signature (not from the partition type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    /// FAT12.
    Fat12,
    /// FAT16.
    Fat16,
    /// FAT32.
    Fat32,
    /// NTFS.
    Ntfs,
    /// ext2 (no journal).
    Ext2,
    /// ext3 (journal, no extents).
    Ext3,
    /// ext4.
    Ext4,
    /// exFAT.
    Exfat,
    /// BitLocker (`-FVE-FS-`, or BitLocker To Go).
    Bitlocker,
    /// LUKS.
    Luks,
    /// LVM2 physical volume.
    Lvm,
    /// Linux software RAID member.
    Raid,
    /// Linux swap.
    Swap,
    /// Nothing recognised.
    Unknown,
}

impl FsKind {
    /// The record string (`"fat32"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fat12 => "fat12",
            Self::Fat16 => "fat16",
            Self::Fat32 => "fat32",
            Self::Ntfs => "ntfs",
            Self::Ext2 => "ext2",
            Self::Ext3 => "ext3",
            Self::Ext4 => "ext4",
            Self::Exfat => "exfat",
            Self::Bitlocker => "bitlocker",
            Self::Luks => "luks",
            Self::Lvm => "lvm",
            Self::Raid => "raid",
            Self::Swap => "swap",
            Self::Unknown => "unknown",
        }
    }
}

/// What became of a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeStatus {
    /// Every file was read and scanned (some may be skipped by policy, see `skipped`).
    Scanned,
    /// Walked, but some files or directories could not be read, or content may be missing.
    Partial,
    /// Encrypted: only ciphertext is visible.
    Encrypted,
    /// Recognised but not readable by Vigie (LVM, RAID, swap, unknown, ...).
    Unsupported,
    /// The reader failed to open or walk the volume.
    Error,
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// At least one finding.
    Infected,
    /// No finding, but something could not be scanned.
    Incomplete,
    /// No finding and full coverage.
    Clean,
}

impl TableKind {
    /// The record string (`"gpt"`, `"mbr"`, `"none"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gpt => "gpt",
            Self::Mbr => "mbr",
            Self::None => "none",
        }
    }
}

impl VolumeStatus {
    /// The record string (`"scanned"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scanned => "scanned",
            Self::Partial => "partial",
            Self::Encrypted => "encrypted",
            Self::Unsupported => "unsupported",
            Self::Error => "error",
        }
    }
}

impl Verdict {
    /// The record string (`"infected"`, `"incomplete"`, `"clean"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Infected => "infected",
            Self::Incomplete => "incomplete",
            Self::Clean => "clean",
        }
    }

    /// Exit status, ClamAV's convention: 0 clean, 1 threats found, 2 incomplete/errors.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Clean => 0,
            Self::Infected => 1,
            Self::Incomplete => 2,
        }
    }
}
