//! Saves one scan on the stick's log partition: a folder per scan under `VIGIE/scans` holding
//! the JSON Lines record (`record.jsonl`: host record first, then the records of
//! `scanner scan --json`) and a short human report in French and English (`rapport.txt`,
//! UTF-8 with BOM, CRLF, for Notepad), then one row appended to the CSV index `SCANS.CSV` at the
//! partition root (French Excel: `;`, UTF-8 BOM, CRLF, quoted fields, decimal comma).
//!
//! Written from userspace through [`super::fatlog`] (never a kernel mount, never `fatfs` as a
//! writer): new files only, ordered writes, see that module for the power-cut argument. The
//! folder is committed before the index row, so a cut leaves the index at worst missing the
//! newest row.

pub mod desk;
pub mod tokens;

use std::path::Path;

use super::fatlog::{DosTime, FatError, Node, Store, Vol};
use crate::record::{HostRecord, Record, SummaryRecord, Verdict};

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
}

/// Year, month, day, hour, minute, second of a Unix time (UTC), without a date library.
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m as u32,
        d as u32,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC).
pub fn utc_stamp(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// RFC 3339 (`2026-11-28T14:30:00Z`) for a Unix time.
pub fn rfc3339(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// Keeps `[A-Za-z0-9-_]`, maps the rest to `_`, at most 40 chars; `unknown` if empty.
pub fn sanitize_host(s: &str) -> String {
    let s: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if s.trim_matches('_').is_empty() {
        "unknown".into()
    } else {
        s
    }
}

fn useful(s: Option<&String>) -> Option<&str> {
    let s = s?.trim();
    let bad = [
        "",
        "none",
        "default string",
        "to be filled by o.e.m.",
        "not specified",
        "0",
    ];
    if bad.contains(&s.to_ascii_lowercase().as_str()) || s.contains("O.E.M.") {
        None
    } else {
        Some(s)
    }
}

/// The machine's name for humans: asset tag, Windows or Linux name, DMI product + serial.
pub fn device_name(h: &HostRecord) -> String {
    if let Some(t) = h.asset_tag.as_deref().filter(|t| !t.trim().is_empty()) {
        return t.trim().to_string();
    }
    if let Some(n) = h.windows_names.first().or(h.linux_names.first()) {
        return n.clone();
    }
    let product = useful(h.dmi.get("product_name")).unwrap_or("");
    match useful(h.dmi.get("product_serial")) {
        Some(s) if !product.is_empty() => format!("{product}-{s}"),
        Some(s) => s.to_string(),
        None if !product.is_empty() => product.to_string(),
        None => h
            .disks
            .iter()
            .find_map(|d| d.serial.clone())
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// Sortable, readable folder name: `2026-11-28_143000_<device>`.
pub fn folder_name(h: &HostRecord) -> String {
    let stamp: String = h
        .started
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let stamp = if stamp.len() == 14 {
        format!(
            "{}-{}-{}_{}",
            &stamp[..4],
            &stamp[4..6],
            &stamp[6..8],
            &stamp[8..]
        )
    } else {
        "0000-00-00_000000".into()
    };
    format!("{stamp}_{}", folder_device(h))
}

/// The machine part of a folder name: the asset tag or computer name (sanitised as typed);
/// without one, DMI vendor + model + serial as `[A-Za-z0-9]` runs joined by single `-`
/// (`QEMU-Standard-PC-Q35-ICH9-2009`), then a disk serial, then `unknown`. The save adds a
/// suffix when the folder exists already, so the name stays unique.
fn folder_device(h: &HostRecord) -> String {
    let named = h
        .asset_tag
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            h.windows_names
                .first()
                .or(h.linux_names.first())
                .map(String::as_str)
        });
    if let Some(n) = named {
        return sanitize_host(n);
    }
    let dmi: Vec<&str> = ["sys_vendor", "product_name", "product_serial"]
        .iter()
        .filter_map(|k| useful(h.dmi.get(*k)))
        .collect();
    let from_dmi = dashed(&dmi.join(" "), 60);
    if !from_dmi.is_empty() {
        return from_dmi;
    }
    let disk = h
        .disks
        .iter()
        .find_map(|d| d.serial.as_deref().map(|s| dashed(s, 60)))
        .unwrap_or_default();
    if disk.is_empty() {
        "unknown".into()
    } else {
        disk
    }
}

/// The ASCII letter-and-digit runs of `s` joined by single `-`, at most `max` characters
/// (whole runs only, unless the first run alone is longer).
pub fn dashed(s: &str, max: usize) -> String {
    let mut out = String::new();
    for run in s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|r| !r.is_empty())
    {
        let need = run.len() + usize::from(!out.is_empty());
        if out.len() + need > max {
            if out.is_empty() {
                out.push_str(&run[..max]);
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(run);
    }
    out
}

/// The summary among the lines, if any.
pub fn summary_of(lines: &[String]) -> Option<SummaryRecord> {
    lines
        .iter()
        .rev()
        .find_map(|l| match serde_json::from_str::<Record>(l) {
            Ok(Record::Summary(s)) => Some(s),
            _ => None,
        })
}

/// The host record to write: the child's completed one if it sent it, else the base one;
/// PID 1's notes are kept.
pub fn merged_host(base: &HostRecord, lines: &[String]) -> HostRecord {
    let mut h = lines
        .iter()
        .rev()
        .find_map(|l| match serde_json::from_str::<Record>(l) {
            Ok(Record::Host(h)) => Some(h),
            _ => None,
        })
        .unwrap_or_else(|| base.clone());
    for n in &base.notes {
        if !h.notes.contains(n) {
            h.notes.push(n.clone());
        }
    }
    if base.cancelled {
        h.cancelled = true;
    }
    h
}

/// `record.jsonl`: the host line then every other line, newline-terminated.
pub fn record_text(host: &HostRecord, lines: &[String]) -> String {
    let mut s = Record::Host(host.clone()).to_json_line();
    s.push('\n');
    for l in lines {
        if l.contains("\"type\":\"host\"") && l.starts_with("{\"type\":\"host\"") {
            continue;
        }
        s.push_str(l);
        s.push('\n');
    }
    s
}

fn verdict_words(v: Option<Verdict>) -> (&'static str, &'static str) {
    match v {
        Some(Verdict::Clean) => (
            "SAIN : aucune menace, tout a été analysé",
            "CLEAN: no threat found, every file scanned",
        ),
        Some(Verdict::Infected) => ("MENACE DÉTECTÉE", "THREAT FOUND"),
        Some(Verdict::Incomplete) => (
            "INCOMPLET : aucune menace trouvée, mais tout n'a pas pu être analysé",
            "INCOMPLETE: no threat found, but not everything could be scanned",
        ),
        None => (
            "AUCUN RÉSULTAT (analyse interrompue)",
            "NO RESULT (scan interrupted)",
        ),
    }
}

/// The human report, French then English; CRLF, UTF-8 with BOM.
pub fn human_report(host: &HostRecord, lines: &[String]) -> String {
    use crate::text::Lang;
    let sum = summary_of(lines);
    let mut volumes = Vec::new();
    let mut findings = Vec::new();
    for l in lines {
        match serde_json::from_str::<Record>(l) {
            Ok(Record::Volume(v)) => volumes.push(v),
            Ok(Record::Finding(f)) => findings.push(f),
            _ => {}
        }
    }
    let (fr, en) = verdict_words(sum.as_ref().map(|s| s.verdict));
    let mut o = String::from("\u{feff}");
    // File names and labels come from host disks: a control character (a CR/LF in an ext4
    // name) must not forge lines of the report.
    let mut w = |s: String| {
        o.extend(
            s.chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c }),
        );
        o.push_str("\r\n");
    };
    w("VIGIE - rapport d'analyse / scan report".into());
    w("========================================".into());
    w(format!("Résultat / Verdict : {fr}"));
    w(format!("                     {en}"));
    w(String::new());
    w(format!("Machine / Device   : {}", device_name(host)));
    for (k, label) in [
        ("sys_vendor", "Fabricant / Vendor "),
        ("product_name", "Modèle / Model     "),
        ("product_serial", "N° série / Serial  "),
    ] {
        if let Some(v) = host.dmi.get(k) {
            w(format!("{label}: {v}"));
        }
    }
    if !host.windows_names.is_empty() {
        w(format!(
            "Nom Windows / Windows name : {}",
            host.windows_names.join(", ")
        ));
    }
    if !host.linux_names.is_empty() {
        w(format!(
            "Nom Linux / Linux hostname : {}",
            host.linux_names.join(", ")
        ));
    }
    if let Some(site) = &host.site {
        w(format!("Site               : {site}"));
    }
    w(format!(
        "Début / Start      : {} (horloge / clock: {})",
        host.started, host.clock
    ));
    if let Some(e) = &host.ended {
        w(format!("Fin / End          : {e}"));
    }
    let mode = match host.mode {
        crate::record::RunMode::Interactive => "interactif / interactive",
        crate::record::RunMode::Unattended => "automatique / unattended",
        crate::record::RunMode::Command => "commande / command",
    };
    w(format!(
        "Mode               : {mode}, {}{}",
        if host.full {
            "tous les disques / all disks"
        } else {
            "disques choisis / chosen disks"
        },
        if host.cancelled {
            ", ARRÊTÉ / CANCELLED"
        } else {
            ""
        }
    ));
    w(format!(
        "Règles / Rules     : {} ({} règles/rules, {} IOC)",
        host.rules.version, host.rules.rules, host.rules.iocs
    ));
    w(format!("Analyse / Scan id  : {}", host.scan_id));
    if let Some(s) = &sum {
        w(format!(
            "Fichiers / Files   : {} vus/seen, {} analysés/scanned, {} ignorés/skipped, {} erreurs/errors",
            s.files, s.scanned, s.skipped, s.errors
        ));
    }
    w(String::new());
    w(format!("Menaces / Findings : {}", findings.len()));
    for f in findings.iter().take(200) {
        w(format!(
            "  - {} : {} (volume {}) sha256={} {} octets/bytes",
            f.rule,
            crate::text::location(f),
            f.volume
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            f.sha256,
            f.size
        ));
    }
    if findings.len() > 200 {
        w(format!(
            "  ... (+{}: voir/see {RECORD_FILE})",
            findings.len() - 200
        ));
    }
    w(String::new());
    w("Volumes :".into());
    for v in &volumes {
        w(format!(
            "  - {} #{} {} {} : {} fichiers/files, {} analysés/scanned{}",
            v.disk,
            v.volume,
            v.fs.as_str(),
            crate::text::status_words(v.status),
            v.files,
            v.scanned,
            v.label
                .as_deref()
                .map(|l| format!(", « {l} »"))
                .unwrap_or_default()
        ));
        // Notes of a volume not fully scanned, in both languages (from their codes).
        if v.status != crate::record::VolumeStatus::Scanned {
            for n in v.notes.iter().take(5) {
                let note = crate::text::note::Note::classify(n);
                let (fr, en) = (note.render(Lang::Fr), note.render(Lang::En));
                w(format!("      {fr}"));
                if en != fr {
                    w(format!("      {en}"));
                }
            }
        }
    }
    for n in &host.notes {
        let note = crate::text::note::Note::classify(n);
        let (fr, en) = (note.render(Lang::Fr), note.render(Lang::En));
        w(format!("Note : {fr}"));
        if en != fr {
            w(format!("       {en}"));
        }
    }
    w(String::new());
    w(format!("Détail complet / Full detail : {RECORD_FILE}"));
    o
}

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
];

/// One CSV field, always quoted, `"` doubled, line breaks flattened.
pub fn csv_field(s: &str) -> String {
    let mut s: String = s
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    // Names read from host disks (a registry hive's computer name, a file path) must not become
    // spreadsheet formulas: Excel and LibreOffice evaluate `=`, `+`, `-`, `@` even in quotes.
    if s.starts_with(['=', '+', '-', '@', '\t']) {
        s.insert(0, '\'');
    }
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A CSV line (`;`, CRLF).
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut l = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(";");
    l.push_str("\r\n");
    l
}

/// Seconds with a decimal comma (French Excel).
pub fn decimal_comma(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

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
    ])
}

/// The index file's first bytes: BOM and header.
pub fn index_head() -> String {
    format!("\u{feff}{}", csv_line(INDEX_HEADER))
}

/// Opens the log partition device read-write and saves the scan (see [`save_scan_on`]).
pub fn save_scan(
    dev: &Path,
    host: &HostRecord,
    lines: &[String],
    opts: &SaveOptions,
) -> Result<Saved, SaveError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(SaveError::Open)?;
    match SAVE_DELAY_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => save_scan_on(file, host, lines, opts).map(|(s, _)| s),
        ms => save_scan_on(Slow(file, ms), host, lines, opts).map(|(s, _)| s),
    }
}

/// Reads the pseudonymisation key, creating it (32 random bytes) if missing.
fn privacy_key<S: Store>(vol: &mut Vol<S>) -> Result<Vec<u8>, SaveError> {
    let dir = match vol.find_dir("VIGIE")? {
        Some(d) => d,
        // Someone emptied the stick to make room: make the folder again (one transaction).
        None => {
            let root = vol.root();
            vol.add(root, &Node::Dir("VIGIE".into(), Vec::new()))?;
            vol.find_dir("VIGIE")?
                .ok_or_else(|| FatError::NotFound("VIGIE".into()))?
        }
    };
    // `privacy.key`; if it is damaged (never rewritten: new files only), the next free name, so
    // the record is still saved, pseudonymised (with a new key: new pseudonyms from then on).
    for n in 0..10 {
        let name = if n == 0 {
            "privacy.key".to_string()
        } else {
            format!("privacy{n}.key")
        };
        match vol.find(dir, &name)? {
            Some(e) if (16..=4096).contains(&e.size) => return Ok(vol.read_file(&e)?),
            Some(_) => continue,
            None => {
                let key = crate::privacy::new_key();
                vol.add(dir, &Node::File(name, key.clone()))?;
                return Ok(key);
            }
        }
    }
    Err(FatError::Corrupt("no usable privacy key file in VIGIE".into()).into())
}

/// Saves on any store (a device, an image, a test double): the scan folder, then the index row.
pub fn save_scan_on<S: Store>(
    store: S,
    host: &HostRecord,
    lines: &[String],
    opts: &SaveOptions,
) -> Result<(Saved, S), SaveError> {
    let mut vol = Vol::open(store, DosTime::from_unix(opts.now))?;
    let mut host = merged_host(host, lines);
    let mut lines: Vec<String> = lines.to_vec();
    if opts.pseudonymise {
        let key = privacy_key(&mut vol)?;
        lines = lines
            .iter()
            .map(|l| crate::privacy::pseudonymise_line(l, &key))
            .collect();
        host.notes.push(crate::privacy::NOTE.into());
        host.pseudonymised = true;
    }
    let scans = match vol.find_dir(SCANS_DIR)? {
        Some(d) => d,
        None => {
            let root = vol.root();
            let vigie = match vol.find_dir("VIGIE")? {
                Some(d) => d,
                None => {
                    vol.add(
                        root,
                        &Node::Dir("VIGIE".into(), vec![Node::Dir("scans".into(), vec![])]),
                    )?;
                    vol.find_dir("VIGIE")?
                        .ok_or_else(|| FatError::NotFound("VIGIE".into()))?
                }
            };
            if vol.find(vigie, "scans")?.is_none() {
                vol.add(vigie, &Node::Dir("scans".into(), vec![]))?;
            }
            vol.find_dir(SCANS_DIR)?
                .ok_or_else(|| FatError::NotFound(SCANS_DIR.into()))?
        }
    };
    let base = folder_name(&host);
    let existing: Vec<String> = vol
        .list(scans)?
        .into_iter()
        .map(|e| e.name.to_ascii_lowercase())
        .collect();
    let mut folder = base.clone();
    for n in 2..10_000 {
        if !existing.contains(&folder.to_ascii_lowercase()) {
            break;
        }
        folder = format!("{base}-{n}");
    }
    // Through a token when one can take it (no cut can damage the volume); else the ordered
    // writer, and the record says so.
    let record = record_text(&host, &lines);
    let report = human_report(&host, &lines);
    let files = [
        (RECORD_FILE, record.as_bytes()),
        (REPORT_FILE, report.as_bytes()),
    ];
    let mut protected = match tokens::save_folder(&mut vol, scans, &folder, files)? {
        tokens::Outcome::Saved => true,
        tokens::Outcome::NoToken(why) => {
            host.notes.push(unprotected_note(&why));
            let node = Node::Dir(
                folder.clone(),
                vec![
                    Node::File(RECORD_FILE.into(), record_text(&host, &lines).into_bytes()),
                    Node::File(REPORT_FILE.into(), human_report(&host, &lines).into_bytes()),
                ],
            );
            vol.add(scans, &node)?;
            false
        }
    };
    // The folder is committed: from here a failure only costs the index row.
    let row = index_row(&host, &lines, &folder);
    let root = vol.root();
    let indexed = match vol.find(root, INDEX)? {
        Some(e) if !e.is_dir() => {
            let old = vol.read_file(&e);
            let text = match old {
                Ok(old) if old.is_empty() => Some(index_head().into_bytes()),
                Ok(old) => Some(old),
                Err(_) => None,
            };
            let via_token = match text {
                Some(mut text) => {
                    text.extend_from_slice(row.as_bytes());
                    tokens::save_index(&mut vol, &e, &text)
                }
                None => Ok(tokens::Outcome::NoToken("index_unreadable".into())),
            };
            match via_token {
                Ok(tokens::Outcome::Saved) => true,
                Ok(tokens::Outcome::NoToken(_)) => {
                    protected = false;
                    match e.size {
                        0 => vol.append(&e, (index_head() + &row).as_bytes()).is_ok(),
                        _ => vol.append(&e, row.as_bytes()).is_ok(),
                    }
                }
                Err(_) => false,
            }
        }
        Some(_) => false,
        None => {
            protected = false;
            let text = index_head() + &row;
            vol.add(root, &Node::File(INDEX.into(), text.into_bytes()))
                .is_ok()
        }
    };
    Ok((
        Saved {
            folder: format!("{SCANS_DIR}/{folder}"),
            indexed,
            protected,
        },
        vol.into_inner(),
    ))
}

/// The note of a save made without a token (stable code `logpart_unprotected`).
pub fn unprotected_note(reason: &str) -> String {
    format!(
        "log partition: saved without power-cut protection ({reason}); run `scanner logpart prepare` on the stick at the desk"
    )
}

/// TEST ONLY (`vigie.test.save_delay_ms`): milliseconds slept at each ordering barrier of a
/// save, so a power-cut test can hit the save window. 0 (the default): no delay.
static SAVE_DELAY_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the test-only save delay (see [`SAVE_DELAY_MS`]).
pub fn set_test_save_delay_ms(ms: u64) {
    SAVE_DELAY_MS.store(ms.min(10_000), std::sync::atomic::Ordering::Relaxed);
}

/// A store that sleeps after each barrier (the test-only save delay).
struct Slow<S>(S, u64);

impl<S: Store> Store for Slow<S> {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(off, buf)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_at(off, buf)
    }
    fn barrier(&mut self) -> std::io::Result<()> {
        self.0.barrier()?;
        std::thread::sleep(std::time::Duration::from_millis(self.1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_795_876_200), "20261128T143000Z");
        assert_eq!(rfc3339(1_795_876_200), "2026-11-28T14:30:00Z");
    }

    #[test]
    fn host_names() {
        assert_eq!(
            sanitize_host("Standard PC (Q35 + ICH9, 2009)\n"),
            "Standard_PC__Q35___ICH9__2009_"
        );
        assert_eq!(sanitize_host("  "), "unknown");
        assert_eq!(sanitize_host("???"), "unknown");
    }

    #[test]
    fn folder_names_without_a_tag_or_name_read_as_words() {
        let mut h = HostRecord {
            started: "2026-12-01T20:13:58Z".into(),
            ..HostRecord::default()
        };
        h.dmi.insert("sys_vendor".into(), "QEMU".into());
        h.dmi.insert(
            "product_name".into(),
            "Standard PC (Q35 + ICH9, 2009)\n".into(),
        );
        assert_eq!(
            folder_name(&h),
            "2026-12-01_201358_QEMU-Standard-PC-Q35-ICH9-2009"
        );
        h.dmi.insert("product_serial".into(), " CZC-1234/5 ".into());
        assert_eq!(
            folder_name(&h),
            "2026-12-01_201358_QEMU-Standard-PC-Q35-ICH9-2009-CZC-1234-5"
        );
        // Placeholders are not names; a disk serial is the last resort, then `unknown`.
        h.dmi.clear();
        h.dmi
            .insert("product_name".into(), "To be filled by O.E.M.".into());
        h.disks.push(crate::record::HostDisk {
            name: "sda".into(),
            serial: Some("WD-WCC4 N0ABCDEF".into()),
            ..crate::record::HostDisk::default()
        });
        assert_eq!(folder_name(&h), "2026-12-01_201358_WD-WCC4-N0ABCDEF");
        h.disks.clear();
        assert_eq!(folder_name(&h), "2026-12-01_201358_unknown");
        // An asset tag or a computer name keeps today's form.
        h.windows_names.push("PC-ACCUEIL-03".into());
        assert_eq!(folder_name(&h), "2026-12-01_201358_PC-ACCUEIL-03");
        h.asset_tag = Some("INV 42".into());
        assert_eq!(folder_name(&h), "2026-12-01_201358_INV_42");
        assert_eq!(dashed("--a  b--", 10), "a-b");
        assert_eq!(dashed("abcdefghij klm", 12), "abcdefghij");
        assert_eq!(dashed("abcdefghijklmnop", 5), "abcde");
        assert!(dashed("???", 5).is_empty());
        assert!(dashed(&"x ".repeat(100), 60).len() <= 60);
    }

    #[test]
    fn the_report_says_file_colon_stream_and_notes_in_both_languages() {
        let lines = vec![
            r#"{"type":"volume","disk":"/dev/sda","volume":2,"fs":"ntfs","offset":0,"size":1,"label":null,"status":"partial","files":3,"scanned":3,"skipped":{},"errors":0,"notes":["volume is marked dirty (not cleanly unmounted): recent changes may be missing"],"bytes":1}"#.to_string(),
            r#"{"type":"finding","disk":"/dev/sda","volume":2,"path":"/Users/Public/readme.txt","stream":"hidden","kind":"yara","rule":"R","namespace":"n","sha256":"00","size":1,"mode":"full"}"#.to_string(),
        ];
        let r = human_report(&HostRecord::default(), &lines);
        assert!(
            r.contains("R : /Users/Public/readme.txt:hidden (volume 2)"),
            "{r}"
        );
        assert!(r.contains("#2 ntfs partiel/partial"), "{r}");
        assert!(
            r.contains("      volume marqué comme non démonté proprement : des modifications récentes peuvent manquer\r\n      volume is marked dirty"),
            "{r}"
        );
    }

    #[test]
    fn csv_quoting_and_decimal_comma() {
        assert_eq!(
            csv_line(&["a;b", "say \"hi\"", "x\r\ny"]),
            "\"a;b\";\"say \"\"hi\"\"\";\"x  y\"\r\n"
        );
        assert_eq!(decimal_comma(12.34), "12,3");
        // A computer name from a hostile hive must not become a formula in Excel.
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\";\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\";\"\"y\"\")\""
        );
        assert_eq!(csv_field("-1"), "\"'-1\"");
        assert_eq!(csv_field("PC-01"), "\"PC-01\"");
    }
}

#[cfg(test)]
pub(crate) mod save_tests {
    use super::super::fatlog::tests::CutStore;
    use super::*;
    use crate::record::{HostDisk, RulesInfo, RunMode};
    use std::collections::BTreeMap;
    use std::process::Command;

    pub(crate) fn tool(name: &str) -> bool {
        Command::new(name)
            .arg("--help")
            .output()
            .map(|_| true)
            .unwrap_or(false)
    }

    /// A log partition as the image builder makes it: fatfs-formatted FAT32 with `VIGIE.ID`,
    /// then `VIGIE/scans` made by mtools.
    pub(crate) fn blank_partition(mib: u64) -> Option<Vec<u8>> {
        partition(mib, 2)
    }

    /// A log partition as `vigie-image` makes it: one FAT copy, then `scanner logpart
    /// prepare`'s tokens (`scan_tokens` of them).
    pub(crate) fn prepared_partition(mib: u64, scan_tokens: usize) -> Option<Vec<u8>> {
        let img = partition(mib, 1)?;
        let mut vol = Vol::open(store(img, None), DosTime::from_unix(1_795_876_200)).unwrap();
        let p = tokens::prepare(&mut vol, scan_tokens).unwrap();
        assert_eq!(p.scan_tokens, scan_tokens);
        assert_eq!(p.index_tokens, 2);
        Some(vol.into_inner().img)
    }

    fn partition(mib: u64, fats: u8) -> Option<Vec<u8>> {
        if !tool("mmd") {
            eprintln!("mtools missing: skipped");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("p.img");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&img)
            .unwrap();
        f.set_len(mib << 20).unwrap();
        let opts = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .fats(fats)
            .volume_label(*b"VIGIE-LOGS ");
        fatfs::format_volume(&f, opts).unwrap();
        {
            let fs = fatfs::FileSystem::new(&f, fatfs::FsOptions::new()).unwrap();
            let mut id = fs.root_dir().create_file("VIGIE.ID").unwrap();
            std::io::Write::write_all(&mut id, b"VIGIE-TEST-0001\n").unwrap();
            drop(id);
            fs.unmount().unwrap();
        }
        drop(f);
        let ok = Command::new("mmd")
            .arg("-i")
            .arg(&img)
            .args(["::/VIGIE", "::/VIGIE/scans"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        Some(std::fs::read(&img).unwrap())
    }

    /// `fsck.fat -n` on an image: (clean, output).
    pub(crate) fn fsck(img: &[u8]) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.img");
        std::fs::write(&p, img).unwrap();
        let out = Command::new("fsck.fat").arg("-n").arg(&p).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// Reads a file with the independent reader (fatfs), read-only.
    pub(crate) fn read(img: &[u8], path: &str) -> Option<Vec<u8>> {
        let fs =
            fatfs::FileSystem::new(std::io::Cursor::new(img.to_vec()), fatfs::FsOptions::new())
                .ok()?;
        let mut f = fs.root_dir().open_file(path).ok()?;
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut v).ok()?;
        Some(v)
    }

    pub(crate) fn sample_host(n: u32) -> HostRecord {
        HostRecord {
            scan_id: format!("VIGIE-TEST-0001-20261128T1430{n:02}Z-00000000000000{n:02}"),
            stick_id: Some("VIGIE-TEST-0001".into()),
            scanner_version: "0.1.0".into(),
            rules: RulesInfo {
                origin: "embedded defaults".into(),
                version: "2026.11.20.1".into(),
                created: Some("2026-11-20T10:00:00Z".into()),
                sha256: "ab".repeat(32),
                rules: 42,
                iocs: 3,
            },
            started: format!("2026-11-28T14:30:{n:02}Z"),
            ended: Some(format!("2026-11-28T14:35:{n:02}Z")),
            clock: "rtc-utc".into(),
            mode: RunMode::Unattended,
            full: true,
            cancelled: false,
            asset_tag: None,
            dmi: BTreeMap::from([
                ("sys_vendor".to_string(), "Dell Inc.".to_string()),
                ("product_name".to_string(), "OptiPlex 7090".to_string()),
                ("product_serial".to_string(), "ABC1234".to_string()),
            ]),
            disks: vec![HostDisk {
                name: "sda".into(),
                model: Some("Samsung SSD 870".into()),
                serial: Some("S5Y1NX".into()),
                size: 256_060_514_304,
                bus: Some("sata".into()),
                scanned: true,
            }],
            windows_names: vec!["PC-ACCUEIL-03".into()],
            linux_names: vec![],
            notes: vec![],
            site: Some("CHU Nantes".into()),
            pseudonymised: false,
        }
    }

    pub(crate) fn sample_lines(findings: usize) -> Vec<String> {
        let mut v = vec![
            r#"{"type":"disk","disk":"/dev/sda","size":256060514304,"table":"gpt","sector_size":512}"#.to_string(),
            r#"{"type":"volume","disk":"/dev/sda","volume":3,"fs":"ntfs","offset":122683392,"size":255000000000,"label":"Windows","status":"scanned","files":120000,"scanned":119990,"skipped":{"too-large":10},"errors":0,"notes":[],"bytes":40000000000}"#.to_string(),
        ];
        for i in 0..findings {
            v.push(format!(r#"{{"type":"finding","disk":"/dev/sda","volume":3,"path":"Users/marie.dupont/Downloads/facture{i}.exe","stream":null,"kind":"yara","rule":"EICAR_Test_File","namespace":"default","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","size":68,"mode":"full"}}"#));
        }
        let verdict = if findings > 0 { "infected" } else { "clean" };
        v.push(format!(r#"{{"type":"summary","verdict":"{verdict}","files":120000,"scanned":119990,"findings":{findings},"bytes":40000000000,"seconds":301.25,"skipped":10,"errors":0,"cancelled":false}}"#));
        v
    }

    pub(crate) fn opts() -> SaveOptions {
        SaveOptions {
            pseudonymise: false,
            now: 1_795_876_200,
        }
    }

    pub(crate) fn store(img: Vec<u8>, cut: Option<usize>) -> CutStore {
        CutStore {
            img,
            writes: 0,
            cut_after: cut,
            log: Vec::new(),
        }
    }

    #[test]
    fn saves_folder_record_report_and_index_that_fsck_accepts() {
        if !tool("fsck.fat") {
            eprintln!("fsck.fat missing: skipped");
            return;
        }
        let Some(img) = blank_partition(40) else {
            return;
        };
        assert!(fsck(&img).0, "{}", fsck(&img).1);
        let mut s = store(img, None);
        for n in 0..3u32 {
            let (saved, back) =
                save_scan_on(s, &sample_host(n), &sample_lines(n as usize), &opts()).unwrap();
            s = back;
            assert_eq!(
                saved.folder,
                format!("VIGIE/scans/2026-11-28_1430{n:02}_PC-ACCUEIL-03")
            );
            assert!(saved.indexed);
            let (ok, text) = fsck(&s.img);
            assert!(ok, "after save {n}: {text}");
        }
        // Same device, same second: a second folder, never an overwrite.
        let (saved, s) = save_scan_on(s, &sample_host(2), &sample_lines(0), &opts()).unwrap();
        assert_eq!(
            saved.folder,
            "VIGIE/scans/2026-11-28_143002_PC-ACCUEIL-03-2"
        );
        let rec = read(
            &s.img,
            "VIGIE/scans/2026-11-28_143001_PC-ACCUEIL-03/record.jsonl",
        )
        .unwrap();
        let rec = String::from_utf8(rec).unwrap();
        assert!(rec.starts_with("{\"type\":\"host\""));
        assert_eq!(rec.lines().count(), 1 + sample_lines(1).len());
        let idx = String::from_utf8(read(&s.img, INDEX).unwrap()).unwrap();
        assert!(idx.starts_with('\u{feff}'));
        assert_eq!(idx.matches("\r\n").count(), 5, "{idx}");
        let (ok, text) = fsck(&s.img);
        assert!(ok, "{text}");
    }

    #[test]
    fn a_full_partition_is_a_typed_error_and_leaves_the_volume_clean() {
        let Some(img) = blank_partition(34) else {
            return;
        };
        let big: Vec<String> = (0..400_000)
            .map(|i| format!("{{\"type\":\"finding\",\"path\":\"{i:0>120}\"}}"))
            .collect();
        let mut s = store(img, None);
        let err = save_scan_on(&mut s, &sample_host(0), &big, &opts())
            .err()
            .unwrap();
        assert!(matches!(err, SaveError::Full(_)), "{err}");
        assert!(err.to_string().contains("full"));
        // Nothing was committed: the volume is as clean as before.
        if tool("fsck.fat") {
            let (ok, text) = fsck(&s.img);
            assert!(ok, "{text}");
        }
        assert!(read(&s.img, INDEX).is_none());
    }

    /// Cuts the power after every single write of a save, on a partition that already holds
    /// records; checks fsck, the earlier records and the index, and that the next save works.
    #[test]
    fn power_cut_after_every_write_keeps_earlier_records_and_fsck_clean() {
        if !tool("fsck.fat") {
            eprintln!("fsck.fat missing: skipped");
            return;
        }
        let Some(img) = blank_partition(40) else {
            return;
        };
        let mut s = store(img, None);
        for n in 0..2u32 {
            s = save_scan_on(s, &sample_host(n), &sample_lines(1), &opts())
                .unwrap()
                .1;
        }
        let mut base = s.img.clone();
        let fat_region = fat_region(&base);
        let mut windows = Vec::new();
        let mut healed_index = 0;
        // Several saves in turn, each cut after every one of its writes: the index appends
        // cross cluster boundaries in some of them (512-byte clusters).
        for round in 0..4u32 {
            let host = sample_host(10 + round);
            let lines = sample_lines(round as usize + 1);
            let before: Vec<(String, Vec<u8>)> = list_records(&base);
            assert_eq!(before.len(), 2 * (2 + round as usize));
            let idx = read(&base, INDEX).unwrap();
            let full = save_scan_on(store(base.clone(), None), &host, &lines, &opts())
                .unwrap()
                .1;
            let total = full.writes;
            assert!(total > 4, "{total}");
            let mut window = Vec::new();
            for cut in 0..total {
                let mut cs = store(base.clone(), Some(cut));
                let _ = save_scan_on(&mut cs, &host, &lines, &opts());
                let img = cs.img.clone();
                let (ok, text) = fsck(&img);
                let last_fat = cs
                    .log
                    .last()
                    .map(|(o, _)| fat_region.contains(o))
                    .unwrap_or(false);
                if !ok {
                    // Only inside the commit window (the last write applied was a FAT copy),
                    // and only complaints about unowned clusters, the FAT copies, or the
                    // index's chain being longer than its size.
                    assert!(
                        last_fat,
                        "round {round} cut {cut}, outside the FAT window: {text}"
                    );
                    for l in text.lines() {
                        assert!(
                            window_line(l),
                            "round {round} cut {cut}: unexpected fsck complaint {l:?} in {text}"
                        );
                    }
                    window.push(cut);
                }
                // Every earlier record intact, the index at worst missing the newest row.
                for (path, data) in &before {
                    assert_eq!(
                        read(&img, path).as_ref(),
                        Some(data),
                        "round {round} cut {cut}"
                    );
                }
                let now_idx = read(&img, INDEX).unwrap();
                assert!(
                    now_idx.starts_with(&idx),
                    "round {round} cut {cut}: index lost rows"
                );
                // The next boot still writes its record, and repairs an over-long index chain.
                let (saved, after) =
                    save_scan_on(store(img, None), &sample_host(9), &sample_lines(0), &opts())
                        .unwrap();
                assert!(saved.indexed, "round {round} cut {cut}: index not appended");
                assert!(read(&after.img, &format!("{}/{RECORD_FILE}", saved.folder)).is_some());
                let (ok2, text2) = fsck(&after.img);
                if ok {
                    assert!(ok2, "round {round} cut {cut} then a save: {text2}");
                } else {
                    assert!(!text2.contains("cluster chain length"), "{text2}");
                    if text.contains("cluster chain length") {
                        healed_index += 1;
                    }
                    for l in text2.lines() {
                        assert!(window_line(l), "round {round} cut {cut} then a save: {l:?}");
                    }
                }
            }
            eprintln!(
                "round {round}: {total} writes per save; fsck complained (FAT window only) after cuts {window:?}"
            );
            // The window: the FAT copies of the folder commit, and of the index append when
            // it needs a new cluster.
            assert!(window.len() <= 4, "{window:?}");
            windows.push(window);
            base = full.img;
        }
        eprintln!("index chains repaired by the next save: {healed_index}");
    }

    fn window_line(l: &str) -> bool {
        let l = l.trim();
        l.is_empty()
            || l.starts_with("fsck.fat")
            || l.contains("FATs differ")
            || l.contains("Using first FAT")
            || l.contains("Reclaimed")
            || l.contains("Leaving filesystem unchanged")
            || l.contains("files,")
            || l.contains("cluster chain length")
            || l.contains("Truncating file")
            || l.contains("Free cluster summary uninitialized")
            || l.starts_with("/SCANS.CSV")
    }

    /// Every `record.jsonl` and report under VIGIE/scans, with its content (fatfs, read-only).
    pub(crate) fn list_records(img: &[u8]) -> Vec<(String, Vec<u8>)> {
        let fs =
            fatfs::FileSystem::new(std::io::Cursor::new(img.to_vec()), fatfs::FsOptions::new())
                .unwrap();
        let mut out = Vec::new();
        for d in fs.root_dir().open_dir(SCANS_DIR).unwrap().iter() {
            let d = d.unwrap();
            let name = d.file_name();
            let token = d.attributes().contains(fatfs::FileAttributes::HIDDEN);
            if !d.is_dir() || name == "." || name == ".." || token {
                continue;
            }
            for f in [RECORD_FILE, REPORT_FILE] {
                let p = format!("{SCANS_DIR}/{name}/{f}");
                let data = read(img, &p).unwrap();
                out.push((p, data));
            }
        }
        out.sort();
        out
    }

    /// Byte range of the FAT copies of an image.
    fn fat_region(img: &[u8]) -> std::ops::Range<u64> {
        let bps = u64::from(u16::from_le_bytes([img[11], img[12]]));
        let rsvd = u64::from(u16::from_le_bytes([img[14], img[15]]));
        let nf = u64::from(img[16]);
        let fsz = u64::from(u32::from_le_bytes([img[36], img[37], img[38], img[39]]));
        rsvd * bps..(rsvd + nf * fsz) * bps
    }

    #[test]
    fn golden_record_report_and_index() {
        let host = sample_host(7);
        let lines = sample_lines(2);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let cases = [
            ("record.jsonl", record_text(&host, &lines)),
            ("rapport-report.txt", human_report(&host, &lines)),
            (
                "index.csv",
                index_head() + &index_row(&host, &lines, &folder_name(&host)),
            ),
        ];
        for (name, got) in cases {
            let p = dir.join(name);
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&p, &got).unwrap();
            }
            let want = std::fs::read_to_string(&p).unwrap_or_default();
            assert_eq!(
                got,
                want,
                "{name} differs from {} (UPDATE_GOLDEN=1 to accept)",
                p.display()
            );
        }
        let report = human_report(&host, &lines);
        assert!(report.starts_with('\u{feff}'));
        assert!(report
            .split('\n')
            .all(|l| l.ends_with('\r') || l.is_empty()));
        assert!(report.ends_with("\r\n"));
        assert!(!report.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn pseudonymised_save_keeps_the_key_and_hides_names() {
        let Some(img) = blank_partition(40) else {
            return;
        };
        let o = SaveOptions {
            pseudonymise: true,
            now: 1_795_876_200,
        };
        let (saved, s) =
            save_scan_on(store(img, None), &sample_host(1), &sample_lines(2), &o).unwrap();
        let key = read(&s.img, KEY_FILE).unwrap();
        assert_eq!(key.len(), 32);
        let rec =
            String::from_utf8(read(&s.img, &format!("{}/{RECORD_FILE}", saved.folder)).unwrap())
                .unwrap();
        assert!(
            !rec.contains("marie.dupont") && !rec.contains("facture"),
            "{rec}"
        );
        assert!(rec.contains("EICAR_Test_File") && rec.contains("275a021bbfb6489e"));
        assert!(rec.contains("\"pseudonymised\":true"));
        // The same key is reused: same pseudonyms on the next scan.
        let (saved2, s) = save_scan_on(s, &sample_host(2), &sample_lines(2), &o).unwrap();
        assert_eq!(read(&s.img, KEY_FILE).unwrap(), key);
        let rec2 =
            String::from_utf8(read(&s.img, &format!("{}/{RECORD_FILE}", saved2.folder)).unwrap())
                .unwrap();
        let path = |r: &str| {
            r.lines()
                .find(|l| l.contains("finding"))
                .unwrap()
                .split("\"path\":")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(path(&rec), path(&rec2));
        if tool("fsck.fat") {
            assert!(fsck(&s.img).0, "{}", fsck(&s.img).1);
        }
    }
}
