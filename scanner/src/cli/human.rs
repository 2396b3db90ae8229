//! The human-readable printer: a progress line on stderr when it is a terminal, then the
//! volumes, the findings and the verdict on stdout.

use std::io::{IsTerminal, Write};

use crate::record::{Record, Verdict, VolumeStatus};
use crate::sink::{Progress, Sink};

/// Prints for a person at a terminal.
pub struct HumanSink {
    progress: bool,
    findings: Vec<String>,
    drew_progress: bool,
}

impl Default for HumanSink {
    fn default() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }
}

impl HumanSink {
    /// `progress`: draw a live progress line on stderr.
    pub fn new(progress: bool) -> Self {
        Self {
            progress,
            findings: Vec::new(),
            drew_progress: false,
        }
    }

    fn clear_progress(&mut self) {
        if self.drew_progress {
            eprint!("\r\x1b[K");
            self.drew_progress = false;
        }
    }
}

impl Sink for HumanSink {
    fn record(&mut self, record: &Record) {
        self.clear_progress();
        let mut out = std::io::stdout().lock();
        let _ = match record {
            Record::Persistence(p) => writeln!(
                out,
                "autostart {} {}: {} -> {}{}{}{}",
                p.kind,
                p.source,
                p.command,
                p.target.as_deref().unwrap_or("?"),
                if p.missing { " [missing]" } else { "" },
                if p.user_writable {
                    " [user-writable]"
                } else {
                    ""
                },
                if p.matched.is_empty() {
                    String::new()
                } else {
                    format!(" [matched: {}]", p.matched.join(", "))
                }
            ),
            // Evidence ZIP (issue 14).
            Record::Evidence(e) => {
                for l in crate::evidence::report_lines(e) {
                    let _ = writeln!(out, "{l}");
                }
                Ok(())
            }
            Record::Host(h) => writeln!(
                out,
                "scan {} by scanner {}, rules {} ({} rules)",
                h.scan_id, h.scanner_version, h.rules.version, h.rules.rules
            ),
            Record::Disk(d) => {
                let r = writeln!(
                    out,
                    "disk {}: {} bytes, partition table: {}",
                    d.disk,
                    d.size,
                    d.table.as_str()
                );
                for n in &d.notes {
                    let _ = writeln!(out, "  note: {n}");
                }
                r
            }
            Record::Volume(v) => {
                let skipped: Vec<String> =
                    v.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
                let r = writeln!(
                    out,
                    "  volume {} ({}{}): {}, {} files, {} scanned, {} skipped{}, {} errors",
                    v.volume,
                    v.fs.as_str(),
                    v.label
                        .as_deref()
                        .map(|l| format!(" \"{l}\""))
                        .unwrap_or_default(),
                    v.status.as_str(),
                    v.files,
                    v.scanned,
                    v.skipped.values().sum::<u64>(),
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", skipped.join(", "))
                    },
                    v.errors,
                );
                if v.status != VolumeStatus::Scanned {
                    for n in v.notes.iter().take(5) {
                        let _ = writeln!(out, "    note: {n}");
                    }
                }
                r
            }
            Record::Finding(f) => {
                let line = format!(
                    "{}{} [{}] {}:{} sha256={}",
                    f.volume
                        .map(|v| format!("volume {v}: "))
                        .unwrap_or_default(),
                    f.location(),
                    if f.kind == crate::record::FindingKind::Hash {
                        "hash"
                    } else {
                        "yara"
                    },
                    f.namespace,
                    f.rule,
                    f.sha256,
                );
                let r = writeln!(out, "  FOUND {line}");
                self.findings.push(line);
                r
            }
            Record::Summary(s) => {
                let word = match s.verdict {
                    Verdict::Infected => "THREATS FOUND",
                    Verdict::Incomplete => {
                        "INCOMPLETE (nothing found, but not everything could be scanned)"
                    }
                    Verdict::Clean if s.quick_clean() => {
                        "QUICK SCAN: no threat in the high-risk areas (not a full scan)"
                    }
                    Verdict::Clean => "CLEAN",
                };
                let _ = writeln!(
                    out,
                    "\n{} files, {} scanned, {} skipped, {} errors, {} bytes in {:.1} s",
                    s.files, s.scanned, s.skipped, s.errors, s.bytes, s.seconds
                );
                if s.mode == crate::record::ScanMode::Quick {
                    let _ = writeln!(
                        out,
                        "quick scan: {} files read, {} not read (outside the high-risk areas \
                         or not executable content)",
                        s.files, s.not_selected
                    );
                }
                for f in &self.findings {
                    let _ = writeln!(out, "  threat: {f}");
                }
                writeln!(
                    out,
                    "verdict: {word}{}",
                    if s.cancelled { " (cancelled)" } else { "" }
                )
            }
        };
    }

    fn progress(&mut self, p: &Progress) {
        if !self.progress {
            return;
        }
        let mut path = p.path.clone();
        if path.chars().count() > 50 {
            let tail: String = path
                .chars()
                .rev()
                .take(47)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            path = format!("...{tail}");
        }
        eprint!(
            "\r\x1b[K{} files, {} MiB, {} found, {} not scanned  {}",
            p.files,
            p.bytes >> 20,
            p.findings,
            p.skipped,
            path
        );
        let _ = std::io::stderr().flush();
        self.drew_progress = true;
    }
}
