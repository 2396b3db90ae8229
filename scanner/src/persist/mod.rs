//! The persistence report: what starts automatically on the scanned systems, read offline.
//!
//! A threat that survives a reboot writes itself somewhere the system runs at start: registry
//! `Run` keys, services and drivers, `Image File Execution Options` debuggers, scheduled
//! tasks, Startup folders, systemd units, cron, `rc.local`, `ld.so.preload`, shell profiles.
//! This module walks each volume once more through the same read-only readers as the scan
//! (it never mounts and never writes), reads those few places, and turns each entry into a
//! [`PersistenceRecord`]: where it was found, what it runs, the file on the volume and whether
//! it exists, and marks for user-writable places and missing files. Entries whose target
//! matched a rule or an IOC in this scan get the match (joined by path).
//!
//! Everything is hostile: reads are bounded per file and per volume, entries capped, and every
//! parser runs under a panic guard (the whole walk too).

pub mod hive;
pub mod resolve;
pub mod text;
mod volume;
#[cfg(feature = "engine")]
pub(crate) use volume::volume_spans;

use std::collections::HashSet;
#[cfg(feature = "engine")]
use std::path::PathBuf;

use crate::record::{FindingRecord, PersistenceRecord, Record};
use crate::sink::{Progress, Sink};

pub use volume::from_walker;
#[cfg(feature = "engine")]
pub use volume::report_targets;

/// Most entries reported for one volume.
pub const MAX_ENTRIES: usize = 10_000;

/// A value or line as a record keeps it: control characters dropped, at most 2,048
/// characters, trimmed (hive values and text files alike).
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(2048)
        .collect::<String>()
        .trim()
        .to_string()
}

/// One entry as read from its source, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// Stable code (see [`PersistenceRecord::kind`]).
    pub kind: &'static str,
    /// Where inside the file (`Key\Path|Value`, `line 3`), empty for whole files.
    pub source: String,
    /// The command or path as written.
    pub command: String,
    /// Service start type.
    pub start: Option<u32>,
}

/// The files seen on a volume, for "does the target exist": a 64-bit hash of each lower-case
/// path (a million files cost ~16 MiB, not the paths themselves).
#[derive(Debug, Default)]
pub struct Seen(HashSet<u64>);

fn path_hash(path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    path.to_ascii_lowercase().hash(&mut h);
    h.finish()
}

impl Seen {
    /// Most paths remembered (beyond, existence is unknown rather than wrong).
    pub const MAX: usize = 4_000_000;

    /// Remembers a path.
    pub fn add(&mut self, path: &str) -> bool {
        if self.0.len() >= Self::MAX {
            return false;
        }
        self.0.insert(path_hash(path));
        true
    }

    /// Whether the path was seen (case-insensitive).
    pub fn has(&self, path: &str) -> bool {
        self.0.contains(&path_hash(path))
    }

    /// Whether the set is complete (not capped).
    pub fn complete(&self) -> bool {
        self.0.len() < Self::MAX
    }
}

/// The file an entry runs, resolved on the volume: (volume path, exists).
fn resolve_target(
    raw: &Raw,
    windows: bool,
    profile: Option<&str>,
    seen: &Seen,
) -> Option<(String, bool)> {
    if windows {
        let prog = resolve::windows_program(&raw.command)?;
        if let Some(p) = resolve::windows_to_volume(&prog, profile) {
            let exists = seen.has(&p);
            return Some((p, exists));
        }
        let cands = resolve::windows_search(&prog);
        let found = cands.iter().find(|c| seen.has(c)).cloned();
        match found {
            Some(p) => Some((p, true)),
            None => cands.into_iter().next().map(|p| (p, false)),
        }
    } else {
        let p = resolve::unix_program(&raw.command)?;
        if seen.has(&p) {
            return Some((p, true));
        }
        // Merged /usr: /bin, /sbin and /lib are symlinks the walker does not report.
        let merged = ["/bin/", "/sbin/", "/lib/", "/lib64/"]
            .iter()
            .any(|d| p.starts_with(d))
            .then(|| format!("/usr{p}"));
        match merged {
            Some(m) if seen.has(&m) => Some((m, true)),
            _ => Some((p, false)),
        }
    }
}

/// Turns raw entries of one file into records.
#[allow(clippy::too_many_arguments)]
pub fn records(
    disk: &str,
    volume: Option<u32>,
    file: &str,
    raws: Vec<Raw>,
    windows: bool,
    profile: Option<&str>,
    seen: &Seen,
    notes: &[String],
) -> Vec<PersistenceRecord> {
    raws.into_iter()
        .map(|r| {
            let resolved = resolve_target(&r, windows, profile, seen);
            let known = seen.complete();
            let (target, exists) = match resolved {
                Some((p, e)) => (Some(p), (e || known).then_some(e)),
                None => (None, None),
            };
            let source = if r.source.is_empty() {
                file.to_string()
            } else {
                format!("{file}|{}", r.source)
            };
            PersistenceRecord {
                disk: disk.to_string(),
                volume,
                kind: r.kind.to_string(),
                source,
                user_writable: target.as_deref().is_some_and(resolve::user_writable),
                missing: exists == Some(false),
                command: r.command,
                target,
                exists,
                start: r.start,
                matched: Vec::new(),
                sha256: None,
                notes: notes.to_vec(),
            }
        })
        .collect()
}

/// Adds to each entry the rules/IOCs its target matched in this scan (same disk, volume and
/// path, case-insensitive).
pub fn join_findings(entries: &mut [PersistenceRecord], findings: &[FindingRecord]) {
    for e in entries {
        let Some(t) = &e.target else { continue };
        for f in findings {
            if f.disk == e.disk && f.volume == e.volume && f.path.eq_ignore_ascii_case(t) {
                if !e.matched.contains(&f.rule) {
                    e.matched.push(f.rule.clone());
                }
                e.sha256.get_or_insert_with(|| f.sha256.clone());
            }
        }
    }
}

/// A sink that passes every record on and keeps the findings, for [`join_findings`].
pub struct Tee<'a> {
    /// Where records go.
    pub inner: &'a mut dyn Sink,
    /// The findings seen so far.
    pub findings: Vec<FindingRecord>,
}

impl Sink for Tee<'_> {
    fn record(&mut self, record: &Record) {
        if let Record::Finding(f) = record {
            if self.findings.len() < 100_000 {
                self.findings.push(f.clone());
            }
        }
        self.inner.record(record);
    }
    fn progress(&mut self, p: &Progress) {
        self.inner.progress(p);
    }
}

/// Reads the autostart entries of every volume of `targets` and sends them to `sink`, joined
/// to `findings`. Returns how many were sent.
#[cfg(feature = "engine")]
pub fn report(targets: &[PathBuf], findings: &[FindingRecord], sink: &mut dyn Sink) -> usize {
    let mut entries = report_targets(targets);
    join_findings(&mut entries, findings);
    for e in &entries {
        sink.record(&Record::Persistence(e.clone()));
    }
    entries.len()
}

#[cfg(test)]
mod tests;
