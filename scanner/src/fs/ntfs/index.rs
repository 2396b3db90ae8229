//! A directory's `$I30` index read without the crate, for the directories the crate cannot
//! list: those whose `$INDEX_ALLOCATION` an attribute list splits over extension records (the
//! crate then stops with "VCN exceeds the boundaries").
//!
//! The index is not walked as a B-tree: every entry lives in exactly one node, so the entries
//! of `$INDEX_ROOT` plus those of every `INDX` block that `$BITMAP` marks in use are the whole
//! listing (stale blocks, bitmap bit clear, are left out). Everything is bounded: block count,
//! entries, attribute list length.

use super::mft::MftMap;
use super::record::{
    decode_runs, parse_attribute_list, parse_file_name, AttrBody, Record, AT_ATTRIBUTE_LIST,
};
use super::{read_span, NonResident, Run, MAX_DIR_ENTRIES, MAX_INDEX_RECORD};
use crate::io::Device;

const AT_INDEX_ROOT: u32 = 0x90;
const AT_INDEX_ALLOCATION: u32 = 0xA0;
const AT_BITMAP: u32 = 0xB0;
/// Largest `$ATTRIBUTE_LIST` or `$BITMAP` read.
const MAX_SMALL_VALUE: u64 = 1 << 20;
/// Extension records followed for one directory.
const MAX_EXTENSIONS: usize = 4096;

/// One entry: (name, record, sequence, DOS namespace).
pub(super) type Entry = (String, u64, u16, bool);

/// What one directory's `$I30` attributes hold.
/// One `$INDEX_ALLOCATION` piece: lowest VCN, runs, (data size, initialized size) when it is
/// the first piece.
type AllocPiece = (u64, Vec<Run>, Option<(u64, u64)>);

#[derive(Default)]
struct Parts {
    root: Option<Vec<u8>>,
    alloc: Vec<AllocPiece>,
    bitmap: Option<Vec<u8>>,
}

/// Reads a small attribute value (resident or not), at most [`MAX_SMALL_VALUE`] bytes.
fn small_value(dev: &Device, body: &AttrBody<'_>, cluster: u64) -> Result<Vec<u8>, String> {
    match body {
        AttrBody::Resident(v) => Ok(v.to_vec()),
        AttrBody::NonResident(h) => {
            if h.lowest_vcn != 0 || h.data_size > MAX_SMALL_VALUE {
                return Err("attribute value too large or split".to_string());
            }
            let runs = decode_runs(h.runs, 0, cluster)?;
            let nr = NonResident {
                runs,
                cluster,
                data_size: h.data_size,
                init_size: h.data_size,
                unit: None,
            };
            let mut v = vec![0u8; usize::try_from(h.data_size).map_err(|_| "size")?];
            read_span(dev, &nr, 0, &mut v).map_err(|e| e.to_string())?;
            Ok(v)
        }
    }
}

fn collect(rec: &Record, parts: &mut Parts, dev: &Device, cluster: u64) -> Result<(), String> {
    for a in rec.attrs() {
        if a.name != "$I30" {
            continue;
        }
        match (a.ty, &a.body) {
            (AT_INDEX_ROOT, AttrBody::Resident(v)) => parts.root = Some(v.to_vec()),
            (AT_INDEX_ALLOCATION, AttrBody::NonResident(h)) => {
                let runs = decode_runs(h.runs, h.lowest_vcn, cluster)?;
                let sizes = (h.lowest_vcn == 0).then_some((h.data_size, h.init_size));
                parts.alloc.push((h.lowest_vcn, runs, sizes));
            }
            (AT_BITMAP, body) => parts.bitmap = Some(small_value(dev, body, cluster)?),
            _ => {}
        }
    }
    Ok(())
}

/// Applies the update-sequence fixups of an `INDX` block.
fn fix_indx(mut b: Vec<u8>) -> Option<Vec<u8>> {
    if b.get(0..4) != Some(b"INDX".as_slice()) {
        return None;
    }
    let usa = usize::from(u16::from_le_bytes([*b.get(4)?, *b.get(5)?]));
    let count = usize::from(u16::from_le_bytes([*b.get(6)?, *b.get(7)?]));
    if count == 0 || usa + 2 * count > b.len() || (count - 1) * 512 > b.len() {
        return None;
    }
    let usn = [b[usa], b[usa + 1]];
    for i in 1..count {
        let end = i * 512;
        if b[end - 2..end] != usn {
            return None;
        }
        let fix = [b[usa + 2 * i], b[usa + 2 * i + 1]];
        b[end - 2..end].copy_from_slice(&fix);
    }
    Some(b)
}

/// Parses the entries of one index node whose header starts at `node`.
fn node_entries(b: &[u8], node: usize, out: &mut Vec<Entry>) -> Result<(), String> {
    let u32_at = |p: usize| {
        b.get(p..p + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let first = u32_at(node).ok_or("truncated index node")?;
    let used = u32_at(node + 4).ok_or("truncated index node")?;
    let end = node.saturating_add(used).min(b.len());
    let mut at = node.saturating_add(first);
    while at + 16 <= end {
        if out.len() >= MAX_DIR_ENTRIES {
            return Err(format!("more than {MAX_DIR_ENTRIES} index entries"));
        }
        let reference = u64::from_le_bytes(b[at..at + 8].try_into().map_err(|_| "entry")?);
        let len = usize::from(u16::from_le_bytes([b[at + 8], b[at + 9]]));
        let key_len = usize::from(u16::from_le_bytes([b[at + 10], b[at + 11]]));
        let flags = b[at + 12];
        if flags & 2 != 0 {
            break; // the last entry carries no key
        }
        if len < 16 || at + len > end || 16 + key_len > len {
            return Err("malformed index entry".to_string());
        }
        if let Some(f) = parse_file_name(&b[at + 16..at + 16 + key_len]) {
            out.push((
                f.name,
                reference & 0xFFFF_FFFF_FFFF,
                (reference >> 48) as u16,
                f.namespace == 2,
            ));
        }
        at += len;
    }
    Ok(())
}

/// Lists directory `record`'s `$I30` index from the raw records.
pub(super) fn list(
    dev: &Device,
    map: &MftMap,
    cluster: u64,
    record: u64,
) -> Result<Vec<Entry>, String> {
    let base = Record::parse(map.read_raw(dev, record)?)?;
    let mut parts = Parts::default();
    collect(&base, &mut parts, dev, cluster)?;
    let list = base
        .attrs()
        .into_iter()
        .find(|a| a.ty == AT_ATTRIBUTE_LIST)
        .map(|a| small_value(dev, &a.body, cluster))
        .transpose()?;
    if let Some(list) = list {
        let mut ext: Vec<u64> = parse_attribute_list(&list, 1 << 16)?
            .into_iter()
            .filter(|e| matches!(e.ty, AT_INDEX_ROOT | AT_INDEX_ALLOCATION | AT_BITMAP))
            .filter(|e| e.name == "$I30" && e.record != record)
            .map(|e| e.record)
            .collect();
        ext.sort_unstable();
        ext.dedup();
        if ext.len() > MAX_EXTENSIONS {
            return Err("too many extension records".to_string());
        }
        for n in ext {
            let rec = Record::parse(map.read_raw(dev, n)?)?;
            if rec.base_record() != record {
                return Err(format!("extension record {n} belongs to another file"));
            }
            collect(&rec, &mut parts, dev, cluster)?;
        }
    }
    let root = parts.root.ok_or("no $INDEX_ROOT")?;
    let irs = u64::from(u32::from_le_bytes(
        root.get(8..12)
            .ok_or("truncated $INDEX_ROOT")?
            .try_into()
            .map_err(|_| "root")?,
    ));
    if irs == 0 || irs > u64::from(MAX_INDEX_RECORD) {
        return Err(format!("implausible index record size {irs}"));
    }
    let mut out = Vec::new();
    node_entries(&root, 0x10, &mut out)?;
    if parts.alloc.is_empty() {
        return Ok(out);
    }
    parts.alloc.sort_by_key(|p| p.0);
    let (data_size, init_size) = parts.alloc[0]
        .2
        .ok_or("$INDEX_ALLOCATION without its start")?;
    let mut runs: Vec<Run> = Vec::new();
    let mut end = 0u64;
    for (lowest, r, _) in &parts.alloc {
        if *lowest != end {
            return Err("$INDEX_ALLOCATION pieces do not join".to_string());
        }
        runs.extend(r.iter().copied());
        end = runs
            .last()
            .map_or(end, |l| l.vcn.saturating_add(l.clusters));
        if runs.len() > super::MAX_RUNS {
            return Err("too many data runs".to_string());
        }
    }
    let nr = NonResident {
        runs,
        cluster,
        data_size,
        init_size: init_size.min(data_size),
        unit: None,
    };
    let bitmap = parts.bitmap.unwrap_or_default();
    // Only blocks the bitmap can mark in use are looked at.
    let blocks = (data_size / irs).min(bitmap.len() as u64 * 8);
    let mut buf = vec![0u8; usize::try_from(irs).map_err(|_| "size")?];
    for i in 0..blocks {
        let in_use = usize::try_from(i / 8)
            .ok()
            .and_then(|k| bitmap.get(k))
            .is_some_and(|b| b & (1 << (i % 8)) != 0);
        if !in_use {
            continue;
        }
        if read_span(dev, &nr, i * irs, &mut buf).is_err() {
            return Err(format!("index block {i} unreadable"));
        }
        let Some(block) = fix_indx(buf.clone()) else {
            return Err(format!("index block {i} is damaged"));
        };
        node_entries(&block, 0x18, &mut out)?;
    }
    Ok(out)
}
