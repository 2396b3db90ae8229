//! What the verdict screen concludes from the scan: red, green or amber (and the quick scan's
//! blue), with what was left out (disks not scanned, skipped files by reason).

use std::collections::BTreeMap;

use super::{App, MachineDisk};
use crate::record::Verdict;

impl App {
    /// Whether the scan was cancelled (by the operator).
    pub fn cancelled(&self) -> bool {
        self.scan.cancelling || self.scan.summary.as_ref().is_some_and(|s| s.cancelled)
    }

    /// Disks present but not scanned (not chosen, or not protected).
    pub fn disks_not_scanned(&self) -> Vec<&MachineDisk> {
        let Some(m) = &self.machine else {
            return Vec::new();
        };
        m.disks
            .iter()
            .enumerate()
            .filter(|(i, d)| !d.protected || (!self.full && self.selected.get(*i) != Some(&true)))
            .map(|(_, d)| d)
            .collect()
    }

    /// The verdict to show: red with any finding; green only when the engine says clean AND
    /// nothing at all was skipped, unreadable, unselected or cancelled; amber otherwise.
    pub fn verdict(&self) -> Verdict {
        let Some(s) = &self.scan.summary else {
            return if self.scan.findings.is_empty() {
                Verdict::Incomplete
            } else {
                Verdict::Infected
            };
        };
        if s.findings > 0 || !self.scan.findings.is_empty() || s.verdict == Verdict::Infected {
            return Verdict::Infected;
        }
        let everything = s.verdict == Verdict::Clean
            && s.skipped == 0
            && s.errors == 0
            && !self.cancelled()
            && self.disks_not_scanned().is_empty()
            && self.scan.disk_notes.is_empty();
        if everything {
            Verdict::Clean
        } else {
            Verdict::Incomplete
        }
    }

    /// The verdict is a quick scan's "no threat in the high-risk areas" (blue), not green.
    pub fn quick_clean(&self) -> bool {
        self.verdict() == Verdict::Clean
            && self.scan.summary.as_ref().is_some_and(|s| s.quick_clean())
    }

    /// Skipped files of all volumes, by reason.
    pub fn skipped_by_reason(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for v in &self.scan.volumes {
            for (k, n) in &v.skipped {
                *m.entry(k.clone()).or_default() += n;
            }
            if v.errors > 0 {
                *m.entry("error".to_string()).or_default() += v.errors;
            }
        }
        m
    }
}
