//! The stick's evidence ZIP (issue 14, `vigie.evidence=1`): built by a forked child, written
//! by PID 1 into the scan folder after the record.
//!
//! Reading host disks again runs hostile readers: a forked child does it (a crash there, even
//! an abort or an out-of-memory kill, costs the evidence, never PID 1), builds the ZIP in
//! memory (bounded by the stick's limits, see `crate::evidence::Limits::stick`) and sends PID 1
//! one JSON line (the evidence record, status `pending`) followed by the ZIP's bytes. PID 1 adds
//! that line to the record lines, saves the record as always, and only then adds
//! `evidence.zip` to the committed scan folder through the folder's tap (the lanes of
//! `fatlog`: no power cut can damage the volume), or the ordered writer when the lanes cannot
//! take it (note `unprotected`). A full log partition (or any write failure) stops the
//! evidence only: the record is already on the stick, and a last evidence line saying
//! `not_saved` / `log_full` is appended to it when there is room for that line.

use std::io::{BufRead, Read, Write};

use super::fatlog::{DosTime, FatError, Node, Store, Vol};
use super::logpart::tokens::{save_named, Outcome, BIG_TOKEN, SMALL_TOKENS};
use super::logpart::RECORD_FILE;
use crate::evidence::{Limits, ZIP_NAME};
use crate::record::{EvidenceRecord, FindingRecord, Record};

/// The longest evidence line PID 1 reads from the child (10,000 items fit).
const MAX_LINE: u64 = 32 << 20;
/// ZIP bytes beyond the copied content: headers, AES salts and MACs, the manifest.
const ZIP_OVERHEAD: u64 = 32 << 20;

/// What the child produced: the record line (to add to the record) and the ZIP.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The evidence record (status `pending`, or `not_saved` when the child failed).
    pub record: EvidenceRecord,
    /// The ZIP's bytes (empty when there is nothing to write).
    pub zip: Vec<u8>,
}

/// The findings of the record lines.
pub fn findings_of(lines: &[String]) -> Vec<FindingRecord> {
    lines
        .iter()
        .filter(|l| l.starts_with("{\"type\":\"finding\""))
        .filter_map(|l| match serde_json::from_str::<Record>(l) {
            Ok(Record::Finding(f)) => Some(f),
            _ => None,
        })
        .collect()
}

/// Builds the ZIP in this process (the child's work; tests call it directly).
pub fn build(findings: &[FindingRecord], limits: Limits) -> Prepared {
    let out = std::io::Cursor::new(Vec::new());
    match crate::evidence::read::to_writer(out, findings, limits, "pending") {
        Ok((record, cur)) => Prepared {
            zip: if record.status == "empty" {
                Vec::new()
            } else {
                cur.into_inner()
            },
            record,
        },
        Err(_) => failed(findings, limits, "write_error"),
    }
}

fn failed(findings: &[FindingRecord], limits: Limits, note: &str) -> Prepared {
    let c = crate::evidence::Collector::new(std::io::Cursor::new(Vec::new()), findings, limits);
    let mut record = c.record("not_saved");
    record.notes.push(note.into());
    Prepared {
        record,
        zip: Vec::new(),
    }
}

/// Runs [`build`] in a forked child and reads its result (bounded). Without findings nothing
/// is forked: the record then says `empty` (evidence was asked for, there was nothing).
pub fn prepare(lines: &[String], limits: Limits) -> Prepared {
    let findings = findings_of(lines);
    if findings.is_empty() {
        return build(&findings, limits);
    }
    let Ok((r, w)) = nix::unistd::pipe() else {
        return failed(&findings, limits, "child_failed");
    };
    match super::sys::fork() {
        Err(_) => failed(&findings, limits, "child_failed"),
        Ok(None) => {
            drop(r);
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let p = build(&findings, limits);
                let mut out = std::io::BufWriter::new(std::fs::File::from(w));
                let ok = writeln!(out, "{}", Record::Evidence(p.record).to_json_line()).is_ok()
                    && out.write_all(&p.zip).is_ok()
                    && out.flush().is_ok();
                if ok {
                    0
                } else {
                    1
                }
            }));
            std::process::exit(code.unwrap_or(3));
        }
        Ok(Some(child)) => {
            drop(w);
            let mut input = std::io::BufReader::new(std::fs::File::from(r));
            let got = read_child(&mut input, limits);
            let status = nix::sys::wait::waitpid(child, None);
            let healthy = matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0)));
            match got {
                Some(p) if healthy => p,
                _ => failed(&findings, limits, "child_failed"),
            }
        }
    }
}

/// Reads the child's line and ZIP, refusing more than the limits allow.
fn read_child(input: &mut impl BufRead, limits: Limits) -> Option<Prepared> {
    let mut line = String::new();
    input.take(MAX_LINE).read_line(&mut line).ok()?;
    let Ok(Record::Evidence(record)) = serde_json::from_str::<Record>(line.trim_end()) else {
        return None;
    };
    let cap = limits.max_total.saturating_add(ZIP_OVERHEAD);
    let mut zip = Vec::new();
    input
        .take(cap.saturating_add(1))
        .read_to_end(&mut zip)
        .ok()?;
    if zip.len() as u64 > cap {
        return None;
    }
    Some(Prepared { record, zip })
}

/// The evidence line to put into the record before it is saved.
pub fn record_line(p: &Prepared) -> String {
    Record::Evidence(p.record.clone()).to_json_line()
}

/// Adds `evidence.zip` to the committed scan folder `folder` (`VIGIE/scans/<name>`), then
/// appends the outcome to its `record.jsonl` (best effort). Returns the outcome record
/// (status `saved`, or `not_saved` with `log_full` / `write_error`). Never touches anything
/// but that folder; with nothing to write (`empty`, or a failed child), writes nothing.
pub fn save_on<S: Store>(
    store: S,
    folder: &str,
    p: &Prepared,
    now: u64,
) -> (EvidenceRecord, Option<S>) {
    let mut outcome = EvidenceRecord {
        items: Vec::new(),
        ..p.record.clone()
    };
    if p.zip.is_empty() {
        return (outcome, Some(store));
    }
    let mut vol = match Vol::open(store, DosTime::from_unix(now)) {
        Ok(v) => v,
        Err(_) => {
            outcome.status = "not_saved".into();
            outcome.notes.push("write_error".into());
            return (outcome, None);
        }
    };
    // Through the scan folder's tap (power-cut safe, see `fatlog`'s `lanes`), else the ordered
    // writer (`unprotected` in the notes).
    let mut protected = true;
    let res = vol.find_dir(folder).and_then(|d| {
        let d = d.ok_or_else(|| FatError::NotFound(folder.into()))?;
        let big = |n: &str| n == BIG_TOKEN;
        if let Outcome::NoToken(_) = save_named(&mut vol, d, ZIP_NAME, &p.zip, &big)? {
            vol.add(d, &Node::File(ZIP_NAME.into(), p.zip.clone()))?;
            protected = false;
        }
        Ok(d)
    });
    let dir = match res {
        Ok(d) => {
            outcome.status = "saved".into();
            if !protected {
                outcome.notes.push("unprotected".into());
            }
            Some(d)
        }
        Err(e) => {
            protected = false;
            outcome.status = "not_saved".into();
            outcome.notes.push(
                if matches!(e, FatError::Full { .. }) {
                    "log_full"
                } else {
                    "write_error"
                }
                .into(),
            );
            vol.find_dir(folder).ok().flatten()
        }
    };
    // The outcome line (without the items, already in the record): into the last cluster's
    // slack (one data write, then the size: power-cut safe), else the record rewritten whole
    // through one of the folder's small tokens and swapped (one sector), else, only when the
    // ZIP itself went through the ordered writer, an ordered append.
    if let Some(d) = dir {
        if let Ok(Some(rec)) = vol.find(d, RECORD_FILE) {
            let line = format!("{}\n", Record::Evidence(outcome.clone()).to_json_line());
            let cluster = vol.cluster_size();
            let used = u64::from(rec.size);
            let slack = used.div_ceil(cluster) * cluster - used;
            if used > 0 && line.len() as u64 <= slack {
                let _ = vol.append(&rec, line.as_bytes());
            } else if let Ok(mut text) = vol.read_file(&rec) {
                text.extend_from_slice(line.as_bytes());
                let second = |n: &str| SMALL_TOKENS.contains(&n);
                match save_named(&mut vol, d, RECORD_FILE, &text, &second) {
                    Ok(Outcome::Saved) | Err(_) => {}
                    Ok(Outcome::NoToken(_)) if !protected => {
                        let _ = vol.append(&rec, line.as_bytes());
                    }
                    Ok(Outcome::NoToken(_)) => {}
                }
            }
        }
    }
    (outcome, Some(vol.into_inner()))
}

/// [`save_on`] on the log partition device (opened read-write by the caller's rules).
pub fn save(dev: &std::path::Path, folder: &str, p: &Prepared, now: u64) -> EvidenceRecord {
    match std::fs::OpenOptions::new().read(true).write(true).open(dev) {
        Ok(f) => save_on(f, folder, p, now).0,
        Err(_) => {
            let mut r = EvidenceRecord {
                items: Vec::new(),
                ..p.record.clone()
            };
            r.status = "not_saved".into();
            r.notes.push("write_error".into());
            r
        }
    }
}

/// The console's sentence for the outcome.
pub fn outcome_line(r: &EvidenceRecord) -> String {
    match r.status.as_str() {
        "saved" => format!(
            "evidence saved: {} ({} copied, {} not copied, password {})",
            r.file, r.copied, r.not_copied, r.password
        ),
        "empty" => "evidence: nothing to copy".into(),
        _ if r.notes.iter().any(|n| n == "log_full") => {
            "evidence NOT saved: log partition full (the record is saved)".into()
        }
        _ => format!(
            "evidence NOT saved ({}); the record is saved",
            r.notes.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests;
