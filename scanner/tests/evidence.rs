//! `scanner scan --evidence DIR` on a real image (mbr-mixed: FAT32, NTFS with a stream, a
//! compressed and a sparse file, ext4, FAT16, EICAR everywhere): the ZIP opens with 7-Zip and
//! the password `infected`, not with another one; the extracted bytes are the detected files';
//! limits make files listed-but-not-copied and the record says so.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

fn have_7z() -> bool {
    Command::new("7z").arg("i").output().is_ok()
}

fn evidence_of(scan: &Scan) -> Value {
    let ev: Vec<&Value> = scan
        .records
        .iter()
        .filter(|r| r["type"] == "evidence")
        .collect();
    assert_eq!(ev.len(), 1, "one evidence record");
    ev[0].clone()
}

fn item<'a>(ev: &'a Value, volume: u64, path: &str, stream: Option<&str>) -> &'a Value {
    ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["volume"] == volume && i["path"] == path && i["stream"].as_str() == stream)
        .unwrap_or_else(|| panic!("no item for {volume} {path} {stream:?}: {ev}"))
}

/// `7z x -p<password>` into `out`; true on success.
fn extract(zip: &Path, password: &str, out: &Path) -> bool {
    let o = Command::new("7z")
        .arg("x")
        .arg("-y")
        .arg(format!("-p{password}"))
        .arg(format!("-o{}", out.display()))
        .arg(zip)
        .output()
        .expect("run 7z");
    o.status.success()
}

#[test]
fn detected_files_are_in_an_aes_zip_that_7zip_opens_with_infected() {
    if !have_7z() {
        eprintln!("7z missing (Debian p7zip-full): skipped");
        return;
    }
    let img = image("mbr-mixed");
    let dir = tempfile::tempdir().unwrap();
    let evdir = dir.path().join("out");
    let evs = evdir.to_str().unwrap();
    let scan = scan_json(&[&img], &["--evidence", evs]);
    assert_eq!(scan.run.code, 1, "{}", scan.run.stderr);
    let ev = evidence_of(&scan);
    assert_eq!(ev["status"], "saved");
    assert_eq!(ev["encryption"], "aes256");
    assert_eq!(ev["password"], "infected");
    assert_eq!(ev["max_file"], 32 << 20);
    // The 50 MiB sparse file is over the default 32 MiB per-file limit.
    let sparse = item(&ev, 2, "/sparse_eicar.bin", None);
    assert_eq!(sparse["copied"], false);
    assert_eq!(sparse["reason"], "file_limit");
    assert_eq!(ev["limits_reached"], serde_json::json!(["file_limit"]));
    let findings = scan.findings();
    let files: std::collections::BTreeSet<(u64, String, Option<String>)> = findings
        .iter()
        .filter(|f| f["volume"].is_u64())
        .map(|f| {
            (
                f["volume"].as_u64().unwrap(),
                f["path"].as_str().unwrap().to_string(),
                f["stream"].as_str().map(String::from),
            )
        })
        .collect();
    let areas = findings.iter().filter(|f| f["volume"].is_null()).count();
    let n_items = ev["items"].as_array().unwrap().len();
    assert!(n_items >= files.len() && n_items <= files.len() + areas);
    assert_eq!(
        ev["copied"].as_u64().unwrap() + ev["not_copied"].as_u64().unwrap(),
        n_items as u64
    );

    let zip = evdir.join("evidence.zip");
    let out = dir.path().join("x");
    assert!(
        !extract(&zip, "wrong", &dir.path().join("bad")),
        "opened with a wrong password"
    );
    assert!(extract(&zip, "infected", &out), "7z x -pinfected failed");
    // Each copied file's bytes are the scanned content's (same SHA-256 as its finding).
    let mut copied = 0;
    for it in ev["items"].as_array().unwrap() {
        if it["copied"] != true {
            assert!(it.get("name").is_none(), "{it}");
            continue;
        }
        copied += 1;
        let name = it["name"].as_str().unwrap();
        assert!(!name.contains("..") && !name.starts_with('/'), "{name}");
        let bytes = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sha256_bytes(&bytes), it["sha256"], "{name}");
        assert_eq!(bytes.len() as u64, it["size"].as_u64().unwrap(), "{name}");
        let finding = findings
            .iter()
            .find(|f| {
                f["path"] == it["path"]
                    && f["volume"] == it["volume"]
                    && f["stream"] == it["stream"]
                    && f.get("member").is_none()
            })
            .expect("finding");
        assert_eq!(finding["sha256"], it["sha256"], "{name}");
    }
    assert!(copied >= 8, "{copied} copied: {ev}");
    // An independent reader (mtools) gives the same bytes for the FAT32 file.
    let fat = item(&ev, 1, "/eicar.com", None);
    let by_mtools = mtools_read(&img, partition_offset(&img, 1), "/eicar.com");
    let ours = std::fs::read(out.join(fat["name"].as_str().unwrap())).unwrap();
    assert_eq!(ours, by_mtools);
    assert_eq!(sha256_bytes(&ours), EICAR_SHA256);
    // The NTFS stream is stored under its own name.
    let ads = item(&ev, 2, "/clean.txt", Some("hidden"));
    assert!(
        ads["name"].as_str().unwrap().ends_with("clean.txt~hidden"),
        "{ads}"
    );
    // The manifest is the record's list.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["items"], ev["items"]);
    // The ZIP is not readable as plain text: EICAR's bytes do not appear in it.
    let raw = std::fs::read(&zip).unwrap();
    assert!(!raw.windows(20).any(|w| w == &eicar()[..20]));

    // A second run never overwrites the ZIP: the record says it was not saved.
    let again = scan_json(&[&img], &["--evidence", evs]);
    let ev2 = evidence_of(&again);
    assert_eq!(ev2["status"], "not_saved");
    assert_eq!(std::fs::read(&zip).unwrap(), raw);
}

#[test]
fn the_limits_list_files_without_copying_them() {
    if !have_7z() {
        eprintln!("7z missing (Debian p7zip-full): skipped");
        return;
    }
    let img = image("mbr-mixed");
    let dir = tempfile::tempdir().unwrap();
    let evdir = dir.path().join("ev");
    let scan = scan_json(
        &[&img],
        &[
            "--evidence",
            evdir.to_str().unwrap(),
            "--evidence-max-file",
            "100K",
            "--evidence-max-total",
            "300",
        ],
    );
    let ev = evidence_of(&scan);
    assert_eq!(ev["max_total"], 300);
    let reached: Vec<&str> = ev["limits_reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(reached, ["file_limit", "total_limit"]);
    // 68-byte files: four fit in 300 bytes, the rest are over the total.
    assert_eq!(ev["copied"], 4, "{ev}");
    assert!(ev["bytes"].as_u64().unwrap() <= 300);
    let big = item(&ev, 2, "/compressed/eicar_compressed.txt", None);
    assert_eq!(
        (big["copied"].as_bool(), big["reason"].as_str()),
        (Some(false), Some("file_limit"))
    );
    assert_eq!(big["size"], 200 * 1024);
    let over: Vec<&Value> = ev["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["reason"] == "total_limit")
        .collect();
    assert!(!over.is_empty());
    for i in &over {
        assert_eq!(i["copied"], false);
    }
    // The listed-but-not-copied files are in the manifest, not in the ZIP.
    let out = dir.path().join("x");
    assert!(extract(&evdir.join("evidence.zip"), "infected", &out));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["items"], ev["items"]);
    let mut extracted = 0;
    for e in walk(&out) {
        if e.file_name().and_then(|n| n.to_str()) != Some("manifest.json") {
            extracted += 1;
        }
    }
    assert_eq!(extracted, 4);
}

#[test]
fn evidence_is_refused_inside_a_scanned_target_and_empty_without_findings() {
    let img = image("gpt-clean");
    // DIR cannot be made where a target file is.
    let run = run_scanner(&[
        "scan".into(),
        "--evidence".into(),
        img.join("sub").into_os_string(),
        img.clone().into_os_string(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--evidence"), "{}", run.stderr);
    // No finding: no ZIP, the record says `empty`.
    let dir = tempfile::tempdir().unwrap();
    let scan = scan_json(&[&img], &["--evidence", dir.path().to_str().unwrap()]);
    assert_eq!(scan.run.code, 0);
    assert_eq!(evidence_of(&scan)["status"], "empty");
    assert!(!dir.path().join("evidence.zip").exists());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
