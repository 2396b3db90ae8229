//! Vigie: a read-only disk scanner for machines that may not run an antivirus.
//!
//! The library owns the whole pipeline; the `scanner` binary only parses arguments, picks a
//! sink and maps the verdict to an exit code. Layers, bottom up:
//! - [`io`]: one read-only positional-read abstraction over image files and block devices;
//! - [`disk`]: partition tables and volume detection by signature;
//! - [`fs`]: FAT, NTFS and ext4 walkers over pure-Rust readers, hostile-input-safe;
//! - [`container`]: archives, disk images, OLE files and mail turned into members;
//! - [`scan`]: rules, hash IOCs, worker threads, per-file accounting;
//! - [`record`] and [`sink`]: the JSON Lines contract and where records go;
//! - [`text`]: the sentences people read, per language (notes rendered from their codes).

pub mod bundle;
#[cfg(feature = "engine")]
pub mod cli;
pub mod container;
pub mod disk;
pub mod evidence;
pub mod fault;
pub mod fs;
pub mod hex;
pub mod hostinfo;
#[cfg(feature = "engine")]
pub mod init;
/// Without the rule engine (the fuzz build, `fuzz/`): only the log partition's FAT reader and
/// writer, from the same files.
#[cfg(not(feature = "engine"))]
pub mod init {
    pub mod fatlog;
    pub mod logpart;
}
pub mod io;
pub mod persist;
pub mod privacy;
pub mod record;
pub mod report;
pub mod resumed;
pub mod say;
pub mod scan;
pub mod sink;
pub mod sys;
pub mod text;
#[cfg(feature = "engine")]
pub mod tui;

#[cfg(test)]
pub(crate) mod testutil;
