//! The CSV index `SCANS.CSV` at the partition root: one row per scan (French Excel).

use super::record::summary_of;
use super::SCANS_DIR;
use crate::record::{HostRecord, SummaryRecord};
use crate::text::csv::{csv_line, decimal_comma};
use crate::text::names::device_name;

/// Header of the CSV index.
pub const INDEX_HEADER: &[&str] = &[
    "date",
    "horloge/clock",
    "machine",
    "verdict",
    "menaces/findings",
    "fichiers/files",
    "analysés/scanned",
    "ignorés/skipped",
    "erreurs/errors",
    "durée/duration (s)",
    "mode",
    "arrêté/cancelled",
    "fabricant/vendor",
    "modèle/model",
    "n° série/serial",
    "nom Windows/Windows name",
    "nom Linux/Linux name",
    "n° inventaire/asset tag",
    "site",
    "règles/rules",
    "clé/stick",
    "scan_id",
    "dossier/folder",
    "analyse/scan", // issue 14: full | quick
];

/// The index row of a scan.
pub fn index_row(host: &HostRecord, lines: &[String], folder: &str) -> String {
    let s = summary_of(lines);
    let verdict = s
        .as_ref()
        .map(|s| format!("{:?}", s.verdict).to_lowercase())
        .unwrap_or_else(|| "none".into());
    let n = |f: fn(&SummaryRecord) -> u64| s.as_ref().map(|s| f(s).to_string()).unwrap_or_default();
    let dmi = |k: &str| host.dmi.get(k).cloned().unwrap_or_default();
    csv_line(&[
        host.started.clone(),
        host.clock.clone(),
        device_name(host),
        verdict,
        n(|s| s.findings),
        n(|s| s.files),
        n(|s| s.scanned),
        n(|s| s.skipped),
        n(|s| s.errors),
        s.as_ref()
            .map(|s| decimal_comma(s.seconds))
            .unwrap_or_default(),
        format!("{:?}", host.mode).to_lowercase(),
        if host.cancelled {
            "oui/yes".into()
        } else {
            "non/no".into()
        },
        dmi("sys_vendor"),
        dmi("product_name"),
        dmi("product_serial"),
        host.windows_names.join(" "),
        host.linux_names.join(" "),
        host.asset_tag.clone().unwrap_or_default(),
        host.site.clone().unwrap_or_default(),
        host.rules.version.clone(),
        host.stick_id.clone().unwrap_or_default(),
        host.scan_id.clone(),
        format!("{SCANS_DIR}/{folder}"),
        // Issue 14: full | quick (stable codes).
        s.as_ref()
            .map(|s| s.mode.as_str())
            .unwrap_or("")
            .to_string(),
    ])
}

/// The index file's first bytes: BOM and header.
pub fn index_head() -> String {
    format!("\u{feff}{}", csv_line(INDEX_HEADER))
}
