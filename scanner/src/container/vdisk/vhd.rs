//! Dynamic VHD (Microsoft's Virtual Hard Disk Image Format Specification, version 1.0):
//! a 512-byte footer at the end of the file (a copy at offset 0), a dynamic disk header at
//! the footer's data offset, a block allocation table (BAT) of big-endian sector numbers, and
//! blocks that each start with a sector bitmap (a bit per sector, most significant bit
//! first, padded to a whole sector) followed by the block's data. A BAT entry of
//! `0xFFFFFFFF` is a block not allocated: it reads as zeros, as does a sector whose bitmap
//! bit is clear. Differencing disks (type 4) read their clear sectors from a parent file:
//! refused.

use std::io;

use super::{bad, be32, be64, read_units, VdiskError};
use crate::io::{Device, ReadAt};

/// Disk type of a fixed VHD.
pub const DISK_FIXED: u32 = 2;
/// Disk type of a dynamic VHD.
pub const DISK_DYNAMIC: u32 = 3;
/// Disk type of a differencing VHD.
pub const DISK_DIFFERENCING: u32 = 4;

/// Largest block size accepted (the specification's default is 2 MiB).
const MAX_BLOCK: u32 = 256 << 20;
/// Largest virtual size accepted (the format's own limit is about 2 TiB; a little slack).
const MAX_SIZE: u64 = 1 << 42;

const FMT: &str = "vhd";

fn corrupt(why: impl Into<String>) -> VdiskError {
    VdiskError::Corrupt {
        format: FMT,
        why: why.into(),
    }
}

/// The one's complement of the byte sum, with the checksum field (`at..at+4`) counted as zero.
fn checksum(b: &[u8], at: usize) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(at..at + 4).contains(i))
        .fold(0u32, |s, (_, &x)| s.wrapping_add(u32::from(x)));
    !sum
}

/// A footer read from `off`, if it has the cookie and a right checksum.
fn footer_at(base: &dyn ReadAt, off: u64) -> Option<[u8; 512]> {
    let mut f = [0u8; 512];
    base.read_exact_at(off, &mut f).ok()?;
    (f.starts_with(b"conectix") && checksum(&f, 64) == be32(&f, 64)).then_some(f)
}

/// The disk type of the footer in the last sector, if there is one. A footer without a right
/// checksum still counts when its type is one of the three (a fixed disk's footer is all a
/// raw image has to tell it apart).
pub fn footer_disk_type(base: &dyn ReadAt) -> Option<u32> {
    let size = base.size();
    let off = size.checked_sub(512)?;
    let mut f = [0u8; 512];
    base.read_exact_at(off, &mut f).ok()?;
    if !f.starts_with(b"conectix") {
        return None;
    }
    let t = be32(&f, 60);
    (DISK_FIXED..=DISK_DIFFERENCING).contains(&t).then_some(t)
}

/// A dynamic VHD's guest disk.
pub struct DynamicVhd {
    base: Device,
    size: u64,
    block: u64,
    /// Bytes of each block's sector bitmap, padded to whole sectors.
    bitmap_len: u64,
    bat: u64,
    entries: u64,
}

impl DynamicVhd {
    /// Reads the footer (the last sector, else the copy at offset 0) and the dynamic header.
    pub fn open(base: Device) -> Result<Self, VdiskError> {
        let file = base.size();
        let footer = file
            .checked_sub(512)
            .and_then(|end| footer_at(base.as_ref(), end))
            .or_else(|| footer_at(base.as_ref(), 0))
            .ok_or_else(|| corrupt("no footer with a valid checksum"))?;
        match be32(&footer, 60) {
            DISK_DYNAMIC => {}
            DISK_DIFFERENCING => {
                return Err(VdiskError::Unsupported {
                    format: FMT,
                    why: "differencing disk: its parent file is needed".into(),
                })
            }
            t => return Err(corrupt(format!("disk type {t} in a dynamic layout"))),
        }
        let size = be64(&footer, 48);
        if size > MAX_SIZE {
            return Err(corrupt(format!("virtual size {size} too large")));
        }
        let hdr_off = be64(&footer, 16);
        let mut h = [0u8; 1024];
        base.read_exact_at(hdr_off, &mut h)
            .map_err(|_| corrupt("dynamic header past the end of the file"))?;
        if !h.starts_with(b"cxsparse") {
            return Err(corrupt("no dynamic header cookie"));
        }
        if checksum(&h, 36) != be32(&h, 36) {
            return Err(corrupt("dynamic header checksum"));
        }
        let bat = be64(&h, 16);
        let entries = u64::from(be32(&h, 28));
        let block = be32(&h, 32);
        if !block.is_power_of_two() || !(512..=MAX_BLOCK).contains(&block) {
            return Err(corrupt(format!("block size {block}")));
        }
        let block = u64::from(block);
        if entries < size.div_ceil(block) {
            return Err(corrupt(format!(
                "{entries} table entries for {size} bytes in blocks of {block}"
            )));
        }
        if bat.checked_add(entries * 4).is_none_or(|end| end > file) {
            return Err(corrupt("block allocation table past the end of the file"));
        }
        let sectors = block / 512;
        let bitmap_len = sectors.div_ceil(8).div_ceil(512) * 512;
        Ok(Self {
            base,
            size,
            block,
            bitmap_len,
            bat,
            entries,
        })
    }

    fn piece(&self, index: u64, within: u64, out: &mut [u8]) -> io::Result<()> {
        if index >= self.entries {
            return Err(bad(FMT, "read past the allocation table"));
        }
        let mut e = [0u8; 4];
        self.base.read_exact_at(self.bat + index * 4, &mut e)?;
        let sector = u32::from_be_bytes(e);
        if sector == u32::MAX {
            out.fill(0);
            return Ok(());
        }
        let start = u64::from(sector) * 512;
        let data = start + self.bitmap_len + within;
        self.base
            .read_exact_at(data, out)
            .map_err(|_| bad(FMT, format!("block {index} past the end of the file")))?;
        // The sector bitmap: a clear bit is a sector this file does not hold (zeros).
        let first = within / 512;
        let last = (within + out.len() as u64 - 1) / 512;
        let (b0, b1) = (first / 8, last / 8);
        let mut bits = vec![0u8; usize::try_from(b1 - b0 + 1).unwrap_or(0)];
        self.base.read_exact_at(start + b0, &mut bits)?;
        for s in first..=last {
            let byte = bits[usize::try_from(s / 8 - b0).unwrap_or(0)];
            if byte & (0x80 >> (s % 8)) == 0 {
                let lo = (s * 512).max(within) - within;
                let hi = ((s + 1) * 512).min(within + out.len() as u64) - within;
                out[lo as usize..hi as usize].fill(0);
            }
        }
        Ok(())
    }
}

impl ReadAt for DynamicVhd {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        read_units(self.size, self.block, offset, buf, |i, w, b| {
            self.piece(i, w, b)
        })
    }
    fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::io::MemDevice;

    /// A dynamic VHD of `size` bytes in blocks of 4 KiB; block 1 allocated with bytes `0xAB`,
    /// its second sector marked absent in the bitmap.
    pub(crate) fn sample(size: u64) -> Vec<u8> {
        let block = 4096u32;
        let entries = size.div_ceil(u64::from(block)) as u32;
        let mut footer = [0u8; 512];
        footer[..8].copy_from_slice(b"conectix");
        footer[16..24].copy_from_slice(&512u64.to_be_bytes());
        footer[40..48].copy_from_slice(&size.to_be_bytes());
        footer[48..56].copy_from_slice(&size.to_be_bytes());
        footer[60..64].copy_from_slice(&DISK_DYNAMIC.to_be_bytes());
        let c = checksum(&footer, 64);
        footer[64..68].copy_from_slice(&c.to_be_bytes());
        let mut h = [0u8; 1024];
        h[..8].copy_from_slice(b"cxsparse");
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        h[16..24].copy_from_slice(&1536u64.to_be_bytes());
        h[28..32].copy_from_slice(&entries.to_be_bytes());
        h[32..36].copy_from_slice(&block.to_be_bytes());
        let c = checksum(&h, 36);
        h[36..40].copy_from_slice(&c.to_be_bytes());
        let mut v = footer.to_vec();
        v.extend_from_slice(&h);
        let mut bat = vec![0xffu8; (entries as usize * 4).div_ceil(512) * 512];
        let block_at = (1536 + bat.len()) / 512;
        bat[4..8].copy_from_slice(&(block_at as u32).to_be_bytes());
        v.extend_from_slice(&bat);
        let mut bitmap = [0u8; 512];
        bitmap[0] = 0b1011_1111;
        v.extend_from_slice(&bitmap);
        v.extend(std::iter::repeat_n(0xABu8, block as usize));
        v.extend_from_slice(&footer);
        v
    }

    #[test]
    fn absent_blocks_and_clear_bitmap_sectors_read_as_zeros() {
        let d = DynamicVhd::open(Arc::new(MemDevice::new(sample(16384)))).unwrap();
        assert_eq!(d.size(), 16384);
        let mut buf = vec![1u8; 16384];
        assert_eq!(d.read_at(0, &mut buf).unwrap(), 16384);
        assert!(buf[..4096].iter().all(|&b| b == 0));
        assert!(buf[4096..4608].iter().all(|&b| b == 0xAB));
        assert!(buf[4608..5120].iter().all(|&b| b == 0));
        assert!(buf[5120..8192].iter().all(|&b| b == 0xAB));
        assert!(buf[8192..].iter().all(|&b| b == 0));
        let mut one = [0u8; 3];
        assert_eq!(d.read_at(5119, &mut one).unwrap(), 3);
        assert_eq!(one, [0, 0xAB, 0xAB]);
    }

    #[test]
    fn differencing_and_broken_headers_are_refused() {
        let mut v = sample(8192);
        let end = v.len() - 512;
        v[end + 63] = 4;
        // Checksum now wrong at the end: the copy at 0 (still dynamic) is used.
        assert!(DynamicVhd::open(Arc::new(MemDevice::new(v.clone()))).is_ok());
        v[63] = 4;
        assert!(DynamicVhd::open(Arc::new(MemDevice::new(v.clone()))).is_err());
        for at in [0, end] {
            let c = checksum(&v[at..at + 512], 64);
            v[at + 64..at + 68].copy_from_slice(&c.to_be_bytes());
        }
        assert!(matches!(
            DynamicVhd::open(Arc::new(MemDevice::new(v))),
            Err(VdiskError::Unsupported { .. })
        ));
        let mut v = sample(8192);
        v[512 + 33] = 0x13; // block size not a power of two
        assert!(DynamicVhd::open(Arc::new(MemDevice::new(v))).is_err());
    }
}
