//! Filesystem walkers: turn a volume's bytes into a stream of files to scan.
//!
//! FAT and NTFS wrap a pure-Rust crate (fatfs, ntfs) and hide its traps (see `crate-notes.md`);
//! exFAT and ext4 are read by our own code (ext4-view stays the ext4 tests' oracle). All of them
//! handle self-referencing roots, DOS 8.3 duplicates, hard links, `.`/`..`, directory cycles,
//! compressed and encrypted data. A walker never mounts anything, never
//! writes, and treats every byte as hostile: a panic inside a crate is caught per file (or per
//! directory) and becomes an error outcome, never a crashed scan.
//!
//! The contract with the scan engine is [`Walker::walk`]: every regular file and every named
//! data stream is handed to the [`Visitor`] exactly once, either with a reader for its content
//! or with the reason it cannot be read. Symlinks, devices, FIFOs and sockets are not files to
//! scan and are not reported.

pub mod allocated;
pub mod codec;
pub mod exfat;
pub mod ext4;
pub mod fat;
pub mod lznt1;
pub mod ntfs;
pub mod open;
pub(crate) mod runmap;

use std::fmt;
use std::io::Read;
use std::ops::ControlFlow;

use serde::Serialize;

use crate::io::Device;

/// Why a file was not scanned. Serialised as the keys of a volume record's `skipped` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Larger than the hard size limit the user asked for.
    TooLarge,
    /// NTFS EFS or ext4 fscrypt: only ciphertext is on disk.
    Encrypted,
    /// Windows 10 WOF/CompactOS compression (XPRESS/LZX) that we cannot decompress yet.
    WofCompressed,
    /// A compression format we do not decode.
    UnsupportedCompression,
    /// The per-file timeout ran out before the rules finished.
    Timeout,
    /// The scan was cancelled before this file was reached.
    Cancelled,
    /// A container member over a limit (depth, members, size, expansion, ratio: a bomb).
    ArchiveLimit,
    /// A container (or member) in a format or method Vigie recognises but does not decode.
    UnsupportedArchive,
    /// A corrupt container or member.
    ArchiveError,
}

impl SkipReason {
    /// The stable string used in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Encrypted => "encrypted",
            Self::WofCompressed => "wof_compressed",
            Self::UnsupportedCompression => "unsupported_compression",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::ArchiveLimit => "archive_limit",
            Self::UnsupportedArchive => "unsupported_archive",
            Self::ArchiveError => "archive_error",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the walker knows of one file (or one named stream of a file).
#[derive(Debug, Clone, Default)]
pub struct FileMeta {
    /// `/`-separated path from the volume root, decoded to UTF-8 (lossily if need be).
    pub path: String,
    /// Name of the NTFS alternate data stream, `None` for the main content.
    pub stream: Option<String>,
    /// Logical size in bytes, as the filesystem states it (hostile: never preallocate by it).
    pub size: u64,
    /// Last modification time, seconds since the Unix epoch, when known.
    pub modified: Option<i64>,
}

/// The content of one file as the walker offers it.
pub enum Content<'a> {
    /// Readable: a stream of exactly the file's logical bytes (holes read as zeros,
    /// compressed data already decompressed). It may fail mid-way with an I/O error.
    Data(&'a mut dyn Read),
    /// Known not to be readable as plain content, for this reason.
    Skipped(SkipReason),
    /// The file (or a directory, whose path is given) could not be read at all.
    Error(String),
}

/// Receives the files of a walk. Returning `ControlFlow::Break` stops the walk (cancel).
pub trait Visitor {
    /// Called once per file or stream.
    fn visit(&mut self, meta: &FileMeta, content: Content<'_>) -> ControlFlow<()>;

    /// Called instead of [`Visitor::visit`] for a file whose content is plain extents on the
    /// volume (not compressed, not encrypted): `mapped` builds, on demand, a random-access
    /// [`Device`] over exactly its logical bytes (holes as zeros), so that a container too large
    /// to hold in memory (an ISO, a disk image) can be opened in place. `content` is the same
    /// bytes as a stream, read as for any file. By default `mapped` is ignored.
    fn visit_mapped(
        &mut self,
        meta: &FileMeta,
        content: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        let _ = mapped;
        self.visit(meta, content)
    }
}

impl<F: FnMut(&FileMeta, Content<'_>) -> ControlFlow<()>> Visitor for F {
    fn visit(&mut self, meta: &FileMeta, content: Content<'_>) -> ControlFlow<()> {
        self(meta, content)
    }
}

/// Facts about a volume worth a line in its record ("dirty", "journal not replayed", ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Volume label, if the filesystem has one.
    pub label: Option<String>,
    /// Human-readable notes for the record.
    pub notes: Vec<String>,
    /// True when some content may be missing even if every file reads (e.g. an unreplayed
    /// journal): the volume is then `partial`, never fully `scanned`.
    pub degraded: bool,
}

/// Why a volume could not be opened or walked at all.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The bytes do not form a filesystem this reader accepts.
    #[error("not a valid {fs} volume: {reason}")]
    Invalid {
        /// Filesystem name.
        fs: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A valid filesystem using features the reader does not support.
    #[error("unsupported {fs} feature: {reason}")]
    Unsupported {
        /// Filesystem name.
        fs: &'static str,
        /// Which feature.
        reason: String,
    },
    /// The device failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The crate panicked while opening the volume (caught).
    #[error("reader crashed: {0}")]
    Panic(String),
}

/// Outcome of a walk that ran to its end (or was cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkEnd {
    /// Every directory was visited.
    Complete,
    /// The visitor asked to stop.
    Cancelled,
}

/// A filesystem opened over a volume, ready to hand out its files.
pub trait Walker {
    /// Label, notes, degradation: known once opened.
    fn info(&self) -> VolumeInfo;
    /// Visits every regular file and named stream once. Directory-level failures are
    /// reported to the visitor as `Content::Error` with the directory's path and the walk
    /// goes on with the rest.
    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError>;
}

/// Turns a caught panic payload into text for a record.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `f`, turning a panic into `Err(message)`. Readers wrap every call into a crate with it.
pub fn guard<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

/// Joins a directory path and a child name into a volume path (`/` root, no trailing slash).
pub fn join_path(dir: &str, name: &str) -> String {
    if dir == "/" || dir.is_empty() {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_path_handles_root() {
        assert_eq!(join_path("/", "a"), "/a");
        assert_eq!(join_path("/a", "b"), "/a/b");
    }

    #[test]
    fn guard_catches_panics() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r: Result<(), String> = guard(|| panic!("boom"));
        std::panic::set_hook(prev);
        assert_eq!(r.unwrap_err(), "boom");
    }
}
