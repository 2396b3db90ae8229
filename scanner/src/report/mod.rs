//! `scanner report`: the desk-side fleet view of many scan records.
//!
//! Inputs are log partitions (image files or devices), whole stick images, folders of records
//! or single `.jsonl` records. Images and devices are opened `O_RDONLY` through the project's
//! own disk layer and FAT reader (never a mount). Each scan counts once, by its `scan_id`, when
//! several sticks (or copies) hold it. Machines are keyed by DMI serial, falling back to the
//! serials of their scanned disks.

mod format;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::fs::{Content, FileMeta, Walker};
use crate::io::{Device, FileDevice, Slice};
use crate::record::{FindingRecord, HostRecord, Record, SummaryRecord, Verdict, VolumeRecord};

pub use format::{render, Format};

/// A record file larger than this is not read (hostile or mistaken input).
pub const MAX_RECORD: u64 = 256 << 20;
/// At most this many record files per input.
pub const MAX_FILES: usize = 1_000_000;

/// One scan as read from a record.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    /// The host record (synthesised for records written before host records existed).
    pub host: HostRecord,
    /// Volumes.
    pub volumes: Vec<VolumeRecord>,
    /// Findings.
    pub findings: Vec<FindingRecord>,
    /// The summary, if the record has one.
    pub summary: Option<SummaryRecord>,
    /// Where it was read (first source seen).
    pub source: String,
    /// The evidence ZIP's record (issue 14), the last one of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::record::EvidenceRecord>,
}

impl Scan {
    /// The verdict (`None`: the record ends without a summary).
    pub fn verdict(&self) -> Option<Verdict> {
        self.summary.as_ref().map(|s| s.verdict)
    }
}

/// Parses one JSON Lines record; `None` if it holds no scan record at all.
pub fn parse_record(text: &str, source: &str) -> Option<Scan> {
    let mut host = None;
    let mut volumes = Vec::new();
    let mut findings = Vec::new();
    let mut summary = None;
    let mut evidence = None;
    let mut any = false;
    for line in text.lines() {
        let Ok(r) = serde_json::from_str::<Record>(line) else {
            continue;
        };
        any = true;
        match r {
            Record::Host(h) => host = Some(h),
            Record::Volume(v) => volumes.push(v),
            Record::Finding(f) => findings.push(f),
            Record::Summary(s) => summary = Some(s),
            // The stick appends the ZIP's outcome (no items) after the record's own line.
            Record::Evidence(e) => match &mut evidence {
                Some(prev @ crate::record::EvidenceRecord { .. }) if e.items.is_empty() => {
                    prev.status = e.status;
                    prev.notes.extend(e.notes);
                }
                _ => evidence = Some(e),
            },
            Record::Disk(_) | Record::Persistence(_) => {}
        }
    }
    if !any {
        return None;
    }
    let host = host.unwrap_or_else(|| {
        use sha2::Digest;
        let h = sha2::Sha256::digest(text.as_bytes());
        HostRecord {
            scan_id: format!("legacy-{}", hex(&h[..12])),
            clock: "unknown".into(),
            ..HostRecord::default()
        }
    });
    Some(Scan {
        host,
        volumes,
        findings,
        summary,
        source: source.to_string(),
        evidence,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What went wrong with one input (reported, the others are still read).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Nothing usable in it.
    #[error("{0}: {1}")]
    Unusable(String, String),
}

/// Reads every record of one input (folder, `.jsonl` file, FAT image or device).
pub fn read_input(path: &Path) -> Result<Vec<Scan>, InputError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| InputError::Io(name.clone(), e))?;
    if meta.is_dir() {
        return Ok(read_folder(path));
    }
    let is_jsonl = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    if is_jsonl && meta.is_file() {
        let text = read_bounded(path).map_err(|e| InputError::Io(name.clone(), e))?;
        return Ok(parse_record(&text, &name).into_iter().collect());
    }
    let dev = FileDevice::open(path).map_err(|e| InputError::Io(name.clone(), e))?;
    let sector = dev.sector_size();
    let dev: Device = Arc::new(dev);
    read_device(dev, sector, &name)
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let mut b = Vec::new();
    f.take(MAX_RECORD).read_to_end(&mut b)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// Record files under a folder (`*.jsonl`, any depth up to 8, bounded count).
fn read_folder(root: &Path) -> Vec<Scan> {
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, u32)> = vec![(root.to_path_buf(), 0)];
    let mut files = Vec::new();
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 8 => stack.push((p, depth + 1)),
                Ok(t) if t.is_file() => {
                    let ext = p.extension().map(|e| e.to_ascii_lowercase());
                    if ext.as_deref() == Some(std::ffi::OsStr::new("jsonl")) {
                        files.push(p);
                    } else if ext.as_deref() == Some(std::ffi::OsStr::new("img")) {
                        // Images inside a folder are read too.
                        if let Ok(mut v) = read_input(&p) {
                            out.append(&mut v);
                        }
                    }
                }
                _ => {}
            }
            if files.len() >= MAX_FILES {
                break;
            }
        }
    }
    files.sort();
    for p in files {
        if let Ok(t) = read_bounded(&p) {
            if let Some(s) = parse_record(&t, &p.display().to_string()) {
                out.push(s);
            }
        }
    }
    out
}

/// Reads records from a FAT volume, or from each FAT partition of a disk image.
fn read_device(dev: Device, sector: u32, name: &str) -> Result<Vec<Scan>, InputError> {
    use crate::record::FsKind;
    let fat = |k: FsKind| matches!(k, FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32);
    let kind = crate::disk::detect::detect(&*dev).map_err(|e| InputError::Io(name.into(), e))?;
    if fat(kind) {
        return read_fat(dev, name);
    }
    let table = crate::disk::table::read_partition_table(&*dev, Some(sector))
        .map_err(|e| InputError::Unusable(name.into(), e.to_string()))?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in &table.partitions {
        let part: Device = Arc::new(Slice::new(dev.clone(), p.start, p.len));
        if matches!(crate::disk::detect::detect(&*part), Ok(k) if fat(k)) {
            match read_fat(part, &format!("{name}#{}", p.number)) {
                Ok(mut v) => out.append(&mut v),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(InputError::Unusable(name.into(), errors.join("; ")));
    }
    Ok(out)
}

fn read_fat(dev: Device, name: &str) -> Result<Vec<Scan>, InputError> {
    let mut w =
        crate::fs::fat::open(dev).map_err(|e| InputError::Unusable(name.into(), e.to_string()))?;
    let mut out = Vec::new();
    let mut n = 0usize;
    let mut visit = |m: &FileMeta, c: Content<'_>| {
        let p = m.path.trim_start_matches('/').to_ascii_lowercase();
        if p.starts_with("vigie/scans/") && p.ends_with(".jsonl") && m.size <= MAX_RECORD {
            if let Content::Data(r) = c {
                let mut b = Vec::new();
                if r.take(MAX_RECORD).read_to_end(&mut b).is_ok() {
                    let t = String::from_utf8_lossy(&b);
                    if let Some(s) = parse_record(&t, &format!("{name}:/{}", m.path)) {
                        out.push(s);
                    }
                }
            }
            n += 1;
        }
        if n >= MAX_FILES {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    w.walk(&mut visit)
        .map_err(|e| InputError::Unusable(name.into(), e.to_string()))?;
    if w.writes_attempted() != 0 {
        return Err(InputError::Unusable(
            name.into(),
            "the FAT reader tried to write".into(),
        ));
    }
    Ok(out)
}

/// Whether a DMI value identifies anything.
pub fn useful_serial(s: &str) -> bool {
    let l = s.trim().to_ascii_lowercase();
    !(l.is_empty()
        || l.len() < 3
        || [
            "none",
            "default string",
            "to be filled by o.e.m.",
            "not specified",
            "system serial number",
            "0123456789",
            "not applicable",
        ]
        .contains(&l.as_str())
        || l.chars().all(|c| c == '0' || c == ' ' || c == 'f'))
}

/// The machine key: `dmi:<serial>`, else `disks:<serials>`, else `uuid:<SMBIOS UUID>`, else
/// `windows-name:<NAME>` / `linux-name:<name>`, else `unknown:<scan id>`.
pub fn machine_key(h: &HostRecord) -> String {
    if let Some(s) = h.dmi.get("product_serial").filter(|s| useful_serial(s)) {
        return format!("dmi:{}", s.trim());
    }
    let scanned: BTreeSet<&str> = h
        .disks
        .iter()
        .filter(|d| d.scanned)
        .filter_map(|d| d.serial.as_deref())
        .filter(|s| useful_serial(s))
        .collect();
    let all: BTreeSet<&str> = h
        .disks
        .iter()
        .filter(|d| d.bus.as_deref() != Some("usb"))
        .filter_map(|d| d.serial.as_deref())
        .filter(|s| useful_serial(s))
        .collect();
    let set = if scanned.is_empty() { all } else { scanned };
    if !set.is_empty() {
        return format!("disks:{}", set.into_iter().collect::<Vec<_>>().join("+"));
    }
    // Weaker identities, in order: the SMBIOS UUID, then the computer name read from the
    // disks (virtual machines and cheap boards often have neither serial).
    if let Some(u) = h.dmi.get("product_uuid").filter(|s| useful_serial(s)) {
        return format!("uuid:{}", u.trim().to_ascii_lowercase());
    }
    if let Some(n) = h.windows_names.first() {
        return format!("windows-name:{}", n.to_ascii_uppercase());
    }
    if let Some(n) = h.linux_names.first() {
        return format!("linux-name:{n}");
    }
    format!("unknown:{}", h.scan_id)
}

/// What changed between a machine's previous scan and its last one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    /// Previous scan's id.
    pub previous: Option<String>,
    /// Previous verdict.
    pub previous_verdict: Option<Verdict>,
    /// Findings (rule, path, sha256) present now and not before.
    pub new_findings: Vec<String>,
    /// Findings present before and not now.
    pub gone_findings: Vec<String>,
    /// Files seen now minus before.
    pub files_delta: i64,
}

/// A machine and its scans (oldest first).
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Key (see [`machine_key`]).
    pub key: String,
    /// A name for humans (last scan's asset tag / computer name / model).
    pub name: String,
    /// Site of the last scan.
    pub site: Option<String>,
    /// Scans, oldest first.
    pub scans: Vec<Scan>,
    /// Last scan vs the previous one.
    pub changes: Option<Changes>,
}

impl Machine {
    /// The newest scan.
    pub fn last(&self) -> &Scan {
        // Never empty: machines are built from at least one scan.
        &self.scans[self.scans.len() - 1]
    }
}

/// Totals of one site or rule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Machines.
    pub machines: usize,
    /// Scans.
    pub scans: usize,
    /// Machines whose last scan is infected.
    pub infected: usize,
    /// Machines whose last scan is incomplete (or has no verdict).
    pub incomplete: usize,
    /// Machines whose last scan is clean.
    pub clean: usize,
    /// Findings in the machines' last scans.
    pub findings: usize,
}

/// Per-rule totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleTotals {
    /// Findings of this rule over every scan.
    pub findings: usize,
    /// Findings in last scans.
    pub findings_last: usize,
    /// Machines with this rule in their last scan.
    pub machines: usize,
}

/// The merged fleet.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fleet {
    /// Machines by key.
    pub machines: Vec<Machine>,
    /// Per site (`-` for none).
    pub sites: BTreeMap<String, Totals>,
    /// Per rule.
    pub rules: BTreeMap<String, RuleTotals>,
    /// Whole fleet.
    pub total: Totals,
    /// Records read (before merging duplicates).
    pub records_read: usize,
    /// Duplicates merged (same scan id seen again).
    pub duplicates: usize,
    /// Inputs that could not be read.
    pub input_errors: Vec<String>,
}

fn finding_key(f: &FindingRecord) -> String {
    format!("{} {} {}", f.rule, f.location(), f.sha256)
}

/// Merges scans into machines with totals.
pub fn merge(scans: Vec<Scan>) -> Fleet {
    let records_read = scans.len();
    let mut by_id: BTreeMap<String, Scan> = BTreeMap::new();
    for s in scans {
        by_id.entry(s.host.scan_id.clone()).or_insert(s);
    }
    let duplicates = records_read - by_id.len();
    let mut by_machine: BTreeMap<String, Vec<Scan>> = BTreeMap::new();
    for (_, s) in by_id {
        by_machine.entry(machine_key(&s.host)).or_default().push(s);
    }
    let mut fleet = Fleet {
        records_read,
        duplicates,
        ..Fleet::default()
    };
    for (key, mut scans) in by_machine {
        scans.sort_by(|a, b| {
            (a.host.started.as_str(), a.host.scan_id.as_str())
                .cmp(&(b.host.started.as_str(), b.host.scan_id.as_str()))
        });
        let last = &scans[scans.len() - 1];
        let name = crate::text::names::device_name(&last.host);
        let site = last.host.site.clone();
        let changes = (scans.len() >= 2).then(|| {
            let prev = &scans[scans.len() - 2];
            let before: BTreeSet<String> = prev.findings.iter().map(finding_key).collect();
            let now: BTreeSet<String> = last.findings.iter().map(finding_key).collect();
            let files = |s: &Scan| s.summary.as_ref().map(|x| x.files as i64).unwrap_or(0);
            Changes {
                previous: Some(prev.host.scan_id.clone()),
                previous_verdict: prev.verdict(),
                new_findings: now.difference(&before).cloned().collect(),
                gone_findings: before.difference(&now).cloned().collect(),
                files_delta: files(last) - files(prev),
            }
        });
        let site_key = site.clone().unwrap_or_else(|| "-".into());
        for t in [&mut fleet.total, fleet.sites.entry(site_key).or_default()] {
            t.machines += 1;
            t.scans += scans.len();
            match last.verdict() {
                Some(Verdict::Infected) => t.infected += 1,
                // Issue 14: a quick scan with nothing found is not counted clean.
                Some(Verdict::Clean) if !last.summary.as_ref().is_some_and(|s| s.quick_clean()) => {
                    t.clean += 1
                }
                _ => t.incomplete += 1,
            }
            t.findings += last.findings.len();
        }
        let mut rules_last = BTreeSet::new();
        for s in &scans {
            for f in &s.findings {
                fleet.rules.entry(f.rule.clone()).or_default().findings += 1;
            }
        }
        for f in &last.findings {
            fleet.rules.entry(f.rule.clone()).or_default().findings_last += 1;
            rules_last.insert(f.rule.clone());
        }
        for r in rules_last {
            fleet.rules.entry(r).or_default().machines += 1;
        }
        fleet.machines.push(Machine {
            key,
            name,
            site,
            scans,
            changes,
        });
    }
    fleet
}

/// Reads every input and merges them.
pub fn build(inputs: &[PathBuf]) -> Fleet {
    let mut scans = Vec::new();
    let mut errors = Vec::new();
    for i in inputs {
        match read_input(i) {
            Ok(mut v) => scans.append(&mut v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut f = merge(scans);
    f.input_errors = errors;
    f
}

/// `scanner report` arguments.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Log partitions, stick images or devices (read-only), folders of records, `.jsonl` files.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `scanner report`: prints the fleet view; exit status 0, or 2 if an input could not be
/// read or no record was found.
pub fn run(args: &ReportArgs) -> i32 {
    let fleet = build(&args.inputs);
    for e in &fleet.input_errors {
        eprintln!("scanner report: {e}");
    }
    let out = render(&fleet, args.format);
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(out.as_bytes());
    let _ = so.flush();
    if fleet.records_read == 0 || !fleet.input_errors.is_empty() {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, serial: &str, started: &str, findings: &[(&str, &str)]) -> String {
        let mut l = vec![serde_json::json!({
            "type": "host", "scan_id": id, "stick_id": "VIGIE-0001", "scanner_version": "0.1.0",
            "rules": {"origin": "embedded defaults", "version": "2026.11.20.1", "sha256": "00", "rules": 3},
            "started": started, "clock": "rtc-utc", "mode": "unattended", "full": true,
            "dmi": {"product_name": "OptiPlex 7090", "product_serial": serial},
            "windows_names": if serial.starts_with("To be") { vec![] } else { vec![format!("PC-{serial}")] }, "site": "CHU Nantes",
        })
        .to_string()];
        for (r, p) in findings {
            l.push(serde_json::json!({"type":"finding","disk":"/dev/sda","volume":2,"path":p,"stream":null,"kind":"yara","rule":r,"namespace":"default","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","size":68,"mode":"full"}).to_string());
        }
        let v = if findings.is_empty() {
            "clean"
        } else {
            "infected"
        };
        l.push(format!(r#"{{"type":"summary","verdict":"{v}","files":10,"scanned":9,"findings":{},"bytes":5,"seconds":2.5,"skipped":1,"errors":0,"cancelled":false}}"#, findings.len()));
        l.join("\n")
    }

    fn fleet() -> Fleet {
        let scans = [
            rec("s1", "ABC1", "2026-11-01T10:00:00Z", &[]),
            rec(
                "s2",
                "ABC1",
                "2026-11-20T10:00:00Z",
                &[("EICAR_Test_File", "Users/x/a=b|c\\d.exe")],
            ),
            rec(
                "s2",
                "ABC1",
                "2026-11-20T10:00:00Z",
                &[("EICAR_Test_File", "Users/x/a=b|c\\d.exe")],
            ),
            rec("s3", "To be filled by O.E.M.", "2026-11-21T10:00:00Z", &[]),
        ];
        merge(
            scans
                .iter()
                .filter_map(|t| parse_record(t, "test"))
                .collect(),
        )
    }

    #[test]
    fn merges_duplicates_and_tracks_changes() {
        let f = fleet();
        assert_eq!((f.records_read, f.duplicates), (4, 1));
        assert_eq!(f.machines.len(), 2);
        let m = f.machines.iter().find(|m| m.key == "dmi:ABC1").unwrap();
        assert_eq!(m.scans.len(), 2);
        let c = m.changes.as_ref().unwrap();
        assert_eq!(c.previous_verdict, Some(Verdict::Clean));
        assert_eq!(c.new_findings.len(), 1);
        assert_eq!(f.total.infected, 1);
        assert_eq!(f.rules["EICAR_Test_File"].machines, 1);
        assert!(f.machines.iter().any(|m| m.key == "unknown:s3"));
        let mut h = crate::record::HostRecord {
            linux_names: vec!["poste-01".into()],
            ..Default::default()
        };
        assert_eq!(machine_key(&h), "linux-name:poste-01");
        h.dmi.insert("product_uuid".into(), "4C4C4544-0042".into());
        assert_eq!(machine_key(&h), "uuid:4c4c4544-0042");
        h.dmi
            .insert("product_serial".into(), "Default string".into());
        assert_eq!(machine_key(&h), "uuid:4c4c4544-0042");
    }

    #[test]
    fn golden_report_formats() {
        let f = fleet();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        for (fmt, ext) in [
            (Format::Text, "txt"),
            (Format::Csv, "csv"),
            (Format::Json, "json"),
            (Format::Html, "html"),
            (Format::Ecs, "ecs.jsonl"),
            (Format::Cef, "cef"),
        ] {
            let got = render(&f, fmt).replace(env!("CARGO_PKG_VERSION"), "VERSION");
            let p = dir.join(format!("report.{ext}"));
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&p, &got).unwrap();
            }
            let want = std::fs::read_to_string(&p).unwrap_or_default();
            assert_eq!(got, want, "{} (UPDATE_GOLDEN=1 to accept)", p.display());
        }
    }
}
