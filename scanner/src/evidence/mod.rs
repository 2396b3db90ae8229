//! Evidence for the CERT: copies of the detected files in an encrypted ZIP.
//!
//! When something matched, the security team needs the sample, not only a path and a hash.
//! With `scanner scan --evidence DIR` (or `vigie.evidence=1` on the stick) every file that
//! matched a rule or a hash IOC is copied, after the scan, into `evidence.zip`: AES-256
//! (WinZip AE-2) with the password `infected`, the convention analysts expect (a desk
//! antivirus does not delete it, nobody double-clicks it). Inside: each file under a safe name
//! (see [`name`]) and `manifest.json` (original path, stream, matched members, size, SHA-256,
//! rules, and why a file was not copied).
//!
//! Why re-read after the scan rather than capture during it: the engine's workers would have
//! to keep every matched file's bytes until the end (or write the ZIP from several threads),
//! and a member finding would need the top-level file while its member is being scanned. A
//! second, read-only walk of only the volumes that had findings costs one more pass over their
//! metadata (no content is read except the wanted files) and keeps the scan untouched. The bytes
//! read again are checked against the scan's SHA-256 (`changed` when they differ, e.g. a file
//! whose scanned content was a decompressed view).
//!
//! Memory: at most one file (`max_file`) is held at a time, plus whatever the ZIP's writer
//! holds (a file for the CLI; on the stick the ZIP itself, bounded by `max_total`, which is
//! why the stick's defaults are lower: see [`Limits::stick`]).

pub mod name;
#[cfg(feature = "engine")]
pub mod read;

use std::collections::BTreeSet;
use std::io::{Read, Seek, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

use crate::record::{EvidenceItem, EvidenceRecord, FindingRecord};

/// The ZIP's file name.
pub const ZIP_NAME: &str = "evidence.zip";
/// The manifest's name inside the ZIP.
pub const MANIFEST: &str = "manifest.json";
/// The ZIP's password.
pub const PASSWORD: &str = "infected";
/// Most items listed (one per detected file); beyond, `items_capped`.
pub const MAX_ITEMS: usize = 10_000;

/// How much is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file copied, in bytes.
    pub max_file: u64,
    /// Most bytes copied in one scan.
    pub max_total: u64,
}

impl Limits {
    /// `scanner scan --evidence`: 32 MiB per file, 256 MiB per scan (the ZIP goes to a file).
    pub const CLI: Limits = Limits {
        max_file: 32 << 20,
        max_total: 256 << 20,
    };

    /// On the stick the whole ZIP is built in RAM before the log writer adds it (one file per
    /// transaction): a 256 MiB machine also holds the kernel, the initramfs and PID 1. 16 MiB
    /// per file and 64 MiB per scan keep the peak near 80 MiB (one file read plus the ZIP).
    pub const fn stick() -> Limits {
        Limits {
            max_file: 16 << 20,
            max_total: 64 << 20,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::CLI
    }
}

/// Why the evidence could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The ZIP writer failed.
    #[error("evidence ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing the ZIP's bytes.
    #[error("evidence ZIP: {0}")]
    Io(#[from] std::io::Error),
}

/// Lower-case hex of a digest.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether a finding is on a disk-level or boot area (`<mbr>`, `<boot sector>`), not a file.
pub fn is_area(path: &str) -> bool {
    path.starts_with('<')
}

/// One item per detected file (findings on the same disk, volume, path and stream joined, in
/// the order of the findings), nothing copied yet.
pub fn plan(findings: &[FindingRecord]) -> (Vec<EvidenceItem>, bool) {
    let mut items: Vec<EvidenceItem> = Vec::new();
    let mut capped = false;
    for f in findings {
        let same = |i: &EvidenceItem| {
            i.disk == f.disk && i.volume == f.volume && i.path == f.path && i.stream == f.stream
        };
        let idx = match items.iter().position(same) {
            Some(i) => i,
            None => {
                if items.len() >= MAX_ITEMS {
                    capped = true;
                    continue;
                }
                items.push(EvidenceItem {
                    disk: f.disk.clone(),
                    volume: f.volume,
                    path: f.path.clone(),
                    stream: f.stream.clone(),
                    // The scanned content's, until the bytes are read again (a member's
                    // finding says nothing of the top-level file).
                    size: if f.member.is_none() { f.size } else { 0 },
                    sha256: if f.member.is_none() {
                        f.sha256.clone()
                    } else {
                        String::new()
                    },
                    ..EvidenceItem::default()
                });
                items.len() - 1
            }
        };
        let it = &mut items[idx];
        if !it.rules.contains(&f.rule) {
            it.rules.push(f.rule.clone());
        }
        if let Some(m) = &f.member {
            if !it.members.contains(m) && it.members.len() < 100 {
                it.members.push(m.clone());
            }
        } else if it.sha256.is_empty() {
            it.sha256 = f.sha256.clone();
            it.size = f.size;
        }
    }
    (items, capped)
}

/// Builds the ZIP: items are offered their bytes one by one, then [`Collector::finish`] writes
/// the manifest and returns the record.
pub struct Collector<W: Write + Seek> {
    zip: ZipWriter<W>,
    limits: Limits,
    items: Vec<EvidenceItem>,
    offered: Vec<bool>,
    names: name::Names,
    bytes: u64,
    limits_reached: BTreeSet<&'static str>,
    notes: Vec<String>,
}

fn zip_options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .with_aes_encryption(AesMode::Aes256, PASSWORD)
        // Fixed time: the ZIP's bytes then depend only on the content (and the random salts).
        .last_modified_time(zip::DateTime::default())
}

impl<W: Write + Seek> Collector<W> {
    /// A collector for these findings, writing the ZIP to `out`.
    pub fn new(out: W, findings: &[FindingRecord], limits: Limits) -> Self {
        let (items, capped) = plan(findings);
        let n = items.len();
        Self {
            zip: ZipWriter::new(out),
            limits,
            items,
            offered: vec![false; n],
            names: name::Names::default(),
            bytes: 0,
            limits_reached: BTreeSet::new(),
            notes: if capped {
                vec!["items_capped".into()]
            } else {
                Vec::new()
            },
        }
    }

    /// The items (for the reader to know what to look for).
    pub fn items(&self) -> &[EvidenceItem] {
        &self.items
    }

    /// Indices of the items not offered yet.
    pub fn pending(&self) -> impl Iterator<Item = usize> + '_ {
        self.offered
            .iter()
            .enumerate()
            .filter(|(_, o)| !**o)
            .map(|(i, _)| i)
    }

    fn refuse(&mut self, idx: usize, reason: &'static str) {
        self.items[idx].copied = false;
        self.items[idx].reason = Some(reason.into());
        if matches!(reason, "file_limit" | "total_limit") {
            self.limits_reached.insert(reason);
        }
    }

    /// Marks an item as not readable (not found, not a file, read error), without bytes.
    pub fn missing(&mut self, idx: usize, reason: &'static str) {
        if idx < self.items.len() && !self.offered[idx] {
            self.offered[idx] = true;
            self.refuse(idx, reason);
        }
    }

    /// Copies item `idx` from `content` (`size`: what the filesystem states, hostile: only used
    /// to refuse early). Reads at most `max_file + 1` bytes. An error from the ZIP's writer is
    /// returned (the ZIP is then unusable); a read error only marks the item `unreadable`.
    pub fn offer(
        &mut self,
        idx: usize,
        size: u64,
        content: &mut dyn Read,
    ) -> Result<(), EvidenceError> {
        if idx >= self.items.len() || self.offered[idx] {
            return Ok(());
        }
        self.offered[idx] = true;
        let max = self.limits.max_file;
        if size > max {
            self.items[idx].size = size;
            self.refuse(idx, "file_limit");
            return Ok(());
        }
        let room = self.limits.max_total.saturating_sub(self.bytes);
        if size > room {
            self.items[idx].size = size;
            self.refuse(idx, "total_limit");
            return Ok(());
        }
        let mut buf = Vec::new();
        match content.take(max.saturating_add(1)).read_to_end(&mut buf) {
            Ok(_) => {}
            Err(_) => {
                self.refuse(idx, "unreadable");
                return Ok(());
            }
        }
        let len = buf.len() as u64;
        if len > max {
            self.items[idx].size = len;
            self.refuse(idx, "file_limit");
            return Ok(());
        }
        if len > room {
            self.items[idx].size = len;
            self.refuse(idx, "total_limit");
            return Ok(());
        }
        let sha = hex(&Sha256::digest(&buf));
        let it = &self.items[idx];
        let wanted = name::safe_name(&it.disk, it.volume, &it.path, it.stream.as_deref());
        let zname = self.names.unique(&wanted);
        self.zip.start_file(zname.as_str(), zip_options())?;
        self.zip.write_all(&buf)?;
        self.bytes += len;
        let it = &mut self.items[idx];
        // A file found through a member has no scanned SHA-256 of its own to compare with.
        if !it.sha256.is_empty() && it.sha256 != sha && it.members.is_empty() {
            it.reason = Some("changed".into());
        }
        it.sha256 = sha;
        it.size = len;
        it.name = Some(zname);
        it.copied = true;
        Ok(())
    }

    /// The record as it stands (items not offered yet count as `not_found`).
    pub fn record(&self, status: &str) -> EvidenceRecord {
        let mut items = self.items.clone();
        for (i, it) in items.iter_mut().enumerate() {
            if !self.offered[i] {
                it.reason = Some("not_found".into());
            }
        }
        let copied = items.iter().filter(|i| i.copied).count() as u64;
        EvidenceRecord {
            file: ZIP_NAME.into(),
            encryption: "aes256".into(),
            password: PASSWORD.into(),
            status: if items.is_empty() {
                "empty".into()
            } else {
                status.into()
            },
            max_file: self.limits.max_file,
            max_total: self.limits.max_total,
            copied,
            not_copied: items.len() as u64 - copied,
            bytes: self.bytes,
            limits_reached: self.limits_reached.iter().map(|s| s.to_string()).collect(),
            items,
            notes: self.notes.clone(),
        }
    }

    /// Writes the manifest, closes the ZIP; returns the record (status `status`) and the writer.
    pub fn finish(mut self, status: &str) -> Result<(EvidenceRecord, W), EvidenceError> {
        for i in self.pending().collect::<Vec<_>>() {
            self.missing(i, "not_found");
        }
        let rec = self.record(status);
        let manifest = serde_json::to_vec_pretty(&rec).unwrap_or_default();
        self.zip.start_file(MANIFEST, zip_options())?;
        self.zip.write_all(&manifest)?;
        let out = self.zip.finish()?;
        Ok((rec, out))
    }
}

/// A limit for people: `32 MiB` / `32 Mio`, `300 KiB` / `300 Kio`, `900 B` / `900 o`.
fn size_words(b: u64) -> (String, String) {
    let (n, fr, en) = if (b >= 1 << 20 && b.is_multiple_of(1 << 20)) || b >= 10 << 20 {
        (b >> 20, "Mio", "MiB")
    } else if b >= 1 << 10 {
        (b >> 10, "Kio", "KiB")
    } else {
        (b, "o", "B")
    };
    (format!("{n} {fr}"), format!("{n} {en}"))
}

/// The report's lines about the evidence, French then English (the human report, the CLI).
pub fn report_lines(e: &EvidenceRecord) -> Vec<String> {
    let mut out = vec![format!(
        "Preuves / Evidence : {} ({}, mot de passe / password « {} ») : {} copiés/copied, {} non copiés/not copied, {} octets/bytes",
        e.file, e.encryption, e.password, e.copied, e.not_copied, e.bytes
    )];
    for l in &e.limits_reached {
        let (fr, en) = match l.as_str() {
            "file_limit" => {
                let (fr, en) = size_words(e.max_file);
                (
                    format!("limite par fichier atteinte ({fr})"),
                    format!("per-file limit reached ({en})"),
                )
            }
            "total_limit" => {
                let (fr, en) = size_words(e.max_total);
                (
                    format!("limite par analyse atteinte ({fr})"),
                    format!("per-scan limit reached ({en})"),
                )
            }
            other => (other.to_string(), other.to_string()),
        };
        out.push(format!("  {fr} / {en}"));
    }
    let status = match e.status.as_str() {
        "saved" => None,
        "empty" => Some(("rien à copier", "nothing to copy")),
        "pending" => Some(("écrit après le rapport", "written after the record")),
        _ if e.notes.iter().any(|n| n == "log_full") => Some((
            "NON ÉCRIT : partition des journaux pleine",
            "NOT WRITTEN: log partition full",
        )),
        _ => Some(("NON ÉCRIT", "NOT WRITTEN")),
    };
    if let Some((fr, en)) = status {
        out.push(format!("  {fr} / {en}"));
    }
    for it in e.items.iter().filter(|i| !i.copied).take(50) {
        out.push(format!(
            "  - non copié / not copied ({}) : {}{}",
            it.reason.as_deref().unwrap_or("?"),
            it.path,
            it.stream
                .as_deref()
                .map(|s| format!(":{s}"))
                .unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests;
