//! End-to-end tests of `scanner scan` on whole-disk images built by `scripts/make-test-images`
//! from Debian's tools, and on third-party oracle images (`shared/oracles`). Every run also
//! checks, in `common::scan_json`: the JSON Lines contract, the accounting of every volume and of
//! the summary, the exit status, no panic, and each image's SHA-256 unchanged by the scan.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// The 20-level deep path of the FAT32 volume of mbr-mixed.img.
fn deep_path() -> String {
    let mut p = String::new();
    for c in 'a'..='s' {
        p.push('/');
        p.push(c);
    }
    p + "/depth20/eicar.txt"
}

type Key = (Option<u64>, String, Option<String>);

fn key(volume: u64, path: &str, stream: Option<&str>) -> Key {
    (Some(volume), path.to_string(), stream.map(str::to_string))
}

/// Where EICAR was planted in mbr-mixed.img, with the planted file's size.
fn mbr_mixed_expected() -> Vec<(Key, u64)> {
    vec![
        (key(1, "/eicar.com", None), 68),
        (key(1, &deep_path(), None), 68),
        (key(2, "/Users/Public/eicar.com", None), 68),
        (key(2, "/clean.txt", Some("hidden")), 68),
        (key(2, "/compressed/eicar_compressed.txt", None), 200 * 1024),
        (key(2, "/sparse_eicar.bin", None), 50 * 1024 * 1024 + 68),
        (key(2, "/boundary.bin", None), 1024 * 1024 - 30 + 68 + 4096),
        (key(2, "/boundary64k.bin", None), 64 * 1024 - 20 + 68 + 1000),
        (key(5, "/home/user/eicar.txt", None), 68),
        (key(6, "/EICAR.COM", None), 68),
    ]
}

fn sorted(mut v: Vec<Key>) -> Vec<Key> {
    v.sort();
    v
}

/// SHA-256 of the sparse file: 50 MiB of zeros then EICAR.
fn sparse_eicar_sha256() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..50 {
        h.update(&zeros);
    }
    h.update(eicar());
    hex(&h.finalize())
}

fn label(v: &Value) -> Option<String> {
    v["label"].as_str().map(|l| l.trim().to_string())
}

#[test]
fn eicar_string_is_the_real_one() {
    assert_eq!(eicar().len(), 68);
    assert_eq!(sha256_bytes(&eicar()), EICAR_SHA256);
}

#[test]
fn mbr_mixed_finds_eicar_in_every_filesystem_and_corner() {
    let img = image("mbr-mixed");
    let scan = scan_json(&[&img], &["--timeout", "60"]);
    assert_eq!(scan.verdict(), "infected");
    assert_eq!(scan.run.code, 1);

    let disks = scan.disks();
    assert_eq!(disks[0]["table"], "mbr");
    assert_eq!(disks[0]["sector_size"], 512);

    // Volumes where sfdisk puts them, with the filesystem mkfs wrote and its label.
    let parts = sfdisk_partitions(&img);
    for (n, fs, lbl) in [
        (1, "fat32", "MIXFAT32"),
        (2, "ntfs", "MIXNTFS"),
        (5, "ext4", "MIXEXT4"),
        (6, "fat16", "MIXFAT16"),
    ] {
        let v = scan.volume(n);
        let p = parts
            .iter()
            .find(|p| u64::from(p.number) == n)
            .expect("sfdisk partition");
        assert_eq!(v["fs"], fs, "volume {n}");
        assert_eq!(v["offset"].as_u64(), Some(p.offset), "volume {n} offset");
        assert_eq!(v["size"].as_u64(), Some(p.size), "volume {n} size");
        assert_eq!(label(v).as_deref(), Some(lbl), "volume {n} label");
        assert_eq!(v["status"], "scanned", "volume {n}: {v}");
        assert!(
            v["files"].as_u64().unwrap_or(0) >= 3,
            "volume {n} files: {v}"
        );
    }

    // Every planted EICAR found exactly once, nowhere else (no DOS-name or hard-link duplicates).
    let expected = mbr_mixed_expected();
    let want = sorted(expected.iter().map(|(k, _)| k.clone()).collect());
    assert_eq!(sorted(scan.finding_keys(EICAR_RULE)), want);
    for ((volume, path, stream), size) in &expected {
        let f = scan.finding(EICAR_RULE, *volume, path, stream.as_deref());
        assert_eq!(f["kind"], "yara");
        assert_eq!(f["size"].as_u64(), Some(*size), "size of {path}");
        if *size == 68 {
            assert_eq!(f["sha256"], EICAR_SHA256, "{path} {stream:?}");
        }
    }
    // The sparse file's hole is read as zeros: the hash covers the whole logical content.
    let sparse = scan.finding(EICAR_RULE, Some(2), "/sparse_eicar.bin", None);
    assert_eq!(sparse["sha256"], sparse_eicar_sha256().as_str());
    // The compressed file is scanned decompressed: the hash is not EICAR's and the size is
    // the logical size, and EICAR straddles two compression units.
    let comp = scan.finding(
        EICAR_RULE,
        Some(2),
        "/compressed/eicar_compressed.txt",
        None,
    );
    assert_ne!(comp["sha256"], EICAR_SHA256);
}

#[test]
fn no_partition_table_is_volume_zero() {
    let img = image("nofs-table");
    let scan = scan_json(&[&img], &[]);
    assert_eq!(scan.disks()[0]["table"], "none");
    assert_eq!(scan.volumes().len(), 1, "{}", scan.run.stdout);
    let v = scan.volume(0);
    assert_eq!(v["fs"], "ntfs");
    assert_eq!(v["offset"], 0);
    assert_eq!(
        v["size"].as_u64(),
        Some(std::fs::metadata(&img).expect("stat").len())
    );
    assert_eq!(label(v).as_deref(), Some("NOTABLE"));
    // On a disk without a table, the first MiB scanned as `<mbr>` is the filesystem's own start
    // (here the $MFT with EICAR's resident copy): a `<mbr>` finding is legitimate there.
    assert_eq!(
        sorted(scan.file_finding_keys(EICAR_RULE)),
        vec![key(0, "/eicar.com", None)]
    );
    assert_eq!(scan.verdict(), "infected");
    assert_eq!(scan.run.code, 1);
}

#[test]
fn gpt_clean_is_clean_with_exit_0() {
    let img = image("gpt-clean");
    let scan = scan_json(&[&img], &["--threads", "1"]);
    assert_eq!(scan.disks()[0]["table"], "gpt");
    let parts = sfdisk_partitions(&img);
    for (n, fs) in [(1, "fat32"), (2, "ext4"), (3, "ntfs")] {
        let v = scan.volume(n);
        let p = parts
            .iter()
            .find(|p| u64::from(p.number) == n)
            .expect("sfdisk partition");
        assert_eq!(v["fs"], fs);
        assert_eq!(v["offset"].as_u64(), Some(p.offset));
        assert_eq!(v["status"], "scanned", "{v}");
        assert!(v["files"].as_u64().unwrap_or(0) >= 3, "{v}");
    }
    assert_eq!(scan.findings().len(), 0, "{}", scan.run.stdout);
    assert_eq!(scan.verdict(), "clean");
    assert_eq!(scan.run.code, 0);
}

#[test]
fn bitlocker_like_volume_is_encrypted_and_verdict_incomplete() {
    let img = image("bitlocker-like");
    let scan = scan_json(&[&img], &[]);
    let v1 = scan.volume(1);
    assert_eq!(v1["fs"], "bitlocker", "{v1}");
    assert_eq!(v1["status"], "encrypted", "{v1}");
    let v2 = scan.volume(2);
    assert_eq!(v2["fs"], "ext4");
    assert_eq!(v2["status"], "scanned");
    assert!(v2["scanned"].as_u64().unwrap_or(0) >= 3, "{v2}");
    assert_eq!(scan.findings().len(), 0);
    assert_eq!(scan.verdict(), "incomplete");
    assert_eq!(scan.run.code, 2);
}

#[test]
fn hash_ioc_list_flags_clean_files() {
    let img = image("mbr-mixed");
    // Reference content from the reference readers: mtools for FAT, a known literal for ext4.
    let readme = mtools_read(&img, partition_offset(&img, 1), "/readme.txt");
    assert!(readme.starts_with(b"Vigie test image"));
    let readme_sha = sha256_bytes(&readme);
    let notes_sha = sha256_bytes(b"notes, clean\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("iocs.txt");
    std::fs::write(
        &list,
        format!(
            "# IOC list for the CLI test\n\n{readme_sha}  clean_readme\n{notes_sha}\n{}\tnever_present # comment\n",
            "0".repeat(64)
        ),
    )
    .expect("write ioc list");
    let list_arg = list.to_str().expect("utf-8 path");
    let scan = scan_json(&[&img], &["--hashes", list_arg]);

    let hashes: Vec<&Value> = scan
        .findings()
        .into_iter()
        .filter(|f| f["kind"] == "hash")
        .collect();
    assert_eq!(hashes.len(), 2, "{hashes:?}");
    let f = scan.finding("clean_readme", Some(1), "/readme.txt", None);
    assert_eq!(f["kind"], "hash");
    assert_eq!(f["namespace"], "iocs.txt");
    assert_eq!(f["sha256"], readme_sha.as_str());
    assert_eq!(f["size"].as_u64(), Some(readme.len() as u64));
    let g = scan.finding("sha256", Some(5), "/home/user/notes.txt", None);
    assert_eq!(g["kind"], "hash");
    assert_eq!(g["namespace"], "iocs.txt");
    assert_eq!(g["sha256"], notes_sha.as_str());
    // YARA still runs beside the IOC list.
    assert_eq!(
        scan.finding_keys(EICAR_RULE).len(),
        mbr_mixed_expected().len()
    );
}

#[test]
fn files_above_max_file_size_are_scanned_in_blocks() {
    let img = image("mbr-mixed");
    let scan = scan_json(&[&img], &["--max-file-size", "1048576"]);
    // Above the limit: streamed through the block scanner, still found (the boundary file's
    // EICAR sits 30 bytes before the 1 MiB mark, across the first block boundary).
    for path in ["/sparse_eicar.bin", "/boundary.bin"] {
        let f = scan.finding(EICAR_RULE, Some(2), path, None);
        assert_eq!(f["mode"], "blocks", "{f}");
    }
    // Below the limit: full scans.
    for path in [
        "/Users/Public/eicar.com",
        "/boundary64k.bin",
        "/compressed/eicar_compressed.txt",
    ] {
        let f = scan.finding(EICAR_RULE, Some(2), path, None);
        assert_eq!(f["mode"], "full", "{f}");
    }
    assert_eq!(
        scan.finding_keys(EICAR_RULE).len(),
        mbr_mixed_expected().len()
    );
}

#[test]
fn two_targets_in_one_run_add_up() {
    let a = image("gpt-clean");
    let b = image("nofs-table");
    let scan = scan_json(&[&a, &b], &[]);
    assert_eq!(scan.disks().len(), 2);
    let disk_of = |v: &&Value| v["disk"].as_str().map(str::to_string);
    let vols = scan.volumes();
    assert_eq!(
        vols.iter()
            .filter(|v| disk_of(v).as_deref() == a.to_str())
            .count(),
        3
    );
    assert_eq!(
        vols.iter()
            .filter(|v| disk_of(v).as_deref() == b.to_str())
            .count(),
        1
    );
    assert_eq!(
        scan.file_finding_keys(EICAR_RULE),
        vec![key(0, "/eicar.com", None)]
    );
    assert!(scan
        .findings()
        .iter()
        .all(|f| f["disk"].as_str() == b.to_str()));
    assert_eq!(scan.verdict(), "infected");
}

#[test]
fn eicar_in_the_first_mib_and_in_a_boot_sector() {
    let src = image("gpt-clean");
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("boot-areas.img");
    sparse_copy(&src, &img);
    let ntfs = partition_offset(&img, 3);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&img)
            .expect("open copy");
        // In the gap between the GPT entries and the first partition.
        f.seek(SeekFrom::Start(64 * 1024)).expect("seek");
        f.write_all(&eicar()).expect("write");
        // Inside the NTFS boot code (the BPB ends at 0x54, the signature is at 0x1FE).
        f.seek(SeekFrom::Start(ntfs + 0x100)).expect("seek");
        f.write_all(&eicar()).expect("write");
    }
    let scan = scan_json(&[&img], &[]);
    let mbr = scan.finding(EICAR_RULE, None, "<mbr>", None);
    assert!(mbr["volume"].is_null());
    scan.finding(EICAR_RULE, Some(3), "<boot sector>", None);
    // The boot code is not part of NTFS parsing: the volume is still read.
    assert_eq!(scan.volume(3)["fs"], "ntfs");
    assert_eq!(scan.finding_keys(EICAR_RULE).len(), 2);
    assert_eq!(scan.run.code, 1);
}

/// Cuts a sparse copy of `name` in the middle of partition `part`.
fn truncated_copy(name: &str, part: u32, dir: &Path) -> std::path::PathBuf {
    let src = image(name);
    let img = dir.join(format!("{name}-truncated.img"));
    sparse_copy(&src, &img);
    let p = sfdisk_partitions(&src)
        .into_iter()
        .find(|p| p.number == part)
        .expect("partition");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .expect("open copy");
    f.set_len(p.offset + p.size / 2).expect("truncate");
    img
}

#[test]
fn truncated_clean_disk_is_incomplete_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = truncated_copy("gpt-clean", 3, dir.path());
    let scan = scan_json(&[&img], &[]);
    // The NTFS partition runs past the end of the disk: coverage cannot be complete.
    assert_eq!(scan.verdict(), "incomplete", "{}", scan.run.stdout);
    assert_eq!(scan.run.code, 2);
    assert_eq!(scan.findings().len(), 0);
}

#[test]
fn truncated_infected_disk_still_reports_what_it_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = truncated_copy("mbr-mixed", 2, dir.path());
    let scan = scan_json(&[&img], &[]);
    // The FAT32 before the cut is intact: its EICARs are found, so the verdict is infected
    // (exit 1, a threat wins over incomplete coverage).
    scan.finding(EICAR_RULE, Some(1), "/eicar.com", None);
    scan.finding(EICAR_RULE, Some(1), &deep_path(), None);
    assert_eq!(scan.verdict(), "infected");
    assert_eq!(scan.run.code, 1);
    // What lies past the cut (the rest of the NTFS, the logical partitions) is reported as not
    // fully read somewhere: a volume not "scanned", a disk note, or errors.
    let disk_notes = scan.disks()[0]["notes"].as_array().map_or(0, Vec::len);
    let degraded = scan
        .volumes()
        .iter()
        .filter(|v| v["volume"].as_u64() != Some(1) && v["status"] != "scanned")
        .count();
    let errors = scan.summary()["errors"].as_u64().unwrap_or(0);
    assert!(
        disk_notes + degraded + errors as usize > 0,
        "a truncated disk must not look fully scanned:\n{}",
        scan.run.stdout
    );
}

#[test]
fn garbage_and_empty_files_do_not_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 4 MiB from a fixed xorshift stream (no partition signature at 510 for this seed).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(4 << 20);
    while bytes.len() < 4 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    assert_ne!(&bytes[510..512], &[0x55, 0xAA], "pick another seed");
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, &bytes).expect("write garbage");
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").expect("write empty");
    for img in [&garbage, &empty] {
        let scan = scan_json(&[img], &[]);
        assert_eq!(scan.findings().len(), 0);
        assert!(matches!(scan.run.code, 0 | 2), "exit {}", scan.run.code);
        let d = scan.disks();
        assert!(d[0]["table"] == "none", "{}", d[0]);
        for v in scan.volumes() {
            assert_eq!(v["fs"], "unknown", "{v}");
        }
    }
}

#[test]
fn human_output_names_the_finding_and_the_verdict() {
    let img = image("nofs-table");
    let run = scan_human(&[&img], &[]);
    assert_eq!(run.code, 1);
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(all.contains("/eicar.com"), "finding path missing:\n{all}");
    assert!(all.contains(EICAR_RULE), "rule name missing:\n{all}");
    let lower = all.to_lowercase();
    assert!(
        lower.contains("verdict") && (lower.contains("infected") || lower.contains("threat")),
        "verdict missing:\n{all}"
    );
    assert!(
        !run.stdout.trim_start().starts_with('{'),
        "human output must not be JSON"
    );

    let clean = scan_human(&[&image("gpt-clean")], &[]);
    assert_eq!(clean.code, 0);
    assert!(format!("{}{}", clean.stdout, clean.stderr)
        .to_lowercase()
        .contains("clean"));
}

#[test]
fn workstation_demo_image() {
    let img = image("workstation");
    let scan = scan_json(&[&img], &[]);
    assert_eq!(scan.disks()[0]["table"], "gpt");
    assert_eq!(scan.volume(1)["fs"], "fat32");
    assert_eq!(scan.volume(3)["fs"], "ntfs");
    assert_eq!(label(scan.volume(3)).as_deref(), Some("Windows"));
    assert_eq!(scan.volume(4)["fs"], "ext4");
    assert_eq!(label(scan.volume(4)).as_deref(), Some("debian"));
    // The Microsoft reserved partition holds nothing recognisable: reported, not hidden.
    assert_eq!(scan.volume(2)["fs"], "unknown");
    let want = sorted(vec![
        key(3, "/Users/Alice/Downloads/invoice.pdf.exe", None),
        key(3, "/Users/Alice/Documents/notes.txt", Some("payload")),
        key(4, "/home/tech/Downloads/outil-maj.bin", None),
    ]);
    assert_eq!(sorted(scan.finding_keys(EICAR_RULE)), want);
    assert_eq!(scan.run.code, 1);
}

// ----- third-party oracle images -----------------------------------------------------------

/// Asserts a volume's file count against the number of regular files a reference tool listed.
/// `slack` allows for items the reference tool does not list as files (the volume's boot
/// sector scanned as an item, NTFS metafiles).
fn assert_files_consistent(v: &Value, expected: u64, slack: u64) {
    let files = v["files"].as_u64().expect("files");
    assert!(
        (expected..=expected + slack).contains(&files),
        "volume {} has {files} files, the reference lists {expected} (+{slack} allowed): {v}",
        v["volume"]
    );
}

#[test]
fn oracle_dftt_extended_partition_chain() {
    let img = oracle_zip_member("dftt/1-extend-part.zip", "1-extend-part/ext-part-test-2.dd");
    let scan = scan_json(&[&img], &[]);
    assert_eq!(scan.disks()[0]["table"], "mbr");
    // mmls: 3 primary FAT16 and 3 logical ones (the first EBR holds two entries); Linux
    // numbers the logical ones 5, 6, 7. Each holds one empty file.
    for (n, start) in [
        (1, 63),
        (2, 52416),
        (3, 104832),
        (5, 157311),
        (6, 209727),
        (7, 262143),
    ] {
        let v = scan.volume(n);
        assert_eq!(v["offset"].as_u64(), Some(start * 512), "volume {n}");
        assert_eq!(v["fs"], "fat16", "volume {n}");
        assert_eq!(v["status"], "scanned", "volume {n}");
        assert_files_consistent(v, 1, 1);
    }
    assert_eq!(
        scan.volumes().iter().filter(|v| v["fs"] == "fat16").count(),
        6
    );
    assert_eq!(scan.findings().len(), 0);
}

#[test]
fn oracle_embedded_sdmmc_fat16_and_fat32() {
    let img = oracle("embedded-sdmmc/disk.img.gz");
    let scan = scan_json(&[&img], &[]);
    assert_eq!(scan.disks()[0]["table"], "mbr");
    for (n, start, fs, lbl, manifest) in [
        (
            1,
            2048,
            "fat16",
            "P-FAT16",
            "embedded-sdmmc/disk.img.p1-fat16.manifest.tsv",
        ),
        (
            2,
            264192,
            "fat32",
            "P-FAT32",
            "embedded-sdmmc/disk.img.p2-fat32.manifest.tsv",
        ),
    ] {
        let v = scan.volume(n);
        assert_eq!(v["offset"].as_u64(), Some(start * 512));
        assert_eq!(v["fs"], fs);
        assert_eq!(label(v).as_deref(), Some(lbl));
        assert_eq!(v["status"], "scanned");
        let rows = manifest_files(manifest);
        assert_files_consistent(v, rows.len() as u64, 1);
        let bytes: u64 = rows.iter().map(|r| r.0).sum();
        assert!(
            v["bytes"].as_u64().unwrap_or(0) >= bytes,
            "volume {n} bytes < manifest: {v}"
        );
    }
    assert_eq!(scan.verdict(), "clean");
    assert_eq!(scan.run.code, 0);
}

#[test]
fn oracle_tsk_windows_mbr_with_two_ntfs() {
    let img = oracle("tsk-test-data/imageformat_mmls_1.raw.zst");
    let scan = scan_json(&[&img], &[]);
    assert_eq!(scan.disks()[0]["table"], "mbr");
    for (n, start, sectors, lbl, fls) in [
        (
            1,
            128,
            55296,
            "Part 1",
            "tsk-test-data/imageformat_mmls_1.raw.p-at-128.fls.txt",
        ),
        (
            2,
            55424,
            61440,
            "Part 2",
            "tsk-test-data/imageformat_mmls_1.raw.p-at-55424.fls.txt",
        ),
    ] {
        let v = scan.volume(n);
        assert_eq!(v["offset"].as_u64(), Some(start * 512));
        assert_eq!(v["size"].as_u64(), Some(sectors * 512));
        assert_eq!(v["fs"], "ntfs");
        assert_eq!(label(v).as_deref(), Some(lbl));
        // fls lists 2 user files (System Volume Information/{IndexerVolumeGuid,WPSettings.dat})
        // and the metafiles and their streams; a scanner may or may not count the metafiles.
        let text = std::fs::read_to_string(oracles_dir().join(fls)).expect("fls listing");
        let all_streams = text.lines().filter(|l| l.starts_with("r/r")).count() as u64;
        let user = text
            .lines()
            .filter(|l| l.starts_with("r/r") && !l.contains("\t$"))
            .count() as u64;
        assert_eq!(user, 2);
        assert_files_consistent(v, user, all_streams - user + 1);
    }
    assert_eq!(scan.findings().len(), 0);
}
