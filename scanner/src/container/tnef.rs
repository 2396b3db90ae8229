//! TNEF (`winmail.dat`, `application/ms-tnef`): how Outlook and Exchange wrap a message's
//! attachments when they send "rich text". A hospital's mail often reaches other clients
//! that way, and the attachments are then inside this one file. Written here from
//! [MS-OXTNEF]: a signature and key, then attributes (level, id, length, data, checksum); an
//! attachment starts at `attAttachRendData` and its bytes and name are `attAttachData` and
//! `attAttachTitle`. Every attachment with data is a member, under its title; the message
//! body (`attBody`) is `body.txt`. Attributes are bounded by the content (a length past the
//! end ends the walk as corrupt); MAPI property blocks are not decoded.

use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberVisitor, Members};

/// `0x223E9F78`, little-endian.
pub const MAGIC: &[u8; 4] = b"\x78\x9f\x3e\x22";
/// Attributes read at most.
const MAX_ATTRIBUTES: usize = 100_000;

const LVL_ATTACHMENT: u8 = 2;
const ATT_BODY: u16 = 0x800c;
const ATT_ATTACH_DATA: u16 = 0x800f;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_REND_DATA: u16 = 0x9002;

/// A TNEF stream held in memory.
pub struct Tnef<'a> {
    data: &'a [u8],
}

/// Checks the signature.
pub fn open(data: &[u8]) -> Result<Tnef<'_>, ContainerError> {
    if data.len() < 6 || &data[..4] != MAGIC {
        return Err(ContainerError::Corrupt("tnef: no signature".into()));
    }
    Ok(Tnef { data })
}

/// One attachment being collected.
#[derive(Default)]
struct Attachment<'a> {
    title: Option<String>,
    data: Option<&'a [u8]>,
}

/// A NUL-terminated (or not) 8-bit string.
fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

impl Members for Tnef<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let d = self.data;
        let mut at = 6usize;
        let mut current: Option<Attachment<'_>> = None;
        let mut done: Vec<Attachment<'_>> = Vec::new();
        let mut body = None;
        let mut corrupt = None;
        for _ in 0..MAX_ATTRIBUTES {
            if at >= d.len() {
                break;
            }
            let Some(head) = d.get(at..at + 9) else {
                corrupt = Some("truncated attribute header");
                break;
            };
            let level = head[0];
            let id = u16::from_le_bytes([head[1], head[2]]);
            let len = u32::from_le_bytes([head[5], head[6], head[7], head[8]]) as usize;
            let start = at + 9;
            let Some(value) = start.checked_add(len).and_then(|end| d.get(start..end)) else {
                corrupt = Some("attribute runs past the end");
                break;
            };
            at = start + len + 2; // the checksum
            match (level, id) {
                (LVL_ATTACHMENT, ATT_ATTACH_REND_DATA) => {
                    done.extend(current.take());
                    current = Some(Attachment::default());
                }
                (LVL_ATTACHMENT, ATT_ATTACH_TITLE) => {
                    current.get_or_insert_with(Attachment::default).title = Some(text(value))
                }
                (LVL_ATTACHMENT, ATT_ATTACH_DATA) => {
                    current.get_or_insert_with(Attachment::default).data = Some(value)
                }
                (_, ATT_BODY) => body = Some(value),
                _ => {}
            }
        }
        done.extend(current.take());
        let mut members: Vec<(String, &[u8])> = Vec::new();
        if let Some(b) = body {
            members.push(("body.txt".into(), b));
        }
        for (n, a) in done.into_iter().enumerate() {
            if let Some(data) = a.data {
                let name = a
                    .title
                    .filter(|t| !t.is_empty())
                    .map(|t| member_name(&t))
                    .unwrap_or_else(|| format!("attachment-{}", n + 1));
                members.push((name, data));
            }
        }
        for (name, data) in members {
            if let ControlFlow::Break(()) = super::member_bytes(visitor, name, data) {
                return Ok(());
            }
        }
        match corrupt {
            Some(why) => Err(ContainerError::Corrupt(format!("tnef: {why}"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(level: u8, id: u16, kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = vec![level];
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        let sum: u32 = value.iter().map(|&b| u32::from(b)).sum();
        v.extend_from_slice(&(sum as u16).to_le_bytes());
        v
    }

    fn sample() -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[0x01, 0x00]);
        v.extend(attr(1, ATT_BODY, 2, b"hello"));
        v.extend(attr(2, ATT_ATTACH_REND_DATA, 6, &[0; 14]));
        v.extend(attr(2, ATT_ATTACH_TITLE, 1, b"facture.pdf.exe\0"));
        v.extend(attr(2, ATT_ATTACH_DATA, 6, b"MZ payload"));
        v.extend(attr(2, ATT_ATTACH_REND_DATA, 6, &[0; 14]));
        v.extend(attr(2, ATT_ATTACH_DATA, 6, b"second"));
        v
    }

    fn members(d: &[u8]) -> super::super::ReadMembers {
        super::super::read_members(&mut open(d).unwrap())
    }

    #[test]
    fn attachments_are_members_under_their_titles() {
        let (m, r) = members(&sample());
        assert!(r.is_ok());
        assert_eq!(
            m,
            vec![
                ("body.txt".to_string(), b"hello".to_vec()),
                ("facture.pdf.exe".to_string(), b"MZ payload".to_vec()),
                ("attachment-2".to_string(), b"second".to_vec()),
            ]
        );
    }

    #[test]
    fn a_truncated_stream_keeps_what_was_read_and_is_corrupt() {
        let s = sample();
        let corrupt = (6..s.len())
            .filter(|&cut| members(&s[..cut]).1.is_err())
            .count();
        // Every cut but those on an attribute boundary is corrupt; none panics.
        assert!(
            corrupt > (s.len() - 6) * 3 / 4,
            "{corrupt} of {}",
            s.len() - 6
        );
        let (m, r) = members(&s[..s.len() - 3]);
        assert!(matches!(r, Err(ContainerError::Corrupt(_))), "{r:?}");
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(open(b"\x78\x9f\x3e").is_err());
    }
}
