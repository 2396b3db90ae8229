//! Where scan results go: the CLI printers, the TUI, the log partition writer.
//!
//! The engine pushes every record and progress event into a [`Sink`] from one thread only.

use crate::record::Record;

/// A snapshot of progress, sent often (never more than a few times a second per volume).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Target being scanned.
    pub disk: String,
    /// Volume number being walked, if any.
    pub volume: Option<u32>,
    /// Path of the file being read.
    pub path: String,
    /// Files finished so far (all volumes).
    pub files: u64,
    /// Bytes of content finished so far.
    pub bytes: u64,
    /// Findings so far.
    pub findings: u64,
    /// Files skipped or in error so far.
    pub skipped: u64,
    /// Total bytes allocated on the volumes to scan, when known (for a time estimate).
    pub total_bytes: Option<u64>,
}

/// Receives the records of a scan, in order: disk, its volumes and findings, ..., summary.
pub trait Sink {
    /// A finished record.
    fn record(&mut self, record: &Record);
    /// A progress snapshot; ignored by default.
    fn progress(&mut self, _progress: &Progress) {}
}

/// Collects records in memory (tests, the TUI's details screens).
#[derive(Debug, Default)]
pub struct VecSink(pub Vec<Record>);

impl Sink for VecSink {
    fn record(&mut self, record: &Record) {
        self.0.push(record.clone());
    }
}
