//! `scanner rules keygen|pack|verify|check` end to end: exit codes and messages.

use std::path::Path;
use std::process::{Command, Output};

fn scanner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scanner"))
        .args(args)
        .output()
        .expect("run scanner")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn keygen_pack_verify_and_refusals() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_string_lossy().into_owned();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let rules = rules.to_string_lossy();
    assert!(scanner(&["rules", "keygen", &p("k")]).status.success());
    assert!(scanner(&["rules", "keygen", &p("k2")]).status.success());
    // Refuses to overwrite a key.
    assert!(!scanner(&["rules", "keygen", &p("k")]).status.success());
    let key = p("k/vigie-rules.key");
    let pubk = p("k/vigie-rules.pub");
    let o = scanner(&[
        "rules",
        "pack",
        &rules,
        "-o",
        &p("b.vgb"),
        "--key",
        &key,
        "--version",
        "2026.11.28.5",
    ]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("21 rules from 15 files, 3 IOCs"),
        "{}",
        out(&o)
    );
    let o = scanner(&["rules", "verify", &p("b.vgb"), "--pubkey", &pubk, "--load"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("OK ") && out(&o).contains("loaded 21 rules"));
    // Wrong key.
    let o = scanner(&[
        "rules",
        "verify",
        &p("b.vgb"),
        "--pubkey",
        &p("k2/vigie-rules.pub"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("REFUSED") && out(&o).contains("bad signature"));
    // Flipped byte, truncated.
    let mut bytes = std::fs::read(p("b.vgb")).unwrap();
    let n = bytes.len();
    std::fs::write(p("t.vgb"), &bytes[..n - 10]).unwrap();
    let o = scanner(&["rules", "verify", &p("t.vgb"), "--pubkey", &pubk]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    bytes[n / 3] ^= 4;
    std::fs::write(p("f.vgb"), &bytes).unwrap();
    let o = scanner(&["rules", "verify", &p("f.vgb"), "--pubkey", &pubk]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("bad signature"));
    // Older than the one in use.
    let o = scanner(&[
        "rules",
        "verify",
        &p("b.vgb"),
        "--pubkey",
        &pubk,
        "--newer-than",
        "2026.11.28.5",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("not newer"));
    // Unusable key file.
    std::fs::write(p("bad.pub"), "nope").unwrap();
    let o = scanner(&["rules", "verify", &p("b.vgb"), "--pubkey", &p("bad.pub")]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_keeps_what_compiles_and_counts() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::fs::write(
        d.path().join("good.yar"),
        "rule g1 { strings: $a = \"abc\" condition: $a }\nrule g2 { condition: filename == \"x\" }",
    )
    .unwrap();
    std::fs::write(
        d.path().join("sub/mixed.yara"),
        "rule bad { condition: new_file }\nrule ok { condition: true }",
    )
    .unwrap();
    std::fs::write(
        d.path().join("mod.yar"),
        "import \"androguard\"\nrule a { condition: androguard.x == 1 }\nrule b { condition: false }",
    )
    .unwrap();
    std::fs::write(d.path().join("syntax.yar"), "rule broken {").unwrap();
    let o = scanner(&["rules", "check", &d.path().to_string_lossy()]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("kept/total: 4/7"), "{text}");
    assert!(text.contains("sub/mixed.yara: kept 1/2"), "{text}");
    assert!(text.contains("unknown identifier `new_file`"), "{text}");
    assert!(text.contains("mod.yar: kept 1/2"), "{text}");
    assert!(text.contains("syntax.yar: kept 0/1"), "{text}");
    // And a bundle can be packed from such a set with --skip-broken.
    let k = d.path().join("k");
    assert!(scanner(&["rules", "keygen", &k.to_string_lossy()])
        .status
        .success());
    let o = scanner(&[
        "rules",
        "pack",
        &d.path().to_string_lossy(),
        "-o",
        &d.path().join("c.vgb").to_string_lossy(),
        "--key",
        &k.join("vigie-rules.key").to_string_lossy(),
        "--skip-broken",
    ]);
    assert!(out(&o).contains(" 4 rules from 4 files"), "{}", out(&o));
}

/// The LOKI/THOR variables reach the rules for whole-file and blocks-mode scans of a FAT volume.
#[test]
fn external_variables_are_set_from_the_walker() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("fat.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    assert!(ok(Command::new("mkfs.fat").arg("-n").arg("VARS").arg(&img)));
    let small = d.path().join("Invoice.Exe");
    std::fs::write(&small, b"MZ small").unwrap();
    let big = d.path().join("big.dll");
    let mut data = b"MZ".to_vec();
    data.resize(8192, b'x');
    std::fs::write(&big, &data).unwrap();
    assert!(ok(Command::new("mmd").arg("-i").arg(&img).arg("::/Temp")));
    assert!(ok(Command::new("mcopy")
        .arg("-i")
        .arg(&img)
        .arg(&small)
        .arg(&big)
        .arg("::/Temp/")));
    let rules = d.path().join("vars.yar");
    std::fs::write(
        &rules,
        r#"rule exe_in_temp { condition: filepath contains "\\Temp\\" and extension == ".exe" and filetype == "EXE" and filename == "Invoice.Exe" }
           rule dll_in_temp { condition: filepath == "\\Temp\\big.dll" and extension == ".dll" }"#,
    )
    .unwrap();
    let o = scanner(&[
        "scan",
        "--json",
        "--max-file-size",
        "4K",
        "--no-boot-areas",
        "--rules",
        &rules.to_string_lossy(),
        &img.to_string_lossy(),
    ]);
    let text = out(&o);
    assert!(text.contains(r#""rule":"exe_in_temp""#), "{text}");
    assert!(text.contains(r#""rule":"dll_in_temp""#), "{text}");
}
