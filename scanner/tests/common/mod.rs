//! Helpers for the end-to-end tests of the `scanner` binary: building the test images once
//! (`scripts/make-test-images`), unpacking third-party oracle images into the ignored cache (the lib's own locator, included), running
//! `scanner scan --json` with a time limit, and checking what every run must satisfy whatever the
//! image: the JSON Lines contract, the accounting, the exit status, no panic, and the target's bytes
//! unchanged (SHA-256 before and after).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The oracle locator, the very file the unit tests use (one copy, std only); see its doc.
#[path = "../../src/testutil/oracles.rs"]
mod oracles;
#[allow(unused_imports)] // each test binary uses a subset
pub use oracles::{oracle, oracle_zip_member, oracles_dir};

/// SHA-256 of the 68-byte EICAR test string.
pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// The rule of the project's default rule set that matches EICAR.
pub const EICAR_RULE: &str = "EICAR_Test_File";

/// Longest a single scan may take before the test fails (a hang is a bug, not a slow test).
const SCAN_TIME_LIMIT: Duration = Duration::from_secs(600);

/// The EICAR test string, assembled at run time so that the source never holds it whole.
pub fn eicar() -> Vec<u8> {
    [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
        "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat()
    .into_bytes()
}

/// The workspace root (the directory holding `scanner/` and `scripts/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent")
        .to_path_buf()
}

/// Every image that `scripts/make-test-images` builds, by name (`mbr-mixed`, ...). The script
/// runs once per test process (it caches, and takes a lock against other test binaries).
pub fn images() -> &'static BTreeMap<String, PathBuf> {
    static IMAGES: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let script = repo_root().join("scripts/make-test-images");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed:\n{}\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let list = Command::new("bash")
            .arg(&script)
            .arg("--list")
            .output()
            .expect("make-test-images --list");
        assert!(list.status.success());
        let map: BTreeMap<String, PathBuf> = String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(PathBuf::from)
            .map(|p| {
                let name = p
                    .file_stem()
                    .expect("image name")
                    .to_string_lossy()
                    .into_owned();
                assert!(p.is_file(), "image {} was not built", p.display());
                (name, p)
            })
            .collect();
        assert!(!map.is_empty(), "make-test-images --list printed nothing");
        map
    })
}

/// Path of one built test image.
pub fn image(name: &str) -> PathBuf {
    images()
        .get(name)
        .unwrap_or_else(|| panic!("no test image named {name}"))
        .clone()
}

/// The ignored cache folder of these tests (`.cache/test/cli`).
pub fn cache_dir() -> PathBuf {
    let p = repo_root().join(".cache/test/cli");
    std::fs::create_dir_all(&p).expect("create test cache");
    p
}

/// Lowercase hex: the library's one copy.
pub use vigie::hex::hex;

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed, lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    let mut f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read file to hash");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(&h.finalize())
}

/// A sparse copy of `src` at `dst` (the test images are mostly holes).
pub fn sparse_copy(src: &Path, dst: &Path) {
    let st = Command::new("cp")
        .arg("--sparse=always")
        .arg(src)
        .arg(dst)
        .status()
        .expect("cp");
    assert!(st.success(), "cp {} {}", src.display(), dst.display());
}

/// A partition as sfdisk (the reference tool) sees it.
#[derive(Debug, Clone)]
pub struct Partition {
    /// Linux number (logical from 5).
    pub number: u32,
    /// Byte offset.
    pub offset: u64,
    /// Byte size.
    pub size: u64,
    /// sfdisk's type (`c`, `7`, `5`, or a GPT type GUID).
    pub kind: String,
}

/// The partitions of an image according to `sfdisk --json`.
pub fn sfdisk_partitions(img: &Path) -> Vec<Partition> {
    let out = Command::new("sfdisk")
        .arg("--json")
        .arg(img)
        .output()
        .expect("run sfdisk");
    assert!(out.status.success(), "sfdisk --json {}", img.display());
    let v: Value = serde_json::from_slice(&out.stdout).expect("sfdisk json");
    let table = &v["partitiontable"];
    let sector = table["sectorsize"].as_u64().unwrap_or(512);
    table["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            let node = p["node"].as_str().expect("node");
            let digits: String = node
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Partition {
                number: digits.parse().expect("partition number"),
                offset: p["start"].as_u64().expect("start") * sector,
                size: p["size"].as_u64().expect("size") * sector,
                kind: p["type"].as_str().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// Byte offset of partition `n` of `img` (sfdisk).
pub fn partition_offset(img: &Path, n: u32) -> u64 {
    sfdisk_partitions(img)
        .into_iter()
        .find(|p| p.number == n)
        .unwrap_or_else(|| panic!("no partition {n} in {}", img.display()))
        .offset
}

/// A file of a FAT volume at byte `offset` of `img`, read by mtools (the reference reader).
pub fn mtools_read(img: &Path, offset: u64, path: &str) -> Vec<u8> {
    let out = Command::new("mtype")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@{offset}", img.display()))
        .arg(format!("::{path}"))
        .output()
        .expect("run mtype");
    assert!(
        out.status.success(),
        "mtype {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    /// Exit status (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `scanner ARGS` with a time limit; fails the test on a hang or a panic message.
pub fn run_scanner(args: &[OsString]) -> Run {
    let exe = env!("CARGO_BIN_EXE_scanner");
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait scanner") {
            break st;
        }
        if start.elapsed() > SCAN_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scanner {args:?} still running after {SCAN_TIME_LIMIT:?}: hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().expect("stderr reader")).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "scanner {args:?} panicked:\n{stderr}"
    );
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// `scanner scan [EXTRA...] TARGETS...` without `--json`; targets hashed before and after.
pub fn scan_human(targets: &[&Path], extra: &[&str]) -> Run {
    let before: Vec<String> = targets.iter().map(|t| sha256_file(t)).collect();
    let mut args: Vec<OsString> = vec!["scan".into()];
    args.extend(extra.iter().map(OsString::from));
    args.extend(targets.iter().map(|t| t.as_os_str().to_owned()));
    let run = run_scanner(&args);
    for (t, h) in targets.iter().zip(&before) {
        assert_eq!(
            &sha256_file(t),
            h,
            "{} changed during the scan",
            t.display()
        );
    }
    run
}

/// A parsed `scanner scan --json` run.
#[derive(Debug)]
pub struct Scan {
    /// The raw run.
    pub run: Run,
    /// Every stdout line, parsed.
    pub records: Vec<Value>,
}

impl Scan {
    fn of_type(&self, t: &str) -> Vec<&Value> {
        self.records.iter().filter(|r| r["type"] == t).collect()
    }
    /// `disk` records.
    pub fn disks(&self) -> Vec<&Value> {
        self.of_type("disk")
    }
    /// `volume` records.
    pub fn volumes(&self) -> Vec<&Value> {
        self.of_type("volume")
    }
    /// The volume record numbered `n` (exactly one must exist).
    pub fn volume(&self, n: u64) -> &Value {
        let v: Vec<&Value> = self
            .volumes()
            .into_iter()
            .filter(|v| v["volume"].as_u64() == Some(n))
            .collect();
        assert_eq!(
            v.len(),
            1,
            "expected one volume {n}, got {v:?}\n{}",
            self.run.stdout
        );
        v[0]
    }
    /// `finding` records.
    pub fn findings(&self) -> Vec<&Value> {
        self.of_type("finding")
    }
    /// File findings of one rule (paths from a volume root, not boot areas), as (volume, path,
    /// stream) keys.
    pub fn file_finding_keys(&self, rule: &str) -> Vec<(Option<u64>, String, Option<String>)> {
        self.finding_keys(rule)
            .into_iter()
            .filter(|k| k.1.starts_with('/'))
            .collect()
    }
    /// Findings of one rule, as (volume, path, stream) keys. NTFS metafiles (`/$MFT`, `/$Boot`,
    /// ...) are left out: a scanner may scan them, and `$MFT` then holds every small file's
    /// resident data (so EICAR again), which is not a second planted copy.
    pub fn finding_keys(&self, rule: &str) -> Vec<(Option<u64>, String, Option<String>)> {
        self.findings()
            .into_iter()
            .filter(|f| f["rule"] == rule)
            .filter(|f| !f["path"].as_str().unwrap_or_default().starts_with("/$"))
            .map(|f| {
                (
                    f["volume"].as_u64(),
                    f["path"].as_str().unwrap_or_default().to_string(),
                    f["stream"].as_str().map(str::to_string),
                )
            })
            .collect()
    }
    /// The one finding at (volume, path, stream) for `rule`.
    pub fn finding(
        &self,
        rule: &str,
        volume: Option<u64>,
        path: &str,
        stream: Option<&str>,
    ) -> &Value {
        let f: Vec<&Value> = self
            .findings()
            .into_iter()
            .filter(|f| {
                f["rule"] == rule
                    && f["volume"].as_u64() == volume
                    && f["path"] == path
                    && f["stream"].as_str() == stream
            })
            .collect();
        assert_eq!(
            f.len(),
            1,
            "expected one {rule} finding at volume {volume:?} {path} stream {stream:?}; findings:\n{}",
            self.findings()
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        f[0]
    }
    /// The summary record.
    pub fn summary(&self) -> &Value {
        self.records.last().expect("at least one record")
    }
    /// The summary's verdict.
    pub fn verdict(&self) -> &str {
        self.summary()["verdict"].as_str().unwrap_or_default()
    }
}

/// Size of an image file, or of a block device (whose metadata length is 0).
pub fn target_size(path: &Path) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return Some(meta.len());
    }
    std::fs::File::open(path).ok()?.seek(SeekFrom::End(0)).ok()
}

/// `scanner scan --json [EXTRA...] TARGETS...`: every target hashed before and after, every line
/// parsed and checked against the contract, the accounting and the exit status checked.
pub fn scan_json(targets: &[&Path], extra: &[&str]) -> Scan {
    let mut all = vec!["--json"];
    all.extend_from_slice(extra);
    let run = scan_human(targets, &all);
    let records: Vec<Value> = run
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "stdout line is not JSON ({e}): {l}\nstderr:\n{}",
                    run.stderr
                )
            })
        })
        .collect();
    let scan = Scan { run, records };
    check_contract(&scan, targets);
    scan
}

fn u(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("field {field} is not an unsigned integer in {v}"))
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is not a string in {v}"))
}

fn one_of(v: &Value, field: &str, allowed: &[&str]) {
    let x = s(v, field);
    assert!(
        allowed.contains(&x),
        "{field}={x:?} not one of {allowed:?} in {v}"
    );
}

const FS_KINDS: &[&str] = &[
    "fat12",
    "fat16",
    "fat32",
    "ntfs",
    "ext2",
    "ext3",
    "ext4",
    "exfat",
    "bitlocker",
    "luks",
    "lvm",
    "raid",
    "swap",
    "unknown",
];
const STATUSES: &[&str] = &["scanned", "partial", "encrypted", "unsupported", "error"];

/// Whether a volume record says that content may have been missed. An `unsupported` volume of
/// kind `unknown` or `swap` is not counted: the engine may judge it negligible (all zeros, a
/// Microsoft reserved partition, swap) and still call the disk clean; a garbage one must make
/// the verdict incomplete, which `garbage_and_empty_files_do_not_crash` and the engine's own
/// tests cover.
pub fn not_fully_scanned(v: &Value) -> bool {
    match v["status"].as_str() {
        Some("scanned") => false,
        Some("unsupported") => !matches!(v["fs"].as_str(), Some("unknown" | "swap")),
        _ => true,
    }
}

/// What every `--json` run must satisfy.
pub fn check_contract(scan: &Scan, targets: &[&Path]) {
    let recs = &scan.records;
    assert!(
        !recs.is_empty(),
        "no output (exit {}), stderr:\n{}",
        scan.run.code,
        scan.run.stderr
    );
    let summaries = recs.iter().filter(|r| r["type"] == "summary").count();
    assert_eq!(summaries, 1, "exactly one summary record expected");
    assert_eq!(
        recs.last().map(|r| &r["type"]),
        Some(&Value::from("summary")),
        "summary must be last"
    );

    let target_names: Vec<String> = targets.iter().map(|t| t.display().to_string()).collect();
    let mut disks_seen = Vec::new();
    let (mut files, mut scanned, mut skipped, mut errors, mut bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut nfindings = 0u64;
    let mut all_volumes_scanned = true;
    // Container members (issue 13): absent fields are zero.
    let mut members = MemberSums::default();
    for r in recs {
        match r["type"].as_str() {
            Some("disk") => {
                let d = s(r, "disk").to_string();
                assert!(
                    target_names.contains(&d),
                    "disk {d} is not one of the targets {target_names:?}"
                );
                let size = u(r, "size");
                let real = target_size(Path::new(&d)).unwrap_or(size);
                assert_eq!(size, real, "disk size of {d}");
                one_of(r, "table", &["gpt", "mbr", "none"]);
                let ss = u(r, "sector_size");
                assert!(ss == 512 || ss == 4096, "sector_size {ss}");
                disks_seen.push(d);
            }
            Some("volume") => {
                let d = s(r, "disk");
                assert!(
                    target_names.iter().any(|t| t == d),
                    "volume of unknown disk {d}"
                );
                u(r, "volume");
                one_of(r, "fs", FS_KINDS);
                one_of(r, "status", STATUSES);
                u(r, "offset");
                u(r, "size");
                assert!(
                    r["label"].is_null() || r["label"].is_string(),
                    "label in {r}"
                );
                assert!(r["notes"].is_array(), "notes in {r}");
                let skipped_map = r["skipped"]
                    .as_object()
                    .unwrap_or_else(|| panic!("skipped in {r}"));
                let sk: u64 = skipped_map
                    .values()
                    .map(|n| n.as_u64().unwrap_or_else(|| panic!("skipped count in {r}")))
                    .sum();
                let (f, sc, e) = (u(r, "files"), u(r, "scanned"), u(r, "errors"));
                assert_eq!(f, sc + sk + e, "files != scanned + skipped + errors in {r}");
                files += f;
                scanned += sc;
                skipped += sk;
                errors += e;
                bytes += u(r, "bytes");
                members.add(r);
                if not_fully_scanned(r) {
                    all_volumes_scanned = false;
                }
            }
            Some("finding") => {
                nfindings += 1;
                let d = s(r, "disk");
                assert!(
                    target_names.iter().any(|t| t == d),
                    "finding on unknown disk {d}"
                );
                assert!(
                    r["volume"].is_null() || r["volume"].is_u64(),
                    "volume in {r}"
                );
                let p = s(r, "path");
                assert!(p.starts_with('/') || p.starts_with('<'), "path {p}");
                assert!(
                    r["stream"].is_null() || r["stream"].is_string(),
                    "stream in {r}"
                );
                one_of(r, "kind", &["yara", "hash"]);
                s(r, "rule");
                s(r, "namespace");
                let h = s(r, "sha256");
                assert!(
                    h.len() == 64
                        && h.chars()
                            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
                    "sha256 {h}"
                );
                u(r, "size");
                one_of(r, "mode", &["full", "blocks"]);
                if let Some(m) = r.get("member") {
                    let m = m
                        .as_str()
                        .unwrap_or_else(|| panic!("member is not a string in {r}"));
                    assert!(
                        !m.is_empty() && !m.starts_with('/') && !m.ends_with("//"),
                        "member {m:?}"
                    );
                }
            }
            Some("summary") => {}
            // Evidence ZIP (issue 14): counts add up, stable codes.
            Some("evidence") => {
                one_of(r, "status", &["saved", "pending", "not_saved", "empty"]);
                let items = r["items"].as_array().expect("evidence items");
                assert_eq!(
                    u(r, "copied") + u(r, "not_copied"),
                    items.len() as u64,
                    "evidence counts in {r}"
                );
                for i in items {
                    if let Some(reason) = i.get("reason") {
                        one_of(
                            &serde_json::json!({ "reason": reason }),
                            "reason",
                            &[
                                "file_limit",
                                "total_limit",
                                "not_found",
                                "unreadable",
                                "not_a_file",
                                "changed",
                            ],
                        );
                    }
                }
            }
            other => panic!("unknown record type {other:?}: {r}"),
        }
    }
    for t in &target_names {
        assert_eq!(
            disks_seen.iter().filter(|d| *d == t).count(),
            1,
            "one disk record expected for {t}"
        );
    }

    let sum = scan.summary();
    one_of(sum, "verdict", &["infected", "incomplete", "clean"]);
    assert_eq!(u(sum, "files"), files, "summary files != sum over volumes");
    assert_eq!(
        u(sum, "scanned"),
        scanned,
        "summary scanned != sum over volumes"
    );
    assert_eq!(
        u(sum, "skipped"),
        skipped,
        "summary skipped != sum over volumes"
    );
    assert_eq!(
        u(sum, "errors"),
        errors,
        "summary errors != sum over volumes"
    );
    // Boot areas (<mbr>, <boot sector>) may add bytes outside any volume's files.
    assert!(u(sum, "bytes") >= bytes, "summary bytes < sum over volumes");
    assert_eq!(
        u(sum, "findings"),
        nfindings,
        "summary findings != finding records"
    );
    assert!(sum["seconds"].as_f64().is_some(), "seconds in {sum}");
    assert_eq!(sum["cancelled"], false, "not cancelled");

    let mut total = MemberSums::default();
    total.add(sum);
    assert_eq!(
        (total.seen, total.scanned, total.skipped, total.errors),
        (
            members.seen,
            members.scanned,
            members.skipped,
            members.errors
        ),
        "summary members != sum over volumes"
    );
    let verdict = s(sum, "verdict");
    if verdict == "clean" {
        assert_eq!(
            members.skipped + members.errors,
            0,
            "clean verdict with members not scanned"
        );
    }
    if nfindings == 0 && members.skipped + members.errors > 0 {
        assert_eq!(
            verdict, "incomplete",
            "a member not scanned must not be clean"
        );
    }
    assert_eq!(
        verdict == "infected",
        nfindings > 0,
        "verdict {verdict} with {nfindings} findings"
    );
    if verdict == "clean" {
        assert!(
            all_volumes_scanned,
            "clean verdict with a volume not fully scanned"
        );
        assert_eq!(
            skipped + errors,
            0,
            "clean verdict with skipped or failed files"
        );
    }
    if nfindings == 0 && (!all_volumes_scanned || skipped + errors > 0) {
        assert_eq!(
            verdict, "incomplete",
            "partial coverage must not be called clean"
        );
    }
    let want_code = match verdict {
        "clean" => 0,
        "infected" => 1,
        _ => 2,
    };
    assert_eq!(
        scan.run.code, want_code,
        "exit status for verdict {verdict}\nstderr:\n{}",
        scan.run.stderr
    );
}

/// Member counts of a volume or summary record (absent = 0), checked to add up.
#[derive(Debug, Default)]
struct MemberSums {
    seen: u64,
    scanned: u64,
    skipped: u64,
    errors: u64,
}

impl MemberSums {
    fn add(&mut self, r: &Value) {
        let n = |f: &str| {
            r.get(f)
                .map_or(0, |v| v.as_u64().unwrap_or_else(|| panic!("{f} in {r}")))
        };
        let sk: u64 = r
            .get("members_skipped")
            .map(|m| {
                m.as_object()
                    .unwrap_or_else(|| panic!("members_skipped in {r}"))
                    .values()
                    .map(|v| v.as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0);
        let (seen, sc, e) = (n("members"), n("members_scanned"), n("members_errors"));
        assert_eq!(
            seen,
            sc + sk + e,
            "members != scanned + skipped + errors in {r}"
        );
        self.seen += seen;
        self.scanned += sc;
        self.skipped += sk;
        self.errors += e;
    }
}

/// Rows of an oracle manifest (`#type size md5 sha256 path`) that are regular files.
pub fn manifest_files(rel: &str) -> Vec<(u64, String, String)> {
    let text = std::fs::read_to_string(oracles_dir().join(rel)).expect("read manifest");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() >= 5 && c[0] == "f").then(|| {
                (
                    c[1].parse().expect("size"),
                    c[3].to_string(),
                    c[4].to_string(),
                )
            })
        })
        .collect()
}
