//! The whole `$MFT`, however fragmented, shown to the `ntfs` crate as one contiguous run.
//!
//! The crate maps file record numbers through the `$DATA` attribute it finds in record 0 and
//! nothing else (upstream bug #32): when `$MFT` has grown an attribute list, its later extents
//! live in extension records and every record they hold is out of the crate's reach. This
//! module builds the complete VCN-to-LCN map of `$MFT` itself (record 0's runs, then the `$DATA`
//! pieces of the extension records its attribute list names, each read through the map built
//! so far), and then an [`Overlay`] of the volume in which
//! - the whole `$MFT` appears, in VCN order, as one run placed past the end of the volume, and
//! - record 0, where the crate looks, is replaced by a synthetic record whose only attribute is
//!   a `$DATA` with that single run.
//!
//! Every other byte is the volume's own. Records that straddle two fragments (small clusters,
//! big records) read correctly too, since the view is contiguous.

use std::sync::Arc;

use super::record::{
    decode_runs, parse_attribute_list, AttrBody, Record, AT_ATTRIBUTE_LIST, AT_DATA,
};
use super::{read_span, NonResident, Run, MAX_RUNS};
use crate::io::{Device, Overlay, OverlaySource};

/// Largest `$ATTRIBUTE_LIST` value read (Windows caps it at 256 KiB).
const MAX_LIST_BYTES: u64 = 1 << 20;
/// Attribute list entries parsed.
const MAX_LIST_ENTRIES: usize = 1 << 16;

/// The complete map of `$MFT`'s `$DATA`.
pub(super) struct MftMap {
    /// Runs in VCN order, contiguous from VCN 0.
    pub runs: Vec<Run>,
    pub data_size: u64,
    pub init_size: u64,
    /// Extension records that hold parts of the map (0 without an attribute list).
    pub extension_records: usize,
    /// Whether record 0 has an attribute list.
    pub attribute_list: bool,
    cluster: u64,
    record_size: u64,
    real_record0: Vec<u8>,
}

impl MftMap {
    fn stream(&self) -> NonResident {
        NonResident {
            runs: self.runs.clone(),
            cluster: self.cluster,
            data_size: self.data_size,
            init_size: self.init_size,
            unit: None,
        }
    }

    /// Number of file records the map covers.
    pub(super) fn records(&self) -> u64 {
        self.data_size / self.record_size.max(1)
    }

    /// Reads file record `n` from the volume through the map (raw, fixups not applied).
    pub(super) fn read_raw(&self, dev: &Device, n: u64) -> Result<Vec<u8>, String> {
        read_raw(dev, &self.stream(), self.record_size, n)
    }
}

fn read_raw(dev: &Device, mft: &NonResident, record_size: u64, n: u64) -> Result<Vec<u8>, String> {
    let off = n
        .checked_mul(record_size)
        .ok_or("record number out of range")?;
    let len = usize::try_from(record_size).map_err(|_| "record size")?;
    let mut buf = vec![0u8; len];
    read_span(dev, mft, off, &mut buf).map_err(|e| format!("record {n}: {e}"))?;
    Ok(buf)
}

/// Joins `$DATA` pieces (lowest VCN, runs) into one run list contiguous from VCN 0.
fn merge(pieces: &mut [(u64, Vec<Run>)]) -> Result<Vec<Run>, String> {
    pieces.sort_by_key(|p| p.0);
    let mut runs: Vec<Run> = Vec::new();
    let mut end = 0u64;
    for (lowest, r) in pieces.iter() {
        if *lowest != end {
            return Err(format!(
                "$MFT map has a gap or an overlap at cluster {end} (next piece starts at {lowest})"
            ));
        }
        if runs.len() + r.len() > MAX_RUNS {
            return Err(format!("$MFT has more than {MAX_RUNS} data runs"));
        }
        runs.extend(r.iter().copied());
        end = runs
            .last()
            .map_or(end, |l| l.vcn.saturating_add(l.clusters));
    }
    Ok(runs)
}

/// Builds the complete `$MFT` map from record 0 at `mft_pos`.
pub(super) fn read_map(
    dev: &Device,
    mft_pos: u64,
    cluster: u64,
    record_size: u64,
) -> Result<MftMap, String> {
    let len = usize::try_from(record_size).map_err(|_| "record size")?;
    let mut raw0 = vec![0u8; len];
    dev.read_exact_at(mft_pos, &mut raw0)
        .map_err(|e| format!("record 0: {e}"))?;
    let rec0 = Record::parse(raw0.clone()).map_err(|e| format!("record 0: {e}"))?;
    let mut pieces: Vec<(u64, Vec<Run>)> = Vec::new();
    let mut sizes = None;
    // Resident bytes, or (size, runs) to read.
    type ListValue = Result<Vec<u8>, (u64, Vec<Run>)>;
    let mut list_attr: Option<ListValue> = None;
    for a in rec0.attrs() {
        match (a.ty, &a.body) {
            (AT_DATA, AttrBody::NonResident(h)) if a.name.is_empty() => {
                let runs = decode_runs(h.runs, h.lowest_vcn, cluster)
                    .map_err(|e| format!("$MFT data runs: {e}"))?;
                if h.lowest_vcn == 0 {
                    sizes = Some((h.data_size, h.init_size));
                }
                pieces.push((h.lowest_vcn, runs));
            }
            (AT_ATTRIBUTE_LIST, AttrBody::Resident(v)) => list_attr = Some(Ok(v.to_vec())),
            (AT_ATTRIBUTE_LIST, AttrBody::NonResident(h)) => {
                if h.data_size > MAX_LIST_BYTES {
                    return Err(format!(
                        "$MFT attribute list of {} bytes (at most {MAX_LIST_BYTES} read)",
                        h.data_size
                    ));
                }
                let runs = decode_runs(h.runs, 0, cluster)
                    .map_err(|e| format!("$MFT attribute list runs: {e}"))?;
                list_attr = Some(Err((h.data_size, runs)));
            }
            _ => {}
        }
    }
    let (data_size, init_size) = sizes.ok_or("record 0 has no $DATA starting at VCN 0")?;
    let list = match list_attr {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err((size, runs))) => {
            let nr = NonResident {
                runs,
                cluster,
                data_size: size,
                init_size: size,
                unit: None,
            };
            let mut v = vec![0u8; usize::try_from(size).map_err(|_| "list size")?];
            read_span(dev, &nr, 0, &mut v).map_err(|e| format!("$MFT attribute list: {e}"))?;
            Some(v)
        }
    };
    let mut extension_records = 0usize;
    if let Some(list) = &list {
        let mut entries: Vec<_> = parse_attribute_list(list, MAX_LIST_ENTRIES)
            .map_err(|e| format!("$MFT {e}"))?
            .into_iter()
            .filter(|e| e.ty == AT_DATA && e.name.is_empty() && e.record != 0)
            .collect();
        entries.sort_by_key(|e| e.lowest_vcn);
        for e in entries {
            if pieces.iter().any(|p| p.0 == e.lowest_vcn) {
                continue;
            }
            // Each extension record must be reachable through the pieces known so far.
            let so_far = merge(&mut pieces)?;
            let end = so_far
                .last()
                .map_or(0, |l| l.vcn.saturating_add(l.clusters));
            let nr = NonResident {
                runs: so_far,
                cluster,
                data_size: end.saturating_mul(cluster),
                init_size: end.saturating_mul(cluster),
                unit: None,
            };
            let raw = read_raw(dev, &nr, record_size, e.record)?;
            let ext =
                Record::parse(raw).map_err(|x| format!("$MFT extension {}: {x}", e.record))?;
            if !ext.in_use() || ext.base_record() != 0 {
                return Err(format!(
                    "$MFT extension record {} is not in use or not $MFT's",
                    e.record
                ));
            }
            let piece = ext.attrs().into_iter().find_map(|a| match a.body {
                AttrBody::NonResident(h)
                    if a.ty == AT_DATA && a.name.is_empty() && h.lowest_vcn == e.lowest_vcn =>
                {
                    Some(decode_runs(h.runs, h.lowest_vcn, cluster))
                }
                _ => None,
            });
            let Some(runs) = piece else {
                return Err(format!(
                    "$MFT extension record {} lacks the $DATA piece at cluster {}",
                    e.record, e.lowest_vcn
                ));
            };
            pieces.push((
                e.lowest_vcn,
                runs.map_err(|x| format!("$MFT data runs: {x}"))?,
            ));
            extension_records += 1;
        }
    }
    let runs = merge(&mut pieces)?;
    let mapped = runs
        .last()
        .map_or(0, |l| l.vcn.saturating_add(l.clusters))
        .saturating_mul(cluster);
    if mapped < data_size {
        return Err(format!("$MFT map covers {mapped} of its {data_size} bytes"));
    }
    Ok(MftMap {
        runs,
        data_size,
        init_size: init_size.min(data_size),
        extension_records,
        attribute_list: list.is_some(),
        cluster,
        record_size,
        real_record0: raw0,
    })
}

/// Minimal little-endian encodings for a mapping pair.
fn unsigned_bytes(v: u64) -> Vec<u8> {
    let mut b = v.to_le_bytes().to_vec();
    while b.len() > 1 && b[b.len() - 1] == 0 {
        b.pop();
    }
    b
}

fn signed_positive_bytes(v: u64) -> Vec<u8> {
    let mut b = unsigned_bytes(v);
    if b.last().is_some_and(|&x| x & 0x80 != 0) {
        b.push(0);
    }
    b
}

fn put(r: &mut [u8], at: usize, v: &[u8]) {
    r[at..at + v.len()].copy_from_slice(v);
}

/// A file record 0 whose only attribute is a `$DATA` of one run: `clusters` clusters at
/// `lcn` (update sequence applied, as on disk).
fn synthetic_record0(map: &MftMap, lcn: u64, clusters: u64) -> Result<Vec<u8>, String> {
    let size = usize::try_from(map.record_size).map_err(|_| "record size")?;
    if size < 512 || size % 512 != 0 {
        return Err(format!("unusual file record size {size}"));
    }
    let real = &map.real_record0;
    let mut r = vec![0u8; size];
    r[0..4].copy_from_slice(b"FILE");
    let usa_ofs = 0x30usize;
    let usa_count = size / 512 + 1;
    put(&mut r, 4, &(usa_ofs as u16).to_le_bytes());
    put(&mut r, 6, &(usa_count as u16).to_le_bytes());
    put(&mut r, 0x10, &real[0x10..0x14]); // sequence number, link count
    put(&mut r, 0x16, &1u16.to_le_bytes()); // in use
    let attrs = (usa_ofs + 2 * usa_count).div_ceil(8) * 8;
    put(&mut r, 0x14, &(attrs as u16).to_le_bytes());
    put(&mut r, 0x1C, &(size as u32).to_le_bytes());
    put(&mut r, 0x28, &1u16.to_le_bytes());
    // The $DATA attribute: non-resident header (0x40 bytes) then one mapping pair.
    let len_b = unsigned_bytes(clusters);
    let lcn_b = signed_positive_bytes(lcn);
    if lcn_b.len() > 8 {
        return Err("virtual $MFT position out of range".to_string());
    }
    let mut pair = vec![(len_b.len() as u8) | ((lcn_b.len() as u8) << 4)];
    pair.extend_from_slice(&len_b);
    pair.extend_from_slice(&lcn_b);
    pair.push(0);
    let alen = (0x40 + pair.len()).div_ceil(8) * 8;
    let a = attrs;
    if a + alen + 8 > size - 2 {
        return Err("synthetic record 0 does not fit".to_string());
    }
    put(&mut r, a, &AT_DATA.to_le_bytes());
    put(&mut r, a + 4, &(alen as u32).to_le_bytes());
    r[a + 8] = 1; // non-resident
    put(&mut r, a + 0x0A, &0x40u16.to_le_bytes()); // name offset (no name)
    put(&mut r, a + 0x18, &(clusters - 1).to_le_bytes()); // highest VCN
    put(&mut r, a + 0x20, &0x40u16.to_le_bytes()); // mapping pairs offset
    put(
        &mut r,
        a + 0x28,
        &clusters.saturating_mul(map.cluster).to_le_bytes(),
    );
    put(&mut r, a + 0x30, &map.data_size.to_le_bytes());
    put(&mut r, a + 0x38, &map.init_size.to_le_bytes());
    put(&mut r, a + 0x40, &pair);
    let end = a + alen;
    put(&mut r, end, &0xFFFF_FFFFu32.to_le_bytes());
    put(&mut r, 0x18, &((end + 8) as u32).to_le_bytes());
    // Update sequence: number 1, the protected words saved in the array.
    let usn = [1u8, 0];
    put(&mut r, usa_ofs, &usn);
    for i in 1..usa_count {
        let at = i * 512 - 2;
        let saved = [r[at], r[at + 1]];
        put(&mut r, usa_ofs + 2 * i, &saved);
        put(&mut r, at, &usn);
    }
    Ok(r)
}

/// The cluster where the overlay shows `$MFT`: one spare cluster past the end of the volume.
fn view_lcn(volume: u64, cluster: u64) -> u64 {
    volume.div_ceil(cluster.max(1)).saturating_add(1)
}

impl MftMap {
    /// Where a byte of the overlay's `$MFT` view lies on the volume (`pos` itself when it is
    /// outside the view).
    #[cfg(test)]
    pub(super) fn physical(&self, volume: u64, pos: u64) -> Option<u64> {
        let start = view_lcn(volume, self.cluster) * self.cluster;
        let Some(off) = pos.checked_sub(start) else {
            return Some(pos);
        };
        let vcn = off / self.cluster;
        let run = self
            .runs
            .iter()
            .find(|r| r.vcn <= vcn && vcn < r.vcn + r.clusters)?;
        Some(run.lcn_pos? + off - run.vcn * self.cluster)
    }
}

/// The overlay described in the module documentation, over `base` (the whole volume).
pub(super) fn overlay(base: &Device, map: &MftMap, mft_pos: u64) -> Result<Device, String> {
    let cluster = map.cluster;
    let clusters = map
        .runs
        .last()
        .map_or(0, |l| l.vcn.saturating_add(l.clusters));
    if clusters == 0 || cluster == 0 {
        return Err("empty $MFT".to_string());
    }
    let lcn = view_lcn(base.size(), cluster);
    let start = lcn.checked_mul(cluster).ok_or("volume too large")?;
    let size = clusters
        .checked_mul(cluster)
        .and_then(|l| l.checked_add(start))
        .ok_or("$MFT too large")?;
    let record0 = synthetic_record0(map, lcn, clusters)?;
    let mut o = Overlay::new(base.clone(), size);
    let err = |e: std::io::Error| e.to_string();
    o.push(
        mft_pos,
        map.record_size,
        OverlaySource::Bytes(Arc::from(record0)),
    )
    .map_err(err)?;
    for r in &map.runs {
        let source = match r.lcn_pos {
            Some(p) => OverlaySource::Device {
                dev: base.clone(),
                offset: p,
            },
            None => OverlaySource::Zeros,
        };
        let len = r.clusters.checked_mul(cluster).ok_or("run too large")?;
        let at = r
            .vcn
            .checked_mul(cluster)
            .and_then(|v| v.checked_add(start))
            .ok_or("run out of range")?;
        o.push(at, len, source).map_err(err)?;
    }
    Ok(Arc::new(o))
}
