//! The scan coordinator: disks -> partition table -> volumes -> walkers -> workers -> records.
//!
//! One coordinating thread (the caller's) opens each disk, reads its table, detects each volume,
//! walks it and reads file contents; worker threads run the rules. Only the coordinator talks
//! to the sink, so records come out in a fixed order per disk: the disk record, then for each
//! volume its findings and its volume record, and one summary at the very end.
//!
//! Memory stays bounded whatever the disk says: contents in flight (read, queued or being
//! scanned) never exceed a byte budget, and files larger than the full-scan limit are streamed
//! through yara-x's block scanner in overlapping blocks instead of being loaded whole.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::iocs::HashIocs;
use super::rules::{hex, RuleSet};
use super::worker::{self, Done, Job, Outcome, RuleHit};
use crate::disk::table::{read_partition_table, Partition, PartitionType};
use crate::fs::{guard, Content, FileMeta, FsError, SkipReason, VolumeInfo, WalkEnd, Walker};
use crate::io::{Device, FileDevice, ReadAt, ReadSeekAdapter, Slice};
use crate::record::{
    DiskRecord, FindingKind, FindingRecord, FsKind, Record, SummaryRecord, TableKind, Verdict,
    VolumeRecord, VolumeStatus,
};
use crate::sink::{Progress, Sink};

mod members;
mod quick;

/// Size of the disk-level boot area scanned as `<mbr>`.
const BOOT_AREA: u64 = 1024 * 1024;
/// Size of a volume's boot area scanned as `<boot sector>`.
const VOLUME_BOOT_AREA: u64 = 64 * 1024;
/// Unknown volumes up to this size are scanned whole as raw data (`<raw volume>`).
const RAW_VOLUME_LIMIT: u64 = 16 * 1024 * 1024;
/// Block size and overlap for oversize files in blocks mode.
const BLOCK: usize = 16 * 1024 * 1024;
const OVERLAP: usize = 64 * 1024;
/// Chunk size of content reads.
const READ_CHUNK: usize = 1024 * 1024;
/// Error messages kept as notes in a volume record (the count is always exact).
const MAX_ERROR_NOTES: usize = 20;
/// Buffers kept for reuse: enough for every worker's job in flight, and only small ones (a
/// kept 64 MiB buffer is resident memory for nothing; reuse matters for the many small files).
const POOL: usize = 8;
const POOL_BUFFER_MAX: usize = 4 * READ_CHUNK;

/// What the user can tune.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Rules file, directory or compiled set; `None` for the embedded defaults.
    pub rules: Option<PathBuf>,
    /// SHA-256 IOC lists.
    pub hashes: Vec<PathBuf>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Files up to this size are scanned whole, with modules; larger ones in blocks mode.
    pub max_file_size: u64,
    /// Count files above `max_file_size` as skipped (`too_large`) instead of streaming them.
    pub skip_larger: bool,
    /// Per-file time limit for the rules (yara-x has a 1-second granularity).
    pub timeout: Duration,
    /// Also scan the first MiB of each disk and the boot area of each volume.
    pub boot_areas: bool,
    /// Looking inside files (archives, images, mail): bounds, or disabled.
    pub containers: crate::container::Limits,
    /// Quick scan (issue 14, `scan::quick`): boot areas, autostart targets, risky content in
    /// the high-risk areas only.
    pub quick: bool,
    /// Volumes not read again (disk, partition number, offset, size): a resumed scan's
    /// finished volumes, whose records come from the checkpoint (issue 14, `init::resume`).
    pub skip_volumes: std::collections::BTreeSet<(String, u32, u64, u64)>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            rules: None,
            hashes: Vec::new(),
            threads: 0,
            max_file_size: 64 * 1024 * 1024,
            skip_larger: false,
            timeout: Duration::from_secs(60),
            boot_areas: true,
            containers: crate::container::Limits::default(),
            quick: super::quick::default_quick(),
            skip_volumes: Default::default(),
        }
    }
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Rules failed to load.
    #[error(transparent)]
    Rules(#[from] super::rules::RulesError),
    /// A hash list failed to load.
    #[error(transparent)]
    Iocs(#[from] super::iocs::IocError),
}

/// A disk to scan.
pub struct Target {
    /// Name used in records (the path as given).
    pub name: String,
    /// Read-only access to its bytes.
    pub device: Device,
    /// Logical sector size when known (block devices).
    pub sector_size: Option<u32>,
}

impl Target {
    /// Opens an image file or a block device read-only (`BLKROSET` on block devices).
    pub fn open(path: &Path) -> io::Result<Self> {
        let dev = FileDevice::open(path)?;
        let sector_size = dev.is_block_device().then(|| dev.sector_size());
        Ok(Self {
            name: path.display().to_string(),
            device: Arc::new(dev),
            sector_size,
        })
    }
}

/// Compiled rules, indicators and options: build once, scan many disks.
pub struct Engine {
    rules: RuleSet,
    iocs: HashIocs,
    opts: ScanOptions,
    /// Paths whose content is kept for the caller (see [`Engine::capture`]).
    capture: Vec<String>,
    capture_max: u64,
    captured: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
}

impl Engine {
    /// Full or quick scan from now on (the console UI asks after the rules are loaded).
    pub fn set_quick(&mut self, quick: bool) {
        self.opts.quick = quick;
    }

    /// Volumes not read again (a resumed scan's, issue 14; see `ScanOptions::skip_volumes`).
    pub fn set_skip_volumes(&mut self, skip: std::collections::BTreeSet<(String, u32, u64, u64)>) {
        self.opts.skip_volumes = skip;
    }

    /// Loads the rules and hash lists named in `opts`.
    pub fn new(opts: ScanOptions) -> Result<Self, EngineError> {
        let rules = match &opts.rules {
            Some(p) => RuleSet::load(p)?,
            None => RuleSet::defaults()?,
        };
        let mut iocs = rules.iocs.clone();
        for h in &opts.hashes {
            iocs.load_file(h)?;
        }
        Ok(Self::with(rules, iocs, opts))
    }

    /// Builds an engine from already loaded parts.
    pub fn with(rules: RuleSet, iocs: HashIocs, opts: ScanOptions) -> Self {
        Self {
            rules,
            iocs,
            opts,
            capture: Vec::new(),
            capture_max: 0,
            captured: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Keeps a copy of the content of files at these paths (case-insensitive, from the volume
    /// root, main stream only, at most `max` bytes each and 16 files) as they are scanned, for
    /// the caller (machine names for the host record). Take them with [`Engine::take_captured`].
    pub fn capture(&mut self, paths: &[&str], max: u64) {
        self.capture = paths.iter().map(|p| p.to_ascii_lowercase()).collect();
        self.capture_max = max;
    }

    /// The captured (path, content) pairs so far.
    pub fn take_captured(&self) -> Vec<(String, Vec<u8>)> {
        self.captured
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    fn keep_if_captured(&self, path: &str, stream: &Option<String>, data: &[u8]) {
        if self.capture.is_empty() || stream.is_some() || data.len() as u64 > self.capture_max {
            return;
        }
        let p = path.trim_start_matches('/').to_ascii_lowercase();
        if self.capture.contains(&p) {
            if let Ok(mut c) = self.captured.lock() {
                if c.len() < 16 {
                    c.push((path.to_string(), data.to_vec()));
                }
            }
        }
    }

    /// The rule set in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The hash indicators in use.
    pub fn iocs(&self) -> &HashIocs {
        &self.iocs
    }

    fn threads(&self) -> usize {
        if self.opts.threads > 0 {
            self.opts.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }

    /// Opens each path (image file or block device) and scans it. A path that cannot be
    /// opened gives a disk record with a note and makes the verdict incomplete.
    pub fn scan_paths(
        &self,
        paths: &[PathBuf],
        sink: &mut dyn Sink,
        cancel: &AtomicBool,
    ) -> SummaryRecord {
        let targets = paths
            .iter()
            .map(|p| Target::open(p).map_err(|e| (p.display().to_string(), e)))
            .collect();
        self.scan_targets(targets, sink, cancel)
    }

    /// Scans already opened targets (or reports the ones that failed to open).
    pub fn scan_targets(
        &self,
        targets: Vec<Result<Target, (String, io::Error)>>,
        sink: &mut dyn Sink,
        cancel: &AtomicBool,
    ) -> SummaryRecord {
        let started = Instant::now();
        let threads = self.threads();
        std::thread::scope(|scope| {
            let (job_tx, job_rx) = bounded::<Job>(threads * 2);
            let (done_tx, done_rx) = unbounded::<Done>();
            for _ in 0..threads {
                let (rx, tx) = (job_rx.clone(), done_tx.clone());
                let (rules, iocs, timeout) = (&self.rules.rules, &self.iocs, self.opts.timeout);
                scope.spawn(move || worker::run(rules, iocs, timeout, rx, tx));
            }
            drop((job_rx, done_tx));
            let mut run = Run::new(self, sink, cancel, job_tx, done_rx, threads);
            for target in targets {
                if run.cancelled() {
                    break;
                }
                match target {
                    Ok(t) => run.scan_disk(&t),
                    Err((name, e)) => run.unopenable(&name, &e),
                }
            }
            run.finish(started)
        })
    }
}

/// Per-volume (or per-disk-area) accounting.
#[derive(Default)]
struct Slot {
    disk: String,
    /// `None` for disk-level areas, which have no volume record and count no files.
    volume: Option<u32>,
    counts_files: bool,
    files: u64,
    scanned: u64,
    skipped: BTreeMap<SkipReason, u64>,
    errors: u64,
    bytes: u64,
    notes: Vec<String>,
    error_notes: usize,
    pending: usize,
    /// FAT/NTFS volume: LOKI/THOR `filepath` uses backslashes.
    windows: bool,
    /// Members of containers, counted apart from files (see `members.rs`).
    members: crate::record::MemberCounts,
    /// Quick scan: files seen and not read (see `quick.rs`).
    not_selected: u64,
}

impl Slot {
    fn account(&mut self, path: &str, outcome: &Outcome, bytes: u64) {
        self.bytes += bytes;
        if !self.counts_files {
            if let Outcome::Error(e) = outcome {
                self.note_error(path, e);
            }
            return;
        }
        self.files += 1;
        match outcome {
            Outcome::Scanned => self.scanned += 1,
            Outcome::Skipped(r) => *self.skipped.entry(*r).or_default() += 1,
            Outcome::Error(e) => {
                self.errors += 1;
                self.note_error(path, e);
            }
        }
    }

    fn note_error(&mut self, path: &str, e: &str) {
        self.error_notes += 1;
        if self.error_notes <= MAX_ERROR_NOTES {
            self.notes.push(format!("error: {path}: {e}"));
        } else if self.error_notes == MAX_ERROR_NOTES + 1 {
            self.notes.push("further errors not listed".to_string());
        }
    }

    fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Sums of the volume records (and unopenable targets, as errors), for the summary.
#[derive(Default, Clone)]
struct Totals {
    members: crate::record::MemberCounts,
    files: u64,
    scanned: u64,
    bytes: u64,
    skipped: u64,
    errors: u64,
    not_selected: u64,
}

struct Run<'e, 's> {
    engine: &'e Engine,
    sink: &'s mut dyn Sink,
    cancel: &'s AtomicBool,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    slots: Vec<Slot>,
    in_flight: usize,
    in_flight_bytes: u64,
    budget: u64,
    pool: Vec<Vec<u8>>,
    blocks: Option<yara_x::blocks::Scanner<'e>>,
    findings: u64,
    incomplete: bool,
    cancelled: bool,
    progress: Progress,
    last_progress: Instant,
    totals: Totals,
    nest: members::Nest,
}

impl<'e, 's> Run<'e, 's> {
    fn new(
        engine: &'e Engine,
        sink: &'s mut dyn Sink,
        cancel: &'s AtomicBool,
        jobs: Sender<Job>,
        done: Receiver<Done>,
        threads: usize,
    ) -> Self {
        let limit = engine.opts.max_file_size.max(1);
        Self {
            engine,
            sink,
            cancel,
            jobs: Some(jobs),
            done,
            slots: Vec::new(),
            in_flight: 0,
            in_flight_bytes: 0,
            // Enough to keep every worker busy with ordinary files, and at most two files
            // at the full-scan limit at once.
            budget: (2 * limit).max(8 * READ_CHUNK as u64 * threads as u64),
            pool: Vec::new(),
            blocks: None,
            findings: 0,
            incomplete: false,
            cancelled: false,
            progress: Progress::default(),
            last_progress: Instant::now(),
            totals: Totals::default(),
            nest: members::Nest::default(),
        }
    }

    fn cancelled(&mut self) -> bool {
        if self.cancel.load(Ordering::Relaxed) {
            self.cancelled = true;
        }
        self.cancelled
    }

    fn unopenable(&mut self, name: &str, e: &io::Error) {
        self.incomplete = true;
        self.totals.errors += 1;
        self.sink.record(&Record::Disk(DiskRecord {
            disk: name.to_string(),
            size: 0,
            table: TableKind::None,
            sector_size: 0,
            notes: vec![format!("cannot open: {e}")],
        }));
    }

    fn scan_disk(&mut self, target: &Target) {
        let dev = &target.device;
        let (table, mut notes) =
            match guard(|| read_partition_table(dev.as_ref(), target.sector_size)) {
                Ok(Ok(t)) => {
                    let notes = t.notes.clone();
                    (Some(t), notes)
                }
                Ok(Err(e)) => (None, vec![e.to_string()]),
                Err(p) => (None, vec![format!("partition table reader crashed: {p}")]),
            };
        if table.is_none() {
            notes.push("scanning the whole disk as one volume".to_string());
            self.incomplete = true;
        }
        let (kind, sector_size, partitions) = match &table {
            Some(t) => (t.kind, t.sector_size, t.partitions.clone()),
            None => (
                TableKind::None,
                target.sector_size.unwrap_or(512),
                Vec::new(),
            ),
        };
        self.sink.record(&Record::Disk(DiskRecord {
            disk: target.name.clone(),
            size: dev.size(),
            table: kind,
            sector_size,
            notes,
        }));
        if self.engine.opts.boot_areas {
            let slot = self.new_slot(&target.name, None, false);
            self.scan_area(slot, dev, BOOT_AREA, "<mbr>");
            self.wait_slot(slot);
        }
        if kind == TableKind::None {
            let whole = Partition {
                number: 0,
                start: 0,
                len: dev.size(),
                type_id: PartitionType::Mbr(0),
                name: None,
                bootable: false,
            };
            self.scan_volume(target, &whole);
        } else {
            for p in &partitions {
                if self.cancelled() {
                    break;
                }
                self.scan_volume(target, p);
            }
        }
    }

    fn new_slot(&mut self, disk: &str, volume: Option<u32>, counts_files: bool) -> usize {
        self.slots.push(Slot {
            disk: disk.to_string(),
            volume,
            counts_files,
            ..Slot::default()
        });
        self.slots.len() - 1
    }

    fn scan_volume(&mut self, target: &Target, part: &Partition) {
        let dev: Device = Arc::new(Slice::new(target.device.clone(), part.start, part.len));
        let key = (target.name.clone(), part.number, part.start, dev.size());
        if self.engine.opts.skip_volumes.contains(&key) {
            return; // finished before a cut: its record comes from the checkpoint
        }
        let fs = match guard(|| crate::disk::detect::detect(dev.as_ref())) {
            Ok(Ok(k)) => k,
            _ => FsKind::Unknown,
        };
        let slot = self.new_slot(&target.name, Some(part.number), true);
        self.slots[slot].windows = matches!(
            fs,
            FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 | FsKind::Exfat | FsKind::Ntfs
        );
        if self.engine.opts.boot_areas {
            let area = self.new_slot(&target.name, Some(part.number), false);
            if !within_mbr_area(part.start, VOLUME_BOOT_AREA.min(dev.size())) {
                self.scan_area(area, &dev, VOLUME_BOOT_AREA, "<boot sector>");
            }
            self.wait_slot(area);
        }
        let mut info = VolumeInfo::default();
        let status = match fs {
            FsKind::Fat12
            | FsKind::Fat16
            | FsKind::Fat32
            | FsKind::Exfat
            | FsKind::Ntfs
            | FsKind::Ext2
            | FsKind::Ext3
            | FsKind::Ext4 => self.walk_volume(slot, fs, dev.clone(), &mut info),
            FsKind::Bitlocker | FsKind::Luks => {
                self.slots[slot]
                    .notes
                    .push("encrypted volume: its files cannot be read without the key".into());
                VolumeStatus::Encrypted
            }
            _ => self.unreadable_volume(slot, fs, part, &dev),
        };
        self.wait_slot(slot);
        let s = &self.slots[slot];
        let status = match status {
            VolumeStatus::Scanned
                if s.errors > 0 || s.skipped_total() > 0 || info.degraded || self.cancelled =>
            {
                VolumeStatus::Partial
            }
            other => other,
        };
        if status != VolumeStatus::Scanned
            && !(status == VolumeStatus::Unsupported && negligible(fs, part, &dev))
        {
            self.incomplete = true;
        }
        let mut notes = info.notes;
        notes.extend(s.notes.iter().cloned());
        if self.cancelled {
            notes.push("scan cancelled before this volume was finished".into());
        }
        let record = VolumeRecord {
            disk: target.name.clone(),
            volume: part.number,
            fs,
            offset: part.start,
            size: dev.size(),
            label: info.label,
            status,
            files: s.files,
            scanned: s.scanned,
            skipped: s
                .skipped
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect(),
            errors: s.errors,
            notes,
            bytes: s.bytes,
            members: s.members.clone(),
        };
        self.totals.files += s.files;
        self.totals.scanned += s.scanned;
        self.totals.bytes += s.bytes;
        self.totals.skipped += s.skipped_total();
        self.totals.errors += s.errors;
        self.totals.members.add(&s.members);
        self.totals.not_selected += s.not_selected;
        self.sink.record(&Record::Volume(record));
    }

    fn unreadable_volume(
        &mut self,
        slot: usize,
        fs: FsKind,
        part: &Partition,
        dev: &Device,
    ) -> VolumeStatus {
        let note = match fs {
            FsKind::Swap => "Linux swap: not a filesystem, not scanned".to_string(),
            FsKind::Lvm => "LVM physical volume: logical volumes not scanned".to_string(),
            FsKind::Raid => "Linux RAID member: not scanned".to_string(),
            _ if negligible(fs, part, dev) => {
                "no filesystem (reserved or empty partition)".to_string()
            }
            _ => "unrecognised content: not scanned".to_string(),
        };
        self.slots[slot].notes.push(note);
        if fs == FsKind::Unknown && dev.size() <= RAW_VOLUME_LIMIT && self.engine.opts.boot_areas {
            // Small raw partitions (BIOS boot, vendor areas) are scanned as plain data.
            let area = self.new_slot(
                &self.slots[slot].disk.clone(),
                self.slots[slot].volume,
                false,
            );
            if !within_mbr_area(part.start, dev.size()) {
                self.scan_area(area, dev, RAW_VOLUME_LIMIT, "<raw volume>");
            }
            self.wait_slot(area);
        }
        VolumeStatus::Unsupported
    }

    fn walk_volume(
        &mut self,
        slot: usize,
        fs: FsKind,
        dev: Device,
        info: &mut VolumeInfo,
    ) -> VolumeStatus {
        let opened: Result<Result<Box<dyn Walker>, FsError>, String> =
            guard(|| open_walker(fs, dev.clone()));
        let mut walker = match opened {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                self.slots[slot]
                    .notes
                    .push(format!("cannot read the filesystem: {e}"));
                return match e {
                    FsError::Unsupported { .. } => VolumeStatus::Unsupported,
                    _ => VolumeStatus::Error,
                };
            }
            Err(p) => {
                self.slots[slot]
                    .notes
                    .push(format!("filesystem reader crashed while opening: {p}"));
                return VolumeStatus::Error;
            }
        };
        *info = guard(|| walker.info()).unwrap_or_default();
        let quick = self
            .engine
            .opts
            .quick
            .then(|| self.quick_targets(slot, fs, &dev));
        let walked = guard(|| {
            walker.walk(&mut |meta: &FileMeta, content: Content<'_>| match &quick {
                Some(q) => self.visit_quick(slot, q, meta, content),
                None => self.visit(slot, meta, content),
            })
        });
        // Notes learnt during the walk (e.g. NTFS records no directory lists).
        if let Ok(after) = guard(|| walker.info()) {
            *info = after;
        }
        match walked {
            Ok(Ok(WalkEnd::Complete)) => VolumeStatus::Scanned,
            Ok(Ok(WalkEnd::Cancelled)) => VolumeStatus::Partial,
            Ok(Err(e)) => {
                self.slots[slot].notes.push(format!("walk stopped: {e}"));
                if self.slots[slot].files > 0 {
                    VolumeStatus::Partial
                } else {
                    VolumeStatus::Error
                }
            }
            Err(p) => {
                self.slots[slot]
                    .notes
                    .push(format!("filesystem reader crashed, walk stopped: {p}"));
                if self.slots[slot].files > 0 {
                    VolumeStatus::Partial
                } else {
                    VolumeStatus::Error
                }
            }
        }
    }

    fn visit(&mut self, slot: usize, meta: &FileMeta, content: Content<'_>) -> ControlFlow<()> {
        if self.cancelled() {
            return ControlFlow::Break(());
        }
        self.drain(false);
        match content {
            Content::Skipped(reason) => {
                self.slots[slot].account(&meta.path, &Outcome::Skipped(reason), 0)
            }
            Content::Error(e) => self.slots[slot].account(&meta.path, &Outcome::Error(e), 0),
            Content::Data(reader) => {
                if meta.size > self.engine.opts.max_file_size && self.engine.opts.skip_larger {
                    self.slots[slot].account(
                        &meta.path,
                        &Outcome::Skipped(SkipReason::TooLarge),
                        0,
                    );
                } else {
                    if meta.size > self.engine.opts.max_file_size {
                        self.scan_blocks(slot, &meta.path, meta.stream.clone(), reader, Vec::new());
                    } else {
                        self.scan_content(slot, &meta.path, meta.stream.clone(), reader, meta.size);
                    }
                }
            }
        }
        self.report_progress(slot, &meta.path);
        ControlFlow::Continue(())
    }

    /// Scans the first `len` bytes of a device (boot code, raw partitions) as a job in the
    /// given non-file slot.
    fn scan_area(&mut self, slot: usize, dev: &Device, len: u64, name: &str) {
        let len = len.min(dev.size());
        if len == 0 {
            return;
        }
        let mut reader = ReadSeekAdapter::new(Arc::new(Slice::new(dev.clone(), 0, len)));
        self.scan_content(slot, name, None, &mut reader, len);
    }

    /// Reads one file's content (declared `size` within the full-scan limit) and hands it to
    /// a worker; a file that turns out longer than the limit continues in blocks mode.
    fn scan_content(
        &mut self,
        slot: usize,
        path: &str,
        stream: Option<String>,
        reader: &mut dyn Read,
        size: u64,
    ) {
        let limit = self.engine.opts.max_file_size;
        let want = size.min(limit);
        self.wait_budget(want);
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        let read_error = read_up_to(reader, &mut buf, limit + 1, size)
            .err()
            .map(|e| e.to_string());
        if buf.len() as u64 > limit {
            // The file holds more than it declared: stream the rest with what was read.
            self.scan_blocks(slot, path, stream, reader, buf);
            return;
        }
        self.engine.keep_if_captured(path, &stream, &buf);
        // Containers (issue 13): members of this content are scanned as jobs of their own
        // before it is handed on; the job names the member being read, if any.
        let member = self.nest.member();
        self.expand_members(slot, path, &stream, &buf);
        self.in_flight += 1;
        self.in_flight_bytes += buf.len() as u64;
        self.slots[slot].pending += 1;
        let job = Job {
            slot,
            path: path.to_string(),
            stream,
            data: buf,
            read_error,
            windows: self.slots[slot].windows,
            member,
        };
        if let Some(tx) = &self.jobs {
            if let Err(e) = tx.send(job) {
                // Every worker is gone (cannot happen unless they all panicked): account here.
                let job = e.into_inner();
                self.in_flight -= 1;
                self.in_flight_bytes -= job.data.len() as u64;
                self.slots[slot].pending -= 1;
                self.slots[slot].account(
                    &job.path,
                    &Outcome::Error("no scan worker left".into()),
                    0,
                );
            }
        }
    }

    /// Blocks mode: overlapping blocks through yara-x's block scanner on this thread.
    /// Modules, `filesize` and matches longer than the overlap are unavailable here, which the
    /// finding's `mode` says.
    fn scan_blocks(
        &mut self,
        slot: usize,
        path: &str,
        stream: Option<String>,
        reader: &mut dyn Read,
        prefix: Vec<u8>,
    ) {
        let rules = &self.engine.rules.rules;
        let timeout = self.engine.opts.timeout;
        let mut scanner = self.blocks.take().unwrap_or_else(|| {
            let mut s = yara_x::blocks::Scanner::new(rules);
            s.set_timeout(timeout);
            s
        });
        for (k, v) in super::worker::file_vars(path, self.slots[slot].windows, &prefix) {
            let _ = scanner.set_global(k, v.as_str());
        }
        let mut hasher = super::iocs::Hasher::new(self.engine.iocs.needs());
        let mut block = prefix;
        let mut hashed = 0usize;
        let mut base = 0usize;
        let mut total = 0u64;
        let mut outcome = Outcome::Scanned;
        let mut crashed = false;
        loop {
            let read = read_up_to(reader, &mut block, BLOCK as u64, BLOCK as u64);
            let eof = read.is_err() || block.len() < BLOCK;
            if base == 0 {
                self.unopened_container(slot, path, &stream, &block);
            }
            if let Err(e) = read {
                outcome = Outcome::Error(e.to_string());
            }
            hasher.update(&block[hashed..]);
            total += (block.len() - hashed) as u64;
            if block.len() > hashed || base == 0 {
                match guard(|| scanner.scan(base, &block).map(|_| ())) {
                    Ok(Ok(())) => {}
                    Ok(Err(yara_x::ScanError::Timeout)) => {
                        outcome = Outcome::Skipped(SkipReason::Timeout);
                        break;
                    }
                    Ok(Err(e)) => {
                        outcome = Outcome::Error(format!("rule engine: {e}"));
                        break;
                    }
                    Err(p) => {
                        outcome = Outcome::Error(format!("rule engine crashed: {p}"));
                        crashed = true;
                        break;
                    }
                }
            }
            if eof {
                break;
            }
            let keep = OVERLAP.min(block.len());
            base += block.len() - keep;
            block.drain(..block.len() - keep);
            hashed = block.len();
        }
        let hits: Vec<RuleHit> = if crashed {
            Vec::new()
        } else {
            match guard(|| {
                scanner.finish().map(|r| {
                    r.matching_rules()
                        .map(|m| (m.identifier().to_string(), m.namespace().to_string()))
                        .collect::<Vec<_>>()
                })
            }) {
                Ok(Ok(h)) => h,
                Ok(Err(yara_x::ScanError::Timeout)) => {
                    outcome = Outcome::Skipped(SkipReason::Timeout);
                    Vec::new()
                }
                Ok(Err(e)) => {
                    outcome = Outcome::Error(format!("rule engine: {e}"));
                    Vec::new()
                }
                Err(p) => {
                    outcome = Outcome::Error(format!("rule engine crashed: {p}"));
                    crashed = true;
                    Vec::new()
                }
            }
        };
        if !crashed {
            self.blocks = Some(scanner);
        }
        block.clear();
        let digests = hasher.finish();
        self.complete(Done {
            slot,
            path: path.to_string(),
            stream,
            data: block,
            outcome,
            hits,
            ioc: self.engine.iocs.find(&digests, total).cloned(),
            sha256: Some(digests.sha256),
            bytes: total,
            blocks: true,
            member: self.nest.member(),
        });
    }

    /// Records one finished file: findings first, then its accounting.
    fn complete(&mut self, done: Done) {
        let slot = &self.slots[done.slot];
        let (disk, volume) = (slot.disk.clone(), slot.volume);
        let digest = done.sha256.map(|d| hex(&d)).unwrap_or_default();
        let mode = if done.blocks { "blocks" } else { "full" };
        let mut findings: Vec<FindingRecord> = done
            .hits
            .iter()
            .map(|(rule, namespace)| FindingRecord {
                disk: disk.clone(),
                volume,
                path: done.path.clone(),
                stream: done.stream.clone(),
                kind: FindingKind::Yara,
                rule: rule.clone(),
                namespace: namespace.clone(),
                sha256: digest.clone(),
                size: done.bytes,
                mode: mode.to_string(),
                member: done.member.clone(),
            })
            .collect();
        if let Some(ioc) = &done.ioc {
            findings.push(FindingRecord {
                disk,
                volume,
                path: done.path.clone(),
                stream: done.stream.clone(),
                kind: FindingKind::Hash,
                rule: ioc.name.clone(),
                namespace: ioc.list.clone(),
                sha256: digest,
                size: done.bytes,
                mode: mode.to_string(),
                member: done.member.clone(),
            });
        }
        for f in findings {
            self.findings += 1;
            self.progress.findings = self.findings;
            self.sink.record(&Record::Finding(f));
        }
        let slot = &mut self.slots[done.slot];
        if done.member.is_some() {
            slot.account_member(&done.outcome, done.bytes);
        } else {
            slot.account(&done.path, &done.outcome, done.bytes);
        }
        if slot.counts_files {
            self.progress.files += 1;
            self.progress.bytes += done.bytes;
            if done.outcome != Outcome::Scanned {
                self.progress.skipped += 1;
            }
        }
        let mut data = done.data;
        if self.pool.len() < POOL && data.capacity() <= POOL_BUFFER_MAX {
            data.clear();
            self.pool.push(data);
        }
    }

    /// Handles one worker result (blocking when `block`), or all that are ready.
    fn drain(&mut self, block: bool) {
        if block && self.in_flight > 0 {
            if let Ok(d) = self.done.recv() {
                self.finish_job(d);
            }
        }
        while let Ok(d) = self.done.try_recv() {
            self.finish_job(d);
        }
    }

    fn finish_job(&mut self, d: Done) {
        self.in_flight -= 1;
        self.in_flight_bytes -= d.data.len() as u64;
        self.slots[d.slot].pending -= 1;
        self.complete(d);
    }

    /// Waits until `want` more bytes fit in the in-flight budget.
    fn wait_budget(&mut self, want: u64) {
        while self.in_flight > 0 && self.in_flight_bytes + want > self.budget {
            self.drain(true);
        }
    }

    /// Waits until every job of a slot is done (before its record is written).
    fn wait_slot(&mut self, slot: usize) {
        while self.slots[slot].pending > 0 && self.in_flight > 0 {
            self.drain(true);
        }
    }

    fn report_progress(&mut self, slot: usize, path: &str) {
        if self.last_progress.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last_progress = Instant::now();
        self.progress.disk.clone_from(&self.slots[slot].disk);
        self.progress.volume = self.slots[slot].volume;
        path.clone_into(&mut self.progress.path);
        self.sink.progress(&self.progress);
    }

    fn finish(mut self, started: Instant) -> SummaryRecord {
        while self.in_flight > 0 {
            self.drain(true);
        }
        self.jobs = None;
        let Totals {
            files,
            scanned,
            bytes,
            skipped,
            errors,
            members,
            not_selected,
        } = std::mem::take(&mut self.totals);
        let verdict = if self.findings > 0 {
            Verdict::Infected
        } else if self.incomplete
            || self.cancelled
            || skipped > 0
            || errors > 0
            || members.incomplete()
        {
            Verdict::Incomplete
        } else {
            Verdict::Clean
        };
        let summary = SummaryRecord {
            verdict,
            files,
            scanned,
            findings: self.findings,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            skipped,
            errors,
            cancelled: self.cancelled,
            members,
            mode: if self.engine.opts.quick {
                crate::record::ScanMode::Quick
            } else {
                crate::record::ScanMode::Full
            },
            not_selected,
        };
        self.sink.record(&Record::Summary(summary.clone()));
        summary
    }
}

/// Opens the reader for a detected filesystem.
fn open_walker(fs: FsKind, dev: Device) -> Result<Box<dyn Walker>, FsError> {
    Ok(match fs {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => Box::new(crate::fs::fat::open(dev)?),
        FsKind::Exfat => Box::new(crate::fs::exfat::open(dev)?),
        FsKind::Ntfs => Box::new(crate::fs::ntfs::open(dev)?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => Box::new(crate::fs::ext4::open(dev)?),
        other => {
            return Err(FsError::Unsupported {
                fs: other.as_str(),
                reason: "no reader".into(),
            });
        }
    })
}

/// GPT type of the Microsoft reserved partition (never holds a filesystem).
const GPT_MSR: &str = "e3c9e316-0b5c-4db8-817d-f92df00215ae";
/// GPT type of the BIOS boot partition (raw boot loader code, scanned as `<raw volume>`).
const GPT_BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";

/// Whether an unreadable volume holds nothing worth scanning, so that it does not make the
/// verdict incomplete: swap, Microsoft reserved, BIOS boot (scanned raw), or all zeros.
fn negligible(fs: FsKind, part: &Partition, dev: &Device) -> bool {
    match fs {
        FsKind::Swap => true,
        FsKind::Unknown => {
            if let PartitionType::Gpt(t) = &part.type_id {
                if t == GPT_MSR || t == GPT_BIOS_BOOT {
                    return true;
                }
            }
            let mut head = vec![0u8; 64 * 1024];
            match dev.read_at(0, &mut head) {
                Ok(n) => head[..n].iter().all(|&b| b == 0),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// Reads from `reader` into `buf` until it holds `cap` bytes or the stream ends.
///
/// `hint` is the size the filesystem declares: the buffer is zero-filled once up to it (capped
/// by `cap`, so a lying size cannot make us allocate more) and grows by `READ_CHUNK` only when
/// the stream turns out longer. Readers may return a cluster at a time: the buffer is never
/// re-initialised between their reads.
fn read_up_to(reader: &mut dyn Read, buf: &mut Vec<u8>, cap: u64, hint: u64) -> io::Result<()> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let hint = usize::try_from(hint).unwrap_or(usize::MAX);
    let mut filled = buf.len();
    let mut result = Ok(());
    while filled < cap {
        if filled == buf.len() {
            let grow = if filled == 0 {
                hint.saturating_add(1).max(4096)
            } else {
                READ_CHUNK
            };
            buf.resize(filled.saturating_add(grow).min(cap), 0);
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    buf.truncate(filled);
    result
}

/// Whether `len` bytes from disk offset `start` lie inside the disk's first MiB, which is
/// always scanned as `<mbr>`: such a volume area is not scanned twice.
fn within_mbr_area(start: u64, len: u64) -> bool {
    start.saturating_add(len) <= BOOT_AREA
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemDevice;
    use crate::sink::VecSink;
    use sha2::{Digest, Sha256};

    fn eicar() -> Vec<u8> {
        // Built from two halves so the file itself never holds the test string.
        [
            &b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"[..],
            &b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"[..],
        ]
        .concat()
    }

    fn scan(bytes: Vec<u8>, iocs: &str) -> (SummaryRecord, Vec<Record>) {
        let mut set = HashIocs::default();
        set.load_str(iocs, "test.txt").unwrap();
        let engine = Engine::with(
            RuleSet::defaults().unwrap(),
            set,
            ScanOptions {
                threads: 2,
                ..ScanOptions::default()
            },
        );
        let target = Target {
            name: "mem".into(),
            device: Arc::new(MemDevice::new(bytes)),
            sector_size: None,
        };
        let mut sink = VecSink::default();
        let summary = engine.scan_targets(vec![Ok(target)], &mut sink, &AtomicBool::new(false));
        (summary, sink.0)
    }

    #[test]
    fn eicar_in_the_first_mib_is_found_as_mbr_area() {
        let mut disk = vec![0u8; 2 << 20];
        let e = eicar();
        disk[1000..1000 + e.len()].copy_from_slice(&e);
        let (summary, records) = scan(disk, "");
        assert_eq!(summary.verdict, Verdict::Infected);
        let f: Vec<_> = records
            .iter()
            .filter_map(|r| {
                if let Record::Finding(f) = r {
                    Some(f)
                } else {
                    None
                }
            })
            .collect();
        assert!(!f.is_empty(), "{records:?}");
        assert_eq!(
            (f[0].path.as_str(), f[0].volume, f[0].rule.as_str()),
            ("<mbr>", None, "EICAR_Test_File")
        );
        assert_eq!(f[0].sha256.len(), 64);
        // Records come in contract order: disk first, summary last.
        assert!(matches!(records.first(), Some(Record::Disk(_))));
        assert!(matches!(records.last(), Some(Record::Summary(_))));
    }

    #[test]
    fn an_empty_disk_is_clean_and_an_unknown_one_incomplete() {
        let (summary, records) = scan(vec![0u8; 1 << 20], "");
        assert_eq!(summary.verdict, Verdict::Clean, "{records:?}");
        let vol = records
            .iter()
            .find_map(|r| {
                if let Record::Volume(v) = r {
                    Some(v)
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(
            (vol.volume, vol.fs, vol.status),
            (0, FsKind::Unknown, VolumeStatus::Unsupported)
        );

        let noise: Vec<u8> = (0..(1u32 << 20))
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let (summary, _) = scan(noise, "");
        assert_eq!(summary.verdict, Verdict::Incomplete);
        assert_eq!(summary.verdict.exit_code(), 2);
    }

    #[test]
    fn hash_iocs_match_scanned_content() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8 + 1).collect();
        let digest = hex(&Sha256::digest(&data));
        let (summary, records) = scan(data, &format!("{digest} Known_Bad_Area\n"));
        let f = records
            .iter()
            .find_map(|r| {
                if let Record::Finding(f) = r {
                    Some(f)
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(
            (
                f.kind,
                f.rule.as_str(),
                f.namespace.as_str(),
                f.sha256.as_str()
            ),
            (
                FindingKind::Hash,
                "Known_Bad_Area",
                "test.txt",
                digest.as_str()
            )
        );
        assert_eq!(summary.findings, 1);
    }

    #[test]
    fn read_up_to_stops_at_the_cap_and_at_the_end() {
        let data = vec![7u8; 3 * READ_CHUNK + 5];
        let mut buf = Vec::new();
        read_up_to(&mut &data[..], &mut buf, 2 * READ_CHUNK as u64 + 1, 10).unwrap();
        assert_eq!(buf.len(), 2 * READ_CHUNK + 1);
        let mut buf = Vec::new();
        read_up_to(&mut &data[..], &mut buf, u64::MAX, 0).unwrap();
        assert_eq!(buf.len(), data.len());
    }

    #[test]
    fn unopenable_target_makes_the_scan_incomplete() {
        let engine = Engine::new(ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        })
        .unwrap();
        let mut sink = VecSink::default();
        let s = engine.scan_paths(
            &[PathBuf::from("/nonexistent/disk.img")],
            &mut sink,
            &AtomicBool::new(false),
        );
        assert_eq!(s.verdict, Verdict::Incomplete);
        assert!(matches!(&sink.0[0], Record::Disk(d) if d.notes[0].starts_with("cannot open")));
    }
}
