//! Power-cut simulations of the token saves: a cut after every single write.

use super::super::save_tests::{
    cut_everywhere, fsck, list_records, opts, prepared_partition, read, sample_host, sample_lines,
    store, tool,
};
use super::super::{save_scan_on, SaveOptions, INDEX, RECORD_FILE};
use super::*;
use crate::init::fatlog::tests::CutStore;

/// Cuts the power after every single write of a save on a prepared partition (as the
/// image builder makes it): not one cut point may leave a volume fsck complains about.
/// Rounds cover a first save, index growth across clusters (the index token grows
/// within its FAT sector, the spent one is recycled), and a save whose report needs
/// several clusters.
#[test]
fn power_cut_after_every_write_of_a_token_save_leaves_fsck_clean() {
    if !tool("fsck.fat") {
        eprintln!("fsck.fat missing: skipped");
        return;
    }
    let Some(img) = prepared_partition(40, 8) else {
        return;
    };
    assert!(fsck(&img).0, "{}", fsck(&img).1);
    let mut base = img;
    let mut total_cuts = 0;
    let mut damaged = 0;
    for round in 0..5u32 {
        let host = sample_host(20 + round);
        let lines = sample_lines(round as usize * 3);
        let before = list_records(&base);
        let idx = read(&base, INDEX).unwrap();
        let (saved, full) =
            save_scan_on(store(base.clone(), None), &host, &lines, &opts()).unwrap();
        assert!(saved.protected && saved.indexed, "round {round}: {saved:?}");
        let total = full.writes;
        let mut bad = Vec::new();
        for cut in 0..total {
            let mut cs = store(base.clone(), Some(cut));
            let _ = save_scan_on(&mut cs, &host, &lines, &opts());
            let (ok, text) = fsck(&cs.img);
            if !ok {
                bad.push((cut, text));
            }
            for (path, data) in &before {
                assert_eq!(
                    read(&cs.img, path).as_ref(),
                    Some(data),
                    "round {round} cut {cut}"
                );
            }
            let now_idx = read(&cs.img, INDEX).unwrap();
            assert!(
                now_idx.starts_with(&idx),
                "round {round} cut {cut}: index lost rows"
            );
            // The next boot still saves its record, through a token, and fsck is clean.
            let (next, after) = save_scan_on(
                store(cs.img, None),
                &sample_host(9),
                &sample_lines(0),
                &opts(),
            )
            .unwrap();
            assert!(
                next.indexed && next.protected,
                "round {round} cut {cut}: {next:?}"
            );
            assert!(read(&after.img, &format!("{}/{RECORD_FILE}", next.folder)).is_some());
            let (ok2, text2) = fsck(&after.img);
            assert!(ok2, "round {round} cut {cut} then a save: {text2}");
        }
        eprintln!(
            "token save round {round}: {total} writes, {} damaged cut points",
            bad.len()
        );
        total_cuts += total;
        damaged += bad.len();
        assert!(
            bad.is_empty(),
            "round {round}: fsck complained after cuts {bad:?}"
        );
        base = full.img;
    }
    eprintln!("token saves: {total_cuts} cut points, {damaged} damaged");
    assert!(total_cuts > 50, "{total_cuts}");
}

/// Out of tokens: the ordered writer saves the record anyway, the record says so with
/// the stable note, and `prepare` replenishes.
#[test]
fn without_tokens_the_save_falls_back_and_says_so_then_prepare_replenishes() {
    let Some(img) = prepared_partition(40, 1) else {
        return;
    };
    let (a, s) =
        save_scan_on(store(img, None), &sample_host(1), &sample_lines(1), &opts()).unwrap();
    assert!(a.protected);
    let (b, s) = save_scan_on(s, &sample_host(2), &sample_lines(1), &opts()).unwrap();
    assert!(!b.protected && b.indexed);
    let rec =
        String::from_utf8(read(&s.img, &format!("{}/{RECORD_FILE}", b.folder)).unwrap()).unwrap();
    assert!(
        rec.contains("saved without power-cut protection (no_token)"),
        "{rec}"
    );
    let note = crate::text::note::Note::classify(&super::super::unprotected_note("no_token"));
    assert_eq!(note.code, "logpart_unprotected");
    let mut vol = Vol::open(s, crate::init::fatlog::DosTime::default()).unwrap();
    let p = super::super::prepare::prepare(&mut vol, 3).unwrap();
    assert_eq!((p.scan_tokens, p.added), (3, 3));
    let (c, s) =
        save_scan_on(vol.into_inner(), &sample_host(3), &sample_lines(1), &opts()).unwrap();
    assert!(c.protected);
    assert_eq!(list_records(&s.img).len(), 6);
    if tool("fsck.fat") {
        assert!(fsck(&s.img).0, "{}", fsck(&s.img).1);
    }
}

/// A record too large for its region goes through the holder's tap (the lanes), protected.
#[test]
fn a_record_larger_than_a_region_goes_through_the_lanes() {
    let Some(img) = prepared_partition(40, 2) else {
        return;
    };
    let big = sample_lines(400);
    let (a, s) = save_scan_on(store(img, None), &sample_host(1), &big, &opts()).unwrap();
    assert!(a.protected, "{a:?}");
    let rec = read(&s.img, &format!("{}/{RECORD_FILE}", a.folder)).unwrap();
    assert!(rec.len() > 64 << 10, "{}", rec.len());
    let (b, _) = save_scan_on(s, &sample_host(2), &sample_lines(1), &opts()).unwrap();
    assert!(b.protected);
}

/// `prepare` refuses a FAT volume that is not a Vigie log partition (no `VIGIE.ID`).
#[test]
fn prepare_refuses_a_volume_without_the_stick_id() {
    let Some(img) = prepared_partition(40, 1) else {
        return;
    };
    let mut vol = Vol::open(store(img, None), crate::init::fatlog::DosTime::default()).unwrap();
    let root = vol.root();
    let id = vol.find(root, "VIGIE.ID").unwrap().unwrap();
    // Rename the id away through the raw short name (test only).
    let mut s = vol.into_inner();
    s.img[id.pos as usize] = b'X';
    let mut vol = Vol::open(s, crate::init::fatlog::DosTime::default()).unwrap();
    let before = vol.free_clusters();
    assert!(matches!(
        super::super::prepare::prepare(&mut vol, 4),
        Err(FatError::NotFound(_))
    ));
    assert_eq!(vol.free_clusters(), before);
}

/// Bytes that do not compress (xorshift).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn fsck_ok() -> bool {
    if tool("fsck.fat") {
        return true;
    }
    eprintln!("fsck.fat missing: skipped");
    false
}

/// A record over 64 KiB (through the scan folder's tap and the lanes), cut after every write.
#[test]
fn power_cut_during_a_record_over_64_kib() {
    if !fsck_ok() {
        return;
    }
    let Some(base) = prepared_partition(40, 3) else {
        return;
    };
    let host = sample_host(3);
    let lines = sample_lines(300);
    let (w, d) = cut_everywhere(
        "record over 64 KiB",
        &base,
        &|s| {
            let _ = save_scan_on(&mut *s, &host, &lines, &opts());
        },
        &|img, cut| {
            // The next boot saves its record, protected, on a clean volume.
            let (next, after) = save_scan_on(
                store(img.to_vec(), None),
                &sample_host(9),
                &sample_lines(0),
                &opts(),
            )
            .unwrap();
            assert!(next.protected && next.indexed, "cut {cut}: {next:?}");
            assert!(fsck(&after.img).0, "cut {cut} then a save");
        },
    );
    assert!(w > 10 && d == 0);
    let (saved, s) = save_scan_on(store(base, None), &host, &lines, &opts()).unwrap();
    assert!(saved.protected);
    let rec = read(&s.img, &format!("{}/{RECORD_FILE}", saved.folder)).unwrap();
    assert!(rec.len() > 64 << 10, "{}", rec.len());
}

/// The index past 64 KiB (hundreds of rows): rewritten through the index taps and swapped,
/// then grown again (the spent tap is recycled, its lanes given back), cut after every write.
#[test]
fn power_cut_during_an_index_over_200_rows() {
    if !fsck_ok() {
        return;
    }
    let Some(mut base) = prepared_partition(40, 2) else {
        return;
    };
    let head = super::super::index_head();
    let row = |i: usize| {
        super::super::index_row(&sample_host(1), &sample_lines(1), &format!("folder-{i:05}"))
    };
    for (round, rows) in [(0, 250usize), (1, 420), (2, 600)] {
        let text: String = head.clone() + &(0..rows).map(row).collect::<String>();
        assert!(round > 0 || text.len() > 64 << 10, "{}", text.len());
        let before = read(&base, INDEX).unwrap();
        let op = |s: &mut CutStore| {
            let mut vol = Vol::open(&mut *s, crate::init::fatlog::DosTime::default()).unwrap();
            let root = vol.root();
            let Ok(Some(live)) = vol.find(root, INDEX) else {
                return;
            };
            let _ = save_index(&mut vol, &live, text.as_bytes());
        };
        cut_everywhere(&format!("index of {rows} rows"), &base, &op, &|img, cut| {
            let now = read(img, INDEX).unwrap();
            assert!(
                now == before || now == text.as_bytes(),
                "round {round} cut {cut}: the index is neither the old nor the new one"
            );
        });
        let mut s = store(base.clone(), None);
        op(&mut s);
        assert_eq!(read(&s.img, INDEX).unwrap(), text.as_bytes());
        base = s.img;
    }
}

/// A kept rule bundle (1.5 MiB) through a `VIGIE/rules` tap, cut after every write.
#[test]
fn power_cut_while_keeping_a_bundle() {
    if !fsck_ok() {
        return;
    }
    let Some(base) = prepared_partition(40, 2) else {
        return;
    };
    let bundle = noise(1_500_000, 7);
    let name = "2026.12.01.1-0123456789ab.vgb";
    let op = |s: &mut CutStore| {
        let mut vol = Vol::open(&mut *s, crate::init::fatlog::DosTime::default()).unwrap();
        let Ok(Some(rules)) = vol.find_dir("VIGIE/rules") else {
            return;
        };
        let r = save_named(&mut vol, rules, name, &bundle, &|n| {
            n.starts_with(RULES_TOKEN)
        });
        drop(vol);
        if s.cut_after.is_none() {
            assert!(matches!(r, Ok(Outcome::Saved)), "not through a tap");
        }
    };
    let (w, _) = cut_everywhere("kept bundle of 1.5 MiB", &base, &op, &|img, cut| {
        let got = read(img, &format!("VIGIE/rules/{name}"));
        assert!(
            got.is_none() || got.as_deref() == Some(&bundle[..]),
            "cut {cut}"
        );
    });
    assert!(w > 5);
    let mut s = store(base, None);
    op(&mut s);
    assert_eq!(
        read(&s.img, &format!("VIGIE/rules/{name}")).unwrap(),
        bundle
    );
}

/// `evidence.zip` of 3 MiB through the scan folder's tap, cut after every write; the record
/// gets the outcome line.
#[test]
fn power_cut_while_saving_evidence_of_several_mib() {
    if !fsck_ok() {
        return;
    }
    let Some(img) = prepared_partition(40, 2) else {
        return;
    };
    let (saved, s) =
        save_scan_on(store(img, None), &sample_host(4), &sample_lines(2), &opts()).unwrap();
    assert!(saved.protected);
    let base = s.img;
    let mut p = crate::init::evidence::build(&[], crate::evidence::Limits::stick());
    p.record.status = "pending".into();
    p.zip = noise(3 << 20, 11);
    let folder = saved.folder.clone();
    let rec_before = read(&base, &format!("{folder}/{RECORD_FILE}")).unwrap();
    let op = |s: &mut CutStore| {
        let _ = crate::init::evidence::save_on(&mut *s, &folder, &p, 1_795_876_200);
    };
    let (w, _) = cut_everywhere("evidence.zip of 3 MiB", &base, &op, &|img, cut| {
        let z = read(img, &format!("{folder}/evidence.zip"));
        assert!(z.is_none() || z.as_deref() == Some(&p.zip[..]), "cut {cut}");
        let rec = read(img, &format!("{folder}/{RECORD_FILE}")).unwrap();
        assert!(
            rec.starts_with(&rec_before),
            "cut {cut}: the record changed"
        );
    });
    assert!(w > 5);
    let mut s = store(base, None);
    let (out, _) = crate::init::evidence::save_on(&mut s, &folder, &p, 1_795_876_200);
    assert_eq!(out.status, "saved");
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    assert_eq!(
        read(&s.img, &format!("{folder}/evidence.zip")).unwrap(),
        p.zip
    );
    let rec = String::from_utf8(read(&s.img, &format!("{folder}/{RECORD_FILE}")).unwrap()).unwrap();
    assert!(
        rec.trim_end().ends_with("}") && rec.lines().last().unwrap().contains("\"saved\""),
        "{rec}"
    );
}

/// The first pseudonymised save creates the key through the key token, cut after every write.
#[test]
fn power_cut_while_creating_the_privacy_key() {
    if !fsck_ok() {
        return;
    }
    let Some(base) = prepared_partition(40, 3) else {
        return;
    };
    let o = crate::init::logpart::SaveOptions {
        pseudonymise: true,
        now: 1_795_876_200,
        folder: None,
    };
    let host = sample_host(5);
    let lines = sample_lines(2);
    cut_everywhere(
        "privacy key and pseudonymised record",
        &base,
        &|s| {
            let _ = save_scan_on(&mut *s, &host, &lines, &o);
        },
        &|img, cut| {
            let (next, _) =
                save_scan_on(store(img.to_vec(), None), &sample_host(9), &lines, &o).unwrap();
            assert!(next.protected, "cut {cut}: {next:?}");
        },
    );
    let (saved, s) = save_scan_on(store(base, None), &host, &lines, &o).unwrap();
    assert!(saved.protected, "{saved:?}");
    assert_eq!(read(&s.img, super::super::KEY_FILE).unwrap().len(), 32);
}

/// A small file of the scan folder (a checkpoint) opened, then rewritten many times, each cut
/// after every write; the scan's record then goes into the same folder.
#[test]
fn power_cut_while_saving_and_rewriting_a_small_file() {
    if !fsck_ok() {
        return;
    }
    let Some(mut base) = prepared_partition(40, 2) else {
        return;
    };
    let host = sample_host(6);
    let lines = sample_lines(1);
    let folder = super::super::folder_name(&super::super::merged_host(&host, &lines));
    let path = format!("VIGIE/scans/{folder}/checkpoint.json");
    let mut total = 0;
    for round in 0..12u32 {
        let data = format!(
            "{{\"round\":{round},\"pad\":\"{}\"}}",
            "x".repeat(round as usize * 300)
        );
        let before = read(&base, &path);
        let op = |s: &mut CutStore| {
            let r = super::super::save_file_on(
                &mut *s,
                &folder,
                "checkpoint.json",
                data.as_bytes(),
                1_795_876_200,
                false,
            )
            .map(|(p, _)| p);
            if s.cut_after.is_none() {
                assert!(r.unwrap(), "round {round}: not through a token");
            }
        };
        // Every round on the first ones, then every third (time).
        if round < 4 || round % 3 == 0 {
            let (w, _) = cut_everywhere(
                &format!("small file, save {round}"),
                &base,
                &op,
                &|img, cut| {
                    let now = read(img, &path);
                    assert!(
                        now == before || now.as_deref() == Some(data.as_bytes()),
                        "round {round} cut {cut}"
                    );
                },
            );
            total += w;
        }
        let mut s = store(base.clone(), None);
        op(&mut s);
        assert_eq!(read(&s.img, &path).unwrap(), data.as_bytes());
        base = s.img;
    }
    assert!(total > 20);
    // A record saved without naming the folder never goes into it (a cancelled scan's
    // record must leave an open checkpoint open); naming it, it does.
    let (other, _) = save_scan_on(store(base.clone(), None), &host, &lines, &opts()).unwrap();
    assert_eq!(other.folder, format!("VIGIE/scans/{folder}-2"));
    let into = SaveOptions {
        folder: Some(folder.clone()),
        ..opts()
    };
    let (saved, s) = save_scan_on(store(base, None), &host, &lines, &into).unwrap();
    assert!(saved.protected, "{saved:?}");
    assert_eq!(saved.folder, format!("VIGIE/scans/{folder}"));
    assert!(read(&s.img, &format!("{}/{RECORD_FILE}", saved.folder)).is_some());
    assert!(read(&s.img, &path).is_some());
    assert!(fsck(&s.img).0);
}
