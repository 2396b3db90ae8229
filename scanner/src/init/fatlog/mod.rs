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
//! files needs chains made at image build time. That design is built in [`token`]: the image
//! builder (and `scanner logpart prepare` at the desk) leave hidden token folders, each owning
//! the clusters of one FAT sector, where a save writes; a save trims or grows a token FAT-only
//! (a folder's length is free), turns it into a file of that chain's length, writes the data,
//! then commits with one directory sector that names it (the index swaps it with the old
//! file, which becomes the next token). The log partition has one FAT copy (`vigie-image`),
//! so a FAT change is one sector write. The ordered writer below stays for what no token can
//! take (contents over one FAT sector's clusters, kept bundles, evidence, no token left).

mod lanes;
mod names;
mod token;
mod write;

use std::collections::BTreeMap;
use std::io;

pub use lanes::POOL_PREFIX;
pub use names::sfn_checksum;
use names::short_display;
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
        let (y, m, d, hh, mm, ss) = crate::text::clock::civil(secs);
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
    /// The junction FAT sector taps are laid into (prepare only; see [`lanes`]).
    junction: Option<u32>,
    /// First cluster of the last region laid (prepare only; see `token`'s `Beside`).
    last_region: Option<u32>,
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
            junction: None,
            last_region: None,
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

    /// Clusters whose FAT entries share one FAT sector.
    pub fn per_sector_clusters(&self) -> u64 {
        self.bps / 4
    }

    /// Free clusters.
    pub fn free_clusters(&self) -> u64 {
        self.fat[2..].iter().filter(|&&e| e == 0).count() as u64
    }

    pub(super) fn cpos(&self, c: u32) -> u64 {
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
    pub(super) fn slots(&mut self, dir: u32) -> R<Vec<(u64, [u8; 32])>> {
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
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::process::Command;

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

    pub(crate) fn tool(name: &str) -> bool {
        Command::new(name)
            .arg("--help")
            .output()
            .map(|_| true)
            .unwrap_or(false)
    }

    /// A log partition as the image builder makes it: fatfs-formatted FAT32 with `VIGIE.ID`,
    /// then `VIGIE/scans` made by mtools.
    pub(crate) fn blank_partition(mib: u64) -> Option<Vec<u8>> {
        partition(mib, 2)
    }

    pub(crate) fn partition(mib: u64, fats: u8) -> Option<Vec<u8>> {
        if !tool("mmd") {
            eprintln!("mtools missing: skipped");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("p.img");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&img)
            .unwrap();
        f.set_len(mib << 20).unwrap();
        let opts = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .fats(fats)
            .volume_label(*b"VIGIE-LOGS ");
        fatfs::format_volume(&f, opts).unwrap();
        {
            let fs = fatfs::FileSystem::new(&f, fatfs::FsOptions::new()).unwrap();
            let mut id = fs.root_dir().create_file("VIGIE.ID").unwrap();
            std::io::Write::write_all(&mut id, b"VIGIE-TEST-0001\n").unwrap();
            drop(id);
            fs.unmount().unwrap();
        }
        drop(f);
        let ok = Command::new("mmd")
            .arg("-i")
            .arg(&img)
            .args(["::/VIGIE", "::/VIGIE/scans"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        Some(std::fs::read(&img).unwrap())
    }

    /// A folder chain longer than the FAT specification's 65,536 entries (a crafted stick) is
    /// refused before it is read whole into memory.
    #[test]
    fn an_oversized_folder_is_refused() {
        let Some(img) = blank_partition(40) else {
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
}
