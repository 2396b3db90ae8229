//! The `host` record (first line of a record on the stick: who scanned what, when, how), with
//! the rule set, the machine's disks and the earlier part of a resumed scan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use super::Note;

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
/// Serialised with `note_codes` next to `notes` (see [`Note`]), like disk and volume records.
///
/// Issue 5 owns the details; fields may be added, never renamed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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

// As for disk and volume records (`volume.rs`): `notes` stay English sentences, `note_codes`
// carry them as stable codes + parameters (absent when there is no note). The destructuring
// without `..` makes a new field a compile error here rather than a field missing from the JSON.
impl Serialize for HostRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            scan_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            stick_id: Option<&'a str>,
            scanner_version: &'a str,
            rules: &'a RulesInfo,
            started: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            ended: Option<&'a str>,
            clock: &'a str,
            mode: RunMode,
            full: bool,
            cancelled: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            asset_tag: Option<&'a str>,
            dmi: &'a BTreeMap<String, String>,
            disks: &'a [HostDisk],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            windows_names: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            linux_names: &'a [String],
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            notes: &'a [String],
            #[serde(skip_serializing_if = "Vec::is_empty")]
            note_codes: Vec<Note>,
            #[serde(skip_serializing_if = "Option::is_none")]
            site: Option<&'a str>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            pseudonymised: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            resumed: Option<&'a Resumed>,
        }
        let HostRecord {
            scan_id,
            stick_id,
            scanner_version,
            rules,
            started,
            ended,
            clock,
            mode,
            full,
            cancelled,
            asset_tag,
            dmi,
            disks,
            windows_names,
            linux_names,
            notes,
            site,
            pseudonymised,
            resumed,
        } = self;
        Out {
            scan_id,
            stick_id: stick_id.as_deref(),
            scanner_version,
            rules,
            started,
            ended: ended.as_deref(),
            clock,
            mode: *mode,
            full: *full,
            cancelled: *cancelled,
            asset_tag: asset_tag.as_deref(),
            dmi,
            disks,
            windows_names,
            linux_names,
            notes,
            note_codes: Note::classify_all(notes),
            site: site.as_deref(),
            pseudonymised: *pseudonymised,
            resumed: resumed.as_ref(),
        }
        .serialize(s)
    }
}
