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

use std::collections::{BTreeMap, HashMap};
use std::io;

use super::data::Runs;
use super::inode::Inode;
use super::superblock::{crc32c_raw, Superblock};
use crate::io::{Device, ReadAt};

const MAGIC: u32 = 0xC03B_3998;
const DESCRIPTOR: u32 = 1;
const COMMIT: u32 = 2;
const SB_V1: u32 = 3;
const SB_V2: u32 = 4;
const REVOKE: u32 = 5;

const INCOMPAT_64BIT: u32 = 0x2;
const INCOMPAT_ASYNC_COMMIT: u32 = 0x4;
const INCOMPAT_CSUM_V2: u32 = 0x8;
const INCOMPAT_CSUM_V3: u32 = 0x10;
const INCOMPAT_FAST_COMMIT: u32 = 0x20;
const KNOWN_INCOMPAT: u32 = 0x3F;

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

/// Reads the journal of a volume flagged as needing recovery and works out what to replay.
pub fn replay(sb: &Superblock, dev: &Device) -> Result<Replay, String> {
    if sb.journal_inum == 0 {
        return Err("the volume needs recovery but names no journal inode".into());
    }
    let inode = Inode::read(sb, dev.as_ref(), u64::from(sb.journal_inum))?;
    let mut runs = Runs::new(sb, dev, &inode)?;
    let blocks = inode.size / sb.block_size;
    let mut list = Vec::new();
    let mut from = 0;
    while from < blocks && list.len() < MAX_JOURNAL_RUNS {
        match runs.next_from(from)? {
            Some(r) => {
                if let Some(p) = r.phys {
                    list.push((r.logical, r.len, p));
                }
                from = r.logical + r.len;
            }
            None => break,
        }
    }
    let log = Log {
        dev: dev.clone(),
        bs: sb.block_size,
        runs: list,
    };
    let bs = usize::try_from(sb.block_size).map_err(|_| "block size")?;
    let mut block = vec![0u8; bs];
    log.read(0, &mut block)?;
    let kind = be32(&block, 4);
    if be32(&block, 0) != MAGIC || (kind != SB_V1 && kind != SB_V2) {
        return Err("no journal superblock".into());
    }
    if u64::from(be32(&block, 0xC)) != sb.block_size {
        return Err("journal block size differs from the volume's".into());
    }
    let maxlen = u64::from(be32(&block, 0x10)).min(blocks);
    let first = u64::from(be32(&block, 0x14));
    let mut seq = be32(&block, 0x18);
    let start = u64::from(be32(&block, 0x1C));
    let incompat = if kind == SB_V2 { be32(&block, 0x28) } else { 0 };
    let mut out = Replay {
        map: BTreeMap::new(),
        transactions: 0,
        notes: Vec::new(),
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
