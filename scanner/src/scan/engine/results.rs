//! What comes back from the workers: findings and accounting of each finished job, the
//! in-flight byte budget and waits, progress reports, and the summary at the end of a run.

use std::time::{Duration, Instant};

use super::{Run, Totals};
use crate::record::{FindingKind, FindingRecord, Record, SummaryRecord, Verdict};
use crate::scan::rules::hex;
use crate::scan::worker::{Done, Outcome};

impl Run<'_, '_> {
    pub(super) fn complete(&mut self, done: Done) {
        if !done.hits.is_empty() || done.ioc.is_some() {
            self.record_findings(&done);
        }
        let slot = &mut self.slots[done.slot];
        if done.member.is_some() {
            slot.account_member(&done.outcome, done.bytes);
        } else {
            slot.account(&done.path, &done.outcome, done.bytes);
        }
        if slot.counts_files {
            self.progress.files += 1;
            self.progress.bytes += done.bytes;
            if done.outcome != Outcome::Scanned {
                self.progress.skipped += 1;
            }
        }
        self.pool.give(done.data);
    }

    /// The finding records of one finished job (rule matches, then the hash indicator).
    fn record_findings(&mut self, done: &Done) {
        let slot = &self.slots[done.slot];
        let (disk, volume) = (slot.disk.clone(), slot.volume);
        let digest = done.sha256.map(|d| hex(&d)).unwrap_or_default();
        let mode = if done.blocks { "blocks" } else { "full" };
        let mut findings: Vec<FindingRecord> = done
            .hits
            .iter()
            .map(|(rule, namespace)| FindingRecord {
                disk: disk.clone(),
                volume,
                path: done.path.clone(),
                stream: done.stream.clone(),
                kind: FindingKind::Yara,
                rule: rule.clone(),
                namespace: namespace.clone(),
                sha256: digest.clone(),
                size: done.bytes,
                mode: mode.to_string(),
                member: done.member.clone(),
            })
            .collect();
        if let Some(ioc) = &done.ioc {
            findings.push(FindingRecord {
                disk,
                volume,
                path: done.path.clone(),
                stream: done.stream.clone(),
                kind: FindingKind::Hash,
                rule: ioc.name.clone(),
                namespace: ioc.list.clone(),
                sha256: digest,
                size: done.bytes,
                mode: mode.to_string(),
                member: done.member.clone(),
            });
        }
        for f in findings {
            self.findings += 1;
            self.progress.findings = self.findings;
            self.sink.record(&Record::Finding(f));
        }
    }

    /// Handles one worker result (blocking when `block`), or all that are ready.
    /// Before blocking, the queued batch is sent: the wait may be for one of its jobs.
    pub(super) fn drain(&mut self, block: bool) {
        if block && self.in_flight > 0 {
            self.flush();
            if let Ok(batch) = self.done.recv() {
                for d in batch {
                    self.finish_job(d);
                }
            }
        }
        while let Ok(batch) = self.done.try_recv() {
            for d in batch {
                self.finish_job(d);
            }
        }
    }

    pub(super) fn finish_job(&mut self, d: Done) {
        self.in_flight -= 1;
        self.in_flight_bytes -= d.data.len() as u64;
        self.slots[d.slot].pending -= 1;
        self.complete(d);
    }

    /// Waits until `want` more bytes fit in the in-flight budget.
    pub(super) fn wait_budget(&mut self, want: u64) {
        while self.in_flight > 0 && self.in_flight_bytes + want > self.budget {
            self.drain(true);
        }
    }

    /// Waits until every job of a slot is done (before its record is written).
    pub(super) fn wait_slot(&mut self, slot: usize) {
        while self.slots[slot].pending > 0 && self.in_flight > 0 {
            self.drain(true);
        }
    }

    pub(super) fn report_progress(&mut self, slot: usize, path: &str, stream: Option<&str>) {
        if self.last_progress.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last_progress = Instant::now();
        self.progress.disk.clone_from(&self.slots[slot].disk);
        self.progress.volume = self.slots[slot].volume;
        path.clone_into(&mut self.progress.path);
        // Where the scan is, as a finding there would say it: `file:stream`, `//member`.
        self.progress.stream = stream.map(str::to_string);
        self.progress.member = self.nest.member();
        self.sink.progress(&self.progress);
    }

    pub(super) fn finish(mut self, started: Instant) -> SummaryRecord {
        while self.in_flight > 0 {
            self.drain(true);
        }
        self.jobs = None;
        let Totals {
            files,
            scanned,
            bytes,
            skipped,
            errors,
            members,
            not_selected,
        } = std::mem::take(&mut self.totals);
        let verdict = if self.findings > 0 {
            Verdict::Infected
        } else if self.incomplete
            || self.cancelled
            || skipped > 0
            || errors > 0
            || members.incomplete()
        {
            Verdict::Incomplete
        } else {
            Verdict::Clean
        };
        let summary = SummaryRecord {
            verdict,
            files,
            scanned,
            findings: self.findings,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            skipped,
            errors,
            cancelled: self.cancelled,
            members,
            mode: if self.engine.opts.quick {
                crate::record::ScanMode::Quick
            } else {
                crate::record::ScanMode::Full
            },
            not_selected,
        };
        self.sink.record(&Record::Summary(summary.clone()));
        summary
    }
}
