//! The outputs of `scanner report`: text, CSV (French Excel), JSON, HTML, ECS JSON lines, CEF.

use std::fmt::Write as _;

use serde_json::json;

use super::{Fleet, Machine, Scan};
use crate::init::logpart::{csv_line, decimal_comma};
use crate::record::Verdict;

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
    match s.verdict() {
        Some(Verdict::Clean) => "clean",
        Some(Verdict::Infected) => "infected",
        Some(Verdict::Incomplete) => "incomplete",
        None => "none",
    }
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
                .map(|v| format!("{v:?}").to_lowercase())
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
                .map(|v| format!("{v:?}").to_lowercase())
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

fn ecs(f: &Fleet) -> String {
    let mut o = String::new();
    for m in &f.machines {
        for s in &m.scans {
            let h = &s.host;
            let host = json!({
                "name": m.name,
                "id": m.key,
                "hostname": h.windows_names.first().or(h.linux_names.first()),
                "serial": h.dmi.get("product_serial"),
                "vendor": h.dmi.get("sys_vendor"),
                "model": h.dmi.get("product_name"),
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
                    "outcome": if s.summary.is_some() { "success" } else { "unknown" },
                },
                "message": format!("Vigie scan of {}: {}", m.name, verdict(s)),
                "host": host, "observer": observer,
                "labels": {"site": h.site, "clock": h.clock},
                "vigie": {
                    "verdict": verdict(s), "findings": s.findings.len(),
                    "files": s.summary.as_ref().map(|x| x.files),
                    "scanned": s.summary.as_ref().map(|x| x.scanned),
                    "coverage_percent": pct, "volumes_not_scanned": bad,
                    "mode": h.mode, "cancelled": h.cancelled,
                    "rules_version": h.rules.version,
                },
            });
            o.push_str(&ev.to_string());
            o.push('\n');
            for fd in &s.findings {
                let mut ev = json!({
                    "@timestamp": h.started,
                    "ecs": {"version": "8.11.0"},
                    "event": {
                        "kind": "alert", "category": ["malware", "file"], "type": ["info"],
                        "module": "vigie", "dataset": "vigie.finding", "id": h.scan_id,
                        "severity": 8,
                    },
                    "message": format!("{} matched {} on {}", fd.rule, fd.location(), m.name),
                    "host": host, "observer": observer,
                    "labels": {"site": h.site},
                    "file": {"path": fd.path, "size": fd.size, "hash": {"sha256": fd.sha256},
                             "device": fd.disk},
                    "rule": {"name": fd.rule, "ruleset": fd.namespace},
                    "vigie": {"kind": fd.kind, "volume": fd.volume, "stream": fd.stream,
                              "scan_mode": fd.mode},
                });
                if let Some(member) = &fd.member {
                    // Inside a container (issue 13): `//` between nested members.
                    ev["vigie"]["member"] = json!(member);
                }
                o.push_str(&ev.to_string());
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
    let (y, m, dd) = (d[0], d[1], d[2]);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + d[3] * 3600 + d[4] * 60 + d[5]) * 1000
}

fn cef(f: &Fleet) -> String {
    let mut o = String::new();
    let ver = cef_header(env!("CARGO_PKG_VERSION"));
    for m in &f.machines {
        for s in &m.scans {
            let h = &s.host;
            let base = |o: &mut String| {
                let _ = write!(
                    o,
                    "rt={} dhost={} deviceExternalId={} cs1Label=site cs1={} cs2Label=scanId cs2={} cs3Label=machineKey cs3={}",
                    epoch_ms(&h.started),
                    cef_value(&m.name),
                    cef_value(h.stick_id.as_deref().unwrap_or("")),
                    cef_value(h.site.as_deref().unwrap_or("")),
                    cef_value(&h.scan_id),
                    cef_value(&m.key),
                );
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
            let _ = writeln!(
                o,
                " cn1Label=findings cn1={} cn2Label=files cn2={} outcome={}",
                s.findings.len(),
                s.summary.as_ref().map(|x| x.files).unwrap_or(0),
                verdict(s)
            );
            for fd in &s.findings {
                let _ = write!(
                    o,
                    "CEF:0|Vigie|Vigie scanner|{ver}|{}|{}|8|",
                    cef_header(&fd.rule),
                    cef_header(&format!("Malware: {}", fd.rule))
                );
                base(&mut o);
                let name = fd.path.rsplit('/').next().unwrap_or(&fd.path);
                let _ = writeln!(
                    o,
                    " fname={} filePath={} fsize={} fileHash={} cs4Label=ruleset cs4={}",
                    cef_value(name),
                    cef_value(&fd.path),
                    fd.size,
                    cef_value(&fd.sha256),
                    cef_value(&fd.namespace)
                );
                if let Some(member) = &fd.member {
                    // Inside a container (issue 13): the member path, `//` between levels.
                    o.pop();
                    let _ = writeln!(o, " cs5Label=member cs5={}", cef_value(member));
                }
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
}
