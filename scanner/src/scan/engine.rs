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
//!
//! This file holds the options, the engine and the per-disk and per-volume sequence; the
//! rest is in `engine/`: `walk` (a volume's walk and the file visitor), `readers` (which
//! reader a volume gets), `content` (reading a content whole or in blocks), `batch` (jobs sent
//! to the workers in batches), `results` (worker results, budget, summary), `members`
//! (containers), `quick` (the quick scan).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::iocs::HashIocs;
use super::rules::RuleSet;
use super::worker::{self, Done, Job, Outcome};
use crate::disk::table::{read_partition_table, Partition, PartitionType};
use crate::fs::{guard, SkipReason, VolumeInfo};
use crate::io::{Device, FileDevice, Slice};
use crate::record::{
    DiskRecord, FsKind, Record, SummaryRecord, TableKind, VolumeRecord, VolumeStatus,
};
use crate::sink::{Progress, Sink};

mod batch;
mod content;
mod members;
mod pool;
mod quick;
mod readers;
mod results;
mod walk;

use crate::fs::open::walker as open_walker;
use content::read_up_to;
use readers::negligible;

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
            // In batches (see `engine/batch.rs`): at most one waiting per worker, besides the
            // one each is scanning.
            let (job_tx, job_rx) = bounded::<Vec<Job>>(threads);
            let (done_tx, done_rx) = unbounded::<Vec<Done>>();
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
    jobs: Option<Sender<Vec<Job>>>,
    done: Receiver<Vec<Done>>,
    batch: batch::Batch,
    slots: Vec<Slot>,
    in_flight: usize,
    in_flight_bytes: u64,
    budget: u64,
    pool: pool::BufferPool,
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
        jobs: Sender<Vec<Job>>,
        done: Receiver<Vec<Done>>,
        threads: usize,
    ) -> Self {
        let limit = engine.opts.max_file_size.max(1);
        Self {
            engine,
            sink,
            cancel,
            jobs: Some(jobs),
            done,
            batch: batch::Batch::default(),
            slots: Vec::new(),
            in_flight: 0,
            in_flight_bytes: 0,
            // Enough to keep every worker busy with ordinary files, and one file at the
            // full-scan limit at once (issue 12: two of them put the peak RSS of a 2-thread
            // scan at 184 MiB with glibc and 256 MiB with musl, against 128 MiB wanted).
            budget: limit.saturating_add(8 * READ_CHUNK as u64 * threads as u64),
            pool: pool::BufferPool::default(),
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
}

/// Whether `len` bytes from disk offset `start` lie inside the disk's first MiB, which is
/// always scanned as `<mbr>`: such a volume area is not scanned twice.
fn within_mbr_area(start: u64, len: u64) -> bool {
    start.saturating_add(len) <= BOOT_AREA
}

#[cfg(test)]
mod tests;
