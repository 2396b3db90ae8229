//! An append-only FAT32 writer for the stick's log partition, written for power-cut safety.
//!
//! `fatfs` 0.3.6 is a fine reader, but as a writer it sets the volume dirty bit while mounted,
//! allocates one cluster at a time (each FAT entry written to both FATs in turn), updates file
//! sizes lazily and writes `create_dir` folders that `fsck.fat` rejects. Any power cut while it
//! writes leaves an inconsistent volume. This module only ever *adds*: a new tree (a folder with
//! its files, or one file) under an existing directory, or bytes at the end of an existing file.
//! Old records are never rewritten. Every operation is a transaction whose writes are ordered:
//!
//! 1. Content: file data, and the directory clusters of new folders (`.`/`..` first, then the
//!    entries), into clusters the FAT says are free. A cut here changes nothing visible.
//!    Filler deleted entries (`0xE5`) in free slots of the parent, so the new entry can sit in
//!    one sector. Barrier (`sync_data`).
//! 2. The FAT: one write per FAT copy covering the changed entries (new chains, a directory or
//!    the appended file extended). Barrier.
//! 3. The one parent directory sector holding the new entry (long-name entries and short entry
//!    together), or the appended file's new size. Barrier. This is the commit.
//!
//! Step 2 is the only window in which `fsck.fat -n` can complain (between the FAT writes and the
//! directory sector: "FATs differ" and unused clusters); no earlier data is touched and a
//! cut there loses only the new record. A FAT can not be made to describe a new allocation in
//! one sector write: the FAT and the directory live in different sectors, and there are two FAT
//! copies. The window is three sector-sized writes long; the unit tests cut after every write
//! and check exactly that. Appends that fit in the last cluster's slack skip step 2 and are
//! atomic. The FSInfo free count is set to "unknown" once (allowed by the specification and
//! accepted by fsck.fat) so that it never has to be kept in step.
//!
//! Why no ordering closes the window (issue 16, read from dosfstools' `check.c`/`fat.c`):
//! `fsck.fat -n` is clean only if the FAT copies are identical, every allocated cluster is
//! owned by a directory entry's chain (an unowned entry marked bad is tolerated, any other
//! non-zero one is "reclaimed"), no chain reaches a free or bad cluster, and each file's chain
//! has exactly `ceil(size / cluster)` clusters (folders may be any length; every slot of a
//! folder's clusters is parsed, so they must hold free slots or real entries). A sector write
//! changes either the FAT or a directory, never both. A FAT-only change cannot give a chain
//! to a new entry (its first cluster is in the entry), and a directory-only change can only
//! point entries at chains that already exist and are owned. So the number of chains on the
//! volume cannot grow through writes that each leave a clean volume: a save that creates
//! files needs chains made at image build time. The design that reaches zero (not built yet):
//! the image builder (and the desk tool) leave hidden token folders in the folders a save
//! writes to; a save grows a token FAT-only (a folder's length is free), turns it into a file
//! of that chain's length (one directory sector), writes the data into it (a file's content
//! is never parsed), then commits with one directory sector that names it (and, for the index,
//! swaps it with the old file, which becomes the next token). With one FAT copy (`fats = 1`,
//! needs a check of Windows' acceptance) today's window would shrink to the orphan state.

mod token;

use std::collections::BTreeMap;
use std::io;

pub use token::{Token, ATTR_TOKEN};

/// Where the bytes go: a device, an image file, or a test double.
pub trait Store {
    /// Reads exactly `buf.len()` bytes at `off`.
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at `off`.
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()>;
    /// Orders the writes: everything before reaches the medium before anything after.
    fn barrier(&mut self) -> io::Result<()>;
}

impl<T: Store + ?Sized> Store for &mut T {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_at(off, buf)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        (**self).write_at(off, buf)
    }
    fn barrier(&mut self) -> io::Result<()> {
        (**self).barrier()
    }
}

impl Store for std::fs::File {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, off)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, off)
    }
    fn barrier(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// Why the log partition could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FatError {
    /// I/O error on the device.
    #[error("log partition I/O: {0}")]
    Io(#[from] io::Error),
    /// Not a FAT32 volume this writer accepts.
    #[error("log partition is not a usable FAT32 volume: {0}")]
    NotFat32(String),
    /// Inconsistent structures (a chain loop, an entry out of range).
    #[error("log partition damaged: {0}")]
    Corrupt(String),
    /// Not enough free clusters.
    #[error("log partition full: {need} clusters needed, {free} free")]
    Full {
        /// Clusters needed.
        need: u64,
        /// Clusters free.
        free: u64,
    },
    /// The name is already used in that directory.
    #[error("already exists: {0}")]
    Exists(String),
    /// A path component is missing.
    #[error("not found: {0}")]
    NotFound(String),
    /// No token can take this content (none left, too large, no room for the name): nothing
    /// was written; the caller falls back to the ordered writer.
    #[error("no prepared space: {0}")]
    NoToken(String),
}

type R<T> = Result<T, FatError>;

/// Lays out a new entry's content; returns its directory slot bytes (see [`Vol::add`]).
type Placer<'a, S> = dyn FnMut(&mut Vol<S>, &mut Vec<[u8; 11]>) -> R<Vec<u8>> + 'a;

const EOC: u32 = 0x0FFF_FFFF;
const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_LFN: u8 = 0x0F;
/// A log partition larger than this many clusters is refused (FAT kept in memory).
const MAX_CLUSTERS: u32 = 16 << 20;
/// Largest folder: 65,536 entries of 32 bytes (the FAT specification's limit).
const MAX_DIR_BYTES: u64 = 65_536 * 32;

/// A directory entry as read.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Long name, or the short name as `NAME.EXT`.
    pub name: String,
    /// The raw 8.3 name.
    pub short: [u8; 11],
    /// Attributes.
    pub attr: u8,
    /// First cluster (0 for an empty file).
    pub start: u32,
    /// Size in bytes (files).
    pub size: u32,
    /// Byte offset of the short entry on the volume.
    pub pos: u64,
}

impl Entry {
    /// Whether it is a folder.
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIR != 0
    }
}

/// What to add: a file or a folder of nodes.
#[derive(Debug, Clone)]
pub enum Node {
    /// A file with its content.
    File(String, Vec<u8>),
    /// A folder with its children.
    Dir(String, Vec<Node>),
}

impl Node {
    fn name(&self) -> &str {
        match self {
            Node::File(n, _) | Node::Dir(n, _) => n,
        }
    }
}

/// DOS date and time for the entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct DosTime {
    /// Packed date.
    pub date: u16,
    /// Packed time.
    pub time: u16,
}

impl DosTime {
    /// From a Unix time (UTC); clamped to 1980.
    pub fn from_unix(secs: u64) -> Self {
        let (y, m, d, hh, mm, ss) = crate::init::logpart::civil(secs);
        if y < 1980 {
            return Self {
                date: (1 << 5) | 1,
                time: 0,
            };
        }
        let y = (y - 1980).min(127) as u16;
        Self {
            date: (y << 9) | ((m as u16) << 5) | d as u16,
            time: ((hh as u16) << 11) | ((mm as u16) << 5) | (ss as u16 / 2),
        }
    }
}

/// An open FAT32 volume.
pub struct Vol<S: Store> {
    s: S,
    bps: u64,
    cluster: u64,
    fat_start: u64,
    fat_bytes: u64,
    nfats: u64,
    data_start: u64,
    root: u32,
    /// Highest valid cluster number + 1.
    end: u32,
    fat: Vec<u32>,
    /// Entries changed in this transaction.
    dirty: BTreeMap<u32, u32>,
    time: DosTime,
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

impl<S: Store> Vol<S> {
    /// Reads the boot sector and the first FAT; sets FSInfo's free count to "unknown" once.
    pub fn open(s: S, time: DosTime) -> R<Self> {
        Self::open_inner(s, time, true)
    }

    /// Opens for reading only: nothing is written (not even FSInfo).
    pub fn open_read_only(s: S) -> R<Self> {
        Self::open_inner(s, DosTime::default(), false)
    }

    fn open_inner(mut s: S, time: DosTime, write: bool) -> R<Self> {
        let mut b = [0u8; 512];
        s.read_at(0, &mut b)?;
        if b[510] != 0x55 || b[511] != 0xAA {
            return Err(FatError::NotFat32("no boot signature".into()));
        }
        let bps = u64::from(le16(&b, 11));
        let spc = u64::from(b[13]);
        let rsvd = u64::from(le16(&b, 14));
        let nfats = u64::from(b[16]);
        let root_ents = le16(&b, 17);
        let fat16 = le16(&b, 22);
        let total = match le16(&b, 19) {
            0 => u64::from(le32(&b, 32)),
            n => u64::from(n),
        };
        let fat_sectors = u64::from(le32(&b, 36));
        let root = le32(&b, 44);
        let fsinfo = u64::from(le16(&b, 48));
        if ![512, 1024, 2048, 4096].contains(&bps)
            || !spc.is_power_of_two()
            || spc * bps > 65536
            || rsvd == 0
            || !(1..=4).contains(&nfats)
        {
            return Err(FatError::NotFat32("bad geometry".into()));
        }
        if fat16 != 0 || root_ents != 0 || fat_sectors == 0 {
            return Err(FatError::NotFat32("FAT12/16".into()));
        }
        let data_sector = rsvd + nfats * fat_sectors;
        if total <= data_sector {
            return Err(FatError::NotFat32("no data area".into()));
        }
        let clusters = (total - data_sector) / spc;
        let by_fat = fat_sectors * bps / 4;
        let end = (clusters + 2).min(by_fat);
        if end > u64::from(MAX_CLUSTERS) || end <= 3 {
            return Err(FatError::NotFat32(format!("{clusters} clusters")));
        }
        let end = end as u32;
        if root < 2 || root >= end {
            return Err(FatError::Corrupt("root cluster out of range".into()));
        }
        let fat_start = rsvd * bps;
        let mut raw = vec![0u8; end as usize * 4];
        s.read_at(fat_start, &mut raw)?;
        let fat = raw
            .chunks_exact(4)
            .map(|c| le32(c, 0) & 0x0FFF_FFFF)
            .collect();
        let mut v = Self {
            s,
            bps,
            cluster: spc * bps,
            fat_start,
            fat_bytes: fat_sectors * bps,
            nfats,
            data_start: data_sector * bps,
            root,
            end,
            fat,
            dirty: BTreeMap::new(),
            time,
        };
        if write && fsinfo > 0 && fsinfo < rsvd {
            let mut fi = vec![0u8; bps as usize];
            v.s.read_at(fsinfo * bps, &mut fi)?;
            let valid = le32(&fi, 0) == 0x4161_5252 && le32(&fi, 484) == 0x6141_7272;
            if valid && (le32(&fi, 488) != u32::MAX || le32(&fi, 492) != u32::MAX) {
                // Unknown free count and no hint: valid, and never stale.
                v.s.write_at(fsinfo * bps + 488, &[0xFF; 8])?;
                v.s.barrier()?;
            }
        }
        Ok(v)
    }

    /// The underlying store.
    pub fn into_inner(self) -> S {
        self.s
    }

    /// The root folder's first cluster.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        self.cluster
    }

    /// Free clusters.
    pub fn free_clusters(&self) -> u64 {
        self.fat[2..].iter().filter(|&&e| e == 0).count() as u64
    }

    fn cpos(&self, c: u32) -> u64 {
        self.data_start + u64::from(c - 2) * self.cluster
    }

    /// The chain from `first`, bounded and loop-checked.
    pub fn chain(&self, first: u32) -> R<Vec<u32>> {
        let mut out = Vec::new();
        let mut c = first;
        while c >= 2 && c < self.end {
            if out.len() >= self.end as usize {
                return Err(FatError::Corrupt(format!("loop in chain from {first}")));
            }
            out.push(c);
            let next = self.fat[c as usize];
            if next >= 0x0FFF_FFF8 {
                return Ok(out);
            }
            if next < 2 || next >= self.end {
                return Err(FatError::Corrupt(format!("bad link {c} -> {next}")));
            }
            c = next;
        }
        if out.is_empty() && first != 0 {
            return Err(FatError::Corrupt(format!("bad first cluster {first}")));
        }
        Ok(out)
    }

    /// Reads a whole file by its entry (bounded by its size).
    pub fn read_file(&mut self, e: &Entry) -> R<Vec<u8>> {
        let chain = self.chain(e.start)?;
        if u64::from(e.size) > chain.len() as u64 * self.cluster {
            return Err(FatError::Corrupt(format!("{}: chain too short", e.name)));
        }
        // Grown as clusters are read, never preallocated by a size read from the stick.
        let mut out = Vec::with_capacity((e.size as usize).min(1 << 20));
        for c in chain {
            if out.len() >= e.size as usize {
                break;
            }
            let mut buf = vec![0u8; self.cluster as usize];
            self.s.read_at(self.cpos(c), &mut buf)?;
            let n = (e.size as usize - out.len()).min(buf.len());
            out.extend_from_slice(&buf[..n]);
        }
        if out.len() != e.size as usize {
            return Err(FatError::Corrupt(format!("{}: chain too short", e.name)));
        }
        Ok(out)
    }

    /// Raw directory slots: (position, 32 bytes) for each slot of the folder's chain.
    fn slots(&mut self, dir: u32) -> R<Vec<(u64, [u8; 32])>> {
        let chain = self.chain(dir)?;
        // The FAT specification caps a folder at 65,536 entries (2 MiB): a longer chain is a
        // crafted stick, and reading it whole would exhaust PID 1's memory.
        if chain.len() as u64 * self.cluster > MAX_DIR_BYTES {
            return Err(FatError::Corrupt(format!(
                "folder at cluster {dir} over 2 MiB"
            )));
        }
        let mut out = Vec::new();
        for c in chain {
            let mut buf = vec![0u8; self.cluster as usize];
            let pos = self.cpos(c);
            self.s.read_at(pos, &mut buf)?;
            for (i, e) in buf.chunks_exact(32).enumerate() {
                let mut a = [0u8; 32];
                a.copy_from_slice(e);
                out.push((pos + i as u64 * 32, a));
            }
        }
        Ok(out)
    }

    /// The entries of a folder (no `.`/`..`, no volume label).
    pub fn list(&mut self, dir: u32) -> R<Vec<Entry>> {
        let mut out = Vec::new();
        // (sequence number, name units, checksum of the short name it belongs to)
        let mut lfn: Vec<(u8, [u16; 13], u8)> = Vec::new();
        for (pos, e) in self.slots(dir)? {
            if e[0] == 0 {
                break;
            }
            if e[0] == 0xE5 {
                lfn.clear();
                continue;
            }
            if e[11] == ATTR_LFN {
                let mut part = [0u16; 13];
                for (i, o) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                    .iter()
                    .enumerate()
                {
                    part[i] = le16(&e, *o);
                }
                lfn.push((e[0] & 0x3F, part, e[13]));
                continue;
            }
            if e[11] & 0x08 != 0 || e[0] == b'.' {
                lfn.clear();
                continue;
            }
            let mut short = [0u8; 11];
            short.copy_from_slice(&e[..11]);
            let sum = sfn_checksum(&short);
            // A long name left over from another entry (checksum mismatch) is not this one's:
            // use the short name, never another file's long name.
            if lfn.iter().any(|(_, _, c)| *c != sum) {
                lfn.clear();
            }
            let name = if lfn.is_empty() {
                short_display(&short, e[12])
            } else {
                lfn.sort_by_key(|(n, _, _)| *n);
                let units: Vec<u16> = lfn
                    .iter()
                    .flat_map(|(_, p, _)| p.iter().copied())
                    .take_while(|&u| u != 0 && u != 0xFFFF)
                    .collect();
                String::from_utf16_lossy(&units)
            };
            lfn.clear();
            let start = (u32::from(le16(&e, 20)) << 16) | u32::from(le16(&e, 26));
            out.push(Entry {
                name,
                short,
                attr: e[11],
                start,
                size: le32(&e, 28),
                pos,
            });
        }
        Ok(out)
    }

    /// Finds a name (case-insensitive) in a folder.
    pub fn find(&mut self, dir: u32, name: &str) -> R<Option<Entry>> {
        Ok(self
            .list(dir)?
            .into_iter()
            .find(|e| e.name.eq_ignore_ascii_case(name)))
    }

    /// Walks a `/`-separated folder path from the root.
    pub fn find_dir(&mut self, path: &str) -> R<Option<u32>> {
        let mut dir = self.root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            match self.find(dir, part)? {
                // A folder starting below cluster 2 (corrupt or hostile stick) would make
                // `add` link into FAT[0]/FAT[1].
                Some(e) if e.is_dir() && e.start < 2 => {
                    return Err(FatError::Corrupt(format!(
                        "folder {part} starts at cluster {}",
                        e.start
                    )))
                }
                Some(e) if e.is_dir() => dir = e.start,
                _ => return Ok(None),
            }
        }
        Ok(Some(dir))
    }

    fn set(&mut self, c: u32, v: u32) {
        self.fat[c as usize] = v;
        self.dirty.insert(c, v);
    }

    /// Reserves `n` clusters (in memory) as one chain; nothing is written.
    fn alloc(&mut self, n: u64) -> R<Vec<u32>> {
        // From the end of the volume down: tokens are laid down from the start (see `token`),
        // and the free clusters of their FAT sectors are what they grow into.
        let mut got = Vec::new();
        let mut c = self.end;
        while (got.len() as u64) < n && c > 2 {
            c -= 1;
            if self.fat[c as usize] == 0 {
                got.push(c);
            }
        }
        got.reverse();
        if (got.len() as u64) < n {
            let free = self.free_clusters();
            self.rollback();
            return Err(FatError::Full { need: n, free });
        }
        for w in got.windows(2) {
            self.set(w[0], w[1]);
        }
        if let Some(&l) = got.last() {
            self.set(l, EOC);
        }
        Ok(got)
    }

    /// Forgets reservations of a failed transaction (reloads nothing: entries were free).
    fn rollback(&mut self) {
        let d = std::mem::take(&mut self.dirty);
        for c in d.keys() {
            self.fat[*c as usize] = 0;
        }
    }

    fn write_chain(&mut self, chain: &[u32], data: &[u8]) -> R<()> {
        let cs = self.cluster as usize;
        // Contiguous runs in one write each.
        let mut i = 0;
        while i < chain.len() {
            let mut j = i + 1;
            while j < chain.len() && chain[j] == chain[j - 1] + 1 {
                j += 1;
            }
            let mut buf = vec![0u8; (j - i) * cs];
            let from = (i * cs).min(data.len());
            let to = (j * cs).min(data.len());
            buf[..to - from].copy_from_slice(&data[from..to]);
            let pos = self.cpos(chain[i]);
            self.s.write_at(pos, &buf)?;
            i = j;
        }
        Ok(())
    }

    /// Writes the changed FAT entries: one write per copy spanning the changed sectors.
    fn write_fat(&mut self) -> R<()> {
        let (Some(&lo), Some(&hi)) = (self.dirty.keys().next(), self.dirty.keys().next_back())
        else {
            return Ok(());
        };
        let first = u64::from(lo) * 4 / self.bps * self.bps;
        let last = (u64::from(hi) * 4 / self.bps + 1) * self.bps;
        let last = last.min(self.fat_bytes);
        for k in 0..self.nfats {
            let base = self.fat_start + k * self.fat_bytes;
            let mut buf = vec![0u8; (last - first) as usize];
            self.s.read_at(base + first, &mut buf)?;
            for (&c, &v) in &self.dirty {
                let o = (u64::from(c) * 4 - first) as usize;
                let old = le32(&buf, o) & 0xF000_0000;
                buf[o..o + 4].copy_from_slice(&(old | v).to_le_bytes());
            }
            self.s.write_at(base + first, &buf)?;
        }
        self.dirty.clear();
        Ok(())
    }

    /// Directory slot bytes for a new entry (long-name entries then the short entry).
    fn entry_bytes(&self, name: &str, short: [u8; 11], attr: u8, start: u32, size: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let units: Vec<u16> = name.encode_utf16().collect();
        let needs_lfn = short_display(&short, 0) != name;
        if needs_lfn {
            let sum = sfn_checksum(&short);
            let n = units.len().div_ceil(13);
            for k in (0..n).rev() {
                let mut e = [0u8; 32];
                e[0] = (k as u8 + 1) | if k == n - 1 { 0x40 } else { 0 };
                e[11] = ATTR_LFN;
                e[13] = sum;
                for (i, o) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                    .iter()
                    .enumerate()
                {
                    let idx = k * 13 + i;
                    let u = match idx.cmp(&units.len()) {
                        std::cmp::Ordering::Less => units[idx],
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 0xFFFF,
                    };
                    e[*o..*o + 2].copy_from_slice(&u.to_le_bytes());
                }
                out.extend_from_slice(&e);
            }
        }
        out.extend_from_slice(&self.short_entry(short, attr, start, size));
        out
    }

    fn short_entry(&self, short: [u8; 11], attr: u8, start: u32, size: u32) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(&short);
        e[11] = attr;
        let t = self.time;
        e[14..16].copy_from_slice(&t.time.to_le_bytes());
        e[16..18].copy_from_slice(&t.date.to_le_bytes());
        e[18..20].copy_from_slice(&t.date.to_le_bytes());
        e[20..22].copy_from_slice(&((start >> 16) as u16).to_le_bytes());
        e[22..24].copy_from_slice(&t.time.to_le_bytes());
        e[24..26].copy_from_slice(&t.date.to_le_bytes());
        e[26..28].copy_from_slice(&(start as u16).to_le_bytes());
        e[28..32].copy_from_slice(&size.to_le_bytes());
        e
    }

    /// Lays out a node into reserved clusters and writes its content; returns the short entry
    /// fields (start, size).
    fn place(&mut self, node: &Node, parent: u32, taken: &mut Vec<[u8; 11]>) -> R<Vec<u8>> {
        let short = unique_short(node.name(), taken);
        taken.push(short);
        match node {
            Node::File(name, data) => {
                let size = u32::try_from(data.len())
                    .map_err(|_| FatError::Corrupt(format!("{name}: over 4 GiB")))?;
                let n = (data.len() as u64).div_ceil(self.cluster);
                let chain = self.alloc(n)?;
                self.write_chain(&chain, data)?;
                let start = chain.first().copied().unwrap_or(0);
                Ok(self.entry_bytes(name, short, ATTR_ARCHIVE, start, size))
            }
            Node::Dir(name, kids) => {
                let slots: u64 = 2 + kids
                    .iter()
                    .map(|k| 1 + k.name().encode_utf16().count().div_ceil(13) as u64)
                    .sum::<u64>();
                let n = (slots * 32).div_ceil(self.cluster).max(1);
                let chain = self.alloc(n)?;
                let me = chain[0];
                let mut body = Vec::new();
                let dot = *b".          ";
                let dotdot = *b"..         ";
                body.extend_from_slice(&self.short_entry(dot, ATTR_DIR, me, 0));
                // `..` of a folder in the root is 0 on FAT32 (what fsck.fat expects).
                let up = if parent == self.root { 0 } else { parent };
                body.extend_from_slice(&self.short_entry(dotdot, ATTR_DIR, up, 0));
                let mut kid_taken = Vec::new();
                for k in kids {
                    let b = self.place(k, me, &mut kid_taken)?;
                    body.extend_from_slice(&b);
                }
                self.write_chain(&chain, &body)?;
                Ok(self.entry_bytes(name, short, ATTR_DIR, me, 0))
            }
        }
    }

    /// Adds `node` (a file, or a folder tree) under folder `dir`, in the order described in
    /// the module comment. Fails with `Exists` if the name is taken.
    pub fn add(&mut self, dir: u32, node: &Node) -> R<()> {
        self.add_entry(dir, node.name(), 0, &mut |v, taken| {
            v.place(node, dir, taken)
        })
    }

    /// Lays down a token (see [`token`]) under folder `dir`, after `room` deleted slots in
    /// the same sector (the long-name slots of the name it will get), with the ordered writer.
    pub fn add_token(&mut self, dir: u32, room: usize, t: &Token) -> R<()> {
        self.add_entry(dir, t.name(), room, &mut |v, _| v.place_token(t, dir))
    }

    fn add_entry(
        &mut self,
        dir: u32,
        name: &str,
        room: usize,
        place: &mut Placer<'_, S>,
    ) -> R<()> {
        let slots = self.slots(dir)?;
        let mut taken = Vec::new();
        for (_, e) in &slots {
            if e[0] == 0 {
                break;
            }
            if e[0] != 0xE5 && e[11] != ATTR_LFN {
                let mut s = [0u8; 11];
                s.copy_from_slice(&e[..11]);
                taken.push(s);
            }
        }
        if self.find(dir, name)?.is_some() {
            return Err(FatError::Exists(name.to_string()));
        }
        // Everything below is reserved in memory first: a full partition fails before any write.
        let need = {
            let mut t = taken.clone();
            let short = unique_short(name, &mut t);
            room + self.entry_bytes(name, short, 0, 0, 0).len() / 32
        };
        let per_sector = (self.bps / 32) as usize;
        // First end-of-directory slot, and the first sector-aligned run of `need` slots at or
        // after it.
        let end_idx = slots.iter().position(|(_, e)| e[0] == 0);
        let fits = |i: usize| i % per_sector + need <= per_sector;
        let mut at = None;
        if let Some(i) = end_idx {
            let mut j = i;
            while j < slots.len() {
                if fits(j) && j + need <= slots.len() {
                    at = Some(j);
                    break;
                }
                j += 1;
            }
        }
        let mut entry = vec![0u8; 0];
        for _ in 0..room {
            let mut d = [0u8; 32];
            d[0] = 0xE5;
            entry.extend_from_slice(&d);
        }
        let placed = place(self, &mut taken).inspect_err(|_| self.rollback())?;
        entry.extend_from_slice(&placed);
        match (end_idx, at) {
            (Some(i), Some(j)) => {
                // Filler between the end marker and the run: deleted entries (free slots).
                for (pos, _) in &slots[i..j] {
                    let mut d = [0u8; 32];
                    d[0] = 0xE5;
                    self.s.write_at(*pos, &d)?;
                }
                self.s.barrier()?;
                self.write_fat()?;
                self.s.barrier()?;
                self.s.write_at(slots[j].0, &entry)?;
                self.s.barrier()?;
            }
            (end, _) => {
                // The folder is full (to the end of its chain): extend it by one cluster that
                // holds the entry; the FAT write commits it.
                let new = match self.alloc(1) {
                    Ok(c) => c[0],
                    Err(e) => {
                        self.rollback();
                        return Err(e);
                    }
                };
                let mut body = vec![0u8; self.cluster as usize];
                body[..entry.len()].copy_from_slice(&entry);
                let pos = self.cpos(new);
                self.s.write_at(pos, &body)?;
                if let Some(i) = end {
                    for (pos, _) in &slots[i..] {
                        let mut d = [0u8; 32];
                        d[0] = 0xE5;
                        self.s.write_at(*pos, &d)?;
                    }
                }
                let last = self.chain(dir)?.last().copied().unwrap_or(dir);
                // `alloc` marked `new` EOC; link the folder's last cluster to it.
                self.set(last, new);
                self.s.barrier()?;
                self.write_fat()?;
                self.s.barrier()?;
            }
        }
        Ok(())
    }

    /// Appends bytes to an existing file: into the last cluster's slack and new clusters,
    /// then the FAT, then the size in the directory entry (the commit).
    pub fn append(&mut self, e: &Entry, data: &[u8]) -> R<()> {
        if e.is_dir() {
            return Err(FatError::Corrupt(format!("{} is a folder", e.name)));
        }
        let new_size = u64::from(e.size) + data.len() as u64;
        let new_size32 = u32::try_from(new_size)
            .map_err(|_| FatError::Corrupt(format!("{}: over 4 GiB", e.name)))?;
        let mut chain = self.chain(e.start)?;
        let mut start = e.start;
        let keep = u64::from(e.size).div_ceil(self.cluster);
        if (chain.len() as u64) < keep {
            return Err(FatError::Corrupt(format!(
                "{}: chain shorter than size",
                e.name
            )));
        }
        if chain.len() as u64 > keep {
            // A cut between the FAT and the size update of an earlier append: give the extra
            // clusters back in this transaction's FAT write.
            let keep = keep as usize;
            for &c in &chain[keep..] {
                self.set(c, 0);
            }
            match keep {
                0 => start = 0,
                k => self.set(chain[k - 1], EOC),
            }
            chain.truncate(keep);
        }
        let have = chain.len() as u64;
        let need = new_size.div_ceil(self.cluster);
        let extra = if need > have {
            self.alloc(need - have)?
        } else {
            Vec::new()
        };
        let mut first_data = data;
        if let Some(&last) = chain.last() {
            let used = u64::from(e.size) - (have - 1) * self.cluster;
            let room = (self.cluster - used) as usize;
            let n = room.min(data.len());
            if n > 0 {
                let pos = self.cpos(last) + used;
                self.s.write_at(pos, &data[..n])?;
            }
            first_data = &data[n..];
        }
        self.write_chain(&extra, first_data)?;
        if let Some(&f) = extra.first() {
            match chain.last() {
                Some(&l) => self.set(l, f),
                None => start = f,
            }
        }
        self.s.barrier()?;
        if !self.dirty.is_empty() {
            self.write_fat()?;
            self.s.barrier()?;
        }
        // The short entry: start (if it was empty) and size, one 32-byte write.
        let mut raw = [0u8; 32];
        self.s.read_at(e.pos, &mut raw)?;
        raw[20..22].copy_from_slice(&((start >> 16) as u16).to_le_bytes());
        raw[26..28].copy_from_slice(&(start as u16).to_le_bytes());
        raw[28..32].copy_from_slice(&new_size32.to_le_bytes());
        raw[22..24].copy_from_slice(&self.time.time.to_le_bytes());
        raw[24..26].copy_from_slice(&self.time.date.to_le_bytes());
        self.s.write_at(e.pos, &raw)?;
        self.s.barrier()?;
        Ok(())
    }
}

/// Checksum of a short name, stored in its long-name entries.
pub fn sfn_checksum(s: &[u8; 11]) -> u8 {
    s.iter()
        .fold(0u8, |sum, &c| (sum >> 1 | (sum & 1) << 7).wrapping_add(c))
}

fn short_display(s: &[u8; 11], case: u8) -> String {
    let mut base = String::from_utf8_lossy(&s[..8]).trim_end().to_string();
    let mut ext = String::from_utf8_lossy(&s[8..]).trim_end().to_string();
    if case & 0x08 != 0 {
        base = base.to_ascii_lowercase();
    }
    if case & 0x10 != 0 {
        ext = ext.to_ascii_lowercase();
    }
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// A short name for `name`: itself if it is a valid upper-case 8.3 name, else `BASE~N.EXT`
/// unique among `taken`.
fn unique_short(name: &str, taken: &mut [[u8; 11]]) -> [u8; 11] {
    let ok =
        |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || "-_!#$%&'()@^`{}~".contains(c);
    let (b, e) = match name.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (name, ""),
    };
    let mut s = [b' '; 11];
    if !b.is_empty() && b.len() <= 8 && e.len() <= 3 && b.chars().all(ok) && e.chars().all(ok) {
        s[..b.len()].copy_from_slice(b.as_bytes());
        s[8..8 + e.len()].copy_from_slice(e.as_bytes());
        if !taken.contains(&s) {
            return s;
        }
    }
    let clean = |x: &str, n: usize| -> Vec<u8> {
        x.chars()
            .map(|c| c.to_ascii_uppercase())
            .filter(|&c| ok(c))
            .take(n)
            .map(|c| c as u8)
            .collect()
    };
    let base = clean(b, 6);
    let base = if base.is_empty() { b"V".to_vec() } else { base };
    let ext = clean(e, 3);
    for n in 1u32..1_000_000 {
        let tail = format!("~{n}");
        let keep = base.len().min(8 - tail.len());
        let mut s = [b' '; 11];
        s[..keep].copy_from_slice(&base[..keep]);
        s[keep..keep + tail.len()].copy_from_slice(tail.as_bytes());
        s[8..8 + ext.len()].copy_from_slice(&ext);
        if !taken.contains(&s) {
            return s;
        }
    }
    s
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// An in-memory volume that can stop accepting writes after a number of them: a power cut.
    #[derive(Clone)]
    pub struct CutStore {
        /// The image.
        pub img: Vec<u8>,
        /// Writes accepted so far.
        pub writes: usize,
        /// Writes accepted before the cut (`None`: never).
        pub cut_after: Option<usize>,
        /// Offset and length of each accepted write.
        pub log: Vec<(u64, usize)>,
    }

    impl Store for CutStore {
        fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
            let o = off as usize;
            let src = self
                .img
                .get(o..o + buf.len())
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
            if Some(self.writes) == self.cut_after {
                return Err(io::Error::other("power cut"));
            }
            self.writes += 1;
            self.log.push((off, buf.len()));
            let o = off as usize;
            self.img
                .get_mut(o..o + buf.len())
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?
                .copy_from_slice(buf);
            Ok(())
        }
        fn barrier(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A folder chain longer than the FAT specification's 65,536 entries (a crafted stick) is
    /// refused before it is read whole into memory.
    #[test]
    fn an_oversized_folder_is_refused() {
        let Some(img) = crate::init::logpart::save_tests::blank_partition(40) else {
            return;
        };
        let mut vol = Vol::open_read_only(CutStore {
            img,
            writes: 0,
            cut_after: None,
            log: Vec::new(),
        })
        .unwrap();
        let scans = vol.find_dir("VIGIE/scans").unwrap().unwrap();
        assert!(vol.list(scans).is_ok());
        // Chain the folder through enough free clusters to pass 2 MiB.
        let n = (MAX_DIR_BYTES / vol.cluster) as u32 + 1;
        let free: Vec<u32> = (2..vol.end).filter(|&c| vol.fat[c as usize] == 0).collect();
        assert!(free.len() as u32 > n);
        let mut last = *vol.chain(scans).unwrap().last().unwrap();
        for &c in &free[..n as usize] {
            vol.fat[last as usize] = c;
            last = c;
        }
        vol.fat[last as usize] = EOC;
        let err = vol.list(scans).unwrap_err();
        assert!(matches!(err, FatError::Corrupt(_)), "{err}");
    }

    #[test]
    fn short_names() {
        let mut t = Vec::new();
        assert_eq!(&unique_short("SCANS.CSV", &mut t), b"SCANS   CSV");
        let a = unique_short("20261128T143000Z-host", &mut t);
        assert_eq!(&a, b"202611~1   ");
        let mut t = vec![a];
        assert_eq!(&unique_short("20261128T150000Z-x", &mut t), b"202611~2   ");
        assert_eq!(
            &unique_short("record.jsonl", &mut Vec::new()),
            b"RECORD~1JSO"
        );
        assert_eq!(sfn_checksum(b"RECORD~1JSO"), sfn_checksum(b"RECORD~1JSO"));
    }
}
