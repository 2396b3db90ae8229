//! `disk` and `volume` records, with the member counts of a volume's containers. Both are
//! serialised with `note_codes` next to `notes` (see [`Note`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use super::{is_zero, FsKind, Note, TableKind, VolumeStatus};

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
