//! Tests of the stick-side evidence writer on an in-memory log partition.

use super::*;
use crate::init::fatlog::tests::CutStore;
use crate::init::logpart::save_tests::{blank_partition, fsck, read, sample_host, sample_lines};
use crate::init::logpart::{save_scan_on, SaveOptions};

const NOW: u64 = 1_795_876_200;

fn store(img: Vec<u8>) -> CutStore {
    CutStore {
        img,
        writes: 0,
        cut_after: None,
        log: Vec::new(),
    }
}

/// The evidence of `lines`' findings with each file's bytes given here (no host disk).
fn prepared(lines: &[String], content: &[u8]) -> Prepared {
    let findings = findings_of(lines);
    let mut c = crate::evidence::Collector::new(
        std::io::Cursor::new(Vec::new()),
        &findings,
        Limits::stick(),
    );
    for i in 0..c.items().len() {
        c.offer(i, content.len() as u64, &mut &content[..]).unwrap();
    }
    let (record, cur) = c.finish("pending").unwrap();
    Prepared {
        record,
        zip: cur.into_inner(),
    }
}

/// Saves the record with its evidence line as `save_record` does; returns the store and folder.
fn save_record(img: Vec<u8>, lines: &[String], p: &Prepared) -> (CutStore, String) {
    let mut all = lines.to_vec();
    all.push(record_line(p));
    let opts = SaveOptions {
        pseudonymise: false,
        now: NOW,
        folder: None,
    };
    let (saved, s) = save_scan_on(store(img), &sample_host(1), &all, &opts).unwrap();
    (s, saved.folder)
}

fn last_evidence(record: &[u8]) -> EvidenceRecord {
    let text = String::from_utf8_lossy(record);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"type\":\"evidence\""))
        .expect("an evidence line");
    match serde_json::from_str::<Record>(line).unwrap() {
        Record::Evidence(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_zip_goes_into_the_committed_scan_folder() {
    let Some(img) = blank_partition(40) else {
        return;
    };
    let lines = sample_lines(2);
    let p = prepared(&lines, b"not malware, a sample");
    assert_eq!((p.record.copied, p.record.status.as_str()), (2, "pending"));
    let (s, folder) = save_record(img, &lines, &p);
    let (out, s) = save_on(s, &folder, &p, NOW);
    let img = s.unwrap().img;
    assert_eq!(out.status, "saved");
    assert!(out.items.is_empty());
    // A partition without prepared space: the ordered writer, and the outcome says so.
    assert_eq!(out.notes, ["unprotected"]);
    assert_eq!(
        read(&img, &format!("{folder}/{ZIP_NAME}")).as_deref(),
        Some(&p.zip[..])
    );
    let record = read(&img, &format!("{folder}/{RECORD_FILE}")).unwrap();
    assert_eq!(last_evidence(&record).status, "saved");
    // The record's own evidence line keeps the items.
    let text = String::from_utf8_lossy(&record).to_string();
    assert!(text.contains("\"status\":\"pending\"") && text.contains("facture1.exe"));
    // `scanner report` reads the record with the outcome merged in.
    let scan = crate::report::parse_record(&text, "t").unwrap();
    let ev = scan.evidence.unwrap();
    assert_eq!((ev.status.as_str(), ev.items.len()), ("saved", 2));
    if crate::init::logpart::save_tests::tool("fsck.fat") {
        let (clean, out) = fsck(&img);
        assert!(clean, "{out}");
    }
}

#[test]
fn a_full_log_partition_stops_the_evidence_never_the_record() {
    let Some(img) = blank_partition(40) else {
        return;
    };
    let lines = sample_lines(1);
    // Content that does not compress: the ZIP is about as large as the copies.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..2_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let p = prepared(&lines, &noise);
    assert!(p.zip.len() > 1_900_000, "{}", p.zip.len());
    let (s, folder) = save_record(img, &lines, &p);
    // Fill the partition, leaving less room than the ZIP needs.
    let mut vol = Vol::open(s, DosTime::from_unix(NOW)).unwrap();
    let room = vol.free_clusters() * vol.cluster_size();
    let filler = room.saturating_sub(1 << 20) as usize;
    let root = vol.root();
    vol.add(root, &Node::File("FILLER.BIN".into(), vec![0u8; filler]))
        .unwrap();
    let s = vol.into_inner();
    let record_before = read(&s.img, &format!("{folder}/{RECORD_FILE}")).unwrap();
    let (out, s) = save_on(s, &folder, &p, NOW);
    let img = s.unwrap().img;
    assert_eq!(out.status, "not_saved");
    assert_eq!(out.notes, ["log_full"]);
    assert!(read(&img, &format!("{folder}/{ZIP_NAME}")).is_none());
    // The record is intact; the outcome line was appended when it fit.
    let record = read(&img, &format!("{folder}/{RECORD_FILE}")).unwrap();
    assert!(record.starts_with(&record_before));
    assert_eq!(last_evidence(&record).notes, ["log_full"]);
    assert!(outcome_line(&out).contains("log partition full"));
    if crate::init::logpart::save_tests::tool("fsck.fat") {
        let (clean, out) = fsck(&img);
        assert!(clean, "{out}");
    }
}

#[test]
fn nothing_is_written_without_a_zip() {
    let Some(img) = blank_partition(40) else {
        return;
    };
    let lines = sample_lines(0);
    let p = build(&findings_of(&lines), Limits::stick());
    assert_eq!(p.record.status, "empty");
    assert!(p.zip.is_empty());
    let (s, folder) = save_record(img, &lines, &p);
    let before = s.img.clone();
    let (out, s) = save_on(s, &folder, &p, NOW);
    assert_eq!(out.status, "empty");
    assert!(s.unwrap().img == before);
}

#[test]
fn the_child_s_output_is_read_within_the_limits() {
    let limits = Limits {
        max_file: 10,
        max_total: 10,
    };
    let rec = EvidenceRecord {
        status: "pending".into(),
        ..EvidenceRecord::default()
    };
    let line = Record::Evidence(rec.clone()).to_json_line();
    let ok = format!("{line}\nPK..");
    let p = read_child(&mut ok.as_bytes(), limits).unwrap();
    assert_eq!((p.record, p.zip), (rec, b"PK..".to_vec()));
    let mut big = format!("{line}\n").into_bytes();
    big.resize(big.len() + (ZIP_OVERHEAD + 11) as usize, b'x');
    assert!(read_child(&mut &big[..], limits).is_none());
    assert!(read_child(&mut &b"garbage\n"[..], limits).is_none());
}
