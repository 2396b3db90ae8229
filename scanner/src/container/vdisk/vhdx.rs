//! VHDX ([MS-VHDX] v1.0): a file type identifier (`vhdxfile`) at 0, two 4 KiB headers at
//! 64 KiB and 128 KiB (`head`, CRC-32C, the one with the higher sequence number wins), two
//! copies of a region table at 192 KiB and 256 KiB (`regi`, CRC-32C over 64 KiB) locating
//! the BAT and the metadata region. Metadata gives the block size, the virtual size, the
//! logical sector size and whether the disk has a parent. The BAT is an array of 64-bit
//! entries (state in bits 0-2, file offset in MiB in bits 20-63) where, every
//! `chunk ratio` payload entries, a sector-bitmap entry is interleaved: payload block `b` is
//! entry `b + b / chunk_ratio`. Payload states: fully present (6) reads from the file;
//! not present, undefined, zero and unmapped (0-3) read as zeros; partially present (7)
//! exists only in differencing disks, which are refused.
//!
//! The log: a header naming a log (non-zero log GUID) means the last writer did not finish;
//! the log is not replayed here (replaying would mean writing, or a copy of every logged
//! block): the image is read as it is and the caller notes it.

use std::io;

use super::crc32c::crc32c;
use super::{bad, le16, le32, le64, read_units, VdiskError};
use crate::io::{Device, ReadAt};

const FMT: &str = "vhdx";
const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;
/// Largest virtual size the specification allows (64 TiB).
const MAX_SIZE: u64 = 64 << 40;
/// Region and metadata tables hold at most this many entries (MS-VHDX 2.2.3, 2.6.1).
const MAX_ENTRIES: u32 = 2047;

/// GUIDs in their on-disk form (first three fields little-endian).
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

const BAT_REGION: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
const METADATA_REGION: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);

fn corrupt(why: impl Into<String>) -> VdiskError {
    VdiskError::Corrupt {
        format: FMT,
        why: why.into(),
    }
}

/// Reads `len` bytes at `off` whose CRC-32C (field at 4..8 counted as zero) must match.
fn checked(base: &dyn ReadAt, off: u64, len: usize, sig: &[u8]) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    base.read_exact_at(off, &mut b).ok()?;
    if !b.starts_with(sig) {
        return None;
    }
    let want = le32(&b, 4);
    b[4..8].fill(0);
    (crc32c(&b) == want).then_some(b)
}

/// A VHDX's guest disk.
pub struct Vhdx {
    base: Device,
    size: u64,
    block: u64,
    chunk_ratio: u64,
    bat: u64,
    bat_len: u64,
    log_pending: bool,
}

impl Vhdx {
    /// Reads the headers, the region table and the metadata.
    pub fn open(base: Device) -> Result<Self, VdiskError> {
        let b = base.as_ref();
        let mut ident = [0u8; 8];
        if b.read_exact_at(0, &mut ident).is_err() || &ident != b"vhdxfile" {
            return Err(corrupt("no file type identifier"));
        }
        let header = [64 * KIB, 128 * KIB]
            .into_iter()
            .filter_map(|off| checked(b, off, 4096, b"head"))
            .filter(|h| le16(h, 66) == 1)
            .max_by_key(|h| le64(h, 8))
            .ok_or_else(|| corrupt("no valid header"))?;
        let log_pending = header[48..64].iter().any(|&x| x != 0);
        let regions = [192 * KIB, 256 * KIB]
            .into_iter()
            .find_map(|off| checked(b, off, 64 * KIB as usize, b"regi"))
            .ok_or_else(|| corrupt("no valid region table"))?;
        let count = le32(&regions, 8);
        if count > MAX_ENTRIES {
            return Err(corrupt(format!("{count} region entries")));
        }
        let (mut bat, mut meta) = (None, None);
        for i in 0..count as usize {
            let e = &regions[16 + i * 32..16 + (i + 1) * 32];
            let id: [u8; 16] = e[..16].try_into().unwrap_or_default();
            let (off, len, required) = (le64(e, 16), u64::from(le32(e, 24)), le32(e, 28) & 1);
            if off < MIB || off % MIB != 0 || len % MIB != 0 {
                return Err(corrupt(format!("region {i} at {off} length {len}")));
            }
            match id {
                BAT_REGION => bat = Some((off, len)),
                METADATA_REGION => meta = Some((off, len)),
                _ if required != 0 => {
                    return Err(VdiskError::Unsupported {
                        format: FMT,
                        why: "an unknown required region".into(),
                    })
                }
                _ => {}
            }
        }
        let (bat, bat_len) = bat.ok_or_else(|| corrupt("no BAT region"))?;
        let (meta, meta_len) = meta.ok_or_else(|| corrupt("no metadata region"))?;
        let m = Metadata::read(b, meta, meta_len)?;
        if m.has_parent {
            return Err(VdiskError::Unsupported {
                format: FMT,
                why: "differencing disk: its parent file is needed".into(),
            });
        }
        let block = u64::from(m.block);
        if !m.block.is_power_of_two() || !(MIB..=256 * MIB).contains(&block) {
            return Err(corrupt(format!("block size {block}")));
        }
        if m.sector != 512 && m.sector != 4096 {
            return Err(corrupt(format!("logical sector size {}", m.sector)));
        }
        if m.size == 0 || m.size > MAX_SIZE || m.size % u64::from(m.sector) != 0 {
            return Err(corrupt(format!("virtual size {}", m.size)));
        }
        let chunk_ratio = (1u64 << 23) * u64::from(m.sector) / block;
        let blocks = m.size.div_ceil(block);
        let needed = blocks + (blocks - 1) / chunk_ratio;
        if needed.saturating_mul(8) > bat_len {
            return Err(corrupt(format!(
                "BAT of {bat_len} bytes for {needed} entries"
            )));
        }
        Ok(Self {
            base,
            size: m.size,
            block,
            chunk_ratio,
            bat,
            bat_len,
            log_pending,
        })
    }

    /// Whether the header names a log that was not replayed (the image is read as it is).
    pub fn log_pending(&self) -> bool {
        self.log_pending
    }

    fn piece(&self, index: u64, within: u64, out: &mut [u8]) -> io::Result<()> {
        let entry_at = (index + index / self.chunk_ratio) * 8;
        if entry_at + 8 > self.bat_len {
            return Err(bad(FMT, "read past the BAT"));
        }
        let mut e = [0u8; 8];
        self.base
            .read_exact_at(self.bat.saturating_add(entry_at), &mut e)?;
        let e = u64::from_le_bytes(e);
        match e & 7 {
            0..=3 => {
                out.fill(0);
                Ok(())
            }
            6 => {
                let at = (e & !(MIB - 1)).saturating_add(within);
                self.base
                    .read_exact_at(at, out)
                    .map_err(|_| bad(FMT, format!("block {index} past the end of the file")))
            }
            s => Err(bad(FMT, format!("block {index} in state {s}"))),
        }
    }
}

impl ReadAt for Vhdx {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        read_units(self.size, self.block, offset, buf, |i, w, b| {
            self.piece(i, w, b)
        })
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// The metadata items the reader needs.
struct Metadata {
    block: u32,
    has_parent: bool,
    size: u64,
    sector: u32,
}

impl Metadata {
    fn read(b: &dyn ReadAt, off: u64, len: u64) -> Result<Self, VdiskError> {
        let mut table = vec![0u8; 64 * KIB as usize];
        b.read_exact_at(off, &mut table)
            .map_err(|_| corrupt("metadata table past the end of the file"))?;
        if !table.starts_with(b"metadata") {
            return Err(corrupt("no metadata table signature"));
        }
        let count = u32::from(le16(&table, 10));
        if count > MAX_ENTRIES {
            return Err(corrupt(format!("{count} metadata entries")));
        }
        let item = |want: &[u8; 16], n: usize| -> Result<Option<Vec<u8>>, VdiskError> {
            for i in 0..count as usize {
                let e = &table[32 + i * 32..32 + (i + 1) * 32];
                if &e[..16] != want {
                    continue;
                }
                let (at, l) = (u64::from(le32(e, 16)), u64::from(le32(e, 20)));
                if l < n as u64 || at < 64 * KIB || at + l > len {
                    return Err(corrupt(format!("metadata item {i} at {at} length {l}")));
                }
                let mut v = vec![0u8; n];
                b.read_exact_at(off.saturating_add(at), &mut v)
                    .map_err(|_| corrupt("metadata item past the end of the file"))?;
                return Ok(Some(v));
            }
            Ok(None)
        };
        let params = item(&FILE_PARAMETERS, 8)?.ok_or_else(|| corrupt("no file parameters"))?;
        let size = item(&VIRTUAL_DISK_SIZE, 8)?.ok_or_else(|| corrupt("no virtual disk size"))?;
        let sector =
            item(&LOGICAL_SECTOR_SIZE, 4)?.ok_or_else(|| corrupt("no logical sector size"))?;
        Ok(Self {
            block: le32(&params, 0),
            has_parent: le32(&params, 4) & 2 != 0,
            size: le64(&size, 0),
            sector: le32(&sector, 0),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::io::MemDevice;

    fn seal(b: &mut [u8]) {
        b[4..8].fill(0);
        let c = crc32c(b);
        b[4..8].copy_from_slice(&c.to_le_bytes());
    }

    /// A 4 MiB VHDX in 1 MiB blocks: block 1 present (bytes `0x5A`), block 2 "zero", the
    /// rest not present. Headers, regions and metadata as MS-VHDX lays them out.
    pub(crate) fn sample() -> Vec<u8> {
        let mut v = vec![0u8; 4 * MIB as usize];
        v[..8].copy_from_slice(b"vhdxfile");
        for (off, seq) in [(64 * KIB, 1u64), (128 * KIB, 2)] {
            let h = &mut v[off as usize..(off + 4 * KIB) as usize];
            h[..4].copy_from_slice(b"head");
            h[8..16].copy_from_slice(&seq.to_le_bytes());
            h[66..68].copy_from_slice(&1u16.to_le_bytes());
            seal(h);
        }
        for off in [192 * KIB, 256 * KIB] {
            let r = &mut v[off as usize..(off + 64 * KIB) as usize];
            r[..4].copy_from_slice(b"regi");
            r[8..12].copy_from_slice(&2u32.to_le_bytes());
            for (i, (id, at)) in [(BAT_REGION, MIB), (METADATA_REGION, 2 * MIB)]
                .into_iter()
                .enumerate()
            {
                let e = &mut r[16 + i * 32..16 + (i + 1) * 32];
                e[..16].copy_from_slice(&id);
                e[16..24].copy_from_slice(&at.to_le_bytes());
                e[24..28].copy_from_slice(&(MIB as u32).to_le_bytes());
                e[28..32].copy_from_slice(&1u32.to_le_bytes());
            }
            seal(r);
        }
        let m = 2 * MIB as usize;
        v[m..m + 8].copy_from_slice(b"metadata");
        v[m + 10..m + 12].copy_from_slice(&3u16.to_le_bytes());
        let items: [([u8; 16], Vec<u8>); 3] = [
            (
                FILE_PARAMETERS,
                [(MIB as u32).to_le_bytes(), [0; 4]].concat(),
            ),
            (VIRTUAL_DISK_SIZE, (4 * MIB).to_le_bytes().to_vec()),
            (LOGICAL_SECTOR_SIZE, 512u32.to_le_bytes().to_vec()),
        ];
        for (i, (id, data)) in items.iter().enumerate() {
            let at = 64 * KIB as usize + i * 64;
            let e = &mut v[m + 32 + i * 32..m + 64 + i * 32];
            e[..16].copy_from_slice(id);
            e[16..20].copy_from_slice(&(at as u32).to_le_bytes());
            e[20..24].copy_from_slice(&(data.len() as u32).to_le_bytes());
            v[m + at..m + at + data.len()].copy_from_slice(data);
        }
        let bat = MIB as usize;
        v[bat + 8..bat + 16].copy_from_slice(&((3 * MIB) | 6).to_le_bytes());
        v[bat + 16..bat + 24].copy_from_slice(&2u64.to_le_bytes());
        v[3 * MIB as usize..].fill(0x5A);
        v
    }

    #[test]
    fn present_blocks_read_from_the_file_the_others_as_zeros() {
        let d = Vhdx::open(Arc::new(MemDevice::new(sample()))).unwrap();
        assert_eq!(d.size(), 4 * MIB);
        assert!(!d.log_pending());
        let mut buf = vec![1u8; 4 * MIB as usize];
        assert_eq!(d.read_at(0, &mut buf).unwrap(), buf.len());
        let mib = MIB as usize;
        assert!(buf[..mib].iter().all(|&b| b == 0));
        assert!(buf[mib..2 * mib].iter().all(|&b| b == 0x5A));
        assert!(buf[2 * mib..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_log_to_replay_is_read_as_it_is_and_noted() {
        let mut v = sample();
        for off in [64 * KIB as usize, 128 * KIB as usize] {
            v[off + 48] = 1; // LogGuid
            seal(&mut v[off..off + 4 * KIB as usize]);
        }
        let o = super::super::open(Arc::new(MemDevice::new(v))).unwrap();
        assert_eq!(o.format, super::super::Format::Vhdx);
        assert!(o.notes.iter().any(|n| n.contains("log")), "{:?}", o.notes);
    }

    #[test]
    fn a_bad_crc_falls_back_to_the_other_copy_and_parents_are_refused() {
        let mut v = sample();
        v[128 * KIB as usize + 100] ^= 1; // the newer header breaks: the older one is used
        v[192 * KIB as usize + 100] ^= 1; // the first region table breaks: the second is used
        assert!(Vhdx::open(Arc::new(MemDevice::new(v.clone()))).is_ok());
        v[64 * KIB as usize + 100] ^= 1;
        assert!(Vhdx::open(Arc::new(MemDevice::new(v))).is_err());
        let mut v = sample();
        let p = 2 * MIB as usize + 64 * KIB as usize + 4;
        v[p] = 2; // HasParent
        assert!(matches!(
            Vhdx::open(Arc::new(MemDevice::new(v))),
            Err(VdiskError::Unsupported { .. })
        ));
    }
}
