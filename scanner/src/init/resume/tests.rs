//! The checkpoint on a real prepared log partition (as `vigie-image` makes it): every save of
//! a scan's checkpoint, cut after every single write, then a real `fsck.fat -n`, and what the
//! next boot reads (the old checkpoint or the new one, never a torn one).

use super::checkpoint::{chunk_text, head_line, parse, resumed_line};
use super::*;
use crate::init::fatlog::tests::CutStore;
use crate::init::fatlog::{DosTime, FatError, Node};
use crate::init::logpart::save_tests::{
    blank_partition, cut_everywhere, fsck, prepared_partition, read, sample_host, store, tool,
};
use crate::init::logpart::{save_scan_on, SaveOptions, RECORD_FILE, SCANS_DIR};
use std::io::Write;

const NOW: u64 = 1_795_876_200;

fn host() -> crate::record::HostRecord {
    sample_host(1)
}

fn head_text() -> String {
    head_line(&new_head(&host(), 5, NOW)) + "\n"
}

/// The record lines of finished volume `n`: its findings, a Windows-sized list of persistence
/// entries (services and drivers), then its volume record.
fn volume_lines(n: u32, findings: usize, persistence: usize) -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..findings {
        v.push(format!(
            r#"{{"type":"finding","disk":"/dev/sda","volume":{n},"path":"Users/marie.dupont/AppData/Local/Temp/f{n}-{i}.exe","stream":null,"kind":"yara","rule":"EICAR_Test_File","namespace":"default","sha256":"{:064x}","size":68,"mode":"full"}}"#,
            u64::from(n) * 1_000_003 + i as u64 * 7_919
        ));
    }
    for i in 0..persistence {
        v.push(format!(
            r#"{{"type":"persistence","disk":"/dev/sda","volume":{n},"kind":"service","source":"/Windows/System32/config/SYSTEM|ControlSet001\\Services\\Svc{i:04}|ImagePath","command":"%SystemRoot%\\System32\\svchost.exe -k netsvcs{i}","target":"/Windows/System32/svchost.exe","exists":true,"user_writable":false,"missing":false,"start":{}}}"#,
            i % 5
        ));
    }
    v.push(format!(
        r#"{{"type":"volume","disk":"/dev/sda","volume":{n},"fs":"ntfs","offset":{},"size":1000000,"label":null,"status":"scanned","files":{},"scanned":{},"skipped":{{}},"errors":0,"notes":[],"bytes":30000}}"#,
        u64::from(n) * 1_000_000,
        100 + n,
        100 + n
    ));
    for l in &v {
        assert!(
            serde_json::from_str::<crate::record::Record>(l).is_ok(),
            "test line does not parse: {l}"
        );
    }
    v
}

/// The checkpoint texts of a scan of five volumes, as PID 1 saves them one after the other.
fn texts() -> Vec<String> {
    let mut out = vec![head_text()];
    for n in 1..=5u32 {
        let prev = out.last().unwrap().clone();
        let lines = volume_lines(n, n as usize * 4, if n == 3 { 600 } else { 40 });
        out.push(prev + &chunk_text(&lines, "2026-12-02T10:05:00Z", NOW + u64::from(n) * 60));
    }
    out
}

fn checkpoint_of(img: &[u8]) -> Option<Checkpoint> {
    read_on(store(img.to_vec(), None))
}

/// Every save of a scan's checkpoint (opened with its head, then rewritten after each of five
/// volumes, one of them with 600 persistence entries), then the record saved into its folder
/// (which closes it): a cut after any single write leaves a volume `fsck.fat -n` finds clean,
/// and the next boot reads the checkpoint as it was before that save or after it, never torn;
/// from any cut, the next save still goes through a token.
#[test]
fn power_cut_at_every_write_of_every_checkpoint_save() {
    if !tool("fsck.fat") {
        eprintln!("fsck.fat missing: skipped");
        return;
    }
    let Some(mut base) = prepared_partition(40, 4) else {
        return;
    };
    let texts = texts();
    let wanted = logpart::folder_name(&host());
    let mut folder = String::new();
    let (mut cuts, mut damaged) = (0, 0);
    for (i, text) in texts.iter().enumerate() {
        let fresh = i == 0;
        let name = if fresh {
            wanted.clone()
        } else {
            folder.clone()
        };
        let op = |s: &mut CutStore| {
            let whole = s.cut_after.is_none();
            let r = save_on(&mut *s, &name, fresh, text, NOW);
            if whole {
                let (n, _) = r.expect("checkpoint not saved through a token");
                assert_eq!(n, wanted);
            }
        };
        let old = (i > 0).then(|| texts[i - 1].clone());
        let (w, d) = cut_everywhere(
            &format!(
                "checkpoint save {i} ({} bytes compressed)",
                gzip(text).len()
            ),
            &base,
            &op,
            &|img, cut| {
                let got = checkpoint_of(img).map(|c| c.text);
                assert!(
                    got == old || got.as_deref() == Some(text.as_str()),
                    "save {i} cut {cut}: the checkpoint is neither the old nor the new one"
                );
                // The next save from there still goes through a token, and is read back.
                let again = save_on(store(img.to_vec(), None), &name, got.is_none(), text, NOW);
                let (_, after) = again.unwrap_or_else(|e| panic!("save {i} cut {cut}: {e}"));
                assert_eq!(
                    checkpoint_of(&after.img).map(|c| c.text).as_deref(),
                    Some(text.as_str())
                );
                assert!(fsck(&after.img).0, "save {i} cut {cut} then a save");
            },
        );
        cuts += w;
        damaged += d;
        let mut s = store(base.clone(), None);
        op(&mut s);
        folder = wanted.clone();
        let cp = checkpoint_of(&s.img).unwrap();
        assert_eq!(cp.folder.as_deref(), Some(folder.as_str()));
        assert_eq!(cp.volumes().len(), i);
        base = s.img;
    }
    // The scan ran to its end: its record goes into the checkpoint's folder, which closes it.
    let lines = texts.last().map(|t| parse(t).lines).unwrap();
    let into = SaveOptions {
        pseudonymise: false,
        now: NOW,
        folder: Some(folder.clone()),
    };
    let last = texts.last().unwrap().clone();
    let op = |s: &mut CutStore| {
        let whole = s.cut_after.is_none();
        let r = save_scan_on(&mut *s, &host(), &lines, &into);
        if whole {
            let (saved, _) = r.unwrap();
            assert!(saved.protected, "{saved:?}");
            assert_eq!(saved.folder, format!("{SCANS_DIR}/{folder}"));
        }
    };
    let (w, d) = cut_everywhere(
        "record into the checkpoint's folder",
        &base,
        &op,
        &|img, cut| {
            let rec = read(img, &format!("{SCANS_DIR}/{folder}/{RECORD_FILE}"));
            match checkpoint_of(img) {
                Some(cp) => assert!(rec.is_none() && cp.text == last, "cut {cut}"),
                None => assert!(rec.is_some(), "cut {cut}: closed without its record"),
            }
        },
    );
    cuts += w;
    damaged += d;
    let mut s = store(base, None);
    op(&mut s);
    assert!(
        checkpoint_of(&s.img).is_none(),
        "closed once the record is in"
    );
    eprintln!("checkpoint saves: {cuts} cut points, {damaged} damaged");
    assert_eq!(damaged, 0);
    assert!(cuts > 40, "{cuts}");
}

/// A cancelled scan's record goes into a folder of its own: the checkpoint stays open; then a
/// newer full scan's checkpoint is the one read.
#[test]
fn a_cancelled_record_leaves_the_checkpoint_open_and_a_newer_scan_supersedes_it() {
    let Some(img) = prepared_partition(40, 4) else {
        return;
    };
    let texts = texts();
    let name = logpart::folder_name(&host());
    let (_, s) = save_on(store(img, None), &name, true, &texts[2], NOW).unwrap();
    let lines = parse(&texts[2]).lines;
    let (saved, s) = save_scan_on(
        s,
        &host(),
        &lines,
        &SaveOptions {
            pseudonymise: false,
            now: NOW,
            folder: None,
        },
    )
    .unwrap();
    assert_eq!(saved.folder, format!("{SCANS_DIR}/{name}-2"));
    let cp = checkpoint_of(&s.img).expect("still open");
    assert_eq!(
        (cp.folder.as_deref(), cp.volumes().len()),
        (Some(&*name), 2)
    );
    // A newer scan (later start): its checkpoint counts, even with no volume finished.
    let mut newer = host();
    newer.started = "2026-11-28T15:00:00Z".into();
    let (n2, s) = save_on(s, &logpart::folder_name(&newer), true, &head_text(), NOW).unwrap();
    let cp = checkpoint_of(&s.img).unwrap();
    assert_eq!(cp.folder.as_deref(), Some(n2.as_str()));
    assert_eq!(cp.offer(&host(), NOW), Err(Stale::Nothing));
    if tool("fsck.fat") {
        assert!(fsck(&s.img).0);
    }
}

/// No prepared space (an old stick), or a checkpoint too large for it: nothing is written (the
/// ordered writer is never used for a checkpoint) and the one saved before stays.
#[test]
fn without_room_nothing_is_written_and_the_older_checkpoint_stays() {
    let Some(blank) = blank_partition(40) else {
        return;
    };
    let mut s = store(blank.clone(), None);
    let err = save_on(&mut s, "2026-11-28_143001_X", true, &head_text(), NOW)
        .err()
        .unwrap();
    assert!(matches!(err, SaveError::Fat(FatError::NoToken(_))), "{err}");
    // Opening the volume may set FSInfo's free count to unknown once; nothing else.
    assert!(s.writes <= 1, "{} writes", s.writes);
    assert!(checkpoint_of(&s.img).is_none());

    let Some(img) = prepared_partition(40, 2) else {
        return;
    };
    let name = logpart::folder_name(&host());
    let texts = texts();
    let (_, s) = save_on(store(img, None), &name, true, &texts[1], NOW).unwrap();
    // Lines that do not compress: far past what the folder's small tokens hold.
    let mut x = 7u64;
    let noise: Vec<String> = (0..2000)
        .map(|i| {
            let h: String = (0..4)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{x:016x}")
                })
                .collect();
            format!(
                r#"{{"type":"finding","disk":"/dev/sda","volume":2,"path":"{h}/{i}","stream":null,"kind":"yara","rule":"R","namespace":"default","sha256":"{h}","size":1,"mode":"full"}}"#
            )
        })
        .collect();
    let big = texts[1].clone() + &chunk_text(&noise, "2026-12-02T10:06:00Z", NOW + 120);
    assert!(gzip(&big).len() > 64 << 10, "{}", gzip(&big).len());
    let before = s.img.clone();
    let mut s = s;
    let err = save_on(&mut s, &name, false, &big, NOW).err().unwrap();
    assert!(matches!(err, SaveError::Fat(FatError::NoToken(_))), "{err}");
    assert_eq!(checkpoint_of(&s.img).unwrap().text, texts[1]);
    assert_eq!(s.img, before, "a refused checkpoint wrote something");
    // The largest rewrite the small tokens take, for the notes.
    let mut fits = 0;
    for n in 1..=64 {
        let t = texts[1].clone() + &chunk_text(&noise[..n * 25], "2026-12-02T10:06:00Z", NOW);
        match save_on(store(before.clone(), None), &name, false, &t, NOW) {
            Ok(_) => fits = gzip(&t).len(),
            Err(_) => break,
        }
    }
    eprintln!("largest checkpoint rewrite through the small tokens: {fits} bytes compressed");
    assert!(fits > 4 << 10, "{fits}");
}

/// The older `VIGIE/resume.jsonl` (appended by the previous version) is still read, and
/// moved into a scan folder of its own when resumed; a cut at any write of that move leaves a
/// clean volume and one of the two, with the same finished volumes.
#[test]
fn the_older_checkpoint_file_is_read_and_moved_into_a_scan_folder() {
    if !tool("fsck.fat") {
        eprintln!("fsck.fat missing: skipped");
        return;
    }
    let Some(img) = prepared_partition(40, 3) else {
        return;
    };
    let texts = texts();
    // The older file: two segments (an ended one, then the cut one with a partial chunk).
    let old = texts[2].clone()
        + &checkpoint::end_line("S0")
        + &texts[2]
        + "{\"type\":\"finding\",\"disk\":\"/dev/sd";
    let mut vol = Vol::open(store(img, None), DosTime::from_unix(NOW)).unwrap();
    let vigie = vol.find_dir("VIGIE").unwrap().unwrap();
    vol.add(vigie, &Node::File(LEGACY_FILE.into(), old.into_bytes()))
        .unwrap();
    let base = vol.into_inner().img;
    let cp = checkpoint_of(&base).unwrap();
    assert_eq!(cp.folder, None);
    assert!(!cp.ended);
    assert_eq!(cp.volumes().len(), 2);
    assert_eq!(cp.text, texts[2]);
    assert!(cp.offer(&host(), NOW + 600).is_ok());
    // What `Checkpointer::resume` saves for it.
    let moved = cp.text.clone() + &resumed_line("2026-12-03T08:00:00Z", NOW + 3600);
    let name = logpart::folder_name(&host());
    let op = |s: &mut CutStore| {
        let whole = s.cut_after.is_none();
        let r = save_on(&mut *s, &name, true, &moved, NOW + 3600);
        // On a prepared stick the ordered writer's appends of the older file take free
        // clusters of the small tokens' FAT sectors: the move may be refused (nothing written,
        // the older file stays the one read), never damaging.
        if whole {
            if let Err(e) = r {
                assert!(matches!(e, SaveError::Fat(FatError::NoToken(_))), "{e}");
            }
        }
    };
    let (_, d) = cut_everywhere("older checkpoint moved", &base, &op, &|img, cut| {
        let got = checkpoint_of(img).unwrap();
        assert_eq!(got.lines, cp.lines, "cut {cut}");
    });
    assert_eq!(d, 0);
    let mut s = store(base, None);
    op(&mut s);
    let got = checkpoint_of(&s.img).unwrap();
    eprintln!(
        "older checkpoint moved into a scan folder: {}",
        got.folder.is_some()
    );
    if let Some(f) = &got.folder {
        assert_eq!(f, &name);
    }
    assert_eq!(got.lines, cp.lines);
}

/// After two cuts the record keeps both earlier spans (each boot's start to its last finished
/// volume) and their seconds, not the first start to the last checkpoint.
#[test]
fn two_cuts_keep_both_earlier_spans() {
    let h = host();
    let mut head = new_head(&h, 3, 1_000);
    head.started = "2026-12-01T10:00:00Z".into();
    let text = head_line(&head)
        + "\n"
        + &chunk_text(&volume_lines(1, 1, 0), "2026-12-01T10:01:40Z", 1_100)
        + &resumed_line("2026-12-01T11:00:00Z", 4_600)
        + &chunk_text(&volume_lines(2, 0, 0), "2026-12-01T11:03:20Z", 4_800)
        // The third boot was cut before its first volume: no span of its own.
        + &resumed_line("2026-12-01T12:00:00Z", 8_200);
    let cp = parse(&text);
    assert_eq!(cp.spans.len(), 3);
    assert_eq!(cp.seconds(), 300.0);
    assert_eq!(cp.volumes().len(), 2);
    assert!(
        !cp.text.contains("12:00:00Z"),
        "the last boot's line is dropped"
    );
    let r = merge::resumed(&cp).unwrap();
    let spans: Vec<(&str, Option<&str>)> = r
        .spans
        .iter()
        .map(|s| (s.started.as_str(), s.ended.as_deref()))
        .collect();
    assert_eq!(
        spans,
        vec![
            ("2026-12-01T10:00:00Z", Some("2026-12-01T10:01:40Z")),
            ("2026-12-01T11:00:00Z", Some("2026-12-01T11:03:20Z")),
        ]
    );
    assert_eq!(offer_for_ui(&cp).unwrap().seconds, 300.0);
    // A partial chunk before a resumed line (a cut during an older append) is dropped.
    let torn = head_line(&head)
        + "\n"
        + &volume_lines(1, 0, 0)[0]
        + "\n"
        + &resumed_line("2026-12-01T11:00:00Z", 4_600);
    assert!(parse(&torn).volumes().is_empty());
}

/// A damaged checkpoint file (any byte flipped, cut short) is read as nothing or as what it
/// says, never a panic, and never an allocation past the bound.
#[test]
fn hostile_checkpoint_files_never_panic() {
    let z = gzip(&texts()[3]);
    for i in (0..z.len()).step_by(7) {
        let mut b = z.clone();
        b[i] ^= 0x5a;
        if let Some(t) = gunzip(&b) {
            let _ = parse(&t).skip_keys();
        }
        let _ = gunzip(&z[..i]);
    }
    // A small file that inflates past the bound is refused.
    let bomb = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..17 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    };
    assert!(bomb.len() < MAX_FILE as usize);
    assert!(gunzip(&bomb).is_none());
}
