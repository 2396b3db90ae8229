//! `finding` records: what matched, where (`path`, `:stream`, `//member`).

use serde::{Deserialize, Serialize};

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
        location(&self.path, self.stream.as_deref(), self.member.as_deref())
    }
}

/// `path`, then `:stream` (an NTFS alternate data stream; an empty name is the main content)
/// and `//member` (inside a container) when present: where a finding, or the scan, is.
pub fn location(path: &str, stream: Option<&str>, member: Option<&str>) -> String {
    let mut s = path.to_string();
    if let Some(st) = stream.filter(|st| !st.is_empty()) {
        s.push(':');
        s.push_str(st);
    }
    if let Some(m) = member {
        s.push_str("//");
        s.push_str(m);
    }
    s
}
