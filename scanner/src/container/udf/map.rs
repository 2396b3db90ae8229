//! Partition maps (ECMA-167 3/10.7, OSTA UDF 2.2.8-2.2.10): how a logical block of a
//! partition reference number becomes a byte offset in the image. Type 1 maps are a plain
//! offset; sparable maps (UDF 1.50+, rewritable discs) remap whole packets listed in their
//! sparing table; the metadata partition (UDF 2.50+) is a file whose extents lie in a
//! physical partition. Virtual (VAT) maps of write-once discs are recognised, not read.

use super::tag::TagError;

/// One extent of a file's data (from a short_ad or long_ad).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ad {
    /// ECMA-167 4/14.14.1.1: 0 recorded, 1 allocated not recorded, 2 not allocated (both read
    /// as zeros), 3 the next extent of allocation descriptors.
    pub kind: u8,
    /// Bytes.
    pub len: u32,
    /// Partition reference number.
    pub part: u16,
    /// First logical block, in that partition.
    pub lbn: u32,
}

/// A partition reference number's map.
#[derive(Debug, Clone)]
pub enum PartMap {
    /// Blocks `[0, len)` at sector `start`.
    Physical { start: u64, len: u64 },
    /// A physical partition whose packets may be relocated (`(original lbn, mapped sector)`,
    /// sorted by original).
    Sparable {
        start: u64,
        len: u64,
        packet: u32,
        table: Vec<(u32, u32)>,
    },
    /// Blocks of the metadata file, whose extents are in map `phys`: each extent with the
    /// byte offset in the file where it starts (increasing).
    Metadata { phys: u16, extents: Vec<(u64, Ad)> },
    /// A map this reader does not resolve (virtual partition, unknown type), named.
    Unreadable(&'static str),
    /// A map whose structures are missing or corrupt (no partition descriptor, no readable
    /// metadata file), named.
    Broken(&'static str),
}

/// All maps of the logical volume, by partition reference number.
#[derive(Debug, Clone)]
pub struct Maps {
    pub bs: u64,
    pub size: u64,
    pub maps: Vec<PartMap>,
}

/// Why a structure could not be read: corrupt, or valid but of a kind not read here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    pub msg: String,
    pub unsupported: bool,
}

impl MapError {
    pub fn corrupt(s: impl Into<String>) -> Self {
        Self {
            msg: s.into(),
            unsupported: false,
        }
    }
    pub fn unsupported(s: impl Into<String>) -> Self {
        Self {
            msg: s.into(),
            unsupported: true,
        }
    }
}

impl From<TagError> for MapError {
    fn from(e: TagError) -> Self {
        Self::corrupt(e.to_string())
    }
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

fn err<T>(s: impl Into<String>) -> Result<T, MapError> {
    Err(MapError::corrupt(s))
}

impl Maps {
    /// The byte offset of block `lbn` of partition `part` and how many bytes from there are
    /// contiguous in the image (at least 1, clipped to the image's end).
    pub fn resolve(&self, part: u16, lbn: u32) -> Result<(u64, u64), MapError> {
        self.resolve_in(part, lbn, 0)
    }

    fn resolve_in(&self, part: u16, lbn: u32, depth: u8) -> Result<(u64, u64), MapError> {
        let Some(map) = self.maps.get(usize::from(part)) else {
            return err(format!("partition reference {part} not in the volume"));
        };
        let bs = self.bs;
        let (sector, blocks) = match map {
            PartMap::Physical { start, len } => {
                let l = u64::from(lbn);
                if l >= *len {
                    return err(format!("block {lbn} past its partition"));
                }
                (start + l, len - l)
            }
            PartMap::Sparable {
                start,
                len,
                packet,
                table,
            } => {
                let l = u64::from(lbn);
                if l >= *len {
                    return err(format!("block {lbn} past its partition"));
                }
                let p = *packet;
                let first = lbn - lbn % p;
                let in_packet = u64::from(p - lbn % p);
                match table.binary_search_by_key(&first, |e| e.0) {
                    Ok(i) => (u64::from(table[i].1) + u64::from(lbn - first), in_packet),
                    Err(_) => (start + l, in_packet.min(len - l)),
                }
            }
            PartMap::Metadata { phys, extents } => {
                if depth > 0 {
                    return err("metadata partition inside a metadata partition");
                }
                let want = u64::from(lbn) * bs;
                let i = extents.partition_point(|(start, _)| *start <= want);
                let Some((at, e)) = i.checked_sub(1).and_then(|i| extents.get(i)) else {
                    return err(format!("metadata block {lbn} past the metadata file"));
                };
                let end = at + u64::from(e.len);
                if want >= end {
                    return err(format!("metadata block {lbn} past the metadata file"));
                }
                if e.kind != 0 {
                    return err("metadata block not recorded");
                }
                let skip = (want - at) / bs;
                let Some(b) = u32::try_from(u64::from(e.lbn) + skip).ok() else {
                    return err("metadata extent past 2^32 blocks");
                };
                let (pos, run) = self.resolve_in(*phys, b, depth + 1)?;
                return Ok((pos, run.min(end - want)));
            }
            PartMap::Unreadable(what) => {
                return Err(MapError::unsupported(format!("{what} not read")))
            }
            PartMap::Broken(what) => return err(*what),
        };
        let pos = sector
            .checked_mul(bs)
            .filter(|&p| p < self.size)
            .ok_or_else(|| MapError::corrupt(format!("block {lbn} outside the image")))?;
        let run = blocks.saturating_mul(bs).min(self.size - pos);
        Ok((pos, run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Maps {
        Maps {
            bs: 2048,
            size: 2048 * 1000,
            maps: vec![
                PartMap::Physical {
                    start: 100,
                    len: 800,
                },
                PartMap::Sparable {
                    start: 100,
                    len: 800,
                    packet: 32,
                    table: vec![(64, 900)],
                },
                PartMap::Metadata {
                    phys: 0,
                    extents: vec![
                        (
                            0,
                            Ad {
                                kind: 0,
                                len: 4096,
                                part: 0,
                                lbn: 10,
                            },
                        ),
                        (
                            4096,
                            Ad {
                                kind: 0,
                                len: 2048,
                                part: 0,
                                lbn: 50,
                            },
                        ),
                    ],
                },
                PartMap::Unreadable("virtual partition"),
            ],
        }
    }

    #[test]
    fn maps_resolve_and_clip() {
        let m = maps();
        assert_eq!(m.resolve(0, 0), Ok((100 * 2048, 800 * 2048)));
        assert_eq!(m.resolve(0, 799), Ok((899 * 2048, 2048)));
        assert!(m.resolve(0, 800).is_err());
        assert_eq!(m.resolve(1, 65), Ok((901 * 2048, 31 * 2048)));
        assert_eq!(m.resolve(1, 3), Ok((103 * 2048, 29 * 2048)));
        assert_eq!(m.resolve(2, 1), Ok((111 * 2048, 2048)));
        assert_eq!(m.resolve(2, 2), Ok((150 * 2048, 2048)));
        assert!(m.resolve(2, 3).is_err());
        assert!(m.resolve(3, 0).is_err());
        assert!(m.resolve(9, 0).is_err());
    }
}
