//! Engine tests over small in-memory disks.

use super::*;
use crate::io::MemDevice;
use crate::record::{FindingKind, Verdict};
use crate::scan::rules::hex;
use crate::sink::VecSink;
use sha2::{Digest, Sha256};

fn eicar() -> Vec<u8> {
    // Built from two halves so the file itself never holds the test string.
    [
        &b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"[..],
        &b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"[..],
    ]
    .concat()
}

fn scan(bytes: Vec<u8>, iocs: &str) -> (SummaryRecord, Vec<Record>) {
    let mut set = HashIocs::default();
    set.load_str(iocs, "test.txt").unwrap();
    let engine = Engine::with(
        RuleSet::defaults().unwrap(),
        set,
        ScanOptions {
            threads: 2,
            ..ScanOptions::default()
        },
    );
    let target = Target {
        name: "mem".into(),
        device: Arc::new(MemDevice::new(bytes)),
        sector_size: None,
    };
    let mut sink = VecSink::default();
    let summary = engine.scan_targets(vec![Ok(target)], &mut sink, &AtomicBool::new(false));
    (summary, sink.0)
}

#[test]
fn eicar_in_the_first_mib_is_found_as_mbr_area() {
    let mut disk = vec![0u8; 2 << 20];
    let e = eicar();
    disk[1000..1000 + e.len()].copy_from_slice(&e);
    let (summary, records) = scan(disk, "");
    assert_eq!(summary.verdict, Verdict::Infected);
    let f: Vec<_> = records
        .iter()
        .filter_map(|r| {
            if let Record::Finding(f) = r {
                Some(f)
            } else {
                None
            }
        })
        .collect();
    assert!(!f.is_empty(), "{records:?}");
    assert_eq!(
        (f[0].path.as_str(), f[0].volume, f[0].rule.as_str()),
        ("<mbr>", None, "EICAR_Test_File")
    );
    assert_eq!(f[0].sha256.len(), 64);
    // Records come in contract order: disk first, summary last.
    assert!(matches!(records.first(), Some(Record::Disk(_))));
    assert!(matches!(records.last(), Some(Record::Summary(_))));
}

#[test]
fn an_empty_disk_is_clean_and_an_unknown_one_incomplete() {
    let (summary, records) = scan(vec![0u8; 1 << 20], "");
    assert_eq!(summary.verdict, Verdict::Clean, "{records:?}");
    let vol = records
        .iter()
        .find_map(|r| {
            if let Record::Volume(v) = r {
                Some(v)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        (vol.volume, vol.fs, vol.status),
        (0, FsKind::Unknown, VolumeStatus::Unsupported)
    );

    let noise: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let (summary, _) = scan(noise, "");
    assert_eq!(summary.verdict, Verdict::Incomplete);
    assert_eq!(summary.verdict.exit_code(), 2);
}

#[test]
fn hash_iocs_match_scanned_content() {
    let data: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8 + 1).collect();
    let digest = hex(&Sha256::digest(&data));
    let (summary, records) = scan(data, &format!("{digest} Known_Bad_Area\n"));
    let f = records
        .iter()
        .find_map(|r| {
            if let Record::Finding(f) = r {
                Some(f)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        (
            f.kind,
            f.rule.as_str(),
            f.namespace.as_str(),
            f.sha256.as_str()
        ),
        (
            FindingKind::Hash,
            "Known_Bad_Area",
            "test.txt",
            digest.as_str()
        )
    );
    assert_eq!(summary.findings, 1);
}

#[test]
fn read_up_to_stops_at_the_cap_and_at_the_end() {
    let data = vec![7u8; 3 * READ_CHUNK + 5];
    let mut buf = Vec::new();
    read_up_to(&mut &data[..], &mut buf, 2 * READ_CHUNK as u64 + 1, 10).unwrap();
    assert_eq!(buf.len(), 2 * READ_CHUNK + 1);
    let mut buf = Vec::new();
    read_up_to(&mut &data[..], &mut buf, u64::MAX, 0).unwrap();
    assert_eq!(buf.len(), data.len());
}

#[test]
fn unopenable_target_makes_the_scan_incomplete() {
    let engine = Engine::new(ScanOptions {
        threads: 1,
        ..ScanOptions::default()
    })
    .unwrap();
    let mut sink = VecSink::default();
    let s = engine.scan_paths(
        &[PathBuf::from("/nonexistent/disk.img")],
        &mut sink,
        &AtomicBool::new(false),
    );
    assert_eq!(s.verdict, Verdict::Incomplete);
    assert!(matches!(&sink.0[0], Record::Disk(d) if d.notes[0].starts_with("cannot open")));
}
