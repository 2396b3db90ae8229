//! uuencoded files inside mail: a `Content-Transfer-Encoding: x-uuencode` attachment, or the
//! older habit of pasting `begin 644 name` ... `end` blocks into a message's text. mail-parser
//! decodes base64 and quoted-printable, not this, so an executable sent that way would reach
//! the rules only as printable text. Written here: bounded (the output is shorter than the
//! input, blocks are counted), tolerant of the usual damage (missing `end`, short lines, CRLF),
//! never panicking on a malformed line (it ends the block).

/// Blocks decoded from one text at most (a hostile text of many tiny blocks stays cheap).
pub const MAX_BLOCKS: usize = 64;

/// One decoded block: the name its `begin` line gives (normalised by the caller) and the
/// bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    pub name: String,
    pub data: Vec<u8>,
}

/// Every uuencoded block in `text`, in order (at most [`MAX_BLOCKS`]).
pub fn blocks(text: &[u8]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = text.split(|&b| b == b'\n').map(trim_cr);
    while out.len() < MAX_BLOCKS {
        let Some(line) = lines.next() else { break };
        let Some(name) = begin_line(line) else {
            continue;
        };
        let mut data = Vec::new();
        for l in lines.by_ref() {
            if l == b"end" {
                break;
            }
            match decode_line(l, &mut data) {
                Some(true) => {}
                // A zero-length line closes the data; `end` follows.
                Some(false) => continue,
                None => break,
            }
        }
        out.push(Block { name, data });
    }
    out
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// `begin <octal mode> <name>`: the name, when the line is one.
fn begin_line(l: &[u8]) -> Option<String> {
    let rest = l.strip_prefix(b"begin ")?;
    let sp = rest.iter().position(|&b| b == b' ')?;
    let (mode, name) = (&rest[..sp], &rest[sp + 1..]);
    if mode.is_empty() || mode.len() > 4 || !mode.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let name = String::from_utf8_lossy(name).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Decodes one data line into `out`: `Some(true)` for data, `Some(false)` for the empty line
/// that ends the data, `None` for a line that is not uuencoded data.
fn decode_line(l: &[u8], out: &mut Vec<u8>) -> Option<bool> {
    let (&first, body) = l.split_first()?;
    if !(b' '..=b'`').contains(&first) {
        return None;
    }
    let n = usize::from((first - b' ') & 0x3f);
    if n == 0 {
        return Some(false);
    }
    // Characters needed for n bytes; trailing spaces are often stripped by mailers.
    let need = n.div_ceil(3) * 4;
    let mut chars = [0u8; 4];
    let mut done = 0usize;
    for group in 0..need / 4 {
        for (k, c) in chars.iter_mut().enumerate() {
            let raw = body.get(group * 4 + k).copied().unwrap_or(b' ');
            if !(b' '..=b'`').contains(&raw) {
                return None;
            }
            *c = (raw - b' ') & 0x3f;
        }
        let bytes = [
            (chars[0] << 2) | (chars[1] >> 4),
            (chars[1] << 4) | (chars[2] >> 2),
            (chars[2] << 6) | chars[3],
        ];
        let take = (n - done).min(3);
        out.extend_from_slice(&bytes[..take]);
        done += take;
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `uuencode` (GNU sharutils) output for "Cat\n" and for 45 bytes 0..45.
    #[test]
    fn decodes_what_uuencode_writes() {
        let text = b"hello\r\nbegin 644 cat.txt\r\n$0V%T\"@``\r\n`\r\nend\r\n";
        let b = blocks(text);
        assert_eq!(
            b,
            vec![Block {
                name: "cat.txt".into(),
                data: b"Cat\n".to_vec()
            }]
        );
        let data: Vec<u8> = (0u8..45).collect();
        let mut enc = String::from("begin 600 seq.bin\n");
        enc.push_str(&encode_line(&data));
        enc.push_str("\n`\nend\n");
        assert_eq!(blocks(enc.as_bytes())[0].data, data);
    }

    /// The reference encoding of one line, to round-trip arbitrary bytes.
    fn encode_line(d: &[u8]) -> String {
        let c = |v: u8| if v == 0 { '`' } else { char::from(v + b' ') };
        let mut s = String::new();
        s.push(c(d.len() as u8));
        for g in d.chunks(3) {
            let b = [g[0], *g.get(1).unwrap_or(&0), *g.get(2).unwrap_or(&0)];
            s.push(c(b[0] >> 2));
            s.push(c(((b[0] & 3) << 4) | (b[1] >> 4)));
            s.push(c(((b[1] & 15) << 2) | (b[2] >> 6)));
            s.push(c(b[2] & 63));
        }
        s
    }

    #[test]
    fn every_byte_round_trips_and_damage_ends_a_block_without_panic() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut enc = String::from("begin 644 all.bin\n");
        for line in data.chunks(45) {
            enc.push_str(&encode_line(line));
            enc.push('\n');
        }
        // No closing lines at all: the block still ends at the text's end.
        assert_eq!(blocks(enc.as_bytes())[0].data, data);
        // Not a begin line: wrong mode, no name.
        assert!(blocks(b"begin 9x9 a\nM\nend\n").is_empty());
        assert!(blocks(b"begin 644 \n").is_empty());
        // A line of bytes out of the alphabet ends the data; short lines are padded.
        let b = blocks(b"begin 644 x\n$0V\xff\nend\n");
        assert_eq!(b[0].data, b"");
        let b = blocks(b"begin 644 x\n$0V%T\nend\n");
        assert_eq!(b[0].data, b"Cat\0");
        // Many blocks: bounded.
        let many = "begin 644 a\n`\nend\n".repeat(MAX_BLOCKS * 3);
        assert_eq!(blocks(many.as_bytes()).len(), MAX_BLOCKS);
        // Every prefix of a valid block: no panic.
        for cut in 0..enc.len() {
            let _ = blocks(&enc.as_bytes()[..cut]);
        }
    }
}
