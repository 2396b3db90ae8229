//! The scan records: the JSON Lines contract of `scanner scan --json`.
//!
//! Other tools (the stick's log partition, `scanner report`, SIEM imports) depend on these
//! shapes. Fields listed in the README keep their meaning forever; new fields may be added.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

pub use crate::text::note::Note;

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

/// `{"type":"disk",...}`: one per target. Serialised with `note_codes` next to `notes`
/// (see [`Note`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DiskRecord {
    /// The target as given (path of the image or device).
    pub disk: String,
    /// Size in bytes.
    pub size: u64,
    /// Partition table kind.
    pub table: TableKind,
    /// Logical sector size used to read the table.
    pub sector_size: u32,
    /// Problems found in the partition table (overlaps, loops, bad CRC, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `{"type":"volume",...}`: one per partition (or 0 for a whole-disk filesystem). Serialised
/// with `note_codes` next to `notes` (see [`Note`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VolumeRecord {
    /// The target.
    pub disk: String,
    /// Partition number as Linux numbers it (logical from 5), 0 for the whole disk.
    pub volume: u32,
    /// Detected content.
    pub fs: FsKind,
    /// Byte offset on the disk.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Volume label.
    pub label: Option<String>,
    /// What became of it.
    pub status: VolumeStatus,
    /// Files and streams seen (= scanned + sum(skipped) + errors).
    pub files: u64,
    /// Files fully scanned.
    pub scanned: u64,
    /// Files not scanned, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Files (or directories) that could not be read.
    pub errors: u64,
    /// Human-readable remarks.
    pub notes: Vec<String>,
    /// Bytes of content scanned.
    #[serde(default)]
    pub bytes: u64,
    /// Members of containers inside this volume's files, counted apart from files.
    #[serde(flatten, default)]
    pub members: MemberCounts,
}

/// Members of containers (archives, disk images, OLE files, mail) found inside files,
/// counted apart from the files so that both sums hold: `members = members_scanned +
/// sum(members_skipped) + members_errors`. Each field is absent from a record when zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCounts {
    /// Members seen (and container-level skips: a container that could not be opened, or
    /// the rest of one abandoned at a limit, counts as one skipped member).
    #[serde(rename = "members", default, skip_serializing_if = "is_zero")]
    pub seen: u64,
    /// Members fully scanned.
    #[serde(rename = "members_scanned", default, skip_serializing_if = "is_zero")]
    pub scanned: u64,
    /// Members not scanned, by reason (`archive_limit`, `encrypted`, `unsupported_archive`,
    /// `archive_error`, `too_large`, `timeout`).
    #[serde(
        rename = "members_skipped",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub skipped: BTreeMap<String, u64>,
    /// Members whose scan failed (rule engine errors).
    #[serde(rename = "members_errors", default, skip_serializing_if = "is_zero")]
    pub errors: u64,
    /// Bytes of member content scanned.
    #[serde(rename = "member_bytes", default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl MemberCounts {
    /// Adds another volume's counts.
    pub fn add(&mut self, o: &MemberCounts) {
        self.seen += o.seen;
        self.scanned += o.scanned;
        self.errors += o.errors;
        self.bytes += o.bytes;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
    }

    /// Members skipped, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Whether some member could not be scanned (the verdict is then incomplete).
    pub fn incomplete(&self) -> bool {
        self.errors > 0 || self.skipped_total() > 0
    }
}

// The records' `notes` stay English sentences (their meaning is part of the contract); each
// serialised record also carries `note_codes`, the same notes as stable codes + parameters
// (omitted when there is no note). The destructuring without `..` makes a new field a
// compile error here rather than a field silently missing from the JSON.
impl Serialize for DiskRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            disk: &'a str,
            size: u64,
            table: TableKind,
            sector_size: u32,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            notes: &'a [String],
            #[serde(skip_serializing_if = "Vec::is_empty")]
            note_codes: Vec<Note>,
        }
        let DiskRecord {
            disk,
            size,
            table,
            sector_size,
            notes,
        } = self;
        Out {
            disk,
            size: *size,
            table: *table,
            sector_size: *sector_size,
            notes,
            note_codes: Note::classify_all(notes),
        }
        .serialize(s)
    }
}

impl Serialize for VolumeRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            disk: &'a str,
            volume: u32,
            fs: FsKind,
            offset: u64,
            size: u64,
            label: &'a Option<String>,
            status: VolumeStatus,
            files: u64,
            scanned: u64,
            skipped: &'a BTreeMap<String, u64>,
            errors: u64,
            notes: &'a [String],
            #[serde(skip_serializing_if = "Vec::is_empty")]
            note_codes: Vec<Note>,
            bytes: u64,
            #[serde(flatten)]
            members: &'a MemberCounts,
        }
        let VolumeRecord {
            disk,
            volume,
            fs,
            offset,
            size,
            label,
            status,
            files,
            scanned,
            skipped,
            errors,
            notes,
            bytes,
            members,
        } = self;
        Out {
            disk,
            volume: *volume,
            fs: *fs,
            offset: *offset,
            size: *size,
            label,
            status: *status,
            files: *files,
            scanned: *scanned,
            skipped,
            errors: *errors,
            notes,
            note_codes: Note::classify_all(notes),
            bytes: *bytes,
            members,
        }
        .serialize(s)
    }
}

/// Kind of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// A YARA rule matched.
    Yara,
    /// The file's SHA-256 is in an IOC list.
    Hash,
}

/// `{"type":"finding",...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The target.
    pub disk: String,
    /// Volume number; `null` for disk-level areas such as `<mbr>`.
    pub volume: Option<u32>,
    /// `/`-separated path from the volume root, or `<mbr>` / `<boot sector>`.
    pub path: String,
    /// NTFS alternate data stream name, or `null`.
    pub stream: Option<String>,
    /// What matched.
    pub kind: FindingKind,
    /// Rule name (for hashes: the IOC's name, or `sha256`).
    pub rule: String,
    /// Rule namespace (for hashes: the IOC list's file name).
    pub namespace: String,
    /// SHA-256 of the scanned content.
    pub sha256: String,
    /// Size of the scanned content in bytes.
    #[serde(default)]
    pub size: u64,
    /// How the content was scanned: `full` (whole file, modules on) or `blocks` (streamed
    /// in overlapping blocks: modules, `filesize` and cross-block matches unavailable).
    #[serde(default)]
    pub mode: String,
    /// The member inside the file at `path` when the match is in a container's member:
    /// `/`-separated inside one container, nested containers joined by `//`
    /// (`inner.zip//scan/facture.pdf.exe`). Absent for a plain file. `sha256` and `size` are
    /// then the member's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

impl FindingRecord {
    /// `path`, then `:stream` and `//member` when present: one string for people and CSV.
    pub fn location(&self) -> String {
        let mut s = self.path.clone();
        if let Some(st) = self.stream.as_deref().filter(|st| !st.is_empty()) {
            s.push(':');
            s.push_str(st);
        }
        if let Some(m) = &self.member {
            s.push_str("//");
            s.push_str(m);
        }
        s
    }
}

/// `{"type":"summary",...}`: last line of a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRecord {
    /// The verdict.
    pub verdict: Verdict,
    /// Files seen on all volumes.
    pub files: u64,
    /// Files fully scanned.
    pub scanned: u64,
    /// Number of findings.
    pub findings: u64,
    /// Bytes of content scanned.
    pub bytes: u64,
    /// Wall-clock duration.
    pub seconds: f64,
    /// Files skipped, all reasons together.
    #[serde(default)]
    pub skipped: u64,
    /// Files and directories in error.
    #[serde(default)]
    pub errors: u64,
    /// Whether the scan was cancelled.
    #[serde(default)]
    pub cancelled: bool,
    /// Members of containers, all volumes together (apart from `files`).
    #[serde(flatten, default)]
    pub members: MemberCounts,
    /// Full or quick scan (issue 14). Records written before it say nothing: full.
    #[serde(default)]
    pub mode: ScanMode,
    /// Quick scan: files seen but not read (outside the high-risk areas, or content that is
    /// not an executable, script, macro document, archive or shortcut). Not in `files`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_selected: u64,
}

/// What a scan set out to read: everything, or the high-risk areas only (`scan::quick`).
/// A quick scan with nothing found is never the full scan's clean: see
/// [`SummaryRecord::quick_clean`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// Every file of every readable volume.
    #[default]
    Full,
    /// Boot areas, autostart targets, risky content in the high-risk areas.
    Quick,
}

impl ScanMode {
    /// The stable code (`full`, `quick`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Quick => "quick",
        }
    }
}

/// Which rule set a scan used: shown on the welcome screen, written in every record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesInfo {
    /// Where the rules came from (`embedded defaults`, a path, a bundle file name).
    pub origin: String,
    /// The bundle's version (`YYYY.MM.DD.N` for signed bundles); `source` for rules compiled
    /// from source files.
    pub version: String,
    /// When the rules were made (UTC, RFC 3339), when known (bundles carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// SHA-256 of the bundle file, compiled file or the sources (stable order).
    pub sha256: String,
    /// Number of YARA rules.
    pub rules: usize,
    /// Number of SHA-256 IOCs.
    #[serde(default)]
    pub iocs: usize,
}

/// `loaded` with the origin PID 1 gave the same bundle (`embedded default`,
/// `updates/<file>.vgb`) when `chosen` is that bundle (same SHA-256): the scan child loads a copy
/// under `/run/vigie/`, a path that means nothing to the technician.
pub fn with_chosen_origin(mut loaded: RulesInfo, chosen: &RulesInfo) -> RulesInfo {
    if !chosen.origin.is_empty() && chosen.sha256 == loaded.sha256 {
        loaded.origin = chosen.origin.clone();
    }
    loaded
}

/// How the scan was run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// `scanner scan` on a workstation (forensic use, tests).
    #[default]
    Command,
    /// The stick's console UI, an operator in front of it.
    Interactive,
    /// The stick's unattended boot entry (`vigie.auto=1`).
    Unattended,
}

/// One disk of the scanned machine as the kernel describes it (sysfs), for the host record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDisk {
    /// Kernel name (`sda`, `nvme0n1`).
    pub name: String,
    /// Model string, trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number, trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Bus (`sata`, `nvme`, `usb`, `virtio`, `ide`, `scsi`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// Whether this disk was scanned (false for the stick, for an unselected or unprotectable disk).
    pub scanned: bool,
}

/// `{"type":"host",...}`: first line of a record on the stick: who scanned what, when, how.
///
/// Issue 5 owns the details; fields may be added, never renamed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    /// Unique id of this scan (stick id + start time + random): merging records of several
    /// sticks counts each scan once by this id.
    pub scan_id: String,
    /// The stick's identity (`VIGIE.ID`), if run from a stick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stick_id: Option<String>,
    /// `scanner` version.
    pub scanner_version: String,
    /// The rule set used.
    pub rules: RulesInfo,
    /// Start time as read from the clock named in `clock` (RFC 3339).
    pub started: String,
    /// End time, same clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    /// Which clock the times come from and how far it can be trusted (`rtc-utc`, `rtc-local`,
    /// `system`).
    pub clock: String,
    /// How it was run.
    pub mode: RunMode,
    /// Whether every disk was scanned (`false` when the operator chose disks).
    pub full: bool,
    /// Whether the operator (or a crash) stopped the scan before the end.
    #[serde(default)]
    pub cancelled: bool,
    /// Asset tag / device name typed by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<String>,
    /// DMI (SMBIOS) identity: `sys_vendor`, `product_name`, `product_serial`, `board_vendor`,
    /// `board_name`, `board_serial`, `product_uuid`, ... as found.
    #[serde(default)]
    pub dmi: BTreeMap<String, String>,
    /// The machine's disks.
    #[serde(default)]
    pub disks: Vec<HostDisk>,
    /// Windows computer names read from the scanned SYSTEM hives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows_names: Vec<String>,
    /// Linux host names read from scanned `/etc/hostname` files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linux_names: Vec<String>,
    /// Free-form remarks (a crashed scan child, a full log partition, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The site the stick belongs to (`vigie.site=` or `site=` in the stick's settings), for the
    /// fleet report's totals per site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Whether user paths in this record are pseudonymised (`vigie.pseudonymise=1`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pseudonymised: bool,
    /// A scan resumed after a cut (issue 14): the interrupted part it completes. This record's
    /// own `started`/`ended` are the last part's; its volumes marked `"resumed": true` come from
    /// the earlier part. Absent for a scan made in one go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
}

/// The earlier part of a resumed scan (`resumed` in the host record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    /// The interrupted scan's `scan_id`.
    pub from: String,
    /// Volumes finished before the cut (not read again).
    pub volumes: u32,
    /// The time spans of the earlier part(s), oldest first.
    pub spans: Vec<TimeSpan>,
}

/// A time span (RFC 3339); `ended` is the last finished volume's time for a cut part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSpan {
    /// Start.
    pub started: String,
    /// End, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

impl SummaryRecord {
    /// The summary of a scan that could not start (no rules, no engine): incomplete, one error.
    pub fn nothing_scanned() -> Self {
        Self {
            verdict: Verdict::Incomplete,
            files: 0,
            scanned: 0,
            findings: 0,
            bytes: 0,
            seconds: 0.0,
            skipped: 0,
            errors: 1,
            cancelled: false,
            members: MemberCounts::default(),
            mode: ScanMode::Full,
            not_selected: 0,
        }
    }

    /// A quick scan that found nothing and read everything it chose: its own verdict on
    /// screen and in reports ("no threat in the high-risk areas", blue), never the full scan's
    /// green. (The record keeps `"verdict":"clean"` with `"mode":"quick"`; a quick scan with
    /// gaps is `incomplete` like any other.)
    pub fn quick_clean(&self) -> bool {
        self.mode == ScanMode::Quick && self.verdict == Verdict::Clean
    }
}

/// `{"type":"persistence",...}`: one autostart entry found on a scanned volume (registry
/// `Run` keys, services, scheduled tasks, systemd units, cron, ...), see `crate::persist`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistenceRecord {
    /// The target.
    pub disk: String,
    /// Volume number.
    pub volume: Option<u32>,
    /// Stable code: `run_key`, `winlogon`, `ifeo_debugger`, `service`, `driver`,
    /// `scheduled_task`, `startup_folder`, `systemd`, `cron`, `rc_local`, `ld_preload`,
    /// `profile`.
    pub kind: String,
    /// Where it was found: the file's volume path, then for hives `|Key\Path|Value`.
    pub source: String,
    /// The command or path it runs, as written (bounded).
    pub command: String,
    /// The file it runs, resolved to a volume path (`/Windows/System32/x.exe`), when it can be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether `target` exists on this volume (`null` when not resolved).
    #[serde(default)]
    pub exists: Option<bool>,
    /// The target is in a place users (and malware) can write: profiles, `ProgramData`,
    /// temporary folders, `/home`, `/tmp`.
    #[serde(default)]
    pub user_writable: bool,
    /// The target was resolved but is not on the volume.
    #[serde(default)]
    pub missing: bool,
    /// Service/driver start type (`0` boot ... `4` disabled), for `service`/`driver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    /// Rules or IOCs the target matched in this scan (joined by path).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
    /// SHA-256 of the target when it matched (from the finding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Stable remarks: `hive_dirty` (read as is, transaction logs not replayed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

// --- Evidence for the CERT (issue 14): `{"type":"evidence",...}` -------------------------

/// `{"type":"evidence",...}`: the copies of the detected files put into the encrypted ZIP
/// (`--evidence DIR`, `vigie.evidence=1`), after the summary. One per scan; on the stick a
/// second one may follow, appended once the ZIP was written (or could not be): the last one
/// tells. Codes (`status`, `limits_reached`, item `reason`) are stable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// The ZIP's file name (`evidence.zip`), in the scan folder or the `--evidence` folder.
    pub file: String,
    /// `aes256` (WinZip AE-2).
    pub encryption: String,
    /// The ZIP's password (`infected`, the analysts' convention).
    pub password: String,
    /// `saved` (the ZIP is written), `pending` (the stick writes it after the record),
    /// `not_saved` (see `notes`: `log_full`, `write_error`), `empty` (nothing to copy).
    pub status: String,
    /// Per-file limit in bytes.
    pub max_file: u64,
    /// Per-scan limit in bytes (all copies together).
    pub max_total: u64,
    /// Files copied into the ZIP.
    pub copied: u64,
    /// Files listed but not copied (see each item's `reason`).
    pub not_copied: u64,
    /// Bytes copied (before compression).
    pub bytes: u64,
    /// Limits that stopped at least one copy: `file_limit`, `total_limit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits_reached: Vec<String>,
    /// One per detected file (findings on the same file and stream joined).
    #[serde(default)]
    pub items: Vec<EvidenceItem>,
    /// Stable remarks: `log_full`, `write_error`, `items_capped`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One detected file in an [`EvidenceRecord`] (and in the ZIP's `manifest.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// The target.
    pub disk: String,
    /// Volume number (`null` for disk-level areas such as `<mbr>`).
    pub volume: Option<u32>,
    /// Path on the volume, as in the finding.
    pub path: String,
    /// NTFS stream, or `null`.
    #[serde(default)]
    pub stream: Option<String>,
    /// Members of this file that matched (`inner.zip//a.exe`); the file itself is copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Name inside the ZIP (sanitised), when copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Size in bytes (the copy's, or the finding's when not copied).
    pub size: u64,
    /// SHA-256 of the copied bytes (of the scanned content when not copied).
    pub sha256: String,
    /// Rules and IOCs that matched (file and members).
    pub rules: Vec<String>,
    /// Whether the bytes are in the ZIP.
    pub copied: bool,
    /// Why not (stable): `file_limit`, `total_limit`, `not_found`, `unreadable`,
    /// `not_a_file`, `changed` (copied, but the bytes read now differ from those scanned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

// --- end of evidence records ---------------------------------------------------------------

/// One line of the JSON Lines output.
// The host record is one line per scan: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// See [`HostRecord`] (records on the stick only).
    Host(HostRecord),
    /// See [`DiskRecord`].
    Disk(DiskRecord),
    /// See [`VolumeRecord`].
    Volume(VolumeRecord),
    /// See [`FindingRecord`].
    Finding(FindingRecord),
    /// See [`SummaryRecord`].
    Summary(SummaryRecord),
    /// See [`PersistenceRecord`].
    Persistence(PersistenceRecord),
    /// See [`EvidenceRecord`].
    Evidence(EvidenceRecord),
}

impl Record {
    /// One JSON object, no trailing newline.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_origin_replaces_the_copy_path_only_for_the_same_bundle() {
        let loaded = RulesInfo {
            origin: "/run/vigie/2026.1.1.1-abc.vgb".into(),
            sha256: "abc".into(),
            ..RulesInfo::default()
        };
        let chosen = RulesInfo {
            origin: "updates/new.vgb".into(),
            sha256: "abc".into(),
            ..RulesInfo::default()
        };
        assert_eq!(
            with_chosen_origin(loaded.clone(), &chosen).origin,
            "updates/new.vgb"
        );
        let other = RulesInfo {
            sha256: "def".into(),
            ..chosen
        };
        assert_eq!(
            with_chosen_origin(loaded.clone(), &other).origin,
            loaded.origin
        );
        assert_eq!(
            with_chosen_origin(loaded.clone(), &RulesInfo::default()).origin,
            loaded.origin
        );
    }

    #[test]
    fn records_serialise_with_contract_field_names() {
        let v = Record::Volume(VolumeRecord {
            disk: "d.img".into(),
            volume: 5,
            fs: FsKind::Ntfs,
            offset: 1048576,
            size: 2,
            label: None,
            status: VolumeStatus::Partial,
            files: 3,
            scanned: 1,
            skipped: BTreeMap::from([("encrypted".to_string(), 1)]),
            errors: 1,
            notes: vec!["dirty".into()],
            bytes: 10,
            members: MemberCounts::default(),
        });
        let j: serde_json::Value = serde_json::from_str(&v.to_json_line()).unwrap();
        assert_eq!(j["type"], "volume");
        assert_eq!(j["fs"], "ntfs");
        assert_eq!(j["status"], "partial");
        assert_eq!(j["label"], serde_json::Value::Null);
        assert_eq!(j["skipped"]["encrypted"], 1);
        assert_eq!(j["notes"][0], "dirty");
        assert_eq!(j["note_codes"][0]["code"], "other");
        assert_eq!(j["note_codes"][0]["text"], "dirty");
        let back: Record = serde_json::from_value(j).unwrap();
        assert_eq!(back, v);
        let s = Record::Summary(SummaryRecord {
            verdict: Verdict::Incomplete,
            files: 1,
            scanned: 0,
            findings: 0,
            bytes: 0,
            seconds: 0.5,
            skipped: 1,
            errors: 0,
            cancelled: false,
            members: MemberCounts::default(),
            mode: ScanMode::Quick,
            not_selected: 7,
        });
        let line = s.to_json_line();
        assert!(line.starts_with(r#"{"type":"summary","verdict":"incomplete""#));
        assert!(
            line.contains(r#""mode":"quick","not_selected":7"#),
            "{line}"
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, s);
        let old: SummaryRecord = serde_json::from_str(
            r#"{"verdict":"clean","files":1,"scanned":1,"findings":0,"bytes":1,"seconds":1}"#,
        )
        .unwrap();
        assert_eq!((old.mode, old.not_selected), (ScanMode::Full, 0));
    }
}
