//! The scan records: the JSON Lines contract of `scanner scan --json`.
//!
//! Other tools (the stick's log partition, `scanner report`, SIEM imports) depend on these
//! shapes. Fields listed in the README keep their meaning forever; new fields may be added.
//!
//! One file per record kind: [`host`], [`volume`] (disk and volume), [`finding`], [`summary`],
//! [`persistence`], [`evidence`]; [`kinds`] holds the stable code enums. Everything is
//! re-exported here: paths are `crate::record::X`.

use serde::{Deserialize, Serialize};

pub use crate::text::note::Note;

pub mod evidence;
pub mod finding;
pub mod host;
pub mod kinds;
pub mod persistence;
pub mod summary;
pub mod volume;

pub use evidence::{EvidenceItem, EvidenceRecord};
pub use finding::{location, FindingKind, FindingRecord};
pub use host::{with_chosen_origin, HostDisk, HostRecord, Resumed, RulesInfo, RunMode, TimeSpan};
pub use kinds::{FsKind, TableKind, Verdict, VolumeStatus};
pub use persistence::PersistenceRecord;
pub use summary::{ScanMode, SummaryRecord};
pub use volume::{DiskRecord, MemberCounts, VolumeRecord};

/// `skip_serializing_if` of counts that are absent from a record when zero.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

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
mod tests;
