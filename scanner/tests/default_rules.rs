//! The default rule set: every rule compiles, carries its metadata, fires on its generated
//! harmless fixture (and only that rule does), and stays silent on a negative corpus of this
//! machine's system binaries and the clean third-party test files in ../shared/oracles/.
//!
//! Fixtures are built here from public indicator strings; none is a real sample.

use std::path::{Path, PathBuf};

use vigie::scan::rules::{RuleSet, DEFAULT_IOCS, DEFAULT_SOURCES};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `MZ` header, padding, then the given pieces separated by NULs (looks like a PE's strings).
fn pe(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = b"MZ\x90\x00".to_vec();
    v.resize(512, 0);
    for p in parts {
        v.extend_from_slice(p);
        v.push(0);
    }
    v
}

fn wide(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A harmless DICOM/PE polyglot (CVE-2019-11687): a DOS stub whose `e_lfanew` points to a
/// `PE\0\0` signature, both inside the 128-byte preamble, then `DICM` and one file-meta
/// element. No code: it cannot run.
fn dicom_pe_polyglot() -> Vec<u8> {
    let mut v = vec![0u8; 128];
    v[..2].copy_from_slice(b"MZ");
    v[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    v[0x40..0x44].copy_from_slice(b"PE\0\0");
    v.extend_from_slice(b"DICM");
    // (0002,0010) UI "1.2.840.10008.1.2.1" (transfer syntax: explicit VR little endian).
    v.extend_from_slice(b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00");
    v
}

/// One harmless fixture per rule.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let eicar = format!(
        "{}{}",
        r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR", "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    );
    vec![
        ("EICAR_Test_File", text(&eicar)),
        ("DICOM_PE_ELF_Polyglot", dicom_pe_polyglot()),
        (
            "WannaCry_Ransomware",
            pe(&[
                &wide("tasksche.exe"),
                b"c.wnry",
                b"t.wnry",
                &wide("MsWinZonesCacheCounterMutexA"),
            ]),
        ),
        (
            "NotPetya_Wiper",
            text("Ooops, your important files are encrypted.\r\n... copy perfc.dat ...\r\n"),
        ),
        (
            "Ryuk_Ransomware",
            text("<html>No system is safe<br>see RyukReadMe.html</html>"),
        ),
        (
            "Conti_Ransomware",
            pe(&[b".CONTI", &wide("-m local"), &wide("-m net")]),
        ),
        (
            "LockBit_Ransomware",
            text("Your data are stolen and encrypted. Read Restore-My-Files.txt (LockBit 2.0)"),
        ),
        (
            "BlackCat_ALPHV_Ransomware",
            text(r#"{"config_id":"","public_key":"","extension":"x","note_file_name":"RECOVER-${EXTENSION}-FILES.txt","note_full_text":"","enable_esxi_vm_kill":false}"#),
        ),
        (
            "Emotet_Maldoc_Loader",
            text("=EXEC(\"regsvr32 -s ..\\oxnv1.ooccxx\")"),
        ),
        (
            "TrickBot_Config",
            text("<moduleconfig><autostart>yes</autostart><needinfo name=\"id\"/><needinfo name=\"ip\"/></moduleconfig>"),
        ),
        (
            "QakBot_Loader",
            pe(&[
                &wide("stager_1.dll"),
                &wide("cmd.exe /c ping.exe -n 6 127.0.0.1 & type \"%s\\System32\\calc.exe\" > \"%s\""),
            ]),
        ),
        ("CobaltStrike_Beacon_Config", {
            // Settings 1 (short), 2 (short), 3 (int) of a beacon config, XOR 0x2e.
            let clear: [u8; 22] = [
                0, 1, 0, 1, 0, 2, 0, 0, 0, 2, 0, 1, 0, 2, 0x1f, 0x90, 0, 3, 0, 2, 0, 4,
            ];
            let mut v = vec![0u8; 64];
            v.extend(clear.iter().map(|b| b ^ 0x2e));
            v.extend_from_slice(&[0x2e; 64]);
            v
        }),
        (
            "CobaltStrike_Beacon_Strings",
            pe(&[b"%s as %s\\%s: %d", b"could not spawn %s: %d", b"postex_%04x"]),
        ),
        (
            "Mimikatz_Credential_Dumper",
            text("privilege::debug\r\nsekurlsa::logonpasswords\r\nexit\r\n"),
        ),
        (
            "LaZagne_Credential_Dumper",
            text("from lazagne.softwares.browsers import x\nfrom lazagne.softwares.windows import y\n"),
        ),
        (
            "LSASS_Dump_Comsvcs_MiniDump",
            text("rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\out.dmp full\r\n"),
        ),
        (
            "Credential_Dumper_Tools",
            text("Rubeus.exe asktgt /user:x ; Rubeus.exe kerberoast"),
        ),
        (
            "Webshell_PHP_Eval_Request",
            text("<?php\n$x = 1;\neval(base64_decode($_REQUEST['c']));\n"),
        ),
        (
            "Webshell_China_Chopper",
            text("<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"pass\"],\"unsafe\");%>"),
        ),
        (
            "Webshell_JSP_Exec_Request",
            text("<% Process p = Runtime.getRuntime().exec(request.getParameter(\"cmd\")); %>"),
        ),
        (
            "Webshell_Known_Kits",
            text("<?php /* b374k */ if(isset($_POST['c'])) { echo shell_exec($_POST['c']); }"),
        ),
    ]
}

fn matches(set: &RuleSet, data: &[u8]) -> Vec<String> {
    let mut s = yara_x::Scanner::new(&set.rules);
    let r = s.scan(data).expect("scan");
    let mut v: Vec<String> = r
        .matching_rules()
        .map(|r| r.identifier().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn every_rule_file_is_embedded_and_has_metadata() {
    let mut on_disk = Vec::new();
    fn walk(d: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|e| e == "yar") {
                let rel = p.strip_prefix(root).unwrap().with_extension("");
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let root = repo().join("rules");
    walk(&root, &root, &mut on_disk);
    on_disk.sort();
    let mut embedded: Vec<String> = DEFAULT_SOURCES.iter().map(|(n, _)| n.to_string()).collect();
    embedded.sort();
    assert_eq!(on_disk, embedded, "rules/ and DEFAULT_SOURCES differ");
    let set = RuleSet::defaults().unwrap();
    assert_eq!(set.len(), 21);
    for rule in set.rules.iter() {
        let keys: Vec<&str> = rule.metadata().map(|(k, _)| k).collect();
        for k in ["description", "author", "reference", "date", "severity"] {
            assert!(keys.contains(&k), "{} has no {k}", rule.identifier());
        }
    }
}

#[test]
fn default_ioc_lists_parse_and_are_embedded() {
    let mut iocs = vigie::scan::iocs::HashIocs::default();
    for (list, text) in DEFAULT_IOCS {
        iocs.load_str(text, list).unwrap();
    }
    assert_eq!(iocs.len(), 3);
    assert_eq!(RuleSet::defaults().unwrap().iocs.len(), 3);
}

#[test]
fn each_fixture_matches_its_rule_and_only_it() {
    let set = RuleSet::defaults().unwrap();
    let fx = fixtures();
    let dir = repo().join(".cache/rule-fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    for rule in set.rules.iter() {
        assert!(
            fx.iter().any(|(n, _)| *n == rule.identifier()),
            "rule {} has no fixture",
            rule.identifier()
        );
    }
    for (name, data) in &fx {
        std::fs::write(dir.join(format!("{name}.bin")), data).unwrap();
        assert_eq!(matches(&set, data), [name.to_string()], "fixture of {name}");
        // Each fixture is minimal: cutting it in half loses the match.
        let half = &data[..data.len() / 2];
        assert!(
            !matches(&set, half).contains(&name.to_string()),
            "half fixture of {name} still matches"
        );
    }
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() && depth < 6 {
            corpus_files(&e.path(), out, depth + 1);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

/// Unpacks the clamav-testfiles .deb (clean AV test files) into .cache once.
fn av_testfiles() -> Option<PathBuf> {
    let deb =
        repo().join("../shared/oracles/av-testfiles/clamav-testfiles_1.4.6+dfsg-0+deb12u1_all.deb");
    let out = repo().join(".cache/av-testfiles");
    if !out.join("usr").exists() {
        std::fs::create_dir_all(&out).ok()?;
        let ok = std::process::Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&out)
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
    }
    Some(out)
}

#[test]
fn negative_corpus_has_no_match() {
    let set = RuleSet::defaults().unwrap();
    let oracles = repo().join("../shared/oracles");
    let mut files = Vec::new();
    for d in ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu"] {
        corpus_files(Path::new(d), &mut files, 0);
    }
    let system = files.len();
    for d in [
        "dftt",
        "rust-fatfs",
        "ntfs-crate",
        "nobodd",
        "tsk-test-data",
        "embedded-sdmmc",
        "ext4-view",
    ] {
        corpus_files(&oracles.join(d), &mut files, 0);
    }
    let av = av_testfiles().expect("dpkg-deb could not unpack the AV test files");
    corpus_files(&av, &mut files, 0);
    let mut scanner = yara_x::Scanner::new(&set.rules);
    scanner.set_timeout(std::time::Duration::from_secs(30));
    let (mut scanned, mut bytes, mut hits) = (0usize, 0u64, Vec::new());
    for f in &files {
        let Ok(meta) = std::fs::metadata(f) else {
            continue;
        };
        if meta.len() > 64 << 20 {
            continue;
        }
        let Ok(data) = std::fs::read(f) else { continue };
        scanned += 1;
        bytes += data.len() as u64;
        if let Ok(r) = scanner.scan(&data) {
            for m in r.matching_rules() {
                hits.push(format!("{}: {}", f.display(), m.identifier()));
            }
        }
    }
    eprintln!(
        "negative corpus: {scanned} files ({} MiB), {system} system files",
        bytes >> 20
    );
    assert!(system > 500, "system corpus too small: {system}");
    assert!(scanned > 1000, "corpus too small: {scanned}");
    assert!(hits.is_empty(), "false positives:\n{}", hits.join("\n"));
}
