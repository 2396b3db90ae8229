//! A record's data streams as owned descriptions: the attributes of the base record and of its
//! attribute-list extensions gathered into pieces (from our own fixed-up copy of each record),
//! then joined per stream into resident bytes or a checked run list.

use super::wof;
use super::{
    Budget, FileFacts, NonResident, NtfsWalker, Run, StreamData, StreamDesc, StreamProblem,
    ATTR_COMPRESSION_MASK, ATTR_ENCRYPTED, AT_ATTRIBUTE_LIST, AT_DATA, AT_LOGGED_UTILITY_STREAM,
    AT_REPARSE_POINT, AT_STANDARD_INFORMATION, FILE_ATTRIBUTE_ENCRYPTED, IO_REPARSE_TAG_DEDUP,
    IO_REPARSE_TAG_MOUNT_POINT, IO_REPARSE_TAG_SYMLINK, IO_REPARSE_TAG_WOF, MAX_ATTRIBUTES,
    MAX_RUNS, MAX_UNIT,
};
use crate::fs::SkipReason;
use crate::io::Device;
use ntfs::structured_values::NtfsAttributeList;
use ntfs::{NtfsAttribute, NtfsFile};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

impl NtfsWalker {
    /// Collects a record's data streams (following its attribute list), its flags and time.
    pub(super) fn file_facts(
        &self,
        fs: &mut Budget,
        file: &NtfsFile<'_>,
    ) -> Result<FileFacts, String> {
        let record_size = self.ntfs.file_record_size();
        let mut pieces: Vec<Piece> = Vec::new();
        let base_raw = read_record(&self.cache, file, record_size)?;
        for (i, attr) in file.attributes_raw().enumerate() {
            if i >= MAX_ATTRIBUTES {
                return Err("too many attributes".to_string());
            }
            let attr = attr.map_err(|e| e.to_string())?;
            let Ok(ty) = attr.ty() else { continue };
            if ty as u32 == AT_ATTRIBUTE_LIST {
                let list = attr
                    .structured_value::<_, NtfsAttributeList>(fs)
                    .map_err(|e| format!("attribute list: {e}"))?;
                let mut entries = list.entries();
                let mut n = 0usize;
                while let Some(entry) = entries.next(fs) {
                    n += 1;
                    if n > MAX_ATTRIBUTES {
                        return Err("attribute list too long".to_string());
                    }
                    let entry = entry.map_err(|e| format!("attribute list: {e}"))?;
                    let Ok(ety) = entry.ty() else { continue };
                    let ety = ety as u32;
                    if !matches!(
                        ety,
                        AT_DATA
                            | AT_REPARSE_POINT
                            | AT_LOGGED_UTILITY_STREAM
                            | AT_STANDARD_INFORMATION
                    ) {
                        continue;
                    }
                    if entry.base_file_reference().file_record_number() == file.file_record_number()
                    {
                        continue; // in the base record: seen by the raw iteration
                    }
                    let ext = entry.to_file(&self.ntfs, fs).map_err(|e| e.to_string())?;
                    let ext_attr = entry.to_attribute(&ext).map_err(|e| e.to_string())?;
                    let raw = read_record(&self.cache, &ext, record_size)?;
                    if let Some(p) = self.piece(fs, &raw, &ext, &ext_attr)? {
                        pieces.push(p);
                    }
                }
            } else if let Some(p) = self.piece(fs, &base_raw, file, &attr)? {
                pieces.push(p);
            }
        }
        self.assemble(pieces)
    }

    /// Extracts what is needed from one attribute into owned data.
    fn piece(
        &self,
        fs: &mut Budget,
        raw: &[u8],
        file: &NtfsFile<'_>,
        attr: &NtfsAttribute<'_, '_>,
    ) -> Result<Option<Piece>, String> {
        let Ok(ty) = attr.ty() else { return Ok(None) };
        let ty = ty as u32;
        if !matches!(
            ty,
            AT_DATA | AT_REPARSE_POINT | AT_LOGGED_UTILITY_STREAM | AT_STANDARD_INFORMATION
        ) {
            return Ok(None);
        }
        let name = attr.name().map_err(|e| e.to_string())?.to_string_lossy();
        let flags = attr.flags().bits();
        if ty == AT_STANDARD_INFORMATION {
            let Ok(si) = attr
                .resident_structured_value::<ntfs::structured_values::NtfsStandardInformation>()
            else {
                return Ok(None);
            };
            let modified = i64::try_from(si.modification_time().nt_timestamp() / 10_000_000)
                .ok()
                .map(|s| s - 11_644_473_600);
            let encrypted = si.file_attributes().bits() & FILE_ATTRIBUTE_ENCRYPTED != 0;
            return Ok(Some(Piece {
                ty,
                name,
                flags,
                body: PieceBody::Info {
                    modified,
                    encrypted,
                },
            }));
        }
        if attr.is_resident() {
            let value = attr.value(fs).map_err(|e| e.to_string())?;
            let ntfs::attribute_value::NtfsAttributeValue::Resident(v) = value else {
                return Err("resident attribute without a resident value".to_string());
            };
            return Ok(Some(Piece {
                ty,
                name,
                flags,
                body: PieceBody::Resident(v.data().to_vec()),
            }));
        }
        // Non-resident: the header fields the crate keeps private come from our own copy of
        // the record.
        let file_pos = file
            .position()
            .value()
            .map(|p| p.get())
            .ok_or("record without position")?;
        let attr_pos = attr
            .position()
            .value()
            .map(|p| p.get())
            .ok_or("attribute without position")?;
        let off = usize::try_from(
            attr_pos
                .checked_sub(file_pos)
                .ok_or("attribute before record")?,
        )
        .map_err(|_| "attribute offset out of range")?;
        let hdr = raw
            .get(off..off + 0x40)
            .ok_or("non-resident header outside the record")?;
        if hdr[8] != 1
            || u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) != ty
            || u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) != attr.attribute_length()
        {
            return Err("record copy does not match the attribute".to_string());
        }
        let lowest_vcn = le_u64(hdr, 0x10);
        let unit_exp = hdr[0x22];
        let data_size = le_u64(hdr, 0x30);
        let init_size = le_u64(hdr, 0x38);
        let value = attr.value(fs).map_err(|e| e.to_string())?;
        let ntfs::attribute_value::NtfsAttributeValue::NonResident(v) = value else {
            return Err("non-resident attribute without data runs".to_string());
        };
        let cluster = u64::from(self.ntfs.cluster_size());
        let mut runs = Vec::new();
        let mut vcn = lowest_vcn;
        for run in v.data_runs() {
            if runs.len() >= MAX_RUNS {
                return Err(format!("more than {MAX_RUNS} data runs"));
            }
            let run = run.map_err(|e| format!("data runs: {e}"))?;
            let clusters = run.allocated_size() / cluster;
            runs.push(Run {
                vcn,
                clusters,
                lcn_pos: run.data_position().value().map(|p| p.get()),
            });
            vcn = vcn.checked_add(clusters).ok_or("data runs overflow")?;
        }
        Ok(Some(Piece {
            ty,
            name,
            flags,
            body: PieceBody::NonResident {
                lowest_vcn,
                unit_exp,
                data_size,
                init_size,
                runs,
            },
        }))
    }

    /// Turns the attribute pieces of a record into its streams.
    fn assemble(&self, pieces: Vec<Piece>) -> Result<FileFacts, String> {
        let mut modified = None;
        let mut encrypted = false;
        let mut reparse_tag = None;
        let mut reparse_data: Vec<u8> = Vec::new();
        let mut data: HashMap<String, Vec<Piece>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for p in pieces {
            match p.ty {
                AT_STANDARD_INFORMATION => {
                    if let PieceBody::Info {
                        modified: m,
                        encrypted: e,
                    } = p.body
                    {
                        modified = m;
                        encrypted |= e;
                    }
                }
                AT_LOGGED_UTILITY_STREAM if p.name == "$EFS" => encrypted = true,
                AT_REPARSE_POINT => {
                    if let PieceBody::Resident(v) = &p.body {
                        if v.len() >= 4 {
                            reparse_tag = Some(u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
                            reparse_data.clone_from(v);
                        }
                    }
                }
                AT_DATA => {
                    if p.flags & ATTR_ENCRYPTED != 0 {
                        encrypted = true;
                    }
                    if !data.contains_key(&p.name) {
                        order.push(p.name.clone());
                    }
                    data.entry(p.name.clone()).or_default().push(p);
                }
                _ => {}
            }
        }
        if matches!(
            reparse_tag,
            Some(IO_REPARSE_TAG_SYMLINK | IO_REPARSE_TAG_MOUNT_POINT)
        ) {
            // Symlinks and junctions point elsewhere: nothing of their own to scan.
            return Ok(FileFacts {
                modified,
                streams: Vec::new(),
            });
        }
        if order.is_empty() {
            // Not a link, yet no content at all: say so rather than drop the file silently.
            return Ok(FileFacts {
                modified,
                streams: vec![StreamDesc {
                    name: None,
                    size: 0,
                    data: Err(StreamProblem::Error(
                        "file has no $DATA attribute".to_string(),
                    )),
                    wof: None,
                }],
            });
        }
        let cluster = u64::from(self.ntfs.cluster_size());
        // CompactOS: the main stream's bytes come from the WofCompressedData stream.
        let wof = reparse_tag == Some(IO_REPARSE_TAG_WOF);
        let mut wof_main: Option<Result<(StreamData, u64, u64), StreamProblem>> = None;
        if wof {
            let chunk = match wof::parse_reparse(&reparse_data) {
                Some(Ok(algorithm)) => Ok(algorithm.chunk()),
                Some(Err(_)) | None => {
                    self.wof_failed.fetch_add(1, Ordering::Relaxed);
                    Err(StreamProblem::Skip(SkipReason::WofCompressed))
                }
            };
            let stream = match data.remove("WofCompressedData") {
                Some(mut parts) => {
                    order.retain(|n| n != "WofCompressedData");
                    parts.sort_by_key(|p| match &p.body {
                        PieceBody::NonResident { lowest_vcn, .. } => *lowest_vcn,
                        _ => 0,
                    });
                    match &parts[0].body {
                        PieceBody::Resident(b) => {
                            Ok((StreamData::Resident(b.clone()), b.len() as u64))
                        }
                        PieceBody::NonResident { data_size, .. } => {
                            build_nonresident(&parts, cluster)
                                .map(|nr| (StreamData::NonResident(nr), *data_size))
                        }
                        PieceBody::Info { .. } => {
                            Err(StreamProblem::Skip(SkipReason::WofCompressed))
                        }
                    }
                }
                None => Err(StreamProblem::Skip(SkipReason::WofCompressed)),
            };
            wof_main = Some(chunk.and_then(|c| stream.map(|(d, n)| (d, n, c))));
        }
        let mut streams = Vec::new();
        for name in order {
            let Some(mut parts) = data.remove(&name) else {
                continue;
            };
            parts.sort_by_key(|p| match &p.body {
                PieceBody::NonResident { lowest_vcn, .. } => *lowest_vcn,
                _ => 0,
            });
            let first = &parts[0];
            let stream_name = if name.is_empty() {
                None
            } else {
                Some(name.clone())
            };
            let (size, built) = match &first.body {
                PieceBody::Resident(bytes) => {
                    (bytes.len() as u64, Ok(StreamData::Resident(bytes.clone())))
                }
                PieceBody::NonResident { data_size, .. } => (
                    *data_size,
                    build_nonresident(&parts, cluster).map(StreamData::NonResident),
                ),
                PieceBody::Info { .. } => continue,
            };
            let mut wof_info = None;
            let data = if encrypted {
                Err(StreamProblem::Skip(SkipReason::Encrypted))
            } else if stream_name.is_none() && wof_main.is_some() {
                match wof_main.take() {
                    Some(Ok((d, stream_size, chunk))) => {
                        wof_info = Some((stream_size, chunk));
                        Ok(d)
                    }
                    Some(Err(e)) => Err(e),
                    None => Err(StreamProblem::Skip(SkipReason::WofCompressed)),
                }
            } else if reparse_tag == Some(IO_REPARSE_TAG_DEDUP) && stream_name.is_none() {
                Err(StreamProblem::Skip(SkipReason::UnsupportedCompression))
            } else {
                built
            };
            streams.push(StreamDesc {
                name: stream_name,
                size,
                data,
                wof: wof_info,
            });
        }
        Ok(FileFacts { modified, streams })
    }
}

struct Piece {
    ty: u32,
    name: String,
    flags: u16,
    body: PieceBody,
}

enum PieceBody {
    Info {
        modified: Option<i64>,
        encrypted: bool,
    },
    Resident(Vec<u8>),
    NonResident {
        lowest_vcn: u64,
        unit_exp: u8,
        data_size: u64,
        init_size: u64,
        runs: Vec<Run>,
    },
}

/// Joins the pieces of one non-resident stream (sorted by lowest VCN).
fn build_nonresident(parts: &[Piece], cluster: u64) -> Result<NonResident, StreamProblem> {
    let PieceBody::NonResident {
        unit_exp,
        data_size,
        init_size,
        ..
    } = &parts[0].body
    else {
        return Err(StreamProblem::Error(
            "stream mixes resident and non-resident parts".into(),
        ));
    };
    let flags = parts[0].flags;
    let mut runs: Vec<Run> = Vec::new();
    let mut end = 0u64;
    for p in parts {
        let PieceBody::NonResident {
            lowest_vcn,
            runs: r,
            ..
        } = &p.body
        else {
            return Err(StreamProblem::Error(
                "stream mixes resident and non-resident parts".into(),
            ));
        };
        if *lowest_vcn < end {
            return Err(StreamProblem::Error("overlapping data run lists".into()));
        }
        if runs.len() + r.len() > MAX_RUNS {
            return Err(StreamProblem::Error(format!(
                "more than {MAX_RUNS} data runs"
            )));
        }
        runs.extend(r.iter().copied());
        end = runs
            .last()
            .map_or(end, |l| l.vcn.saturating_add(l.clusters));
    }
    let compression = flags & ATTR_COMPRESSION_MASK;
    let unit = match compression {
        0 => None,
        1 => {
            let unit = (*unit_exp < 16)
                .then(|| cluster << unit_exp)
                .filter(|&u| *unit_exp > 0 && u <= MAX_UNIT);
            match unit {
                Some(u) => Some(u),
                None => return Err(StreamProblem::Skip(SkipReason::UnsupportedCompression)),
            }
        }
        _ => return Err(StreamProblem::Skip(SkipReason::UnsupportedCompression)),
    };
    Ok(NonResident {
        runs,
        cluster,
        data_size: *data_size,
        init_size: (*init_size).min(*data_size),
        unit,
    })
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Our own copy of a file record, with the update-sequence fixups applied (the crate keeps its
/// copy private). Checked against the crate's view by the callers.
fn read_record(dev: &Device, file: &NtfsFile<'_>, record_size: u32) -> Result<Vec<u8>, String> {
    let pos = file
        .position()
        .value()
        .map(|p| p.get())
        .ok_or("record without position")?;
    let size = usize::try_from(record_size)
        .map_err(|_| "record size")?
        .min(64 * 1024);
    let mut rec = vec![0u8; size];
    dev.read_exact_at(pos, &mut rec)
        .map_err(|e| format!("reading record: {e}"))?;
    if rec.get(0..4) != Some(b"FILE".as_slice()) {
        return Err("record copy has no FILE signature".to_string());
    }
    let usa_ofs = usize::from(u16::from_le_bytes([rec[4], rec[5]]));
    let usa_count = usize::from(u16::from_le_bytes([rec[6], rec[7]]));
    for i in 1..usa_count {
        let Some(fix) = rec
            .get(usa_ofs + 2 * i..usa_ofs + 2 * i + 2)
            .map(|s| [s[0], s[1]])
        else {
            break;
        };
        let end = i * 512;
        if end > size {
            break;
        }
        rec[end - 2..end].copy_from_slice(&fix);
    }
    Ok(rec)
}
