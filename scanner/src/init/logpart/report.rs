//! The human report of a scan (`rapport-report.txt`), French then English, for Notepad
//! (UTF-8 with BOM, CRLF).

use super::record::summary_of;
use super::RECORD_FILE;
use crate::record::{HostRecord, Record, Verdict};
use crate::text::names::device_name;

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
    let mut evidence = None;
    for l in lines {
        match serde_json::from_str::<Record>(l) {
            Ok(Record::Volume(v)) => volumes.push(v),
            Ok(Record::Finding(f)) => findings.push(f),
            Ok(Record::Evidence(e)) => evidence = Some(e),
            _ => {}
        }
    }
    let (fr, en) = verdict_words(sum.as_ref().map(|s| s.verdict));
    // Issue 14 (quick scan): its clean is its own verdict, with what was and was not read.
    let quick = sum
        .as_ref()
        .filter(|s| s.mode == crate::record::ScanMode::Quick);
    let (fr, en) = match quick {
        Some(s) if s.quick_clean() => (
            crate::text::quick::verdict(Lang::Fr),
            crate::text::quick::verdict(Lang::En),
        ),
        _ => (fr, en),
    };
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
    if let Some(s) = quick {
        w(format!(
            "                     {}",
            crate::text::quick::counts(Lang::Fr, s)
        ));
        w(format!(
            "                     {}",
            crate::text::quick::counts(Lang::En, s)
        ));
    }
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
    // Evidence ZIP (issue 14).
    if let Some(e) = &evidence {
        w(String::new());
        for l in crate::evidence::report_lines(e) {
            w(l);
        }
    }
    w(String::new());
    w("Volumes :".into());
    for v in &volumes {
        w(format!(
            "  - {} #{} {} {} : {} fichiers/files, {} analysés/scanned{}",
            v.disk,
            v.volume,
            crate::text::fs_words(v.fs),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_empty_partition_is_an_unknown_format_in_words_not_the_record_code() {
        let lines = vec![
            r#"{"type":"volume","disk":"/dev/sda","volume":2,"fs":"unknown","offset":0,"size":1,"label":null,"status":"unsupported","files":0,"scanned":0,"skipped":{},"errors":0,"notes":[],"bytes":0}"#.to_string(),
        ];
        let r = human_report(&HostRecord::default(), &lines);
        assert!(
            r.contains("#2 format inconnu/unknown format non pris en charge/unsupported"),
            "{r}"
        );
        assert!(!r.contains("#2 unknown"), "{r}");
    }
}
