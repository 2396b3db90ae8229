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
    /// Evidence for the CERT (issue 14).
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    /// Quick scan: boot areas, autostart targets, then executables, scripts, macro documents,
    /// archives and shortcuts (by content) in user profiles, ProgramData, Windows/Temp, volume
    /// roots and FAT/exFAT volumes. Its clean verdict says "no threat in the high-risk areas".
    #[arg(long)]
    pub quick: bool,
}

// --- Evidence (issue 14) --------------------------------------------------------------------

/// `--evidence DIR` and its limits.
#[derive(Debug, Clone, clap::Args)]
pub struct EvidenceArgs {
    /// After the scan, copy every detected file into DIR/evidence.zip (AES-256, password
    /// `infected`) with a manifest. DIR is created if missing; an existing evidence.zip is
    /// never overwritten. DIR may not be on a scanned target.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// Largest file copied into the evidence ZIP (larger ones are listed, not copied).
    #[arg(long, value_name = "BYTES", default_value = "32M", value_parser = parse_size)]
    pub evidence_max_file: u64,
    /// Most bytes copied into the evidence ZIP in one scan.
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_size)]
    pub evidence_max_total: u64,
}

impl EvidenceArgs {
    /// The limits these arguments ask for.
    pub fn limits(&self) -> crate::evidence::Limits {
        crate::evidence::Limits {
            max_file: self.evidence_max_file,
            max_total: self.evidence_max_total,
        }
    }
}

/// Why `--evidence DIR` is refused.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceDirError {
    /// Creating or inspecting DIR.
    #[error("--evidence {0}: {1}")]
    Io(String, std::io::Error),
    /// DIR is (inside) a scanned target.
    #[error("--evidence {0}: this folder is on a scanned target ({1}); choose another place")]
    OnTarget(String, String),
}

/// The device number of a block device (or `None` for a regular file).
fn block_rdev(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).ok()?;
    m.file_type().is_block_device().then(|| m.rdev())
}

/// The whole disk a partition's device number belongs to (sysfs `/sys/dev/block/M:m/..`).
fn parent_disk(dev: u64) -> Option<u64> {
    let (maj, min) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let link = std::fs::canonicalize(format!("/sys/dev/block/{maj}:{min}")).ok()?;
    link.join("partition").exists().then_some(())?;
    let text = std::fs::read_to_string(link.parent()?.join("dev")).ok()?;
    let (a, b) = text.trim().split_once(':')?;
    Some(nix::sys::stat::makedev(a.parse().ok()?, b.parse().ok()?))
}

/// Creates DIR if needed and checks it is not on a scanned target: not one of the target
/// files, not inside an image being scanned, not on a filesystem of a scanned block device
/// (or of a partition of one). Returns the ZIP's path (which must not exist yet).
pub fn evidence_zip_path(
    dir: &std::path::Path,
    targets: &[PathBuf],
) -> Result<PathBuf, EvidenceDirError> {
    use std::os::unix::fs::MetadataExt;
    let shown = dir.display().to_string();
    std::fs::create_dir_all(dir).map_err(|e| EvidenceDirError::Io(shown.clone(), e))?;
    let real = std::fs::canonicalize(dir).map_err(|e| EvidenceDirError::Io(shown.clone(), e))?;
    let meta = std::fs::metadata(&real).map_err(|e| EvidenceDirError::Io(shown.clone(), e))?;
    for t in targets {
        let tname = t.display().to_string();
        if let Ok(rt) = std::fs::canonicalize(t) {
            if real.starts_with(&rt) {
                return Err(EvidenceDirError::OnTarget(shown, tname));
            }
        }
        if let Some(rdev) = block_rdev(t) {
            let here = meta.dev();
            if here == rdev || parent_disk(here) == Some(rdev) {
                return Err(EvidenceDirError::OnTarget(shown, tname));
            }
        }
    }
    Ok(real.join(crate::evidence::ZIP_NAME))
}

pub use crate::sink::HeldSummary;

/// Writes the evidence ZIP at `zip` (never over an existing file) and sends its record to
/// `sink`; with no finding, no ZIP is written (the record says `empty`). A failure is printed
/// on stderr and recorded as `not_saved` (the partial file is removed).
pub fn write_evidence(
    zip: &std::path::Path,
    findings: &[crate::record::FindingRecord],
    limits: crate::evidence::Limits,
    sink: &mut dyn Sink,
) {
    use crate::evidence::{Collector, EvidenceError};
    let empty = || Collector::new(std::io::Cursor::new(Vec::new()), findings, limits);
    if findings.is_empty() {
        sink.record(&Record::Evidence(empty().record("empty")));
        return;
    }
    let res = std::fs::File::create_new(zip)
        .map_err(EvidenceError::Io)
        .and_then(|f| crate::evidence::read::to_writer(f, findings, limits, "saved"));
    let rec = match res {
        Ok((rec, f)) => match f.sync_all() {
            Ok(()) => rec,
            Err(e) => {
                eprintln!("scanner: {}: {e}", zip.display());
                let mut r = rec;
                r.status = "not_saved".into();
                r.notes.push("write_error".into());
                r
            }
        },
        Err(e) => {
            eprintln!("scanner: {}: {e}", zip.display());
            if !matches!(&e, EvidenceError::Io(io) if io.kind() == std::io::ErrorKind::AlreadyExists)
            {
                let _ = std::fs::remove_file(zip);
            }
            let mut r = empty().record("not_saved");
            r.notes.push("write_error".into());
            r
        }
    };
    sink.record(&Record::Evidence(rec));
}

// --- end of evidence ------------------------------------------------------------------------

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
            quick: self.quick,
            skip_volumes: Default::default(),
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
    fn the_evidence_folder_is_refused_inside_a_target_and_never_reused() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("tree");
        std::fs::create_dir(&target).unwrap();
        let inside = target.join("a/b");
        let err = evidence_zip_path(&inside, std::slice::from_ref(&target)).unwrap_err();
        assert!(matches!(err, EvidenceDirError::OnTarget(..)), "{err}");
        let beside = t.path().join("out");
        let zip = evidence_zip_path(&beside, std::slice::from_ref(&target)).unwrap();
        assert_eq!(zip, beside.canonicalize().unwrap().join("evidence.zip"));
        // A file where DIR should be.
        let file = t.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(
            evidence_zip_path(&file.join("d"), &[]),
            Err(EvidenceDirError::Io(..))
        ));
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
