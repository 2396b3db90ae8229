//! `scanner report` on a generated fleet: 5,000 distinct scans of 1,200 machines on three
//! sticks (two folders of records and one FAT32 log partition image written by the stick's own
//! writer), with 500 duplicated records. Checks the totals against the generator's own
//! bookkeeping, the merge of duplicates, and that every output format is well formed. The
//! outputs are left in `.cache/report-test/` for `scripts/report-checks` (LibreOffice in a
//! French locale, headless Chromium).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const MACHINES: usize = 1200;
const SCANS: usize = 5000;
const RULES: [&str; 3] = [
    "EICAR_Test_File",
    "Vigie_Test_Mimikatz",
    "Vigie_Test_Emotet",
];
const SITES: [&str; 3] = ["CHU Nantes", "CH Saint-Nazaire", "Clinique du Parc"];

struct Gen {
    x: u64,
}
impl Gen {
    fn next(&mut self) -> u64 {
        self.x = self
            .x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.x >> 33
    }
}

struct Expect {
    machines: usize,
    infected: usize,
    clean: usize,
    incomplete: usize,
    rule_findings: BTreeMap<String, usize>,
    site_machines: BTreeMap<String, usize>,
    total_findings_all: usize,
}

/// One scan's record lines.
fn record(i: usize, machine: usize, g: &mut Gen) -> (String, &'static str, usize, Vec<String>) {
    let stick = format!("VIGIE-{:04}", i % 3);
    let site = SITES[machine % 3];
    // Machine identity: most by DMI serial, some only by disk serial (O.E.M. placeholder).
    let dmi_serial = if machine % 5 == 4 {
        "To be filled by O.E.M.".to_string()
    } else {
        format!("SN{machine:05}")
    };
    let minute = i; // scans ordered in time by index
    let started = format!(
        "2026-{:02}-{:02}T{:02}:{:02}:00Z",
        1 + (minute / 40_000) % 12,
        1 + (minute / 1440) % 28,
        (minute / 60) % 24,
        minute % 60
    );
    let verdict_pick = g.next() % 10;
    let findings = if verdict_pick < 2 {
        1 + (g.next() % 2) as usize
    } else {
        0
    };
    let verdict = if findings > 0 {
        "infected"
    } else if verdict_pick == 9 {
        "incomplete"
    } else {
        "clean"
    };
    let host = json!({
        "type": "host",
        "scan_id": format!("{stick}-{i:06}-{:016x}", g.next()),
        "stick_id": stick,
        "scanner_version": "0.1.0",
        "rules": {"origin": "embedded defaults", "version": "2026.11.20.1", "sha256": "00", "rules": 10, "iocs": 0},
        "started": started,
        "clock": "rtc-utc",
        "mode": "unattended",
        "full": true,
        "dmi": {"sys_vendor": "Dell Inc.", "product_name": "OptiPlex 7090", "product_serial": dmi_serial},
        "disks": [{"name": "sda", "serial": format!("DISK{machine:05}"), "size": 1, "bus": "sata", "scanned": true}],
        "windows_names": [format!("PC-{machine:05}")],
        "site": site,
    });
    let mut lines = vec![host.to_string()];
    lines.push(json!({"type":"volume","disk":"/dev/sda","volume":1,"fs":"ntfs","offset":1048576,"size":1,"label":null,"status": if verdict == "incomplete" {"partial"} else {"scanned"},"files":100,"scanned":100,"skipped":{},"errors":0,"notes":[],"bytes":1}).to_string());
    let mut rules = Vec::new();
    for k in 0..findings {
        let r = RULES[(machine + k + i) % 3];
        rules.push(r);
        lines.push(json!({"type":"finding","disk":"/dev/sda","volume":1,"path":format!("Users/u{machine}/Downloads/f{k}=a|b\\c.exe"),"stream":null,"kind":"yara","rule":r,"namespace":"default","sha256":format!("{:064x}", k + 1),"size":68,"mode":"full"}).to_string());
    }
    lines.push(json!({"type":"summary","verdict":verdict,"files":100,"scanned":100,"findings":findings,"bytes":1,"seconds":1.5,"skipped":0,"errors":0,"cancelled":false}).to_string());
    let _ = rules;
    (started, verdict, findings, lines)
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--help").output().is_ok()
}

#[test]
fn report_merges_5000_records_from_3_sticks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/report-test");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let mut g = Gen { x: 42 };
    let mut all = Vec::new();
    let mut last: BTreeMap<usize, (String, &str, usize)> = BTreeMap::new();
    let mut exp = Expect {
        machines: MACHINES,
        infected: 0,
        clean: 0,
        incomplete: 0,
        rule_findings: BTreeMap::new(),
        site_machines: BTreeMap::new(),
        total_findings_all: 0,
    };
    for i in 0..SCANS {
        let machine = if i < MACHINES {
            i
        } else {
            (g.next() as usize) % MACHINES
        };
        let (started, verdict, n, lines) = record(i, machine, &mut g);
        for l in &lines {
            if let Ok(v) = serde_json::from_str::<Value>(l) {
                if v["type"] == "finding" {
                    *exp.rule_findings
                        .entry(v["rule"].as_str().unwrap().to_string())
                        .or_default() += 1;
                    exp.total_findings_all += 1;
                }
            }
        }
        let e = last.entry(machine).or_insert((started.clone(), verdict, n));
        if started >= e.0 {
            *e = (started, verdict, n);
        }
        all.push(lines);
    }
    for (m, (_, v, _)) in &last {
        match *v {
            "infected" => exp.infected += 1,
            "clean" => exp.clean += 1,
            _ => exp.incomplete += 1,
        }
        *exp.site_machines
            .entry(SITES[m % 3].to_string())
            .or_default() += 1;
    }
    // Stick A: scans 0..2600 as folders; stick B: 2400..5000 (200 duplicates of A); stick C:
    // a FAT32 log partition image with 300 copies of A's and B's scans.
    let write = |dir: &Path, i: usize, lines: &[String]| {
        let d = dir.join(format!("VIGIE/scans/{i:06}_PC"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("record.jsonl"), lines.join("\n") + "\n").unwrap();
    };
    let a = root.join("stickA");
    let b = root.join("stickB");
    for (i, l) in all.iter().enumerate().take(2600) {
        write(&a, i, l);
    }
    for (i, l) in all.iter().enumerate().skip(2400) {
        write(&b, i, l);
    }
    let mut inputs: Vec<PathBuf> = vec![a, b];
    let mut expected_read = SCANS + 200;
    if tool("mkfs.fat") && tool("mmd") {
        let img = root.join("stickC-logs.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(80 << 20)
            .unwrap();
        assert!(Command::new("mkfs.fat")
            .args(["-F", "32", "-s", "1", "-n", "VIGIE-LOGS"])
            .arg(&img)
            .output()
            .unwrap()
            .status
            .success());
        assert!(Command::new("mmd")
            .arg("-i")
            .arg(&img)
            .args(["::/VIGIE", "::/VIGIE/scans"])
            .status()
            .unwrap()
            .success());
        for k in 0..300 {
            let i = (k * 16) % SCANS;
            let host: vigie::record::HostRecord = match serde_json::from_str(&all[i][0]).unwrap() {
                vigie::record::Record::Host(h) => h,
                _ => unreachable!(),
            };
            vigie::init::logpart::save_scan(
                &img,
                &host,
                &all[i][1..],
                &vigie::init::logpart::SaveOptions {
                    pseudonymise: false,
                    now: 1_795_876_200,
                    folder: None,
                },
            )
            .unwrap();
        }
        if tool("fsck.fat") {
            let out = Command::new("fsck.fat")
                .arg("-n")
                .arg(&img)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        inputs.push(img);
        expected_read += 300;
    }
    let sha_before: Vec<Vec<u8>> = inputs
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let run = |fmt: &str| -> (String, std::time::Duration) {
        let t = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_scanner"))
            .arg("report")
            .args(["--format", fmt])
            .args(&inputs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = String::from_utf8(out.stdout).unwrap();
        std::fs::write(root.join(format!("report.{fmt}")), &s).unwrap();
        (s, t.elapsed())
    };
    // JSON: totals.
    let (js, took) = run("json");
    eprintln!("report --format json on {expected_read} records: {took:?}");
    assert!(took.as_secs() < 60, "{took:?}");
    let doc: Value = serde_json::from_str(&js).unwrap();
    assert_eq!(doc["records_read"], expected_read);
    assert_eq!(doc["duplicates_merged"], expected_read - SCANS);
    assert_eq!(doc["scans"], SCANS);
    assert_eq!(doc["totals"]["machines"], exp.machines);
    assert_eq!(doc["totals"]["infected"], exp.infected);
    assert_eq!(doc["totals"]["clean"], exp.clean);
    assert_eq!(doc["totals"]["incomplete"], exp.incomplete);
    for (r, n) in &exp.rule_findings {
        assert_eq!(doc["rules"][r]["findings"], *n, "rule {r}");
    }
    for (s, n) in &exp.site_machines {
        assert_eq!(doc["sites"][s]["machines"], *n, "site {s}");
    }
    let machines = doc["machines"].as_array().unwrap();
    assert_eq!(machines.len(), MACHINES);
    let by_disk = machines
        .iter()
        .filter(|m| m["key"].as_str().unwrap().starts_with("disks:"))
        .count();
    assert_eq!(by_disk, MACHINES / 5);
    let scans: usize = machines
        .iter()
        .map(|m| m["scans"].as_array().unwrap().len())
        .sum();
    assert_eq!(scans, SCANS);
    // Every machine with 2+ scans says what changed.
    assert!(machines
        .iter()
        .filter(|m| m["scans"].as_array().unwrap().len() > 1)
        .all(|m| m["changes"]["previous"].is_string()));

    // CEF: one line per scan and per finding, 7 unescaped header pipes, extension well formed.
    let (cef, _) = run("cef");
    let lines: Vec<&str> = cef.lines().collect();
    assert_eq!(lines.len(), SCANS + exp.total_findings_all);
    for l in &lines {
        assert!(l.starts_with("CEF:0|Vigie|Vigie scanner|"), "{l}");
        let mut pipes = 0;
        let mut esc = false;
        let mut ext_at = 0;
        for (i, c) in l.char_indices() {
            if esc {
                esc = false;
                continue;
            }
            match c {
                '\\' => esc = true,
                '|' => {
                    pipes += 1;
                    if pipes == 7 {
                        ext_at = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        assert_eq!(pipes, 7, "{l}");
        // Every unescaped '=' follows a key made of letters/digits right after a space.
        let ext = &l[ext_at..];
        let bytes = ext.as_bytes();
        let mut esc = false;
        for (i, &c) in bytes.iter().enumerate() {
            if esc {
                esc = false;
                continue;
            }
            if c == b'\\' {
                esc = true;
            } else if c == b'=' {
                let key_start = ext[..i].rfind(' ').map(|p| p + 1).unwrap_or(0);
                let key = &ext[key_start..i];
                assert!(
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()),
                    "bad key {key:?} in {l}"
                );
            }
        }
    }
    // ECS: JSON lines with the ECS basics.
    let (ecs, _) = run("ecs");
    let mut alerts = 0;
    for l in ecs.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(v["@timestamp"].is_string());
        assert_eq!(v["event"]["module"], "vigie");
        if v["event"]["kind"] == "alert" {
            alerts += 1;
            assert_eq!(v["file"]["hash"]["sha256"].as_str().unwrap().len(), 64);
        }
    }
    assert_eq!(alerts, exp.total_findings_all);
    // CSV: BOM, CRLF, one row per machine, 15 quoted fields.
    let (csv, _) = run("csv");
    assert!(csv.starts_with('\u{feff}'));
    let rows: Vec<&str> = csv
        .trim_start_matches('\u{feff}')
        .split("\r\n")
        .filter(|r| !r.is_empty())
        .collect();
    assert_eq!(rows.len(), MACHINES + 1);
    for r in &rows {
        assert_eq!(r.matches("\";\"").count(), 14, "{r}");
    }
    // HTML: one page, one row per machine.
    let (html, _) = run("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<tr class=").count(), MACHINES);
    assert!(!html.contains("<script"));
    // Text.
    let (text, _) = run("text");
    assert!(text.starts_with(&format!(
        "Vigie fleet report: {MACHINES} machines, {SCANS} scans"
    )));
    // Inputs untouched.
    let sha_after: Vec<Vec<u8>> = inputs
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(sha_before == sha_after, "an input image changed");
    let _ = BTreeSet::<u8>::new();
}
