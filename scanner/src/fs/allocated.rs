//! Bytes allocated on a volume, read cheaply before any walk (issue 14): the options screen
//! estimates the scan's duration from them and the progress screen's time left divides by
//! them, from the first seconds. A scan reads allocated data, not partition sizes.
//!
//! Each filesystem keeps a count or a map of what is in use; this module reads only that,
//! with its own small bounded parsers (independent of the readers, which are opened later):
//! - FAT12/16/32: the FAT's free entries (counted in the first FAT, at most [`MAX_MAP`]
//!   bytes), else FAT32's FSInfo free count;
//! - exFAT: the allocation bitmap (found in the root directory's first cluster), else the
//!   boot sector's PercentInUse;
//! - NTFS: `$Bitmap` (MFT record 6, its runs), set bits times the cluster size;
//! - ext2/3/4: the group descriptors' free block counts, else the superblock's.
//!
//! Hostile input: every offset and count is checked, reads are bounded and done in chunks
//! (never an allocation sized by the disk), and any doubt gives `None` (no estimate), never a
//! panic.

use crate::io::ReadAt;
use crate::record::FsKind;

/// Largest allocation map (FAT, bitmap, descriptor table) read for a count.
pub const MAX_MAP: u64 = 256 << 20;
const CHUNK: usize = 1 << 20;

/// Bytes allocated on the volume, when its filesystem says so cheaply.
pub fn allocated(fs: FsKind, dev: &dyn ReadAt) -> Option<u64> {
    let r = match fs {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => fat(dev),
        FsKind::Exfat => exfat(dev),
        FsKind::Ntfs => ntfs(dev),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => ext4(dev),
        _ => None,
    };
    r.filter(|&n| n <= dev.size())
}

fn read(dev: &dyn ReadAt, off: u64, len: usize) -> Option<Vec<u8>> {
    let end = off.checked_add(len as u64)?;
    if end > dev.size() {
        return None;
    }
    let mut b = vec![0u8; len];
    dev.read_exact_at(off, &mut b).ok()?;
    Some(b)
}

fn le(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(n)?)?;
    Some(s.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
}

/// Calls `f` on consecutive chunks of `len` bytes from `off` (bounded by [`MAX_MAP`]).
fn chunks(dev: &dyn ReadAt, off: u64, len: u64, mut f: impl FnMut(&[u8])) -> Option<()> {
    if len > MAX_MAP || off.checked_add(len)? > dev.size() {
        return None;
    }
    let mut buf = vec![0u8; CHUNK.min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = CHUNK.min((len - done) as usize);
        dev.read_exact_at(off + done, &mut buf[..n]).ok()?;
        f(&buf[..n]);
        done += n as u64;
    }
    Some(())
}

/// Counts the set bits of an allocation bitmap fed in chunks, ignoring the bits past `total`
/// (the padding of the last byte, and anything after the map's declared end).
struct BitCount {
    total: u64,
    bit: u64,
    used: u64,
}

impl BitCount {
    fn new(total: u64) -> Self {
        Self {
            total,
            bit: 0,
            used: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &x in bytes {
            let valid = (self.total - self.bit.min(self.total)).min(8) as u32;
            let mask = if valid >= 8 {
                0xFF
            } else {
                (1u16 << valid) as u8 - 1
            };
            self.used += u64::from((x & mask).count_ones());
            self.bit += 8;
        }
    }
}

fn fat(dev: &dyn ReadAt) -> Option<u64> {
    let b = read(dev, 0, 512)?;
    let bps = le(&b, 0x0B, 2)?;
    let spc = le(&b, 0x0D, 1)?;
    let reserved = le(&b, 0x0E, 2)?;
    let nfats = le(&b, 0x10, 1)?;
    let root_entries = le(&b, 0x11, 2)?;
    let total = match le(&b, 0x13, 2)? {
        0 => le(&b, 0x20, 4)?,
        n => n,
    };
    let fatsz = match le(&b, 0x16, 2)? {
        0 => le(&b, 0x24, 4)?,
        n => n,
    };
    if !matches!(bps, 512 | 1024 | 2048 | 4096) || spc == 0 || !spc.is_power_of_two() {
        return None;
    }
    let root_sectors = (root_entries * 32).div_ceil(bps);
    let meta = reserved + nfats * fatsz + root_sectors;
    let clusters = total.checked_sub(meta)? / spc;
    let cluster = bps * spc;
    let bits = match clusters {
        0..4085 => 12,
        4085..65525 => 16,
        _ => 32,
    };
    let fat_off = reserved * bps;
    // Whole entries per chunk: FAT16/32 chunks are multiples of their entry size, and a FAT12
    // (at most 4,084 clusters, about 6 KiB) is one chunk.
    let fat_len = ((clusters + 2) * bits).div_ceil(8).min(fatsz * bps);
    let mut free = 0u64;
    let mut idx = 0u64;
    let mut count = |v: u64| {
        if (2..clusters + 2).contains(&idx) && v == 0 {
            free += 1;
        }
        idx += 1;
    };
    let counted = chunks(dev, fat_off, fat_len, |c| match bits {
        12 => {
            for e in c.chunks(3) {
                let v = le(e, 0, e.len()).unwrap_or(1);
                count(v & 0xFFF);
                if e.len() == 3 {
                    count(v >> 12);
                }
            }
        }
        16 => c
            .chunks_exact(2)
            .for_each(|e| count(le(e, 0, 2).unwrap_or(1))),
        _ => c
            .chunks_exact(4)
            .for_each(|e| count(le(e, 0, 4).unwrap_or(1) & 0x0FFF_FFFF)),
    })
    .is_some();
    if !counted {
        // FAT32 FSInfo: a hint the driver keeps, used when the FAT is too large to count.
        let fsinfo = le(&b, 0x30, 2)?;
        let s = read(dev, fsinfo * bps, 512)?;
        if bits != 32 || le(&s, 0, 4)? != 0x4161_5252 || le(&s, 484, 4)? != 0x6141_7272 {
            return None;
        }
        free = le(&s, 488, 4)?;
        if free > clusters {
            return None;
        }
    }
    Some((clusters - free.min(clusters)) * cluster)
}

fn exfat(dev: &dyn ReadAt) -> Option<u64> {
    let b = read(dev, 0, 512)?;
    if b.get(3..11)? != b"EXFAT   " {
        return None;
    }
    let bps_shift = le(&b, 0x6C, 1)?;
    let spc_shift = le(&b, 0x6D, 1)?;
    if !(9..=12).contains(&bps_shift) || bps_shift + spc_shift > 25 {
        return None;
    }
    let bps = 1u64 << bps_shift;
    let cluster = bps << spc_shift;
    let fat_off = le(&b, 0x50, 4)? * bps;
    let heap = le(&b, 0x58, 4)? * bps;
    let count = le(&b, 0x5C, 4)?;
    let root = le(&b, 0x60, 4)?;
    let percent = le(&b, 0x70, 1)?;
    let at = |c: u64| -> Option<u64> {
        (2..count + 2)
            .contains(&c)
            .then(|| heap + (c - 2) * cluster)
    };
    let from_bitmap = || -> Option<u64> {
        let dir = read(dev, at(root)?, usize::try_from(cluster.min(1 << 20)).ok()?)?;
        let e = dir.chunks_exact(32).find(|e| e[0] == 0x81)?;
        let first = le(e, 20, 4)?;
        let len = le(e, 24, 8)?;
        if len < count.div_ceil(8) || len > MAX_MAP {
            return None;
        }
        // Follow the FAT chain of the bitmap (bounded by its length in clusters).
        let mut bits = BitCount::new(count);
        let mut c = first;
        let mut left = count.div_ceil(8);
        for _ in 0..len.div_ceil(cluster) {
            let n = left.min(cluster);
            chunks(dev, at(c)?, n, |bytes| bits.feed(bytes))?;
            left -= n;
            if left == 0 {
                return Some(bits.used * cluster);
            }
            let next = le(&read(dev, fat_off + 4 * c, 4)?, 0, 4)?;
            // A contiguous bitmap may have no chain (NoFatChain): then the next cluster.
            c = if next == 0 { c + 1 } else { next };
        }
        None
    };
    from_bitmap().or_else(|| (percent <= 100).then(|| count * cluster / 100 * percent))
}

fn ntfs(dev: &dyn ReadAt) -> Option<u64> {
    let b = read(dev, 0, 512)?;
    if b.get(3..11)? != b"NTFS    " {
        return None;
    }
    let bps = le(&b, 0x0B, 2)?;
    let spc_raw = le(&b, 0x0D, 1)?;
    let spc = if spc_raw > 0x80 {
        1u64.checked_shl(256 - spc_raw as u32)?
    } else {
        spc_raw
    };
    if !matches!(bps, 512 | 1024 | 2048 | 4096) || spc == 0 || spc > 4096 {
        return None;
    }
    let cluster = bps * spc;
    let total_clusters = le(&b, 0x28, 8)? / spc;
    let mft_lcn = le(&b, 0x30, 8)?;
    let cpr = le(&b, 0x40, 1)? as u8 as i8;
    let record = if cpr < 0 {
        1u64.checked_shl(u32::from(cpr.unsigned_abs()))?
    } else {
        u64::from(cpr as u8) * cluster
    };
    if !(512..=65536).contains(&record) {
        return None;
    }
    let mut r = read(
        dev,
        mft_lcn.checked_mul(cluster)?.checked_add(6 * record)?,
        record as usize,
    )?;
    if r.get(0..4)? != b"FILE" {
        return None;
    }
    // Update sequence: the last two bytes of each sector hold a copy of the sequence number.
    let usa = le(&r, 4, 2)? as usize;
    let usa_n = le(&r, 6, 2)? as usize;
    for i in 1..usa_n {
        let end = i * 512;
        let fix = r.get(usa + 2 * i..usa + 2 * i + 2)?.to_vec();
        if r.get(end - 2..end)? != r.get(usa..usa + 2)? {
            return None;
        }
        r[end - 2..end].copy_from_slice(&fix);
    }
    let mut at = le(&r, 0x14, 2)? as usize;
    let runs = loop {
        let ty = le(&r, at, 4)?;
        let len = le(&r, at + 4, 4)? as usize;
        if ty == 0xFFFF_FFFF || len < 16 || at + len > r.len() {
            return None;
        }
        if ty == 0x80 && r[at + 9] == 0 && r[at + 8] == 1 {
            let off = le(&r, at + 0x20, 2)? as usize;
            break r.get(at + off..at + len)?.to_vec();
        }
        at += len;
    };
    // Data runs: header (length size, offset size), length, signed LCN delta.
    let want = total_clusters.div_ceil(8);
    let mut left = want;
    let mut lcn: i64 = 0;
    let mut i = 0usize;
    let mut bits = BitCount::new(total_clusters);
    while left > 0 {
        let h = *runs.get(i)?;
        if h == 0 {
            return None;
        }
        let (ls, os) = ((h & 0xF) as usize, (h >> 4) as usize);
        if ls == 0 || ls > 8 || os > 8 || os == 0 {
            return None; // a sparse run in $Bitmap is corruption
        }
        let n = le(&runs, i + 1, ls)?;
        let mut d = le(&runs, i + 1 + ls, os)? as i64;
        if os < 8 && d & (1 << (os * 8 - 1)) != 0 {
            d -= 1 << (os * 8);
        }
        lcn = lcn.checked_add(d)?;
        i += 1 + ls + os;
        let bytes = n.checked_mul(cluster)?.min(left);
        let start = u64::try_from(lcn).ok()?.checked_mul(cluster)?;
        chunks(dev, start, bytes, |c| bits.feed(c))?;
        left -= bytes;
    }
    Some(bits.used * cluster)
}

fn ext4(dev: &dyn ReadAt) -> Option<u64> {
    let sb = read(dev, 1024, 1024)?;
    if le(&sb, 0x38, 2)? != 0xEF53 {
        return None;
    }
    let log = le(&sb, 0x18, 4)?;
    if log > 6 {
        return None;
    }
    let bs = 1024u64 << log;
    let incompat = le(&sb, 0x60, 4)?;
    let wide = incompat & 0x80 != 0;
    let hi = |at: usize| {
        if wide {
            le(&sb, at, 4).unwrap_or(0) << 32
        } else {
            0
        }
    };
    let blocks = le(&sb, 0x04, 4)? | hi(0x150);
    let sb_free = le(&sb, 0x0C, 4)? | hi(0x158);
    let first = le(&sb, 0x14, 4)?;
    let per_group = le(&sb, 0x20, 4)?;
    let desc = if wide { le(&sb, 0xFE, 2)?.max(32) } else { 32 };
    if per_group == 0 || desc > 1024 || !desc.is_power_of_two() || blocks <= first {
        return None;
    }
    let groups = (blocks - first).div_ceil(per_group);
    let from_descriptors = || -> Option<u64> {
        if incompat & 0x10 != 0 {
            return None; // meta_bg: descriptors are spread over the volume
        }
        let (mut free, mut seen) = (0u64, 0u64);
        // Descriptor sizes are powers of two: every chunk holds whole descriptors.
        chunks(dev, (first + 1) * bs, groups.checked_mul(desc)?, |c| {
            for d in c.chunks_exact(desc as usize) {
                let lo = le(d, 0x0C, 2).unwrap_or(0);
                let hi = if desc >= 64 {
                    le(d, 0x2C, 2).unwrap_or(0)
                } else {
                    0
                };
                free += lo | (hi << 16);
                seen += 1;
            }
        })?;
        (seen == groups).then_some(free)
    };
    let free = from_descriptors().unwrap_or(sb_free);
    blocks.checked_sub(free)?.checked_mul(bs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::sync::Arc;

    fn run(c: &mut Command) {
        let o = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        assert!(
            o.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn of(img: &std::path::Path, fs: FsKind) -> Option<u64> {
        let dev = crate::io::FileDevice::open(img).unwrap();
        allocated(fs, &dev)
    }

    /// Empty, then with a 3 MiB file written by the filesystem's own tools: the count grows
    /// by the file's clusters (a differential test against mtools, ntfscp, mke2fs -d).
    #[test]
    fn allocated_grows_by_the_file_written() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let data = d.join("big.bin");
        std::fs::write(&data, vec![0x5Au8; 3 << 20]).unwrap();
        let tree = d.join("tree");
        std::fs::create_dir(&tree).unwrap();
        std::fs::copy(&data, tree.join("big.bin")).unwrap();
        let mib3 = 3u64 << 20;
        let check = |name: &str, fs: FsKind, empty: &std::path::Path, full: &std::path::Path| {
            let (a, b) = (of(empty, fs).unwrap(), of(full, fs).unwrap());
            // (FAT12/16 keep the root directory outside the clusters: an empty one uses none.)
            assert!(
                a > 0 || name == "fat16",
                "{name}: empty volume has metadata allocated"
            );
            assert!(
                b >= a + mib3 && b <= a + mib3 + (256 << 10),
                "{name}: {a} then {b}"
            );
        };
        for (name, fat) in [("fat16", "16"), ("fat32", "32")] {
            let e = d.join(format!("{name}-e.img"));
            let f = d.join(format!("{name}-f.img"));
            for p in [&e, &f] {
                run(Command::new("mkfs.vfat")
                    .args(["-C", "-F", fat])
                    .arg(p)
                    .arg("65536"));
            }
            run(Command::new("mcopy")
                .arg("-i")
                .arg(&f)
                .arg(&data)
                .arg("::/big.bin"));
            let kind = if fat == "16" {
                FsKind::Fat16
            } else {
                FsKind::Fat32
            };
            check(name, kind, &e, &f);
        }
        let e = d.join("ntfs-e.img");
        let f = d.join("ntfs-f.img");
        for p in [&e, &f] {
            run(Command::new("truncate").args(["-s", "32M"]).arg(p));
            run(Command::new("mkntfs").args(["-F", "-Q", "-q"]).arg(p));
        }
        run(Command::new("ntfscp")
            .arg("-q")
            .arg(&f)
            .arg(&data)
            .arg("big.bin"));
        check("ntfs", FsKind::Ntfs, &e, &f);
        let e = d.join("ext4-e.img");
        let f = d.join("ext4-f.img");
        let empty_tree = d.join("empty");
        std::fs::create_dir(&empty_tree).unwrap();
        for (p, src) in [(&e, &empty_tree), (&f, &tree)] {
            run(Command::new("mke2fs")
                .args(["-q", "-F", "-t", "ext4", "-d"])
                .arg(src)
                .arg(p)
                .arg("32M"));
        }
        check("ext4", FsKind::Ext4, &e, &f);
        // exFAT: an empty volume holds its bitmap, up-case table and root directory only.
        let x = d.join("exfat.img");
        run(Command::new("truncate").args(["-s", "64M"]).arg(&x));
        run(Command::new("mkfs.exfat").arg(&x));
        let a = of(&x, FsKind::Exfat).unwrap();
        assert!(a > 0 && a < 1 << 20, "exfat: {a}");
    }

    #[test]
    fn garbage_gives_no_estimate_and_never_panics() {
        let mut seed = 0x1234_5678u32;
        for round in 0..300 {
            let mut b = vec![0u8; 1 << 16];
            for x in b.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *x = seed as u8;
            }
            // Plausible headers, hostile fields.
            match round % 4 {
                0 => b[3..11].copy_from_slice(b"NTFS    "),
                1 => b[3..11].copy_from_slice(b"EXFAT   "),
                2 => {
                    b[1080] = 0x53;
                    b[1081] = 0xEF;
                }
                _ => {
                    b[0x0B] = 0;
                    b[0x0C] = 2;
                }
            }
            let dev: Arc<dyn ReadAt> = Arc::new(crate::io::MemDevice(Arc::new(b)));
            for fs in [FsKind::Ntfs, FsKind::Exfat, FsKind::Ext4, FsKind::Fat32] {
                if let Some(n) = allocated(fs, dev.as_ref()) {
                    assert!(n <= dev.size());
                }
            }
        }
    }
}
