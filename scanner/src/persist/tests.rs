//! Tests of the persistence report on real hives (`oracles/registry-hives`, regipy's test data)
//! and on mutated copies of them.

use super::hive::{self, HiveKind};
use crate::testutil::oracle;

/// The unpacked hive (one test at a time unpacks: the cache's temporary names would clash).
fn real(name: &str) -> Vec<u8> {
    static UNPACK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let path = {
        let _g = UNPACK.lock().unwrap_or_else(|e| e.into_inner());
        oracle(&format!("registry-hives/{name}.xz"))
    };
    std::fs::read(path).unwrap()
}

#[test]
fn windows_computer_name_from_real_system_hives() {
    let clean = real("SYSTEM");
    assert!(!hive::is_dirty(&clean));
    assert_eq!(
        crate::hostinfo::windows_name(&clean).as_deref(),
        Some("WKS-WIN732BITA")
    );
    let dirty = real("SYSTEM_B");
    assert!(hive::is_dirty(&dirty));
    assert_eq!(
        crate::hostinfo::windows_name(&dirty).as_deref(),
        Some("DESKTOP-PM6C56D")
    );
}

#[test]
fn services_of_real_system_hives() {
    for name in ["SYSTEM", "SYSTEM_B"] {
        let e = hive::entries(&real(name), HiveKind::System);
        eprintln!("{name}: {} entries", e.len());
        for r in e.iter().take(5) {
            eprintln!("  {r:?}");
        }
        assert!(e.len() > 100, "{name}: {}", e.len());
        assert!(e
            .iter()
            .all(|r| r.source.starts_with("ControlSet001\\Services\\")));
        let tcpip = e
            .iter()
            .find(|r| {
                r.source
                    .eq_ignore_ascii_case("ControlSet001\\Services\\Tcpip|ImagePath")
            })
            .expect("Tcpip");
        assert!(
            tcpip
                .command
                .to_ascii_lowercase()
                .ends_with("drivers\\tcpip.sys"),
            "{tcpip:?}"
        );
        assert_eq!(tcpip.kind, "driver");
    }
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hive built by `hivexsh` (Debian `libhivex-bin`) from the nt-hive crate's test hive (read
/// from cargo's sources, never copied into the repository) with the given commands.
fn built_hive(dir: &std::path::Path, name: &str, script: &str) -> std::path::PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo")
        });
    let base = std::fs::read_dir(home.join("registry/src"))
        .unwrap()
        .flatten()
        .map(|d| d.path().join("nt-hive-0.3.0/testdata/testhive"))
        .find(|p| p.exists())
        .expect("nt-hive test hive");
    let out = dir.join(name);
    std::fs::write(&out, std::fs::read(base).unwrap()).unwrap();
    let mut child = std::process::Command::new("hivexsh")
        .arg("-w")
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("hivexsh (Debian libhivex-bin, see scripts/install-deps)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{script}\ncommit\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    out
}

const SOFTWARE: &str = "add Microsoft\ncd Microsoft\nadd Windows\ncd Windows\nadd CurrentVersion
cd CurrentVersion\nadd Run\ncd Run\nsetval 1\nUpdater
string:C:\\Users\\bob\\AppData\\Roaming\\upd.exe /silent\ncd ..\ncd ..\ncd ..
add Windows NT\ncd Windows NT\nadd CurrentVersion\ncd CurrentVersion
add Image File Execution Options\ncd Image File Execution Options\nadd sethc.exe\ncd sethc.exe
setval 1\nDebugger\nstring:C:\\Windows\\System32\\cmd.exe";

const SYSTEM: &str = "add Select\ncd Select\nsetval 1\nCurrent\ndword:0x1\ncd ..
add ControlSet001\ncd ControlSet001\nadd Services\ncd Services\nadd evil\ncd evil\nsetval 3
ImagePath\nexpandstring:%ProgramData%\\evil\\svc.exe -k\nStart\ndword:0x2\nType\ndword:0x10
cd ..\nadd gone\ncd gone\nsetval 2\nImagePath\nexpandstring:\\SystemRoot\\System32\\drivers\\gone.sys
Type\ndword:0x1";

const NTUSER: &str = "add Software\ncd Software\nadd Microsoft\ncd Microsoft\nadd Windows\ncd Windows
add CurrentVersion\ncd CurrentVersion\nadd Run\ncd Run\nsetval 1\nSync\nstring:%APPDATA%\\s\\sync.exe";

fn utf16(s: &str) -> Vec<u8> {
    let mut b = vec![0xff, 0xfe];
    for u in s.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

/// End to end on a FAT image built with mtools: built hives, a task, a Startup file, Linux
/// sources; targets resolved, existence checked, user-writable and missing marked.
#[test]
fn entries_from_a_built_volume() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("Windows/System32/config/SOFTWARE", std::fs::read(built_hive(d, "sw", SOFTWARE)).unwrap()),
        ("Windows/System32/config/SYSTEM", std::fs::read(built_hive(d, "sy", SYSTEM)).unwrap()),
        ("Users/bob/NTUSER.DAT", std::fs::read(built_hive(d, "nt", NTUSER)).unwrap()),
        ("Users/bob/AppData/Roaming/upd.exe", b"MZ".to_vec()),
        ("Windows/System32/cmd.exe", b"MZ".to_vec()),
        ("ProgramData/evil/svc.exe", b"MZ".to_vec()),
        (
            "Windows/System32/Tasks/Updater",
            utf16("<Task><Actions><Exec><Command>C:\\Users\\bob\\AppData\\Roaming\\upd.exe</Command><Arguments>-t</Arguments></Exec></Actions></Task>"),
        ),
        ("ProgramData/Microsoft/Windows/Start Menu/Programs/StartUp/run.bat", b"@echo".to_vec()),
        ("etc/ld.so.preload", b"/tmp/libx.so\n".to_vec()),
    ];
    let img = d.join("vol.img");
    run(std::process::Command::new("mkfs.vfat")
        .args(["-C", "-F", "32"])
        .arg(&img)
        .arg("65536"));
    let mut dirs = std::collections::BTreeSet::new();
    for (p, data) in &files {
        let parts: Vec<&str> = p.split('/').collect();
        for i in 1..parts.len() {
            dirs.insert(parts[..i].join("/"));
        }
        let local = d.join(p.replace('/', "_"));
        std::fs::write(&local, data).unwrap();
    }
    for dir in &dirs {
        run(std::process::Command::new("mmd")
            .arg("-i")
            .arg(&img)
            .arg(format!("::/{dir}")));
    }
    for (p, _) in &files {
        run(std::process::Command::new("mcopy")
            .arg("-i")
            .arg(&img)
            .arg(d.join(p.replace('/', "_")))
            .arg(format!("::/{p}")));
    }
    let before = crate::testutil::sha256_file(&img);
    let e = super::report_targets(std::slice::from_ref(&img));
    assert_eq!(before, crate::testutil::sha256_file(&img));
    for r in &e {
        eprintln!("{r:?}");
    }
    let find = |kind: &str, cmd: &str| {
        e.iter()
            .find(|r| r.kind == kind && r.command.contains(cmd))
            .unwrap_or_else(|| panic!("no {kind} {cmd}"))
    };
    let run_key = find("run_key", "upd.exe");
    assert_eq!(
        run_key.target.as_deref(),
        Some("/Users/bob/AppData/Roaming/upd.exe")
    );
    assert_eq!(run_key.exists, Some(true));
    assert!(run_key.user_writable && !run_key.missing);
    assert!(run_key
        .source
        .ends_with("Microsoft\\Windows\\CurrentVersion\\Run|Updater"));
    let dbg = find("ifeo_debugger", "cmd.exe");
    assert_eq!(dbg.exists, Some(true));
    assert!(!dbg.user_writable);
    let svc = find("service", "svc.exe");
    assert_eq!(svc.target.as_deref(), Some("/ProgramData/evil/svc.exe"));
    assert_eq!(svc.start, Some(2));
    assert!(svc.user_writable && svc.exists == Some(true));
    let gone = find("driver", "gone.sys");
    assert!(gone.missing && gone.exists == Some(false));
    let user = find("run_key", "sync.exe");
    assert_eq!(
        user.target.as_deref(),
        Some("/Users/bob/AppData/Roaming/s/sync.exe")
    );
    assert!(user.missing);
    let task = find("scheduled_task", "upd.exe");
    assert_eq!(task.exists, Some(true));
    assert!(find("startup_folder", "run.bat").user_writable);
    let pre = find("ld_preload", "libx.so");
    assert!(pre.missing && pre.user_writable);
    // Joined to a finding on the same path.
    let mut e2 = e.clone();
    let f = crate::record::FindingRecord {
        disk: run_key.disk.clone(),
        volume: run_key.volume,
        path: "/USERS/bob/AppData/Roaming/upd.exe".into(),
        stream: None,
        kind: crate::record::FindingKind::Yara,
        rule: "EICAR".into(),
        namespace: "default".into(),
        sha256: "ab".into(),
        size: 2,
        mode: "full".into(),
        member: None,
    };
    super::join_findings(&mut e2, &[f]);
    assert!(e2.iter().filter(|r| r.matched == ["EICAR"]).count() >= 2);
}

/// Mutated copies of a real hive: no panic, bounded output.
#[test]
fn mutated_real_hives_never_panic() {
    let base = real("SYSTEM");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..200 {
        let mut h = base.clone();
        if i % 4 == 0 {
            h.truncate((next() % base.len() as u64) as usize);
        }
        for _ in 0..64 {
            if h.is_empty() {
                break;
            }
            let at = (next() % h.len().min(1 << 20) as u64) as usize;
            h[at] = next() as u8;
        }
        let kind = [HiveKind::System, HiveKind::Software, HiveKind::User][i % 3];
        let e = hive::entries(&h, kind);
        assert!(e.len() <= hive::MAX_ENTRIES);
        let _ = crate::hostinfo::windows_name(&h);
    }
}
