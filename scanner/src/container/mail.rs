//! Mail: `.eml` messages (RFC 5322 + MIME) with `mail-parser` (Apache-2.0/MIT, Stalwart
//! Labs), and mbox mailboxes split into their messages. Every non-multipart MIME part is a
//! member, its transfer encoding (base64, quoted-printable) decoded: attachments under their
//! file names, bodies as `part-N.txt` / `part-N.html`, attached messages as `part-N.eml`
//! (opened in turn, one level deeper). A uuencoded attachment (`x-uuencode`) is the file it
//! encodes, under its name; a uuencoded block pasted into another part is a member of that
//! part, `<part>/<name>` ([`super::uu`]).

use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

/// Headers that start a message (case-insensitive).
const HEADERS: &[&str] = &[
    "received:",
    "return-path:",
    "from:",
    "date:",
    "message-id:",
    "mime-version:",
    "delivered-to:",
    "subject:",
    "to:",
    "x-",
];

/// Whether `data` looks like a mail or a mailbox: by extension, or an mbox `From ` line, or
/// a first line that is a known header with a MIME or routing header in the first 4 KiB.
pub fn looks_like(data: &[u8], ext: &str) -> bool {
    if matches!(ext, "eml" | "mbox" | "mbx" | "mbs") {
        return true;
    }
    let head = &data[..data.len().min(4096)];
    // Every file is offered here: a few byte compares on the first line decide for almost
    // all of them, before the head is copied and searched (issue 12: that copy, on every
    // file, cost more than the rule scan of a small file).
    let starts = |h: &str| {
        head.get(..h.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(h.as_bytes()))
    };
    if !starts("from ") && !HEADERS.iter().any(|h| starts(h)) {
        return false;
    }
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let has = |h: &str| lower.contains(h);
    if lower.starts_with("from ") {
        return has("\nfrom:")
            && (has("\ndate:")
                || has("\nreceived:")
                || has("\nmime-version:")
                || has("\ncontent-type:"));
    }
    HEADERS.iter().any(|h| lower.starts_with(h))
        && (has("\nmime-version:") || has("\ncontent-type:"))
        && (has("\nfrom:") || lower.starts_with("from:"))
}

/// A message or a mailbox.
pub struct Mail<'a> {
    data: &'a [u8],
}

/// Wraps the bytes (parsed as members are visited).
pub fn open(data: &[u8]) -> Mail<'_> {
    Mail { data }
}

/// Byte ranges of the messages of an mbox (`From ` at a line start, after a blank line or at
/// the start); a single message gives one range.
fn split_mbox(data: &[u8]) -> Vec<(usize, usize)> {
    if !data.starts_with(b"From ") {
        return vec![(0, data.len())];
    }
    let mut starts = vec![0usize];
    let mut i = 0;
    while let Some(p) = find(&data[i..], b"\n\nFrom ") {
        let s = i + p + 2;
        starts.push(s);
        i = s;
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(data.len());
        // Skip the `From ` separator line itself.
        let body = data[s..e]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(e, |n| s + n + 1);
        out.push((body, e));
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Members for Mail<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let messages = split_mbox(self.data);
        if messages.len() > 1 {
            for (n, (s, e)) in messages.into_iter().enumerate() {
                let meta = MemberMeta {
                    name: format!("message-{}.eml", n + 1),
                    size: Some((e - s) as u64),
                    packed: None,
                };
                let mut bytes = &self.data[s..e];
                if let ControlFlow::Break(()) = visitor.member(&meta, Content::Data(&mut bytes)) {
                    break;
                }
            }
            return Ok(());
        }
        let (s, e) = messages.first().copied().unwrap_or((0, 0));
        let message = mail_parser::MessageParser::default()
            .parse(&self.data[s..e])
            .ok_or_else(|| ContainerError::Corrupt("mail: not a message".into()))?;
        for (n, part) in message.parts.iter().enumerate() {
            use mail_parser::{MimeHeaders, PartType};
            let default = match &part.body {
                PartType::Multipart(_) => continue,
                PartType::Text(_) => format!("part-{n}.txt"),
                PartType::Html(_) => format!("part-{n}.html"),
                PartType::Message(_) => format!("part-{n}.eml"),
                PartType::Binary(_) | PartType::InlineBinary(_) => format!("part-{n}.bin"),
            };
            let mut bytes: &[u8] = match &part.body {
                PartType::Message(m) => m.raw_message(),
                _ => part.contents(),
            };
            let name = part.attachment_name().map(member_name).unwrap_or(default);
            let uu_encoded = part.content_transfer_encoding().is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "x-uuencode" | "uuencode" | "x-uue"
                )
            });
            let blocks = if matches!(part.body, PartType::Message(_)) || !has_begin(bytes) {
                Vec::new()
            } else {
                super::uu::blocks(bytes)
            };
            let flow = if uu_encoded && !blocks.is_empty() {
                // The attachment is the file it encodes.
                let mut flow = ControlFlow::Continue(());
                for (k, b) in blocks.into_iter().enumerate() {
                    let n = if k == 0 {
                        name.clone()
                    } else {
                        member_name(&b.name)
                    };
                    flow = super::member_bytes(visitor, n, &b.data);
                    if flow.is_break() {
                        break;
                    }
                }
                flow
            } else {
                let meta = MemberMeta {
                    name: name.clone(),
                    size: Some(bytes.len() as u64),
                    packed: None,
                };
                let mut flow = visitor.member(&meta, Content::Data(&mut bytes));
                for b in blocks {
                    if flow.is_break() {
                        break;
                    }
                    flow = super::member_bytes(
                        visitor,
                        format!("{name}/{}", member_name(&b.name)),
                        &b.data,
                    );
                }
                flow
            };
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Whether a text holds a line starting `begin ` (a uuencoded block may follow).
fn has_begin(text: &[u8]) -> bool {
    text.starts_with(b"begin ") || find(text, b"\nbegin ").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_splits_on_from_lines() {
        let m = b"From a@b Mon\nFrom: a\n\nhello\n\nFrom c@d Tue\nFrom: c\n\nbye\n";
        let r = split_mbox(m);
        assert_eq!(r.len(), 2);
        assert!(m[r[0].0..r[0].1].starts_with(b"From: a"));
        assert!(m[r[1].0..r[1].1].starts_with(b"From: c"));
    }

    fn members(data: &[u8]) -> Vec<(String, Vec<u8>)> {
        let (out, r) = super::super::read_members(&mut open(data));
        r.unwrap();
        out
    }

    #[test]
    fn uuencoded_attachments_and_pasted_blocks_are_members() {
        let att = b"From: a@b\nMIME-Version: 1.0\nContent-Type: Application/Octet-Stream; name=\"cat.exe\"\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 cat.exe\n$0V%T\"@``\n`\nend\n";
        assert_eq!(
            members(att),
            vec![("cat.exe".to_string(), b"Cat\n".to_vec())]
        );
        let pasted = b"From: a@b\nMIME-Version: 1.0\nContent-Type: text/plain\n\nsee below\nbegin 600 x.bin\n$0V%T\"@``\n`\nend\n";
        let m = members(pasted);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].0, "part-0.txt");
        assert_eq!(m[1], ("part-0.txt/x.bin".to_string(), b"Cat\n".to_vec()));
    }

    #[test]
    fn mail_is_recognised_by_headers_not_by_any_text() {
        let eml =
            b"From: a@b\r\nTo: c@d\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi";
        assert!(looks_like(eml, ""));
        assert!(!looks_like(b"From here on, the notes", ""));
        assert!(looks_like(b"anything", "eml"));
        // Header names in any case, the mbox line too; text that merely holds headers later
        // on (not on its first line) is not mail.
        let upper = b"RECEIVED: x\nFROM: a@b\nMIME-VERSION: 1.0\n\nhi";
        assert!(looks_like(upper, ""));
        assert!(looks_like(b"From a@b Mon\nFrom: a\nDate: x\n\nhi", ""));
        assert!(looks_like(b"FROM a@b Mon\nfrom: a\ndate: x\n\nhi", ""));
        assert!(!looks_like(b"notes\nFrom: a@b\nMIME-Version: 1.0\n", ""));
        assert!(!looks_like(b"\xff\xfeFrom: a@b\nMIME-Version: 1.0\n", ""));
        assert!(!looks_like(b"Fro", ""));
    }
}
