//! Snapshot tests of every console UI screen on ratatui's `TestBackend` at 80x25, in French
//! and English. The golden files are `tests/snapshots/<screen>.<lang>.txt`; any change of the
//! rendering fails the test. After an intended change, regenerate them with
//! `VIGIE_UPDATE_SNAPSHOTS=1 cargo test -p scanner --test tui_snapshots` and review the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use vigie::record::{
    FindingKind, FindingRecord, FsKind, Record, RulesInfo, ScanMode, SummaryRecord, Verdict,
    VolumeRecord, VolumeStatus,
};
use vigie::sink::Progress;
use vigie::tui::app::{Event, Key, Lang, Layout, Machine, MachineDisk, MachineVolume, VolumeKind};
use vigie::tui::{render, App, Screen};

const W: u16 = 80;
const H: u16 = 25;
/// 2026-11-28T00:00:00Z.
const NOW: i64 = 1_795_824_000;

fn draw(app: &App) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let mut line = String::new();
        for x in 0..b.area.width {
            line.push_str(b[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    // The version changes with every release: masked.
    out.replace(env!("CARGO_PKG_VERSION"), "X.Y.Z")
}

/// Compares `got` with `tests/snapshots/<name>.<lang>.txt` (rewritten first when
/// `VIGIE_UPDATE_SNAPSHOTS` is set).
fn compare_snapshot(name: &str, lang: Lang, got: &str) {
    let lang = lang.code();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.{lang}.txt"));
    if std::env::var_os("VIGIE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (VIGIE_UPDATE_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    assert_eq!(got, want, "{name}.{lang} differs from its snapshot:\n{got}");
}

fn check(name: &str, app: &App) -> Buffer {
    let buf = draw(app);
    let got = text(&buf);
    compare_snapshot(name, app.lang, &got);
    let lang = app.lang.code();
    // Console glyphs only: no rounded corners, braille, eighth blocks or U+2026.
    for c in got.chars() {
        assert!(
            c.is_ascii() || "éèêàâçùûôîÉ°│─┌┐└┘═║╔╗╚╝█".contains(c),
            "{name}.{lang}: {c:?} is not in the Linux console font"
        );
    }
    buf
}

fn rules() -> RulesInfo {
    RulesInfo {
        origin: "/etc/vigie/rules".into(),
        version: "2026.06.01.1".into(),
        created: Some("2026-06-01T08:00:00Z".into()),
        sha256: "ab".repeat(32),
        rules: 42,
        iocs: 1200,
    }
}

fn machine() -> Machine {
    let v = |number, fs, size: u64, label: Option<&str>, kind| MachineVolume {
        number,
        fs,
        size,
        label: label.map(str::to_string),
        kind,
        allocated: None,
    };
    Machine {
        disks: vec![
            MachineDisk {
                name: "nvme0n1".into(),
                dev: "/dev/nvme0n1".into(),
                model: Some("Samsung SSD 980 500GB".into()),
                serial: Some("S64DNX0R123456".into()),
                bus: Some("nvme".into()),
                size: 500_107_862_016,
                volumes: vec![
                    v(
                        1,
                        FsKind::Fat32,
                        100 << 20,
                        Some("SYSTEM"),
                        VolumeKind::EfiBoot,
                    ),
                    v(2, FsKind::Unknown, 16 << 20, None, VolumeKind::Empty),
                    v(
                        3,
                        FsKind::Ntfs,
                        465 << 30,
                        Some("Windows"),
                        VolumeKind::WindowsSystem,
                    ),
                    v(4, FsKind::Bitlocker, 20 << 30, None, VolumeKind::Encrypted),
                ],
                protected: true,
            },
            MachineDisk {
                name: "sda".into(),
                dev: "/dev/sda".into(),
                model: Some("WDC WD10EZEX-08W".into()),
                serial: None,
                bus: Some("sata".into()),
                size: 1_000_204_886_016,
                volumes: vec![v(
                    1,
                    FsKind::Ext4,
                    900 << 30,
                    Some("data"),
                    VolumeKind::LinuxSystem,
                )],
                protected: true,
            },
        ],
        controllers: vec!["0000:00:0e.0 RAID (Intel RST/VMD?) [8086:467f]".into()],
    }
}

fn base(lang: Lang) -> App {
    let mut a = App::new(
        lang,
        if lang == Lang::Fr {
            Layout::Fr
        } else {
            Layout::Us
        },
    );
    a.now = NOW;
    a.rules = Some(Ok(rules()));
    a.handle(Event::Machine(machine()));
    a
}

const LONG: &str = "Users/Dr.Jean-Baptiste.Durand-Montgolfier/AppData/Local/Packages/Microsoft.Windows.Photos_8wekyb3d8bbwe/LocalState/PhotosAppTile/cache/thumbnails/2026/11/IMG_20261127_153012_scan_patient.jpg";

fn finding(path: &str, rule: &str) -> FindingRecord {
    FindingRecord {
        disk: "/dev/nvme0n1".into(),
        volume: Some(3),
        path: path.into(),
        stream: None,
        kind: FindingKind::Yara,
        rule: rule.into(),
        namespace: "default".into(),
        sha256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".into(),
        size: 68,
        mode: "full".into(),
        member: None,
    }
}

fn volume(
    disk: &str,
    n: u32,
    fs: FsKind,
    status: VolumeStatus,
    skipped: &[(&str, u64)],
    note: Option<&str>,
) -> VolumeRecord {
    VolumeRecord {
        disk: disk.into(),
        volume: n,
        fs,
        offset: 1 << 20,
        size: 100 << 20,
        label: None,
        status,
        files: 1000,
        scanned: 1000 - skipped.iter().map(|s| s.1).sum::<u64>(),
        skipped: skipped
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        errors: 0,
        notes: note.map(|n| vec![n.to_string()]).unwrap_or_default(),
        bytes: 52 << 20,
        members: Default::default(),
    }
}

fn summary(verdict: Verdict, findings: u64, skipped: u64) -> SummaryRecord {
    SummaryRecord {
        verdict,
        files: 41_230,
        scanned: 41_230 - skipped,
        findings,
        bytes: 18_400 << 20,
        seconds: 754.0,
        skipped,
        errors: 0,
        cancelled: false,
        members: Default::default(),
        mode: Default::default(),
        not_selected: 0,
    }
}

fn to_progress(lang: Lang) -> App {
    let mut a = base(lang);
    a.handle(Event::Key(Key::Enter));
    a.handle(Event::Key(Key::Enter));
    assert_eq!(a.screen, Screen::Options);
    a.handle(Event::Key(Key::Up));
    for c in "INV-2026-0042".chars() {
        a.handle(Event::Key(Key::Char(c)));
    }
    a.handle(Event::Key(Key::Enter));
    a.handle(Event::Key(Key::Enter));
    assert_eq!(a.screen, Screen::Progress);
    a
}

fn scanned_machine(lang: Lang, verdict: Verdict) -> App {
    let mut a = to_progress(lang);
    let mut recs = vec![
        Record::Volume(volume(
            "/dev/nvme0n1",
            1,
            FsKind::Fat32,
            VolumeStatus::Scanned,
            &[],
            None,
        )),
        Record::Volume(volume(
            "/dev/nvme0n1",
            3,
            FsKind::Ntfs,
            VolumeStatus::Scanned,
            &[],
            None,
        )),
        Record::Volume(volume(
            "/dev/sda",
            1,
            FsKind::Ext4,
            VolumeStatus::Scanned,
            &[],
            None,
        )),
    ];
    match verdict {
        Verdict::Infected => {
            recs.insert(
                0,
                Record::Finding(finding(
                    "Users/Public/Downloads/invoice.com",
                    "EICAR_Test_File",
                )),
            );
            recs.insert(0, Record::Finding(finding(LONG, "Ransom_LockBit3_Note")));
            // A finding in an NTFS alternate data stream says `file:stream`.
            let mut ads = finding("Users/Public/readme.txt", "Hidden_Stream_Payload");
            ads.stream = Some("hidden".into());
            recs.insert(0, Record::Finding(ads));
            recs.push(Record::Summary(summary(Verdict::Infected, 3, 0)));
        }
        Verdict::Clean => recs.push(Record::Summary(summary(Verdict::Clean, 0, 0))),
        Verdict::Incomplete => {
            recs.push(Record::Volume(volume(
                "/dev/nvme0n1",
                4,
                FsKind::Bitlocker,
                VolumeStatus::Encrypted,
                &[],
                Some("encrypted volume: its files cannot be read without the key"),
            )));
            recs.push(Record::Volume(volume(
                "/dev/sda",
                2,
                FsKind::Ntfs,
                VolumeStatus::Partial,
                &[("compressed", 12), ("too_large", 3)],
                Some(
                    "volume is marked dirty (not cleanly unmounted): recent changes may be missing",
                ),
            )));
            recs.push(Record::Summary(summary(Verdict::Incomplete, 0, 15)));
        }
    }
    for r in recs {
        a.handle(Event::Record(r));
    }
    assert_eq!(a.screen, Screen::Verdict);
    assert_eq!(a.verdict(), verdict);
    a
}

fn langs() -> [Lang; 2] {
    [Lang::Fr, Lang::En]
}

/// The welcome screen when PID 1 offers to resume an interrupted scan (issue 14): the choice
/// row (resume by default, Left/Right for a new scan) and its detail line.
#[test]
fn welcome_resume() {
    for l in langs() {
        let mut a = base(l);
        a.resume = Some(vigie::resumed::ResumeOffer {
            scan_id: "S1".into(),
            started: "2026-11-27T14:05:00Z".into(),
            done: 1,
            total: 3,
            ..Default::default()
        });
        a.resume_chosen = true;
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Down));
        assert_eq!(a.welcome_row, 2);
        let t = text(&check("welcome-resume", &a));
        let (yes, no, detail) = match l {
            Lang::Fr => (
                "< Reprendre l'analyse interrompue >",
                "< Nouvelle analyse >",
                "1 volume(s) sur 3 déjà analysé(s), commencée le 27/11/2026 à 14:05 UTC",
            ),
            Lang::En => (
                "< Resume the interrupted scan >",
                "< New scan >",
                "1 of 3 volumes already scanned, started 2026-11-27 14:05 UTC",
            ),
        };
        assert!(t.contains(yes) && t.contains(detail), "{t}");
        a.handle(Event::Key(Key::Right));
        assert!(!a.resume_chosen);
        assert!(text(&draw(&a)).contains(no));
        // Down from the last row goes back to the first; without an offer, two rows only.
        a.handle(Event::Key(Key::Down));
        assert_eq!(a.welcome_row, 0);
        let mut b = base(l);
        b.handle(Event::Key(Key::Up));
        assert_eq!(b.welcome_row, 1);
        b.handle(Event::Key(Key::Down));
        assert_eq!(b.welcome_row, 0);
    }
}

#[test]
fn welcome() {
    for l in langs() {
        let b = check("welcome", &base(l));
        let t = text(&b);
        assert!(t.contains("2026.06.01.1") && t.contains("42"), "{t}");
        assert!(t.contains("180"), "rules age in days: {t}");
        assert!(
            t.contains(if l == Lang::Fr {
                "ATTENTION"
            } else {
                "WARNING"
            }),
            "old rules: {t}"
        );
    }
    let mut a = base(Lang::Fr);
    a.rules = None;
    assert!(text(&draw(&a)).contains("chargement des règles"));
}

#[test]
fn machine_screen() {
    for l in langs() {
        let mut a = base(l);
        a.handle(Event::Key(Key::Enter));
        let t = text(&check("machine", &a));
        for want in [
            "nvme0n1",
            "Samsung SSD 980 500GB",
            "S64DNX0R123456",
            "bitlocker",
            "8086:467f",
            "\"Windows\"",
        ] {
            assert!(t.contains(want), "{want} missing: {t}");
        }
    }
}

#[test]
fn options_screens() {
    for l in langs() {
        let mut a = base(l);
        a.handle(Event::Key(Key::Enter));
        a.handle(Event::Key(Key::Enter));
        a.handle(Event::Key(Key::Up));
        for c in "PC-ACCUEIL-03".chars() {
            a.handle(Event::Key(Key::Char(c)));
        }
        let t = text(&check("options-full", &a));
        assert!(t.contains("PC-ACCUEIL-03_"), "{t}");
        a.handle(Event::Key(Key::Up));
        a.handle(Event::Key(Key::Right));
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Enter));
        let t = text(&check("options-choose", &a));
        assert!(
            t.contains("[ ] Disk nvme0n1") || t.contains("[ ] Disque nvme0n1"),
            "{t}"
        );
        assert!(
            t.contains("[x] Disk sda") || t.contains("[x] Disque sda"),
            "{t}"
        );
    }
}

#[test]
fn progress_with_a_long_path() {
    for l in langs() {
        let mut a = to_progress(l);
        a.handle(Event::Progress(Progress {
            disk: "/dev/nvme0n1".into(),
            volume: Some(3),
            path: String::new(),
            files: 0,
            bytes: 0,
            findings: 0,
            skipped: 0,
            ..Progress::default()
        }));
        a.handle(Event::Record(Record::Volume(volume(
            "/dev/nvme0n1",
            1,
            FsKind::Fat32,
            VolumeStatus::Scanned,
            &[],
            None,
        ))));
        a.handle(Event::Record(Record::Finding(finding(
            "Windows/Temp/eicar.txt",
            "EICAR_Test_File",
        ))));
        let mut ads = finding("Users/Public/readme.txt", "Hidden_Stream_Payload");
        ads.stream = Some("hidden".into());
        a.handle(Event::Record(Record::Finding(ads)));
        a.handle(Event::Progress(Progress {
            disk: "/dev/nvme0n1".into(),
            volume: Some(3),
            path: LONG.into(),
            files: 12_345,
            bytes: 3 << 30,
            findings: 1,
            skipped: 7,
            ..Progress::default()
        }));
        a.handle(Event::Tick(95.0));
        let t = text(&check("progress", &a));
        assert!(t.contains("Users/Dr.Jean-Baptiste.Durand-Montgolfier/.../IMG_20261127_153012_scan_patient.jpg") || t.contains("/IMG_20261127_153012_scan_patient.jpg"), "{t}");
        assert!(t.contains("Users/"), "path start kept: {t}");
        assert!(t.contains("12345"), "{t}");
        assert!(t.contains("EICAR_Test_File"), "{t}");
        assert!(t.contains("Users/Public/readme.txt:hidden"), "{t}");
        a.handle(Event::Key(Key::Esc));
        let t = text(&check("progress-cancel", &a));
        assert!(
            t.contains(if l == Lang::Fr {
                "Arrêter l'analyse ?"
            } else {
                "Stop the scan?"
            }),
            "{t}"
        );
    }
}

/// The current-file line says where the scan is as the findings do: `file:stream` for an NTFS
/// alternate data stream, `container//member` inside an archive.
#[test]
fn progress_shows_the_stream_and_the_member() {
    for l in langs() {
        let mut a = to_progress(l);
        a.handle(Event::Progress(Progress {
            disk: "/dev/sda".into(),
            volume: Some(3),
            path: "/Users/Public/readme.txt".into(),
            stream: Some("hidden".into()),
            files: 40,
            bytes: 1 << 20,
            ..Progress::default()
        }));
        a.handle(Event::Tick(3.0));
        let t = text(&check("progress-stream", &a));
        assert!(t.contains("/Users/Public/readme.txt:hidden"), "{t}");
        a.handle(Event::Progress(Progress {
            disk: "/dev/sda".into(),
            volume: Some(3),
            path: "/Downloads/facture.zip".into(),
            member: Some("inner.zip//facture.pdf.exe".into()),
            files: 41,
            bytes: 2 << 20,
            ..Progress::default()
        }));
        let t = text(&check("progress-member", &a));
        assert!(
            t.contains("/Downloads/facture.zip//inner.zip//facture.pdf.exe"),
            "{t}"
        );
    }
}

#[test]
fn three_verdicts() {
    for l in langs() {
        let a = scanned_machine(l, Verdict::Infected);
        let b = check("verdict-infected", &a);
        assert_eq!(b[(40, 12)].bg, Color::Red);
        let t = text(&b);
        assert!(
            t.contains("Ransom_LockBit3_Note") && t.contains("invoice.com"),
            "{t}"
        );
        let a = scanned_machine(l, Verdict::Clean);
        let b = check("verdict-clean", &a);
        assert_eq!(b[(40, 12)].bg, Color::Green);
        let a = scanned_machine(l, Verdict::Incomplete);
        let b = check("verdict-incomplete", &a);
        assert_eq!(b[(40, 12)].bg, Color::Yellow);
        let t = text(&b);
        assert!(
            t.contains("bitlocker") && t.contains("compressed 12"),
            "{t}"
        );
    }
}

/// Issue 14: the options screen shows how long a full and a quick scan of the chosen disks
/// should take, from the bytes allocated on their volumes.
#[test]
fn options_with_durations() {
    for l in langs() {
        let mut m = machine();
        let used = [Some(40 << 20), None, Some(180 << 30), None];
        for (v, a) in m.disks[0].volumes.iter_mut().zip(used) {
            v.allocated = a;
        }
        m.disks[1].volumes[0].allocated = Some(300 << 30);
        let mut a = base(l);
        a.handle(Event::Machine(m));
        a.handle(Event::Key(Key::Enter));
        a.handle(Event::Key(Key::Enter));
        assert_eq!(a.screen, Screen::Options);
        for _ in 0..3 {
            a.handle(Event::Key(Key::Up));
        }
        a.handle(Event::Key(Key::Right));
        assert!(a.quick);
        let t = text(&check("options-durations", &a));
        // 480 GiB at the stated 50 MiB/s: 2 h 43 min; quick: 3 % of it plus 1 min a volume.
        assert!(t.contains("2 h 43 min"), "{t}");
        assert!(
            t.contains("Rapide : zones") || t.contains("Quick: high-risk"),
            "{t}"
        );
        a.handle(Event::Key(Key::Right));
        assert!(!a.quick);
    }
}

/// Issue 14: a full scan's time left comes from the bytes allocated on the volumes, from the
/// first seconds (10 GiB of 100 GiB in 100 s: 15 minutes left, 10 %).
#[test]
fn time_left_from_allocated_bytes() {
    for l in langs() {
        let mut a = to_progress(l);
        if let Some(m) = a.machine.as_mut() {
            m.disks[0].volumes[2].allocated = Some(60 << 30);
            m.disks[1].volumes[0].allocated = Some(40 << 30);
        }
        a.handle(Event::Progress(Progress {
            bytes: 10 << 30,
            files: 1000,
            path: "/Windows/explorer.exe".into(),
            ..Progress::default()
        }));
        a.handle(Event::Tick(100.0));
        let t = text(&draw(&a));
        assert!(t.contains("15 min 00 s"), "{t}");
        assert!(t.contains("10 %"), "{t}");
    }
}

/// Regression (found by `scripts/tui-test` on the merged tree): once every chosen volume is
/// finished, the share of finished volumes is 1.0; the progress screen, with allocated counts
/// smaller than the bytes read (boot areas, metadata), must draw 100 %, not panic.
#[test]
fn progress_after_the_last_volume_with_allocated_bytes() {
    for l in langs() {
        let mut a = to_progress(l);
        if let Some(m) = a.machine.as_mut() {
            for d in &mut m.disks {
                for v in &mut d.volumes {
                    v.allocated = Some(3_500);
                }
            }
        }
        a.handle(Event::Progress(Progress {
            bytes: 10 << 20,
            files: 12,
            path: "/Users/Public/Downloads/invoice.com".into(),
            ..Progress::default()
        }));
        // Every volume of every disk finished: the finished share is 1.0.
        let all: Vec<(String, u32, FsKind)> = a
            .machine
            .iter()
            .flat_map(|m| m.disks.iter())
            .flat_map(|d| {
                d.volumes
                    .iter()
                    .map(move |v| (d.dev.clone(), v.number, v.fs))
            })
            .collect();
        assert!(!all.is_empty());
        for (disk, n, fs) in all {
            a.handle(Event::Record(Record::Volume(volume(
                &disk,
                n,
                fs,
                VolumeStatus::Scanned,
                &[],
                None,
            ))));
        }
        a.handle(Event::Tick(5.0));
        assert_eq!(a.screen, Screen::Progress);
        let t = text(&draw(&a));
        assert!(t.contains("100 %"), "{t}");
    }
}

fn quick(mut a: App) -> App {
    let s = a.scan.summary.as_mut().unwrap();
    s.mode = ScanMode::Quick;
    s.not_selected = 251_804;
    a
}

/// Issue 14: a quick scan with nothing found is blue with its own words and counts, never
/// green; an infection is red as always.
#[test]
fn quick_scan_verdicts() {
    for l in langs() {
        let a = quick(scanned_machine(l, Verdict::Clean));
        assert!(a.quick_clean());
        let b = check("verdict-quick-clean", &a);
        assert_eq!(b[(40, 12)].bg, Color::Blue);
        let t = text(&b);
        assert!(t.contains("251804"), "{t}");
        assert!(
            t.contains("aucune menace dans les zones à risque")
                || t.contains("no threat in the high-risk areas"),
            "{t}"
        );
        let a = quick(scanned_machine(l, Verdict::Infected));
        assert!(!a.quick_clean());
        let b = check("verdict-quick-infected", &a);
        assert_eq!(b[(40, 12)].bg, Color::Red);
    }
}

#[test]
fn never_green_when_something_was_skipped() {
    let mut a = scanned_machine(Lang::En, Verdict::Clean);
    a.scan.summary.as_mut().unwrap().skipped = 1;
    assert_eq!(a.verdict(), Verdict::Incomplete);
    assert_eq!(draw(&a)[(40, 12)].bg, Color::Yellow);
}

#[test]
fn details_tabs() {
    for l in langs() {
        let mut a = scanned_machine(l, Verdict::Infected);
        a.handle(Event::Key(Key::Char('d')));
        let t = text(&check("details-findings", &a));
        assert!(
            t.contains("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"),
            "{t}"
        );
        let mut a = scanned_machine(l, Verdict::Incomplete);
        a.handle(Event::Key(Key::Char('d')));
        a.handle(Event::Key(Key::Right));
        let t = text(&check("details-skipped", &a));
        assert!(t.contains("compressed") && t.contains("12"), "{t}");
        a.handle(Event::Key(Key::Right));
        let t = text(&check("details-volumes", &a));
        assert!(t.contains("/dev/sda #2"), "{t}");
    }
}

#[test]
fn end_screens() {
    for l in langs() {
        let mut a = scanned_machine(l, Verdict::Infected);
        a.handle(Event::Key(Key::Enter));
        assert_eq!(a.screen, Screen::End);
        check("end-saving", &a);
        a.handle(Event::Saved(Ok(
            "VIGIE-LOGS:/VIGIE/scans/20261128T143000Z-HP_EliteDesk-CZC1234.jsonl".into(),
        )));
        let t = text(&check("end", &a));
        assert!(
            t.contains("20261128T143000Z-HP_EliteDesk-CZC1234.jsonl"),
            "{t}"
        );
        a.saved = Some(Err("log partition full".into()));
        let t = text(&check("end-failed", &a));
        assert!(t.contains("log partition full"), "{t}");
    }
}

#[test]
fn crash_screen() {
    for l in langs() {
        let mut a = App::new(l, Layout::Fr);
        a.screen = Screen::Crash;
        a.crash = Some("killed by signal SIGABRT, 3 records".into());
        a.saved = Some(Ok(
            "VIGIE-LOGS:/VIGIE/scans/20261128T143000Z-unknown.jsonl".into()
        ));
        let b = check("crash", &a);
        assert_eq!(b[(40, 12)].bg, Color::Red);
        let t = text(&b);
        assert!(
            t.contains("SIGABRT") && t.contains("20261128T143000Z-unknown.jsonl"),
            "{t}"
        );
    }
}

#[test]
fn larger_terminals_work_too() {
    let a = scanned_machine(Lang::Fr, Verdict::Infected);
    for (w, h) in [(100, 30), (132, 43), (80, 24)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(&a, f)).unwrap();
        let b = t.backend().buffer();
        assert_eq!(b[(w / 2, h / 2)].bg, Color::Red);
    }
}

#[test]
fn every_note_is_shown_in_the_screen_language() {
    // One volume per kind of note on the details' volumes tab: the note line(s) under it, for
    // every code of the catalogue, in one snapshot per language.
    use vigie::text::note::{example, CATALOGUE};
    for l in langs() {
        let mut shown = String::new();
        for entry in CATALOGUE {
            let note = example(entry);
            let mut a = to_progress(l);
            for r in [
                Record::Volume(volume(
                    "/dev/sda",
                    2,
                    FsKind::Ntfs,
                    VolumeStatus::Partial,
                    &[],
                    Some(&note),
                )),
                Record::Summary(summary(Verdict::Incomplete, 0, 0)),
            ] {
                a.handle(Event::Record(r));
            }
            a.handle(Event::Key(Key::Char('d')));
            a.handle(Event::Key(Key::Right));
            a.handle(Event::Key(Key::Right));
            let t = text(&draw(&a));
            let lines: Vec<&str> = t
                .lines()
                .skip_while(|r| !r.contains("/dev/sda #2"))
                .skip(1)
                .take_while(|r| r.starts_with("│    ") && !r.trim_matches(['│', ' ']).is_empty())
                .collect();
            assert!(!lines.is_empty(), "{}: no note line\n{t}", entry.code);
            shown.push_str(&format!("[{}]\n", entry.code));
            for r in lines {
                shown.push_str(r.trim_matches(['│', ' ']));
                shown.push('\n');
            }
            let words = vigie::text::note::Note::classify(&note).render(l);
            let start: String = words.chars().take(30).collect();
            assert!(
                t.contains(&start),
                "{}: {start:?} not shown\n{t}",
                entry.code
            );
        }
        compare_snapshot("notes", l, &shown);
    }
}

#[test]
fn reserved_and_unknown_partitions_are_named_in_words() {
    for l in langs() {
        let mut m = machine();
        m.disks[0].volumes.push(MachineVolume {
            number: 9,
            fs: FsKind::Unknown,
            size: 16 << 20,
            label: None,
            kind: VolumeKind::MsReserved,
            allocated: None,
        });
        m.disks[0].volumes.push(MachineVolume {
            number: 10,
            fs: FsKind::Unknown,
            size: 1 << 30,
            label: None,
            kind: VolumeKind::Unreadable,
            allocated: None,
        });
        let mut a = base(l);
        a.handle(Event::Machine(m));
        a.handle(Event::Key(Key::Enter));
        let t = text(&draw(&a));
        let (msr, none) = match l {
            Lang::Fr => ("réservée Microsoft (MSR)", "aucun format reconnu"),
            Lang::En => ("Microsoft reserved (MSR)", "no filesystem recognised"),
        };
        assert!(t.contains(msr) && t.contains(none), "{t}");
        assert!(!t.contains("unknown"), "{t}");
    }
}
