//! Saves one scan on the stick's log partition: a folder per scan under `VIGIE/scans` holding
//! the JSON Lines record (`record.jsonl`: host record first, then the records of
//! `scanner scan --json`) and a short human report in French and English (`rapport.txt`,
//! UTF-8 with BOM, CRLF, for Notepad), then one row appended to the CSV index `SCANS.CSV` at the
//! partition root (French Excel: `;`, UTF-8 BOM, CRLF, quoted fields, decimal comma).
//!
//! Written from userspace through [`super::fatlog`] (never a kernel mount, never `fatfs` as a
//! writer). Through the tokens the image builder prepared ([`tokens`], [`prepare`]) no power
//! cut can leave a volume `fsck.fat` complains about, whatever the content's size (large ones
//! through the lanes); without one (none left, no lane room) the ordered writer saves it anyway
//! and the record says so. The folder is committed before the
//! index row, so a cut leaves the index at worst missing the newest row.
//!
//! Parts: [`naming`] (the folder's name), [`record`] (the JSON Lines record), [`report`] (the
//! human report), [`index`] (the CSV index), [`save`] (the save), [`tokens`] (which prepared
//! space each save uses), [`prepare`] (laying it down), [`desk`] (`scanner logpart prepare`).

pub mod desk;
mod index;
mod naming;
pub mod prepare;
mod record;
mod report;
mod save;
#[cfg(test)]
pub(crate) mod save_tests;
pub mod tokens;

use super::fatlog::FatError;

pub use index::{index_head, index_row, INDEX_HEADER};
pub use naming::folder_name;
pub use record::{merged_host, record_text, summary_of};
pub use report::human_report;
pub use save::{
    on_device, save_file, save_file_on, save_scan, save_scan_on, set_test_save_delay_ms,
    unprotected_note,
};
// The text helpers moved down to `crate::text`; kept here for `init`'s callers.
pub use crate::text::clock::{civil, rfc3339, utc_stamp};
pub use crate::text::csv::{csv_field, csv_line, decimal_comma};
pub use crate::text::names::{dashed, device_name, sanitize_host};

/// Folder of scan records on the log partition.
pub const SCANS_DIR: &str = "VIGIE/scans";
/// The CSV index at the partition root.
pub const INDEX: &str = "SCANS.CSV";
/// The JSON Lines record in each scan folder.
pub const RECORD_FILE: &str = "record.jsonl";
/// The human report in each scan folder.
pub const REPORT_FILE: &str = "rapport-report.txt";
/// The pseudonymisation key (created on first use).
pub const KEY_FILE: &str = "VIGIE/privacy.key";

/// Why a record could not be saved (shown to the operator; the verdict is shown anyway).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// No room left: the operator must empty the log partition (copy the records away).
    #[error("log partition full ({0}): record NOT saved / partition des journaux pleine : rapport NON enregistré")]
    Full(String),
    /// The device could not be opened or written.
    #[error("log partition unusable: {0}")]
    Fat(FatError),
    /// Opening the device.
    #[error("cannot open the log partition: {0}")]
    Open(std::io::Error),
}

impl From<FatError> for SaveError {
    fn from(e: FatError) -> Self {
        match e {
            FatError::Full { .. } => Self::Full(e.to_string()),
            e => Self::Fat(e),
        }
    }
}

/// Where a record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// `VIGIE/scans/<folder>`.
    pub folder: String,
    /// Whether the index row was added (false: the folder is saved, the index is not).
    pub indexed: bool,
    /// Whether the folder and the index went through prepared tokens (no power cut could
    /// damage the volume); false: the ordered writer, and the record's note says so.
    pub protected: bool,
}

/// What to save beyond the lines.
#[derive(Debug, Clone, Default)]
pub struct SaveOptions {
    /// Pseudonymise user paths (`vigie.pseudonymise=1`).
    pub pseudonymise: bool,
    /// Unix time of the save (directory entry times).
    pub now: u64,
    /// The scan folder a checkpoint opened (`init::resume`): a scan that ran to its end saves
    /// its record into it, which closes the checkpoint. `None`, or a folder that is not open:
    /// a folder of its own.
    pub folder: Option<String>,
}
