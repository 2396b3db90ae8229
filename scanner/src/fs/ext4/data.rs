//! Where an inode's bytes are: extent trees (ext4), indirect block maps (ext2/ext3) and
//! inline data, behind one [`Runs`] iterator of contiguous runs, and [`FileData`], the
//! `Read` over them that the scan engine consumes (holes and unwritten extents read as zeros).
//!
//! Hostile trees stay bounded: an extent tree is at most 5 levels deep (the kernel's limit),
//! every node header is checked, extents must come in strictly increasing logical order (so a
//! node reached twice is an error, not a loop), node reads per file are capped, and every
//! physical run must lie inside the volume. Block maps treat a zero pointer at any level as a
//! hole covering its whole subtree.

use std::io::{self, Read};

use super::inode::{Inode, FLAG_EXTENTS, FLAG_INLINE_DATA};
use super::superblock::{le16, le32, Superblock};
use crate::io::{Device, ReadAt};

/// Deepest extent tree accepted (the kernel's `EXT4_MAX_EXTENT_DEPTH`).
const MAX_EXTENT_DEPTH: u16 = 5;
const EXTENT_MAGIC: u16 = 0xF30A;
/// Unwritten extents have their length above this (and read as zeros).
const UNWRITTEN: u16 = 32768;
/// Longest run handed out at once for block maps (each block is one pointer lookup).
const MAX_MAP_RUN: u64 = 1024;

/// A contiguous piece of a file: `len` blocks from logical block `logical`, stored from
/// physical block `phys` (`None`: a hole or an unwritten extent, reading as zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub logical: u64,
    pub len: u64,
    pub phys: Option<u64>,
}

/// One level of the extent tree being walked: a node's bytes and the next entry to take.
struct Level {
    node: Vec<u8>,
    next: usize,
    entries: usize,
    depth: u16,
}

/// The extent tree of one inode, walked lazily in logical order.
struct Extents {
    stack: Vec<Level>,
    /// No extent may start before this logical block (strictly increasing order).
    min_logical: u64,
    nodes_left: u64,
}

/// The 15 pointers of an ext2/ext3 inode.
struct BlockMap {
    map: [u32; 15],
    /// Last indirect block read, with its pointers, per level (cheap sequential lookups).
    cached: [(u32, Vec<u8>); 3],
}

enum Source {
    Extents(Extents),
    BlockMap(BlockMap),
    /// Inline data: the bytes themselves (at most an inode's size).
    Inline(Vec<u8>),
}

/// Content runs of one inode, in logical order.
pub struct Runs {
    dev: Device,
    block_size: u64,
    blocks_count: u64,
    source: Source,
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

fn header(node: &[u8]) -> Result<(usize, usize, u16), String> {
    if node.len() < 12 || le16(node, 0) != EXTENT_MAGIC {
        return Err("bad extent header".into());
    }
    let entries = usize::from(le16(node, 2));
    let max = usize::from(le16(node, 4));
    let depth = le16(node, 6);
    if entries > max || 12 + 12 * max > node.len() {
        return Err(format!("extent node with {entries} of {max} entries"));
    }
    Ok((entries, max, depth))
}

impl Runs {
    /// The runs of `inode`'s content (or of a directory's blocks).
    pub fn new(sb: &Superblock, dev: &Device, inode: &Inode) -> Result<Self, String> {
        let source = if inode.has(FLAG_INLINE_DATA) {
            let size = usize::try_from(inode.size).unwrap_or(usize::MAX);
            let mut data = inode.block[..size.min(60)].to_vec();
            if size > 60 {
                let tail = inode.system_xattr(b"data").unwrap_or(&[]);
                data.extend_from_slice(&tail[..tail.len().min(size - 60)]);
            }
            if data.len() < size {
                return Err(format!("inline data holds {} of {size} bytes", data.len()));
            }
            Source::Inline(data)
        } else if inode.has(FLAG_EXTENTS) {
            let (entries, _, depth) = header(&inode.block)?;
            if depth > MAX_EXTENT_DEPTH {
                return Err(format!("extent tree {depth} levels deep"));
            }
            let blocks = inode.size.div_ceil(sb.block_size);
            Source::Extents(Extents {
                stack: vec![Level {
                    node: inode.block.to_vec(),
                    next: 0,
                    entries,
                    depth,
                }],
                min_logical: 0,
                nodes_left: 1024 + blocks / 16,
            })
        } else {
            let mut map = [0u32; 15];
            for (i, m) in map.iter_mut().enumerate() {
                *m = le32(&inode.block, 4 * i);
            }
            Source::BlockMap(BlockMap {
                map,
                cached: Default::default(),
            })
        };
        Ok(Self {
            dev: dev.clone(),
            block_size: sb.block_size,
            blocks_count: sb.blocks_count,
            source,
        })
    }

    /// Inline content, when the inode keeps it in itself.
    pub fn inline(&self) -> Option<&[u8]> {
        match &self.source {
            Source::Inline(d) => Some(d),
            _ => None,
        }
    }

    fn check(&self, run: Run) -> Result<Run, String> {
        if let Some(p) = run.phys {
            if p == 0 || p.checked_add(run.len).is_none_or(|e| e > self.blocks_count) {
                return Err(format!(
                    "blocks {p}..+{} lie outside the volume of {} blocks",
                    run.len, self.blocks_count
                ));
            }
        }
        Ok(run)
    }

    /// The next run that ends after logical block `from` (`None`: no more; the rest is a hole).
    pub fn next_from(&mut self, from: u64) -> Result<Option<Run>, String> {
        let run = match &mut self.source {
            Source::Inline(_) => return Ok(None),
            Source::Extents(e) => loop {
                match e.next(&self.dev, self.block_size)? {
                    None => return Ok(None),
                    Some(r) if r.logical + r.len <= from => continue,
                    Some(r) => break r,
                }
            },
            Source::BlockMap(m) => m.run_at(&self.dev, self.block_size, self.blocks_count, from)?,
        };
        self.check(run).map(Some)
    }

    /// Physical block of the first stored run (for reading in disk order), 0 if none.
    pub fn first_physical(&mut self) -> u64 {
        match self.next_from(0) {
            Ok(Some(Run { phys: Some(p), .. })) => p,
            _ => 0,
        }
    }
}

impl Extents {
    fn next(&mut self, dev: &Device, block_size: u64) -> Result<Option<Run>, String> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            if top.next >= top.entries {
                self.stack.pop();
                continue;
            }
            let at = 12 + 12 * top.next;
            top.next += 1;
            let e = &top.node[at..at + 12];
            let logical = u64::from(le32(e, 0));
            if top.depth == 0 {
                let raw_len = le16(e, 4);
                let (len, unwritten) = if raw_len > UNWRITTEN {
                    (raw_len - UNWRITTEN, true)
                } else {
                    (raw_len, false)
                };
                let phys = u64::from(le32(e, 8)) | (u64::from(le16(e, 6)) << 32);
                if len == 0 {
                    continue;
                }
                if logical < self.min_logical {
                    return Err(format!(
                        "extent at logical block {logical} out of order (tree loops or overlaps)"
                    ));
                }
                self.min_logical = logical + u64::from(len);
                return Ok(Some(Run {
                    logical,
                    len: u64::from(len),
                    phys: (!unwritten).then_some(phys),
                }));
            }
            let child = u64::from(le32(e, 4)) | (u64::from(le16(e, 8)) << 32);
            let depth = top.depth;
            if self.nodes_left == 0 {
                return Err("extent tree has too many nodes".into());
            }
            self.nodes_left -= 1;
            let mut node = vec![0u8; usize::try_from(block_size).unwrap_or(4096)];
            let pos = child
                .checked_mul(block_size)
                .ok_or("extent node beyond the volume")?;
            dev.read_exact_at(pos, &mut node)
                .map_err(|e| format!("extent node at block {child}: {e}"))?;
            let (entries, _, child_depth) = header(&node)?;
            if child_depth + 1 != depth {
                return Err(format!(
                    "extent node at depth {child_depth} under one at depth {depth}"
                ));
            }
            self.stack.push(Level {
                node,
                next: 0,
                entries,
                depth: child_depth,
            });
        }
    }
}

impl BlockMap {
    /// Pointer `index` of indirect block `block` (cached per level).
    fn pointer(
        &mut self,
        dev: &Device,
        block_size: u64,
        blocks_count: u64,
        level: usize,
        block: u32,
        index: u64,
    ) -> Result<u32, String> {
        if u64::from(block) >= blocks_count {
            return Err(format!("indirect block {block} beyond the volume"));
        }
        let slot = &mut self.cached[level];
        if slot.0 != block || slot.1.is_empty() {
            let mut data = vec![0u8; usize::try_from(block_size).unwrap_or(4096)];
            dev.read_exact_at(u64::from(block) * block_size, &mut data)
                .map_err(|e| format!("indirect block {block}: {e}"))?;
            *slot = (block, data);
        }
        let at = usize::try_from(index * 4).unwrap_or(0);
        Ok(le32(&slot.1, at))
    }

    /// Physical block of logical block `n` (0: a hole) and, for a hole, how many blocks the
    /// zero pointer that makes it covers from `n` on.
    fn lookup(&mut self, dev: &Device, bs: u64, count: u64, n: u64) -> Result<(u32, u64), String> {
        if n < 12 {
            return Ok((self.map[usize::try_from(n).unwrap_or(0)], 1));
        }
        let per = bs / 4;
        let mut rel = n - 12;
        let mut level = 0;
        let mut span = per;
        while rel >= span {
            rel -= span;
            level += 1;
            if level == 3 {
                return Err("file larger than a block map can address".into());
            }
            span *= per;
        }
        let mut block = self.map[12 + level];
        let mut cover = span;
        for d in 0..=level {
            if block == 0 {
                return Ok((0, cover - rel));
            }
            cover /= per;
            let index = rel / cover;
            rel %= cover;
            block = self.pointer(dev, bs, count, d, block, index)?;
        }
        Ok((block, 1))
    }

    /// The run at logical block `n`: consecutive stored blocks, or a hole as long as the zero
    /// pointer that makes it.
    fn run_at(&mut self, dev: &Device, bs: u64, count: u64, n: u64) -> Result<Run, String> {
        let (phys, hole) = self.lookup(dev, bs, count, n)?;
        if phys == 0 {
            return Ok(Run {
                logical: n,
                len: hole,
                phys: None,
            });
        }
        let mut len = 1;
        while len < MAX_MAP_RUN {
            match self.lookup(dev, bs, count, n + len) {
                Ok((p, _)) if u64::from(p) == u64::from(phys) + len => len += 1,
                _ => break,
            }
        }
        Ok(Run {
            logical: n,
            len,
            phys: Some(u64::from(phys)),
        })
    }
}

/// The content of one regular file as a stream of exactly its `size` bytes.
pub struct FileData {
    runs: Runs,
    size: u64,
    pos: u64,
    current: Option<Run>,
    done: bool,
}

impl FileData {
    /// `size` is the inode's, capped by what the caller allows.
    pub fn new(runs: Runs, size: u64) -> Self {
        Self {
            runs,
            size,
            pos: 0,
            current: None,
            done: false,
        }
    }
}

impl Read for FileData {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let left = usize::try_from(self.size - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if let Some(data) = self.runs.inline() {
            let start = usize::try_from(self.pos).unwrap_or(usize::MAX);
            let n = want.min(data.len().saturating_sub(start));
            buf[..n].copy_from_slice(&data[start..start + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let bs = self.runs.block_size;
        let block = self.pos / bs;
        let within = self.pos % bs;
        let stale = self.current.is_none_or(|r| block >= r.logical + r.len);
        if stale && !self.done {
            self.current = self.runs.next_from(block).map_err(other)?;
            if self.current.is_none() {
                self.done = true;
            }
        }
        let (n, phys) = match self.current {
            Some(r) if block >= r.logical => {
                let off_in_run = (block - r.logical) * bs + within;
                let run_left = r.len * bs - off_in_run;
                let n = usize::try_from(run_left).unwrap_or(usize::MAX).min(want);
                (n, r.phys.map(|p| p * bs + off_in_run))
            }
            Some(r) => {
                let gap = (r.logical - block) * bs - within;
                (usize::try_from(gap).unwrap_or(usize::MAX).min(want), None)
            }
            None => (want, None),
        };
        match phys {
            Some(at) => self.runs.dev.read_exact_at(at, &mut buf[..n])?,
            None => buf[..n].fill(0),
        }
        self.pos += n as u64;
        Ok(n)
    }
}
