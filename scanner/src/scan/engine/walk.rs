//! The engine's side of one volume's filesystem: opening its walker (or saying why a volume
//! cannot be read and whether that matters), walking it, and the visitor that turns each file
//! the walker hands out into a scan job.

use std::ops::ControlFlow;

use super::quick::QuickVolume;
use super::{negligible, open_walker, within_mbr_area, Outcome, Run, RAW_VOLUME_LIMIT};
use crate::disk::table::Partition;
use crate::fs::{
    guard, Content, FileMeta, FsError, SkipReason, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{Device, ReadAt};
use crate::record::{FsKind, VolumeStatus};

impl Run<'_, '_> {
    pub(super) fn unreadable_volume(
        &mut self,
        slot: usize,
        fs: FsKind,
        part: &Partition,
        dev: &Device,
    ) -> VolumeStatus {
        let note = match fs {
            FsKind::Swap => "Linux swap: not a filesystem, not scanned".to_string(),
            FsKind::Lvm => "LVM physical volume: logical volumes not scanned".to_string(),
            FsKind::Raid => "Linux RAID member: not scanned".to_string(),
            _ if negligible(fs, part, dev) => {
                "no filesystem (reserved or empty partition)".to_string()
            }
            _ => "unrecognised content: not scanned".to_string(),
        };
        self.slots[slot].notes.push(note);
        if fs == FsKind::Unknown && dev.size() <= RAW_VOLUME_LIMIT && self.engine.opts.boot_areas {
            // Small raw partitions (BIOS boot, vendor areas) are scanned as plain data.
            let area = self.new_slot(
                &self.slots[slot].disk.clone(),
                self.slots[slot].volume,
                false,
            );
            if !within_mbr_area(part.start, dev.size()) {
                self.scan_area(area, dev, RAW_VOLUME_LIMIT, "<raw volume>");
            }
            self.wait_slot(area);
        }
        VolumeStatus::Unsupported
    }

    pub(super) fn walk_volume(
        &mut self,
        slot: usize,
        fs: FsKind,
        dev: Device,
        info: &mut VolumeInfo,
    ) -> VolumeStatus {
        let opened: Result<Result<Box<dyn Walker>, FsError>, String> =
            guard(|| open_walker(fs, dev.clone()));
        let mut walker = match opened {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                self.slots[slot]
                    .notes
                    .push(format!("cannot read the filesystem: {e}"));
                return match e {
                    FsError::Unsupported { .. } => VolumeStatus::Unsupported,
                    _ => VolumeStatus::Error,
                };
            }
            Err(p) => {
                self.slots[slot]
                    .notes
                    .push(format!("filesystem reader crashed while opening: {p}"));
                return VolumeStatus::Error;
            }
        };
        *info = guard(|| walker.info()).unwrap_or_default();
        let quick = self
            .engine
            .opts
            .quick
            .then(|| self.quick_targets(slot, fs, &dev));
        let walked = guard(|| {
            walker.walk(&mut VolumeVisit {
                run: self,
                slot,
                quick: quick.as_ref(),
            })
        });
        // Notes learnt during the walk (e.g. NTFS records no directory lists).
        if let Ok(after) = guard(|| walker.info()) {
            *info = after;
        }
        match walked {
            Ok(Ok(WalkEnd::Complete)) => VolumeStatus::Scanned,
            Ok(Ok(WalkEnd::Cancelled)) => VolumeStatus::Partial,
            Ok(Err(e)) => {
                self.slots[slot].notes.push(format!("walk stopped: {e}"));
                if self.slots[slot].files > 0 {
                    VolumeStatus::Partial
                } else {
                    VolumeStatus::Error
                }
            }
            Err(p) => {
                self.slots[slot]
                    .notes
                    .push(format!("filesystem reader crashed, walk stopped: {p}"));
                if self.slots[slot].files > 0 {
                    VolumeStatus::Partial
                } else {
                    VolumeStatus::Error
                }
            }
        }
    }

    pub(super) fn visit(
        &mut self,
        slot: usize,
        meta: &FileMeta,
        content: Content<'_>,
    ) -> ControlFlow<()> {
        self.visit_with(slot, meta, content, None)
    }

    /// [`Run::visit`], with the device the walker maps onto the file's extents, if any.
    fn visit_with(
        &mut self,
        slot: usize,
        meta: &FileMeta,
        content: Content<'_>,
        mapped: Option<&dyn Fn() -> Option<Device>>,
    ) -> ControlFlow<()> {
        if self.cancelled() {
            return ControlFlow::Break(());
        }
        self.drain(false);
        match content {
            Content::Skipped(reason) => {
                self.slots[slot].account(&meta.path, &Outcome::Skipped(reason), 0)
            }
            Content::Error(e) => self.slots[slot].account(&meta.path, &Outcome::Error(e), 0),
            Content::Data(reader) => {
                if meta.size > self.engine.opts.max_file_size && self.engine.opts.skip_larger {
                    self.slots[slot].account(
                        &meta.path,
                        &Outcome::Skipped(SkipReason::TooLarge),
                        0,
                    );
                } else {
                    if meta.size > self.engine.opts.max_file_size {
                        self.nest.in_place = mapped.is_some();
                        self.scan_blocks(slot, &meta.path, meta.stream.clone(), reader, Vec::new());
                        self.nest.in_place = false;
                        if let (Some(kind), Some(m)) = (self.nest.in_place_kind.take(), mapped) {
                            self.expand_in_place(slot, &meta.path, &meta.stream, kind, m);
                        }
                    } else {
                        self.scan_content(slot, &meta.path, meta.stream.clone(), reader, meta.size);
                    }
                }
            }
        }
        self.report_progress(slot, &meta.path, meta.stream.as_deref());
        ControlFlow::Continue(())
    }
}

/// The visitor of a volume's main walk: full or quick scan, and for a full scan the mapped
/// device of a large file, so that a container too large for memory opens in place.
struct VolumeVisit<'a, 'e, 's> {
    run: &'a mut Run<'e, 's>,
    slot: usize,
    quick: Option<&'a QuickVolume>,
}

impl Visitor for VolumeVisit<'_, '_, '_> {
    fn visit(&mut self, meta: &FileMeta, content: Content<'_>) -> ControlFlow<()> {
        match self.quick {
            Some(q) => self.run.visit_quick(self.slot, q, meta, content),
            None => self.run.visit(self.slot, meta, content),
        }
    }

    fn visit_mapped(
        &mut self,
        meta: &FileMeta,
        content: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        match self.quick {
            Some(q) => self.run.visit_quick(self.slot, q, meta, content),
            None => self.run.visit_with(self.slot, meta, content, Some(mapped)),
        }
    }
}
