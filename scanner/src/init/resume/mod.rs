//! Resume after a cut (issue 14): while a full scan runs, PID 1 appends each finished volume's
//! record lines to a checkpoint on the log partition (`VIGIE/resume.jsonl`, [`checkpoint`]);
//! at the next boot on the same machine with the same rules, within 7 days, the scan skips
//! those volumes (`ScanOptions::skip_volumes`) and the saved record is the union
//! ([`merge`]). A cut volume restarts from its beginning.
//!
//! The file is written only through `fatlog`'s ordered append (data, FAT, then the size: a cut
//! leaves the file as it was), on the identified stick only, made writable for the append
//! and read-only again at once (see `save::with_writable_stick`).

pub mod checkpoint;
pub mod merge;

pub use checkpoint::{Checkpoint, Head, Stale};

use super::fatlog::{DosTime, Node, Vol};
use std::path::Path;

/// The checkpoint file's name in `VIGIE/`.
pub const FILE: &str = "resume.jsonl";
/// A larger checkpoint file is not read (it would take PID 1's memory); it is then never
/// offered, and the boot log says so.
pub const MAX_READ: u32 = 16 * 1024 * 1024;

/// Reads the checkpoint from the log partition device (read-only); `None` when there is none
/// or it cannot be read.
pub fn read(dev: &Path) -> Option<Checkpoint> {
    let f = std::fs::File::open(dev).ok()?;
    let mut vol = Vol::open_read_only(f).ok()?;
    let dir = vol.find_dir("VIGIE").ok()??;
    let e = vol.find(dir, FILE).ok()??;
    if e.is_dir() || e.size > MAX_READ {
        return None;
    }
    let bytes = vol.read_file(&e).ok()?;
    Some(checkpoint::parse(&String::from_utf8_lossy(&bytes)))
}

/// The checkpoint on the log partition `dev` when it may be resumed now (same disks, same
/// rules, under 7 days); says on the boot log what it found and why it is not offered.
pub fn offered(dev: &Path, host: &crate::record::HostRecord, now: u64) -> Option<Checkpoint> {
    let cp = read(dev)?;
    match cp.offer(host, now) {
        Ok(head) => {
            crate::say::say(&format!(
                "  resuming the interrupted scan {} (started {}): {} of {} volumes already finished",
                head.scan_id,
                head.started,
                cp.volumes().len(),
                head.volumes
            ));
        }
        Err(Stale::Nothing) => return None,
        Err(why) => {
            crate::say::say(&format!(
                "  an interrupted scan is on the stick, not resumed: {}",
                why.as_str()
            ));
            return None;
        }
    }
    Some(cp)
}

/// What the welcome screen offers for the checkpoint `cp` (see [`offered`]).
pub fn offer_for_ui(cp: &Checkpoint) -> Option<crate::resumed::ResumeOffer> {
    let head = cp.head.as_ref()?;
    Some(crate::resumed::ResumeOffer {
        scan_id: head.scan_id.clone(),
        started: head.started.clone(),
        done: cp.volumes().len() as u32,
        total: head.volumes,
        seconds: cp
            .last
            .as_ref()
            .map_or(0.0, |l| l.1.saturating_sub(head.started_unix) as f64),
        lines: cp.lines.clone(),
        skip: cp.skip_keys(),
    })
}

/// The head of a new segment for this scan.
pub fn new_head(host: &crate::record::HostRecord, volumes: u32, now: u64) -> Head {
    Head {
        scan_id: host.scan_id.clone(),
        machine: checkpoint::machine_key(host),
        rules: host.rules.sha256.clone(),
        started: host.started.clone(),
        started_unix: now,
        volumes,
    }
}

/// Appends `text` to the checkpoint file on `dev` (created when absent).
pub fn append(dev: &Path, text: &str, now: u64) -> Result<(), String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(|e| format!("{}: {e}", dev.display()))?;
    append_on(f, text, now)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Appends on any store (a device, an image in tests).
pub fn append_on<S: super::fatlog::Store>(
    store: S,
    text: &str,
    now: u64,
) -> Result<S, super::fatlog::FatError> {
    let mut vol = Vol::open(store, DosTime::from_unix(now))?;
    let dir = vol.root_dir("VIGIE")?;
    match vol.find(dir, FILE)? {
        Some(e) if !e.is_dir() => vol.append(&e, text.as_bytes())?,
        Some(_) => {
            return Err(super::fatlog::FatError::Corrupt(format!(
                "VIGIE/{FILE} is a folder"
            )))
        }
        None => vol.add(dir, &Node::File(FILE.into(), text.as_bytes().to_vec()))?,
    }
    Ok(vol.into_inner())
}

/// Largest chunk of lines PID 1 holds for one volume: past this (a volume with thousands of
/// findings) checkpoints stop for this scan, which is then not resumable.
const MAX_PENDING: usize = 5_000;

/// PID 1's side of the checkpoint while a full scan runs: record lines are fed in as they
/// arrive ([`Checkpointer::line`]); each volume record appends the lines since the last one.
pub struct Checkpointer {
    stick: Option<(super::disks::Disk, String)>,
    pending: Vec<String>,
    delay_ms: u64,
    enabled: bool,
    /// Volumes checkpointed by this boot.
    pub saved: u32,
}

impl Checkpointer {
    /// Off until [`Checkpointer::begin`] or [`Checkpointer::resume`]; `delay_ms` is the
    /// test-only pause after each checkpoint (`vigie.test.volume_delay_ms`).
    pub fn new(stick: Option<(super::disks::Disk, String)>, delay_ms: u64) -> Self {
        Self {
            stick,
            pending: Vec::new(),
            delay_ms,
            enabled: false,
            saved: 0,
        }
    }

    /// Starts a new segment (a new full scan).
    pub fn begin(&mut self, head: &Head) {
        let text = checkpoint::head_line(head) + "\n";
        self.enabled = self.write(&text);
    }

    /// Goes on with the offered segment (a resumed scan: a second cut resumes again).
    pub fn resume(&mut self) {
        self.enabled = self.stick.is_some();
    }

    /// One record line from the scan child.
    pub fn line(&mut self, l: &str) {
        if !self.enabled
            || l.starts_with("{\"type\":\"host\"")
            || l.starts_with("{\"type\":\"summary\"")
        {
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            crate::say::say(
                "  checkpoint: too many lines for one volume, this scan will not be resumable",
            );
            self.enabled = false;
            self.pending.clear();
            return;
        }
        self.pending.push(l.to_string());
        if !l.starts_with("{\"type\":\"volume\"") {
            return;
        }
        let now = super::now_secs();
        let text = checkpoint::chunk_text(&self.pending, &crate::text::clock::rfc3339(now), now);
        self.pending.clear();
        if self.write(&text) {
            self.saved += 1;
            let what = serde_json::from_str::<crate::record::VolumeRecord>(l)
                .map(|v| format!("volume {} of {}", v.volume, v.disk))
                .unwrap_or_else(|_| "a volume".into());
            crate::say::say(&format!("  checkpoint saved: {what} finished"));
            if self.delay_ms > 0 {
                crate::say::say(&format!(
                    "  TEST ONLY: waiting {} ms after the checkpoint (vigie.test.volume_delay_ms)",
                    self.delay_ms
                ));
                std::thread::sleep(std::time::Duration::from_millis(self.delay_ms));
            }
        } else {
            self.enabled = false;
        }
    }

    /// The scan ended normally: nothing to resume any more.
    pub fn end(&mut self, scan_id: &str) {
        if self.enabled || self.saved > 0 {
            self.write(&checkpoint::end_line(scan_id));
        }
        self.enabled = false;
    }

    fn write(&self, text: &str) -> bool {
        let Some((disk, part)) = &self.stick else {
            return false;
        };
        let res = super::save::with_writable_stick(disk, part, |dev| {
            append(dev, text, super::now_secs())
        });
        match res.and_then(|r| r) {
            Ok(()) => true,
            Err(e) => {
                crate::say::say(&format!(
                    "  checkpoint not saved ({e}): this scan will not be resumable"
                ));
                false
            }
        }
    }
}
