//! Hosted sparse VMDK extents (VMware's Virtual Disk Format 5.0): monolithicSparse and
//! streamOptimized. A 512-byte `SparseExtentHeader` (`KDMV`, little-endian) gives the
//! capacity and the grain size in sectors, the number of entries per grain table and the
//! grain directory's sector. A grain directory entry is the sector of a grain table (0:
//! none); a grain table entry is the sector of a grain (0: not allocated, 1: a zeroed grain;
//! both read as zeros).
//!
//! streamOptimized: grains are compressed (flag bit 16, algorithm 1 = deflate in a zlib
//! stream), each behind a 12-byte marker (the grain's sector number, the compressed length),
//! and the header may say the directory is at the end (`gdOffset` all ones): then a footer
//! (the same header structure) sits in the sector before the end-of-stream marker, or in the
//! last sector when a writer left the marker out. Metadata markers between grains are not
//! needed: the tables are followed, not the stream.
//!
//! An embedded descriptor naming a parent (`parentFileNameHint`) is a differencing disk:
//! refused.

use std::io::{self, Read};
use std::sync::Mutex;

use super::{bad, le16, le32, le64, read_units, VdiskError};
use crate::io::{Device, ReadAt};

const FMT: &str = "vmdk";
/// Largest grain accepted: 1 MiB (VMware writes 64 KiB); a compressed grain is decoded
/// into a buffer of one grain.
const MAX_GRAIN_SECTORS: u64 = 2048;
/// Largest virtual size accepted (VMDK's own limit is 62 TiB).
const MAX_SIZE: u64 = 64 << 40;
/// Largest embedded descriptor read (they are about 1 KiB).
const MAX_DESCRIPTOR: u64 = 64 * 1024;
const GD_AT_END: u64 = u64::MAX;
const FLAG_COMPRESSED: u32 = 1 << 16;

fn corrupt(why: impl Into<String>) -> VdiskError {
    VdiskError::Corrupt {
        format: FMT,
        why: why.into(),
    }
}

fn header_at(base: &dyn ReadAt, off: u64) -> Option<[u8; 512]> {
    let mut h = [0u8; 512];
    base.read_exact_at(off, &mut h).ok()?;
    h.starts_with(b"KDMV").then_some(h)
}

/// A sparse VMDK's guest disk.
pub struct SparseVmdk {
    base: Device,
    size: u64,
    grain: u64,
    per_table: u64,
    directory: u64,
    entries: u64,
    compressed: bool,
    /// The last decompressed grain (a filesystem reads a grain in many small pieces).
    cache: Mutex<Option<(u64, Vec<u8>)>>,
}

impl SparseVmdk {
    /// Reads the header (and the footer of a stream-optimized extent).
    pub fn open(base: Device) -> Result<Self, VdiskError> {
        let b = base.as_ref();
        let mut h = header_at(b, 0).ok_or_else(|| corrupt("no KDMV header"))?;
        let version = le32(&h, 4);
        if !(1..=3).contains(&version) {
            return Err(VdiskError::Unsupported {
                format: FMT,
                why: format!("sparse extent version {version}"),
            });
        }
        if le64(&h, 56) == GD_AT_END {
            let end = b.size() / 512 * 512;
            h = [1024u64, 512]
                .into_iter()
                .filter_map(|back| end.checked_sub(back))
                .filter(|&off| off > 0)
                .find_map(|off| header_at(b, off))
                .filter(|f| le64(f, 56) != GD_AT_END)
                .ok_or_else(|| corrupt("grain directory at the end but no footer"))?;
        }
        if let Some(parent) = descriptor_parent(b, &h) {
            return Err(VdiskError::Unsupported {
                format: FMT,
                why: format!("differencing disk: its parent file ({parent}) is needed"),
            });
        }
        let flags = le32(&h, 8);
        let capacity = le64(&h, 12);
        let grain = le64(&h, 20);
        let per_table = u64::from(le32(&h, 44));
        let directory = le64(&h, 56);
        let compressed = flags & FLAG_COMPRESSED != 0;
        if compressed && le16(&h, 77) != 1 {
            return Err(VdiskError::Unsupported {
                format: FMT,
                why: format!("compression algorithm {}", le16(&h, 77)),
            });
        }
        if !grain.is_power_of_two() || !(1..=MAX_GRAIN_SECTORS).contains(&grain) {
            return Err(corrupt(format!("grain of {grain} sectors")));
        }
        if per_table == 0 || per_table > 65536 {
            return Err(corrupt(format!("{per_table} entries per grain table")));
        }
        let size = capacity
            .checked_mul(512)
            .filter(|&s| s <= MAX_SIZE)
            .ok_or_else(|| corrupt(format!("capacity of {capacity} sectors")))?;
        let grain = grain * 512;
        let entries = size.div_ceil(grain).div_ceil(per_table);
        let dir_bytes = directory.checked_mul(512);
        if dir_bytes
            .and_then(|d| d.checked_add(entries * 4))
            .is_none_or(|end| end > b.size())
        {
            return Err(corrupt("grain directory past the end of the file"));
        }
        Ok(Self {
            base,
            size,
            grain,
            per_table,
            directory: directory * 512,
            entries,
            compressed,
            cache: Mutex::new(None),
        })
    }

    fn entry(&self, at: u64) -> io::Result<u32> {
        let mut e = [0u8; 4];
        self.base.read_exact_at(at, &mut e)?;
        Ok(u32::from_le_bytes(e))
    }

    fn piece(&self, index: u64, within: u64, out: &mut [u8]) -> io::Result<()> {
        let (dir, slot) = (index / self.per_table, index % self.per_table);
        if dir >= self.entries {
            return Err(bad(FMT, "read past the grain directory"));
        }
        let table = self.entry(self.directory + dir * 4)?;
        if table == 0 {
            out.fill(0);
            return Ok(());
        }
        let sector = self
            .entry(u64::from(table) * 512 + slot * 4)
            .map_err(|_| bad(FMT, format!("grain table {dir} past the end of the file")))?;
        if sector <= 1 {
            out.fill(0);
            return Ok(());
        }
        let at = u64::from(sector) * 512;
        if !self.compressed {
            return self
                .base
                .read_exact_at(at + within, out)
                .map_err(|_| bad(FMT, format!("grain {index} past the end of the file")));
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().is_none_or(|(i, _)| *i != index) {
            *cache = Some((index, self.inflate(index, at)?));
        }
        let data = &cache
            .as_ref()
            .map(|(_, d)| d.as_slice())
            .unwrap_or_default();
        let w = within as usize;
        out.copy_from_slice(&data[w..w + out.len()]);
        Ok(())
    }

    /// Decompresses the grain whose marker is at `at` into one grain's bytes (zeros past
    /// what the stream holds; anything beyond one grain is not decoded).
    fn inflate(&self, index: u64, at: u64) -> io::Result<Vec<u8>> {
        let mut marker = [0u8; 12];
        self.base.read_exact_at(at, &mut marker)?;
        let len = u64::from(le32(&marker, 8));
        // deflate never grows data by more than a small fraction: twice a grain is ample.
        if len == 0 || len > 2 * self.grain + 1024 {
            return Err(bad(FMT, format!("grain {index}: compressed length {len}")));
        }
        let mut packed = vec![0u8; len as usize];
        self.base
            .read_exact_at(at + 12, &mut packed)
            .map_err(|_| bad(FMT, format!("grain {index} past the end of the file")))?;
        let mut grain = vec![0u8; self.grain as usize];
        let mut z = flate2::read::ZlibDecoder::new(packed.as_slice());
        let mut filled = 0;
        while filled < grain.len() {
            match z.read(&mut grain[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Err(bad(FMT, format!("grain {index}: {e}"))),
            }
        }
        Ok(grain)
    }
}

impl ReadAt for SparseVmdk {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        read_units(self.size, self.grain, offset, buf, |i, w, b| {
            self.piece(i, w, b)
        })
    }
    fn size(&self) -> u64 {
        self.size
    }
}

/// The parent an embedded descriptor names, if any (`parentFileNameHint="..."`).
fn descriptor_parent(b: &dyn ReadAt, h: &[u8; 512]) -> Option<String> {
    let (off, len) = (le64(h, 28), le64(h, 36));
    if off == 0 || len == 0 {
        return None;
    }
    let len = len.checked_mul(512)?.min(MAX_DESCRIPTOR) as usize;
    let mut d = vec![0u8; len];
    let n = b.read_at(off.checked_mul(512)?, &mut d).ok()?;
    let text = String::from_utf8_lossy(&d[..n]);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("parentFileNameHint"))
        .map(|v| {
            v.trim_start_matches([' ', '='])
                .trim()
                .trim_matches('"')
                .chars()
                .take(200)
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;
    use crate::io::MemDevice;

    /// A 1 MiB sparse extent in 64 KiB grains (one grain table): grain 2 holds `0x77`,
    /// grain 3 is a zeroed grain, the others are not allocated.
    fn sample(compressed: bool) -> Vec<u8> {
        let mut v = vec![0u8; 4 * 512];
        v[..4].copy_from_slice(b"KDMV");
        v[4..8].copy_from_slice(&1u32.to_le_bytes());
        let flags = if compressed {
            FLAG_COMPRESSED | 1 << 17
        } else {
            0
        };
        v[8..12].copy_from_slice(&flags.to_le_bytes());
        v[12..20].copy_from_slice(&2048u64.to_le_bytes());
        v[20..28].copy_from_slice(&128u64.to_le_bytes());
        v[44..48].copy_from_slice(&512u32.to_le_bytes());
        v[56..64].copy_from_slice(&1u64.to_le_bytes());
        v[77..79].copy_from_slice(&u16::from(compressed).to_le_bytes());
        v[512..516].copy_from_slice(&2u32.to_le_bytes()); // GD[0] -> GT at sector 2 (2 sectors)
        let gt = 1024;
        v[gt + 8..gt + 12].copy_from_slice(&4u32.to_le_bytes());
        v[gt + 12..gt + 16].copy_from_slice(&1u32.to_le_bytes());
        let grain = vec![0x77u8; 65536];
        if compressed {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(&grain).unwrap();
            let packed = z.finish().unwrap();
            v.extend_from_slice(&256u64.to_le_bytes());
            v.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            v.extend_from_slice(&packed);
            v.resize(v.len().div_ceil(512) * 512, 0);
        } else {
            v.extend_from_slice(&grain);
        }
        v
    }

    #[test]
    fn sparse_and_compressed_grains_read_back() {
        for compressed in [false, true] {
            let d = SparseVmdk::open(Arc::new(MemDevice::new(sample(compressed)))).unwrap();
            assert_eq!(d.size(), 1 << 20);
            let mut buf = vec![1u8; 1 << 20];
            assert_eq!(d.read_at(0, &mut buf).unwrap(), 1 << 20);
            assert!(buf[..131072].iter().all(|&b| b == 0), "{compressed}");
            assert!(
                buf[131072..196608].iter().all(|&b| b == 0x77),
                "{compressed}"
            );
            assert!(buf[196608..].iter().all(|&b| b == 0), "{compressed}");
        }
    }

    #[test]
    fn a_directory_at_the_end_is_found_through_the_footer() {
        let mut v = sample(true);
        let header: Vec<u8> = v[..512].to_vec();
        v[56..64].copy_from_slice(&GD_AT_END.to_le_bytes());
        let mut marker = vec![0u8; 512];
        marker[..8].copy_from_slice(&1u64.to_le_bytes());
        marker[12..16].copy_from_slice(&3u32.to_le_bytes()); // footer marker
        v.extend_from_slice(&marker);
        v.extend_from_slice(&header);
        v.extend_from_slice(&[0u8; 512]); // end-of-stream marker
        let d = SparseVmdk::open(Arc::new(MemDevice::new(v.clone()))).unwrap();
        let mut buf = vec![0u8; 65536];
        d.read_at(131072, &mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 0x77));
        // Without the end-of-stream marker, the footer is the last sector.
        v.truncate(v.len() - 512);
        assert!(SparseVmdk::open(Arc::new(MemDevice::new(v))).is_ok());
    }

    #[test]
    fn a_parent_in_the_descriptor_makes_a_differencing_disk() {
        let mut v = sample(false);
        v[28..36].copy_from_slice(&1u64.to_le_bytes()); // descriptor at sector 1
        v[36..44].copy_from_slice(&1u64.to_le_bytes());
        let text = b"# Disk DescriptorFile\nparentFileNameHint=\"base.vmdk\"\n";
        v[512..512 + text.len()].copy_from_slice(text);
        v[56..64].copy_from_slice(&8u64.to_le_bytes()); // the directory moves out of the way
        v.resize(v.len().max(8 * 512 + 4), 0);
        match SparseVmdk::open(Arc::new(MemDevice::new(v))) {
            Err(VdiskError::Unsupported { why, .. }) => assert!(why.contains("base.vmdk"), "{why}"),
            other => panic!("{:?}", other.err()),
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut v = sample(false);
        v[20] = 3; // grain not a power of two
        assert!(SparseVmdk::open(Arc::new(MemDevice::new(v))).is_err());
        let mut v = sample(false);
        v[56..64].copy_from_slice(&u64::MAX.to_le_bytes()); // at the end, no footer
        assert!(SparseVmdk::open(Arc::new(MemDevice::new(v))).is_err());
        let mut v = sample(true);
        v[77] = 9;
        assert!(matches!(
            SparseVmdk::open(Arc::new(MemDevice::new(v))),
            Err(VdiskError::Unsupported { .. })
        ));
    }
}
