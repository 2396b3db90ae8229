use super::*;
use crate::bundle::{pack, PackOptions, Sources};
use ed25519_dalek::SigningKey;
use std::io::Write;

/// A fresh byte budget for one `read_folder` call.
fn budget() -> u64 {
    MAX_BOOT_TOTAL
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn bundle_bytes(version: &str, seed: u8) -> Vec<u8> {
    let src = Sources {
        rules: vec![(
            "t.yar".into(),
            format!("rule v_{} {{ condition: true }}", version.replace('.', "_")).into_bytes(),
        )],
        iocs: Vec::new(),
    };
    let opts = PackOptions {
        version: Some(version.into()),
        created: Some(1_795_000_000),
        skip_broken: false,
    };
    pack(&src, &key(seed), &opts).unwrap().0
}

fn cand(origin: &str, bytes: Vec<u8>) -> Candidate {
    Candidate {
        origin: origin.into(),
        bytes: Ok(bytes),
    }
}

fn version_of(d: &Decision) -> &str {
    &d.chosen.as_ref().unwrap().1.manifest.version
}

#[test]
fn newer_valid_update_is_used_and_kept() {
    let pk = key(1).verifying_key();
    let d = decide(
        &pk,
        Some(cand("embedded default", bundle_bytes("2026.1.1.0", 1))),
        Vec::new(),
        vec![cand("updates/new.vgb", bundle_bytes("2026.2.1.0", 1))],
    );
    assert_eq!(version_of(&d), "2026.2.1.0");
    assert_eq!(d.chosen.as_ref().unwrap().0, "updates/new.vgb");
    assert_eq!(d.keep.len(), 1);
    assert!(d.keep[0].0.starts_with("2026.2.1.0-"));
    assert!(d.messages[0].contains("ACCEPTED"), "{:?}", d.messages);
}

#[test]
fn tampered_older_unsigned_wrong_key_and_corrupt_updates_are_refused() {
    let pk = key(1).verifying_key();
    let good = bundle_bytes("2026.2.1.0", 1);
    let mut tampered = bundle_bytes("2026.3.1.0", 1);
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x40;
    let older = bundle_bytes("2026.1.15.0", 1);
    let other_key = bundle_bytes("2026.4.1.0", 2);
    let unsigned = {
        let b = bundle_bytes("2026.5.1.0", 1);
        b[..b.len() - 72].to_vec()
    };
    let d = decide(
        &pk,
        Some(cand("embedded default", bundle_bytes("2026.1.1.0", 1))),
        vec![cand("VIGIE/rules/kept.vgb", good)],
        vec![
            cand("updates/tampered.vgb", tampered),
            cand("updates/older.vgb", older),
            cand("updates/otherkey.vgb", other_key),
            cand("updates/unsigned.vgb", unsigned),
            cand("updates/garbage.vgb", b"hello".to_vec()),
            Candidate {
                origin: "updates/unreadable.vgb".into(),
                bytes: Err("I/O error".into()),
            },
        ],
    );
    assert_eq!(version_of(&d), "2026.2.1.0");
    assert_eq!(d.chosen.as_ref().unwrap().0, "VIGIE/rules/kept.vgb");
    assert!(d.keep.is_empty());
    let refused: Vec<&String> = d
        .messages
        .iter()
        .filter(|m| m.contains("REFUSED"))
        .collect();
    assert_eq!(refused.len(), 6, "{:?}", d.messages);
    assert!(refused[0].contains("bad signature"));
    assert!(refused[1].contains("not newer"));
    assert!(refused[2].contains("bad signature"));
    assert!(refused[3].contains("unsigned") || refused[3].contains("signature"));
    assert!(refused[4].contains("not a Vigie") || refused[4].contains("truncated"));
}

#[test]
fn a_tampered_kept_bundle_falls_back_to_the_next_good_one() {
    let pk = key(1).verifying_key();
    let mut bad = bundle_bytes("2026.9.1.0", 1);
    bad[20] ^= 1;
    let d = decide(
        &pk,
        Some(cand("embedded default", bundle_bytes("2026.1.1.0", 1))),
        vec![
            cand("VIGIE/rules/a.vgb", bad),
            cand("VIGIE/rules/b.vgb", bundle_bytes("2026.2.1.0", 1)),
        ],
        Vec::new(),
    );
    assert_eq!(version_of(&d), "2026.2.1.0");
    assert!(d.messages[0].contains("ignored"));
}

fn fat_image(dir: &Path) -> PathBuf {
    let img = dir.join("logs.img");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&img)
        .unwrap();
    f.set_len(40 << 20).unwrap();
    fatfs::format_volume(
        &f,
        fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat32),
    )
    .unwrap();
    img
}

fn put(img: &Path, folder: &str, name: &str, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    let fs = fatfs::FileSystem::new(&f, fatfs::FsOptions::new()).unwrap();
    let root = fs.root_dir();
    let d = root
        .open_dir(folder)
        .unwrap_or_else(|_| root.create_dir(folder).unwrap());
    let mut file = d.create_file(name).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn step_reads_updates_keeps_them_and_uses_them_on_the_next_boot() {
    let dir = tempfile::tempdir().unwrap();
    let img = fat_image(dir.path());
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join(DEFAULT_BUNDLE), bundle_bytes("2026.1.1.0", 1)).unwrap();
    std::fs::write(
        rules.join(PUBLIC_KEY),
        format!(
            "{}\n",
            crate::scan::rules::hex(key(1).verifying_key().as_bytes())
        ),
    )
    .unwrap();
    put(
        &img,
        UPDATES_DIR,
        "New Rules.VGB",
        &bundle_bytes("2026.3.1.0", 1),
    );
    put(&img, UPDATES_DIR, "notes.txt", b"not a bundle");
    let decision = |img: &Path| {
        let d = decide(
            &key(1).verifying_key(),
            Some(cand(
                "embedded default",
                std::fs::read(rules.join(DEFAULT_BUNDLE)).unwrap(),
            )),
            read_folder(img, KEPT_DIR, &mut budget()).unwrap(),
            read_folder(img, UPDATES_DIR, &mut budget()).unwrap(),
        );
        (version_of(&d).to_string(), d.keep, d.messages)
    };
    let (v, keep, msgs) = decision(&img);
    assert_eq!(v, "2026.3.1.0");
    assert_eq!(keep.len(), 1, "{msgs:?}");
    keep_files(&img, &keep).unwrap();
    // Next boot: the kept bundle is found and the update is not installed twice.
    let (v, keep, msgs) = decision(&img);
    assert_eq!(v, "2026.3.1.0");
    assert!(keep.is_empty());
    assert!(
        msgs.iter().any(|m| m.contains("already installed")),
        "{msgs:?}"
    );
    // The technician removes updates/: the kept bundle still wins over the default.
    let kept = read_folder(&img, KEPT_DIR, &mut budget()).unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].origin.starts_with("VIGIE/rules/2026.3.1.0-"));
    // fsck-clean enough for fatfs to re-mount and read back identical bytes.
    assert_eq!(
        kept[0].bytes.as_ref().unwrap(),
        &bundle_bytes("2026.3.1.0", 1)
    );
}
