//! Journal (JBD2) replay in memory: the blocks that committed transactions would write back
//! are served from the journal instead, by a read-only overlay over the volume. Nothing is
//! ever written, not even the superblock's "needs recovery" flag.
//!
//! The log is read as the kernel's recovery reads it: from `s_start` with `s_sequence`, one
//! transaction after another (descriptor blocks with their tags, revoke blocks, a commit
//! block), until a block is not the next expected one. Only committed transactions count;
//! a revoked block is not replayed from transactions up to the revoking one. With checksum
//! v2/v3, descriptor, revoke and commit blocks must carry a valid checksum (the log ends at
//! the first one that does not, as in the kernel) and a data block whose tag checksum does
//! not match is not replayed (and noted). Fast-commit records are not replayed (noted).
//!
//! What is replayed at all follows e2fsck (`e2fsck/journal.c`), the reference the real-image
//! tests compare with. The journal is found through its inode, or, when that inode cannot be
//! a journal (no link, not a regular file, encrypted, under 1024 blocks, a block up to its
//! size unmapped or outside the volume), through the superblock's backup of the inode
//! (`s_jnl_blocks`: its `i_block` and size). A journal superblock e2fsck calls corrupt
//! (checksum v2/v3 mismatch, conflicting checksum features, a checksum type other than
//! CRC32C, more blocks than its inode holds) is not replayed at all: e2fsck then resets the
//! journal without replaying it and the kernel refuses to mount.

use std::collections::{BTreeMap, HashMap};
use std::io;

use super::data::{Run, Runs};
use super::inode::{Inode, FLAG_ENCRYPT};
use super::superblock::{crc32c_raw, Superblock};
use crate::io::{Device, ReadAt};

const MAGIC: u32 = 0xC03B_3998;
const DESCRIPTOR: u32 = 1;
const COMMIT: u32 = 2;
const SB_V1: u32 = 3;
const SB_V2: u32 = 4;
const REVOKE: u32 = 5;

const COMPAT_CHECKSUM: u32 = 0x1;
const INCOMPAT_64BIT: u32 = 0x2;
const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
const INCOMPAT_CSUM_V2: u32 = 0x8;
const INCOMPAT_CSUM_V3: u32 = 0x10;
const INCOMPAT_FAST_COMMIT: u32 = 0x20;
const KNOWN_INCOMPAT: u32 = 0x3F;

/// `s_checksum_type` of checksums v2/v3.
const CRC32C_CHKSUM: u8 = 4;
/// Bytes of the journal superblock its checksum covers (`sizeof(journal_superblock_t)`).
const JSB_SIZE: usize = 1024;
/// Fewest blocks a journal has (`JBD2_MIN_JOURNAL_BLOCKS`): e2fsck takes a smaller journal
/// inode for a damaged one.
const MIN_JOURNAL_BLOCKS: u64 = 1024;

const TAG_ESCAPE: u32 = 1;
const TAG_SAME_UUID: u32 = 2;
const TAG_LAST: u32 = 8;

/// Most runs of the journal inode followed (a real journal has a handful).
const MAX_JOURNAL_RUNS: usize = 65_536;
/// Most logged blocks and revoke records kept (a 1 GiB journal of 4 KiB blocks logs at most
/// 262,144 blocks; hostile revoke blocks could list far more records than that).
const MAX_RECORDS: usize = 1 << 22;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be16(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// One logged block: (filesystem block, byte offset of the copy in the journal, escaped).
type Tag = (u64, u64, bool);

/// What replaying found.
pub struct Replay {
    /// Filesystem block -> (byte offset of its newest copy in the journal, escaped).
    map: BTreeMap<u64, (u64, bool)>,
    pub transactions: u64,
    pub notes: Vec<String>,
    /// Something could not be replayed (fast-commit records, bad tag checksums).
    pub degraded: bool,
}

impl Replay {
    /// Blocks that replay changes.
    pub fn blocks(&self) -> usize {
        self.map.len()
    }
}

/// The journal's physical layout: logical journal block -> byte offset on the volume.
struct Log {
    dev: Device,
    bs: u64,
    /// Length of the journal in blocks (its inode's size).
    blocks: u64,
    runs: Vec<(u64, u64, u64)>,
}

impl Log {
    fn offset(&self, j: u64) -> Option<u64> {
        let i = self.runs.partition_point(|r| r.0 + r.1 <= j);
        let &(l, len, p) = self.runs.get(i)?;
        (j >= l && j < l + len).then(|| (p + j - l) * self.bs)
    }

    fn read(&self, j: u64, buf: &mut [u8]) -> Result<u64, String> {
        let at = self
            .offset(j)
            .ok_or_else(|| format!("journal block {j} is not mapped"))?;
        self.dev
            .read_exact_at(at, buf)
            .map_err(|e| format!("journal block {j}: {e}"))?;
        Ok(at)
    }
}

/// Where the journal's blocks are, from inode `inode`, if it can hold a journal: the checks
/// of e2fsck's `e2fsck_get_journal` (one link, a regular file, not encrypted, at least
/// [`MIN_JOURNAL_BLOCKS`], every block up to its size mapped inside the volume).
fn journal_runs(sb: &Superblock, dev: &Device, inode: &Inode) -> Result<Log, String> {
    if inode.links == 0 || !inode.is_regular() || inode.has(FLAG_ENCRYPT) {
        return Err(format!(
            "inode {} is not a journal (mode {:#o}, {} links)",
            inode.number, inode.mode, inode.links
        ));
    }
    let blocks = inode.size / sb.block_size;
    if blocks < MIN_JOURNAL_BLOCKS {
        return Err(format!(
            "journal of {blocks} blocks, fewer than {MIN_JOURNAL_BLOCKS}"
        ));
    }
    let mut runs = Runs::new(sb, dev, inode)?;
    let want = inode.size.div_ceil(sb.block_size);
    let mut list = Vec::new();
    let mut from = 0;
    while from < want {
        if list.len() >= MAX_JOURNAL_RUNS {
            return Err(format!("journal in more than {MAX_JOURNAL_RUNS} pieces"));
        }
        match runs.next_from(from)? {
            Some(Run {
                logical,
                len,
                phys: Some(p),
            }) if logical == from => {
                list.push((logical, len, p));
                from = logical + len;
            }
            _ => return Err(format!("journal block {from} is not mapped")),
        }
    }
    Ok(Log {
        dev: dev.clone(),
        bs: sb.block_size,
        blocks,
        runs: list,
    })
}

/// The journal's layout: from its inode, or, when that inode cannot hold a journal, from the
/// superblock's backup of it (`s_jnl_blocks`), as e2fsck does. Says which in `notes`.
fn locate(sb: &Superblock, dev: &Device, notes: &mut Vec<String>) -> Result<Log, String> {
    let ino = u64::from(sb.journal_inum);
    let why = match Inode::read(sb, dev.as_ref(), ino) {
        Ok(inode) => match journal_runs(sb, dev, &inode) {
            Ok(log) => return Ok(log),
            Err(e) => e,
        },
        Err(e) => e,
    };
    let Some((block, size)) = sb.journal_backup else {
        return Err(why);
    };
    let log = journal_runs(sb, dev, &Inode::journal_backup(ino, block, size))
        .map_err(|e| format!("{why}; its backup in the superblock: {e}"))?;
    notes.push(format!(
        "journal inode {ino} unusable ({why}): the superblock's backup of it was used"
    ));
    Ok(log)
}

/// Why the journal superblock `jsb` (the first `bs` bytes of the journal) cannot be trusted,
/// by e2fsck's `e2fsck_journal_load` (it then resets the journal without replaying it, and
/// the kernel refuses to mount): conflicting checksum features, a checksum type other than
/// CRC32C, a checksum mismatch under v2/v3.
fn superblock_problem(jsb: &[u8], incompat: u32) -> Option<String> {
    let v2v3 = incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) != 0;
    if incompat & INCOMPAT_CSUM_V2 != 0 && incompat & INCOMPAT_CSUM_V3 != 0 {
        return Some("journal superblock claims checksums v2 and v3".into());
    }
    if !v2v3 {
        return None;
    }
    if be32(jsb, 0x24) & COMPAT_CHECKSUM != 0 {
        return Some("journal superblock claims checksums v1 and v2/v3".into());
    }
    if jsb[0x50] != CRC32C_CHKSUM {
        return Some(format!("journal checksum type {}", jsb[0x50]));
    }
    let mut copy = jsb[..JSB_SIZE].to_vec();
    copy[0xFC..0x100].fill(0);
    (crc32c_raw(!0, &copy) != be32(jsb, 0xFC))
        .then(|| "journal superblock checksum mismatch".into())
}

/// Reads the journal of a volume flagged as needing recovery and works out what to replay.
pub fn replay(sb: &Superblock, dev: &Device) -> Result<Replay, String> {
    if sb.journal_inum == 0 {
        return Err("the volume needs recovery but names no journal inode".into());
    }
    let mut notes = Vec::new();
    let log = locate(sb, dev, &mut notes)?;
    let blocks = log.blocks;
    let bs = usize::try_from(sb.block_size).map_err(|_| "block size")?;
    if bs < JSB_SIZE {
        return Err("block size".into());
    }
    let mut block = vec![0u8; bs];
    log.read(0, &mut block)?;
    let kind = be32(&block, 4);
    if be32(&block, 0) != MAGIC || (kind != SB_V1 && kind != SB_V2) {
        return Err("no journal superblock".into());
    }
    let incompat = if kind == SB_V2 { be32(&block, 0x28) } else { 0 };
    if let Some(problem) = superblock_problem(&block, incompat) {
        return Err(problem);
    }
    if u64::from(be32(&block, 0xC)) != sb.block_size {
        return Err("journal block size differs from the volume's".into());
    }
    if u64::from(be32(&block, 0x10)) > blocks {
        return Err(format!(
            "journal superblock says {} blocks, its inode holds {blocks}",
            be32(&block, 0x10)
        ));
    }
    let maxlen = u64::from(be32(&block, 0x10));
    let first = u64::from(be32(&block, 0x14));
    let mut seq = be32(&block, 0x18);
    let start = u64::from(be32(&block, 0x1C));
    let mut out = Replay {
        map: BTreeMap::new(),
        transactions: 0,
        notes,
        degraded: false,
    };
    if start == 0 {
        out.notes
            .push("journal replayed in memory: it held no transaction".into());
        return Ok(out);
    }
    if incompat & !KNOWN_INCOMPAT != 0 {
        return Err(format!(
            "journal uses unknown features ({:#x})",
            incompat & !KNOWN_INCOMPAT
        ));
    }
    let v3 = incompat & INCOMPAT_CSUM_V3 != 0;
    let csum = v3 || incompat & INCOMPAT_CSUM_V2 != 0;
    let wide = incompat & INCOMPAT_64BIT != 0;
    let seed = crc32c_raw(!0, &block[0x30..0x40]);
    let mut last = maxlen;
    if incompat & INCOMPAT_FAST_COMMIT != 0 {
        let fc = match be32(&block, 0x54) {
            0 => 256,
            n => u64::from(n),
        };
        last = maxlen.saturating_sub(fc);
        if last < MIN_JOURNAL_BLOCKS {
            return Err(format!(
                "journal of {maxlen} blocks with {fc} fast-commit blocks"
            ));
        }
        out.notes
            .push("fast-commit records of the journal are not replayed".into());
        out.degraded = true;
    }
    if first == 0 || first >= last || start < first || start >= last {
        return Err(format!(
            "journal bounds: first {first}, start {start}, end {last}"
        ));
    }
    let tag_bytes: usize = if v3 {
        16
    } else {
        8 + if csum { 2 } else { 0 } + if wide { 4 } else { 0 }
    };
    let tail = if csum { 4 } else { 0 };
    let next = |j: u64| if j + 1 >= last { first } else { j + 1 };
    let block_csum_ok = |b: &[u8], at: usize| {
        let mut copy = b.to_vec();
        copy[at..at + 4].fill(0);
        crc32c_raw(seed, &copy) == be32(b, at)
    };

    // Transactions found so far: (sequence, tags (fs block, journal offset, escaped)).
    let mut committed: Vec<(u32, Vec<Tag>)> = Vec::new();
    let mut revoked: HashMap<u64, u32> = HashMap::new();
    let mut pending: Vec<Tag> = Vec::new();
    let mut pending_revokes: Vec<u64> = Vec::new();
    let mut bad_tags = 0u64;
    let mut records = 0usize;
    let mut truncated = false;
    let mut pos = start;
    let mut walked = 0u64;
    let log_len = last - first;
    let mut data = vec![0u8; bs];
    'log: while walked < log_len {
        if log.read(pos, &mut block).is_err() {
            break;
        }
        if be32(&block, 0) != MAGIC || be32(&block, 8) != seq {
            break;
        }
        walked += 1;
        match be32(&block, 4) {
            DESCRIPTOR => {
                if csum && !block_csum_ok(&block, bs - 4) {
                    break;
                }
                let mut at = 12;
                loop {
                    if at + tag_bytes > bs - tail {
                        break;
                    }
                    let t = &block[at..at + tag_bytes];
                    let (lo, flags, hi, tag_sum) = if v3 {
                        (be32(t, 0), be32(t, 4), be32(t, 8), be32(t, 12))
                    } else {
                        (
                            be32(t, 0),
                            be16(t, 6),
                            if wide { be32(t, 8) } else { 0 },
                            be16(t, 4),
                        )
                    };
                    let fs_block = u64::from(lo) | if wide { u64::from(hi) << 32 } else { 0 };
                    pos = next(pos);
                    walked += 1;
                    if walked > log_len {
                        break 'log;
                    }
                    let Ok(off) = log.read(pos, &mut data) else {
                        break 'log;
                    };
                    let sum_ok = !csum || {
                        let s = crc32c_raw(seed, &seq.to_be_bytes());
                        let s = crc32c_raw(s, &data);
                        if v3 {
                            s == tag_sum
                        } else {
                            s & 0xFFFF == tag_sum
                        }
                    };
                    records += 1;
                    if records > MAX_RECORDS {
                        truncated = true;
                        break 'log;
                    }
                    if sum_ok {
                        pending.push((fs_block, off, flags & TAG_ESCAPE != 0));
                    } else {
                        bad_tags += 1;
                    }
                    at += tag_bytes;
                    if flags & TAG_SAME_UUID == 0 {
                        at += 16;
                    }
                    if flags & TAG_LAST != 0 {
                        break;
                    }
                }
                pos = next(pos);
            }
            REVOKE => {
                if csum && !block_csum_ok(&block, bs - 4) {
                    break;
                }
                let count = usize::try_from(be32(&block, 12))
                    .unwrap_or(0)
                    .min(bs - tail);
                let size = if wide { 8 } else { 4 };
                let mut at = 16;
                while at + size <= count {
                    let b = if wide {
                        (u64::from(be32(&block, at)) << 32) | u64::from(be32(&block, at + 4))
                    } else {
                        u64::from(be32(&block, at))
                    };
                    records += 1;
                    if records > MAX_RECORDS {
                        truncated = true;
                        break 'log;
                    }
                    pending_revokes.push(b);
                    at += size;
                }
                pos = next(pos);
            }
            COMMIT => {
                if csum && incompat & INCOMPAT_ASYNC_COMMIT == 0 {
                    let mut copy = block.clone();
                    copy[0x10..0x14].fill(0);
                    if crc32c_raw(seed, &copy) != be32(&block, 0x10) {
                        break;
                    }
                }
                for b in pending_revokes.drain(..) {
                    revoked.insert(b, seq);
                }
                committed.push((seq, std::mem::take(&mut pending)));
                seq = seq.wrapping_add(1);
                pos = next(pos);
            }
            _ => break,
        }
    }
    for (tseq, tags) in &committed {
        for &(b, off, esc) in tags {
            // Revoked by this transaction or a later one: an older copy must not come back.
            if revoked
                .get(&b)
                .is_some_and(|&r| r.wrapping_sub(*tseq) as i32 >= 0)
            {
                continue;
            }
            if b < sb.blocks_count {
                out.map.insert(b, (off, esc));
            }
        }
    }
    out.transactions = committed.len() as u64;
    if truncated {
        out.notes.push(format!(
            "journal holds more than {MAX_RECORDS} records: the rest was not replayed"
        ));
        out.degraded = true;
    }
    if bad_tags > 0 {
        out.notes.push(format!(
            "{bad_tags} journal blocks with a bad checksum not replayed"
        ));
        out.degraded = true;
    }
    out.notes.insert(
        0,
        format!(
            "journal replayed in memory: {} transactions, {} blocks (nothing written)",
            out.transactions,
            out.map.len()
        ),
    );
    Ok(out)
}

/// The volume as replay leaves it: blocks of the journal's committed transactions over the
/// blocks on disk. Read-only like everything else.
pub struct Replayed {
    inner: Device,
    block_size: u64,
    map: BTreeMap<u64, (u64, bool)>,
}

impl Replayed {
    pub fn new(inner: Device, block_size: u64, replay: Replay) -> Self {
        Self {
            inner,
            block_size,
            map: replay.map,
        }
    }
}

impl ReadAt for Replayed {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        if n == 0 || self.map.is_empty() {
            return Ok(n);
        }
        let bs = self.block_size;
        let end = offset + n as u64;
        let (first, last) = (offset / bs, (end - 1) / bs);
        let bsz = usize::try_from(bs).unwrap_or(4096);
        let mut copy = Vec::new();
        for (&b, &(at, escaped)) in self.map.range(first..=last) {
            if copy.is_empty() {
                copy = vec![0u8; bsz];
            }
            self.inner.read_exact_at(at, &mut copy)?;
            if escaped {
                copy[..4].copy_from_slice(&MAGIC.to_be_bytes());
            }
            let bstart = b * bs;
            let from = bstart.max(offset);
            let to = (bstart + bs).min(end);
            let dst = usize::try_from(from - offset).unwrap_or(0);
            let src = usize::try_from(from - bstart).unwrap_or(0);
            let len = usize::try_from(to - from).unwrap_or(0);
            buf[dst..dst + len].copy_from_slice(&copy[src..src + len]);
        }
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

#[cfg(test)]
mod tests;
