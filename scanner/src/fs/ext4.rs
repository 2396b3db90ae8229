//! ext2/ext3/ext4 walker over the `ext4-view` crate.
//!
//! `ext4-view` is careful with hostile bytes (checked arithmetic, no unsafe) but leaves a few
//! things to its user (see `crate-notes.md`):
//! - A volume flagged `needs_recovery` makes it replay the journal in memory, which only works
//!   for journals with 64bit + csum_v3: every other unclean volume fails to load. We then load
//!   it again through a view that hides the flag (and carries a recomputed superblock checksum),
//!   and say in the volume's notes that the journal was not replayed ([`VolumeInfo::degraded`]).
//! - Features it refuses (inline_data, casefold, meta_bg, largedir, ea_inode, ...) are named
//!   here, from the superblock, before it is asked to load anything.
//! - `read_dir` yields `.` and `..`; paths are re-resolved from `/` on every call; there are no
//!   inode numbers in its API. Directories are walked with an explicit stack, capped in depth
//!   and entries; a directory identical (metadata and listing) to one of its ancestors is a
//!   cycle and is not walked again. Hard links are scanned once: the inode number is taken from
//!   `File`'s `Debug` output (the only place the crate exposes it; pinned crate version, and a
//!   test proves it). If that ever stops parsing, a hard-linked file is scanned once per name.
//! - fscrypt directories are reported as skipped (encrypted); symlinks, devices, FIFOs and
//!   sockets are not reported. File content streams through `File::read_bytes` (one block per
//!   call), never through `Ext4::read`, which loads a whole file into memory.
//!
//! Every call into the crate is wrapped in [`guard`]: a panic becomes an error for one path.

use std::collections::hash_map::DefaultHasher;
use std::error::Error;
use std::hash::{Hash, Hasher};
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::Arc;

use ext4_view::{Ext4, Ext4Error, Ext4Read, Metadata};

use crate::fs::{
    guard, join_path, Content, FileMeta, FsError, SkipReason, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device, ReadAt};

const FS: &str = "ext4";

/// Deepest directory nesting walked (path resolution in the crate stops at 4096 bytes anyway).
pub const MAX_DEPTH: usize = 512;
/// How many earlier copies of a directory on one ancestor chain make it a cycle.
const CYCLE_REPEATS: usize = 2;
/// Most entries taken from one directory.
pub const MAX_DIR_ENTRIES: usize = 1_000_000;
/// Most entries taken from the whole volume.
pub const MAX_TOTAL_ENTRIES: u64 = 50_000_000;
/// Size of our block cache under the crate's own small one (inode tables, bitmaps, directories).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Byte offset of the superblock, and offsets of the fields used here.
const SB_AT: u64 = 1024;
const SB_MAGIC: usize = 0x38;
const SB_INCOMPAT: usize = 0x60;
const SB_RO_COMPAT: usize = 0x64;
const SB_CHECKSUM: usize = 0x3FC;
const INCOMPAT_RECOVER: u32 = 0x4;
const RO_COMPAT_METADATA_CSUM: u32 = 0x400;

/// Note added when the crate replayed the journal itself.
pub const NOTE_REPLAYED: &str = "journal replayed in memory";
/// Note added when the journal could not be replayed and was ignored.
pub const NOTE_NOT_REPLAYED: &str = "journal not replayed: recent changes may be missing";

/// Incompatible feature bits by their e2fsprogs names, and whether ext4-view reads them.
const INCOMPAT: &[(u32, &str, bool)] = &[
    (0x1, "compression", false),
    (0x2, "filetype", true),
    (0x4, "needs_recovery", true),
    (0x8, "journal_dev", false),
    (0x10, "meta_bg", false),
    (0x40, "extent", true),
    (0x80, "64bit", true),
    (0x100, "mmp", false),
    (0x200, "flex_bg", true),
    (0x400, "ea_inode", false),
    (0x1000, "dirdata", false),
    (0x2000, "metadata_csum_seed", true),
    (0x4000, "large_dir", false),
    (0x8000, "inline_data", false),
    (0x1_0000, "encrypt", true),
    (0x2_0000, "casefold", false),
];

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Names the incompatible features the crate would refuse, or `None` if it accepts them all.
fn refused_features(incompat: u32) -> Option<String> {
    let mut refused = Vec::new();
    let mut known = 0u32;
    for &(bit, name, ok) in INCOMPAT {
        known |= bit;
        if incompat & bit != 0 && !ok {
            refused.push(name.to_string());
        }
    }
    let unknown = incompat & !known;
    if unknown != 0 {
        refused.push(format!("unknown incompat bits {unknown:#x}"));
    }
    if incompat & 0x2 == 0 {
        refused.push("filetype absent (directory entries without file types)".to_string());
    }
    (!refused.is_empty()).then(|| refused.join(", "))
}

/// The superblock with `needs_recovery` cleared and, under metadata_csum, its checksum
/// recomputed the way ext4-view checks it: CRC32C (Castagnoli) of bytes `0..0x3FC`, initial
/// value `!0`, without the final inversion (the kernel's `ext4_superblock_csum`).
fn hide_recovery(sb: &[u8; 1024]) -> Vec<u8> {
    let mut out = sb.to_vec();
    let incompat = le32(sb, SB_INCOMPAT) & !INCOMPAT_RECOVER;
    out[SB_INCOMPAT..SB_INCOMPAT + 4].copy_from_slice(&incompat.to_le_bytes());
    if le32(sb, SB_RO_COMPAT) & RO_COMPAT_METADATA_CSUM != 0 {
        let sum = superblock_checksum(&out);
        out[SB_CHECKSUM..SB_CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
    }
    out
}

fn superblock_checksum(sb: &[u8]) -> u32 {
    !crc32c::crc32c(&sb[..SB_CHECKSUM])
}

/// A device whose superblock reads as `sb` (the journal fallback's view).
struct Patched {
    inner: Device,
    sb: Vec<u8>,
}

impl ReadAt for Patched {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        let end = offset + n as u64;
        let sb_end = SB_AT + self.sb.len() as u64;
        if offset < sb_end && end > SB_AT {
            let from = offset.max(SB_AT);
            let to = end.min(sb_end);
            let dst = usize::try_from(from - offset).unwrap_or(0);
            let src = usize::try_from(from - SB_AT).unwrap_or(0);
            let len = usize::try_from(to - from).unwrap_or(0);
            buf[dst..dst + len].copy_from_slice(&self.sb[src..src + len]);
        }
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

/// `Ext4Read` over a device: exact positional reads.
struct DevReader(Device);

impl Ext4Read for DevReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
        self.0
            .read_exact_at(start_byte, dst)
            .map_err(|e| Box::new(e) as _)
    }
}

fn load(dev: Device) -> Result<Ext4, FsError> {
    match guard(|| Ext4::load(Box::new(DevReader(dev)))) {
        Ok(Ok(fs)) => Ok(fs),
        Ok(Err(e)) => Err(map_error(e)),
        Err(p) => Err(FsError::Panic(p)),
    }
}

fn map_error(e: Ext4Error) -> FsError {
    match e {
        Ext4Error::Incompatible(i) => FsError::Unsupported {
            fs: FS,
            reason: i.to_string(),
        },
        Ext4Error::Io(inner) => FsError::Io(io::Error::other(inner.to_string())),
        other => FsError::Invalid {
            fs: FS,
            reason: other.to_string(),
        },
    }
}

/// An ext2/3/4 volume opened read-only. Not `Send` (the crate uses `Rc`): one per thread.
pub struct Ext4Walker {
    fs: Ext4,
    layout: Option<RawLayout>,
    info: VolumeInfo,
    aliases: Vec<(String, String)>,
}

/// Opens the ext2/3/4 volume that `dev` covers exactly.
pub fn open(dev: Device) -> Result<Ext4Walker, FsError> {
    let mut sb = [0u8; 1024];
    if dev.read_at(SB_AT, &mut sb)? < sb.len() {
        return Err(FsError::Invalid {
            fs: FS,
            reason: "shorter than a superblock".into(),
        });
    }
    if sb[SB_MAGIC..SB_MAGIC + 2] != [0x53, 0xEF] {
        return Err(FsError::Invalid {
            fs: FS,
            reason: "no ext2/3/4 superblock magic".into(),
        });
    }
    let incompat = le32(&sb, SB_INCOMPAT);
    if let Some(reason) = refused_features(incompat) {
        return Err(FsError::Unsupported {
            fs: FS,
            reason: format!("incompatible features: {reason}"),
        });
    }
    let cache: Device = Arc::new(BlockCache::new(dev.clone(), CACHE_BYTES));
    let cache_for_layout = cache.clone();
    let mut notes = Vec::new();
    let mut degraded = false;
    let fs = match load(cache.clone()) {
        Ok(fs) => {
            if incompat & INCOMPAT_RECOVER != 0 {
                notes.push(format!(
                    "{NOTE_REPLAYED} (volume needed recovery; nothing written)"
                ));
            }
            fs
        }
        Err(first) if incompat & INCOMPAT_RECOVER != 0 => {
            let view: Device = Arc::new(Patched {
                inner: cache,
                sb: hide_recovery(&sb),
            });
            match load(view) {
                Ok(fs) => {
                    notes.push(format!(
                        "{NOTE_NOT_REPLAYED} (in-memory replay failed: {first})"
                    ));
                    degraded = true;
                    fs
                }
                Err(_) => return Err(first),
            }
        }
        Err(e) => return Err(e),
    };
    let label = guard(|| fs.label().to_str().map(|s| s.trim().to_string()).ok())
        .ok()
        .flatten()
        .filter(|s| !s.is_empty());
    Ok(Ext4Walker {
        fs,
        layout: RawLayout::parse(&sb, cache_for_layout),
        info: VolumeInfo {
            label,
            notes,
            degraded,
        },
        aliases: Vec::new(),
    })
}

impl Ext4Walker {
    /// Hard-linked names not handed to the visitor in the last walk, each with the name its
    /// inode was scanned under: `(alias, scanned_as)`.
    pub fn hard_link_aliases(&self) -> &[(String, String)] {
        &self.aliases
    }
}

/// The inode number of an open file, read from its `Debug` output
/// (`File { inode: 12, position: 0, .. }` in ext4-view 1.0).
fn inode_number(file: &ext4_view::File) -> Option<u32> {
    let text = format!("{file:?}");
    let rest = &text[text.find("inode:")? + "inode:".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Raw geometry, for the block-map fallback below (read from the superblock we checked).
#[derive(Clone)]
struct RawLayout {
    dev: Device,
    block_size: u64,
    blocks_count: u64,
    inodes_per_group: u64,
    inode_size: u64,
    desc_size: u64,
    gdt_start: u64,
    is_64bit: bool,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

impl RawLayout {
    fn parse(sb: &[u8; 1024], dev: Device) -> Option<Self> {
        let log = le32(sb, 0x18);
        if log > 6 {
            return None;
        }
        let block_size = 1024u64 << log;
        let is_64bit = le32(sb, SB_INCOMPAT) & 0x80 != 0;
        let hi = if is_64bit {
            u64::from(le32(sb, 0x150))
        } else {
            0
        };
        let blocks_count = u64::from(le32(sb, 0x4)) | (hi << 32);
        let inodes_per_group = u64::from(le32(sb, 0x28));
        let inode_size = if le32(sb, 0x4C) == 0 {
            128
        } else {
            le16(sb, 0x58)
        };
        let desc_size = if is_64bit { le16(sb, 0xFE) } else { 32 };
        if inodes_per_group == 0 || inode_size < 128 || inode_size > block_size || desc_size < 32 {
            return None;
        }
        let gdt_start = (u64::from(le32(sb, 0x14)) + 1).checked_mul(block_size)?;
        Some(Self {
            dev,
            block_size,
            blocks_count,
            inodes_per_group,
            inode_size,
            desc_size,
            gdt_start,
            is_64bit,
        })
    }

    /// `(size, i_block)` of a block-mapped inode; `None` for extents, inline data or damage.
    fn block_map_inode(&self, ino: u32) -> Option<(u64, [u32; 15])> {
        let index = u64::from(ino.checked_sub(1)?);
        let (group, slot) = (index / self.inodes_per_group, index % self.inodes_per_group);
        let mut desc = [0u8; 64];
        let desc = &mut desc[..usize::try_from(self.desc_size.min(64)).ok()?];
        self.dev
            .read_exact_at(
                self.gdt_start
                    .checked_add(group.checked_mul(self.desc_size)?)?,
                desc,
            )
            .ok()?;
        let hi = if self.is_64bit && desc.len() >= 64 {
            u64::from(le32(desc, 0x28))
        } else {
            0
        };
        let table = u64::from(le32(desc, 0x8)) | (hi << 32);
        let at = table
            .checked_mul(self.block_size)?
            .checked_add(slot.checked_mul(self.inode_size)?)?;
        let mut inode = [0u8; 128];
        self.dev.read_exact_at(at, &mut inode).ok()?;
        let flags = le32(&inode, 0x20);
        if flags & (0x8_0000 | 0x1000_0000) != 0 {
            return None; // extents or inline data: not a block map
        }
        let size = u64::from(le32(&inode, 0x4)) | (u64::from(le32(&inode, 0x6C)) << 32);
        let mut map = [0u32; 15];
        for (i, m) in map.iter_mut().enumerate() {
            *m = le32(&inode, 0x28 + 4 * i);
        }
        Some((size, map))
    }
}

/// Reads a block-mapped (ext2/ext3) file, treating a zero pointer at any level of the
/// indirect tree as a hole. ext4-view 1.0 instead tries to read block 0 when an indirect
/// pointer is zero (a large hole) and fails the whole file; this takes over from there.
/// It reads the disk as it is (a journal replayed in memory by the crate is not consulted).
struct BlockMapReader {
    lay: RawLayout,
    map: [u32; 15],
    size: u64,
    pos: u64,
}

impl BlockMapReader {
    fn pointer(&self, block: u32, index: u64) -> io::Result<u32> {
        if block == 0 {
            return Ok(0);
        }
        if u64::from(block) >= self.lay.blocks_count {
            return Err(io::Error::other(format!(
                "indirect block {block} beyond the volume"
            )));
        }
        let mut b = [0u8; 4];
        self.lay
            .dev
            .read_exact_at(u64::from(block) * self.lay.block_size + index * 4, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Physical block of logical block `n` (0 for a hole).
    fn physical(&self, n: u64) -> io::Result<u32> {
        let per = self.lay.block_size / 4;
        if n < 12 {
            return Ok(self.map[usize::try_from(n).unwrap_or(0)]);
        }
        let n = n - 12;
        if n < per {
            return self.pointer(self.map[12], n);
        }
        let n = n - per;
        if n < per * per {
            let l1 = self.pointer(self.map[13], n / per)?;
            return self.pointer(l1, n % per);
        }
        let n = n - per * per;
        if n < per * per * per {
            let l1 = self.pointer(self.map[14], n / (per * per))?;
            let l2 = self.pointer(l1, (n / per) % per)?;
            return self.pointer(l2, n % per);
        }
        Err(io::Error::other("file larger than a block map can address"))
    }
}

impl Read for BlockMapReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() && self.pos < self.size {
            let bs = self.lay.block_size;
            let off = self.pos % bs;
            let n = usize::try_from((bs - off).min(self.size - self.pos))
                .unwrap_or(0)
                .min(buf.len() - done);
            let phys = self.physical(self.pos / bs)?;
            let dst = &mut buf[done..done + n];
            if phys == 0 {
                dst.fill(0);
            } else if u64::from(phys) >= self.lay.blocks_count {
                return Err(io::Error::other(format!(
                    "data block {phys} beyond the volume"
                )));
            } else {
                self.lay
                    .dev
                    .read_exact_at(u64::from(phys) * bs + off, dst)?;
            }
            done += n;
            self.pos += n as u64;
        }
        Ok(done)
    }
}

/// Streams a file, filling the caller's buffer from as many blocks as it takes. If the crate
/// fails on a hole in a block map, [`BlockMapReader`] continues from the same position.
struct FileReader {
    file: ext4_view::File,
    ino: Option<u32>,
    layout: Option<RawLayout>,
    fallback: Option<BlockMapReader>,
}

impl FileReader {
    fn take_over(&mut self) -> Option<BlockMapReader> {
        let lay = self.layout.clone()?;
        let (size, map) = lay.block_map_inode(self.ino?)?;
        (size == self.file.metadata().len()).then(|| BlockMapReader {
            lay,
            map,
            size,
            pos: self.file.position(),
        })
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(f) = &mut self.fallback {
            return f.read(buf);
        }
        let mut done = 0;
        while done < buf.len() {
            let file = &mut self.file;
            let rest = &mut buf[done..];
            let n = match guard(|| file.read_bytes(rest)) {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    if e.to_string().contains("from block 0 ") {
                        if let Some(mut f) = self.take_over() {
                            let n = f.read(&mut buf[done..])?;
                            self.fallback = Some(f);
                            return Ok(done + n);
                        }
                    }
                    return Err(io::Error::other(e.to_string()));
                }
                Err(p) => return Err(io::Error::other(format!("reader crashed: {p}"))),
            };
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
}

/// What identifies a directory without an inode number: its metadata and its listing.
#[derive(PartialEq, Eq)]
struct DirKey {
    meta: Metadata,
    listing: u64,
}

/// The chain of directories from the root down to a pending directory.
struct Chain {
    key: DirKey,
    path: String,
    parent: Option<Rc<Chain>>,
}

struct DirJob {
    raw: ext4_view::PathBuf,
    path: String,
    depth: usize,
    parent: Option<Rc<Chain>>,
}

/// One directory entry kept between listing and processing.
/// One directory entry kept between listing and processing (kept small: a directory may
/// hold up to [`MAX_DIR_ENTRIES`] of them).
struct Item {
    name: Vec<u8>,
    ft: Option<ext4_view::FileType>,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Walker for Ext4Walker {
    fn info(&self) -> VolumeInfo {
        self.info.clone()
    }

    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        self.aliases.clear();
        let fs = &self.fs;
        let mut seen_inodes: std::collections::HashMap<u32, String> =
            std::collections::HashMap::new();
        let mut total: u64 = 0;
        let mut stop = false;
        let root =
            ext4_view::PathBuf::try_from("/").map_err(|_| FsError::Panic("root path".into()))?;
        let mut stack = vec![DirJob {
            raw: root,
            path: "/".into(),
            depth: 0,
            parent: None,
        }];
        let report = |visitor: &mut dyn Visitor, path: &str, content: Content<'_>| {
            let meta = FileMeta {
                path: path.to_string(),
                ..FileMeta::default()
            };
            visitor.visit(&meta, content).is_break()
        };
        while let Some(job) = stack.pop() {
            // List the directory.
            let read_dir = match guard(|| fs.read_dir(&job.raw)) {
                Ok(Ok(r)) => r,
                Ok(Err(Ext4Error::Encrypted)) => {
                    if report(visitor, &job.path, Content::Skipped(SkipReason::Encrypted)) {
                        return Ok(WalkEnd::Cancelled);
                    }
                    continue;
                }
                Ok(Err(e)) => {
                    if report(
                        visitor,
                        &job.path,
                        Content::Error(format!("directory unreadable: {e}")),
                    ) {
                        return Ok(WalkEnd::Cancelled);
                    }
                    continue;
                }
                Err(p) => {
                    if report(
                        visitor,
                        &job.path,
                        Content::Error(format!("reader crashed: {p}")),
                    ) {
                        return Ok(WalkEnd::Cancelled);
                    }
                    continue;
                }
            };
            let mut items = Vec::new();
            let mut listing_error = None;
            let mut hasher = DefaultHasher::new();
            let mut iter = read_dir;
            loop {
                let next = match guard(|| iter.next()) {
                    Ok(n) => n,
                    Err(p) => {
                        listing_error = Some(format!("reader crashed: {p}"));
                        break;
                    }
                };
                let entry = match next {
                    None => break,
                    Some(Ok(e)) => e,
                    Some(Err(e)) => {
                        listing_error = Some(format!("directory unreadable: {e}"));
                        break;
                    }
                };
                let name_bytes = entry.file_name().as_ref().to_vec();
                if name_bytes == b"." || name_bytes == b".." {
                    continue;
                }
                if items.len() >= MAX_DIR_ENTRIES {
                    listing_error = Some(format!(
                        "more than {MAX_DIR_ENTRIES} entries: rest not walked"
                    ));
                    break;
                }
                total += 1;
                if total > MAX_TOTAL_ENTRIES {
                    listing_error = Some(format!(
                        "more than {MAX_TOTAL_ENTRIES} entries on the volume: walk stopped"
                    ));
                    stop = true;
                    break;
                }
                name_bytes.hash(&mut hasher);
                let ft = entry.file_type().ok();
                ft.hash(&mut hasher);
                items.push(Item {
                    name: name_bytes,
                    ft,
                });
            }
            drop(iter);

            // A directory that repeats one of its ancestors is a cycle: do not walk it again.
            let own_meta = guard(|| fs.metadata(&job.raw)).ok().and_then(Result::ok);
            let chain = match own_meta {
                Some(meta) => {
                    let key = DirKey {
                        meta,
                        listing: hasher.finish(),
                    };
                    // ext4-view does not expose directory inode numbers, so a directory is
                    // recognised by its metadata and listing. Two distinct directories can look
                    // alike (same times to the nanosecond in images made by `mke2fs -d`, e.g.
                    // `gyp/pylib/gyp`), but only a real cycle repeats again and again: call it
                    // a cycle at the third occurrence on one chain.
                    let mut up = job.parent.as_ref();
                    let mut cycle = None;
                    let mut seen = 0;
                    while let Some(c) = up {
                        if c.key == key {
                            seen += 1;
                            if seen == CYCLE_REPEATS {
                                cycle = Some(c.path.clone());
                                break;
                            }
                        }
                        up = c.parent.as_ref();
                    }
                    if let Some(ancestor) = cycle {
                        let msg = format!(
                            "directory repeats its ancestor {ancestor} (cycle): not walked again"
                        );
                        if report(visitor, &job.path, Content::Error(msg)) {
                            return Ok(WalkEnd::Cancelled);
                        }
                        continue;
                    }
                    Some(Rc::new(Chain {
                        key,
                        path: job.path.clone(),
                        parent: job.parent.clone(),
                    }))
                }
                None => job.parent.clone(),
            };

            let mut subdirs = Vec::new();
            for item in items {
                let path = join_path(&job.path, &lossy(&item.name));
                let raw = match guard(|| job.raw.join(&item.name)) {
                    Ok(r) => r,
                    Err(p) => {
                        if report(visitor, &path, Content::Error(format!("bad name: {p}"))) {
                            return Ok(WalkEnd::Cancelled);
                        }
                        continue;
                    }
                };
                let Some(ft) = item.ft else {
                    if report(visitor, &path, Content::Error("unknown file type".into())) {
                        return Ok(WalkEnd::Cancelled);
                    }
                    continue;
                };
                if ft.is_dir() {
                    if job.depth + 1 > MAX_DEPTH {
                        let msg = format!("deeper than {MAX_DEPTH} levels: not walked");
                        if report(visitor, &path, Content::Error(msg)) {
                            return Ok(WalkEnd::Cancelled);
                        }
                        continue;
                    }
                    subdirs.push(DirJob {
                        raw,
                        path,
                        depth: job.depth + 1,
                        parent: chain.clone(),
                    });
                    continue;
                }
                if !ft.is_regular_file() {
                    continue; // symlinks, devices, FIFOs, sockets: not files to scan
                }
                let mut file_meta = FileMeta {
                    path: path.clone(),
                    ..FileMeta::default()
                };
                let flow = match guard(|| fs.open(&raw)) {
                    Ok(Ok(file)) => {
                        if let Some(ino) = inode_number(&file) {
                            if let Some(first) = seen_inodes.get(&ino) {
                                self.aliases.push((path, first.clone()));
                                continue;
                            }
                            seen_inodes.insert(ino, path.clone());
                        }
                        let m = file.metadata();
                        file_meta.size = m.len();
                        file_meta.modified = Some(m.modified().seconds());
                        let mut reader = FileReader {
                            ino: inode_number(&file),
                            file,
                            layout: self.layout.clone(),
                            fallback: None,
                        };
                        visitor.visit(&file_meta, Content::Data(&mut reader))
                    }
                    Ok(Err(Ext4Error::Encrypted)) => {
                        visitor.visit(&file_meta, Content::Skipped(SkipReason::Encrypted))
                    }
                    Ok(Err(e)) => visitor.visit(&file_meta, Content::Error(e.to_string())),
                    Err(p) => {
                        visitor.visit(&file_meta, Content::Error(format!("reader crashed: {p}")))
                    }
                };
                if flow.is_break() {
                    return Ok(WalkEnd::Cancelled);
                }
            }
            if let Some(msg) = listing_error {
                if report(visitor, &job.path, Content::Error(msg)) {
                    return Ok(WalkEnd::Cancelled);
                }
            }
            if stop {
                break;
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(WalkEnd::Complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::fat::tests::{
        collect, data_only, images, manifest, quiet_panics, tree_files, within, Outcome, XorShift,
    };
    use crate::io::{FileDevice, MemDevice};
    use crate::testutil::{oracle, oracles_dir, sha256_file};
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;

    fn ext_images() -> PathBuf {
        static ONCE: OnceLock<()> = OnceLock::new();
        images("ext4.sh", &ONCE)
    }

    fn open_path(path: &Path) -> Result<Ext4Walker, FsError> {
        open(Arc::new(FileDevice::open(path).unwrap()))
    }

    /// debugfs' view of an image: everything copied out with `rdump`.
    fn debugfs_files(img: &Path) -> BTreeMap<String, (u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(format!("rdump / {}", dir.path().display()))
            .arg(img)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "debugfs rdump failed on {}",
            img.display()
        );
        tree_files(dir.path())
    }

    /// Checks a walk against a reference listing: every reference file was read with the same
    /// bytes, or is a hard-linked name of one that was. Returns (files read, aliases).
    fn assert_matches(
        name: &str,
        w: &Ext4Walker,
        walk: &BTreeMap<String, Outcome>,
        reference: &BTreeMap<String, (u64, String)>,
    ) -> (usize, usize) {
        let ours = data_only(walk);
        let mut expected = reference.clone();
        for (alias, first) in w.hard_link_aliases() {
            let a = expected
                .remove(alias)
                .unwrap_or_else(|| panic!("{name}: alias {alias} not in reference"));
            assert_eq!(
                Some(&a),
                reference.get(first),
                "{name}: {alias} and {first} differ"
            );
        }
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}: file lists"
        );
        assert_eq!(ours, expected, "{name}: sizes and hashes");
        (ours.len(), w.hard_link_aliases().len())
    }

    #[test]
    fn generated_images_match_debugfs_byte_for_byte() {
        let dir = ext_images();
        for name in ["ext4.img", "ext3.img", "ext2.img"] {
            let img = dir.join(name);
            let before = sha256_file(&img);
            let mut w = open_path(&img).unwrap();
            let info = w.info();
            assert_eq!(
                info.label.as_deref(),
                Some(&*format!("vigie-{}", name.trim_end_matches(".img")))
            );
            assert!(info.notes.is_empty() && !info.degraded, "{info:?}");
            let walk = collect(&mut w, u64::MAX);
            let problems: Vec<_> = walk
                .iter()
                .filter(|(_, o)| !matches!(o, Outcome::Data(..)))
                .collect();
            assert!(problems.is_empty(), "{name}: {problems:?}");
            let reference = debugfs_files(&img);
            let (files, aliases) = assert_matches(name, &w, &walk, &reference);
            assert_eq!(aliases, 2, "{name}: two hard links, each scanned once");
            assert_eq!(files + aliases, 3008, "{name}");
            let sparse = &walk["/sparse.bin"];
            assert!(
                matches!(sparse, Outcome::Data(n, _) if *n == 8 * 1024 * 1024 + 2200),
                "{sparse:?}"
            );
            assert!(
                matches!(walk["/Données médicales/big random.bin"], Outcome::Data(n, _) if n == 17 * 1024 * 1024 + 123)
            );
            assert!(walk.contains_key("/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/bottom file.txt"));
            assert!(walk.contains_key("/café-ñandú-日本語.txt"));
            assert!(
                !walk.keys().any(|p| p.contains("symlink")),
                "symlinks are not files to scan"
            );
            drop(w);
            assert_eq!(sha256_file(&img), before, "{name} changed");
            eprintln!("{name}: {files} files identical to debugfs rdump, {aliases} hard-link names scanned once");
        }
    }

    #[test]
    fn holes_in_block_maps_are_read_past_the_crate_bug() {
        let img = ext_images().join("ext3.img");
        let alone = Ext4::load(Box::new(std::fs::read(&img).unwrap())).unwrap();
        assert!(
            alone.read("/sparse.bin").is_err(),
            "ext4-view 1.0 fails on a big hole in a block map"
        );
        let w = open_path(&img).unwrap();
        let file = w.fs.open("/sparse.bin").unwrap();
        let mut r = FileReader {
            ino: inode_number(&file),
            file,
            layout: w.layout.clone(),
            fallback: None,
        };
        let mut data = Vec::new();
        r.read_to_end(&mut data).unwrap();
        assert!(r.fallback.is_some());
        let hole = 8 * 1024 * 1024;
        assert_eq!(data.len(), hole + 2200);
        assert!(data[..hole].iter().all(|&b| b == 0));
        assert_eq!(&data[hole..hole + 22], b"data after a big hole\n");
    }

    #[test]
    fn superblock_checksum_matches_the_stored_one() {
        let img = std::fs::read(ext_images().join("ext4.img")).unwrap();
        let sb = &img[1024..2048];
        assert_eq!(superblock_checksum(sb), le32(sb, SB_CHECKSUM));
        let hidden = hide_recovery(sb.try_into().unwrap());
        assert_eq!(hidden, sb, "hiding an absent flag changes nothing");
    }

    #[test]
    fn unreplayable_journal_falls_back_and_says_so() {
        let dir = ext_images();
        let img = dir.join("ext4-journal.img");
        let before = sha256_file(&img);
        // ext4-view alone refuses the volume (its in-memory replay does not handle this journal).
        let raw = std::fs::read(&img).unwrap();
        assert!(Ext4::load(Box::new(raw)).is_err());
        let mut w = open_path(&img).unwrap();
        let info = w.info();
        assert!(info.degraded);
        assert!(
            info.notes.iter().any(|n| n.starts_with(NOTE_NOT_REPLAYED)),
            "{info:?}"
        );
        let walk = collect(&mut w, u64::MAX);
        let reference = debugfs_files(&img);
        let (files, _) = assert_matches("ext4-journal", &w, &walk, &reference);
        assert_eq!(files, 3006);
        drop(w);
        assert_eq!(sha256_file(&img), before);
    }

    #[test]
    fn oracle_test_disk1_with_encrypted_directory() {
        let img = oracle("ext4-view/test_disk1.bin.zst");
        let mut w = open_path(&img).unwrap();
        assert_eq!(w.info().label.as_deref(), Some("ext4-view testfs"));
        let walk = collect(&mut w, u64::MAX);
        assert_eq!(
            walk.get("/encrypted_dir"),
            Some(&Outcome::Skipped(SkipReason::Encrypted))
        );
        let mut want = manifest(&oracles_dir().join("ext4-view/test_disk1.manifest.tsv"));
        let hidden: Vec<String> = want
            .keys()
            .filter(|p| p.starts_with("/encrypted_dir/"))
            .cloned()
            .collect();
        assert_eq!(
            hidden.len(),
            1,
            "one file inside the locked fscrypt directory"
        );
        for p in hidden {
            want.remove(&p);
        }
        let (files, aliases) = assert_matches("test_disk1", &w, &walk, &want);
        assert_eq!(files + aliases, 11_006);
        assert_eq!(
            walk.len(),
            files + 1,
            "only the encrypted directory is not data"
        );
        assert_eq!(
            walk["/small_file"],
            Outcome::Data(13, want["/small_file"].1.clone())
        );
    }

    #[test]
    fn oracle_ext2_triple_indirect_and_ext3() {
        for (bin, tsv, count) in [
            (
                "ext4-view/test_disk_ext2.bin.zst",
                "ext4-view/test_disk_ext2.manifest.tsv",
                3,
            ),
            (
                "ext4-view/test_disk_ext3.bin.zst",
                "ext4-view/test_disk_ext3.manifest.tsv",
                1000,
            ),
            ("dfvfs/ext2.raw.zst", "dfvfs/ext2.raw.manifest.tsv", 3),
        ] {
            let mut w = open_path(&oracle(bin)).unwrap();
            let walk = collect(&mut w, u64::MAX);
            let want = manifest(&oracles_dir().join(tsv));
            let (files, aliases) = assert_matches(bin, &w, &walk, &want);
            assert_eq!(files + aliases, count, "{bin}");
            assert_eq!(walk.len(), files, "{bin}: no error outcomes");
        }
    }

    #[test]
    fn oracle_journal_is_replayed_in_memory() {
        let img = oracle("ext4-view/test_disk_4k_block_journal.bin.zst");
        let before = sha256_file(&img);
        let w = open_path(&img).unwrap();
        let info = w.info();
        assert!(!info.degraded);
        assert!(
            info.notes.iter().any(|n| n.starts_with(NOTE_REPLAYED)),
            "{info:?}"
        );
        let names = |fs: &Ext4| -> Vec<String> {
            fs.read_dir("/")
                .unwrap()
                .map(|e| lossy(e.unwrap().file_name().as_ref()))
                .filter(|n| n != "." && n != "..")
                .collect()
        };
        let replayed = names(&w.fs);
        assert_eq!(replayed.len(), 774, "lost+found + dir0..dir772");
        assert!(replayed.iter().any(|n| n == "dir500") && replayed.iter().any(|n| n == "dir772"));
        // The fallback view (flag hidden) shows the volume as it is on disk: only lost+found.
        let dev: Device = Arc::new(FileDevice::open(&img).unwrap());
        let mut sb = [0u8; 1024];
        dev.read_exact_at(SB_AT, &mut sb).unwrap();
        let hidden = load(Arc::new(Patched {
            inner: dev,
            sb: hide_recovery(&sb),
        }))
        .unwrap();
        assert_eq!(names(&hidden), vec!["lost+found".to_string()]);
        assert_eq!(sha256_file(&img), before);
    }

    #[test]
    fn refused_features_are_named() {
        let base = std::fs::read(ext_images().join("ext4-small.img")).unwrap();
        for (bit, name) in [
            (0x8000u32, "inline_data"),
            (0x2_0000, "casefold"),
            (0x10, "meta_bg"),
            (0x4000, "large_dir"),
            (0x400, "ea_inode"),
            (0x80_0000, "unknown"),
        ] {
            let mut img = base.clone();
            let at = 1024 + SB_INCOMPAT;
            let v = le32(&img, at) | bit;
            img[at..at + 4].copy_from_slice(&v.to_le_bytes());
            match open(Arc::new(MemDevice::new(img))) {
                Err(FsError::Unsupported { reason, .. }) => {
                    assert!(reason.contains(name), "{reason}")
                }
                Err(e) => panic!("{name}: {e}"),
                Ok(_) => panic!("{name}: accepted"),
            }
        }
    }

    #[test]
    fn directory_cycle_is_reported_not_followed() {
        let src = ext_images().join("ext4-small-nocsum.img");
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::copy(&src, tmp.path()).unwrap();
        // A second name for /dir inside its own subtree: /dir/sub/back -> /dir.
        let st = Command::new("debugfs")
            .args(["-w", "-R", "link /dir /dir/sub/back"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(st.status.success());
        let path = tmp.path().to_path_buf();
        let walk = within(120, move || {
            collect(&mut open_path(&path).unwrap(), u64::MAX)
        });
        // The loop is walked once more (ext4-view hides inode numbers, so a look-alike is not
        // yet proof), then cut at its third occurrence on the chain.
        match walk.get("/dir/sub/back/sub/back") {
            Some(Outcome::Error(e)) => assert!(e.contains("cycle"), "{e}"),
            other => panic!("{other:?} in {walk:?}"),
        }
        assert!(walk
            .keys()
            .all(|p| !p.starts_with("/dir/sub/back/sub/back/")));
        // The files met again on the extra pass are the same inodes: hard-link dedupe drops them.
        assert_eq!(data_only(&walk).len(), 4);
    }

    #[test]
    fn look_alike_nested_directories_are_not_a_cycle() {
        // /a/d/d/f: both `d` have the same single entry and, with fixed times, the same metadata.
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("a/d/d")).unwrap();
        std::fs::write(src.path().join("a/d/d/f"), b"payload").unwrap();
        for d in ["a/d/d", "a/d", "a", "."] {
            let st = Command::new("touch")
                .args(["-h", "-d", "@1000000000"])
                .arg(src.path().join(d))
                .status()
                .unwrap();
            assert!(st.success());
        }
        let img = tempfile::NamedTempFile::new().unwrap();
        let st = Command::new("mke2fs")
            .env("E2FSPROGS_FAKE_TIME", "1000000000")
            .args(["-q", "-F", "-t", "ext4", "-I", "256", "-d"])
            .arg(src.path())
            .arg(img.path())
            .arg("4M")
            .status()
            .unwrap();
        assert!(st.success());
        let path = img.path().to_path_buf();
        let walk = within(60, move || {
            collect(&mut open_path(&path).unwrap(), u64::MAX)
        });
        assert!(
            matches!(walk.get("/a/d/d/f"), Some(Outcome::Data(..))),
            "{walk:?}"
        );
    }

    #[test]
    fn random_damage_never_panics_nor_hangs() {
        let dir = ext_images();
        let mut total = (0u64, 0u64, 0u64, 0u64);
        for (name, rounds, seed) in [
            ("ext4-small-nocsum.img", 250u64, 0xE474_0001u64),
            ("ext4-small.img", 100, 0xE474_0002),
        ] {
            let base = std::fs::read(dir.join(name)).unwrap();
            let stats = within(600, move || {
                quiet_panics(|| {
                    let mut rng = XorShift(seed);
                    let (mut opened, mut files, mut errors) = (0u64, 0u64, 0u64);
                    for _ in 0..rounds {
                        let mut img = base.clone();
                        for _ in 0..1 + rng.below(8) {
                            // Mostly the metadata blocks (superblock, descriptors, bitmaps,
                            // inode table, root directory: the first 120 KiB of these images).
                            let end = if rng.below(4) == 0 {
                                base.len() as u64
                            } else {
                                120 * 1024
                            };
                            let at = usize::try_from(rng.in_use(&base, 1024, end)).unwrap();
                            img[at] ^= u8::try_from(1 + rng.below(255)).unwrap();
                        }
                        if let Ok(mut w) = open(Arc::new(MemDevice::new(img))) {
                            opened += 1;
                            let walk = collect(&mut w, 16 * 1024 * 1024);
                            files += walk
                                .values()
                                .filter(|o| matches!(o, Outcome::Data(..)))
                                .count() as u64;
                            errors += walk
                                .values()
                                .filter(|o| !matches!(o, Outcome::Data(..)))
                                .count() as u64;
                        }
                    }
                    (opened, files, errors)
                })
            });
            eprintln!(
                "{name}: {rounds} damaged images, {} opened, {} files read, {} error outcomes",
                stats.0, stats.1, stats.2
            );
            total = (
                total.0 + rounds,
                total.1 + stats.0,
                total.2 + stats.1,
                total.3 + stats.2,
            );
        }
        assert!(total.1 > 50, "{total:?}");
    }
}
