//! The ext2/3/4 superblock and block group descriptors: where everything else is found.
//!
//! Only the fields a reader needs are kept, each checked against the others and against the
//! device size before use, so that later arithmetic on them stays in range. Descriptors are not
//! loaded up front (their number comes from the disk): [`Superblock::inode_table`] reads the
//! one it needs, through the block cache, wherever the layout puts it (contiguous after the
//! superblock, or spread over the groups with `meta_bg`).

use crate::fs::FsError;
use crate::io::ReadAt;

use super::FS;

/// Byte offset of the superblock on the volume.
pub const SB_AT: u64 = 1024;
pub(super) const SB_MAGIC: usize = 0x38;
pub(super) const SB_INCOMPAT: usize = 0x60;
pub(super) const SB_RO_COMPAT: usize = 0x64;
pub(super) const SB_CHECKSUM: usize = 0x3FC;

pub(super) const INCOMPAT_FILETYPE: u32 = 0x2;
pub(super) const INCOMPAT_RECOVER: u32 = 0x4;
pub(super) const INCOMPAT_64BIT: u32 = 0x80;
pub(super) const INCOMPAT_META_BG: u32 = 0x10;
pub(super) const INCOMPAT_CSUM_SEED: u32 = 0x2000;
pub(super) const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
pub(super) const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
const RO_COMPAT_GDT_CSUM: u32 = 0x10;
/// `s_jnl_backup_type`: `s_jnl_blocks` holds a copy of the journal inode's block map.
const JNL_BACKUP_BLOCKS: u8 = 1;
/// Group flag: the group's inode table and bitmap were never initialised (no inode in use).
pub(super) const BG_INODE_UNINIT: u16 = 0x1;
const RO_COMPAT_BIGALLOC: u32 = 0x200;
const COMPAT_SPARSE_SUPER2: u32 = 0x200;

/// Incompatible features this reader cannot read, by their e2fsprogs names. Every other known
/// bit (filetype, needs_recovery, meta_bg, extent, 64bit, mmp, flex_bg, ea_inode,
/// metadata_csum_seed, large_dir, inline_data, encrypt, casefold) is read.
const REFUSED: &[(u32, &str)] = &[
    (0x1, "compression"),
    (0x8, "journal_dev (an external journal, not a filesystem)"),
    (0x1000, "dirdata"),
];
/// Every incompatible bit known to e2fsprogs.
const KNOWN_INCOMPAT: u32 = 0x3_F7DF;

pub(super) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The kernel's `ext4_chksum`: CRC32C from `seed`, without the final inversion.
pub(super) fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    !crc32c::crc32c_append(!seed, data)
}

/// The superblock checksum as the kernel computes it (bytes `0..0x3FC`, seed `!0`).
pub(super) fn superblock_checksum(sb: &[u8]) -> u32 {
    crc32c_raw(!0, &sb[..SB_CHECKSUM])
}

fn invalid(reason: impl Into<String>) -> FsError {
    FsError::Invalid {
        fs: FS,
        reason: reason.into(),
    }
}

/// What the reader keeps of the superblock.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub block_size: u64,
    pub blocks_count: u64,
    pub first_data_block: u64,
    pub blocks_per_group: u64,
    pub inodes_per_group: u64,
    pub inodes_count: u64,
    pub groups: u64,
    pub inode_size: u64,
    pub desc_size: u64,
    pub incompat: u32,
    pub ro_compat: u32,
    compat: u32,
    first_meta_bg: u64,
    backup_bgs: [u64; 2],
    /// `metadata_csum`: the seed of inode checksums, `None` when checksums are off.
    pub csum_seed: Option<u32>,
    pub journal_inum: u32,
    /// The superblock's copy of the journal inode (`s_jnl_blocks`, when `s_jnl_backup_type`
    /// says it holds one): its 60-byte `i_block` and its size (words 15 and 16).
    pub journal_backup: Option<([u8; 60], u64)>,
    pub label: Option<String>,
    /// First inode number for ordinary files (`s_first_ino`; 11 before revision 1).
    pub first_ino: u64,
    /// Inodes the superblock names for its own use at or above `first_ino` (journal, quota,
    /// snapshot, orphan file): not files of the user.
    pub special_inodes: [u64; 6],
}

/// What the orphan sweep needs of one block group's descriptor.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// Block of the inode bitmap.
    pub inode_bitmap: u64,
    /// `bg_flags` (meaningful only under `uninit_bg` or `metadata_csum`).
    pub flags: u16,
    /// Inodes at the end of the group's table never used (`bg_itable_unused`).
    pub itable_unused: u64,
}

impl Superblock {
    /// Parses and checks the 1024 bytes at [`SB_AT`] of a volume of `dev_size` bytes.
    pub fn parse(sb: &[u8; 1024], dev_size: u64) -> Result<Self, FsError> {
        if sb[SB_MAGIC..SB_MAGIC + 2] != [0x53, 0xEF] {
            return Err(invalid("no ext2/3/4 superblock magic"));
        }
        let incompat = le32(sb, SB_INCOMPAT);
        let ro_compat = le32(sb, SB_RO_COMPAT);
        let compat = le32(sb, 0x5C);
        let mut refused: Vec<String> = REFUSED
            .iter()
            .filter(|(bit, _)| incompat & bit != 0)
            .map(|(_, n)| (*n).to_string())
            .collect();
        if incompat & !KNOWN_INCOMPAT != 0 {
            refused.push(format!(
                "unknown incompat bits {:#x}",
                incompat & !KNOWN_INCOMPAT
            ));
        }
        if !refused.is_empty() {
            return Err(FsError::Unsupported {
                fs: FS,
                reason: format!("incompatible features: {}", refused.join(", ")),
            });
        }
        if ro_compat & RO_COMPAT_METADATA_CSUM != 0
            && superblock_checksum(sb) != le32(sb, SB_CHECKSUM)
        {
            return Err(invalid("superblock checksum mismatch"));
        }
        let log = le32(sb, 0x18);
        if log > 6 {
            return Err(invalid(format!("block size 1024 << {log}")));
        }
        let block_size = 1024u64 << log;
        let is_64 = incompat & INCOMPAT_64BIT != 0;
        let hi = |at: usize| {
            if is_64 {
                u64::from(le32(sb, at)) << 32
            } else {
                0
            }
        };
        let blocks_count = u64::from(le32(sb, 0x4)) | hi(0x150);
        let first_data_block = u64::from(le32(sb, 0x14));
        let blocks_per_group = u64::from(le32(sb, 0x20));
        let inodes_per_group = u64::from(le32(sb, 0x28));
        let inodes_count = u64::from(le32(sb, 0x0));
        let rev = le32(sb, 0x4C);
        let inode_size = if rev == 0 {
            128
        } else {
            u64::from(le16(sb, 0x58))
        };
        let desc_size = if is_64 { u64::from(le16(sb, 0xFE)) } else { 32 };
        // bigalloc: the bitmaps count clusters of 2^shift blocks.
        let shift = if ro_compat & RO_COMPAT_BIGALLOC != 0 {
            le32(sb, 0x1C).saturating_sub(log).min(16)
        } else {
            0
        };
        if blocks_per_group == 0 || blocks_per_group > (8 * block_size) << shift {
            return Err(invalid(format!("{blocks_per_group} blocks per group")));
        }
        if inodes_per_group == 0 || inodes_per_group > 8 * block_size {
            return Err(invalid(format!("{inodes_per_group} inodes per group")));
        }
        if inode_size < 128 || inode_size > block_size || !inode_size.is_power_of_two() {
            return Err(invalid(format!("inode size {inode_size}")));
        }
        if !(32..=1024).contains(&desc_size) || !desc_size.is_power_of_two() {
            return Err(invalid(format!("group descriptor size {desc_size}")));
        }
        if first_data_block >= blocks_count || first_data_block > 1 {
            return Err(invalid(format!("first data block {first_data_block}")));
        }
        // The volume may be an image cut short, but not by more than the size of the disk.
        let needed = blocks_count
            .checked_mul(block_size)
            .ok_or_else(|| invalid("block count overflows"))?;
        if needed > dev_size.saturating_mul(2).max(1 << 20) {
            return Err(invalid(format!(
                "{blocks_count} blocks of {block_size} bytes on a {dev_size}-byte volume"
            )));
        }
        let groups = (blocks_count - first_data_block).div_ceil(blocks_per_group);
        if inodes_count > groups.saturating_mul(inodes_per_group) {
            return Err(invalid(format!(
                "{inodes_count} inodes in {groups} groups of {inodes_per_group}"
            )));
        }
        let csum_seed = (ro_compat & RO_COMPAT_METADATA_CSUM != 0).then(|| {
            if incompat & INCOMPAT_CSUM_SEED != 0 {
                le32(sb, 0x270)
            } else {
                crc32c_raw(!0, &sb[0x68..0x78])
            }
        });
        let label = String::from_utf8_lossy(&sb[0x78..0x88])
            .trim_end_matches('\0')
            .trim()
            .to_string();
        Ok(Self {
            block_size,
            blocks_count,
            first_data_block,
            blocks_per_group,
            inodes_per_group,
            inodes_count,
            groups,
            inode_size,
            desc_size,
            incompat,
            ro_compat,
            compat,
            first_meta_bg: u64::from(le32(sb, 0x104)),
            backup_bgs: [u64::from(le32(sb, 0x24C)), u64::from(le32(sb, 0x250))],
            csum_seed,
            journal_inum: le32(sb, 0xE0),
            journal_backup: (sb[0xFD] == JNL_BACKUP_BLOCKS).then(|| {
                let mut block = [0u8; 60];
                block.copy_from_slice(&sb[0x10C..0x148]);
                let size = (u64::from(le32(sb, 0x148)) << 32) | u64::from(le32(sb, 0x14C));
                (block, size)
            }),
            label: (!label.is_empty()).then_some(label),
            first_ino: if rev == 0 {
                11
            } else {
                u64::from(le32(sb, 0x54))
            },
            special_inodes: [0xE0, 0x180, 0x240, 0x244, 0x26C, 0x280]
                .map(|at| u64::from(le32(sb, at))),
        })
    }

    /// Whether directory entries carry a file type byte (else the name length is 16 bits).
    pub fn has_filetype(&self) -> bool {
        self.incompat & INCOMPAT_FILETYPE != 0
    }

    /// Whether group `g` holds a copy of the superblock (and so of the descriptors).
    fn has_super(&self, g: u64) -> bool {
        if g == 0 {
            return true;
        }
        if self.compat & COMPAT_SPARSE_SUPER2 != 0 {
            return g == self.backup_bgs[0] || g == self.backup_bgs[1];
        }
        if g <= 1 || self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        if g & 1 == 0 {
            return false;
        }
        [3u64, 5, 7].iter().any(|&p| {
            let mut n = p;
            while n < g {
                n = match n.checked_mul(p) {
                    Some(v) => v,
                    None => return false,
                };
            }
            n == g
        })
    }

    /// Byte offset of group `g`'s descriptor (the kernel's `descriptor_loc`).
    fn descriptor_at(&self, g: u64) -> Option<u64> {
        let per_block = self.block_size / self.desc_size;
        let (nr, within) = (g / per_block, g % per_block);
        let block = if self.incompat & INCOMPAT_META_BG == 0 || nr < self.first_meta_bg {
            // Right after the block that holds the superblock (block 1 with 1 KiB blocks, even
            // when the first data block is 0 as under bigalloc).
            (SB_AT / self.block_size).checked_add(1)?.checked_add(nr)?
        } else {
            let first = nr.checked_mul(per_block)?;
            let mut has = u64::from(self.has_super(first));
            if self.block_size == 1024 && nr == 0 && self.first_data_block == 0 {
                has += 1;
            }
            self.first_data_block
                .checked_add(first.checked_mul(self.blocks_per_group)?)?
                .checked_add(has)?
        };
        if block >= self.blocks_count {
            return None;
        }
        block
            .checked_mul(self.block_size)?
            .checked_add(within.checked_mul(self.desc_size)?)
    }

    /// Whether the group descriptors' `bg_flags` and `bg_itable_unused` are to be trusted
    /// (the kernel honours them only under `uninit_bg` or `metadata_csum`).
    pub fn has_group_flags(&self) -> bool {
        self.ro_compat & (RO_COMPAT_GDT_CSUM | RO_COMPAT_METADATA_CSUM) != 0
    }

    /// Group `g`'s descriptor, as far as the orphan sweep needs it.
    pub fn group(&self, dev: &dyn ReadAt, g: u64) -> Result<Group, String> {
        let at = self
            .descriptor_at(g)
            .ok_or_else(|| format!("descriptor of group {g} out of range"))?;
        let mut desc = [0u8; 64];
        let len = usize::try_from(self.desc_size.min(64)).unwrap_or(32);
        dev.read_exact_at(at, &mut desc[..len])
            .map_err(|e| format!("group descriptor {g}: {e}"))?;
        let wide = len >= 64;
        let hi32 = |at: usize| {
            if wide {
                u64::from(le32(&desc, at)) << 32
            } else {
                0
            }
        };
        let hi16 = |at: usize| {
            if wide {
                u64::from(le16(&desc, at)) << 16
            } else {
                0
            }
        };
        Ok(Group {
            inode_bitmap: u64::from(le32(&desc, 0x4)) | hi32(0x24),
            flags: le16(&desc, 0x12),
            itable_unused: u64::from(le16(&desc, 0x1C)) | hi16(0x32),
        })
    }

    /// Byte offset of inode `ino`'s record, or why it has none.
    pub fn inode_at(&self, dev: &dyn ReadAt, ino: u64) -> Result<u64, String> {
        if ino == 0 || ino > self.inodes_count {
            return Err(format!("inode number {ino} out of range"));
        }
        let index = ino - 1;
        let (group, slot) = (index / self.inodes_per_group, index % self.inodes_per_group);
        if group >= self.groups {
            return Err(format!(
                "inode {ino} lies in group {group} of {}",
                self.groups
            ));
        }
        let at = self
            .descriptor_at(group)
            .ok_or_else(|| format!("descriptor of group {group} out of range"))?;
        let mut desc = [0u8; 64];
        let len = usize::try_from(self.desc_size.min(64)).unwrap_or(32);
        dev.read_exact_at(at, &mut desc[..len])
            .map_err(|e| format!("group descriptor {group}: {e}"))?;
        let hi = if len >= 64 {
            u64::from(le32(&desc, 0x28)) << 32
        } else {
            0
        };
        let table = u64::from(le32(&desc, 0x8)) | hi;
        let table_blocks = (self.inodes_per_group * self.inode_size).div_ceil(self.block_size);
        if table == 0 || table.saturating_add(table_blocks) > self.blocks_count {
            return Err(format!("inode table of group {group} at block {table}"));
        }
        Ok(table * self.block_size + slot * self.inode_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(f: impl FnOnce(&mut [u8; 1024])) -> [u8; 1024] {
        let mut b = [0u8; 1024];
        b[SB_MAGIC] = 0x53;
        b[SB_MAGIC + 1] = 0xEF;
        b[0x0..0x4].copy_from_slice(&64u32.to_le_bytes()); // inodes
        b[0x4..0x8].copy_from_slice(&8192u32.to_le_bytes()); // blocks
        b[0x14..0x18].copy_from_slice(&1u32.to_le_bytes());
        b[0x20..0x24].copy_from_slice(&8192u32.to_le_bytes());
        b[0x28..0x2C].copy_from_slice(&64u32.to_le_bytes());
        f(&mut b);
        b
    }

    #[test]
    fn sparse_super_groups() {
        let mut s = Superblock::parse(&sb(|_| {}), 8 << 20).unwrap();
        s.ro_compat |= RO_COMPAT_SPARSE_SUPER;
        let have: Vec<u64> = (0..60).filter(|&g| s.has_super(g)).collect();
        assert_eq!(have, [0, 1, 3, 5, 7, 9, 25, 27, 49]);
    }

    #[test]
    fn hostile_geometry_is_refused() {
        assert!(Superblock::parse(&sb(|b| b[0x18] = 9), 8 << 20).is_err());
        assert!(Superblock::parse(&sb(|b| b[0x20..0x24].fill(0)), 8 << 20).is_err());
        assert!(Superblock::parse(&sb(|b| b[0x4..0x8].fill(0xFF)), 8 << 20).is_err());
        assert!(Superblock::parse(&sb(|b| b[0x0..0x4].fill(0xFF)), 8 << 20).is_err());
        match Superblock::parse(&sb(|b| b[SB_INCOMPAT] = 1), 8 << 20) {
            Err(FsError::Unsupported { reason, .. }) => assert!(reason.contains("compression")),
            other => panic!("{other:?}"),
        }
    }
}
