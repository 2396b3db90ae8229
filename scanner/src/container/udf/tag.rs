//! The descriptor tag that starts every UDF structure (ECMA-167 3/7.2): identifier, checksum
//! of the tag's own bytes, CRC-ITU-T of the descriptor body, and the block it claims to be
//! recorded at. Nothing read from a UDF image is trusted before its tag passes here.

/// Tag identifiers used by the reader (ECMA-167 3/7.2.1 and 4/7.2.1).
pub mod id {
    pub const PVD: u16 = 1;
    pub const AVDP: u16 = 2;
    pub const VDP: u16 = 3;
    pub const PD: u16 = 5;
    pub const LVD: u16 = 6;
    pub const TD: u16 = 8;
    pub const FSD: u16 = 256;
    pub const FID: u16 = 257;
    pub const AED: u16 = 258;
    pub const IE: u16 = 259;
    pub const TE: u16 = 260;
    pub const FE: u16 = 261;
    pub const EFE: u16 = 266;
}

/// Little-endian readers that give 0 past the end (lengths are checked by the callers).
pub fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |x| u16::from_le_bytes([x[0], x[1]]))
}

pub fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

pub fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |x| {
        let mut a = [0u8; 8];
        a.copy_from_slice(x);
        u64::from_le_bytes(a)
    })
}

/// CRC-ITU-T (x^16 + x^12 + x^5 + 1, initial 0, not reflected), as ECMA-167 7.2.6 defines it.
pub fn crc_itu(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Why a tag was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagError {
    /// Shorter than a tag, or the CRC covers bytes that are not there.
    Short,
    /// The tag checksum does not match.
    Checksum,
    /// The descriptor CRC does not match.
    Crc,
    /// Another identifier than the one expected.
    Ident(u16),
    /// Recorded at another block than the one it names.
    Location(u32),
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short => f.write_str("truncated descriptor"),
            Self::Checksum => f.write_str("descriptor tag checksum mismatch"),
            Self::Crc => f.write_str("descriptor CRC mismatch"),
            Self::Ident(i) => write!(f, "unexpected descriptor (tag {i})"),
            Self::Location(l) => write!(f, "descriptor recorded at the wrong block ({l})"),
        }
    }
}

/// A checked tag: its identifier.
///
/// `loc`, when given, is the block the descriptor was read from; the tag must name it.
pub fn check(b: &[u8], loc: Option<u32>) -> Result<u16, TagError> {
    let tag = b.get(..16).ok_or(TagError::Short)?;
    let sum = tag
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .fold(0u8, |s, (_, &x)| s.wrapping_add(x));
    if sum != tag[4] {
        return Err(TagError::Checksum);
    }
    let crc_len = usize::from(le16(tag, 10));
    let body = b.get(16..16 + crc_len).ok_or(TagError::Short)?;
    if crc_itu(body) != le16(tag, 8) {
        return Err(TagError::Crc);
    }
    if let Some(l) = loc {
        let named = le32(tag, 12);
        if named != l {
            return Err(TagError::Location(named));
        }
    }
    Ok(le16(tag, 0))
}

/// A checked tag with an expected identifier.
pub fn expect(b: &[u8], ident: u16, loc: Option<u32>) -> Result<(), TagError> {
    match check(b, loc)? {
        i if i == ident => Ok(()),
        other => Err(TagError::Ident(other)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a valid tag over `b[..16]` (identifier, location, CRC of the rest).
    pub fn seal(b: &mut [u8], ident: u16, loc: u32) {
        b[0..2].copy_from_slice(&ident.to_le_bytes());
        b[2..4].copy_from_slice(&3u16.to_le_bytes());
        let crc_len = (b.len() - 16) as u16;
        b[10..12].copy_from_slice(&crc_len.to_le_bytes());
        let crc = crc_itu(&b[16..]);
        b[8..10].copy_from_slice(&crc.to_le_bytes());
        b[12..16].copy_from_slice(&loc.to_le_bytes());
        b[4] = 0;
        b[4] = b[..16].iter().fold(0u8, |s, &x| s.wrapping_add(x));
    }

    #[test]
    fn crc_matches_the_standard_example() {
        // ECMA-167 7.2.6: the CRC of the bytes 0x70 0x6A 0x77 is 0x3299.
        assert_eq!(crc_itu(&[0x70, 0x6a, 0x77]), 0x3299);
    }

    #[test]
    fn tags_are_checked() {
        let mut b = vec![0u8; 64];
        b[20] = 7;
        seal(&mut b, id::FE, 42);
        assert_eq!(check(&b, Some(42)), Ok(id::FE));
        assert_eq!(check(&b, Some(41)), Err(TagError::Location(42)));
        assert_eq!(expect(&b, id::FID, None), Err(TagError::Ident(id::FE)));
        b[20] = 8;
        assert_eq!(check(&b, None), Err(TagError::Crc));
        b[6] ^= 1;
        assert_eq!(check(&b, None), Err(TagError::Checksum));
        assert_eq!(check(&b[..10], None), Err(TagError::Short));
    }
}
