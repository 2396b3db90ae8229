//! Inodes read by number: mode, size, times, flags, the 60-byte `i_block` area and the
//! in-inode extended attributes (where inline data continues).
//!
//! Under `metadata_csum` every inode's checksum is checked before any field is trusted; a
//! 128-byte inode has room only for the low 16 bits of it, and the kernel then compares only
//! those: so do we.

use super::superblock::{crc32c_raw, le16, le32, Superblock};
use crate::io::ReadAt;

pub(super) const FLAG_ENCRYPT: u32 = 0x800;
pub(super) const FLAG_EXTENTS: u32 = 0x8_0000;
/// `ea_inode`: the inode holds an extended attribute's value, not a file.
pub(super) const FLAG_EA_INODE: u32 = 0x20_0000;
pub(super) const FLAG_INLINE_DATA: u32 = 0x1000_0000;

/// The magic number an extent tree's node starts with.
const EXTENT_MAGIC: u16 = 0xF30A;

pub(super) const S_IFMT: u16 = 0xF000;
pub(super) const S_IFREG: u16 = 0x8000;
pub(super) const S_IFDIR: u16 = 0x4000;

/// Largest inode record read (the superblock allows up to a block; real ones are 128-1024).
const MAX_INODE: usize = 4096;
/// Offset of the first in-inode extended attribute header (after 128 + `i_extra_isize`).
const XATTR_MAGIC: u32 = 0xEA02_0000;
/// Attribute name index of `system.*` (where `system.data`, inline data's tail, lives).
const XATTR_INDEX_SYSTEM: u8 = 7;

/// One inode, copied out of its table.
#[derive(Clone)]
pub struct Inode {
    pub number: u64,
    pub mode: u16,
    pub size: u64,
    pub mtime: i64,
    pub links: u16,
    pub flags: u32,
    pub block: [u8; 60],
    /// The bytes after the 128-byte base (extended fields and in-inode attributes).
    extra: Vec<u8>,
}

impl Inode {
    /// Reads inode `ino`, checking its checksum under `metadata_csum`.
    pub fn read(sb: &Superblock, dev: &dyn ReadAt, ino: u64) -> Result<Self, String> {
        let at = sb.inode_at(dev, ino)?;
        let len = usize::try_from(sb.inode_size).unwrap_or(128).min(MAX_INODE);
        let mut raw = vec![0u8; len];
        dev.read_exact_at(at, &mut raw)
            .map_err(|e| format!("inode {ino}: {e}"))?;
        Self::parse(sb, ino, &raw)
    }

    fn parse(sb: &Superblock, ino: u64, raw: &[u8]) -> Result<Self, String> {
        let extra_isize = if raw.len() > 128 {
            usize::from(le16(raw, 0x80))
        } else {
            0
        };
        if raw.len() > 128 && (128 + extra_isize > raw.len() || extra_isize % 4 != 0) {
            return Err(format!("inode {ino}: extra size {extra_isize}"));
        }
        if let Some(seed) = sb.csum_seed {
            let stored_lo = u32::from(le16(raw, 0x7C));
            let has_hi = raw.len() > 128 && extra_isize >= 4;
            let stored = if has_hi {
                stored_lo | (u32::from(le16(raw, 0x82)) << 16)
            } else {
                stored_lo
            };
            let mut copy = raw.to_vec();
            copy[0x7C..0x7E].fill(0);
            if has_hi {
                copy[0x82..0x84].fill(0);
            }
            let ino32 = u32::try_from(ino).unwrap_or(0);
            let seed = crc32c_raw(seed, &ino32.to_le_bytes());
            let seed = crc32c_raw(seed, &raw[0x64..0x68]);
            let mut sum = crc32c_raw(seed, &copy);
            if !has_hi {
                sum &= 0xFFFF;
            }
            if sum != stored && raw.iter().any(|&b| b != 0) {
                return Err(format!("inode {ino}: checksum mismatch"));
            }
        }
        let size = u64::from(le32(raw, 0x4)) | (u64::from(le32(raw, 0x6C)) << 32);
        let mut mtime = i64::from(le32(raw, 0x10) as i32);
        if extra_isize >= 0x0C {
            // i_mtime_extra (offset 0x88): the low two bits extend the epoch.
            mtime += i64::from(le32(raw, 0x88) & 3) << 32;
        }
        let mut block = [0u8; 60];
        block.copy_from_slice(&raw[0x28..0x64]);
        Ok(Self {
            number: ino,
            mode: le16(raw, 0),
            size,
            mtime,
            links: le16(raw, 0x1A),
            flags: le32(raw, 0x20),
            block,
            extra: raw
                .get(128 + extra_isize..)
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
        })
    }

    /// The journal inode as the superblock's backup describes it (`s_jnl_blocks`): e2fsck's
    /// stand-in for a damaged journal inode (a regular file, one link, that `i_block` and
    /// size). e2fsck leaves its flags at 0, so it reads the copy as a block map even when it
    /// is an extent tree's root (then the first "block number" is out of range and e2fsck
    /// gives up); here a copy that starts with an extent header is read as one, as
    /// e2fsprogs' `ext2fs_swap_super` recognises it.
    pub fn journal_backup(number: u64, block: [u8; 60], size: u64) -> Self {
        let extents = le16(&block, 0) == EXTENT_MAGIC;
        Self {
            number,
            mode: S_IFREG | 0o600,
            size,
            mtime: 0,
            links: 1,
            flags: if extents { FLAG_EXTENTS } else { 0 },
            block,
            extra: Vec::new(),
        }
    }

    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    pub fn is_regular(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The value of the in-inode attribute `system.<name>`, if present and in bounds.
    /// Values kept in another inode (`ea_inode`) are not needed for `system.data`.
    pub fn system_xattr(&self, name: &[u8]) -> Option<&[u8]> {
        let area = &self.extra;
        if area.len() < 4 || le32(area, 0) != XATTR_MAGIC {
            return None;
        }
        let entries = &area[4..];
        let mut at = 0usize;
        while at + 16 <= entries.len() {
            if le32(entries, at) == 0 {
                break;
            }
            let name_len = usize::from(entries[at]);
            let index = entries[at + 1];
            let value_offs = usize::from(le16(entries, at + 2));
            let value_inum = le32(entries, at + 4);
            let value_size = usize::try_from(le32(entries, at + 8)).ok()?;
            let name_at = at + 16;
            let this = entries.get(name_at..name_at + name_len)?;
            if index == XATTR_INDEX_SYSTEM && this == name && value_inum == 0 {
                return entries.get(value_offs..value_offs.checked_add(value_size)?);
            }
            at = (name_at + name_len).next_multiple_of(4);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_lookup_stays_in_bounds() {
        let mut i = Inode {
            number: 12,
            mode: S_IFREG,
            size: 0,
            mtime: 0,
            links: 1,
            flags: 0,
            block: [0; 60],
            extra: Vec::new(),
        };
        assert!(i.system_xattr(b"data").is_none());
        // magic, one entry "data" (index 7) with a 3-byte value at offset 40.
        let mut a = XATTR_MAGIC.to_le_bytes().to_vec();
        a.extend([4, 7]);
        a.extend(40u16.to_le_bytes());
        a.extend(0u32.to_le_bytes());
        a.extend(3u32.to_le_bytes());
        a.extend(0u32.to_le_bytes());
        a.extend(b"data");
        a.extend([0u8; 4]);
        a.resize(44, 0);
        a.extend(b"abc");
        i.extra = a.clone();
        assert_eq!(i.system_xattr(b"data"), Some(&b"abc"[..]));
        a[4 + 8] = 200; // value runs past the inode
        i.extra = a;
        assert!(i.system_xattr(b"data").is_none());
    }
}
