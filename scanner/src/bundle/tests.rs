use super::*;

const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn sources() -> Sources {
    Sources {
        rules: vec![
            (
                "a/one.yar".into(),
                b"rule one { strings: $ = \"vigie-alpha\" condition: all of them }\n\
                  rule two { condition: filename == \"x.exe\" }"
                    .to_vec(),
            ),
            (
                "b.yar".into(),
                b"rule three { strings: $ = \"vigie-beta\" condition: all of them }".to_vec(),
            ),
        ],
        iocs: vec![(
            "iocs/test.sha256".into(),
            b"# test\n275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f EICAR\n"
                .to_vec(),
        )],
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn packed(version: &str) -> Vec<u8> {
    let opts = PackOptions {
        version: Some(version.into()),
        created: Some(1_795_000_000),
        skip_broken: false,
    };
    pack(&sources(), &key(1), &opts).unwrap().0
}

#[test]
fn pack_then_verify_gives_the_manifest_and_working_rules() {
    let bytes = packed("2026.11.28.1");
    let b = Bundle::verify(&bytes, &key(1).verifying_key()).unwrap();
    let m = &b.manifest;
    assert_eq!(
        (m.version.as_str(), m.rules, m.iocs),
        ("2026.11.28.1", 3, 1)
    );
    assert_eq!(m.created, "2026-11-18T11:06:40Z");
    assert_eq!(m.sources.len(), 2);
    assert_eq!(m.sources[0].count, 2);
    assert_eq!(m.ioc_lists[0].count, 1);
    assert_eq!(m.key_id, key_id(&key(1).verifying_key()));
    let (set, fallback) = b.rule_set("test").unwrap();
    assert!(!fallback);
    let info = set.info();
    assert_eq!(info.version, "2026.11.28.1");
    assert_eq!(info.created.as_deref(), Some("2026-11-18T11:06:40Z"));
    assert_eq!((info.rules, info.iocs), (3, 1));
    assert_eq!(info.sha256, sha(&bytes));
    let mut s = yara_x::Scanner::new(&set.rules);
    let r = s.scan(b"xx vigie-beta xx").unwrap();
    let names: Vec<_> = r.matching_rules().map(|r| r.identifier()).collect();
    assert_eq!(names, ["three"]);
    s.set_global("filename", "x.exe").unwrap();
    let r = s.scan(b"").unwrap();
    let names: Vec<_> = r.matching_rules().map(|r| r.identifier()).collect();
    assert_eq!(names, ["two"]);
}

#[test]
fn every_flipped_region_is_refused() {
    let bytes = packed("2026.11.28.1");
    let pk = key(1).verifying_key();
    // Header, manifest, compiled rules, the last payload byte, the signature.
    let n = bytes.len();
    for at in [0usize, 9, 20, 200, n / 2, n - TRAILER - 1, n - 70, n - 1] {
        let mut t = bytes.clone();
        t[at] ^= 0x01;
        let err = Bundle::verify(&t, &pk).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::BadSignature | BundleError::NotABundle | BundleError::Unsigned
            ),
            "byte {at}: {err}"
        );
    }
}

#[test]
fn wrong_key_unsigned_truncated_and_garbage_are_refused() {
    let bytes = packed("2026.11.28.1");
    let pk = key(1).verifying_key();
    assert!(matches!(
        Bundle::verify(&bytes, &key(2).verifying_key()),
        Err(BundleError::BadSignature)
    ));
    // Unsigned: the body alone.
    let body = &bytes[..bytes.len() - TRAILER];
    assert!(matches!(
        Bundle::verify(body, &pk),
        Err(BundleError::Unsigned | BundleError::BadSignature)
    ));
    // Truncated at various points.
    for cut in [0usize, 7, 12, 50, bytes.len() / 2, bytes.len() - 1] {
        let err = Bundle::verify(&bytes[..cut], &pk).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::Truncated(_) | BundleError::Unsigned | BundleError::BadSignature
            ),
            "cut {cut}: {err}"
        );
    }
    assert!(matches!(
        Bundle::verify(b"MZ\x90\x00 not a bundle at all, but long enough to pass the size check of the header and trailer", &pk),
        Err(BundleError::NotABundle)
    ));
}

#[test]
fn validly_signed_but_inconsistent_is_corrupt() {
    let bytes = packed("2026.11.28.1");
    let mut body = bytes[..bytes.len() - TRAILER].to_vec();
    let last = body.len() - 1;
    body[last] ^= 0xff; // inside the iocs section: its hash no longer matches
    let resigned = sign_body(&body, &key(1));
    let err = Bundle::verify(&resigned, &key(1).verifying_key()).unwrap_err();
    assert!(
        matches!(err, BundleError::Corrupt(ref m) if m.contains("hash")),
        "{err}"
    );
    // Extra bytes after the sections.
    let mut body = bytes[..bytes.len() - TRAILER].to_vec();
    body.push(0);
    let err = Bundle::verify(&sign_body(&body, &key(1)), &key(1).verifying_key()).unwrap_err();
    assert!(matches!(err, BundleError::Corrupt(_)), "{err}");
}

#[test]
fn versions_compare_numerically_and_refuse_rollback() {
    assert!(is_newer("2026.11.28.2", "2026.11.28.1"));
    assert!(is_newer("2026.12.1.0", "2026.11.28.1"));
    assert!(is_newer("2026.11.28.10", "2026.11.28.9"));
    assert!(!is_newer("2026.11.28.1", "2026.11.28.1"));
    assert!(!is_newer("2025.12.31.2359", "2026.1.1.0"));
    assert!(!is_newer("garbage", "2026.1.1.0"));
    assert!(is_newer("2026.1.1.0", "source"));
    assert!(parse_version("1.x").is_err());
    let opts = PackOptions {
        version: Some("not-a-version".into()),
        ..Default::default()
    };
    assert!(matches!(
        pack(&sources(), &key(1), &opts),
        Err(BundleError::BadVersion(_))
    ));
    let older = Bundle::verify(&packed("2026.11.27.5"), &key(1).verifying_key()).unwrap();
    assert!(!is_newer(&older.manifest.version, "2026.11.28.1"));
}

#[test]
fn default_version_follows_the_clock() {
    let (created, version) = stamp(1_795_000_000);
    assert_eq!(created, "2026-11-18T11:06:40Z");
    assert_eq!(version, "2026.11.18.1106");
    assert!(is_newer(&stamp(1_795_000_100).1, &version));
}

#[test]
fn sources_fall_back_when_compiled_rules_are_unusable() {
    let bytes = packed("2026.11.28.1");
    let mut b = Bundle::verify(&bytes, &key(1).verifying_key()).unwrap();
    b.compiled = b"YARA-X garbage".to_vec();
    let (set, fallback) = b.rule_set("test").unwrap();
    assert!(fallback);
    assert_eq!(set.len(), 3);
    assert_eq!(set.info().version, "2026.11.28.1");
}

#[test]
fn keygen_files_round_trip_and_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (sk, pk) = keys::keygen(dir.path()).unwrap();
    let secret = keys::read_secret(&sk).unwrap();
    let public = keys::read_public(&pk).unwrap();
    assert_eq!(secret.verifying_key(), public);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(matches!(
        keys::keygen(dir.path()),
        Err(BundleError::Key { .. })
    ));
    std::fs::write(dir.path().join("bad.pub"), "zz\n").unwrap();
    assert!(keys::read_public(&dir.path().join("bad.pub")).is_err());
    // Two key pairs differ.
    let other = tempfile::tempdir().unwrap();
    let (sk2, _) = keys::keygen(other.path()).unwrap();
    assert_ne!(
        keys::read_secret(&sk2).unwrap().to_bytes(),
        secret.to_bytes()
    );
}

#[test]
fn skip_broken_keeps_what_compiles() {
    let mut s = sources();
    s.rules.push((
        "broken.yar".into(),
        b"rule bad { condition: nosuchthing }\nrule good2 { strings: $ = \"gamma\" condition: all of them }"
            .to_vec(),
    ));
    let opts = PackOptions {
        version: Some("1.0.0.0".into()),
        created: Some(0),
        skip_broken: false,
    };
    assert!(pack(&s, &key(1), &opts).is_err());
    let opts = PackOptions {
        skip_broken: true,
        ..opts
    };
    let (bytes, m) = pack(&s, &key(1), &opts).unwrap();
    assert_eq!(
        m.rules,
        4,
        "{:?}",
        crate::scan::rules::check_sources(&s.rules)
    );
    let b = Bundle::verify(&bytes, &key(1).verifying_key()).unwrap();
    assert_eq!(b.rule_set("t").unwrap().0.len(), 4);
}

#[test]
fn open_unverified_checks_hashes_only() {
    let bytes = packed("2026.11.28.1");
    assert!(Bundle::open_unverified(&bytes).is_ok());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.vgb");
    std::fs::write(&p, &bytes).unwrap();
    let set = RuleSet::load(&p).unwrap();
    assert_eq!((set.len(), set.iocs.len()), (3, 1));
    let _ = EICAR;
}

#[test]
fn age_in_days_for_the_welcome_screen() {
    let (created, _) = stamp(1_795_000_000);
    assert_eq!(age_days(&created, 1_795_000_000), Some(0));
    assert_eq!(
        age_days(&created, 1_795_000_000 + 86_400 * 45 + 5),
        Some(45)
    );
    assert_eq!(
        age_days("2000-02-29T00:00:00Z", 951_782_400 + 86_399),
        Some(0)
    );
    assert_eq!(age_days(&created, 1_794_000_000), None);
    assert_eq!(age_days("garbage", 1_795_000_000), None);
}
