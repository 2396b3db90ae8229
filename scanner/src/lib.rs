//! Vigie: a read-only disk scanner for machines that may not run an antivirus.
//!
//! The library owns the whole pipeline; the `scanner` binary only parses arguments, picks a
//! sink and maps the verdict to an exit code. Layers, bottom up:
//! - [`io`]: one read-only positional-read abstraction over image files and block devices;
//! - [`disk`]: partition tables and volume detection by signature;
//! - [`fs`]: FAT, NTFS and ext4 walkers over pure-Rust readers, hostile-input-safe;
//! - [`container`]: archives, disk images, OLE files and mail turned into members;
//! - [`scan`]: rules, hash IOCs, worker threads, per-file accounting;
//! - [`record`] and [`sink`]: the JSON Lines contract and where records go.

pub mod bundle;
pub mod cli;
pub mod container;
pub mod disk;
pub mod fs;
pub mod hostinfo;
pub mod init;
pub mod io;
pub mod privacy;
pub mod record;
pub mod report;
pub mod scan;
pub mod sink;
pub mod sys;
pub mod tui;

#[cfg(test)]
pub(crate) mod testutil;
