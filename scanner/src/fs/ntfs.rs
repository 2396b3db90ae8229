//! NTFS reader: walks a Windows volume with the `ntfs` crate and hands every file and every
//! alternate data stream to the scan engine, read-only.
//!
//! The crate parses records, attributes and directory indexes; this module adds what it leaves
//! out (see `crate-notes.md`): it reads file contents itself from the data runs, so that holes
//! and the bytes past `initialized_size` read as zeros and LZNT1-compressed units are
//! decompressed (see [`super::lznt1`]); it skips the root's self-reference, DOS 8.3 duplicate
//! names, metadata files, hard-link duplicates and directory cycles; it checks each record's
//! in-use flag and sequence number; it reports EFS-encrypted and WOF-compressed files as
//! skipped; it notes dirty and hibernated volumes and an `$MFT` with an attribute list (upstream
//! bug #32: records past the first `$MFT` extent then fail one by one and are reported as
//! errors; the crate offers no way around it). It also serves the file records that straddle
//! two `$MFT` fragments, which the crate reads wrongly (see [`SplitRecords`]). Every crate call
//! runs under [`guard`] and a read budget, so a corrupt volume costs one error per file or
//! directory, never the scan.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::Arc;

use ntfs::structured_values::{NtfsAttributeList, NtfsFileNamespace, NtfsIndexRoot};
use ntfs::{Ntfs, NtfsAttribute, NtfsAttributeType, NtfsFile, NtfsFileFlags};

use super::lznt1;
use super::{
    guard, join_path, Content, FileMeta, FsError, SkipReason, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device, ReadAt, ReadSeekAdapter};

const FS: &str = "ntfs";
/// Cache over the volume: metadata is re-read constantly by the crate.
const CACHE_BYTES: usize = 16 << 20;
/// Root directory record number.
const ROOT_RECORD: u64 = 5;
/// Records 0..24 are NTFS metadata, never user files: $MFT (0), $MFTMirr (1), $LogFile (2),
/// $Volume (3), $AttrDef (4), the root (5, walked as the root), $Bitmap (6), $Boot (7),
/// $BadClus (8), $Secure (9), $UpCase (10), $Extend (11, holding $Quota, $ObjId, $Reparse,
/// $UsnJrnl, $RmMetadata, whose own records are only reachable through it), 12..15 reserved
/// and 16..23 kept for $MFT extension records. None of them is reported.
const FIRST_USER_RECORD: u64 = 24;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 512;
/// Entries read from one directory index before giving up on it.
const MAX_DIR_ENTRIES: usize = 1 << 20;
/// Directory entries in a row that name records already seen in the same directory: an index
/// that loops.
const MAX_REPEATS: usize = 50_000;
/// Records (files and directories) visited in one walk.
const MAX_RECORDS: usize = 20_000_000;
/// Bytes the crate may read to list one directory (a looping index stops here).
const DIR_READ_BUDGET: u64 = 128 << 20;
/// Bytes the crate may read to describe one file's attributes.
const FILE_READ_BUDGET: u64 = 32 << 20;
/// Attributes and attribute-list entries looked at per file.
const MAX_ATTRIBUTES: usize = 4096;
/// Data runs kept per stream.
const MAX_RUNS: usize = 1 << 20;
/// Largest index record size accepted (the crate allocates it unchecked).
const MAX_INDEX_RECORD: u32 = 64 * 1024;
/// Largest compression unit decoded.
const MAX_UNIT: u64 = 4 << 20;
/// Read buffer handed to the visitor.
const READ_BUFFER: usize = 1 << 20;

/// Attribute type codes used here.
const AT_STANDARD_INFORMATION: u32 = 0x10;
const AT_ATTRIBUTE_LIST: u32 = 0x20;
const AT_DATA: u32 = 0x80;
const AT_REPARSE_POINT: u32 = 0xC0;
const AT_LOGGED_UTILITY_STREAM: u32 = 0x100;
/// Attribute flags.
const ATTR_COMPRESSION_MASK: u16 = 0x00FF;
const ATTR_ENCRYPTED: u16 = 0x4000;
/// File attribute flag in $STANDARD_INFORMATION.
const FILE_ATTRIBUTE_ENCRYPTED: u32 = 0x4000;
/// Reparse tags.
const IO_REPARSE_TAG_WOF: u32 = 0x8000_0017;
const IO_REPARSE_TAG_DEDUP: u32 = 0x8000_0013;
const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;
const IO_REPARSE_TAG_MOUNT_POINT: u32 = 0xA000_0003;

/// An NTFS volume opened for walking.
pub struct NtfsWalker {
    cache: Device,
    ntfs: Ntfs,
    info: VolumeInfo,
    /// File records cut in two by a fragment boundary of `$MFT` (see [`SplitRecords`]).
    split: Option<Arc<SplitRecords>>,
}

/// The crate reads a file record as one contiguous span from the position of its first byte.
/// When clusters are smaller than records (512-byte clusters, 1 KiB records) and `$MFT` is
/// fragmented, a record may straddle two fragments and the crate reads garbage (it fails the
/// update-sequence check). [`Budget`] recognises the read of such a record by its position and
/// length and serves the record's real bytes instead.
struct SplitRecords {
    /// `$MFT`'s own data runs.
    mft: NonResident,
    /// File record size.
    record: u64,
    /// Volume position of a straddling record's first byte -> its offset in `$MFT`.
    starts: HashMap<u64, u64>,
}

/// Opens the NTFS volume that `dev` covers exactly.
pub fn open(dev: Device) -> Result<NtfsWalker, FsError> {
    let cache: Device = Arc::new(BlockCache::new(dev, CACHE_BYTES));
    let mut fs = Budget::new(&cache, FILE_READ_BUDGET, None);
    let mut ntfs = match guard(|| Ntfs::new(&mut fs)) {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            return Err(FsError::Invalid {
                fs: FS,
                reason: e.to_string(),
            })
        }
        Err(p) => return Err(FsError::Panic(p)),
    };
    // Some lookups panic without the upcase table: load it before anything else.
    match guard(|| ntfs.read_upcase_table(&mut fs)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(FsError::Invalid {
                fs: FS,
                reason: format!("$UpCase: {e}"),
            })
        }
        Err(p) => return Err(FsError::Panic(p)),
    }
    match guard(|| ntfs.root_directory(&mut fs).map(|_| ())) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(FsError::Invalid {
                fs: FS,
                reason: format!("root directory: {e}"),
            })
        }
        Err(p) => return Err(FsError::Panic(p)),
    }
    let mut walker = NtfsWalker {
        cache,
        ntfs,
        info: VolumeInfo::default(),
        split: None,
    };
    walker.split = guard(|| walker.split_records())
        .ok()
        .flatten()
        .map(Arc::new);
    walker.info = walker.read_volume_info();
    Ok(walker)
}

impl Walker for NtfsWalker {
    fn info(&self) -> VolumeInfo {
        self.info.clone()
    }

    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        let mut state = WalkState::default();
        let mut stack: Vec<(u64, String, usize)> = vec![(ROOT_RECORD, "/".to_string(), 0)];
        state.visited_dirs.insert(ROOT_RECORD);
        while let Some((record, path, depth)) = stack.pop() {
            let listing = match guard(|| self.list_directory(record)) {
                Ok(r) => r,
                Err(p) => Err(format!("reader crashed: {p}")),
            };
            let listing = match listing {
                Ok(l) => l,
                Err(e) => {
                    let meta = FileMeta {
                        path: path.clone(),
                        ..FileMeta::default()
                    };
                    if visitor
                        .visit(&meta, Content::Error(format!("directory: {e}")))
                        .is_break()
                    {
                        return Ok(WalkEnd::Cancelled);
                    }
                    continue;
                }
            };
            // Named streams of the directory itself (ADS can hang on directories).
            if let ControlFlow::Break(()) = self.visit_facts(listing.own, &path, true, visitor) {
                return Ok(WalkEnd::Cancelled);
            }
            let mut subdirs = Vec::new();
            for child in listing.children {
                let child_path = join_path(&path, &child.name);
                if state.records >= MAX_RECORDS {
                    let meta = FileMeta {
                        path: child_path,
                        ..FileMeta::default()
                    };
                    let _ = visitor.visit(
                        &meta,
                        Content::Error(format!("more than {MAX_RECORDS} records: walk cut short")),
                    );
                    return Ok(WalkEnd::Complete);
                }
                state.records += 1;
                let opened = match guard(|| self.open_child(&child)) {
                    Ok(r) => r,
                    Err(p) => Err(format!("reader crashed: {p}")),
                };
                let opened = match opened {
                    Ok(o) => o,
                    Err(e) => {
                        let meta = FileMeta {
                            path: child_path,
                            ..FileMeta::default()
                        };
                        if visitor.visit(&meta, Content::Error(e)).is_break() {
                            return Ok(WalkEnd::Cancelled);
                        }
                        continue;
                    }
                };
                match opened {
                    Opened::Directory => {
                        if !state.visited_dirs.insert(child.record) {
                            continue; // a cycle or a second name of a directory
                        }
                        if depth + 1 > MAX_DEPTH {
                            let meta = FileMeta {
                                path: child_path,
                                ..FileMeta::default()
                            };
                            let msg = format!("directory deeper than {MAX_DEPTH} levels");
                            if visitor.visit(&meta, Content::Error(msg)).is_break() {
                                return Ok(WalkEnd::Cancelled);
                            }
                            continue;
                        }
                        subdirs.push((child.record, child_path, depth + 1));
                    }
                    Opened::File(facts) => {
                        // Hard links: the content is scanned once, under its first path.
                        if !state.seen_files.insert(child.record) {
                            continue;
                        }
                        if let ControlFlow::Break(()) =
                            self.visit_facts(facts, &child_path, false, visitor)
                        {
                            return Ok(WalkEnd::Cancelled);
                        }
                    }
                    Opened::NotReported => {}
                }
            }
            // Depth first, in index order.
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(WalkEnd::Complete)
    }
}

#[derive(Default)]
struct WalkState {
    visited_dirs: HashSet<u64>,
    seen_files: HashSet<u64>,
    records: usize,
}

/// One name in a directory index.
struct Child {
    name: String,
    record: u64,
    sequence: u16,
}

struct Listing {
    /// The directory's own streams (named ones are reported).
    own: Result<FileFacts, String>,
    children: Vec<Child>,
}

enum Opened {
    Directory,
    File(Result<FileFacts, String>),
    /// Symlinks and junction files: not files to scan.
    NotReported,
}

/// What is known of one record's data streams, with no borrow of the crate.
struct FileFacts {
    modified: Option<i64>,
    streams: Vec<StreamDesc>,
}

struct StreamDesc {
    name: Option<String>,
    size: u64,
    data: Result<StreamData, StreamProblem>,
}

enum StreamProblem {
    Skip(SkipReason),
    Error(String),
}

enum StreamData {
    Resident(Vec<u8>),
    NonResident(NonResident),
}

#[derive(Clone)]
struct NonResident {
    runs: Vec<Run>,
    cluster: u64,
    data_size: u64,
    init_size: u64,
    /// Compression unit size in bytes, for LZNT1-compressed streams.
    unit: Option<u64>,
}

/// A run of clusters of a stream: `clusters` clusters from `vcn`, at byte `lcn_pos` of the
/// volume or sparse (`None`).
#[derive(Clone, Copy, Debug)]
struct Run {
    vcn: u64,
    clusters: u64,
    lcn_pos: Option<u64>,
}

impl NtfsWalker {
    fn fs(&self, budget: u64) -> Budget {
        Budget::new(&self.cache, budget, self.split.clone())
    }

    /// Finds the `$MFT` records that straddle two fragments (see [`SplitRecords`]).
    fn split_records(&self) -> Option<SplitRecords> {
        let mut fs = self.fs(FILE_READ_BUDGET);
        let mft = self.ntfs.file(&mut fs, 0).ok()?;
        let facts = self.file_facts(&mut fs, &mft).ok()?;
        let record = u64::from(self.ntfs.file_record_size());
        let main = facts.streams.into_iter().find(|s| s.name.is_none())?;
        let Ok(StreamData::NonResident(nr)) = main.data else {
            return None;
        };
        let mut starts = HashMap::new();
        if record == 0 || nr.unit.is_some() {
            return None;
        }
        for r in &nr.runs {
            let end = r.vcn.saturating_add(r.clusters).saturating_mul(nr.cluster);
            if end % record == 0 || end >= nr.data_size {
                continue;
            }
            let start = end / record * record;
            let vcn = start / nr.cluster;
            if let Some(run) = nr.run_at(vcn) {
                if let Some(lcn) = run.lcn_pos {
                    let phys = lcn.saturating_add(start - run.vcn.saturating_mul(nr.cluster));
                    starts.insert(phys, start);
                }
            }
        }
        if starts.is_empty() {
            return None;
        }
        log::debug!(
            "ntfs: {} file records straddle $MFT fragments",
            starts.len()
        );
        Some(SplitRecords {
            mft: nr,
            record,
            starts,
        })
    }

    fn read_volume_info(&self) -> VolumeInfo {
        let mut info = VolumeInfo::default();
        let mut fs = self.fs(FILE_READ_BUDGET);
        if let Ok(Some(Ok(name))) = guard(|| self.ntfs.volume_name(&mut fs)) {
            let label = name.name().to_string_lossy();
            if !label.is_empty() {
                info.label = Some(label);
            }
        }
        match guard(|| self.ntfs.volume_info(&mut fs)) {
            Ok(Ok(v)) => {
                if v.flags()
                    .contains(ntfs::structured_values::NtfsVolumeFlags::IS_DIRTY)
                {
                    info.notes.push(
                        "volume is marked dirty (not cleanly unmounted): recent changes may be missing"
                            .to_string(),
                    );
                    info.degraded = true;
                }
            }
            Ok(Err(e)) => info
                .notes
                .push(format!("$Volume information unreadable: {e}")),
            Err(p) => info
                .notes
                .push(format!("$Volume information crashed the reader: {p}")),
        }
        // Upstream bug #32: with an attribute list on $MFT, the crate only maps the first
        // extent of the MFT, so later records are unreachable (read errors or wrong records).
        let mft_list = guard(|| -> Result<bool, String> {
            let mut fs = self.fs(FILE_READ_BUDGET);
            let mft = self.ntfs.file(&mut fs, 0).map_err(|e| e.to_string())?;
            Ok(mft
                .attributes_raw()
                .take(MAX_ATTRIBUTES)
                .filter_map(Result::ok)
                .any(|a| a.ty().ok().map(|t| t as u32) == Some(AT_ATTRIBUTE_LIST)))
        });
        match mft_list {
            Ok(Ok(false)) => {}
            Ok(Ok(true)) => {
                info.notes.push(
                    "$MFT has an attribute list (very large or fragmented MFT): records beyond its first extent may be unreachable"
                        .to_string(),
                );
                info.degraded = true;
            }
            Ok(Err(e)) => {
                info.notes.push(format!("$MFT record unreadable: {e}"));
                info.degraded = true;
            }
            Err(p) => {
                info.notes
                    .push(format!("$MFT record crashed the reader: {p}"));
                info.degraded = true;
            }
        }
        if let Ok(true) = guard(|| self.hibernated()) {
            info.notes
                .push("Windows was hibernated; files may be out of date".to_string());
            info.degraded = true;
        }
        info
    }

    /// Whether `/hiberfil.sys` starts with a hibernation signature.
    fn hibernated(&self) -> bool {
        let Ok(listing) = self.list_directory(ROOT_RECORD) else {
            return false;
        };
        let Some(child) = listing
            .children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("hiberfil.sys"))
        else {
            return false;
        };
        let Ok(Opened::File(Ok(facts))) = self.open_child(child) else {
            return false;
        };
        let Some(main) = facts.streams.into_iter().find(|s| s.name.is_none()) else {
            return false;
        };
        let Ok(data) = main.data else { return false };
        let mut reader = StreamReader::new(self.cache.clone(), data);
        let mut magic = [0u8; 4];
        if reader.read_exact(&mut magic).is_err() {
            return false;
        }
        matches!(&magic, b"hibr" | b"HIBR" | b"wake" | b"WAKE")
    }

    /// Reads a directory's index: its children (minus the self-reference, metadata files and
    /// DOS duplicates) and its own streams.
    fn list_directory(&self, record: u64) -> Result<Listing, String> {
        let mut fs = self.fs(DIR_READ_BUDGET);
        let dir = self.ntfs.file(&mut fs, record).map_err(|e| e.to_string())?;
        if !dir.flags().contains(NtfsFileFlags::IN_USE) {
            return Err("directory record is not in use".to_string());
        }
        check_index_record_size(&dir)?;
        let index = dir.directory_index(&mut fs).map_err(|e| e.to_string())?;
        let mut entries = index.entries();
        let mut raw: Vec<(String, u64, u16, bool)> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut repeats = 0usize;
        let mut count = 0usize;
        while let Some(entry) = entries.next(&mut fs) {
            count += 1;
            if count > MAX_DIR_ENTRIES {
                return Err(format!("more than {MAX_DIR_ENTRIES} index entries"));
            }
            let entry = entry.map_err(|e| e.to_string())?;
            let Some(key) = entry.key() else { continue };
            let key = key.map_err(|e| e.to_string())?;
            let reference = entry.file_reference();
            let child = reference.file_record_number();
            if seen.insert(child) {
                repeats = 0;
            } else {
                repeats += 1;
                if repeats > MAX_REPEATS {
                    return Err("directory index loops".to_string());
                }
            }
            let dos = key.namespace() == NtfsFileNamespace::Dos;
            raw.push((
                key.name().to_string_lossy(),
                child,
                reference.sequence_number(),
                dos,
            ));
        }
        // A DOS 8.3 name is only kept when the record has no other name here.
        let mut long_named: HashSet<u64> = HashSet::new();
        for (_, rec, _, dos) in &raw {
            if !dos {
                long_named.insert(*rec);
            }
        }
        let mut children = Vec::new();
        let mut kept: HashSet<(u64, String)> = HashSet::new();
        for (name, rec, sequence, dos) in raw {
            if rec == record {
                continue; // the root's entry for itself
            }
            if rec < FIRST_USER_RECORD {
                continue; // NTFS metadata files (see FIRST_USER_RECORD)
            }
            if dos && long_named.contains(&rec) {
                continue;
            }
            if !kept.insert((rec, name.clone())) {
                continue;
            }
            children.push(Child {
                name,
                record: rec,
                sequence,
            });
        }
        let own = self.file_facts(&mut fs, &dir);
        Ok(Listing { own, children })
    }

    /// Opens a child record and checks it against its index entry.
    fn open_child(&self, child: &Child) -> Result<Opened, String> {
        let mut fs = self.fs(FILE_READ_BUDGET);
        let file = self
            .ntfs
            .file(&mut fs, child.record)
            .map_err(|e| e.to_string())?;
        if !file.flags().contains(NtfsFileFlags::IN_USE) {
            return Err(format!(
                "stale directory entry: record {} is not in use",
                child.record
            ));
        }
        if child.sequence != 0 && file.sequence_number() != child.sequence {
            return Err(format!(
                "stale directory entry: record {} has sequence {}, the index says {}",
                child.record,
                file.sequence_number(),
                child.sequence
            ));
        }
        if file.is_directory() {
            return Ok(Opened::Directory);
        }
        let facts = self.file_facts(&mut fs, &file);
        if let Ok(f) = &facts {
            if f.streams.is_empty() {
                return Ok(Opened::NotReported);
            }
        }
        Ok(Opened::File(facts))
    }

    /// Hands each stream of a record to the visitor (only named ones for a directory).
    fn visit_facts(
        &self,
        facts: Result<FileFacts, String>,
        path: &str,
        directory: bool,
        visitor: &mut dyn Visitor,
    ) -> ControlFlow<()> {
        let facts = match facts {
            Ok(f) => f,
            Err(e) => {
                if directory {
                    let meta = FileMeta {
                        path: path.to_string(),
                        ..FileMeta::default()
                    };
                    return visitor.visit(&meta, Content::Error(format!("directory streams: {e}")));
                }
                let meta = FileMeta {
                    path: path.to_string(),
                    ..FileMeta::default()
                };
                return visitor.visit(&meta, Content::Error(e));
            }
        };
        for stream in facts.streams {
            if directory && stream.name.is_none() {
                continue;
            }
            let meta = FileMeta {
                path: path.to_string(),
                stream: stream.name,
                size: stream.size,
                modified: facts.modified,
            };
            match stream.data {
                Ok(data) => {
                    let capacity = usize::try_from(stream.size.clamp(4096, READ_BUFFER as u64))
                        .unwrap_or(READ_BUFFER);
                    let mut reader = BufReader::with_capacity(
                        capacity,
                        StreamReader::new(self.cache.clone(), data),
                    );
                    visitor.visit(&meta, Content::Data(&mut reader))?;
                }
                Err(StreamProblem::Skip(reason)) => {
                    visitor.visit(&meta, Content::Skipped(reason))?;
                }
                Err(StreamProblem::Error(e)) => visitor.visit(&meta, Content::Error(e))?,
            }
        }
        ControlFlow::Continue(())
    }

    /// Collects a record's data streams (following its attribute list), its flags and time.
    fn file_facts(&self, fs: &mut Budget, file: &NtfsFile<'_>) -> Result<FileFacts, String> {
        let record_size = self.ntfs.file_record_size();
        let mut pieces: Vec<Piece> = Vec::new();
        let base_raw = read_record(&self.cache, self.split.as_deref(), file, record_size)?;
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
                    let raw = read_record(&self.cache, self.split.as_deref(), &ext, record_size)?;
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
                }],
            });
        }
        let wof = reparse_tag == Some(IO_REPARSE_TAG_WOF) || data.contains_key("WofCompressedData");
        let cluster = u64::from(self.ntfs.cluster_size());
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
            let data = if encrypted {
                Err(StreamProblem::Skip(SkipReason::Encrypted))
            } else if wof && (stream_name.is_none() || name == "WofCompressedData") {
                Err(StreamProblem::Skip(SkipReason::WofCompressed))
            } else if reparse_tag == Some(IO_REPARSE_TAG_DEDUP) && stream_name.is_none() {
                Err(StreamProblem::Skip(SkipReason::UnsupportedCompression))
            } else {
                built
            };
            streams.push(StreamDesc {
                name: stream_name,
                size,
                data,
            });
        }
        Ok(FileFacts { modified, streams })
    }
}

/// Checks the directory's `$I30` index record size before the crate allocates by it.
fn check_index_record_size(dir: &NtfsFile<'_>) -> Result<(), String> {
    for attr in dir.attributes_raw().take(MAX_ATTRIBUTES) {
        let Ok(attr) = attr else { continue };
        if attr.ty().ok() != Some(NtfsAttributeType::IndexRoot) {
            continue;
        }
        if let Ok(root) = attr.resident_structured_value::<NtfsIndexRoot>() {
            let size = root.index_record_size();
            if size == 0 || size > MAX_INDEX_RECORD {
                return Err(format!("implausible index record size {size}"));
            }
        }
    }
    Ok(())
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
fn read_record(
    dev: &Device,
    split: Option<&SplitRecords>,
    file: &NtfsFile<'_>,
    record_size: u32,
) -> Result<Vec<u8>, String> {
    let pos = file
        .position()
        .value()
        .map(|p| p.get())
        .ok_or("record without position")?;
    let size = usize::try_from(record_size)
        .map_err(|_| "record size")?
        .min(64 * 1024);
    let mut rec = vec![0u8; size];
    match split.and_then(|sp| sp.starts.get(&pos).map(|&off| (sp, off))) {
        Some((sp, offset)) if sp.record == size as u64 => read_span(dev, &sp.mft, offset, &mut rec),
        _ => dev.read_exact_at(pos, &mut rec),
    }
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

/// `Read + Seek` for the crate over the cached volume, failing once `left` bytes were read:
/// a looping index or attribute list runs out of budget instead of running forever.
/// It also serves the file records that straddle two `$MFT` fragments (see [`SplitRecords`]).
struct Budget {
    inner: ReadSeekAdapter,
    dev: Device,
    pos: u64,
    left: u64,
    split: Option<Arc<SplitRecords>>,
}

impl Budget {
    fn new(dev: &Device, budget: u64, split: Option<Arc<SplitRecords>>) -> Self {
        Self {
            inner: ReadSeekAdapter::new(dev.clone()),
            dev: dev.clone(),
            pos: 0,
            left: budget,
            split,
        }
    }
}

impl Read for Budget {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(
                "read budget exhausted (corrupt or looping metadata)",
            ));
        }
        if let Some(split) = &self.split {
            if buf.len() as u64 == split.record {
                if let Some(&offset) = split.starts.get(&self.pos) {
                    read_span(&self.dev, &split.mft, offset, buf)?;
                    self.left -= buf.len() as u64;
                    self.pos = self.inner.seek(SeekFrom::Current(buf.len() as i64))?;
                    return Ok(buf.len());
                }
            }
        }
        let n = self.inner.read(buf)?;
        self.left -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Budget {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(pos)?;
        Ok(self.pos)
    }
}

/// Fills `buf` with the bytes of a non-compressed stream from `offset` (holes as zeros).
fn read_span(dev: &Device, nr: &NonResident, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let pos = offset + done as u64;
        let vcn = pos / nr.cluster;
        let run = nr.run_at(vcn).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no data run maps cluster {vcn}"),
            )
        })?;
        let off = pos - run.vcn * nr.cluster;
        let avail = run.clusters.saturating_mul(nr.cluster).saturating_sub(off);
        let n = usize::try_from(avail.min((buf.len() - done) as u64)).unwrap_or(0);
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty data run"));
        }
        let dst = &mut buf[done..done + n];
        match run.lcn_pos {
            None => dst.fill(0),
            Some(lcn) => dev.read_exact_at(lcn.saturating_add(off), dst)?,
        }
        done += n;
    }
    Ok(())
}

/// Streams the logical bytes of one data stream: holes and the tail past `initialized_size`
/// read as zeros, compressed units are decompressed. Memory: one compression unit at most.
struct StreamReader {
    dev: Device,
    data: StreamData,
    pos: u64,
    /// Decoded compression unit: (unit index, bytes).
    unit_buf: Option<(u64, Vec<u8>)>,
}

impl StreamReader {
    fn new(dev: Device, data: StreamData) -> Self {
        Self {
            dev,
            data,
            pos: 0,
            unit_buf: None,
        }
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let nr = match &self.data {
            StreamData::Resident(bytes) => {
                let mut c = Cursor::new(bytes.as_slice());
                c.set_position(self.pos);
                let n = c.read(buf)?;
                self.pos += n as u64;
                return Ok(n);
            }
            StreamData::NonResident(nr) => nr.clone_meta(),
        };
        if self.pos >= nr.data_size {
            return Ok(0);
        }
        let want =
            usize::try_from((nr.data_size - self.pos).min(buf.len() as u64)).unwrap_or(buf.len());
        let buf = &mut buf[..want];
        if self.pos >= nr.init_size {
            buf.fill(0);
            self.pos += want as u64;
            return Ok(want);
        }
        let upto_init = usize::try_from((nr.init_size - self.pos).min(want as u64)).unwrap_or(want);
        let buf = &mut buf[..upto_init];
        let n = match nr.unit {
            None => self.read_plain(buf)?,
            Some(unit) => self.read_compressed(buf, unit)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// The scalar fields of a non-resident stream (cheap to copy out of `self`).
struct Meta {
    data_size: u64,
    init_size: u64,
    unit: Option<u64>,
}

impl NonResident {
    fn clone_meta(&self) -> Meta {
        Meta {
            data_size: self.data_size,
            init_size: self.init_size,
            unit: self.unit,
        }
    }

    /// The run holding `vcn`, if any.
    fn run_at(&self, vcn: u64) -> Option<&Run> {
        let i = self
            .runs
            .partition_point(|r| r.vcn.saturating_add(r.clusters) <= vcn);
        self.runs.get(i).filter(|r| r.vcn <= vcn)
    }
}

impl StreamReader {
    fn nonresident(&self) -> &NonResident {
        match &self.data {
            StreamData::NonResident(nr) => nr,
            StreamData::Resident(_) => unreachable!("only called for non-resident streams"),
        }
    }

    /// Reads from the run under `self.pos` (at most to its end).
    fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let nr = self.nonresident();
        let vcn = self.pos / nr.cluster;
        let run = nr.run_at(vcn).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no data run maps cluster {vcn}"),
            )
        })?;
        let off = self.pos - run.vcn * nr.cluster;
        let avail = run.clusters.saturating_mul(nr.cluster).saturating_sub(off);
        let n = usize::try_from(avail.min(buf.len() as u64)).unwrap_or(buf.len());
        match run.lcn_pos {
            None => buf[..n].fill(0),
            Some(lcn) => {
                let at = lcn.checked_add(off).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "data run position overflows")
                })?;
                self.dev.read_exact_at(at, &mut buf[..n])?;
            }
        }
        Ok(n)
    }

    fn read_compressed(&mut self, buf: &mut [u8], unit: u64) -> io::Result<usize> {
        let index = self.pos / unit;
        if self.unit_buf.as_ref().map(|(i, _)| *i) != Some(index) {
            let bytes = self.load_unit(index, unit)?;
            self.unit_buf = Some((index, bytes));
        }
        let Some((_, bytes)) = &self.unit_buf else {
            return Ok(0);
        };
        let off = usize::try_from(self.pos - index * unit).unwrap_or(0);
        let n = buf.len().min(bytes.len().saturating_sub(off));
        buf[..n].copy_from_slice(&bytes[off..off + n]);
        Ok(n)
    }

    /// Decodes compression unit `index`: all clusters allocated = stored as is; some
    /// allocated then sparse = LZNT1; all sparse (or unmapped) = zeros.
    fn load_unit(&self, index: u64, unit: u64) -> io::Result<Vec<u8>> {
        let nr = self.nonresident();
        let per_unit = unit / nr.cluster;
        let first = index.saturating_mul(per_unit);
        let unit_len = usize::try_from(unit).map_err(|_| io::Error::other("unit too large"))?;
        if nr.run_at(first).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no data run maps cluster {first}"),
            ));
        }
        let mut out = vec![0u8; unit_len];
        // Allocated pieces of the unit, in VCN order: (volume byte position, bytes).
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut allocated = 0u64;
        let mut vcn = first;
        let last = first.saturating_add(per_unit);
        while vcn < last {
            let Some(run) = nr.run_at(vcn) else { break };
            let take = run.vcn.saturating_add(run.clusters).min(last) - vcn;
            if let Some(lcn) = run.lcn_pos {
                let start = lcn
                    .checked_add((vcn - run.vcn).saturating_mul(nr.cluster))
                    .ok_or_else(|| io::Error::other("data run position overflows"))?;
                pieces.push((start, take * nr.cluster));
                allocated += take;
            }
            vcn += take;
        }
        if allocated == 0 {
            return Ok(out);
        }
        let mut raw = Vec::with_capacity(usize::try_from(allocated * nr.cluster).unwrap_or(0));
        for (start, len) in pieces {
            let old = raw.len();
            raw.resize(old + usize::try_from(len).unwrap_or(0), 0);
            self.dev.read_exact_at(start, &mut raw[old..])?;
        }
        if allocated >= per_unit {
            out.copy_from_slice(&raw[..unit_len]);
        } else {
            lznt1::decompress(&raw, &mut out)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            // Bytes past the decoded length stay zero (`out` started zeroed).
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{FileDevice, MemDevice};
    use crate::testutil::{hex, oracle, sha256_file};
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::OnceLock;

    /// The EICAR test string, assembled at run time.
    const EICAR: &str = concat!(
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS",
        "-TEST-FILE!$H+H*"
    );

    /// What a walk returned for one (path, stream).
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Got {
        Data { size: u64, sha: String, len: u64 },
        Skipped(SkipReason),
        Error(String),
    }

    fn walk_all(dev: Device) -> (VolumeInfo, BTreeMap<(String, Option<String>), Got>) {
        let mut w = open(dev).expect("open ntfs");
        let info = w.info();
        let mut out = BTreeMap::new();
        let mut visit = |meta: &FileMeta, content: Content<'_>| {
            let got = match content {
                Content::Data(r) => {
                    let mut h = Sha256::new();
                    let mut buf = vec![0u8; 1 << 16];
                    let mut len = 0u64;
                    loop {
                        match r.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                h.update(&buf[..n]);
                                len += n as u64;
                            }
                            Err(e) => {
                                out.insert(
                                    (meta.path.clone(), meta.stream.clone()),
                                    Got::Error(e.to_string()),
                                );
                                return ControlFlow::Continue(());
                            }
                        }
                    }
                    Got::Data {
                        size: meta.size,
                        sha: hex(&h.finalize()),
                        len,
                    }
                }
                Content::Skipped(r) => Got::Skipped(r),
                Content::Error(e) => Got::Error(e),
            };
            let prev = out.insert((meta.path.clone(), meta.stream.clone()), got);
            assert!(
                prev.is_none(),
                "visited twice: {} {:?}",
                meta.path,
                meta.stream
            );
            ControlFlow::Continue(())
        };
        assert_eq!(w.walk(&mut visit).expect("walk"), WalkEnd::Complete);
        (info, out)
    }

    fn file_dev(path: &Path) -> Device {
        Arc::new(FileDevice::open(path).expect("open image"))
    }

    fn features_image() -> PathBuf {
        static IMG: OnceLock<PathBuf> = OnceLock::new();
        IMG.get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let img = root.join(".cache/images/ntfs-features.img");
            let st = Command::new("bash")
                .arg(root.join("scripts/testimg/ntfs.sh"))
                .arg(&img)
                .status()
                .expect("run scripts/testimg/ntfs.sh");
            assert!(st.success(), "scripts/testimg/ntfs.sh failed");
            img
        })
        .clone()
    }

    fn sha_bytes(b: &[u8]) -> String {
        hex(&Sha256::digest(b))
    }

    /// Read-only ntfs-3g mount, unmounted on drop.
    struct Mount(tempfile::TempDir);

    impl Mount {
        fn new(img: &Path) -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let st = Command::new("ntfs-3g")
                .arg("-o")
                .arg("ro,streams_interface=windows")
                .arg(img)
                .arg(dir.path())
                .status()
                .expect("run ntfs-3g");
            assert!(st.success(), "ntfs-3g mount failed");
            Self(dir)
        }
    }

    impl Drop for Mount {
        fn drop(&mut self) {
            for _ in 0..20 {
                let ok = Command::new("fusermount")
                    .arg("-u")
                    .arg(self.0.path())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }

    fn stream_names(p: &Path) -> Vec<String> {
        let out = Command::new("getfattr")
            .args(["--only-values", "-n", "ntfs.streams.list"])
            .arg(p)
            .output()
            .expect("run getfattr (package attr)");
        if !out.status.success() {
            return Vec::new();
        }
        out.stdout
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    /// Everything ntfs-3g shows: (path, stream) -> sha256, and inode -> paths.
    #[allow(clippy::type_complexity)]
    fn oracle_walk(
        root: &Path,
    ) -> (
        BTreeMap<(String, Option<String>), String>,
        BTreeMap<u64, Vec<String>>,
    ) {
        use std::os::unix::fs::MetadataExt;
        let mut streams = BTreeMap::new();
        let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        let mut stack = vec![(root.to_path_buf(), "/".to_string())];
        while let Some((dir, vpath)) = stack.pop() {
            for name in stream_names(&dir) {
                let bytes = std::fs::read(format!("{}:{name}", dir.display())).expect("read ads");
                streams.insert((vpath.clone(), Some(name)), sha_bytes(&bytes));
            }
            for e in std::fs::read_dir(&dir).expect("read_dir") {
                let e = e.expect("dir entry");
                let name = e.file_name().to_string_lossy().into_owned();
                let p = e.path();
                let md = std::fs::symlink_metadata(&p).expect("stat");
                let v = join_path(&vpath, &name);
                if md.is_dir() {
                    stack.push((p, v));
                } else if md.is_file() {
                    inodes.entry(md.ino()).or_default().push(v.clone());
                    streams.insert((v.clone(), None), sha256_file(&p));
                    for s in stream_names(&p) {
                        let bytes =
                            std::fs::read(format!("{}:{s}", p.display())).expect("read ads");
                        streams.insert((v.clone(), Some(s)), sha_bytes(&bytes));
                    }
                }
            }
        }
        (streams, inodes)
    }

    #[test]
    fn features_image_matches_ntfs3g() {
        let img = features_image();
        let before = sha256_file(&img);
        let (info, mut got) = walk_all(file_dev(&img));
        // WOF: skipped, both the placeholder and its WofCompressedData stream. A Windows
        // symlink is not reported at all. (ntfs-3g shows both as unsupported reparse points.)
        for stream in [None, Some("WofCompressedData".to_string())] {
            let k = ("/wof/wof.txt".to_string(), stream);
            assert_eq!(
                got.remove(&k),
                Some(Got::Skipped(SkipReason::WofCompressed)),
                "{k:?}"
            );
        }
        assert!(
            !got.keys().any(|k| k.0 == "/wof/winlink"),
            "symlink reported"
        );
        let (mut want, inodes) = {
            let m = Mount::new(&img);
            oracle_walk(m.0.path())
        };
        assert_eq!(sha256_file(&img), before, "the image changed");

        assert_eq!(info.label.as_deref(), Some("vigie-ntfs"));
        assert!(
            info.notes.iter().any(|n| n.contains("hibernated")),
            "{info:?}"
        );
        assert!(info.degraded);

        // Hard links: the walker reports one of the names, the oracle has them all.
        for paths in inodes.values().filter(|p| p.len() > 1) {
            let reported: Vec<_> = paths
                .iter()
                .filter(|p| got.contains_key(&((*p).clone(), None)))
                .collect();
            assert_eq!(
                reported.len(),
                1,
                "hard link group {paths:?} reported as {reported:?}"
            );
            for p in paths {
                if p != reported[0] {
                    let keys: Vec<_> = want.keys().filter(|k| &k.0 == p).cloned().collect();
                    for k in keys {
                        want.remove(&k);
                    }
                }
            }
        }

        let got_keys: Vec<_> = got.keys().cloned().collect();
        let want_keys: Vec<_> = want.keys().cloned().collect();
        assert_eq!(got_keys, want_keys, "listing differs from ntfs-3g");
        let mut streams = 0;
        for (k, sha) in &want {
            match &got[k] {
                Got::Data { sha: g, size, len } => {
                    assert_eq!(g, sha, "content of {k:?}");
                    assert_eq!(size, len, "size of {k:?}");
                }
                other => panic!("{k:?}: {other:?}"),
            }
            if k.1.is_some() {
                streams += 1;
            }
        }
        assert!(
            got.len() > 600 && streams >= 5,
            "{} entries, {streams} streams",
            got.len()
        );
        eprintln!(
            "compared {} files+streams ({streams} named streams) with ntfs-3g",
            got.len()
        );

        // Spot checks on the traps this image exercises.
        let key = |p: &str| (p.to_string(), None);
        let Got::Data { size, .. } = &got[&key("/prealloc.bin")] else {
            panic!()
        };
        assert_eq!(*size, 1 << 20);
        let Got::Data { size, .. } = &got[&key("/sparse/hole.bin")] else {
            panic!()
        };
        assert_eq!(*size, 40 * 1024 * 1024 + 14);
        assert!(got.contains_key(&("/ads".to_string(), Some("dirstream".to_string()))));
        assert!(got.contains_key(&key("/unicode/😀 emoji.txt")));
        assert!(
            !got.keys().any(|(p, _)| p.starts_with("/$")),
            "metadata file reported"
        );
    }

    #[test]
    fn compressed_eicar_is_returned_decompressed() {
        let img = features_image();
        let raw = std::fs::read(&img).expect("read image");
        let needle = EICAR.as_bytes();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "the EICAR string is stored in clear: the file is not compressed"
        );
        let mut w = open(Arc::new(MemDevice::new(raw))).expect("open");
        let mut found = None;
        let mut visit = |meta: &FileMeta, content: Content<'_>| {
            if meta.path == "/comp/eicar-across-units.txt" && meta.stream.is_none() {
                if let Content::Data(r) = content {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).expect("read");
                    found = Some(v);
                }
            }
            ControlFlow::Continue(())
        };
        w.walk(&mut visit).expect("walk");
        let data = found.expect("file visited with data");
        let at = data
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("EICAR present");
        assert_eq!(
            at,
            65536 - 30,
            "EICAR straddles the first 64 KiB unit boundary"
        );
    }

    #[test]
    fn dirty_flag_and_efs_flag_are_reported() {
        let img = features_image();
        let mut raw = std::fs::read(&img).expect("read image");
        // Locate $Volume's $VOLUME_INFORMATION and /small.txt's $DATA with the crate, patch
        // copies in memory: dirty flag, and the ENCRYPTED attribute flag.
        let dev: Device = Arc::new(MemDevice::new(raw.clone()));
        let w = open(dev.clone()).expect("open");
        let mut fs = w.fs(u64::MAX);
        let vol = w.ntfs.file(&mut fs, 3).expect("$Volume");
        let mut patches = Vec::new();
        for a in vol.attributes_raw() {
            let a = a.expect("attr");
            if a.ty().ok() == Some(NtfsAttributeType::VolumeInformation) {
                // Resident value offset at +0x14 of the attribute header; flags at +10.
                let pos = a.position().value().expect("pos").get();
                let p = usize::try_from(pos).unwrap();
                let value_offset = u64::from(u16::from_le_bytes([raw[p + 0x14], raw[p + 0x15]]));
                patches.push((pos + value_offset + 10, 0x01u8)); // IS_DIRTY
            }
        }
        let root = w.ntfs.root_directory(&mut fs).expect("root");
        let index = root.directory_index(&mut fs).expect("index");
        let mut finder = index.finder();
        let entry =
            ntfs::indexes::NtfsFileNameIndex::find(&mut finder, &w.ntfs, &mut fs, "small.txt")
                .expect("small.txt")
                .expect("entry");
        let file = entry.to_file(&w.ntfs, &mut fs).expect("file");
        for a in file.attributes_raw() {
            let a = a.expect("attr");
            if a.ty().ok() == Some(NtfsAttributeType::Data) {
                let pos = a.position().value().expect("pos").get();
                patches.push((pos + 0x0D, 0x40u8)); // attribute flags high byte: ENCRYPTED
            }
        }
        assert_eq!(patches.len(), 2);
        for (pos, v) in patches {
            raw[usize::try_from(pos).unwrap()] |= v;
        }
        let (info, got) = walk_all(Arc::new(MemDevice::new(raw)));
        assert!(info.degraded);
        assert!(info.notes.iter().any(|n| n.contains("dirty")), "{info:?}");
        assert_eq!(
            got[&("/small.txt".to_string(), None)],
            Got::Skipped(SkipReason::Encrypted)
        );
    }

    #[test]
    fn testfs1_matches_manifest() {
        let img = oracle("ntfs-crate/testfs1.zst");
        let before = sha256_file(&img);
        let (info, got) = walk_all(file_dev(&img));
        assert_eq!(sha256_file(&img), before);
        assert_eq!(info.label.as_deref(), Some("mylabel"));
        let manifest = std::fs::read_to_string(
            crate::testutil::oracles_dir().join("ntfs-crate/testfs1.manifest.tsv"),
        )
        .expect("manifest");
        let mut want = BTreeMap::new();
        for line in manifest.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split('\t').collect();
            want.insert(
                (f[4].to_string(), None),
                (f[1].parse::<u64>().unwrap(), f[3].to_string()),
            );
        }
        // testfs1 has 512-byte clusters and 1 KiB records, and its $MFT is fragmented between
        // the two clusters of some records: the crate alone fails those (update-sequence
        // check); SplitRecords serves them, so every subdirectory is read and nothing is lost.
        assert!(!info.degraded, "{info:?}");
        assert!(!got.values().any(|g| matches!(g, Got::Error(_))), "{got:?}");
        assert_eq!(
            got.keys().cloned().collect::<Vec<_>>(),
            want.keys().cloned().collect::<Vec<_>>()
        );
        for (k, (size, sha)) in &want {
            assert_eq!(
                got[k],
                Got::Data {
                    size: *size,
                    sha: sha.clone(),
                    len: *size
                },
                "{k:?}"
            );
        }
        // 2021-01-01 12:37:00 UTC, as EXPECTED.md states.
        let mut w = open(file_dev(&img)).expect("open");
        let mut mtime = None;
        let mut visit = |meta: &FileMeta, _c: Content<'_>| {
            if meta.path == "/empty-file" {
                mtime = meta.modified;
            }
            ControlFlow::Continue(())
        };
        w.walk(&mut visit).expect("walk");
        assert_eq!(mtime, Some(1_609_504_620));
    }

    #[test]
    fn mft_with_attribute_list_is_noted_and_never_misread() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let img = root.join(".cache/images/ntfs-mftlist.img");
        let st = Command::new("bash")
            .arg(root.join("scripts/testimg/ntfs.sh"))
            .arg(&img)
            .arg("mftlist")
            .status()
            .expect("run scripts/testimg/ntfs.sh");
        assert!(st.success());
        let before = sha256_file(&img);
        let (info, got) = walk_all(file_dev(&img));
        assert_eq!(sha256_file(&img), before);
        assert!(info.degraded, "{info:?}");
        assert!(
            info.notes.iter().any(|n| n.contains("attribute list")),
            "{info:?}"
        );
        // ntfs-3g's view: every file of /d with its content hash.
        let want: BTreeMap<String, String> = {
            let m = Mount::new(&img);
            std::fs::read_dir(m.0.path().join("d"))
                .expect("read_dir")
                .map(|e| {
                    let e = e.expect("entry");
                    let name = e.file_name().to_string_lossy().into_owned();
                    (format!("/d/{name}"), sha256_file(&e.path()))
                })
                .collect()
        };
        // Records past the first $MFT extent are unreachable through the crate (bug #32):
        // each must be an error for its path, never wrong bytes, never silently missing.
        let (mut read, mut errors) = (0, 0);
        if let Some(Got::Error(e)) = got.get(&("/d".to_string(), None)) {
            // The directory's own $INDEX_ALLOCATION is split by an attribute list too, and
            // the crate cannot follow it: the whole directory is one reported error.
            eprintln!("/d unreadable: {e}");
            assert!(!got.keys().any(|k| k.0.starts_with("/d/")));
            return;
        }
        for (path, sha) in &want {
            match got.get(&(path.clone(), None)) {
                Some(Got::Data { sha: g, .. }) => {
                    assert_eq!(g, sha, "{path}");
                    read += 1;
                }
                Some(Got::Error(_)) => errors += 1,
                other => panic!("{path}: {other:?}"),
            }
        }
        assert_eq!(
            got.keys().filter(|k| k.0.starts_with("/d/")).count(),
            want.len()
        );
        eprintln!("$MFT with attribute list: {read} files read, {errors} unreachable (bug #32)");
        assert!(read > 0);
    }

    /// Unzips a DFTT image once into the test cache.
    fn dftt_image(zip: &str, member: &str) -> PathBuf {
        let dst = crate::testutil::cache_dir().join("dftt").join(member);
        if !dst.exists() {
            let dir = crate::testutil::cache_dir().join("dftt");
            let st = Command::new("unzip")
                .args(["-o", "-q"])
                .arg(crate::testutil::oracles_dir().join("dftt").join(zip))
                .arg(member)
                .arg("-d")
                .arg(&dir)
                .status()
                .expect("run unzip");
            assert!(st.success(), "unzip {zip}");
        }
        dst
    }

    fn md5_of(bytes: &[u8]) -> String {
        use std::io::Write;
        let mut child = Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("md5sum");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write");
        let out = child.wait_with_output().expect("md5sum output");
        String::from_utf8_lossy(&out.stdout)[..32].to_string()
    }

    /// Allocated files of a DFTT image as TSK lists them: path -> (size, sha256).
    fn tsk_alloc(tsv: &str) -> BTreeMap<(String, Option<String>), (u64, String)> {
        let text = std::fs::read_to_string(crate::testutil::oracles_dir().join("dftt").join(tsv))
            .expect("alloc.tsv");
        text.lines()
            .filter(|l| l.starts_with("f\t"))
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    (f[4].to_string(), None),
                    (f[1].parse().unwrap(), f[3].to_string()),
                )
            })
            .collect()
    }

    fn data_only(
        got: &BTreeMap<(String, Option<String>), Got>,
    ) -> BTreeMap<(String, Option<String>), (u64, String)> {
        got.iter()
            .filter(|(k, _)| k.1.is_none())
            .map(|(k, g)| match g {
                Got::Data { size, sha, len } => {
                    assert_eq!(size, len, "{k:?}");
                    (k.clone(), (*size, sha.clone()))
                }
                other => panic!("{k:?}: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn dftt_jpeg_search_matches_tsk_including_ads() {
        let img = dftt_image("8-jpeg-search.zip", "8-jpeg-search/8-jpeg-search.dd");
        let before = sha256_file(&img);
        let (_info, got) = walk_all(file_dev(&img));
        assert_eq!(sha256_file(&img), before);
        assert_eq!(
            data_only(&got),
            tsk_alloc("8-jpeg-search/8-jpeg-search.alloc.tsv")
        );
        // The alternate data stream misc\file13.dll:here (EXPECTED.md: icat 44-128-5).
        let ads = ("/misc/file13.dll".to_string(), Some("here".to_string()));
        assert!(
            matches!(got.get(&ads), Some(Got::Data { .. })),
            "{:?}",
            got.get(&ads)
        );
        let mut w = open(file_dev(&img)).expect("open");
        let mut bytes = None;
        let mut visit = |m: &FileMeta, c: Content<'_>| {
            if (m.path.as_str(), m.stream.as_deref()) == ("/misc/file13.dll", Some("here")) {
                if let Content::Data(r) = c {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).expect("read ads");
                    bytes = Some(v);
                }
            }
            ControlFlow::Continue(())
        };
        w.walk(&mut visit).expect("walk");
        assert_eq!(
            md5_of(&bytes.expect("ads bytes")),
            "9b787e63e3b64562730c5aecaab1e1f8"
        );
    }

    #[test]
    fn dftt_undeleted_ntfs_lists_only_allocated_files() {
        let img = dftt_image("7-undel-ntfs.zip", "7-undel-ntfs/7-ntfs-undel.dd");
        let (_info, got) = walk_all(file_dev(&img));
        // Deleted files (res1.dat, mult1.dat, frag1.dat, ...) are not in any index: only the
        // allocated tracking.log is reported.
        assert_eq!(
            data_only(&got),
            tsk_alloc("7-undel-ntfs/7-ntfs-undel.alloc.tsv")
        );
    }

    /// Converts a dfvfs qcow2 image to raw once, into the test cache.
    fn dfvfs_raw(qcow2: &str) -> PathBuf {
        let dir = crate::testutil::cache_dir().join("dfvfs");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let dst = dir.join(format!("{qcow2}.raw"));
        if !dst.exists() {
            let tmp = dir.join(format!("{qcow2}.raw.tmp{}", std::process::id()));
            let st = Command::new("qemu-img")
                .args(["convert", "-O", "raw"])
                .arg(crate::testutil::oracles_dir().join("dfvfs").join(qcow2))
                .arg(&tmp)
                .status()
                .expect("run qemu-img");
            assert!(st.success(), "qemu-img convert {qcow2}");
            std::fs::rename(&tmp, &dst).expect("rename");
        }
        dst
    }

    fn dfvfs_alloc(tsv: &str) -> BTreeMap<(String, Option<String>), (u64, String)> {
        let text = std::fs::read_to_string(crate::testutil::oracles_dir().join("dfvfs").join(tsv))
            .expect("alloc.tsv");
        text.lines()
            .filter(|l| l.starts_with("f\t"))
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    (f[4].to_string(), None),
                    (f[1].parse().unwrap(), f[3].to_string()),
                )
            })
            // $Extend (record 11) and everything below it is NTFS metadata: not reported.
            .filter(|((p, _), _)| !p.starts_with("/$Extend"))
            .collect()
    }

    #[test]
    fn dfvfs_windows_volumes_match_tsk() {
        for (qcow2, tsv) in [
            ("windows_volume.qcow2", "windows_volume.alloc.tsv"),
            ("vsstest.qcow2@0c5f1331.qcow2", "vsstest.alloc.tsv"),
        ] {
            let img = dfvfs_raw(qcow2);
            let (_info, got) = walk_all(file_dev(&img));
            let named: Vec<_> = got.keys().filter(|k| k.1.is_some()).collect();
            assert!(named.is_empty(), "{qcow2}: unexpected streams {named:?}");
            assert_eq!(data_only(&got), dfvfs_alloc(tsv), "{qcow2}");
        }
    }

    /// Walks `mutations` corrupted copies of `img` (bit flips, three in four inside
    /// `region`), reading every stream (up to 256 MiB each: the engine's size limit does that
    /// job in production). Returns (images opened, visits, errors reported).
    fn mutate_and_walk(
        img: &[u8],
        region: std::ops::Range<usize>,
        mutations: usize,
        mut x: u64,
    ) -> (usize, usize, usize) {
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let (mut opened, mut visited, mut errors) = (0, 0, 0);
        for _ in 0..mutations {
            let mut m = img.to_vec();
            let flips = 1 + next() % 64;
            for _ in 0..flips {
                // Three flips in four land in the region (records, attribute headers, data
                // runs, index roots); the rest anywhere (boot sector, indexes, $UpCase, data).
                let r = next();
                let pos = if r % 4 == 0 || region.is_empty() {
                    (r >> 8) as usize % m.len()
                } else {
                    (region.start + (r >> 8) as usize % region.len()).min(m.len() - 1)
                };
                m[pos] ^= 1 << (next() % 8);
            }
            let t = std::time::Instant::now();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let Ok(mut w) = open(Arc::new(MemDevice::new(m))) else {
                    return None;
                };
                let _ = w.info();
                let (mut n, mut e) = (0usize, 0usize);
                let mut visit = |_m: &FileMeta, c: Content<'_>| {
                    n += 1;
                    match c {
                        Content::Data(r) => {
                            let mut buf = vec![0u8; 1 << 16];
                            let mut total = 0u64;
                            loop {
                                match r.read(&mut buf) {
                                    Ok(0) => break,
                                    Ok(k) => total += k as u64,
                                    Err(_) => {
                                        e += 1;
                                        break;
                                    }
                                }
                                if total > 256 << 20 {
                                    break;
                                }
                            }
                        }
                        Content::Error(_) => e += 1,
                        Content::Skipped(_) => {}
                    }
                    ControlFlow::Continue(())
                };
                let _ = w.walk(&mut visit);
                Some((n, e))
            }));
            let Ok(r) = r else {
                let _ = std::panic::take_hook();
                panic!("a panic escaped the walker");
            };
            if let Some((n, e)) = r {
                opened += 1;
                visited += n;
                errors += e;
            }
            assert!(t.elapsed().as_secs() < 60, "one walk took too long");
        }
        std::panic::set_hook(prev);
        (opened, visited, errors)
    }

    #[test]
    fn hostile_mutations_of_testfs1_never_escape() {
        let img = std::fs::read(oracle("ntfs-crate/testfs1.zst")).expect("read");
        let mft = {
            let w = open(Arc::new(MemDevice::new(img.clone()))).expect("open");
            usize::try_from(w.ntfs.mft_position().value().expect("mft").get()).unwrap()
        };
        // 512 subdirectories + the files and metafiles: about 540 records of 1 KiB.
        let start = std::time::Instant::now();
        let (opened, visits, errors) =
            mutate_and_walk(&img, mft..mft + 540 * 1024, 300, 0x2545_F491_4F6C_DD1D);
        eprintln!(
            "testfs1: 300 mutated images, {opened} opened, {visits} visits, {errors} errors, {:?}",
            start.elapsed()
        );
        assert!(opened > 0 && errors > 0);
    }

    #[test]
    fn hostile_mutations_of_feature_image_never_escape() {
        // Compressed, sparse, preallocated, ADS, hard links, index allocation: corrupt them.
        let img = std::fs::read(features_image()).expect("read");
        let mft = {
            let w = open(Arc::new(MemDevice::new(img.clone()))).expect("open");
            usize::try_from(w.ntfs.mft_position().value().expect("mft").get()).unwrap()
        };
        let start = std::time::Instant::now();
        let (opened, visits, errors) =
            mutate_and_walk(&img, mft..mft + 800 * 1024, 40, 0x9E37_79B9_7F4A_7C15);
        eprintln!(
            "features: 40 mutated images, {opened} opened, {visits} visits, {errors} errors, {:?}",
            start.elapsed()
        );
        assert!(opened > 0 && errors > 0);
    }
}
