//! The engine's side of resume after a cut (issue 14), through the public API:
//! `ScanOptions::skip_volumes` leaves out exactly the volumes whose key (disk name, partition
//! number, offset, size) it holds, on a real two-partition disk (sfdisk, mkfs.fat, mtools),
//! and nothing else: a key that differs in any part skips nothing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use vigie::record::Record;
use vigie::scan::{Engine, ScanOptions};
use vigie::sink::VecSink;

fn tool(name: &str) -> bool {
    Command::new(name).arg("--help").output().is_ok()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 24 MiB MBR disk with two FAT16 partitions, each holding one EICAR file.
fn two_volume_disk(dir: &Path) -> PathBuf {
    let img = dir.join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(24 << 20)
        .unwrap();
    let mut sf = Command::new("sfdisk");
    sf.arg("-q").arg(&img).stdin(std::process::Stdio::piped());
    let mut child = sf.spawn().expect("sfdisk");
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"label: dos\nstart=2048, size=20480, type=6\nstart=22528, size=20480, type=6\n",
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let eicar = dir.join("eicar.com");
    std::fs::write(&eicar, common::eicar()).unwrap();
    for (n, start) in [(1u32, 2048u64), (2, 22528)] {
        let part = dir.join(format!("p{n}.img"));
        std::fs::File::create(&part)
            .unwrap()
            .set_len(20480 * 512)
            .unwrap();
        run(Command::new("mkfs.fat")
            .args(["-F", "16", "-n"])
            .arg(format!("VOL{n}"))
            .arg(&part));
        run(Command::new("mcopy")
            .arg("-i")
            .arg(&part)
            .arg(&eicar)
            .arg(format!("::/found{n}.com")));
        run(Command::new("dd")
            .arg(format!("if={}", part.display()))
            .arg(format!("of={}", img.display()))
            .args([
                "bs=512",
                &format!("seek={start}"),
                "conv=notrunc",
                "status=none",
            ]));
    }
    img
}

fn scan(img: &Path, skip: BTreeSet<(String, u32, u64, u64)>) -> Vec<Record> {
    let engine = Engine::new(ScanOptions {
        threads: 1,
        skip_volumes: skip,
        ..ScanOptions::default()
    })
    .expect("default rules");
    let mut sink = VecSink::default();
    engine.scan_paths(&[img.to_path_buf()], &mut sink, &AtomicBool::new(false));
    sink.0
}

/// (volume numbers recorded, paths of the file findings).
fn seen(recs: &[Record]) -> (Vec<u32>, Vec<String>) {
    let vols = recs
        .iter()
        .filter_map(|r| match r {
            Record::Volume(v) => Some(v.volume),
            _ => None,
        })
        .collect();
    let mut found: Vec<String> = recs
        .iter()
        .filter_map(|r| match r {
            Record::Finding(f) if f.volume.is_some() && !f.path.starts_with('<') => {
                Some(f.path.clone())
            }
            _ => None,
        })
        .collect();
    found.sort();
    (vols, found)
}

#[test]
fn skip_volumes_leaves_out_exactly_the_listed_volume() {
    if !tool("sfdisk") || !tool("mkfs.fat") || !tool("mcopy") {
        eprintln!("sfdisk, mkfs.fat or mtools missing: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = two_volume_disk(dir.path());
    let before = common::sha256_file(&img);
    let name = img.display().to_string();

    let all = scan(&img, BTreeSet::new());
    let (vols, found) = seen(&all);
    assert_eq!(vols, vec![1, 2]);
    assert_eq!(found.len(), 2, "{found:?}");
    // The key the checkpoint keeps, read from the volume record of the full scan.
    let key = |n: u32| {
        all.iter()
            .find_map(|r| match r {
                Record::Volume(v) if v.volume == n => Some((v.disk.clone(), n, v.offset, v.size)),
                _ => None,
            })
            .unwrap()
    };
    let k1 = key(1);
    assert_eq!(k1.0, name);
    assert_eq!(k1.2, 2048 * 512);

    let resumed = scan(&img, BTreeSet::from([k1.clone()]));
    let (vols, found) = seen(&resumed);
    assert_eq!(vols, vec![2], "volume 1 was read again");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("found2.com"), "{found:?}");
    let Some(Record::Summary(s)) = resumed.last() else {
        panic!("no summary last")
    };
    let listed = resumed
        .iter()
        .filter(|r| matches!(r, Record::Finding(_)))
        .count();
    assert_eq!(s.findings as usize, listed);

    // A key that differs in any one part (another disk, number, offset or size) skips nothing.
    let others = [
        (format!("{name}x"), k1.1, k1.2, k1.3),
        (k1.0.clone(), 3, k1.2, k1.3),
        (k1.0.clone(), k1.1, k1.2 + 512, k1.3),
        (k1.0.clone(), k1.1, k1.2, k1.3 - 512),
    ];
    for other in others {
        let (vols, _) = seen(&scan(&img, BTreeSet::from([other.clone()])));
        assert_eq!(vols, vec![1, 2], "{other:?} skipped a volume");
    }
    // Both skipped: no volume read, the boot area of the disk still scanned.
    let (vols, found) = seen(&scan(&img, BTreeSet::from([k1, key(2)])));
    assert!(vols.is_empty() && found.is_empty(), "{vols:?} {found:?}");
    assert_eq!(common::sha256_file(&img), before, "the disk image changed");
}
