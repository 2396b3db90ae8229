//! File identifier descriptors (ECMA-167 4/14.4), the entries of a UDF directory, and their
//! names in OSTA compressed unicode (UDF 2.1.1: a compression byte, 8 or 16, then Latin-1
//! bytes or big-endian UTF-16 units; 254 and 255 are the same two forms in UDF 2.50+).

use super::tag::{self, id, le16, TagError};
use super::Icb;

/// Decodes an OSTA compressed unicode name (`None` if the compression byte is unknown).
pub fn osta(raw: &[u8]) -> Option<String> {
    let (&comp, rest) = raw.split_first()?;
    match comp {
        8 | 254 => Some(rest.iter().map(|&b| char::from(b)).collect()),
        16 | 255 => {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fid {
    /// Decoded name (empty for the parent entry).
    pub name: String,
    /// The entry names a directory.
    pub dir: bool,
    /// Deleted or the parent entry: not a member.
    pub skip: bool,
    /// Where the entry's file entry is.
    pub icb: Icb,
}

/// File characteristics bits (ECMA-167 4/14.4.3).
const DIRECTORY: u8 = 0x02;
const DELETED: u8 = 0x04;
const PARENT: u8 = 0x08;

/// Parses the entry at `data[at..]`; returns it and the offset of the next one.
///
/// The tag is checked (checksum and CRC); its location is not (a directory's data may be
/// embedded in its file entry, and writers differ on what they record there).
pub fn fid(data: &[u8], at: usize) -> Result<(Fid, usize), TagError> {
    let head = data.get(at..at + 38).ok_or(TagError::Short)?;
    let l_fi = usize::from(head[19]);
    let l_iu = usize::from(le16(head, 36));
    let len = (38 + l_iu + l_fi + 3) & !3;
    let rec = data.get(at..at + len).ok_or(TagError::Short)?;
    // The CRC covers the descriptor (minus padding at most): check within the record.
    tag::expect(rec, id::FID, None)?;
    let chars = rec[18];
    let raw = &rec[38 + l_iu..38 + l_iu + l_fi];
    let name = if l_fi == 0 {
        String::new()
    } else {
        osta(raw).unwrap_or_else(|| String::from_utf8_lossy(&raw[1..]).into_owned())
    };
    let fid = Fid {
        name,
        dir: chars & DIRECTORY != 0,
        skip: chars & (DELETED | PARENT) != 0 || l_fi == 0,
        icb: Icb::parse(&rec[20..36]),
    };
    Ok((fid, at + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::udf::tag::tests::seal;

    #[test]
    fn osta_names_in_both_widths() {
        assert_eq!(osta(b"\x08caf\xe9").as_deref(), Some("café"));
        assert_eq!(
            osta(&[16, 0x00, 0x65, 0x01, 0x7e, 0x65, 0xe5]).as_deref(),
            Some("ež日")
        );
        assert_eq!(osta(b"\x07x"), None);
        assert_eq!(osta(b""), None);
    }

    #[test]
    fn fids_parse_and_fail_closed() {
        let name = b"\x08a.txt";
        let len = (38 + name.len() + 3) & !3;
        let mut b = vec![0u8; len];
        b[19] = name.len() as u8;
        b[20..24].copy_from_slice(&2048u32.to_le_bytes());
        b[24..28].copy_from_slice(&77u32.to_le_bytes());
        b[38..38 + name.len()].copy_from_slice(name);
        seal(&mut b, id::FID, 0);
        let (f, next) = fid(&b, 0).unwrap();
        assert_eq!(f.name, "a.txt");
        assert_eq!(f.icb.lbn, 77);
        assert!(!f.dir && !f.skip);
        assert_eq!(next, len);
        assert_eq!(fid(&b[..len - 4], 0), Err(TagError::Short));
        b[40] ^= 1;
        assert_eq!(fid(&b, 0), Err(TagError::Crc));
    }
}
