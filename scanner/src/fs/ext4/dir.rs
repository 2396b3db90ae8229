//! Directory entries, read block by block in on-disk order (no hash-tree lookup: a linear
//! read sees every entry of an indexed directory too, since the index hides inside entries
//! that a linear reader skips; so every htree hash variant is read alike).
//!
//! Entries of inline directories (`inline_data`) use the same format after a 4-byte parent
//! inode number. Every record length is checked against what is left of its block.

/// One directory entry worth walking (not `.`, `..`, nor an unused slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ino: u32,
    pub name: Vec<u8>,
    /// The entry's file type byte (0 when unknown or when the volume has no `filetype`).
    pub kind: u8,
}

pub const KIND_REG: u8 = 1;
pub const KIND_DIR: u8 = 2;

/// Parses the entries of one block (or of an inline directory's area) into `out`; an error
/// names the first malformed entry (the entries before it are kept).
pub fn parse_block(block: &[u8], filetype: bool, out: &mut Vec<Entry>) -> Result<(), String> {
    let mut at = 0usize;
    while at + 8 <= block.len() {
        let ino = u32::from_le_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]]);
        let rec_len = usize::from(u16::from_le_bytes([block[at + 4], block[at + 5]]));
        let (name_len, kind) = if filetype {
            (usize::from(block[at + 6]), block[at + 7])
        } else {
            (
                usize::from(u16::from_le_bytes([block[at + 6], block[at + 7]])),
                0,
            )
        };
        // A 64 KiB block stores a record length of 65536 as 0 (the kernel's rec_len_from_disk).
        let rec_len = if rec_len == 0 && block.len() == 65536 && at == 0 {
            65536
        } else {
            rec_len
        };
        if rec_len < 8 || rec_len % 4 != 0 || at + rec_len > block.len() {
            return Err(format!(
                "bad directory entry at offset {at} (length {rec_len})"
            ));
        }
        if ino != 0 {
            if 8 + name_len > rec_len || name_len == 0 {
                return Err(format!("bad name length {name_len} at offset {at}"));
            }
            let name = &block[at + 8..at + 8 + name_len];
            if name != b"." && name != b".." {
                out.push(Entry {
                    ino,
                    name: name.to_vec(),
                    kind,
                });
            }
        }
        at += rec_len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ino: u32, rec_len: u16, name: &[u8], kind: u8) -> Vec<u8> {
        let mut e = ino.to_le_bytes().to_vec();
        e.extend(rec_len.to_le_bytes());
        e.push(u8::try_from(name.len()).unwrap());
        e.push(kind);
        e.extend(name);
        e.resize(usize::from(rec_len), 0);
        e
    }

    #[test]
    fn parses_and_skips_dots_unused_and_tails() {
        let mut b = entry(2, 12, b".", 2);
        b.extend(entry(2, 12, b"..", 2));
        b.extend(entry(0, 16, b"gone", 1));
        b.extend(entry(12, 20, b"file.txt", 1));
        b.extend(entry(0, 12, b"", 0xDE)); // checksum tail
        let mut out = Vec::new();
        parse_block(&b, true, &mut out).unwrap();
        assert_eq!(
            out,
            [Entry {
                ino: 12,
                name: b"file.txt".to_vec(),
                kind: 1
            }]
        );
    }

    #[test]
    fn malformed_lengths_stop_the_block() {
        for bad in [0u16, 6, 13, 400] {
            let mut b = entry(11, 12, b"a", 1);
            b.extend(entry(12, 12, b"b", 1));
            b[16..18].copy_from_slice(&bad.to_le_bytes());
            let mut out = Vec::new();
            assert!(parse_block(&b, true, &mut out).is_err(), "{bad}");
            assert_eq!(out.len(), 1);
        }
        let b = entry(11, 12, b"abcdefgh", 1);
        assert!(parse_block(&b, true, &mut Vec::new()).is_err());
    }
}
