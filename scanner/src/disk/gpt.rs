//! GUID partition tables: primary header at LBA 1, backup header at the last LBA.
//!
//! Both headers carry a CRC32 of themselves and of their entry array. The primary is used
//! when it and its array check out; otherwise the backup (found at the last sector, or where
//! the primary's `alternate` field says, if that header at least is intact); failing that, a
//! header whose array CRC is wrong is still used, with a note. Entry counts and sizes come
//! from disk, so they are bounded before anything is allocated.

use std::io;

use super::table::{read_full, Notes, Partition, PartitionType};
use crate::io::ReadAt;

const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Smallest header (revision 1.0).
const MIN_HEADER: u32 = 92;
/// Most entries we accept (the spec's minimum array holds 128; nobody uses more than a few
/// hundred).
const MAX_ENTRIES: u32 = 1024;
/// Largest entry array we read.
const MAX_ARRAY: u64 = 1024 * 1024;

/// A header that passed its own checks.
struct Header {
    lba: u64,
    alternate: u64,
    entries_lba: u64,
    num_entries: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// What was found at one header location.
enum Found {
    /// No signature there, or the sector is past the end of the disk.
    Missing,
    /// A signature, but the header is unusable; the reason is for the notes.
    Bad(String),
    /// A good header with its entry array; `array_ok` tells whether the array CRC matched.
    Good {
        header: Header,
        array: Vec<u8>,
        array_ok: bool,
    },
}

fn le32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// A GUID in its canonical lowercase text form. The first three fields are stored
/// little-endian, the last two as plain bytes.
pub(super) fn guid_text(g: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        le32(g, 0),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

/// Whether `EFI PART` is at byte `offset`.
fn has_signature(dev: &dyn ReadAt, offset: u64) -> io::Result<bool> {
    let mut sig = [0u8; 8];
    Ok(read_full(dev, offset, &mut sig)? && &sig == SIGNATURE)
}

/// The sector size to read the GPT with: the hint, or the first of 512/4096 whose primary
/// (then backup) header location holds the signature.
fn probe_sector_size(dev: &dyn ReadAt, hint: Option<u32>) -> io::Result<Option<u32>> {
    if let Some(ss) = hint {
        return Ok(Some(ss));
    }
    for ss in [512u32, 4096] {
        if has_signature(dev, u64::from(ss))? {
            return Ok(Some(ss));
        }
    }
    let size = dev.size();
    for ss in [512u32, 4096] {
        let last = size / u64::from(ss);
        if last >= 2 && has_signature(dev, (last - 1) * u64::from(ss))? {
            return Ok(Some(ss));
        }
    }
    Ok(None)
}

/// Reads and checks the header in sector `lba`.
fn load(dev: &dyn ReadAt, ss: u32, lba: u64) -> io::Result<Found> {
    let Some(offset) = lba.checked_mul(u64::from(ss)) else {
        return Ok(Found::Missing);
    };
    // `ss` is at most 4096 (checked by the caller).
    let mut sector = vec![0u8; ss as usize];
    if !read_full(dev, offset, &mut sector)? || &sector[0..8] != SIGNATURE {
        return Ok(Found::Missing);
    }
    let header_size = le32(&sector, 12);
    if !(MIN_HEADER..=ss).contains(&header_size) {
        return Ok(Found::Bad(format!("header size {header_size} is invalid")));
    }
    let mut copy = sector[..header_size as usize].to_vec();
    copy[16..20].fill(0);
    if crc32fast::hash(&copy) != le32(&sector, 16) {
        return Ok(Found::Bad("header CRC mismatch".into()));
    }
    let my_lba = le64(&sector, 24);
    if my_lba != lba {
        return Ok(Found::Bad(format!(
            "header found at sector {lba} says it is at sector {my_lba}"
        )));
    }
    let header = Header {
        lba,
        alternate: le64(&sector, 32),
        entries_lba: le64(&sector, 72),
        num_entries: le32(&sector, 80),
        entry_size: le32(&sector, 84),
        entries_crc: le32(&sector, 88),
    };
    if header.num_entries > MAX_ENTRIES {
        return Ok(Found::Bad(format!(
            "header declares {} entries (at most {MAX_ENTRIES} accepted)",
            header.num_entries
        )));
    }
    if !header.entry_size.is_power_of_two() || !(128..=4096).contains(&header.entry_size) {
        return Ok(Found::Bad(format!(
            "entry size {} is invalid",
            header.entry_size
        )));
    }
    // Both factors are bounded above: no overflow.
    let array_len = u64::from(header.num_entries) * u64::from(header.entry_size);
    if array_len > MAX_ARRAY {
        return Ok(Found::Bad(format!(
            "entry array of {array_len} bytes is too large"
        )));
    }
    let Some(array_off) = header.entries_lba.checked_mul(u64::from(ss)) else {
        return Ok(Found::Bad("entry array location is invalid".into()));
    };
    // Bounded by MAX_ARRAY just above.
    let mut array = vec![0u8; array_len as usize];
    if !read_full(dev, array_off, &mut array)? {
        return Ok(Found::Bad(format!(
            "entry array at sector {} lies past the end of the disk",
            header.entries_lba
        )));
    }
    let array_ok = crc32fast::hash(&array) == header.entries_crc;
    Ok(Found::Good {
        header,
        array,
        array_ok,
    })
}

fn describe(which: &str, found: &Found) -> String {
    match found {
        Found::Missing => format!("{which} GPT header missing"),
        Found::Bad(why) => format!("{which} GPT header unusable: {why}"),
        Found::Good { .. } => format!("{which} GPT partition array CRC mismatch"),
    }
}

/// Reads the GPT. `Ok(None)` when no usable header exists (the reasons are in `notes`).
pub(super) fn read(
    dev: &dyn ReadAt,
    hint: Option<u32>,
    notes: &mut Notes,
) -> io::Result<Option<(u32, Vec<Partition>)>> {
    let Some(ss) = probe_sector_size(dev, hint)? else {
        notes.push(
            "no GPT header found at sector 1 nor at the last sector (512 or 4096-byte sectors)",
        );
        return Ok(None);
    };
    let sectors = dev.size() / u64::from(ss);
    if sectors < 2 {
        notes.push("disk too small to hold a GPT");
        return Ok(None);
    }
    let last = sectors - 1;

    let primary = load_noting(dev, ss, 1, notes)?;
    if let Found::Good {
        header,
        array,
        array_ok: true,
    } = &primary
    {
        if header.alternate > last {
            notes.push(format!(
                "the GPT puts its backup header at sector {}, but the disk ends at sector {last} (truncated image?)",
                header.alternate
            ));
        }
        return Ok(Some((ss, entries(header, array, ss, notes))));
    }

    // Backup: at the last sector, or where an intact primary header says it is.
    let mut candidates = vec![last];
    if let Found::Good { header, .. } = &primary {
        if header.alternate != last && header.alternate > 1 && header.alternate < last {
            candidates.push(header.alternate);
        }
    }
    let mut backup = Found::Missing;
    for lba in candidates {
        backup = load_noting(dev, ss, lba, notes)?;
        if matches!(backup, Found::Good { .. }) {
            break;
        }
    }

    let primary_why = describe("primary", &primary);
    match (primary, backup) {
        (
            _,
            Found::Good {
                header,
                array,
                array_ok: true,
            },
        ) => {
            notes.push(format!(
                "{primary_why}: used the backup header at sector {}",
                header.lba
            ));
            Ok(Some((ss, entries(&header, &array, ss, notes))))
        }
        (Found::Good { header, array, .. }, backup) => {
            notes.push(format!(
                "{primary_why} and {}: used the primary entries anyway",
                describe("backup", &backup)
            ));
            Ok(Some((ss, entries(&header, &array, ss, notes))))
        }
        (_, Found::Good { header, array, .. }) => {
            notes.push(format!(
                "{primary_why} and backup GPT partition array CRC mismatch: used the backup entries anyway"
            ));
            Ok(Some((ss, entries(&header, &array, ss, notes))))
        }
        (_, backup) => {
            notes.push(format!("{primary_why}; {}", describe("backup", &backup)));
            Ok(None)
        }
    }
}

/// [`load`], but a device error on one header is a note (the other copy may still be read).
fn load_noting(dev: &dyn ReadAt, ss: u32, lba: u64, notes: &mut Notes) -> io::Result<Found> {
    match load(dev, ss, lba) {
        Ok(f) => Ok(f),
        Err(e) => {
            notes.push(format!("GPT header at sector {lba} unreadable: {e}"));
            Ok(Found::Missing)
        }
    }
}

/// The used entries of an array.
fn entries(header: &Header, array: &[u8], ss: u32, notes: &mut Notes) -> Vec<Partition> {
    let mut parts = Vec::new();
    // entry_size >= 128 and the array length is num_entries * entry_size.
    for (index, e) in (0u32..).zip(array.chunks_exact(header.entry_size as usize)) {
        let type_guid = &e[0..16];
        if type_guid.iter().all(|&b| b == 0) {
            continue;
        }
        let number = index + 1;
        let first = le64(e, 32);
        let last = le64(e, 40);
        let attrs = le64(e, 48);
        if last < first {
            notes.push(format!(
                "GPT entry {number} ends (sector {last}) before it starts (sector {first}): ignored"
            ));
            continue;
        }
        let Some(start) = first.checked_mul(u64::from(ss)) else {
            notes.push(format!(
                "GPT entry {number} starts beyond any possible disk: ignored"
            ));
            continue;
        };
        let len = (last - first)
            .saturating_add(1)
            .saturating_mul(u64::from(ss));
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let name = String::from_utf16_lossy(&units);
        parts.push(Partition {
            number,
            start,
            len,
            type_id: PartitionType::Gpt(guid_text(type_guid)),
            name: (!name.is_empty()).then_some(name),
            bootable: attrs & 0b100 != 0,
        });
    }
    parts
}
