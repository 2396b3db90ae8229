//! The unattended scan child and what PID 1 keeps of its stream: the child scans and writes
//! one JSON line per record to a pipe; PID 1 keeps a bounded copy ([`Kept`]) and turns a crash
//! of the child into a summary that is never clean ([`close_summary`]).

use super::{engine, logpart, sys, update, RULES_DIR};
use crate::record::{Record, SummaryRecord, Verdict};
use crate::say::say;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Volumes the scan skips because a resumed scan finished them (see `ScanOptions`).
pub(super) type SkipVolumes = std::collections::BTreeSet<(String, u32, u64, u64)>;

/// Finding lines PID 1 keeps for one record. A disk with millions of matching files must not
/// run PID 1 out of memory (a kernel panic, and no record at all): past this, findings are
/// counted, the record says how many were left out, and the summary still counts them all.
const MAX_KEPT_FINDINGS: usize = 50_000;

/// The record lines PID 1 keeps from the child's stream (see [`MAX_KEPT_FINDINGS`]).
#[derive(Default)]
pub(super) struct Kept {
    pub(super) lines: Vec<String>,
    findings: usize,
    dropped: u64,
}

impl Kept {
    pub(super) fn push(&mut self, line: String) {
        if line.starts_with("{\"type\":\"finding\"") {
            if self.findings >= MAX_KEPT_FINDINGS {
                self.dropped += 1;
                return;
            }
            self.findings += 1;
        }
        self.lines.push(line);
    }

    /// The note for the host record when findings were left out.
    pub(super) fn note(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "{} more findings are not listed in this record (limit {MAX_KEPT_FINDINGS}); the summary counts them all",
                self.dropped
            )
        })
    }
}

/// Runs the scan in a forked child that streams JSON lines through a pipe; a crash of the
/// child (panic, signal, out of memory) becomes an incomplete verdict, never a dead PID 1.
pub(super) fn supervise_scan(
    targets: &[PathBuf],
    threads: usize,
    host: Option<crate::record::HostRecord>,
    notes: &mut Vec<String>,
    skip: &SkipVolumes,
    on_line: &mut dyn FnMut(&str),
) -> Result<(Vec<String>, Verdict, bool), String> {
    let (r, w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    match sys::fork().map_err(|e| format!("fork: {e}"))? {
        None => {
            drop(r);
            let file = std::fs::File::from(w);
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                child_scan(targets, threads, file, host, skip)
            }));
            let code = code.unwrap_or(3);
            std::process::exit(code);
        }
        Some(child) => {
            drop(w);
            let reader = std::io::BufReader::new(std::fs::File::from(r));
            let mut kept = Kept::default();
            for l in reader.lines() {
                match l {
                    Ok(l) => {
                        on_line(&l);
                        kept.push(l)
                    }
                    Err(_) => break,
                }
            }
            if let Some(n) = kept.note() {
                say(&format!("  {n}"));
                notes.push(n);
            }
            let mut lines = kept.lines;
            let status = nix::sys::wait::waitpid(child, None);
            let summary = logpart::summary_of(&lines);
            let healthy = matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0..=2)));
            match (summary, healthy) {
                (Some(s), true) => Ok((lines, s.verdict, !s.cancelled)),
                (s, _) => {
                    say(&format!(
                        "  the scan process ended abnormally: {}",
                        describe(&status)
                    ));
                    let mut rec = s.unwrap_or_else(|| stand_in_summary(&lines, 1, false));
                    if rec.verdict == Verdict::Clean {
                        rec.verdict = Verdict::Incomplete;
                    }
                    lines.push(Record::Summary(rec.clone()).to_json_line());
                    Ok((lines, rec.verdict, false))
                }
            }
        }
    }
}

/// The sink of the scan child: every record to the pipe, findings also on the console.
struct PipeSink {
    out: std::io::BufWriter<std::fs::File>,
}

impl crate::sink::Sink for PipeSink {
    fn record(&mut self, record: &Record) {
        let line = record.to_json_line();
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
        match record {
            Record::Finding(f) => say(&format!("  {}", finding_line(f))),
            Record::Volume(v) => say(&format!("  {}", volume_line(v))),
            _ => {}
        }
    }
}

/// The boot log's sentence for a finding: `FOUND EICAR_Test_File on /dev/sda, volume 3:
/// /Users/Public/readme.txt:hidden`.
pub(super) fn finding_line(f: &crate::record::FindingRecord) -> String {
    let place = match f.volume {
        Some(n) => format!("{}, volume {n}", f.disk),
        None => f.disk.clone(),
    };
    format!("FOUND {} on {place}: {}", f.rule, crate::text::location(f))
}

/// The boot log's sentence for a finished volume: `volume 3 of /dev/sda (ntfs, "Windows"):
/// 13 files, scanned`.
pub(super) fn volume_line(v: &crate::record::VolumeRecord) -> String {
    let label = v
        .label
        .as_deref()
        .map(|l| format!(", \"{l}\""))
        .unwrap_or_default();
    let files = if v.files == 1 { "file" } else { "files" };
    format!(
        "volume {} of {} ({}{label}): {} {files}, {}",
        v.volume,
        v.disk,
        crate::text::fs_name(crate::text::Lang::En, v.fs),
        v.files,
        v.status.as_str()
    )
}

pub(super) fn child_scan(
    targets: &[PathBuf],
    threads: usize,
    out: std::fs::File,
    host: Option<crate::record::HostRecord>,
    skip: &SkipVolumes,
) -> i32 {
    let mut sink = PipeSink {
        out: std::io::BufWriter::new(out),
    };
    engine::scan_host(
        targets,
        &update::rules_path(Path::new(RULES_DIR)),
        threads,
        &mut sink,
        host,
        skip,
    )
}

/// Closes a record whose scan did not finish: a summary that is never `clean` (`infected` if
/// findings arrived, else `incomplete`) unless the lines already end with one.
pub(super) fn close_summary(lines: &mut Vec<String>, errors: u64) -> Verdict {
    if let Some(s) = logpart::summary_of(lines) {
        if s.verdict != Verdict::Clean || errors == 0 {
            return s.verdict;
        }
    }
    let rec = stand_in_summary(lines, errors.max(1), true);
    lines.push(Record::Summary(rec.clone()).to_json_line());
    rec.verdict
}

/// The summary PID 1 writes for a scan that did not end with its own: `infected` if finding
/// lines arrived, else `incomplete` (never `clean`), and only the counts PID 1 can vouch for.
fn stand_in_summary(lines: &[String], errors: u64, cancelled: bool) -> SummaryRecord {
    let findings = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"finding\""))
        .count() as u64;
    let verdict = if findings > 0 {
        Verdict::Infected
    } else {
        Verdict::Incomplete
    };
    SummaryRecord {
        verdict,
        findings,
        errors,
        cancelled,
        ..SummaryRecord::nothing_scanned()
    }
}

/// Describes how a child ended, for the screen and the record.
pub(super) fn describe(status: &nix::Result<nix::sys::wait::WaitStatus>) -> String {
    use nix::sys::wait::WaitStatus;
    match status {
        Ok(WaitStatus::Exited(_, c)) => format!("exited with status {c}"),
        Ok(WaitStatus::Signaled(_, sig, core)) => format!(
            "killed by signal {}{}",
            sig.as_str(),
            if *core { " (core dumped)" } else { "" }
        ),
        Ok(WaitStatus::Stopped(_, sig)) => format!("stopped by signal {}", sig.as_str()),
        Ok(_) => "ended in an unexpected state".to_string(),
        Err(e) => format!("wait failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid1_keeps_a_bounded_number_of_findings_and_every_other_line() {
        let mut k = Kept::default();
        k.push(r#"{"type":"disk","disk":"d"}"#.into());
        for _ in 0..MAX_KEPT_FINDINGS + 7 {
            k.push(r#"{"type":"finding","disk":"d"}"#.into());
        }
        k.push(r#"{"type":"summary","verdict":"infected"}"#.into());
        assert_eq!(k.lines.len(), MAX_KEPT_FINDINGS + 2);
        assert!(k.lines.last().unwrap().contains("summary"));
        assert!(k.note().unwrap().starts_with("7 more findings"));
        assert!(Kept::default().note().is_none());
    }

    #[test]
    fn a_crashed_scan_is_never_clean() {
        let finding = r#"{"type":"finding","disk":"d","volume":1,"path":"a","stream":null,"kind":"yara","rule":"r","namespace":"n","sha256":"00","size":1,"mode":"full"}"#;
        let mut lines = vec![finding.to_string()];
        assert_eq!(close_summary(&mut lines, 1), Verdict::Infected);
        assert_eq!(lines.len(), 2);
        let s: Record = serde_json::from_str(&lines[1]).unwrap();
        let Record::Summary(s) = s else { panic!() };
        assert!(s.cancelled && s.errors == 1 && s.findings == 1);
        let mut none = Vec::new();
        assert_eq!(close_summary(&mut none, 1), Verdict::Incomplete);
        // A finished session keeps its own summary.
        let mut done = vec![Record::Summary(SummaryRecord {
            verdict: Verdict::Clean,
            files: 1,
            scanned: 1,
            findings: 0,
            bytes: 1,
            seconds: 1.0,
            skipped: 0,
            errors: 0,
            cancelled: false,
            members: Default::default(),
            mode: Default::default(),
            not_selected: 0,
        })
        .to_json_line()];
        assert_eq!(close_summary(&mut done, 0), Verdict::Clean);
        assert_eq!(done.len(), 1);
        // ... but a crash after a clean summary (before the save) is not clean.
        assert_eq!(close_summary(&mut done, 1), Verdict::Incomplete);
    }

    #[test]
    fn boot_log_lines_are_sentences_without_debug_forms() {
        let v: crate::record::VolumeRecord = serde_json::from_value(serde_json::json!({
            "disk": "/dev/sda", "volume": 3, "fs": "ntfs", "offset": 0, "size": 1,
            "label": "Windows", "status": "scanned", "files": 13, "scanned": 13,
            "skipped": {}, "errors": 0, "notes": [], "bytes": 1
        }))
        .unwrap();
        assert_eq!(
            volume_line(&v),
            "volume 3 of /dev/sda (ntfs, \"Windows\"): 13 files, scanned"
        );
        let mut u = v.clone();
        u.fs = crate::record::FsKind::Unknown;
        u.label = None;
        u.files = 0;
        u.status = crate::record::VolumeStatus::Unsupported;
        let mut f: crate::record::FindingRecord = serde_json::from_value(serde_json::json!({
            "disk": "/dev/sda", "volume": null, "path": "<mbr>", "stream": null,
            "kind": "yara", "rule": "Boot_Rule", "namespace": "default", "sha256": "",
            "size": 512, "mode": "full"
        }))
        .unwrap();
        let mbr = finding_line(&f);
        assert_eq!(mbr, "FOUND Boot_Rule on /dev/sda: <mbr>");
        f.volume = Some(2);
        f.path = "/Users/Public/readme.txt".into();
        f.stream = Some("hidden".into());
        let ads = finding_line(&f);
        assert_eq!(
            ads,
            "FOUND Boot_Rule on /dev/sda, volume 2: /Users/Public/readme.txt:hidden"
        );
        let signalled = describe(&Ok(nix::sys::wait::WaitStatus::Signaled(
            nix::unistd::Pid::from_raw(2),
            nix::sys::signal::Signal::SIGSEGV,
            false,
        )));
        for line in [volume_line(&v), volume_line(&u), mbr, ads, signalled] {
            for bad in [
                "Some(",
                "None",
                "Ntfs",
                "Unknown",
                "Scanned",
                "Unsupported",
                "Signaled",
            ] {
                assert!(!line.contains(bad), "{bad} in {line}");
            }
        }
    }
}
