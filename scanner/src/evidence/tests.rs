//! Unit tests of the plan, the collector and the manifest (in-memory ZIPs).

use std::io::{Cursor, Read};

use super::*;
use crate::record::{FindingKind, FindingRecord};

fn finding(path: &str, rule: &str, member: Option<&str>, size: u64) -> FindingRecord {
    FindingRecord {
        disk: "/img/host.img".into(),
        volume: Some(1),
        path: path.into(),
        stream: None,
        kind: FindingKind::Yara,
        rule: rule.into(),
        namespace: "default".into(),
        sha256: hex(&Sha256::digest(path.as_bytes())),
        size,
        mode: "full".into(),
        member: member.map(String::from),
    }
}

fn unzip(bytes: &[u8], name: &str, password: &str) -> zip::result::ZipResult<Vec<u8>> {
    let mut a = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut f = a.by_name_decrypt(name, password.as_bytes())?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn findings_on_one_file_make_one_item_and_members_are_listed() {
    let f = [
        finding("/a.exe", "R1", None, 3),
        finding("/a.exe", "R2", None, 3),
        finding("/b.zip", "R1", Some("x/y.exe"), 9),
        finding("/b.zip", "IOC", Some("z.exe"), 9),
    ];
    let (items, capped) = plan(&f);
    assert!(!capped);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].rules, ["R1", "R2"]);
    assert_eq!(items[0].size, 3);
    assert!(items[0].members.is_empty());
    assert_eq!(items[1].members, ["x/y.exe", "z.exe"]);
    assert_eq!(items[1].rules, ["R1", "IOC"]);
    // The member's size and digest are not the top-level file's.
    assert_eq!((items[1].size, items[1].sha256.as_str()), (0, ""));
}

#[test]
fn the_zip_is_aes_encrypted_and_the_manifest_lists_everything() {
    let f = [
        finding("/Users/bob/../a.exe", "R1", None, 5),
        finding("/big.bin", "R2", None, 50),
        finding("/gone.exe", "R3", None, 1),
    ];
    let limits = Limits {
        max_file: 10,
        max_total: 100,
    };
    let mut c = Collector::new(Cursor::new(Vec::new()), &f, limits);
    c.offer(0, 5, &mut &b"hello"[..]).unwrap();
    // The stated size is under the limit, the content is not: refused after reading 11 bytes.
    c.offer(1, 4, &mut &[7u8; 50][..]).unwrap();
    let (rec, out) = c.finish("saved").unwrap();
    let zip = out.into_inner();
    assert_eq!((rec.copied, rec.not_copied, rec.bytes), (1, 2, 5));
    assert_eq!(rec.limits_reached, ["file_limit"]);
    assert_eq!(rec.status, "saved");
    let a = &rec.items[0];
    assert_eq!(a.name.as_deref(), Some("host.img/v1/Users/bob/a.exe"));
    assert_eq!(a.sha256, hex(&Sha256::digest(b"hello")));
    // The scan's digest (of the path, in this test) differs from the bytes read again.
    assert_eq!(a.reason.as_deref(), Some("changed"));
    assert_eq!(rec.items[1].reason.as_deref(), Some("file_limit"));
    assert!(!rec.items[1].copied && rec.items[1].name.is_none());
    assert_eq!(rec.items[2].reason.as_deref(), Some("not_found"));

    assert_eq!(
        unzip(&zip, "host.img/v1/Users/bob/a.exe", PASSWORD).unwrap(),
        b"hello"
    );
    assert!(unzip(&zip, "host.img/v1/Users/bob/a.exe", "wrong").is_err());
    let manifest: EvidenceRecord =
        serde_json::from_slice(&unzip(&zip, MANIFEST, PASSWORD).unwrap()).unwrap();
    assert_eq!(manifest, rec);
    // Every member is AES: nothing readable without the password.
    let mut ar = zip::ZipArchive::new(Cursor::new(&zip)).unwrap();
    for i in 0..ar.len() {
        assert!(
            ar.by_index(i).is_err(),
            "member {i} readable without password"
        );
    }
    assert!(!zip.windows(5).any(|w| w == b"hello"));
}

#[test]
fn the_total_limit_skips_what_does_not_fit_and_keeps_going() {
    let f = [
        finding("/1", "R", None, 6),
        finding("/2", "R", None, 6),
        finding("/3", "R", None, 4),
    ];
    let limits = Limits {
        max_file: 100,
        max_total: 10,
    };
    let mut c = Collector::new(Cursor::new(Vec::new()), &f, limits);
    c.offer(0, 6, &mut &[1u8; 6][..]).unwrap();
    c.offer(1, 6, &mut &[2u8; 6][..]).unwrap();
    c.offer(2, 4, &mut &[3u8; 4][..]).unwrap();
    let (rec, _) = c.finish("saved").unwrap();
    let copied: Vec<bool> = rec.items.iter().map(|i| i.copied).collect();
    assert_eq!(copied, [true, false, true]);
    assert_eq!(rec.items[1].reason.as_deref(), Some("total_limit"));
    assert_eq!(rec.limits_reached, ["total_limit"]);
    assert_eq!(rec.bytes, 10);
}

#[test]
fn a_read_error_marks_the_item_unreadable() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("bad sector"))
        }
    }
    let f = [finding("/x", "R", None, 3)];
    let mut c = Collector::new(Cursor::new(Vec::new()), &f, Limits::CLI);
    c.offer(0, 3, &mut Broken).unwrap();
    let (rec, _) = c.finish("saved").unwrap();
    assert_eq!(rec.items[0].reason.as_deref(), Some("unreadable"));
    assert_eq!(rec.copied, 0);
}

#[test]
fn report_lines_say_limits_and_a_full_log_partition() {
    let rec = EvidenceRecord {
        file: ZIP_NAME.into(),
        status: "not_saved".into(),
        max_file: 16 << 20,
        max_total: 64 << 20,
        limits_reached: vec!["file_limit".into()],
        notes: vec!["log_full".into()],
        ..EvidenceRecord::default()
    };
    let text = report_lines(&rec).join("\n");
    assert!(text.contains("per-file limit reached (16 MiB)"), "{text}");
    assert!(text.contains("log partition full"), "{text}");
    assert!(text.contains("partition des journaux pleine"), "{text}");
    let small = EvidenceRecord {
        max_total: 300 << 10,
        limits_reached: vec!["total_limit".into()],
        ..rec
    };
    let text = report_lines(&small).join("\n");
    assert!(text.contains("per-scan limit reached (300 KiB)"), "{text}");
    assert!(text.contains("(300 Kio)"), "{text}");
}
