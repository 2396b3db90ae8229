//! Resume after a cut (issue 14): while a full scan runs, PID 1 keeps a checkpoint of the
//! finished volumes' record lines ([`checkpoint`]); at the next boot on the same machine with
//! the same rules, within 7 days, the scan skips those volumes (`ScanOptions::skip_volumes`)
//! and the saved record is the union ([`merge`]). A cut volume restarts from its beginning.
//!
//! Where it lives, and why no power cut can damage it (issue 16): the checkpoint is the small
//! file `resume.jsonl.gz` in the scan's own folder, `VIGIE/scans/<folder>`, opened from a fresh
//! scan token with the first finished volume and rewritten whole, gzip-compressed, after each
//! finished volume through `logpart::save_file_on` (the folder's two small tokens: filled, then one
//! sector swaps them; no token spent per rewrite). A cut at any write leaves a volume
//! `fsck.fat -n` finds clean and the checkpoint old or new, never torn. A checkpoint that no
//! longer fits (about 63 KiB compressed), or a stick without prepared space, is never written
//! by the ordered writer: the last one saved stays (the volumes after it are read again on
//! resume) and the boot log says so. A scan that runs to its end saves its record into that
//! folder, which closes the checkpoint in the same commit; a cancelled or crashed scan's record
//! goes into a folder of its own and the checkpoint stays open. The newest scan folder holding
//! a checkpoint is the one considered (folder names start with the scan's start time).
//!
//! The older checkpoint, `VIGIE/resume.jsonl` (appended through the ordered writer by the
//! previous version), is still read when no scan folder holds a checkpoint; resuming it moves
//! it into a scan folder of its own (so it is read no more). Writes happen on the identified
//! stick only, made writable for the save and read-only again at once (see
//! `save::with_writable_stick`).

pub mod checkpoint;
pub mod merge;
#[cfg(test)]
mod tests;

pub use checkpoint::{Checkpoint, Head, Stale};

use super::fatlog::{Entry, Store, Vol};
use super::logpart::{self, SaveError};
use std::io::{Read, Write};
use std::path::Path;

/// The checkpoint file's name in the scan folder.
pub const FILE: &str = "resume.jsonl.gz";
/// The older checkpoint file's name in `VIGIE/` (read only).
pub const LEGACY_FILE: &str = "resume.jsonl";
/// A larger checkpoint text is not read (it would take PID 1's memory); it is then never
/// offered, and the boot log says so.
pub const MAX_READ: u32 = 16 * 1024 * 1024;
/// A larger compressed file is not read (what a small token can hold is far less).
const MAX_FILE: u32 = 1 << 20;
/// Scan folders looked into for the newest checkpoint, newest first.
const MAX_FOLDERS: usize = 4_096;

/// Reads the checkpoint from the log partition device (read-only); `None` when there is none
/// or it cannot be read.
pub fn read(dev: &Path) -> Option<Checkpoint> {
    read_on(std::fs::File::open(dev).ok()?)
}

/// Reads the checkpoint from any store (see [`read`]): the newest scan folder holding
/// [`FILE`] (none offered when that scan's record is in it: it ran to its end), else the older
/// `VIGIE/resume.jsonl`.
pub fn read_on<S: Store>(store: S) -> Option<Checkpoint> {
    let mut vol = Vol::open_read_only(store).ok()?;
    if let Some(scans) = vol.find_dir(logpart::SCANS_DIR).ok()? {
        let mut folders: Vec<Entry> = vol
            .list(scans)
            .ok()?
            .into_iter()
            .filter(|e| e.is_dir() && !Vol::<S>::is_token(e) && e.start >= 2)
            .collect();
        folders.sort_by(|a, b| b.name.cmp(&a.name));
        for f in folders.iter().take(MAX_FOLDERS) {
            let Ok(kids) = vol.list(f.start) else {
                continue;
            };
            let Some(file) = kids.iter().find(|e| !e.is_dir() && e.name == FILE) else {
                continue;
            };
            if kids
                .iter()
                .any(|e| !e.is_dir() && e.name == logpart::RECORD_FILE)
            {
                return None;
            }
            let mut cp = checkpoint::parse(&gunzip(&vol.read_file(file).ok()?)?);
            cp.folder = Some(f.name.clone());
            return Some(cp);
        }
    }
    let dir = vol.find_dir("VIGIE").ok()??;
    let e = vol.find(dir, LEGACY_FILE).ok()??;
    if e.is_dir() || e.size > MAX_READ {
        return None;
    }
    let bytes = vol.read_file(&e).ok()?;
    Some(checkpoint::parse(&String::from_utf8_lossy(&bytes)))
}

/// The checkpoint text, compressed as it is saved.
pub fn gzip(text: &str) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writes into a Vec cannot fail.
    let _ = z.write_all(text.as_bytes());
    z.finish().unwrap_or_default()
}

/// The text of a saved checkpoint (hostile: compressed size bounded by the caller, output by
/// [`MAX_READ`]; a damaged or oversized one is `None`).
fn gunzip(bytes: &[u8]) -> Option<String> {
    if bytes.len() > MAX_FILE as usize {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(u64::from(MAX_READ) + 1)
        .read_to_end(&mut out)
        .ok()?;
    if out.len() > MAX_READ as usize {
        return None;
    }
    String::from_utf8(out).ok()
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
        seconds: cp.seconds(),
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

/// Saves the checkpoint `text` in `VIGIE/scans/<folder>` (see the module comment): through
/// the folder's small tokens only. A new checkpoint (`fresh`) gets a folder of its own: `folder`
/// or, when that name is taken, `folder-2`... Returns the folder; [`SaveError`] with
/// `FatError::NoToken` when no prepared space can take it (nothing written).
pub fn save_on<S: Store>(
    mut store: S,
    folder: &str,
    fresh: bool,
    text: &str,
    now: u64,
) -> Result<(String, S), SaveError> {
    let mut name = folder.to_string();
    if fresh {
        let taken: Vec<String> = {
            let mut vol = Vol::open_read_only(&mut store)?;
            match vol.find_dir(logpart::SCANS_DIR)? {
                Some(d) => vol
                    .list(d)?
                    .into_iter()
                    .map(|e| e.name.to_ascii_lowercase())
                    .collect(),
                None => Vec::new(),
            }
        };
        for n in 2..10_000 {
            if !taken.contains(&name.to_ascii_lowercase()) {
                break;
            }
            name = format!("{folder}-{n}");
        }
    }
    let (_, store) = logpart::save_file_on(store, &name, FILE, &gzip(text), now, false)?;
    Ok((name, store))
}

/// Largest chunk of lines PID 1 holds for one volume: past this (a volume with thousands of
/// findings) checkpoints stop for this scan, which is then not resumable past its last one.
const MAX_PENDING: usize = 5_000;

/// PID 1's side of the checkpoint while a full scan runs: record lines are fed in as they
/// arrive ([`Checkpointer::line`]); each volume record saves the checkpoint again with the
/// lines since the last one.
pub struct Checkpointer {
    stick: Option<(super::disks::Disk, String)>,
    pending: Vec<String>,
    delay_ms: u64,
    enabled: bool,
    /// The checkpoint's text so far (what each save writes whole).
    text: String,
    /// Its scan folder, once saved.
    folder: Option<String>,
    /// The name of the folder the first save opens (a new scan's).
    fresh: Option<String>,
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
            text: String::new(),
            folder: None,
            fresh: None,
            saved: 0,
        }
    }

    /// Starts the checkpoint of a new full scan: its head, saved with the first finished
    /// volume in a scan folder of its own named like the scan's record folder (`host`'s start
    /// time and machine). A scan cut before it spends no prepared space (and leaves an older
    /// open checkpoint offered).
    pub fn begin(&mut self, host: &crate::record::HostRecord, volumes: u32, now: u64) {
        let head = new_head(host, volumes, now);
        self.text = checkpoint::head_line(&head) + "\n";
        self.fresh = Some(logpart::folder_name(host));
        self.enabled = self.stick.is_some();
    }

    /// Goes on with the offered checkpoint `cp` (a resumed scan: a second cut resumes again,
    /// each boot its own time span). An older `VIGIE/resume.jsonl` moves into a scan folder of
    /// its own now (named from its start time and `host`'s machine).
    pub fn resume(&mut self, cp: &Checkpoint, host: &crate::record::HostRecord, now: u64) {
        self.text =
            cp.text.clone() + &checkpoint::resumed_line(&crate::text::clock::rfc3339(now), now);
        self.folder = cp.folder.clone();
        self.enabled = match &cp.folder {
            Some(_) => self.stick.is_some(),
            None => {
                let mut named = host.clone();
                if let Some(h) = &cp.head {
                    named.started = h.started.clone();
                }
                self.write(Some(logpart::folder_name(&named)))
            }
        };
    }

    /// The folder the scan's record goes into when the scan ran to its end (that closes the
    /// checkpoint); `None` when no checkpoint was saved.
    pub fn folder(&self) -> Option<&str> {
        self.folder.as_deref()
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
                "  checkpoint: too many lines for one volume, this scan will not be resumable past its last checkpoint",
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
        let before = self.text.len();
        self.text += &checkpoint::chunk_text(&self.pending, &crate::text::clock::rfc3339(now), now);
        self.pending.clear();
        let fresh = self.fresh.take();
        if self.write(fresh) {
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
            // The checkpoint saved last stays as it was: later volumes are read again.
            self.text.truncate(before);
            self.enabled = false;
        }
    }

    /// Saves the text: into a new folder named `fresh`, else into the checkpoint's folder.
    fn write(&mut self, fresh: Option<String>) -> bool {
        let Some((disk, part)) = &self.stick else {
            return false;
        };
        let Some(folder) = fresh.clone().or_else(|| self.folder.clone()) else {
            return false;
        };
        let text = &self.text;
        let res = super::save::with_writable_stick(disk, part, |dev| {
            save(dev, &folder, fresh.is_some(), text, super::now_secs())
        });
        match res.and_then(|r| r.map_err(|e| e.to_string())) {
            Ok(name) => {
                self.folder = Some(name);
                true
            }
            Err(e) => {
                crate::say::say(&format!(
                    "  checkpoint not saved ({e}; {} bytes compressed): this scan will not be resumable past its last checkpoint",
                    gzip(&self.text).len()
                ));
                false
            }
        }
    }
}

/// [`save_on`] on the log partition device (through the test-only slow store when
/// `vigie.test.save_delay_ms` is set).
fn save(dev: &Path, folder: &str, fresh: bool, text: &str, now: u64) -> Result<String, SaveError> {
    logpart::on_device(dev, |s| {
        save_on(s, folder, fresh, text, now).map(|(n, _)| n)
    })
}
