//! `persistence` records: autostart entries found on a scanned volume (`crate::persist`).

use serde::{Deserialize, Serialize};

/// `{"type":"persistence",...}`: one autostart entry found on a scanned volume (registry
/// `Run` keys, services, scheduled tasks, systemd units, cron, ...), see `crate::persist`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistenceRecord {
    /// The target.
    pub disk: String,
    /// Volume number.
    pub volume: Option<u32>,
    /// Stable code: `run_key`, `winlogon`, `ifeo_debugger`, `service`, `driver`,
    /// `scheduled_task`, `startup_folder`, `systemd`, `cron`, `rc_local`, `ld_preload`,
    /// `profile`.
    pub kind: String,
    /// Where it was found: the file's volume path, then for hives `|Key\Path|Value`.
    pub source: String,
    /// The command or path it runs, as written (bounded).
    pub command: String,
    /// The file it runs, resolved to a volume path (`/Windows/System32/x.exe`), when it can be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether `target` exists on this volume (`null` when not resolved).
    #[serde(default)]
    pub exists: Option<bool>,
    /// The target is in a place users (and malware) can write: profiles, `ProgramData`,
    /// temporary folders, `/home`, `/tmp`.
    #[serde(default)]
    pub user_writable: bool,
    /// The target was resolved but is not on the volume.
    #[serde(default)]
    pub missing: bool,
    /// Service/driver start type (`0` boot ... `4` disabled), for `service`/`driver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    /// Rules or IOCs the target matched in this scan (joined by path).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
    /// SHA-256 of the target when it matched (from the finding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Stable remarks: `hive_dirty` (read as is, transaction logs not replayed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
