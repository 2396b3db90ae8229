//! Virtual-disk formats found as files (dynamic VHD, VHDX, sparse and stream-optimized VMDK):
//! read-only translators that present the disk a guest would see as a [`ReadAt`] device over
//! the file's bytes, so that [`super::disk`] opens its partition table and filesystems exactly
//! as it does for a raw image.
//!
//! Each translator reads its own format from the specification (the VHD format
//! specification, MS-VHDX, VMware's Virtual Disk Format 5.0). The file is hostile: header
//! fields are checked against caps before use, nothing is allocated by a size read from the
//! file (allocation tables are read lazily, an entry at a time; a buffer is at most one
//! block or grain under a fixed cap), every offset computation is checked, and a table entry
//! pointing outside the file is a read error, never a panic. Blocks the image does not
//! hold read as zeros. Differencing disks (which need their parent file) are refused as
//! unsupported.

pub mod crc32c;
pub mod vhd;
pub mod vhdx;
pub mod vmdk;

use std::io;
use std::sync::Arc;

use crate::io::{Device, ReadAt, Slice};

/// Why a virtual disk could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VdiskError {
    /// Corrupt or truncated structures.
    #[error("corrupt {format}: {why}")]
    Corrupt {
        /// Format name (`vhd`, `vhdx`, `vmdk`).
        format: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A valid image this reader does not translate (differencing, unknown variant).
    #[error("unsupported {format}: {why}")]
    Unsupported {
        /// Format name.
        format: &'static str,
        /// What is not supported.
        why: String,
    },
}

/// The on-disk layout of an image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A raw image (no translation).
    Raw,
    /// A fixed VHD: the raw disk followed by a 512-byte footer.
    FixedVhd,
    /// A dynamic (or differencing) VHD.
    DynamicVhd,
    /// VHDX.
    Vhdx,
    /// A hosted sparse VMDK extent (monolithicSparse, streamOptimized).
    VmdkSparse,
}

impl Format {
    /// Short name for notes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::FixedVhd => "fixed vhd",
            Self::DynamicVhd => "dynamic vhd",
            Self::Vhdx => "vhdx",
            Self::VmdkSparse => "sparse vmdk",
        }
    }
}

/// Recognises the layout of an image file from its bytes (first sector and last sector).
pub fn detect(base: &dyn ReadAt) -> Format {
    let mut head = [0u8; 8];
    let got = base.read_at(0, &mut head).unwrap_or(0);
    if got == 8 && &head == b"vhdxfile" {
        return Format::Vhdx;
    }
    if got >= 4 && &head[..4] == b"KDMV" {
        return Format::VmdkSparse;
    }
    match vhd::footer_disk_type(base) {
        Some(vhd::DISK_FIXED) => Format::FixedVhd,
        Some(_) => Format::DynamicVhd,
        None if got == 8 && &head == b"conectix" => Format::DynamicVhd,
        None => Format::Raw,
    }
}

/// A translated image: the guest's disk, and what the reader noticed on the way.
pub struct Opened {
    /// The disk as the guest sees it.
    pub dev: Device,
    /// Layout the file had.
    pub format: Format,
    /// Remarks worth a note (a VHDX log not replayed, ...).
    pub notes: Vec<String>,
}

/// Opens the image held by `base`, whatever its layout.
pub fn open(base: Device) -> Result<Opened, VdiskError> {
    let format = detect(base.as_ref());
    let mut notes = Vec::new();
    let dev: Device = match format {
        Format::Raw => base,
        Format::FixedVhd => {
            let len = base.size().saturating_sub(512);
            Arc::new(Slice::new(base, 0, len))
        }
        Format::DynamicVhd => Arc::new(vhd::DynamicVhd::open(base)?),
        Format::Vhdx => {
            let d = vhdx::Vhdx::open(base)?;
            if d.log_pending() {
                notes.push(
                    "vhdx log not replayed (the image was not closed cleanly): read as it is"
                        .into(),
                );
            }
            Arc::new(d)
        }
        Format::VmdkSparse => Arc::new(vmdk::SparseVmdk::open(base)?),
    };
    Ok(Opened { dev, format, notes })
}

/// Big-endian u32 at `off` of `b` (callers check the length).
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_be_bytes(a)
}

/// Big-endian u64 at `off` of `b`.
pub(crate) fn be64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(a)
}

/// Little-endian u16 at `off` of `b`.
pub(crate) fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Little-endian u32 at `off` of `b`.
pub(crate) fn le32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

/// Little-endian u64 at `off` of `b`.
pub(crate) fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// An I/O error saying the image's tables point at something impossible.
pub(crate) fn bad(format: &str, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt {format}: {why}"),
    )
}

/// Drives a translator's read: splits `[offset, offset + buf.len())` (clipped to `size`) at
/// multiples of `unit` and hands each piece (`unit index`, offset inside the unit, the piece
/// of `buf`) to `piece`. Returns how much was filled.
pub(crate) fn read_units(
    size: u64,
    unit: u64,
    offset: u64,
    buf: &mut [u8],
    mut piece: impl FnMut(u64, u64, &mut [u8]) -> io::Result<()>,
) -> io::Result<usize> {
    if offset >= size || unit == 0 {
        return Ok(0);
    }
    let want = usize::try_from((size - offset).min(buf.len() as u64)).unwrap_or(buf.len());
    let mut done = 0usize;
    while done < want {
        let pos = offset + done as u64;
        let index = pos / unit;
        let within = pos % unit;
        let n = usize::try_from((unit - within).min((want - done) as u64)).unwrap_or(want - done);
        piece(index, within, &mut buf[done..done + n])?;
        done += n;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemDevice;

    #[test]
    fn read_units_splits_at_unit_boundaries_and_clips_to_the_size() {
        let mut seen = Vec::new();
        let mut buf = [0u8; 10];
        let n = read_units(12, 4, 3, &mut buf, |i, w, b| {
            seen.push((i, w, b.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 9);
        assert_eq!(seen, vec![(0, 3, 1), (1, 0, 4), (2, 0, 4)]);
        assert_eq!(
            read_units(12, 4, 12, &mut buf, |_, _, _| Ok(())).unwrap(),
            0
        );
    }

    #[test]
    fn detect_knows_the_magics_and_falls_back_to_raw() {
        let mut v = vec![0u8; 4096];
        v[..8].copy_from_slice(b"vhdxfile");
        assert_eq!(detect(&MemDevice::new(v.clone())), Format::Vhdx);
        v[..8].copy_from_slice(b"KDMV\x01\0\0\0");
        assert_eq!(detect(&MemDevice::new(v.clone())), Format::VmdkSparse);
        v[..8].copy_from_slice(b"conectix");
        assert_eq!(detect(&MemDevice::new(v.clone())), Format::DynamicVhd);
        assert_eq!(detect(&MemDevice::new(vec![0u8; 100])), Format::Raw);
        assert_eq!(detect(&MemDevice::new(Vec::new())), Format::Raw);
    }
}
