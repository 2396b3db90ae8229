//! The outputs of `scanner report`: text, CSV (French Excel), JSON, HTML, ECS JSON lines, CEF.

use std::fmt::Write as _;

use serde_json::json;

use super::{Fleet, Machine, Scan};
use crate::record::Verdict;
use crate::text::csv::{csv_line, decimal_comma};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable summary.
    Text,
    /// One row per machine, for French Excel (`;`, UTF-8 BOM, CRLF, decimal comma).
    Csv,
    /// One JSON document: totals, machines with their scans.
    Json,
    /// One self-contained HTML page.
    Html,
    /// Elastic Common Schema JSON lines (Elastic, Wazuh): one event per scan and per finding.
    Ecs,
    /// ArcSight Common Event Format lines: one per scan and per finding.
    Cef,
}

/// Renders the fleet.
pub fn render(f: &Fleet, fmt: Format) -> String {
    match fmt {
        Format::Text => text(f),
        Format::Csv => csv(f),
        Format::Json => json_doc(f),
        Format::Html => html(f),
        Format::Ecs => ecs(f),
        Format::Cef => cef(f),
    }
}

fn verdict(s: &Scan) -> &'static str {
    // Issue 14: a quick scan that found nothing is never the full scan's clean.
    if s.summary.as_ref().is_some_and(|x| x.quick_clean()) {
        return "quick_clean";
    }
    s.verdict().map_or("none", Verdict::as_str)
}

/// Percentage of seen files fully scanned, and volumes not fully scanned.
fn coverage(s: &Scan) -> (f64, usize) {
    let (files, scanned) = s
        .summary
        .as_ref()
        .map(|x| (x.files, x.scanned))
        .unwrap_or((0, 0));
    let pct = if files == 0 {
        0.0
    } else {
        scanned as f64 * 100.0 / files as f64
    };
    let not_scanned = s
        .volumes
        .iter()
        .filter(|v| v.status != crate::record::VolumeStatus::Scanned)
        .count();
    (pct, not_scanned)
}

fn changes_text(m: &Machine) -> String {
    match &m.changes {
        None => "first scan".into(),
        Some(c) => {
            let mut parts = Vec::new();
            let pv = c
                .previous_verdict
                .map(|v| v.as_str().to_string())
                .unwrap_or_else(|| "none".into());
            let lv = verdict(m.last());
            if pv != lv {
                parts.push(format!("verdict {pv} -> {lv}"));
            }
            if !c.new_findings.is_empty() {
                parts.push(format!("+{} findings", c.new_findings.len()));
            }
            if !c.gone_findings.is_empty() {
                parts.push(format!("-{} findings", c.gone_findings.len()));
            }
            if parts.is_empty() {
                "no change".into()
            } else {
                parts.join(", ")
            }
        }
    }
}

fn unique_scans(f: &Fleet) -> usize {
    f.machines.iter().map(|m| m.scans.len()).sum()
}

fn text(f: &Fleet) -> String {
    let mut o = String::new();
    let t = &f.total;
    let _ = writeln!(
        o,
        "Vigie fleet report: {} machines, {} scans ({} records read, {} duplicates merged)",
        t.machines,
        unique_scans(f),
        f.records_read,
        f.duplicates
    );
    let _ = writeln!(
        o,
        "Last scans: {} infected, {} incomplete, {} clean; {} findings\n",
        t.infected, t.incomplete, t.clean, t.findings
    );
    let _ = writeln!(o, "Machines:");
    for m in &f.machines {
        let l = m.last();
        let (pct, bad) = coverage(l);
        let _ = writeln!(
            o,
            "  {} [{}] site {}: last scan {} {} ({} findings, {:.1}% files scanned, {} volumes not fully scanned, {} scans): {}",
            m.name,
            m.key,
            m.site.as_deref().unwrap_or("-"),
            l.host.started,
            verdict(l).to_uppercase(),
            l.findings.len(),
            pct,
            bad,
            m.scans.len(),
            changes_text(m)
        );
        for fd in l.findings.iter().take(20) {
            let _ = writeln!(
                o,
                "      {} {} sha256={}",
                fd.rule,
                fd.location(),
                fd.sha256
            );
        }
        // Evidence ZIP (issue 14).
        if let Some(e) = &l.evidence {
            let _ = writeln!(
                o,
                "      evidence {} ({}): {} copied, {} not copied{}",
                e.file,
                e.status,
                e.copied,
                e.not_copied,
                if e.limits_reached.is_empty() {
                    String::new()
                } else {
                    format!(", limits reached: {}", e.limits_reached.join(", "))
                }
            );
        }
    }
    let _ = writeln!(o, "\nPer site:");
    for (s, t) in &f.sites {
        let _ = writeln!(
            o,
            "  {s}: {} machines, {} scans, {} infected, {} incomplete, {} clean, {} findings",
            t.machines, t.scans, t.infected, t.incomplete, t.clean, t.findings
        );
    }
    let _ = writeln!(o, "\nPer rule:");
    for (r, t) in &f.rules {
        let _ = writeln!(
            o,
            "  {r}: {} findings in all scans, {} in last scans, on {} machines",
            t.findings, t.findings_last, t.machines
        );
    }
    o
}

/// CSV header of the per-machine rows.
pub const CSV_HEADER: &[&str] = &[
    "machine",
    "clé machine/machine key",
    "site",
    "dernière analyse/last scan",
    "verdict",
    "menaces/findings",
    "fichiers/files",
    "analysés/scanned",
    "couverture/coverage (%)",
    "volumes incomplets/volumes not scanned",
    "analyses/scans",
    "verdict précédent/previous verdict",
    "changements/changes",
    "règles/rules",
    "scan_id",
];

fn csv(f: &Fleet) -> String {
    let mut o = format!("\u{feff}{}", csv_line(CSV_HEADER));
    for m in &f.machines {
        let l = m.last();
        let (pct, bad) = coverage(l);
        let rules: std::collections::BTreeSet<&str> =
            l.findings.iter().map(|x| x.rule.as_str()).collect();
        let n = |g: fn(&crate::record::SummaryRecord) -> u64| {
            l.summary
                .as_ref()
                .map(|s| g(s).to_string())
                .unwrap_or_default()
        };
        o.push_str(&csv_line(&[
            m.name.clone(),
            m.key.clone(),
            m.site.clone().unwrap_or_default(),
            l.host.started.clone(),
            verdict(l).into(),
            l.findings.len().to_string(),
            n(|s| s.files),
            n(|s| s.scanned),
            decimal_comma(pct),
            bad.to_string(),
            m.scans.len().to_string(),
            m.changes
                .as_ref()
                .and_then(|c| c.previous_verdict)
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            changes_text(m),
            rules.into_iter().collect::<Vec<_>>().join(" "),
            l.host.scan_id.clone(),
        ]));
    }
    o
}

fn json_doc(f: &Fleet) -> String {
    let doc = json!({
        "generator": format!("vigie scanner {}", env!("CARGO_PKG_VERSION")),
        "records_read": f.records_read,
        "duplicates_merged": f.duplicates,
        "scans": unique_scans(f),
        "totals": f.total,
        "sites": f.sites,
        "rules": f.rules,
        "input_errors": f.input_errors,
        "machines": f.machines.iter().map(|m| json!({
            "key": m.key,
            "name": m.name,
            "site": m.site,
            "last_verdict": verdict(m.last()),
            "last_scan": m.last().host.scan_id,
            "coverage_percent": coverage(m.last()).0,
            "changes": m.changes,
            "scans": m.scans,
        })).collect::<Vec<_>>(),
    });
    let mut s =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// Escapes text for HTML.
pub fn esc_html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn html(f: &Fleet) -> String {
    let t = &f.total;
    let mut o = String::from(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Vigie - rapport de parc / fleet report</title>\n<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:2px 6px;text-align:left}.infected{background:#fbb}.incomplete{background:#ffd}.clean{background:#cfc}</style></head><body>\n",
    );
    let _ = writeln!(
        o,
        "<h1>Vigie - rapport de parc / fleet report</h1>\n<p id=\"totals\">{} machines, {} analyses/scans ({} enregistrements lus/records read, {} doublons fusionnés/duplicates merged): {} infected, {} incomplete, {} clean, {} findings</p>",
        t.machines, unique_scans(f), f.records_read, f.duplicates, t.infected, t.incomplete, t.clean, t.findings
    );
    o.push_str("<h2>Machines</h2>\n<table id=\"machines\"><tr><th>Machine</th><th>Key</th><th>Site</th><th>Last scan</th><th>Verdict</th><th>Findings</th><th>Coverage</th><th>Scans</th><th>Changes</th></tr>\n");
    for m in &f.machines {
        let l = m.last();
        let v = verdict(l);
        let _ = writeln!(
            o,
            "<tr class=\"{v}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{v}</td><td>{}</td><td>{:.1}%</td><td>{}</td><td>{}</td></tr>",
            esc_html(&m.name),
            esc_html(&m.key),
            esc_html(m.site.as_deref().unwrap_or("-")),
            esc_html(&l.host.started),
            l.findings.len(),
            coverage(l).0,
            m.scans.len(),
            esc_html(&changes_text(m))
        );
    }
    o.push_str("</table>\n<h2>Sites</h2>\n<table id=\"sites\"><tr><th>Site</th><th>Machines</th><th>Scans</th><th>Infected</th><th>Incomplete</th><th>Clean</th><th>Findings</th></tr>\n");
    for (s, t) in &f.sites {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc_html(s), t.machines, t.scans, t.infected, t.incomplete, t.clean, t.findings
        );
    }
    o.push_str("</table>\n<h2>Rules</h2>\n<table id=\"rules\"><tr><th>Rule</th><th>Findings</th><th>In last scans</th><th>Machines</th></tr>\n");
    for (r, t) in &f.rules {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc_html(r),
            t.findings,
            t.findings_last,
            t.machines
        );
    }
    o.push_str("</table>\n</body></html>\n");
    o
}

/// The machine's name as a host name for a SIEM: the asset tag or the computer name, never a
/// DMI model (`host.name`, `dhost` are names a SIEM joins on).
fn host_name(h: &crate::record::HostRecord) -> Option<&str> {
    h.asset_tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            h.windows_names
                .first()
                .or(h.linux_names.first())
                .map(String::as_str)
        })
}

/// A volume path as ECS `file.path` wants it (absolute-looking: `/Users/x/a.exe`).
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// Disk areas (`<mbr>`, `<boot sector>`, `<raw volume>`) are not files.
fn is_area(path: &str) -> bool {
    path.starts_with('<')
}

/// The unique id of a finding event: the scan id and the finding's rank in the scan.
fn finding_id(scan_id: &str, i: usize) -> String {
    format!("{scan_id}-f{i}")
}

/// Removes `null` members and the objects left empty: ECS wants absent fields, not nulls.
fn prune(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| !v.is_null() && !matches!(v, Value::Object(o) if o.is_empty()))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(prune).collect()),
        other => other,
    }
}

/// ECS 8.11 events (`scripts/report-checks` validates them against the field definitions):
/// one `event.kind: event` per scan, one `event.kind: alert` per finding, each with its own
/// `event.id`; the scan id in `vigie.scan_id`; DMI identity in `device.*` and `vigie.*`.
fn ecs(f: &Fleet) -> String {
    let mut o = String::new();
    for m in &f.machines {
        for s in &m.scans {
            let h = &s.host;
            let host = json!({
                "name": host_name(h),
                "id": m.key,
                "hostname": h.windows_names.first().or(h.linux_names.first()),
            });
            let device = json!({
                "manufacturer": h.dmi.get("sys_vendor"),
                "model": {"name": h.dmi.get("product_name")},
            });
            let observer = json!({
                "vendor": "Vigie", "product": "Vigie scanner", "type": "scanner",
                "version": h.scanner_version, "serial_number": h.stick_id,
            });
            let (pct, bad) = coverage(s);
            let ev = json!({
                "@timestamp": h.started,
                "ecs": {"version": "8.11.0"},
                "event": {
                    "kind": "event", "category": ["host"], "type": ["info"],
                    "module": "vigie", "dataset": "vigie.scan", "id": h.scan_id,
                    "start": h.started, "end": h.ended,
                },
                "message": format!("Vigie scan of {}: {}", m.name, verdict(s)),
                "host": host, "device": device, "observer": observer,
                "labels": {"site": h.site, "clock": h.clock},
                "vigie": {
                    "scan_id": h.scan_id,
                    "machine": m.name,
                    "serial_number": h.dmi.get("product_serial")
                        .filter(|x| super::useful_serial(x)),
                    "verdict": verdict(s), "findings": s.findings.len(),
                    "files": s.summary.as_ref().map(|x| x.files),
                    "scanned": s.summary.as_ref().map(|x| x.scanned),
                    "complete": s.summary.is_some(),
                    "coverage_percent": pct, "volumes_not_scanned": bad,
                    "mode": h.mode, "cancelled": h.cancelled,
                    "rules_version": h.rules.version,
                },
            });
            o.push_str(&prune(ev).to_string());
            o.push('\n');
            for (i, fd) in s.findings.iter().enumerate() {
                let file = if is_area(&fd.path) {
                    json!({"size": fd.size, "hash": {"sha256": fd.sha256}, "device": fd.disk})
                } else {
                    let path = absolute(&fd.path);
                    let name = path.rsplit('/').next().unwrap_or_default().to_string();
                    json!({"path": path, "name": name, "size": fd.size,
                           "hash": {"sha256": fd.sha256}, "device": fd.disk})
                };
                let mut ev = json!({
                    "@timestamp": h.started,
                    "ecs": {"version": "8.11.0"},
                    "event": {
                        "kind": "alert", "category": ["malware", "file"], "type": ["info"],
                        "module": "vigie", "dataset": "vigie.finding",
                        "id": finding_id(&h.scan_id, i), "severity": 8,
                    },
                    "message": format!(
                        "{} matched {} on {}",
                        fd.rule,
                        crate::text::location(fd),
                        m.name
                    ),
                    "host": host, "device": device, "observer": observer,
                    "labels": {"site": h.site},
                    "file": file,
                    "rule": {"name": fd.rule, "ruleset": fd.namespace},
                    "vigie": {"scan_id": h.scan_id, "kind": fd.kind, "volume": fd.volume,
                              "stream": fd.stream, "area": is_area(&fd.path).then_some(&fd.path),
                              "scan_mode": fd.mode},
                });
                if let Some(member) = &fd.member {
                    // Inside a container (issue 13): `//` between nested members.
                    ev["vigie"]["member"] = json!(member);
                }
                o.push_str(&prune(ev).to_string());
                o.push('\n');
            }
        }
    }
    o
}

/// CEF header field escaping: `\` and `|`.
pub fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// CEF extension value escaping: `\`, `=`, newlines.
pub fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// Milliseconds since the epoch for `YYYY-MM-DDTHH:MM:SSZ` (0 if not that shape).
pub fn epoch_ms(s: &str) -> i64 {
    let d: Vec<i64> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|x| !x.is_empty())
        .take(6)
        .filter_map(|x| x.parse().ok())
        .collect();
    if d.len() < 6 {
        return 0;
    }
    let days = crate::fs::fat::days_from_civil(d[0], d[1], d[2]);
    (days * 86_400 + d[3] * 3600 + d[4] * 60 + d[5]) * 1000
}

/// Appends ` key=value` (value escaped), or nothing when the value is empty: parsers drop
/// or misread empty extension values.
fn cef_ext(o: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        let _ = write!(o, " {key}={}", cef_value(value));
    }
}

/// A custom string field with its label (`cs1Label=site cs1=...`), left out when empty.
fn cef_custom(o: &mut String, n: u8, label: &str, value: &str) {
    if !value.is_empty() {
        let _ = write!(o, " cs{n}Label={label} cs{n}={}", cef_value(value));
    }
}

/// CEF lines (parsed by `pycef` in `scripts/report-checks`): `outcome` says whether the scan
/// ran to its end (`success`/`failure`), the verdict is a custom field; `dhost` only for a
/// real machine name.
fn cef(f: &Fleet) -> String {
    let mut o = String::new();
    let ver = cef_header(env!("CARGO_PKG_VERSION"));
    for m in &f.machines {
        for s in &m.scans {
            let h = &s.host;
            let base = |o: &mut String| {
                let _ = write!(o, "rt={}", epoch_ms(&h.started));
                cef_ext(o, "dhost", host_name(h).unwrap_or(""));
                cef_ext(o, "deviceExternalId", h.stick_id.as_deref().unwrap_or(""));
                cef_custom(o, 1, "site", h.site.as_deref().unwrap_or(""));
                cef_custom(o, 2, "scanId", &h.scan_id);
                cef_custom(o, 3, "machineKey", &m.key);
            };
            let sev = match s.verdict() {
                Some(Verdict::Infected) => 8,
                Some(Verdict::Clean) => 1,
                _ => 4,
            };
            let _ = write!(
                o,
                "CEF:0|Vigie|Vigie scanner|{ver}|scan|{}|{sev}|",
                cef_header(&format!("Scan {}", verdict(s)))
            );
            base(&mut o);
            cef_custom(&mut o, 4, "verdict", verdict(s));
            let _ = writeln!(
                o,
                " cn1Label=findings cn1={} cn2Label=files cn2={} outcome={}",
                s.findings.len(),
                s.summary.as_ref().map(|x| x.files).unwrap_or(0),
                if s.summary.is_some() {
                    "success"
                } else {
                    "failure"
                }
            );
            for fd in &s.findings {
                let _ = write!(
                    o,
                    "CEF:0|Vigie|Vigie scanner|{ver}|{}|{}|8|",
                    cef_header(&fd.rule),
                    cef_header(&format!("Malware: {}", fd.rule))
                );
                base(&mut o);
                if !is_area(&fd.path) {
                    let path = absolute(&fd.path);
                    cef_ext(&mut o, "fname", path.rsplit('/').next().unwrap_or_default());
                    cef_ext(&mut o, "filePath", &path);
                }
                let _ = write!(o, " fsize={}", fd.size);
                cef_ext(&mut o, "fileHash", &fd.sha256);
                cef_custom(&mut o, 4, "ruleset", &fd.namespace);
                cef_custom(&mut o, 5, "stream", fd.stream.as_deref().unwrap_or(""));
                // Inside a container (issue 13): the member path, `//` between levels.
                cef_custom(&mut o, 6, "member", fd.member.as_deref().unwrap_or(""));
                o.push('\n');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cef_escapes_per_the_specification() {
        assert_eq!(cef_header(r"a|b\c=d"), r"a\|b\\c=d");
        assert_eq!(cef_value("a=b\\c|d\ne"), r"a\=b\\c|d\ne");
        assert_eq!(epoch_ms("2026-11-28T14:30:00Z"), 1_795_876_200_000);
        assert_eq!(epoch_ms("1970-01-01T00:00:00Z"), 0);
        assert_eq!(esc_html("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }

    #[test]
    fn nulls_and_empty_objects_are_left_out() {
        let v = prune(json!({"a": null, "b": {"c": null}, "d": [1, null], "e": {"f": 1}}));
        assert_eq!(v, json!({"d": [1, null], "e": {"f": 1}}));
        assert_eq!(absolute("Users/x"), "/Users/x");
        assert_eq!(absolute("/Users/x"), "/Users/x");
        assert_eq!(finding_id("s2", 0), "s2-f0");
    }
}
