//! What a resumed scan (issue 14) shares between PID 1 (`init::resume`, which keeps the
//! checkpoint) and the console UI (`tui`, which offers to resume and shows the union): the
//! offer, and the union of a summary with the volumes finished before the cut.

use crate::record::{FsKind, Record, SummaryRecord, Verdict, VolumeRecord, VolumeStatus};
use std::collections::BTreeSet;

/// An interrupted scan the welcome screen may offer to resume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeOffer {
    /// The interrupted scan's id.
    pub scan_id: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Volumes finished before the cut.
    pub done: u32,
    /// Volumes on the disks to scan.
    pub total: u32,
    /// Seconds the earlier part ran (start to its last finished volume).
    pub seconds: f64,
    /// The finished volumes' record lines (disk records, findings, volume records).
    pub lines: Vec<String>,
    /// The keys the engine skips (disk, number, offset, size).
    pub skip: BTreeSet<(String, u32, u64, u64)>,
}

impl ResumeOffer {
    /// The earlier part's records, parsed (unparsable lines dropped).
    pub fn records(&self) -> Vec<Record> {
        self.lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// `s` (this part's summary) plus the earlier part's volumes and `findings`, and its
/// `seconds`: counts are the union; an earlier finding makes it infected, an earlier volume not
/// fully read makes a clean one incomplete.
pub fn union_summary(
    mut s: SummaryRecord,
    earlier: &[VolumeRecord],
    findings: u64,
    seconds: f64,
) -> SummaryRecord {
    let mut incomplete = false;
    for v in earlier {
        s.files += v.files;
        s.scanned += v.scanned;
        s.bytes += v.bytes;
        s.skipped += v.skipped.values().sum::<u64>();
        s.errors += v.errors;
        s.members.add(&v.members);
        incomplete |= match v.status {
            VolumeStatus::Scanned => false,
            // The engine does not count swap and empty partitions against coverage.
            VolumeStatus::Unsupported => {
                v.fs != FsKind::Swap && !v.notes.iter().any(|n| n.starts_with("no filesystem"))
            }
            _ => true,
        };
    }
    s.findings += findings;
    s.seconds += seconds;
    if s.findings > 0 {
        s.verdict = Verdict::Infected;
    } else if incomplete && s.verdict == Verdict::Clean {
        s.verdict = Verdict::Incomplete;
    }
    s
}
