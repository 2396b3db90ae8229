//! exFAT walker, written here (no crate reads exFAT safely; see `crate-notes.md`).
//!
//! Removable media, SD cards and the external drives of biomedical devices are exFAT. The
//! reader is read-only and treats every byte as hostile, in four small layers:
//!
//! - [`boot`]: the boot sector and the boot region's checksum, with the backup region as
//!   fallback; every geometry field range-checked before use.
//! - [`alloc`]: FAT links, contiguous (`NoFatChain`) runs, the allocation bitmap, and the set
//!   of clusters already read in this walk (a cluster read twice is a loop or a cross-link).
//! - [`dir`]: directory entry sets (File, Stream Extension, File Name) checked by their
//!   SetChecksum, read a chunk at a time.
//! - [`content`]: a file's clusters up to `ValidDataLength`, zeros after it.
//! - [`mapped`]: the same bytes as a random-access device, for files of 1 MiB and more (a
//!   large ISO or disk image is opened in place through it).
//!
//! Nothing is allocated by a size read from disk: chains are walked as far as their owner's
//! size (capped by the cluster count), directories are streamed, the one buffer sized by the
//! volume (the allocation bitmap) is capped.

mod alloc;
mod boot;
mod content;
mod dir;
mod mapped;
#[cfg(test)]
mod tests;

use std::ops::ControlFlow;
use std::sync::Arc;

use self::alloc::Clusters;
use self::dir::{Extent, Item};
use crate::fs::runmap::MAPPED_MIN;
use crate::fs::{
    guard, join_path, Content, FileMeta, FsError, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device};

/// Deepest directory nesting walked.
pub const MAX_DEPTH: usize = 128;
/// Most entries taken from the whole volume.
pub const MAX_TOTAL_ENTRIES: u64 = 20_000_000;
/// Metadata cache (FAT and directory blocks).
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// An exFAT volume opened read-only.
pub struct ExfatWalker {
    vol: Clusters,
    info: VolumeInfo,
}

/// Opens the exFAT volume that `dev` covers exactly.
pub fn open(dev: Device) -> Result<ExfatWalker, FsError> {
    let region = boot::read(dev.as_ref())?;
    let geo = region.geometry;
    let mut notes = region.notes;
    if geo.dirty() {
        notes.push("volume was not cleanly unmounted (VolumeDirty flag set)".to_string());
    }
    if geo.media_failure() {
        notes.push("volume reports media failures (MediaFailure flag set)".to_string());
    }
    let stated = geo.volume_length.saturating_mul(geo.bytes_per_sector);
    let heap_end = geo
        .heap_offset
        .saturating_add(geo.cluster_count.saturating_mul(geo.cluster_size));
    if stated > dev.size() || heap_end > dev.size() {
        notes.push(format!(
            "volume states {} bytes but the device holds {}: files beyond its end are unreadable",
            stated.max(heap_end),
            dev.size()
        ));
    }
    let meta: Device = Arc::new(BlockCache::new(dev.clone(), CACHE_BYTES));
    let vol = Clusters::new(geo, meta, dev);

    // The root holds the label and the allocation bitmap's entry.
    let mut label = None;
    let mut bitmap = None;
    let listed = guard(|| {
        dir::list(&vol, Extent::Root(geo.root_cluster), &mut |item| {
            match item {
                Item::Label(l) if label.is_none() => label = Some(l),
                Item::Bitmap {
                    first_cluster,
                    len,
                    second: false,
                } if bitmap.is_none() => bitmap = Some((first_cluster, len)),
                _ => {}
            }
            ControlFlow::Continue(())
        })
    });
    vol.reset_claims();
    match listed {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => notes.push(format!("root directory: {e}")),
        Err(p) => notes.push(format!("reader crashed on the root directory: {p}")),
    }
    match bitmap {
        None => notes.push("no allocation bitmap entry in the root directory".to_string()),
        Some((first, len)) => match vol.load_bitmap(first, len) {
            Ok(Some(map)) => {
                if !alloc::allocated(&map, geo.root_cluster) {
                    notes.push(
                        "allocation bitmap marks the root directory's cluster free".to_string(),
                    );
                }
            }
            Ok(None) => {}
            Err(e) => notes.push(e),
        },
    }
    Ok(ExfatWalker {
        vol,
        info: VolumeInfo {
            label: label
                .map(|l| l.trim_end().to_string())
                .filter(|l| !l.is_empty()),
            notes,
            degraded: false,
        },
    })
}

impl ExfatWalker {
    /// Serial number from the boot sector.
    pub fn serial(&self) -> u32 {
        self.vol.geo.serial
    }
}

fn error(visitor: &mut dyn Visitor, path: &str, msg: String) -> ControlFlow<()> {
    let meta = FileMeta {
        path: path.to_string(),
        ..FileMeta::default()
    };
    visitor.visit(&meta, Content::Error(msg))
}

impl Walker for ExfatWalker {
    fn info(&self) -> VolumeInfo {
        self.info.clone()
    }

    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        let vol = &self.vol;
        vol.reset_claims();
        let mut stack = vec![("/".to_string(), 0usize, Extent::Root(vol.geo.root_cluster))];
        let mut total: u64 = 0;
        while let Some((dir_path, depth, extent)) = stack.pop() {
            let mut subdirs = Vec::new();
            let mut stop = false;
            let listed = guard(|| {
                dir::list(vol, extent, &mut |item| {
                    total += 1;
                    if total > MAX_TOTAL_ENTRIES {
                        stop = true;
                        return ControlFlow::Break(());
                    }
                    match item {
                        Item::Entry(e) => {
                            let path = join_path(&dir_path, &e.name);
                            if e.directory {
                                if depth + 1 > MAX_DEPTH {
                                    let msg = format!("deeper than {MAX_DEPTH} levels: not walked");
                                    return error(visitor, &path, msg);
                                }
                                subdirs.push((
                                    path,
                                    depth + 1,
                                    Extent::Sub {
                                        first: e.first_cluster,
                                        size: e.size,
                                        contiguous: e.contiguous,
                                    },
                                ));
                                return ControlFlow::Continue(());
                            }
                            let meta = FileMeta {
                                path,
                                stream: None,
                                size: e.size,
                                modified: e.modified,
                            };
                            match content::FileReader::new(vol, &e) {
                                Ok(mut r) if e.size >= MAPPED_MIN => {
                                    // Large files: also offered as a device (see `mapped`).
                                    let device = || mapped::device(vol, &e).ok();
                                    visitor.visit_mapped(&meta, Content::Data(&mut r), &device)
                                }
                                Ok(mut r) => visitor.visit(&meta, Content::Data(&mut r)),
                                Err(msg) => visitor.visit(&meta, Content::Error(msg)),
                            }
                        }
                        Item::Damaged {
                            index,
                            name,
                            reason,
                        } => {
                            let shown = name.unwrap_or_else(|| format!("<entry {index}>"));
                            error(
                                visitor,
                                &join_path(&dir_path, &shown),
                                format!("damaged directory entry set: {reason}"),
                            )
                        }
                        Item::Label(_) | Item::Bitmap { .. } => ControlFlow::Continue(()),
                    }
                })
            });
            let flow = match listed {
                Ok(Ok(flow)) => flow,
                Ok(Err(msg)) => error(visitor, &dir_path, msg),
                Err(p) => error(visitor, &dir_path, format!("reader crashed: {p}")),
            };
            if stop {
                let msg =
                    format!("more than {MAX_TOTAL_ENTRIES} entries on the volume: walk stopped");
                if error(visitor, &dir_path, msg).is_break() {
                    return Ok(WalkEnd::Cancelled);
                }
                return Ok(WalkEnd::Complete);
            }
            if flow.is_break() {
                return Ok(WalkEnd::Cancelled);
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(WalkEnd::Complete)
    }
}
