//! The sweep of the inode bitmaps for in-use inodes that no directory entry reaches.
//!
//! A file whose directory entry was removed (`debugfs unlink`, a crash, corruption, or on
//! purpose: a classic place to hide something) keeps its inode and its data; a directory
//! walk never sees it. After the walk, every group's inode bitmap is read (groups flagged
//! `INODE_UNINIT` and the `bg_itable_unused` tail skipped where `uninit_bg` or
//! `metadata_csum` make those fields meaningful, as the kernel does; `BLOCK_UNINIT` is about
//! blocks, not inodes, and changes nothing here; nothing past `s_inodes_count`), and every
//! inode marked in use that the walk did not reach is read:
//! - a directory with links is walked like any other, as `/<orphan>/<inode number>` (only
//!   the top ones: a detached directory whose `..` is itself such a directory is walked from
//!   its parent, so its files get their names);
//! - a regular file with links is scanned as `/<orphan>/<inode number>`;
//! - a regular file with no link left (`links_count` 0: deleted while still open, on the
//!   orphan list, which the kernel frees at the next mount) is deleted content: counted in
//!   a note, not scanned. `i_dtime` is not looked at: on an in-use inode with links it is a
//!   leftover that e2fsck clears while keeping the file, so such a file is scanned;
//! - reserved inodes (below `s_first_ino`), those the superblock names for itself (journal,
//!   quota, snapshot, orphan file) and `ea_inode` attribute values are not files of the
//!   user: left out; so are fscrypt inodes (the walk reports their directory as encrypted and
//!   skips it on purpose; their content cannot be read anyway).
//!
//! What the walk reached is kept in an [`InodeSet`](super::reached::InodeSet): a bitmap in 512-byte chunks allocated
//! when first touched, so its size follows the reached inodes (one bit each, about
//! `inodes_count / 8` bytes on a full volume), never a number read from the disk. The volume's
//! notes say how many inodes were found and what could not be checked.

use std::ops::ControlFlow;

use super::data::Runs;
use super::inode::{Inode, FLAG_EA_INODE, FLAG_ENCRYPT, FLAG_INLINE_DATA};
use super::reached::MAX_FOUND;
use super::superblock::{le16, le32, BG_INODE_UNINIT};
use super::{guard, DirJob, Pending, Walk};
use crate::io::ReadAt;

/// The parent a directory's `..` names (or an inline directory's first four bytes).
fn parent_of(walk: &Walk<'_, '_>, inode: &Inode) -> Option<u64> {
    let (sb, dev) = (&walk.w.sb, &walk.w.dev);
    let mut runs = Runs::new(sb, dev, inode).ok()?;
    if inode.has(FLAG_INLINE_DATA) {
        let data = runs.inline()?;
        return (data.len() >= 4).then(|| u64::from(le32(data, 0)));
    }
    let run = runs.next_from(0).ok()??;
    let phys = run.phys?;
    if run.logical != 0 {
        return None;
    }
    let mut head = [0u8; 24];
    dev.read_exact_at(phys.checked_mul(sb.block_size)?, &mut head)
        .ok()?;
    // "." first (record length at 4), then "..".
    let at = usize::from(le16(&head, 4));
    (at == 12).then(|| u64::from(le32(&head, 12)))
}

impl Walk<'_, '_> {
    /// Finds and scans the in-use inodes the walk did not reach.
    pub(super) fn sweep(&mut self) -> ControlFlow<()> {
        let w = self.w;
        let (sb, dev) = (&w.sb, &w.dev);
        let mut files: Vec<u64> = Vec::new();
        let mut dirs: Vec<u64> = Vec::new();
        let per_group = sb.inodes_per_group;
        let mut bitmap = vec![0u8; usize::try_from(sb.block_size).unwrap_or(4096)];
        'groups: for g in 0..sb.groups {
            let Some(first) = g.checked_mul(per_group).map(|n| n + 1) else {
                break;
            };
            if first > sb.inodes_count {
                break;
            }
            let group = match sb.group(dev.as_ref(), g) {
                Ok(d) => d,
                Err(_) => {
                    self.sweep.bad_groups += 1;
                    continue;
                }
            };
            let mut count = per_group.min(sb.inodes_count - first + 1);
            if sb.has_group_flags() {
                if group.flags & BG_INODE_UNINIT != 0 {
                    continue;
                }
                count = count.min(per_group.saturating_sub(group.itable_unused));
            }
            if count == 0 {
                continue;
            }
            let at = group.inode_bitmap.checked_mul(sb.block_size);
            let readable = group.inode_bitmap != 0
                && group.inode_bitmap < sb.blocks_count
                && at.is_some_and(|at| dev.read_exact_at(at, &mut bitmap).is_ok());
            if !readable {
                self.sweep.bad_groups += 1;
                continue;
            }
            // `inodes_per_group` is at most 8 bits per byte of a block: `count` bits fit.
            for i in 0..count {
                let byte = usize::try_from(i / 8).unwrap_or(usize::MAX);
                if bitmap.get(byte).is_none_or(|b| b & (1 << (i % 8)) == 0) {
                    continue;
                }
                let ino = first + i;
                if ino < sb.first_ino.max(super::ROOT + 1)
                    || sb.special_inodes.contains(&ino)
                    || self.reached.contains(ino)
                {
                    continue;
                }
                let inode = match Inode::read(sb, dev.as_ref(), ino) {
                    Ok(i) => i,
                    Err(_) => {
                        self.sweep.unreadable += 1;
                        continue;
                    }
                };
                if inode.has(FLAG_EA_INODE) || inode.has(FLAG_ENCRYPT) {
                    // An extended attribute's value (`ea_inode`), not a file; or fscrypt
                    // content, unreadable, whose directory the walk skipped on purpose.
                    continue;
                }
                if inode.is_regular() && inode.links == 0 {
                    self.sweep.unlinked += 1;
                } else if inode.links == 0 {
                    continue;
                } else if inode.is_regular() {
                    files.push(ino);
                } else if inode.is_dir() {
                    dirs.push(ino);
                }
                if files.len() + dirs.len() >= MAX_FOUND {
                    self.sweep.capped = true;
                    break 'groups;
                }
            }
        }
        // Directories first (the top ones, then any left, as in a cycle of detached ones),
        // so that the files below them get their names.
        let mut tops = Vec::new();
        let mut rest = Vec::new();
        for &d in &dirs {
            let parent = Inode::read(sb, dev.as_ref(), d)
                .ok()
                .and_then(|i| parent_of(self, &i));
            match parent {
                Some(p) if p != d && dirs.binary_search(&p).is_ok() => rest.push(d),
                _ => tops.push(d),
            }
        }
        let before = self.reached_files;
        for d in tops.into_iter().chain(rest) {
            if self.reached.contains(d) || !self.visited.insert(d) {
                continue;
            }
            self.reached.insert(d);
            self.sweep.directories += 1;
            let mut stack = vec![DirJob {
                ino: d,
                path: format!("/<orphan>/{d}"),
                depth: 1,
            }];
            while let Some(job) = stack.pop() {
                let path = job.path.clone();
                let flow = match guard(|| self.directory(job, &mut stack)) {
                    Ok(f) => f,
                    Err(p) => self.error(&path, format!("reader crashed: {p}")),
                };
                flow?;
                if self.stop {
                    return ControlFlow::Continue(());
                }
            }
        }
        self.sweep.inside = self.reached_files - before;
        for ino in files {
            if !self.reached.insert(ino) {
                continue; // named inside an orphan directory
            }
            self.sweep.files += 1;
            let path = format!("/<orphan>/{ino}");
            let pending = Pending {
                first: 0,
                ino,
                path,
            };
            let flow = match guard(|| self.file(&pending)) {
                Ok(f) => f,
                Err(p) => self.error(&pending.path, format!("reader crashed: {p}")),
            };
            flow?;
        }
        ControlFlow::Continue(())
    }
}
