//! Archives larger than the full-scan limit, opened in place (issue 13): a ZIP, a 7z, a tar, a
//! CAB and gzip/xz streams over `--max-file-size`, each with EICAR in its last member after
//! 3 MiB of random bytes, copied into an NTFS host with `ntfscp` (no mount); and two nested
//! cases where the inner container is itself over the limit and lies on its outer container's
//! own extents: a ZIP inside an ISO 9660 image, inside a UDF bridge disc (read on its UDF
//! side), and on the FAT filesystem of a raw disk image. The limit is lowered to 1 MiB so that the images stay small: the paths are those of
//! a 64 MiB limit and a multi-GB download. Every member must be found and named, no member
//! counted `archive_limit` but the one mail (whose parser needs it in memory), and the host
//! image must be unchanged.

use std::path::{Path, PathBuf};

use super::{eicar_members, sh};
use crate::common::*;

/// `ntfs.img` (96 MiB) holding every large container at its root.
fn build_host(work: &Path) -> PathBuf {
    std::fs::write(work.join("eicar.com"), eicar()).unwrap();
    sh(
        work,
        r#"
        mkdir z iso
        head -c 3M /dev/urandom > z/filler.bin
        cp eicar.com z/zz_eicar.com
        (cd z && zip -q -X ../big.zip filler.bin zz_eicar.com)
        (cd z && 7z a -bd -y ../big.7z filler.bin zz_eicar.com > /dev/null)
        tar -C z -cf big.tar filler.bin zz_eicar.com
        (cd z && gcab -c -z ../big.cab filler.bin zz_eicar.com)
        cat z/filler.bin eicar.com > big.bin
        gzip -c big.bin > big.bin.gz
        xz -c big.bin > big.bin.xz
        cp big.zip iso/inner.zip
        genisoimage -quiet -J -o big.iso iso
        genisoimage -quiet -J -udf -o big-udf.iso iso
        truncate -s 12M disk.img
        echo 'start=2048, type=6' | sfdisk -q disk.img
        mformat -i disk.img@@1M -v DISK ::
        mcopy -i disk.img@@1M big.zip ::big.zip
        {
          printf 'From: a@example.org\nTo: b@example.org\nSubject: big\nMIME-Version: 1.0\n'
          printf 'Content-Type: multipart/mixed; boundary=XX\n\n--XX\n'
          printf 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
          printf 'Content-Disposition: attachment; filename=filler.bin\n\n'
          base64 z/filler.bin
          printf '\n--XX--\n'
        } > big.eml
        truncate -s 96M ntfs.img
        mkntfs -q -F -Q ntfs.img
        for f in big.zip big.7z big.tar big.cab big.bin.gz big.bin.xz big.iso big-udf.iso disk.img big.eml; do
          ntfscp -q ntfs.img "$f" "$f"
        done
        "#,
    );
    work.join("ntfs.img")
}

#[test]
fn archives_over_the_limit_are_read_in_place_and_nested_ones_too() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_host(dir.path());
    for f in ["big.zip", "big.7z", "big.cab", "big.bin.xz", "big.iso"] {
        let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
        assert!(len > 3 << 20, "{f}: {len} bytes, not over the limit");
    }
    let before = sha256_file(&img);
    let scan = scan_json(&[&img], &["--max-file-size", "1M"]);
    let found = eicar_members(&scan);
    let has = |path: &str, member: &str| {
        found.iter().any(|(p, m)| {
            p == path && m.as_deref().map(str::to_ascii_lowercase) == Some(member.into())
        })
    };
    for (path, member) in [
        ("/big.zip", "zz_eicar.com"),
        ("/big.7z", "zz_eicar.com"),
        ("/big.tar", "zz_eicar.com"),
        ("/big.cab", "zz_eicar.com"),
        ("/big.bin.gz", "big.bin"),
        ("/big.bin.xz", "big.bin"),
        ("/big.iso", "inner.zip//zz_eicar.com"),
        ("/big-udf.iso", "inner.zip//zz_eicar.com"),
        ("/disk.img", "p1/big.zip//zz_eicar.com"),
    ] {
        assert!(
            has(path, member),
            "{path} {member} not found: {found:?}\n{}",
            scan.run.stdout
        );
    }
    let v = scan.volume(0);
    // The mail alone: its parser needs the whole message in memory.
    assert_eq!(
        v["members_skipped"]["archive_limit"].as_u64().unwrap_or(0),
        1,
        "{v}"
    );
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("/big.eml") && notes.contains("mail"),
        "{notes}"
    );
    assert_eq!(scan.summary()["verdict"], "infected");
    assert_eq!(sha256_file(&img), before, "the host image was modified");
}
