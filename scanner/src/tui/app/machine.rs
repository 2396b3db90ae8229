//! What the machine screen shows before the scan: disks, their volumes and a guess of what
//! each volume holds (filled by `tui::probe`).

use crate::record::FsKind;

/// What a volume looks like before the scan (a guess from its filesystem, size and table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// NTFS holding Windows (or the one that most likely does).
    WindowsSystem,
    /// ext2/3/4 holding a Linux root.
    LinuxSystem,
    /// The EFI system partition.
    EfiBoot,
    /// A readable data volume.
    Data,
    /// BitLocker or LUKS.
    Encrypted,
    /// Recognised, not readable by Vigie (LVM, RAID, swap).
    Unsupported,
    /// Nothing recognised or the probe failed.
    Unreadable,
    /// A small reserved or empty partition.
    Empty,
    /// The Microsoft reserved partition (MSR) of a GPT Windows disk: empty by design.
    MsReserved,
}

/// One volume as the machine screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineVolume {
    /// Partition number (0 for a whole-disk filesystem).
    pub number: u32,
    /// Detected content.
    pub fs: FsKind,
    /// Size in bytes.
    pub size: u64,
    /// Filesystem label.
    pub label: Option<String>,
    /// What it looks like.
    pub kind: VolumeKind,
    /// Bytes allocated on it, read cheaply at probe time (`fs::allocated`), when known.
    pub allocated: Option<u64>,
}

/// One disk as the machine screen shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MachineDisk {
    /// Kernel name (`sda`).
    pub name: String,
    /// Device path given to the engine (`/dev/sda`).
    pub dev: String,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Bus (`sata`, `nvme`, `usb`, ...).
    pub bus: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Its volumes.
    pub volumes: Vec<MachineVolume>,
    /// Whether it was made read-only (an unprotected disk is never read).
    pub protected: bool,
}

/// What the machine screen shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Machine {
    /// Disks to scan (the stick excluded).
    pub disks: Vec<MachineDisk>,
    /// Storage controllers whose driver is not bound (`0000:00:0e.0 Intel RAID controller`).
    pub controllers: Vec<String>,
}
