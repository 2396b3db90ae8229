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
    /// NTFS alternate data stream of that file being read, if any.
    pub stream: Option<String>,
    /// Member of a container in that file being read (`inner.zip//a.exe`), if any.
    pub member: Option<String>,
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

impl Progress {
    /// Where the scan is, as a finding there would say it: `path`, then `:stream` and
    /// `//member` when present (see [`crate::record::location`]).
    pub fn location(&self) -> String {
        crate::record::location(&self.path, self.stream.as_deref(), self.member.as_deref())
    }
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

/// Passes records on but keeps the summary back until [`HeldSummary::release`] (or
/// [`HeldSummary::take`]), so that the summary stays the last line when records follow the
/// scan (`--evidence`), or waits for what the UI must know first (the machine names).
pub struct HeldSummary<'a> {
    /// Where records go.
    pub inner: &'a mut dyn Sink,
    held: Option<Record>,
}

impl<'a> HeldSummary<'a> {
    /// Wraps `inner`.
    pub fn new(inner: &'a mut dyn Sink) -> Self {
        Self { inner, held: None }
    }

    /// Sends the held summary.
    pub fn release(&mut self) {
        if let Some(r) = self.held.take() {
            self.inner.record(&r);
        }
    }

    /// The held summary, not sent.
    pub fn take(&mut self) -> Option<Record> {
        self.held.take()
    }
}

impl Sink for HeldSummary<'_> {
    fn record(&mut self, record: &Record) {
        if matches!(record, Record::Summary(_)) {
            self.held = Some(record.clone());
        } else {
            self.inner.record(record);
        }
    }
    fn progress(&mut self, p: &Progress) {
        self.inner.progress(p);
    }
}
