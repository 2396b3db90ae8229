//! Tests of the save on real FAT32 images (mtools, fsck.fat, fatfs as the independent
//! reader), and the helpers other modules' tests use.

pub(crate) use super::super::fatlog::tests::{blank_partition, tool};
use super::super::fatlog::tests::{partition, CutStore};
use super::super::fatlog::{DosTime, Vol};
use super::*;
use crate::record::{HostDisk, HostRecord, RulesInfo, RunMode};
use std::collections::BTreeMap;
use std::process::Command;

/// A log partition as `vigie-image` makes it: one FAT copy, then `scanner logpart
/// prepare`'s tokens (`scan_tokens` of them).
pub(crate) fn prepared_partition(mib: u64, scan_tokens: usize) -> Option<Vec<u8>> {
    let img = partition(mib, 1)?;
    let mut vol = Vol::open(store(img, None), DosTime::from_unix(1_795_876_200)).unwrap();
    let p = super::prepare::prepare(&mut vol, scan_tokens).unwrap();
    assert_eq!(p.scan_tokens, scan_tokens);
    assert_eq!(p.index_tokens, 4, "{p:?}");
    assert!(p.lane_bytes > 8 << 20, "{p:?}");
    Some(vol.into_inner().img)
}

/// `fsck.fat -n` on an image: (clean, output).
pub(crate) fn fsck(img: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.img");
    std::fs::write(&p, img).unwrap();
    let out = Command::new("fsck.fat").arg("-n").arg(&p).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Reads a file with the independent reader (fatfs), read-only.
pub(crate) fn read(img: &[u8], path: &str) -> Option<Vec<u8>> {
    let fs =
        fatfs::FileSystem::new(std::io::Cursor::new(img.to_vec()), fatfs::FsOptions::new()).ok()?;
    let mut f = fs.root_dir().open_file(path).ok()?;
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut v).ok()?;
    Some(v)
}

pub(crate) fn sample_host(n: u32) -> HostRecord {
    HostRecord {
        scan_id: format!("VIGIE-TEST-0001-20261128T1430{n:02}Z-00000000000000{n:02}"),
        stick_id: Some("VIGIE-TEST-0001".into()),
        scanner_version: "0.1.0".into(),
        rules: RulesInfo {
            origin: "embedded defaults".into(),
            version: "2026.11.20.1".into(),
            created: Some("2026-11-20T10:00:00Z".into()),
            sha256: "ab".repeat(32),
            rules: 42,
            iocs: 3,
        },
        started: format!("2026-11-28T14:30:{n:02}Z"),
        ended: Some(format!("2026-11-28T14:35:{n:02}Z")),
        clock: "rtc-utc".into(),
        mode: RunMode::Unattended,
        full: true,
        cancelled: false,
        asset_tag: None,
        dmi: BTreeMap::from([
            ("sys_vendor".to_string(), "Dell Inc.".to_string()),
            ("product_name".to_string(), "OptiPlex 7090".to_string()),
            ("product_serial".to_string(), "ABC1234".to_string()),
        ]),
        disks: vec![HostDisk {
            name: "sda".into(),
            model: Some("Samsung SSD 870".into()),
            serial: Some("S5Y1NX".into()),
            size: 256_060_514_304,
            bus: Some("sata".into()),
            scanned: true,
        }],
        windows_names: vec!["PC-ACCUEIL-03".into()],
        linux_names: vec![],
        notes: vec![],
        site: Some("CHU Nantes".into()),
        pseudonymised: false,
        resumed: None,
    }
}

pub(crate) fn sample_lines(findings: usize) -> Vec<String> {
    let mut v = vec![
        r#"{"type":"disk","disk":"/dev/sda","size":256060514304,"table":"gpt","sector_size":512}"#.to_string(),
        r#"{"type":"volume","disk":"/dev/sda","volume":3,"fs":"ntfs","offset":122683392,"size":255000000000,"label":"Windows","status":"scanned","files":120000,"scanned":119990,"skipped":{"too-large":10},"errors":0,"notes":[],"bytes":40000000000}"#.to_string(),
    ];
    for i in 0..findings {
        v.push(format!(r#"{{"type":"finding","disk":"/dev/sda","volume":3,"path":"Users/marie.dupont/Downloads/facture{i}.exe","stream":null,"kind":"yara","rule":"EICAR_Test_File","namespace":"default","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","size":68,"mode":"full"}}"#));
    }
    let verdict = if findings > 0 { "infected" } else { "clean" };
    v.push(format!(r#"{{"type":"summary","verdict":"{verdict}","files":120000,"scanned":119990,"findings":{findings},"bytes":40000000000,"seconds":301.25,"skipped":10,"errors":0,"cancelled":false}}"#));
    v
}

pub(crate) fn opts() -> SaveOptions {
    SaveOptions {
        pseudonymise: false,
        now: 1_795_876_200,
        folder: None,
    }
}

pub(crate) fn store(img: Vec<u8>, cut: Option<usize>) -> CutStore {
    CutStore {
        img,
        writes: 0,
        cut_after: cut,
        log: Vec::new(),
    }
}

#[test]
fn saves_folder_record_report_and_index_that_fsck_accepts() {
    if !tool("fsck.fat") {
        eprintln!("fsck.fat missing: skipped");
        return;
    }
    let Some(img) = blank_partition(40) else {
        return;
    };
    assert!(fsck(&img).0, "{}", fsck(&img).1);
    let mut s = store(img, None);
    for n in 0..3u32 {
        let (saved, back) =
            save_scan_on(s, &sample_host(n), &sample_lines(n as usize), &opts()).unwrap();
        s = back;
        assert_eq!(
            saved.folder,
            format!("VIGIE/scans/2026-11-28_1430{n:02}_PC-ACCUEIL-03")
        );
        assert!(saved.indexed);
        let (ok, text) = fsck(&s.img);
        assert!(ok, "after save {n}: {text}");
    }
    // Same device, same second: a second folder, never an overwrite.
    let (saved, s) = save_scan_on(s, &sample_host(2), &sample_lines(0), &opts()).unwrap();
    assert_eq!(
        saved.folder,
        "VIGIE/scans/2026-11-28_143002_PC-ACCUEIL-03-2"
    );
    let rec = read(
        &s.img,
        "VIGIE/scans/2026-11-28_143001_PC-ACCUEIL-03/record.jsonl",
    )
    .unwrap();
    let rec = String::from_utf8(rec).unwrap();
    assert!(rec.starts_with("{\"type\":\"host\""));
    assert_eq!(rec.lines().count(), 1 + sample_lines(1).len());
    let idx = String::from_utf8(read(&s.img, INDEX).unwrap()).unwrap();
    assert!(idx.starts_with('\u{feff}'));
    assert_eq!(idx.matches("\r\n").count(), 5, "{idx}");
    let (ok, text) = fsck(&s.img);
    assert!(ok, "{text}");
}

#[test]
fn a_full_partition_is_a_typed_error_and_leaves_the_volume_clean() {
    let Some(img) = blank_partition(34) else {
        return;
    };
    let big: Vec<String> = (0..400_000)
        .map(|i| format!("{{\"type\":\"finding\",\"path\":\"{i:0>120}\"}}"))
        .collect();
    let mut s = store(img, None);
    let err = save_scan_on(&mut s, &sample_host(0), &big, &opts())
        .err()
        .unwrap();
    assert!(matches!(err, SaveError::Full(_)), "{err}");
    assert!(err.to_string().contains("full"));
    // Nothing was committed: the volume is as clean as before.
    if tool("fsck.fat") {
        let (ok, text) = fsck(&s.img);
        assert!(ok, "{text}");
    }
    assert!(read(&s.img, INDEX).is_none());
}

/// Cuts the power after every single write of a save, on a partition that already holds
/// records; checks fsck, the earlier records and the index, and that the next save works.
#[test]
fn power_cut_after_every_write_keeps_earlier_records_and_fsck_clean() {
    if !tool("fsck.fat") {
        eprintln!("fsck.fat missing: skipped");
        return;
    }
    let Some(img) = blank_partition(40) else {
        return;
    };
    let mut s = store(img, None);
    for n in 0..2u32 {
        s = save_scan_on(s, &sample_host(n), &sample_lines(1), &opts())
            .unwrap()
            .1;
    }
    let mut base = s.img.clone();
    let fat_region = fat_region(&base);
    let mut windows = Vec::new();
    let mut healed_index = 0;
    // Several saves in turn, each cut after every one of its writes: the index appends
    // cross cluster boundaries in some of them (512-byte clusters).
    for round in 0..4u32 {
        let host = sample_host(10 + round);
        let lines = sample_lines(round as usize + 1);
        let before: Vec<(String, Vec<u8>)> = list_records(&base);
        assert_eq!(before.len(), 2 * (2 + round as usize));
        let idx = read(&base, INDEX).unwrap();
        let full = save_scan_on(store(base.clone(), None), &host, &lines, &opts())
            .unwrap()
            .1;
        let total = full.writes;
        assert!(total > 4, "{total}");
        let mut window = Vec::new();
        for cut in 0..total {
            let mut cs = store(base.clone(), Some(cut));
            let _ = save_scan_on(&mut cs, &host, &lines, &opts());
            let img = cs.img.clone();
            let (ok, text) = fsck(&img);
            let last_fat = cs
                .log
                .last()
                .map(|(o, _)| fat_region.contains(o))
                .unwrap_or(false);
            if !ok {
                // Only inside the commit window (the last write applied was a FAT copy),
                // and only complaints about unowned clusters, the FAT copies, or the
                // index's chain being longer than its size.
                assert!(
                    last_fat,
                    "round {round} cut {cut}, outside the FAT window: {text}"
                );
                for l in text.lines() {
                    assert!(
                        window_line(l),
                        "round {round} cut {cut}: unexpected fsck complaint {l:?} in {text}"
                    );
                }
                window.push(cut);
            }
            // Every earlier record intact, the index at worst missing the newest row.
            for (path, data) in &before {
                assert_eq!(
                    read(&img, path).as_ref(),
                    Some(data),
                    "round {round} cut {cut}"
                );
            }
            let now_idx = read(&img, INDEX).unwrap();
            assert!(
                now_idx.starts_with(&idx),
                "round {round} cut {cut}: index lost rows"
            );
            // The next boot still writes its record, and repairs an over-long index chain.
            let (saved, after) =
                save_scan_on(store(img, None), &sample_host(9), &sample_lines(0), &opts()).unwrap();
            assert!(saved.indexed, "round {round} cut {cut}: index not appended");
            assert!(read(&after.img, &format!("{}/{RECORD_FILE}", saved.folder)).is_some());
            let (ok2, text2) = fsck(&after.img);
            if ok {
                assert!(ok2, "round {round} cut {cut} then a save: {text2}");
            } else {
                assert!(!text2.contains("cluster chain length"), "{text2}");
                if text.contains("cluster chain length") {
                    healed_index += 1;
                }
                for l in text2.lines() {
                    assert!(window_line(l), "round {round} cut {cut} then a save: {l:?}");
                }
            }
        }
        eprintln!(
            "round {round}: {total} writes per save; fsck complained (FAT window only) after cuts {window:?}"
        );
        // The window: the FAT copies of the folder commit, and of the index append when
        // it needs a new cluster.
        assert!(window.len() <= 4, "{window:?}");
        windows.push(window);
        base = full.img;
    }
    eprintln!("index chains repaired by the next save: {healed_index}");
}

fn window_line(l: &str) -> bool {
    let l = l.trim();
    l.is_empty()
        || l.starts_with("fsck.fat")
        || l.contains("FATs differ")
        || l.contains("Using first FAT")
        || l.contains("Reclaimed")
        || l.contains("Leaving filesystem unchanged")
        || l.contains("files,")
        || l.contains("cluster chain length")
        || l.contains("Truncating file")
        || l.contains("Free cluster summary uninitialized")
        || l.starts_with("/SCANS.CSV")
}

/// Every `record.jsonl` and report under VIGIE/scans, with its content (fatfs, read-only).
pub(crate) fn list_records(img: &[u8]) -> Vec<(String, Vec<u8>)> {
    let fs = fatfs::FileSystem::new(std::io::Cursor::new(img.to_vec()), fatfs::FsOptions::new())
        .unwrap();
    let mut out = Vec::new();
    for d in fs.root_dir().open_dir(SCANS_DIR).unwrap().iter() {
        let d = d.unwrap();
        let name = d.file_name();
        let token = d.attributes().contains(fatfs::FileAttributes::HIDDEN);
        if !d.is_dir() || name == "." || name == ".." || token {
            continue;
        }
        for f in [RECORD_FILE, REPORT_FILE] {
            let p = format!("{SCANS_DIR}/{name}/{f}");
            let data = read(img, &p).unwrap();
            out.push((p, data));
        }
    }
    out.sort();
    out
}

/// Byte range of the FAT copies of an image.
fn fat_region(img: &[u8]) -> std::ops::Range<u64> {
    let bps = u64::from(u16::from_le_bytes([img[11], img[12]]));
    let rsvd = u64::from(u16::from_le_bytes([img[14], img[15]]));
    let nf = u64::from(img[16]);
    let fsz = u64::from(u32::from_le_bytes([img[36], img[37], img[38], img[39]]));
    rsvd * bps..(rsvd + nf * fsz) * bps
}

#[test]
fn golden_record_report_and_index() {
    let host = sample_host(7);
    let lines = sample_lines(2);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let cases = [
        ("record.jsonl", record_text(&host, &lines)),
        ("rapport-report.txt", human_report(&host, &lines)),
        (
            "index.csv",
            index_head() + &index_row(&host, &lines, &folder_name(&host)),
        ),
    ];
    for (name, got) in cases {
        let p = dir.join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&p, &got).unwrap();
        }
        let want = std::fs::read_to_string(&p).unwrap_or_default();
        assert_eq!(
            got,
            want,
            "{name} differs from {} (UPDATE_GOLDEN=1 to accept)",
            p.display()
        );
    }
    let report = human_report(&host, &lines);
    assert!(report.starts_with('\u{feff}'));
    assert!(report
        .split('\n')
        .all(|l| l.ends_with('\r') || l.is_empty()));
    assert!(report.ends_with("\r\n"));
    assert!(!report.replace("\r\n", "").contains('\n'));
}

#[test]
fn pseudonymised_save_keeps_the_key_and_hides_names() {
    let Some(img) = blank_partition(40) else {
        return;
    };
    let o = SaveOptions {
        pseudonymise: true,
        now: 1_795_876_200,
        folder: None,
    };
    let (saved, s) = save_scan_on(store(img, None), &sample_host(1), &sample_lines(2), &o).unwrap();
    let key = read(&s.img, KEY_FILE).unwrap();
    assert_eq!(key.len(), 32);
    let rec = String::from_utf8(read(&s.img, &format!("{}/{RECORD_FILE}", saved.folder)).unwrap())
        .unwrap();
    assert!(
        !rec.contains("marie.dupont") && !rec.contains("facture"),
        "{rec}"
    );
    assert!(rec.contains("EICAR_Test_File") && rec.contains("275a021bbfb6489e"));
    assert!(rec.contains("\"pseudonymised\":true"));
    // The same key is reused: same pseudonyms on the next scan.
    let (saved2, s) = save_scan_on(s, &sample_host(2), &sample_lines(2), &o).unwrap();
    assert_eq!(read(&s.img, KEY_FILE).unwrap(), key);
    let rec2 =
        String::from_utf8(read(&s.img, &format!("{}/{RECORD_FILE}", saved2.folder)).unwrap())
            .unwrap();
    let path = |r: &str| {
        r.lines()
            .find(|l| l.contains("finding"))
            .unwrap()
            .split("\"path\":")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(path(&rec), path(&rec2));
    if tool("fsck.fat") {
        assert!(fsck(&s.img).0, "{}", fsck(&s.img).1);
    }
}

/// Runs `op` on `base` once whole (returns its writes), then once cut after each of its
/// writes: `fsck.fat -n` after every cut, then `check(image, cut)`. Returns (writes, damaged
/// cut points).
pub(crate) fn cut_everywhere(
    label: &str,
    base: &[u8],
    op: &dyn Fn(&mut CutStore),
    check: &dyn Fn(&[u8], usize),
) -> (usize, usize) {
    let mut whole = store(base.to_vec(), None);
    op(&mut whole);
    let total = whole.writes;
    let mut bad = Vec::new();
    for cut in 0..total {
        let mut cs = store(base.to_vec(), Some(cut));
        op(&mut cs);
        let (ok, text) = fsck(&cs.img);
        if !ok {
            bad.push((cut, text));
        }
        check(&cs.img, cut);
    }
    eprintln!("{label}: {total} writes, {} damaged cut points", bad.len());
    assert!(
        bad.is_empty(),
        "{label}: fsck complained after cuts {bad:?}"
    );
    (total, bad.len())
}
