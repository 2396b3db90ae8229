//! Inside files (issue 13): archives, compressed streams, disk images and mail generated here
//! with Debian's tools (zip, 7z, tar, gzip/bzip2/xz/zstd, cpio, genisoimage, mtools), put into
//! an ext4 image (`mke2fs -d`), scanned with `scanner scan --json`; findings must name the
//! container and the member, skips must carry their reason, the verdict must follow. Plus the
//! side-by-side run against ClamAV's own test files.

mod common;
#[path = "containers/in_place.rs"]
mod in_place;
#[path = "containers/in_place_archives.rs"]
mod in_place_archives;
#[path = "containers/in_place_hosts.rs"]
mod in_place_hosts;
#[path = "containers/udf.rs"]
mod udf;
#[path = "containers/vdisk.rs"]
mod vdisk;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn sh(dir: &Path, script: &str) {
    let out = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{script}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An ext4 image of `size_mb` MiB holding `dir`.
fn ext4_of(dir: &Path, img: &Path, size_mb: u64) {
    let st = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-d"])
        .arg(dir)
        .arg(img)
        .arg(format!("{size_mb}M"))
        .status()
        .expect("mke2fs");
    assert!(st.success());
}

/// A fixed VHD: the raw image plus a 512-byte footer (`conectix`, disk type 2).
fn vhd_footer(raw_len: u64) -> Vec<u8> {
    let mut f = vec![0u8; 512];
    f[..8].copy_from_slice(b"conectix");
    f[8..12].copy_from_slice(&2u32.to_be_bytes());
    f[12..16].copy_from_slice(&0x0001_0000u32.to_be_bytes());
    f[16..24].copy_from_slice(&u64::MAX.to_be_bytes());
    f[40..48].copy_from_slice(&raw_len.to_be_bytes());
    f[48..56].copy_from_slice(&raw_len.to_be_bytes());
    f[60..64].copy_from_slice(&2u32.to_be_bytes());
    let sum: u32 = f.iter().map(|&b| u32::from(b)).sum();
    f[64..68].copy_from_slice(&(!sum).to_be_bytes());
    f
}

/// Findings of EICAR as (path, member) pairs.
fn eicar_members(scan: &Scan) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> = scan
        .findings()
        .into_iter()
        .filter(|f| f["rule"] == EICAR_RULE)
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_string(),
                f["member"].as_str().map(str::to_string),
            )
        })
        .collect();
    v.sort();
    v
}

fn skipped_members(v: &Value, reason: &str) -> u64 {
    v["members_skipped"][reason].as_u64().unwrap_or(0)
}

/// Builds every format around `eicar.com` in `dir/src` and returns the tree to image.
fn build_formats(work: &Path) -> PathBuf {
    let t = work.join("tree");
    std::fs::create_dir_all(t.join("d")).unwrap();
    std::fs::write(work.join("eicar.com"), eicar()).unwrap();
    let vhd = vhd_footer(4 << 20);
    std::fs::write(work.join("footer.bin"), vhd).unwrap();
    sh(
        work,
        r#"
        T=tree
        zip -q -0 $T/stored.zip eicar.com
        zip -q -9 $T/deflate.zip eicar.com
        zip -q -Z bzip2 $T/bzip2.zip eicar.com
        zip -q -fz $T/zip64.zip eicar.com
        cp $T/deflate.zip $T/d/document.docx
        7z a -bd -bso0 $T/lzma2.7z eicar.com
        7z a -bd -bso0 -m0=lzma -mf=BCJ $T/lzma.7z eicar.com
        tar cf $T/plain.tar eicar.com
        tar czf $T/a.tar.gz eicar.com
        tar cjf $T/a.tar.bz2 eicar.com
        tar cJf $T/a.tar.xz eicar.com
        tar --zstd -cf $T/a.tar.zst eicar.com
        gzip -c eicar.com > $T/eicar.com.gz
        bzip2 -c eicar.com > $T/eicar.com.bz2
        xz -c eicar.com > $T/eicar.com.xz
        zstd -q -c eicar.com > $T/eicar.com.zst
        for f in newc odc bin crc; do echo eicar.com | cpio -o -H $f --quiet > $T/$f.cpio; done
        mkdir -p iso/docs && cp eicar.com iso/docs/eicar.com
        genisoimage -quiet -J -o $T/disc.iso iso
        gcab -c -z $T/mszip.cab eicar.com
        # A raw FAT image and a fixed VHD of it.
        mkfs.fat -C -n IMG raw.img 4096 >/dev/null
        mcopy -i raw.img eicar.com ::/eicar.com
        cp raw.img $T/disk.img
        cat raw.img footer.bin > $T/disk.vhd
        # Mail: an attachment in base64, a body in quoted-printable, an mbox of two.
        {
          printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: facture\r\nMIME-Version: 1.0\r\n'
          printf 'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\n'
          printf 'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nBonjour=2C voir la pi=C3=A8ce jointe.\r\n'
          printf -- '--XX\r\nContent-Type: application/octet-stream; name="facture.pdf.exe"\r\n'
          printf 'Content-Disposition: attachment; filename="facture.pdf.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
          base64 -w 60 eicar.com | sed 's/$/\r/'
          printf -- '--XX--\r\n'
        } > $T/mail.eml
        { printf 'From a@example.org Mon Dec  1 10:00:00 2026\n'; tr -d '\r' < $T/mail.eml; printf '\nFrom c@example.org Mon Dec  1 11:00:00 2026\nFrom: c@example.org\nSubject: hi\n\nnothing\n'; } > $T/inbox.mbox
        "#,
    );
    t
}

#[test]
fn eicar_is_found_inside_every_supported_format_and_named_by_member() {
    let dir = tempfile::tempdir().unwrap();
    let tree = build_formats(dir.path());
    let img = dir.path().join("formats.img");
    ext4_of(&tree, &img, 64);
    let scan = scan_json(&[&img], &[]);
    let got = eicar_members(&scan);
    let want: Vec<(&str, &str)> = vec![
        ("/stored.zip", "eicar.com"),
        ("/deflate.zip", "eicar.com"),
        ("/bzip2.zip", "eicar.com"),
        ("/zip64.zip", "eicar.com"),
        ("/d/document.docx", "eicar.com"),
        ("/lzma2.7z", "eicar.com"),
        ("/lzma.7z", "eicar.com"),
        ("/plain.tar", "eicar.com"),
        ("/a.tar.gz", "a.tar//eicar.com"),
        ("/a.tar.bz2", "a.tar//eicar.com"),
        ("/a.tar.xz", "a.tar//eicar.com"),
        ("/a.tar.zst", "a.tar//eicar.com"),
        ("/eicar.com.gz", "eicar.com"),
        ("/eicar.com.bz2", "eicar.com"),
        ("/eicar.com.xz", "eicar.com"),
        ("/eicar.com.zst", "eicar.com"),
        ("/newc.cpio", "eicar.com"),
        ("/odc.cpio", "eicar.com"),
        ("/bin.cpio", "eicar.com"),
        ("/crc.cpio", "eicar.com"),
        ("/disc.iso", "docs/eicar.com"),
        ("/mszip.cab", "eicar.com"),
        ("/disk.img", "eicar.com"),
        ("/disk.vhd", "eicar.com"),
        ("/mail.eml", "facture.pdf.exe"),
        ("/inbox.mbox", "message-1.eml//facture.pdf.exe"),
    ];
    for (path, member) in &want {
        assert!(
            got.iter()
                .any(|(p, m)| p == path && m.as_deref() == Some(*member)),
            "no EICAR finding at {path} // {member}; got {got:?}\n{}",
            scan.run.stdout
        );
    }
    // Stored members are also found in the outer bytes (tar, cpio, iso, img, stored zip).
    assert!(got.contains(&("/plain.tar".to_string(), None)));
    // Every finding inside a member carries the member's own digest and size.
    let f = scan
        .findings()
        .into_iter()
        .find(|f| f["path"] == "/deflate.zip")
        .unwrap();
    assert_eq!(
        (f["sha256"].as_str(), f["size"].as_u64()),
        (Some(EICAR_SHA256), Some(68))
    );
    let sum = scan.summary();
    assert_eq!(scan.verdict(), "infected");
    assert!(
        sum["members"].as_u64().unwrap() >= want.len() as u64,
        "{sum}"
    );
}

/// `eicar.com` nested `n` deep in zips: `d<n>.zip` holds `d<n-1>.zip` ... `d1.zip` holds
/// `eicar.com` (EICAR then 4 KiB of text, so that it is deflated and invisible outside).
fn nested_zip(work: &Path, n: u32) -> PathBuf {
    std::fs::write(work.join("eicar.com"), padded_eicar()).unwrap();
    sh(
        work,
        &format!(
            "zip -q d1.zip eicar.com; for i in $(seq 2 {n}); do zip -q d$i.zip d$((i-1)).zip; done"
        ),
    );
    work.join(format!("d{n}.zip"))
}

/// EICAR followed by compressible text: a zip deflates it, so the string is only visible
/// once the member is decompressed.
fn padded_eicar() -> Vec<u8> {
    let mut v = eicar();
    v.extend(b"padding line\n".repeat(300));
    v
}

#[test]
fn depth_1_2_5_are_found_and_6_is_counted_as_archive_limit() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    for n in [1u32, 2, 5, 6] {
        let w = dir.path().join(format!("w{n}"));
        std::fs::create_dir_all(&w).unwrap();
        std::fs::copy(nested_zip(&w, n), tree.join(format!("depth{n}.zip"))).unwrap();
    }
    let img = dir.path().join("depth.img");
    ext4_of(&tree, &img, 16);
    let scan = scan_json(&[&img], &[]);
    let got = eicar_members(&scan);
    let chain = |n: u32| {
        let mut parts: Vec<String> = (1..n).rev().map(|i| format!("d{i}.zip")).collect();
        parts.push("eicar.com".into());
        parts.join("//")
    };
    for n in [1u32, 2, 5] {
        let key = (format!("/depth{n}.zip"), Some(chain(n)));
        assert!(got.contains(&key), "missing {key:?} in {got:?}");
    }
    assert!(
        !got.iter().any(|(p, _)| p == "/depth6.zip"),
        "depth 6 is beyond the limit: {got:?}"
    );
    let v = scan.volume(0);
    assert!(skipped_members(v, "archive_limit") >= 1, "{v}");
    // With a larger limit, depth 6 is found.
    let scan = scan_json(&[&img], &["--max-depth", "6"]);
    assert!(eicar_members(&scan)
        .iter()
        .any(|(p, m)| p == "/depth6.zip" && m.as_deref() == Some(chain(6).as_str())));
}

#[test]
fn mixed_nesting_zip_in_7z_in_tar_in_iso_in_vhd() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), eicar()).unwrap();
    std::fs::write(w.join("footer.bin"), vhd_footer(8 << 20)).unwrap();
    sh(
        w,
        r#"
        zip -q inner.zip eicar.com
        7z a -bd -bso0 mid.7z inner.zip
        tar cf pack.tar mid.7z
        mkdir iso && cp pack.tar iso/
        genisoimage -quiet -J -o disc.iso iso
        mkfs.fat -C -n VHD raw.img 8192 >/dev/null
        mcopy -i raw.img disc.iso ::/disc.iso
        mkdir tree && cat raw.img footer.bin > tree/image.vhd
        "#,
    );
    let img = w.join("mixed.img");
    ext4_of(&w.join("tree"), &img, 32);
    let scan = scan_json(&[&img], &[]);
    let got = eicar_members(&scan);
    let key = (
        "/image.vhd".to_string(),
        Some("disc.iso//pack.tar//mid.7z//inner.zip//eicar.com".to_string()),
    );
    assert!(got.contains(&key), "{got:?}");
}

#[test]
fn encrypted_corrupt_and_unsupported_members_make_the_verdict_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), eicar()).unwrap();
    std::fs::write(w.join("clean.txt"), b"nothing to see\n").unwrap();
    sh(
        w,
        r#"
        mkdir tree
        zip -q -P secret tree/crypto.zip clean.txt
        7z a -bd -bso0 -psecret -mhe=on tree/headers.7z clean.txt
        7z a -bd -bso0 -psecret tree/members.7z clean.txt
        zip -q ok.zip clean.txt
        head -c 100 ok.zip > tree/truncated.zip
        printf '\x1f\x8b\x08\x00garbage-after-a-gzip-header' > tree/bad.gz
        printf '7z\xbc\xaf\x27\x1c\x00\x04garbage' > tree/bad.7z
        printf 'Rar!\x1a\x07\x01\x00rest' > tree/x.rar
        "#,
    );
    let img = w.join("bad.img");
    ext4_of(&w.join("tree"), &img, 16);
    let scan = scan_json(&[&img], &[]);
    assert_eq!(scan.verdict(), "incomplete", "{}", scan.run.stdout);
    let v = scan.volume(0);
    assert!(skipped_members(v, "encrypted") >= 3, "{v}");
    assert!(skipped_members(v, "archive_error") >= 3, "{v}");
    assert_eq!(skipped_members(v, "unsupported_archive"), 1, "{v}");
    // The outer files are still scanned as bytes: every file counted as scanned.
    assert_eq!(v["files"], v["scanned"], "{v}");
}

#[test]
fn zip_bombs_end_quickly_finding_free_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    sh(
        w,
        r#"
        mkdir tree
        head -c 300M /dev/zero > zeros.bin
        zip -q -9 bomb.zip zeros.bin && rm zeros.bin
        cp bomb.zip tree/bomb.zip
        # Nested: 8 bombs in a zip, 8 of those in another.
        for i in 1 2 3 4 5 6 7 8; do cp bomb.zip b$i.zip; done
        zip -q -0 l1.zip b?.zip && rm b?.zip
        for i in 2 3 4 5 6 7 8; do cp l1.zip l$i.zip; done
        zip -q -0 tree/nested-bomb.zip l?.zip
        "#,
    );
    let img = w.join("bomb.img");
    ext4_of(&w.join("tree"), &img, 64);
    let t = std::time::Instant::now();
    let scan = scan_json(&[&img], &[]);
    let secs = t.elapsed().as_secs_f64();
    eprintln!("bomb scan: {secs:.1} s");
    assert!(secs < 120.0, "bombs took {secs:.1} s");
    assert_eq!(scan.verdict(), "incomplete");
    assert!(scan.findings().is_empty());
    let v = scan.volume(0);
    assert!(skipped_members(v, "archive_limit") >= 2, "{v}");
    let notes = v["notes"].to_string();
    assert!(notes.contains("bomb"), "{notes}");
}

#[test]
fn a_member_larger_than_the_full_scan_limit_is_streamed_in_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), eicar()).unwrap();
    sh(
        w,
        r#"
        mkdir tree
        # 70 MiB of base64 text (compresses about 4:3, not a bomb), EICAR at its end.
        head -c 52M /dev/urandom | base64 -w 76 > big.txt
        cat eicar.com >> big.txt
        zip -q -1 tree/big.zip big.txt
        "#,
    );
    let img = w.join("big.img");
    ext4_of(&w.join("tree"), &img, 128);
    let scan = scan_json(&[&img], &[]);
    let f: Vec<&Value> = scan
        .findings()
        .into_iter()
        .filter(|f| f["member"] == "big.txt")
        .collect();
    assert_eq!(f.len(), 1, "{}", scan.run.stdout);
    assert_eq!(f[0]["mode"], "blocks");
    assert!(f[0]["size"].as_u64().unwrap() > 64 << 20);
}

#[test]
fn hash_iocs_match_members_in_every_list_format() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), eicar()).unwrap();
    sh(
        w,
        "mkdir tree && zip -q tree/a.zip eicar.com && tar czf tree/b.tgz eicar.com && \
         echo \"$(md5sum < eicar.com | cut -d' ' -f1):68:Eicar-MD5\" > list.hdb",
    );
    let img = w.join("h.img");
    ext4_of(&w.join("tree"), &img, 16);
    let list = w.join("list.hdb");
    let scan = scan_json(&[&img], &["--hashes", list.to_str().unwrap()]);
    let hashes: Vec<(String, String)> = scan
        .findings()
        .into_iter()
        .filter(|f| f["kind"] == "hash")
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["member"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        hashes.contains(&("/a.zip".into(), "eicar.com".into())),
        "{hashes:?}"
    );
    assert!(
        hashes.contains(&("/b.tgz".into(), "b.tar//eicar.com".into())),
        "{hashes:?}"
    );
    assert!(scan
        .findings()
        .iter()
        .any(|f| f["kind"] == "hash" && f["rule"] == "Eicar-MD5" && f["namespace"] == "list.hdb"));
}

#[test]
fn no_containers_scans_outer_bytes_only() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), padded_eicar()).unwrap();
    sh(w, "mkdir tree && zip -q -9 tree/a.zip eicar.com");
    let img = w.join("n.img");
    ext4_of(&w.join("tree"), &img, 16);
    let scan = scan_json(&[&img], &["--no-containers"]);
    assert_eq!(scan.verdict(), "clean", "{}", scan.run.stdout);
    let scan = scan_json(&[&img], &[]);
    assert_eq!(
        eicar_members(&scan),
        [("/a.zip".to_string(), Some("eicar.com".to_string()))]
    );
    let scan = scan_json(&[&img], &["--no-containers"]);
    assert!(scan.summary().get("members").is_none());
}

/// ClamAV's own test files in an NTFS image, `scanner scan --hashes` with ClamAV's unit-test
/// `.hdb` as it ships, side by side with Debian's `clamscan -d` over the plain files. Prints
/// both counts and what each missed; Vigie must detect every file whose container it supports.
#[test]
fn side_by_side_with_clamav_on_its_test_files() {
    let deb = oracles_dir().join("av-testfiles/clamav-testfiles_1.4.6+dfsg-0+deb12u1_all.deb");
    let hdb = oracles_dir().join("av-testfiles/clamav-unit-test-clamav.hdb");
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    sh(
        w,
        &format!(
            "dpkg-deb -x '{}' x && mv x/usr/share/clamav-testfiles files && \
             truncate -s 32M ntfs.img && mkntfs -q -F -Q ntfs.img >/dev/null && \
             for f in files/*; do ntfscp -q ntfs.img \"$f\" \"/$(basename \"$f\")\"; done",
            deb.display()
        ),
    );
    let files: Vec<String> = std::fs::read_dir(w.join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let img = w.join("ntfs.img");
    let scan = scan_json(&[&img], &["--hashes", hdb.to_str().unwrap()]);
    let mut vigie: Vec<String> = scan
        .findings()
        .into_iter()
        .filter(|f| f["kind"] == "hash")
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    vigie.sort();
    vigie.dedup();
    let clam = Command::new("clamscan")
        .args(["--no-summary", "--infected", "-d"])
        .arg(&hdb)
        .arg(w.join("files"))
        .output();
    let mut clamav: Vec<String> = match &clam {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.ends_with(" FOUND"))
            .filter_map(|l| l.split(": ").next())
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
            .collect(),
        Err(e) => {
            eprintln!("clamscan not available ({e}): scripts/install-deps installs clamav");
            Vec::new()
        }
    };
    clamav.sort();
    let missed = |a: &[String]| -> Vec<String> {
        let mut m: Vec<String> = files.iter().filter(|f| !a.contains(f)).cloned().collect();
        m.sort();
        m
    };
    eprintln!(
        "side by side on {} ClamAV test files: Vigie {} / ClamAV {}",
        files.len(),
        vigie.len(),
        clamav.len()
    );
    eprintln!("Vigie missed: {:?}", missed(&vigie));
    eprintln!("ClamAV missed: {:?}", missed(&clamav));
    // Every file whose container Vigie decodes must be found.
    for f in [
        "clam.exe",
        "clam.zip",
        "clam.bz2.zip",
        "clam.d64.zip",
        "clam.7z",
        "clam.tar.gz",
        "clam.exe.bz2",
        "clam.newc.cpio",
        "clam.odc.cpio",
        "clam.bin-le.cpio",
        "clam.bin-be.cpio",
        "clam.exe.mbox.base64",
        "clam.mail",
        "clam.cab",
        "clam.ole.doc",
        "clam.exe.mbox.uu",
        "clam.exe.rtf",
        "clam.tnef",
        "clam.exe.szdd",
    ] {
        assert!(
            vigie.contains(&f.to_string()),
            "Vigie missed {f}: {vigie:?}"
        );
    }
}

/// Mutation test of every container parser: each generated sample, mutated 150 times
/// (random bytes overwritten, truncations), is opened and every member read through a bounded
/// sink, every other case opened in place (over a device). Our own parsers (cpio, ISO 9660,
/// mbox, disk-image sniffing) must never panic; a panic
/// inside a format crate is caught by the guard (as in the engine) and counted, and every
/// case must finish quickly.
#[test]
fn mutated_containers_never_escape_the_guard_nor_hang() {
    use std::io::Read;
    use std::ops::ControlFlow;
    use vigie::container::{open, open_device, opens_in_place, sniff, MemberMeta, Members};
    use vigie::fs::{guard, Content};
    use vigie::io::{Device, MemDevice};

    let dir = tempfile::tempdir().unwrap();
    let tree = build_formats(dir.path());
    let mut samples: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&tree).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            samples.push((name, std::fs::read(&p).unwrap()));
        }
    }
    assert!(samples.len() >= 20, "{}", samples.len());
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut crate_panics = Vec::new();
    let mut cases = 0;
    let started = std::time::Instant::now();
    for (name, data) in &samples {
        let Some(kind) = sniff(data, name) else {
            panic!("{name} not recognised");
        };
        for i in 0..150 {
            let mut m = data.clone();
            if i % 10 == 9 {
                let cut = (rnd() as usize) % m.len().max(1);
                m.truncate(cut);
            } else {
                // Mutate the first 8 KiB more often: that is where headers are.
                for _ in 0..1 + rnd() % 8 {
                    let span = if rnd() % 2 == 0 {
                        m.len().min(8192)
                    } else {
                        m.len()
                    };
                    let at = (rnd() as usize) % span.max(1);
                    if let Some(b) = m.get_mut(at) {
                        *b = rnd() as u8;
                    }
                }
            }
            cases += 1;
            // Every other case through the in-place path (a device, the crate's stream over
            // it), as a container over the full-scan limit is read.
            let in_place = i % 2 == 1 && opens_in_place(kind);
            let t = std::time::Instant::now();
            let r = guard(|| {
                let opened: Result<Box<dyn Members + '_>, _> = if in_place {
                    let dev: Device = std::sync::Arc::new(MemDevice::new(m.clone()));
                    open_device(kind, dev, name)
                } else {
                    open(kind, &m, name)
                };
                let Ok(mut c) = opened else {
                    return;
                };
                let mut visit = |_: &MemberMeta, content: Content<'_>| {
                    if let Content::Data(r) = content {
                        let _ = std::io::copy(&mut r.take(64 << 20), &mut std::io::sink());
                    }
                    ControlFlow::Continue(())
                };
                let _ = c.for_each(&mut visit);
            });
            assert!(
                t.elapsed().as_secs() < 10,
                "{name} mutation {i} took {:?}",
                t.elapsed()
            );
            if let Err(p) = r {
                let how = if in_place { ", in place" } else { "" };
                crate_panics.push(format!("{name} ({kind:?}{how}) #{i}: {p}"));
            }
        }
    }
    std::panic::set_hook(prev);
    eprintln!(
        "{cases} mutated containers in {:.1} s, {} crate panics caught",
        started.elapsed().as_secs_f64(),
        crate_panics.len()
    );
    for p in &crate_panics {
        eprintln!("  caught: {p}");
    }
    let ours: Vec<&String> = crate_panics
        .iter()
        .filter(|p| p.contains("(Cpio") || p.contains("(Iso") || p.contains("(Mail"))
        .collect();
    assert!(ours.is_empty(), "our own parsers panicked: {ours:?}");
}
