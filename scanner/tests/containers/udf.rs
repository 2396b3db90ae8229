//! UDF disc images (issue 13, `container/udf`), made by real writers: pycdlib (UDF 2.60 with
//! an ISO 9660 side that lists only a readme, and the same disc with its ISO 9660 descriptors
//! removed: `udf_images.py`), `genisoimage -udf` (a UDF 1.02 bridge disc whose two sides list
//! the same files) and `mkudffs` (empty volumes of every revision and media type: type 1,
//! sparable and virtual partition maps, blocks of 512 to 4096 bytes; mkudffs writes no
//! metadata partition, which only the map's unit test covers). EICAR in a
//! nested folder and under a name that needs 16-bit OSTA unicode must be found under their
//! member names, once per disc; a file over 1 MiB must be read whole (its SHA-256 is a hash
//! IOC); the library's member list must equal the source tree; hundreds of mutated discs
//! (tags resealed, so that the reader goes past its checksums) must end without a panic.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{eicar_members, ext4_of, sh, skipped_members};
use crate::common::*;
use vigie::container::{self, udf, ContainerError, Kind, MemberMeta};
use vigie::fs::Content;

const ACCENTED: &str = "Dossier été/élève ž 日本.com";

/// `work/tree` holding `hybrid.iso`, `udf-only.iso`, `genisoimage.iso` and `empty.udf`;
/// `work/src` the files they hold; `work/small*.iso` for the mutation test.
fn build(work: &Path) -> PathBuf {
    std::fs::write(work.join("eicar.com"), eicar()).unwrap();
    let script = repo_root().join("scanner/tests/containers/udf_images.py");
    sh(
        work,
        &format!(
            r#"
            head -c 3000000 /dev/urandom > big.bin
            mkdir -p tree "src/dir/sub" "src/Dossier été"
            cp eicar.com src/dir/sub/eicar.com
            cp eicar.com "src/{ACCENTED}"
            cp big.bin src/dir/big.bin
            /usr/bin/python3 {script} . eicar.com big.bin
            mv hybrid.iso udf-only.iso tree/
            genisoimage -quiet -udf -J -R -o tree/genisoimage.iso src
            truncate -s 4M tree/empty.udf
            mkudffs --media-type=hd -b 2048 -l VIDE tree/empty.udf >/dev/null
            "#,
            script = script.display()
        ),
    );
    work.join("tree")
}

/// The files of a source tree: relative path -> (size, SHA-256).
fn source_files(root: &Path) -> BTreeMap<String, (u64, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, (bytes.len() as u64, sha256_bytes(&bytes)));
            }
        }
    }
    out
}

/// Opens `data` as the engine does (sniff, open) and lists its members: name -> (size,
/// SHA-256), or the error text of a member that could not be read.
/// Member name -> (size, SHA-256), or the error text.
type Listing = BTreeMap<String, Result<(u64, String), String>>;

fn members(data: &[u8]) -> Result<Listing, ContainerError> {
    let kind = container::sniff(data, "disc.iso");
    assert_eq!(kind, Some(Kind::Udf));
    let mut opened = container::open(Kind::Udf, data, "disc.iso")?;
    let mut out = BTreeMap::new();
    let mut each = |meta: &MemberMeta, content: Content<'_>| {
        let got = match content {
            Content::Data(r) => {
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 1 << 16];
                let mut n = 0u64;
                loop {
                    match r.read(&mut buf) {
                        Ok(0) => break Ok((n, hex(&h.clone().finalize()))),
                        Ok(k) => {
                            h.update(&buf[..k]);
                            n += k as u64;
                        }
                        Err(e) => break Err(e.to_string()),
                    }
                }
            }
            Content::Skipped(r) => Err(r.as_str().to_string()),
            Content::Error(e) => Err(e),
        };
        out.insert(meta.name.clone(), got);
        ControlFlow::Continue(())
    };
    opened.for_each(&mut each)?;
    Ok(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn udf_members_equal_the_source_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tree = build(dir.path());
    let mut want = source_files(&dir.path().join("src"));
    let plain: Listing = want
        .iter()
        .map(|(k, v)| (k.clone(), Ok(v.clone())))
        .collect();
    assert_eq!(
        members(&std::fs::read(tree.join("genisoimage.iso")).unwrap()).unwrap(),
        plain,
        "genisoimage -udf: the UDF side, each file once"
    );
    let readme = b"Lisez-moi : ce disque se lit en UDF.\n";
    want.insert(
        "README.TXT".into(),
        (readme.len() as u64, sha256_bytes(readme)),
    );
    let want: Listing = want.into_iter().map(|(k, v)| (k, Ok(v))).collect();
    for name in ["hybrid.iso", "udf-only.iso"] {
        let data = std::fs::read(tree.join(name)).unwrap();
        assert_eq!(members(&data).unwrap(), want, "{name}");
    }
    // The UDF-only disc has no ISO 9660 descriptor at all.
    let data = std::fs::read(tree.join("udf-only.iso")).unwrap();
    assert!(!data[16 * 2048..32 * 2048].windows(5).any(|w| w == b"CD001"));
}

#[test]
fn every_mkudffs_revision_and_media_type_opens() {
    let dir = tempfile::tempdir().unwrap();
    let specs = [
        ("hd", "1.02", 512),
        ("hd", "1.50", 2048),
        ("hd", "2.00", 1024),
        ("hd", "2.01", 2048),
        ("hd", "2.01", 4096),
        ("cdrw", "1.50", 2048),
        ("cdrw", "2.01", 2048),
        ("dvdram", "2.01", 2048),
    ];
    for (media, rev, bs) in specs {
        let img = dir.path().join(format!("{media}-{rev}-{bs}.udf"));
        sh(
            dir.path(),
            &format!(
                "truncate -s 8M {i} && mkudffs --media-type={media} --udfrev={rev} -b {bs} {i} >/dev/null",
                i = img.display()
            ),
        );
        let data = std::fs::read(&img).unwrap();
        let got = members(&data);
        let mut want = BTreeMap::new();
        if (media, rev) == ("cdrw", "1.50") {
            // UDF 1.50 2.3.13: on sparable media mkudffs lists the non-allocatable space as a
            // hidden root file of 0 bytes (2.00+ make it a named stream, not read here). A
            // hidden file is still a member: hiding is no reason to skip it.
            want.insert(
                "Non-Allocatable Space".to_string(),
                Ok((0, sha256_bytes(b""))),
            );
        }
        assert_eq!(got, Ok(want), "{media} {rev} {bs}");
    }
    // Write-once media (a virtual partition, VAT; mkudffs's UDF 2.50 and 2.60 are BD-R
    // only): recognised, counted as unsupported.
    for (media, rev) in [("cdr", "2.01"), ("bdr", "2.50"), ("bdr", "2.60")] {
        let img = dir.path().join(format!("{media}-{rev}.udf"));
        sh(
            dir.path(),
            &format!(
                "truncate -s 8M {i} && mkudffs --media-type={media} --udfrev={rev} {i} >/dev/null",
                i = img.display()
            ),
        );
        let got = members(&std::fs::read(&img).unwrap());
        assert!(
            matches!(&got, Err(ContainerError::Unsupported(m)) if m.contains("virtual")),
            "{media} {rev}: {got:?}"
        );
    }
}

#[test]
fn eicar_in_udf_discs_is_found_by_member_name_once_per_disc() {
    let dir = tempfile::tempdir().unwrap();
    let tree = build(dir.path());
    let big = std::fs::read(dir.path().join("big.bin")).unwrap();
    let list = dir.path().join("big.sha256");
    std::fs::write(&list, format!("{}  big-file\n", sha256_bytes(&big))).unwrap();
    let img = dir.path().join("host.img");
    ext4_of(&tree, &img, 64);
    let before = sha256_file(&img);
    let scan = scan_json(&[&img], &["--hashes", list.to_str().unwrap()]);
    let found = eicar_members(&scan);
    for disc in ["/hybrid.iso", "/udf-only.iso", "/genisoimage.iso"] {
        let mut here: Vec<&str> = found
            .iter()
            .filter(|(p, _)| p == disc)
            .filter_map(|(_, m)| m.as_deref())
            .collect();
        here.sort();
        assert_eq!(
            here,
            [ACCENTED, "dir/sub/eicar.com"],
            "{disc}: {found:?}\n{}",
            scan.run.stdout
        );
        let hashed = scan
            .findings()
            .into_iter()
            .filter(|f| f["kind"] == "hash" && f["path"] == disc)
            .map(|f| f["member"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>();
        assert_eq!(hashed, ["dir/big.bin"], "{disc}\n{}", scan.run.stdout);
    }
    let sum = scan.summary();
    for reason in ["unsupported_archive", "archive_error", "archive_limit"] {
        assert_eq!(skipped_members(sum, reason), 0, "{reason}: {sum}");
    }
    // 4 files on each pycdlib disc, 3 on genisoimage's: each disc read once, on its UDF side.
    assert_eq!(sum["members"].as_u64(), Some(11), "{sum}");
    assert_eq!(sha256_file(&img), before, "the host image was modified");
}

/// Offsets of every descriptor tag (checksum and CRC valid) in `d`, on 4-byte boundaries.
fn tags(d: &[u8]) -> Vec<usize> {
    (0..d.len().saturating_sub(16))
        .step_by(4)
        .filter(|&at| {
            let id = u16::from_le_bytes([d[at], d[at + 1]]);
            (1..=9).contains(&id) || (256..=266).contains(&id)
        })
        .filter(|&at| udf::tag::check(&d[at..], None).is_ok())
        .collect()
}

/// Recomputes the CRC and checksum of the tag at `at` (its CRC length clipped to the data).
fn reseal(d: &mut [u8], at: usize) {
    let crc_len = usize::from(u16::from_le_bytes([d[at + 10], d[at + 11]]));
    let end = (at + 16 + crc_len).min(d.len());
    let crc = udf::tag::crc_itu(&d[at + 16..end]);
    d[at + 8..at + 10].copy_from_slice(&crc.to_le_bytes());
    d[at + 4] = 0;
    d[at + 4] = d[at..at + 16].iter().fold(0u8, |s, &x| s.wrapping_add(x));
}

#[test]
fn mutated_udf_discs_never_panic_and_end_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    build(w);
    sh(
        w,
        "mkdir -p s/a && cp eicar.com s/a/e.com && head -c 150000 big.bin > s/a/b.bin && \
         genisoimage -quiet -udf -o g.iso s && \
         truncate -s 3M cdrw.udf && mkudffs --media-type=cdrw cdrw.udf >/dev/null && \
         truncate -s 3M hd.udf && mkudffs --media-type=hd -b 512 hd.udf >/dev/null",
    );
    let seeds = [
        "small.iso",
        "small-hybrid.iso",
        "g.iso",
        "cdrw.udf",
        "hd.udf",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut cases, mut opened, mut read) = (0u32, 0u32, 0u64);
    for seed in seeds {
        let orig = std::fs::read(w.join(seed)).unwrap();
        let at_tags = tags(&orig);
        assert!(at_tags.len() > 8, "{seed}: {} tags", at_tags.len());
        for case in 0..100 {
            let mut d = orig.clone();
            // Flip bytes inside descriptors (mostly) or anywhere, then reseal every other case.
            for _ in 0..1 + rnd() % 8 {
                let base = at_tags[(rnd() % at_tags.len() as u64) as usize];
                let at = if rnd() % 4 == 0 {
                    (rnd() % d.len() as u64) as usize
                } else {
                    (base + 16 + (rnd() % 496) as usize).min(d.len() - 1)
                };
                d[at] = match rnd() % 4 {
                    0 => 0xff,
                    1 => 0,
                    _ => rnd() as u8,
                };
            }
            if case % 2 == 0 {
                for &t in &at_tags {
                    reseal(&mut d, t);
                }
            }
            cases += 1;
            let t0 = Instant::now();
            let r = vigie::fs::guard(|| {
                let Some(Kind::Udf) = container::sniff(&d, "x.iso") else {
                    return None;
                };
                let mut m = container::open(Kind::Udf, &d, "x.iso").ok()?;
                let mut bytes = 0u64;
                let mut buf = vec![0u8; 1 << 16];
                let mut each = |meta: &MemberMeta, content: Content<'_>| {
                    if let Content::Data(r) = content {
                        let mut got = 0u64;
                        while let Ok(n @ 1..) = r.read(&mut buf) {
                            got += n as u64;
                            assert!(got <= meta.size.unwrap_or(u64::MAX));
                            if got > 64 << 20 {
                                break;
                            }
                        }
                        bytes += got;
                    }
                    ControlFlow::Continue(())
                };
                let _ = m.for_each(&mut each);
                Some(bytes)
            });
            let r = r.unwrap_or_else(|p| panic!("{seed} case {case}: panic {p}"));
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{seed} case {case}: {:?}",
                t0.elapsed()
            );
            if let Some(b) = r {
                opened += 1;
                read += b;
            }
        }
    }
    eprintln!("udf mutation: {cases} cases, {opened} opened, {read} member bytes read");
    assert!(opened > cases / 4, "{opened} of {cases} opened");
}

/// A UDF bridge disc over the full-scan limit (64 MiB) on an NTFS host: opened in place
/// through the walker's mapped device, on its UDF side (without `-J`/`-R` its ISO 9660 side
/// names the file `ZZ/EICAR.COM`).
#[test]
fn udf_disc_over_the_limit_opens_in_place_on_ntfs() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), eicar()).unwrap();
    sh(
        w,
        r#"
        mkdir -p d/zz
        head -c 66M /dev/urandom > d/filler.bin
        cp eicar.com d/zz/eicar.com
        genisoimage -quiet -udf -o big-udf.iso d
        truncate -s 256M ntfs.img
        mkntfs -q -F -Q ntfs.img
        ntfscp -q ntfs.img big-udf.iso big-udf.iso
        "#,
    );
    let img = w.join("ntfs.img");
    let before = sha256_file(&img);
    let scan = scan_json(&[&img], &[]);
    let found: Vec<_> = eicar_members(&scan)
        .into_iter()
        .filter(|(_, m)| m.is_some())
        .collect();
    assert_eq!(
        found,
        [("/big-udf.iso".to_string(), Some("zz/eicar.com".to_string()))],
        "{}",
        scan.run.stdout
    );
    let v = scan.volume(0);
    assert_eq!(
        v["members_skipped"]["archive_limit"].as_u64().unwrap_or(0),
        0,
        "{v}"
    );
    assert_eq!(sha256_file(&img), before, "the host image was modified");
}
