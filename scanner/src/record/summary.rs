//! The `summary` record (last line of a scan) and what a scan set out to read (full or quick).

use serde::{Deserialize, Serialize};

use super::{is_zero, MemberCounts, Verdict};

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
