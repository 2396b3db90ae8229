//! The command line: argument parsing and the printers (sinks) of `scanner scan`.
//!
//! Arguments are parsed and validated without touching any disk; `main` then builds the engine
//! and maps the verdict to the exit status.

mod human;
pub mod rules;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub use human::HumanSink;

use crate::record::Record;
use crate::scan::ScanOptions;
use crate::sink::Sink;

/// Vigie: read-only disk scanner (FAT, NTFS, ext4) with YARA-X rules and hash IOCs.
#[derive(Debug, Parser)]
#[command(name = "scanner", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan disk images or block devices, strictly read-only.
    ///
    /// Exit status: 0 clean, 1 threats found, 2 errors or incomplete coverage (no threat).
    Scan(ScanArgs),
    /// Rule bundles: keygen, pack, verify; check third-party rule sets.
    Rules(rules::RulesArgs),
    /// Fleet report from scan records: log partitions, stick images or devices (read-only),
    /// folders of records. Formats: text, csv, json, html, ecs, cef.
    Report(crate::report::ReportArgs),
    /// The stick's log partition: `prepare` lays down the space that makes saves power-cut
    /// safe (image builder, desk).
    Logpart(crate::init::logpart::desk::LogpartArgs),
}

/// `scanner scan` arguments.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Disk image files or block devices (opened read-only; BLKROSET on devices).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,
    /// YARA rules: a .yar/.yara file, a directory of them, or a yara-x compiled file.
    /// Default: the embedded rule set.
    #[arg(long, value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Hash IOC list, repeatable: MD5, SHA-1 or SHA-256 digests one per line (the length
    /// tells; optional name, # comments), ClamAV `.hdb`/`.hsb` (`hash:size:name`), or CSV
    /// with a header row naming the hash column (MISP, abuse.ch exports).
    #[arg(long, value_name = "FILE")]
    pub hashes: Vec<PathBuf>,
    /// Print JSON Lines records on stdout (see the README for the contract).
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Files up to this many bytes are scanned whole (with modules); larger files are
    /// streamed in overlapping blocks (patterns only). Suffixes K, M, G accepted.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Count files above --max-file-size as skipped (too_large) instead of streaming them.
    #[arg(long)]
    pub skip_larger: bool,
    /// Per-file rule timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
    /// Do not scan the disks' first MiB and the volumes' boot sectors.
    #[arg(long)]
    pub no_boot_areas: bool,
    /// Do not look inside files (archives, disk images, OLE, mail): outer bytes only.
    #[arg(long)]
    pub no_containers: bool,
    /// Containers inside containers: how deep to look (a top-level file's members are 1).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_depth: u32,
    /// Members looked at per container; the rest count as skipped (archive_limit).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_members: u64,
    /// Largest member (uncompressed); larger ones count as skipped (archive_limit).
    #[arg(long, value_name = "BYTES", default_value = "8G", value_parser = parse_size)]
    pub max_member_size: u64,
    /// Bytes one top-level file may expand to, all members and depths together.
    #[arg(long, value_name = "BYTES", default_value = "16G", value_parser = parse_size)]
    pub max_expanded: u64,
    /// Compression ratio above which a member is a bomb (checked past 16 MiB expanded; a
    /// top-level file also expands to at most this many times its size, 64 MiB at least).
    #[arg(long, value_name = "N", default_value_t = 250)]
    pub max_ratio: u64,
}

impl ScanArgs {
    /// The engine options these arguments ask for.
    pub fn options(&self) -> ScanOptions {
        ScanOptions {
            rules: self.rules.clone(),
            hashes: self.hashes.clone(),
            threads: self.threads,
            max_file_size: self.max_file_size,
            skip_larger: self.skip_larger,
            timeout: Duration::from_secs(self.timeout.max(1)),
            boot_areas: !self.no_boot_areas,
            containers: crate::container::Limits {
                enabled: !self.no_containers,
                max_depth: self.max_depth,
                max_members: self.max_members.max(1),
                max_member_size: self.max_member_size,
                max_expanded: self.max_expanded,
                max_ratio: self.max_ratio.max(1),
            },
        }
    }
}

/// Parses `123`, `64K`, `64M`, `2G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix in {text:?}")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {text:?}"))?;
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("size out of range: {text:?}"))
}

/// Writes each record as one JSON line on stdout.
pub struct JsonLinesSink<W: Write> {
    out: W,
}

impl<W: Write> JsonLinesSink<W> {
    /// Prints to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write> Sink for JsonLinesSink<W> {
    fn record(&mut self, record: &Record) {
        // A closed pipe must not abort the scan; the exit status still tells the verdict.
        let _ = writeln!(self.out, "{}", record.to_json_line());
        if matches!(record, Record::Summary(_)) {
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("10k"), Ok(10 << 10));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn scan_arguments_map_to_options() {
        let cli = Cli::try_parse_from([
            "scanner",
            "scan",
            "--threads",
            "3",
            "--max-file-size",
            "1K",
            "--skip-larger",
            "a.img",
        ])
        .unwrap();
        let Command::Scan(args) = cli.command else {
            panic!("not a scan command")
        };
        let o = args.options();
        assert_eq!(
            (o.threads, o.max_file_size, o.skip_larger, o.boot_areas),
            (3, 1024, true, true)
        );
        assert!(Cli::try_parse_from(["scanner", "scan"]).is_err());
    }
}
