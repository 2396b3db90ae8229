//! Objects embedded in RTF documents: the `\objdata` groups where Word keeps an OLE 1.0
//! object as hexadecimal text. Malicious RTF attachments (the equation-editor exploits of
//! CVE-2017-11882 and CVE-2018-0802, "Package" objects that drop an executable) carry their
//! payload there, invisible to rules that read the document as text. Written here: each
//! `\objdata` group's hex digits are decoded (whitespace, line breaks and control words
//! between them skipped, as Word does); the bytes are parsed as an OLE 1.0 object (version,
//! format, class name, topic, item, native data), and its native data is a member
//! `object-N.<class>` (an OLE compound file there is opened in turn, one level deeper). A
//! `Package` object's embedded file is also a member, `object-N.Package/<label>`. Bytes that
//! are not an OLE 1.0 object are a member `object-N.bin` as they are.

use super::{member_bytes, member_name, ContainerError, MemberVisitor, Members};

/// Objects decoded at most per document.
const MAX_OBJECTS: usize = 64;

/// An RTF document held in memory.
pub struct Rtf<'a> {
    data: &'a [u8],
}

/// Whether `data` is an RTF document (`{\rtf`, as Word also accepts it without the version).
pub fn looks_like(data: &[u8]) -> bool {
    data.starts_with(b"{\\rt")
}

/// Wraps the bytes.
pub fn open(data: &[u8]) -> Rtf<'_> {
    Rtf { data }
}

/// The bytes of the `\objdata` group starting at `at` (just after the control word).
fn hex_group(d: &[u8], mut at: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut high: Option<u8> = None;
    let mut depth = 0usize;
    while let Some(&c) = d.get(at) {
        at += 1;
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'{' => {
                depth += 1;
                continue;
            }
            b'}' if depth == 0 => break,
            b'}' => {
                depth -= 1;
                continue;
            }
            b'\\' => {
                // A control word (letters, an optional number) or symbol: skipped.
                while d.get(at).is_some_and(u8::is_ascii_alphabetic) {
                    at += 1;
                }
                while d.get(at).is_some_and(|b| b.is_ascii_digit() || *b == b'-') {
                    at += 1;
                }
                if d.get(at) == Some(&b' ') {
                    at += 1;
                }
                continue;
            }
            _ => continue,
        };
        // Text inside nested groups (`{\*\comment ...}`) is not object data.
        if depth > 0 {
            continue;
        }
        match high.take() {
            Some(h) => out.push((h << 4) | nibble),
            None => high = Some(nibble),
        }
    }
    out
}

/// An OLE 1.0 object: (class name, native data), when `b` parses as one.
fn ole1(b: &[u8]) -> Option<(String, &[u8])> {
    let u32_at = |at: usize| -> Option<usize> {
        let x = b.get(at..at + 4)?;
        usize::try_from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])).ok()
    };
    // OLEVersion, then FormatID 2 (embedded).
    if u32_at(4)? != 2 {
        return None;
    }
    let mut at = 8usize;
    let mut strings = Vec::new();
    for _ in 0..3 {
        let n = u32_at(at)?;
        let s = b.get(at + 4..(at + 4).checked_add(n)?)?;
        strings.push(
            String::from_utf8_lossy(s)
                .trim_end_matches('\0')
                .to_string(),
        );
        at += 4 + n;
    }
    let size = u32_at(at)?;
    let native = b.get(at + 4..(at + 4).checked_add(size)?)?;
    Some((strings.swap_remove(0), native))
}

/// A class name fit for a member name.
fn class_suffix(class: &str) -> String {
    let c: String = class
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .take(40)
        .collect();
    if c.is_empty() {
        "bin".into()
    } else {
        c
    }
}

impl Members for Rtf<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let d = self.data;
        let mut from = 0usize;
        let mut n = 0usize;
        while n < MAX_OBJECTS {
            let Some(p) = find(&d[from..], b"\\objdata") else {
                break;
            };
            let start = from + p + b"\\objdata".len();
            from = start;
            let bytes = hex_group(d, start);
            if bytes.is_empty() {
                continue;
            }
            n += 1;
            let flow = match ole1(&bytes) {
                Some((class, native)) => {
                    let name = format!("object-{n}.{}", class_suffix(&class));
                    let mut flow = member_bytes(visitor, name.clone(), native);
                    if flow.is_continue() && class == "Package" {
                        // The package's own layout is that of an `Ole10Native` stream
                        // (size, flags, label, ...) once the size field is put back.
                        let mut framed = (native.len() as u32).to_le_bytes().to_vec();
                        framed.extend_from_slice(native);
                        if let Some((label, data)) = super::ole::ole10native(&framed) {
                            flow = member_bytes(
                                visitor,
                                format!("{name}/{}", member_name(&label)),
                                data,
                            );
                        }
                    }
                    flow
                }
                None => member_bytes(visitor, format!("object-{n}.bin"), &bytes),
            };
            if flow.is_break() {
                break;
            }
        }
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// An OLE 1.0 "Package" object holding `file` under `label`.
    fn package(label: &str, file: &[u8]) -> Vec<u8> {
        let mut native = vec![2, 0];
        for s in [label, "C:\\x\\a.exe"] {
            native.extend_from_slice(s.as_bytes());
            native.push(0);
        }
        native.extend_from_slice(&[0, 0, 3, 0]);
        native.extend_from_slice(&4u32.to_le_bytes());
        native.extend_from_slice(b"tmp\0");
        native.extend_from_slice(&(file.len() as u32).to_le_bytes());
        native.extend_from_slice(file);
        let mut o = vec![1, 5, 0, 0, 2, 0, 0, 0];
        o.extend_from_slice(&8u32.to_le_bytes());
        o.extend_from_slice(b"Package\0");
        o.extend_from_slice(&[0; 8]);
        o.extend_from_slice(&(native.len() as u32).to_le_bytes());
        o.extend_from_slice(&native);
        o
    }

    fn members(d: &[u8]) -> Vec<(String, Vec<u8>)> {
        let (out, r) = super::super::read_members(&mut open(d));
        r.unwrap();
        out
    }

    #[test]
    fn a_package_object_gives_its_file_through_line_breaks_and_comments() {
        let h = hex(&package("facture.exe", b"MZ payload"));
        let (a, b) = h.split_at(30);
        let doc = format!(
            "{{\\rtf1{{\\object\\objemb{{\\*\\objclass Package}}\\objdata 01\r\n{}{{\\*\\x 99}}\n{}}}}}",
            &a[2..],
            b
        );
        let m = members(doc.as_bytes());
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].0, "object-1.Package");
        assert_eq!(
            m[1],
            (
                "object-1.Package/facture.exe".to_string(),
                b"MZ payload".to_vec()
            )
        );
    }

    #[test]
    fn other_bytes_are_a_member_as_they_are_and_damage_never_panics() {
        let m = members(b"{\\rtf1 {\\object\\objdata d0cf11e0}}");
        assert_eq!(
            m,
            vec![("object-1.bin".to_string(), vec![0xd0, 0xcf, 0x11, 0xe0])]
        );
        let good = format!("{{\\rtf1{{\\objdata {}}}}}", hex(&package("a", b"xyz")));
        for cut in 0..good.len() {
            let _ = members(&good.as_bytes()[..cut]);
        }
        let many = "{\\objdata 00}".repeat(MAX_OBJECTS * 2);
        assert_eq!(
            members(format!("{{\\rtf1{many}}}").as_bytes()).len(),
            MAX_OBJECTS
        );
    }
}
