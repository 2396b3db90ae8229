//! The engine's side of the quick scan (the choice itself is `scan::quick`): per volume, the
//! autostart entries are read first (one walk through [`crate::persist`]), their targets are
//! scanned in a walk of their own, then the main walk reads the risky content of the
//! high-risk areas. Files the quick scan does not read are counted (`not_selected`), never
//! silently dropped. A file's first bytes are read once to sniff its type; the scan goes on
//! from those bytes (nothing is read twice).

use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::ops::ControlFlow;

use super::{open_walker, read_up_to, Outcome, Run};
use crate::fs::{guard, Content, FileMeta};
use crate::io::Device;
use crate::record::FsKind;
use crate::scan::quick::{self, VolumePlan};

/// A volume's quick-scan state during its walks.
pub(super) struct QuickVolume {
    plan: VolumePlan,
    /// Autostart targets already scanned (lower-case paths), skipped by the main walk.
    done: HashSet<String>,
}

impl Run<'_, '_> {
    /// Reads the volume's autostart entries and scans their targets (steps 2 of the quick
    /// scan; the boot areas were read before). Never panics.
    pub(super) fn quick_targets(&mut self, slot: usize, fs: FsKind, dev: &Device) -> QuickVolume {
        let (disk, volume) = (self.slots[slot].disk.clone(), self.slots[slot].volume);
        let entries = match guard(|| open_walker(fs, dev.clone())) {
            Ok(Ok(mut w)) => crate::persist::from_walker(w.as_mut(), &disk, volume),
            _ => Vec::new(),
        };
        let whole = matches!(
            fs,
            FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 | FsKind::Exfat
        );
        let mut q = QuickVolume {
            plan: VolumePlan::new(&entries, whole),
            done: HashSet::new(),
        };
        if q.plan.targets.is_empty() {
            return q;
        }
        if let Ok(Ok(mut w)) = guard(|| open_walker(fs, dev.clone())) {
            let _ = guard(|| {
                w.walk(&mut |meta: &FileMeta, content: Content<'_>| {
                    if meta.stream.is_some() || !q.plan.is_target(&meta.path) {
                        return ControlFlow::Continue(());
                    }
                    q.done.insert(meta.path.to_ascii_lowercase());
                    self.visit(slot, meta, content)
                })
            });
        }
        q
    }

    /// The main walk's visitor in a quick scan: risky content in the high-risk areas.
    pub(super) fn visit_quick(
        &mut self,
        slot: usize,
        q: &QuickVolume,
        meta: &FileMeta,
        content: Content<'_>,
    ) -> ControlFlow<()> {
        if self.cancelled() {
            return ControlFlow::Break(());
        }
        if meta.stream.is_none() && q.done.contains(&meta.path.to_ascii_lowercase()) {
            return ControlFlow::Continue(()); // scanned as an autostart target
        }
        if !(q.plan.whole || quick::in_risk_area(&meta.path)) {
            self.slots[slot].not_selected += 1;
            self.report_progress(slot, &meta.path, meta.stream.as_deref());
            return ControlFlow::Continue(());
        }
        let Content::Data(reader) = content else {
            // Unreadable in a high-risk area: counted as a full scan counts it.
            return self.visit(slot, meta, content);
        };
        let mut prefix = Vec::new();
        if let Err(e) = read_up_to(reader, &mut prefix, quick::SNIFF as u64, meta.size) {
            self.slots[slot].account(&meta.path, &Outcome::Error(e.to_string()), 0);
            return ControlFlow::Continue(());
        }
        if quick::wants_iso_probe(&prefix, meta.size) {
            let more = read_up_to(reader, &mut prefix, quick::ISO_PROBE as u64, meta.size);
            if let Err(e) = more {
                self.slots[slot].account(&meta.path, &Outcome::Error(e.to_string()), 0);
                return ControlFlow::Continue(());
            }
        }
        let name = meta.path.rsplit('/').next().unwrap_or("");
        if quick::sniff(name, &prefix).is_none() {
            self.slots[slot].not_selected += 1;
            return ControlFlow::Continue(());
        }
        let mut rest = Cursor::new(prefix).chain(reader);
        self.visit(slot, meta, Content::Data(&mut rest))
    }
}
