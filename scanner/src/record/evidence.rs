//! `evidence` records: the copies of detected files put into the encrypted ZIP for the CERT
//! (issue 14).

use serde::{Deserialize, Serialize};

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
