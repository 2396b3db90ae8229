//! Directory entry sets: a File entry (0x85), its Stream Extension (0xC0) and File Name
//! entries (0xC1), checked by their SetChecksum; plus the root's volume label (0x83) and
//! allocation bitmap (0x81) entries.
//!
//! A directory is read as a stream of 32-byte entries, a chunk at a time, so a directory of
//! any size costs a fixed buffer. A damaged entry set is reported (and counted as an error by
//! the walker); the listing goes on with the next entry.

use std::ops::ControlFlow;

use super::alloc::{Chain, Clusters};
use crate::io::ReadAt;

/// Largest directory the specification allows (256 MiB).
pub(crate) const MAX_DIR_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes of directory data read per device access.
const CHUNK: u64 = 64 * 1024;

const ENTRY_END: u8 = 0x00;
const ENTRY_BITMAP: u8 = 0x81;
const ENTRY_LABEL: u8 = 0x83;
const ENTRY_FILE: u8 = 0x85;
const ENTRY_STREAM: u8 = 0xC0;
const ENTRY_NAME: u8 = 0xC1;
/// TypeCode bits: InUse, TypeCategory (secondary), TypeImportance (benign).
const IN_USE: u8 = 0x80;
const SECONDARY: u8 = 0x40;
const BENIGN: u8 = 0x20;

const ATTR_DIRECTORY: u16 = 0x10;
const STREAM_ALLOCATION_POSSIBLE: u8 = 0x1;
const STREAM_NO_FAT_CHAIN: u8 = 0x2;

/// One file or directory, as its entry set describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) directory: bool,
    pub(crate) first_cluster: u64,
    /// `NoFatChain`: the data is one contiguous run of clusters.
    pub(crate) contiguous: bool,
    /// `DataLength`.
    pub(crate) size: u64,
    /// `ValidDataLength`: bytes past it read as zeros.
    pub(crate) valid: u64,
    /// Last modification, Unix seconds (UTC when the entry records its offset).
    pub(crate) modified: Option<i64>,
}

/// What a listing hands to its caller.
#[derive(Debug)]
pub(crate) enum Item {
    Entry(Entry),
    /// A damaged entry set: its position (entry index) and what is wrong. `name` is given
    /// when it could be decoded.
    Damaged {
        index: u64,
        name: Option<String>,
        reason: String,
    },
    Label(String),
    Bitmap {
        first_cluster: u64,
        len: u64,
        second: bool,
    },
}

/// The 32-byte entries of one directory, read a chunk at a time.
struct Entries<'a> {
    vol: &'a Clusters,
    chain: Chain,
    chunk: Vec<u8>,
    at: usize,
    /// Device offset and bytes left of the current run of clusters.
    run: (u64, u64),
    back: Option<[u8; 32]>,
    index: u64,
}

impl Entries<'_> {
    fn next(&mut self) -> Result<Option<[u8; 32]>, String> {
        if let Some(e) = self.back.take() {
            self.index += 1;
            return Ok(Some(e));
        }
        if self.at + 32 > self.chunk.len() {
            if self.run.1 == 0 {
                let per_run = (CHUNK / self.vol.geo.cluster_size).max(1);
                match self.chain.next_run(self.vol, per_run)? {
                    Some((c, n)) => {
                        self.run = (
                            self.vol.geo.cluster_offset(c),
                            n * self.vol.geo.cluster_size,
                        )
                    }
                    None => {
                        if self.chain.cut_short() {
                            return Err(format!(
                                "directory larger than the {MAX_DIR_BYTES} bytes exFAT allows \
                                 (looping or corrupt cluster chain): rest not read"
                            ));
                        }
                        return Ok(None);
                    }
                }
            }
            let take = self.run.1.min(CHUNK);
            let len = usize::try_from(take).map_err(|e| e.to_string())?;
            self.chunk.resize(len, 0);
            self.vol
                .meta
                .read_exact_at(self.run.0, &mut self.chunk)
                .map_err(|e| format!("directory unreadable: {e}"))?;
            self.run = (self.run.0 + take, self.run.1 - take);
            self.at = 0;
        }
        let mut e = [0u8; 32];
        e.copy_from_slice(&self.chunk[self.at..self.at + 32]);
        self.at += 32;
        self.index += 1;
        Ok(Some(e))
    }

    fn push_back(&mut self, e: [u8; 32]) {
        self.back = Some(e);
        self.index -= 1;
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The SetChecksum of an entry set (its own field, bytes 2 and 3 of the first entry, skipped).
pub(crate) fn set_checksum(set: &[[u8; 32]]) -> u16 {
    let mut sum: u16 = 0;
    for (i, &b) in set.iter().flatten().enumerate() {
        if i == 2 || i == 3 {
            continue;
        }
        sum = sum.rotate_right(1).wrapping_add(u16::from(b));
    }
    sum
}

/// An exFAT timestamp (DOS date and time, 10 ms increment, UTC offset) in Unix seconds.
pub(crate) fn unix_time(stamp: u32, centis: u8, utc_offset: u8) -> Option<i64> {
    let sec = i64::from(stamp & 0x1F) * 2 + i64::from(centis.min(199)) / 100;
    let min = i64::from((stamp >> 5) & 0x3F);
    let hour = i64::from((stamp >> 11) & 0x1F);
    let day = i64::from((stamp >> 16) & 0x1F);
    let month = i64::from((stamp >> 21) & 0x0F);
    let year = 1980 + i64::from(stamp >> 25);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let local =
        crate::fs::fat::days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    if utc_offset & 0x80 != 0 {
        // Seven-bit two's complement count of 15-minute steps.
        let steps = i64::from(((utc_offset << 1) as i8) >> 1);
        Some(local - steps * 15 * 60)
    } else {
        Some(local)
    }
}

/// Decodes UTF-16 code units into a name safe to join into a path.
fn decode_name(units: &[u16]) -> String {
    let name: String = char::decode_utf16(units.iter().copied())
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .map(|c| if c == '/' || c == '\0' { '\u{FFFD}' } else { c })
        .collect();
    if name == "." || name == ".." {
        name.replace('.', "\u{FFFD}")
    } else {
        name
    }
}

/// Parses a complete File entry set (`set[0]` is the 0x85 entry).
fn parse_set(set: &[[u8; 32]]) -> Result<Entry, (Option<String>, String)> {
    let file = &set[0];
    let stream = &set[1];
    if stream[0] != ENTRY_STREAM {
        return Err((None, "file entry not followed by a stream extension".into()));
    }
    let name_len = usize::from(stream[3]);
    let mut units = Vec::with_capacity(name_len);
    for e in &set[2..] {
        if units.len() >= name_len {
            break;
        }
        if e[0] != ENTRY_NAME {
            break;
        }
        for i in 0..15 {
            if units.len() < name_len {
                units.push(le16(e, 2 + 2 * i));
            }
        }
    }
    let name = decode_name(&units);
    if name_len == 0 {
        return Err((None, "empty file name".into()));
    }
    if units.len() < name_len {
        return Err((
            Some(name),
            "file name entries missing from the entry set".into(),
        ));
    }
    let stored = le16(file, 2);
    let computed = set_checksum(set);
    if stored != computed {
        return Err((
            Some(name),
            format!("entry set checksum mismatch (stored {stored:#06x}, computed {computed:#06x})"),
        ));
    }
    let flags = stream[1];
    let (first_cluster, size, valid) = if flags & STREAM_ALLOCATION_POSSIBLE != 0 {
        (
            u64::from(le32(stream, 20)),
            le64(stream, 24),
            le64(stream, 8),
        )
    } else {
        (0, 0, 0)
    };
    Ok(Entry {
        name,
        directory: le16(file, 4) & ATTR_DIRECTORY != 0,
        first_cluster,
        contiguous: flags & STREAM_NO_FAT_CHAIN != 0,
        size,
        valid: valid.min(size),
        modified: unix_time(le32(file, 12), file[21], file[23]),
    })
}

/// Where a directory's entries are: the root (a FAT chain read to its end) or a
/// subdirectory of stated size.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extent {
    Root(u64),
    Sub {
        first: u64,
        size: u64,
        contiguous: bool,
    },
}

/// Lists one directory, handing each item to `f`. Returns the error that stopped the
/// listing early, if any (the items before it were handed out).
pub(crate) fn list(
    vol: &Clusters,
    extent: Extent,
    f: &mut dyn FnMut(Item) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, String> {
    let cs = vol.geo.cluster_size;
    let chain = match extent {
        Extent::Root(first) => Chain::to_end(first, MAX_DIR_BYTES / cs),
        Extent::Sub {
            first,
            size,
            contiguous,
        } => {
            if size > MAX_DIR_BYTES {
                return Err(format!(
                    "directory size {size} exceeds the {MAX_DIR_BYTES} bytes exFAT allows"
                ));
            }
            Chain::new(first, size.div_ceil(cs), contiguous)
        }
    };
    let mut entries = Entries {
        vol,
        chain,
        chunk: Vec::new(),
        at: 0,
        run: (0, 0),
        back: None,
        index: 0,
    };
    while let Some(e) = entries.next()? {
        let t = e[0];
        if t == ENTRY_END {
            break;
        }
        if t & IN_USE == 0 {
            continue;
        }
        let index = entries.index - 1;
        let item = match t {
            ENTRY_FILE => {
                let count = usize::from(e[1]);
                let mut set = Vec::with_capacity(count + 1);
                set.push(e);
                let mut cut = None;
                while set.len() <= count {
                    match entries.next()? {
                        Some(s) if s[0] & (IN_USE | SECONDARY) == IN_USE | SECONDARY => set.push(s),
                        Some(s) => {
                            entries.push_back(s);
                            cut = Some("entry set interrupted by another entry");
                            break;
                        }
                        None => {
                            cut = Some("entry set cut by the end of the directory");
                            break;
                        }
                    }
                }
                if count < 2 {
                    Item::Damaged {
                        index,
                        name: None,
                        reason: format!("file entry with {count} secondary entries (2 at least)"),
                    }
                } else if let Some(reason) = cut {
                    Item::Damaged {
                        index,
                        name: None,
                        reason: reason.into(),
                    }
                } else {
                    match parse_set(&set) {
                        Ok(entry) => Item::Entry(entry),
                        Err((name, reason)) => Item::Damaged {
                            index,
                            name,
                            reason,
                        },
                    }
                }
            }
            ENTRY_LABEL if matches!(extent, Extent::Root(_)) => {
                let n = usize::from(e[1]).min(11);
                let units: Vec<u16> = (0..n).map(|i| le16(&e, 2 + 2 * i)).collect();
                Item::Label(String::from_utf16_lossy(&units))
            }
            ENTRY_BITMAP if matches!(extent, Extent::Root(_)) => Item::Bitmap {
                first_cluster: u64::from(le32(&e, 20)),
                len: le64(&e, 24),
                second: e[1] & 1 != 0,
            },
            _ if t & SECONDARY != 0 => continue, // stray secondary: nothing to read
            _ if t & BENIGN != 0 => {
                // Benign primaries (GUID, padding, ACL, vendor): skip their secondaries.
                for _ in 0..e[1] {
                    match entries.next()? {
                        Some(s) if s[0] & (IN_USE | SECONDARY) == IN_USE | SECONDARY => {}
                        Some(s) => {
                            entries.push_back(s);
                            break;
                        }
                        None => break,
                    }
                }
                continue;
            }
            _ => continue, // up-case table and other critical primaries hold no files
        };
        if f(item).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_apply_the_utc_offset() {
        // 2024-03-05 12:34:56, written at UTC+1 (4 steps of 15 minutes).
        let stamp = (44u32 << 25) | (3 << 21) | (5 << 16) | (12 << 11) | (34 << 5) | 28;
        assert_eq!(unix_time(stamp, 0, 0), Some(1_709_642_096));
        assert_eq!(unix_time(stamp, 0, 0x80 | 4), Some(1_709_642_096 - 3600));
        // UTC-5: -20 steps as a 7-bit value.
        assert_eq!(
            unix_time(stamp, 0, 0x80 | (128 - 20)),
            Some(1_709_642_096 + 5 * 3600)
        );
        assert_eq!(unix_time(stamp, 150, 0), Some(1_709_642_097));
        assert_eq!(unix_time(0, 0, 0), None);
    }

    #[test]
    fn names_cannot_escape_their_directory() {
        let u = |s: &str| s.encode_utf16().collect::<Vec<_>>();
        assert_eq!(decode_name(&u("a/b")), "a\u{FFFD}b");
        assert_eq!(decode_name(&u("..")), "\u{FFFD}\u{FFFD}");
        assert_eq!(decode_name(&[0xD800, 0x41]), "\u{FFFD}A");
        assert_eq!(decode_name(&u("日本語")), "日本語");
    }
}
