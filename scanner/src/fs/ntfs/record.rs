//! A small, bounded parser of raw NTFS file records, independent of the `ntfs` crate.
//!
//! The crate cannot reach records past the first `$MFT` extent (upstream bug #32) and keeps its
//! record bytes private, so the pieces that must work before (or beside) it parse records
//! themselves: the `$MFT` map ([`super::mft`]) and the orphan sweep ([`super::orphans`]). Every
//! offset and length read from the record is checked against the record's bytes; nothing here
//! allocates by a size read from disk beyond the record itself.

use super::Run;

/// Attribute type codes.
pub(super) const AT_ATTRIBUTE_LIST: u32 = 0x20;
pub(super) const AT_FILE_NAME: u32 = 0x30;
pub(super) const AT_DATA: u32 = 0x80;
const AT_END: u32 = 0xFFFF_FFFF;
/// Record header flags.
const FLAG_IN_USE: u16 = 0x0001;
const FLAG_DIRECTORY: u16 = 0x0002;
/// Update-sequence stride: NTFS protects every 512 bytes of a record, whatever the sector size.
const USA_STRIDE: usize = 512;
/// Attributes looked at in one record (a record of 64 KiB holds at most ~4000 of 16 bytes).
const MAX_ATTRS: usize = 4096;
/// Data runs decoded from one mapping-pairs array.
const MAX_RUNS_PER_ATTR: usize = 1 << 16;

/// One file record, update-sequence fixups applied and checked.
pub(super) struct Record {
    bytes: Vec<u8>,
}

/// One attribute of a record, borrowed from it.
pub(super) struct Attr<'a> {
    pub ty: u32,
    pub name: String,
    pub body: AttrBody<'a>,
}

pub(super) enum AttrBody<'a> {
    Resident(&'a [u8]),
    NonResident(NonResidentHeader<'a>),
}

/// The fields of a non-resident attribute header.
pub(super) struct NonResidentHeader<'a> {
    pub lowest_vcn: u64,
    pub data_size: u64,
    pub init_size: u64,
    /// The mapping-pairs array (to the end of the attribute).
    pub runs: &'a [u8],
}

/// One entry of an `$ATTRIBUTE_LIST` value.
#[derive(Debug, Clone)]
pub(super) struct ListEntry {
    pub ty: u32,
    pub name: String,
    pub lowest_vcn: u64,
    /// Record number (low 48 bits of the file reference) holding the attribute.
    pub record: u64,
}

/// A `$FILE_NAME` value: parent record, namespace and name.
#[derive(Debug, Clone)]
pub(super) struct FileName {
    pub parent: u64,
    /// Sequence number the parent record had when this name was written.
    pub parent_sequence: u16,
    /// 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS.
    pub namespace: u8,
    pub name: String,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Decodes `chars` UTF-16LE code units at `at` (lossily).
fn utf16_at(b: &[u8], at: usize, chars: usize) -> Option<String> {
    let raw = b.get(at..at.checked_add(chars.checked_mul(2)?)?)?;
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

impl Record {
    /// Checks the signature and applies the update-sequence fixups of `raw` (one record).
    pub(super) fn parse(mut raw: Vec<u8>) -> Result<Self, String> {
        if raw.get(0..4) != Some(b"FILE".as_slice()) {
            return Err("no FILE signature".to_string());
        }
        let usa_ofs = usize::from(u16_at(&raw, 4).ok_or("truncated header")?);
        let usa_count = usize::from(u16_at(&raw, 6).ok_or("truncated header")?);
        if usa_count == 0 {
            return Err("empty update sequence".to_string());
        }
        let usa_end = usa_ofs
            .checked_add(usa_count * 2)
            .ok_or("update sequence overflows")?;
        if usa_end > raw.len() || (usa_count - 1) * USA_STRIDE > raw.len() {
            return Err("update sequence larger than the record".to_string());
        }
        let usn = [raw[usa_ofs], raw[usa_ofs + 1]];
        for i in 1..usa_count {
            let end = i * USA_STRIDE;
            if raw[end - 2..end] != usn {
                return Err("update sequence mismatch (torn record)".to_string());
            }
            let fix = [raw[usa_ofs + 2 * i], raw[usa_ofs + 2 * i + 1]];
            raw[end - 2..end].copy_from_slice(&fix);
        }
        Ok(Self { bytes: raw })
    }

    /// The record bytes, fixups applied.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn flags(&self) -> u16 {
        u16_at(&self.bytes, 0x16).unwrap_or(0)
    }

    pub(super) fn in_use(&self) -> bool {
        self.flags() & FLAG_IN_USE != 0
    }

    pub(super) fn is_directory(&self) -> bool {
        self.flags() & FLAG_DIRECTORY != 0
    }

    /// The record's sequence number (bumped each time the record is reused).
    pub(super) fn sequence(&self) -> u16 {
        u16_at(&self.bytes, 0x10).unwrap_or(0)
    }

    /// The whole reference to the base record (record number and sequence): 0 only for a
    /// base record itself (`$MFT`'s extension records name record 0, sequence 1).
    pub(super) fn base_reference(&self) -> u64 {
        u64_at(&self.bytes, 0x20).unwrap_or(0)
    }

    /// Record number of the base record (0 for a base record itself).
    pub(super) fn base_record(&self) -> u64 {
        u64_at(&self.bytes, 0x20).unwrap_or(0) & 0xFFFF_FFFF_FFFF
    }

    /// The record's attributes, in order; stops at the end marker or the first malformed one.
    pub(super) fn attrs(&self) -> Vec<Attr<'_>> {
        let b = &self.bytes;
        let mut out = Vec::new();
        let Some(first) = u16_at(b, 0x14) else {
            return out;
        };
        let used = u32_at(b, 0x18)
            .and_then(|u| usize::try_from(u).ok())
            .unwrap_or(b.len())
            .min(b.len());
        let mut at = usize::from(first);
        while out.len() < MAX_ATTRS {
            let Some(ty) = u32_at(b, at) else { break };
            if ty == AT_END {
                break;
            }
            let Some(len) = u32_at(b, at + 4).and_then(|l| usize::try_from(l).ok()) else {
                break;
            };
            if len < 0x18 || len % 8 != 0 || at.saturating_add(len) > used {
                break;
            }
            if let Some(a) = parse_attr(&b[at..at + len], ty) {
                out.push(a);
            }
            at += len;
        }
        out
    }

    /// The first `$FILE_NAME` that is not a DOS 8.3 alias (or the DOS one if it is alone).
    pub(super) fn best_name(&self) -> Option<FileName> {
        let mut best: Option<FileName> = None;
        for a in self.attrs() {
            if a.ty != AT_FILE_NAME {
                continue;
            }
            let AttrBody::Resident(v) = a.body else {
                continue;
            };
            let Some(f) = parse_file_name(v) else {
                continue;
            };
            if f.namespace != 2 {
                return Some(f);
            }
            best.get_or_insert(f);
        }
        best
    }
}

fn parse_attr(a: &[u8], ty: u32) -> Option<Attr<'_>> {
    let non_resident = *a.get(8)?;
    let name_len = usize::from(*a.get(9)?);
    let name_off = usize::from(u16_at(a, 0x0A)?);
    let name = if name_len == 0 {
        String::new()
    } else {
        utf16_at(a, name_off, name_len)?
    };
    let body = match non_resident {
        0 => {
            let vlen = usize::try_from(u32_at(a, 0x10)?).ok()?;
            let voff = usize::from(u16_at(a, 0x14)?);
            AttrBody::Resident(a.get(voff..voff.checked_add(vlen)?)?)
        }
        1 => {
            let runs_off = usize::from(u16_at(a, 0x20)?);
            AttrBody::NonResident(NonResidentHeader {
                lowest_vcn: u64_at(a, 0x10)?,
                data_size: u64_at(a, 0x30)?,
                init_size: u64_at(a, 0x38)?,
                runs: a.get(runs_off.max(0x40)..)?,
            })
        }
        _ => return None,
    };
    Some(Attr { ty, name, body })
}

/// Parses a `$FILE_NAME` value.
pub(super) fn parse_file_name(v: &[u8]) -> Option<FileName> {
    let parent_ref = u64_at(v, 0)?;
    let len = usize::from(*v.get(0x40)?);
    let namespace = *v.get(0x41)?;
    let name = utf16_at(v, 0x42, len)?;
    Some(FileName {
        parent: parent_ref & 0xFFFF_FFFF_FFFF,
        parent_sequence: (parent_ref >> 48) as u16,
        namespace,
        name,
    })
}

/// Parses an `$ATTRIBUTE_LIST` value (at most `max` entries).
pub(super) fn parse_attribute_list(v: &[u8], max: usize) -> Result<Vec<ListEntry>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 0x1A <= v.len() {
        if out.len() >= max {
            return Err(format!("attribute list longer than {max} entries"));
        }
        let ty = u32_at(v, at).ok_or("truncated attribute list")?;
        let len = usize::from(u16_at(v, at + 4).ok_or("truncated attribute list")?);
        if len < 0x1A || at + len > v.len() {
            return Err("malformed attribute list entry".to_string());
        }
        let e = &v[at..at + len];
        let name_len = usize::from(e[6]);
        let name_off = usize::from(e[7]);
        let name = if name_len == 0 {
            String::new()
        } else {
            utf16_at(e, name_off, name_len).ok_or("attribute list name out of its entry")?
        };
        out.push(ListEntry {
            ty,
            name,
            lowest_vcn: u64_at(e, 8).ok_or("truncated attribute list")?,
            record: u64_at(e, 0x10).ok_or("truncated attribute list")? & 0xFFFF_FFFF_FFFF,
        });
        at += len;
    }
    Ok(out)
}

/// Decodes a mapping-pairs array into runs starting at `lowest_vcn` (byte positions for
/// `cluster`-sized clusters). Checked: every length, every position, the run count.
pub(super) fn decode_runs(bytes: &[u8], lowest_vcn: u64, cluster: u64) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    let mut at = 0usize;
    let mut vcn = lowest_vcn;
    let mut lcn: i64 = 0;
    loop {
        let Some(&head) = bytes.get(at) else {
            return Err("mapping pairs without terminator".to_string());
        };
        if head == 0 {
            break;
        }
        if runs.len() >= MAX_RUNS_PER_ATTR {
            return Err(format!("more than {MAX_RUNS_PER_ATTR} data runs"));
        }
        let len_bytes = usize::from(head & 0x0F);
        let off_bytes = usize::from(head >> 4);
        if len_bytes == 0 || len_bytes > 8 || off_bytes > 8 {
            return Err("malformed mapping pair".to_string());
        }
        let field = bytes
            .get(at + 1..at + 1 + len_bytes + off_bytes)
            .ok_or("mapping pair past the attribute")?;
        let mut len = [0u8; 8];
        len[..len_bytes].copy_from_slice(&field[..len_bytes]);
        let clusters = u64::from_le_bytes(len);
        if clusters == 0 || clusters > i64::MAX as u64 {
            return Err("data run of implausible length".to_string());
        }
        let lcn_pos = if off_bytes == 0 {
            None
        } else {
            let raw = &field[len_bytes..];
            let fill = if raw[off_bytes - 1] & 0x80 != 0 {
                0xFF
            } else {
                0
            };
            let mut d = [fill; 8];
            d[..off_bytes].copy_from_slice(raw);
            lcn = lcn
                .checked_add(i64::from_le_bytes(d))
                .ok_or("data run position overflows")?;
            let l = u64::try_from(lcn).map_err(|_| "negative cluster number")?;
            Some(
                l.checked_mul(cluster)
                    .ok_or("data run position overflows")?,
            )
        };
        runs.push(Run {
            vcn,
            clusters,
            lcn_pos,
        });
        vcn = vcn.checked_add(clusters).ok_or("data runs overflow")?;
        at += 1 + len_bytes + off_bytes;
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_decode_with_negative_deltas_and_holes() {
        // 0x21: 1 length byte, 2 offset bytes: 8 clusters at LCN 0x1000; then a hole of 4;
        // then 2 clusters at 0x1000 - 0x10.
        let b = [0x21, 8, 0x00, 0x10, 0x01, 4, 0x11, 2, 0xF0, 0];
        let r = decode_runs(&b, 5, 512).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].vcn, r[0].clusters, r[0].lcn_pos),
            (5, 8, Some(0x1000 * 512))
        );
        assert_eq!((r[1].vcn, r[1].clusters, r[1].lcn_pos), (13, 4, None));
        assert_eq!(
            (r[2].vcn, r[2].clusters, r[2].lcn_pos),
            (17, 2, Some(0xFF0 * 512))
        );
    }

    #[test]
    fn hostile_runs_are_refused() {
        for b in [
            &[0x21u8, 8, 0][..],                // truncated
            &[0x09, 1, 1, 1, 1, 1, 1, 1, 1, 1], // 9 length bytes
            &[0x11, 0, 1, 0],                   // zero length
            &[0x11, 1, 0xFF, 0],                // negative LCN
            &[0x11, 1, 1],                      // no terminator
        ] {
            assert!(decode_runs(b, 0, 4096).is_err(), "{b:?}");
        }
    }

    #[test]
    fn fixups_are_checked() {
        let mut r = vec![0u8; 1024];
        r[0..4].copy_from_slice(b"FILE");
        r[4] = 0x30;
        r[6] = 3;
        r[0x30..0x32].copy_from_slice(&[7, 0]);
        r[0x32..0x34].copy_from_slice(&[0xAA, 0xBB]);
        r[0x34..0x36].copy_from_slice(&[0xCC, 0xDD]);
        r[510..512].copy_from_slice(&[7, 0]);
        r[1022..1024].copy_from_slice(&[7, 0]);
        let rec = Record::parse(r.clone()).unwrap();
        assert_eq!(&rec.bytes()[510..512], &[0xAA, 0xBB]);
        assert_eq!(&rec.bytes()[1022..1024], &[0xCC, 0xDD]);
        r[1023] = 1;
        assert!(Record::parse(r.clone()).is_err());
        r[6] = 200;
        assert!(Record::parse(r).is_err());
    }
}
