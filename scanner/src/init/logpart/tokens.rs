//! The log partition's prepared space: which tokens (see [`crate::init::fatlog`]'s `token`
//! module) a save uses, and how they are laid down (`scanner logpart prepare`, run by the image
//! builder and at the desk to replenish).
//!
//! - `VIGIE/scans/VGS00001`...: one per future scan, hidden. Each holds two region tokens,
//!   `VGR` (becomes `record.jsonl`) and `VGP` (becomes the report), each after the deleted
//!   slots its long name needs; the holder itself is the last slot of a directory sector whose
//!   15 other slots are deleted, room for the scan folder's long name. A save fills `VGR` and
//!   `VGP`, names them, then names the holder: that one sector write is the commit.
//! - `VGIXA`, `VGIXB` at the root, in the directory sector of `SCANS.CSV`: the index is
//!   rewritten whole into one of them, then one sector write swaps their chains; the old index
//!   is the spent token the next save recycles.
//!
//! A region token holds one FAT sector's worth of clusters (64 KiB with 512-byte sectors and
//! clusters): larger contents, or no token left, fall back to the ordered writer, and the
//! record says so (note code `logpart_unprotected`).

use super::super::fatlog::{Entry, FatError, Store, Token, Vol, ATTR_TOKEN};

/// Prefix of the scan folder tokens in `VIGIE/scans` (`VGS00001`).
pub const SCAN_TOKEN: &str = "VGS";
/// The token that becomes `record.jsonl`.
pub const RECORD_TOKEN: &str = "VGR";
/// The token that becomes the report.
pub const REPORT_TOKEN: &str = "VGP";
/// The index tokens, next to `SCANS.CSV`.
pub const INDEX_TOKENS: [&str; 2] = ["VGIXA", "VGIXB"];
/// Scan tokens `scanner logpart prepare` keeps by default.
pub const DEFAULT_SCAN_TOKENS: usize = 32;
/// Deleted slots in front of a scan token: a folder name of up to 195 characters.
const FOLDER_ROOM: usize = 15;

const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;

/// A scan token usable for one save.
struct ScanToken {
    holder: Entry,
    record: Entry,
    report: Entry,
}

/// Long-name slots a name needs (0 if it is a plain upper-case 8.3 name).
fn lfn_slots(name: &str) -> usize {
    name.encode_utf16().count().div_ceil(13)
}

fn scan_tokens<S: Store>(vol: &mut Vol<S>, scans: u32) -> Result<Vec<Entry>, FatError> {
    Ok(vol
        .list(scans)?
        .into_iter()
        .filter(|e| e.is_dir() && Vol::<S>::is_token(e) && e.name.starts_with(SCAN_TOKEN))
        .collect())
}

/// The first scan token that can take this record and report and name the folder; none
/// (nothing written) otherwise, with the reason.
fn pick_scan_token<S: Store>(
    vol: &mut Vol<S>,
    scans: u32,
    folder: &str,
    record: usize,
    report: usize,
) -> Result<Result<ScanToken, String>, FatError> {
    let holders = scan_tokens(vol, scans)?;
    if holders.is_empty() {
        return Ok(Err("no_token".into()));
    }
    let mut why = "too_large";
    for holder in holders {
        if vol.name_room(scans, &holder)? < lfn_slots(folder) {
            why = "no_name_room";
            continue;
        }
        let kids = vol.list(holder.start)?;
        // A holder whose save was cut after a file was named is left alone (skipped).
        if kids.len() != 2 {
            continue;
        }
        let find = |n: &str| kids.iter().find(|e| e.name == n && Vol::<S>::is_token(e));
        let (Some(rec), Some(rep)) = (find(RECORD_TOKEN), find(REPORT_TOKEN)) else {
            continue;
        };
        if vol.token_capacity(rec) >= record as u64 && vol.token_capacity(rep) >= report as u64 {
            return Ok(Ok(ScanToken {
                holder: holder.clone(),
                record: rec.clone(),
                report: rep.clone(),
            }));
        }
    }
    Ok(Err(why.into()))
}

/// What [`save_folder`] did.
pub enum Outcome {
    /// Saved through a token: no cut could damage the volume.
    Saved,
    /// No token could take it (reason code): nothing was written.
    NoToken(String),
}

/// Saves a scan folder `folder` holding `files` (`(name, content)`, the record then the
/// report) under `scans` through a token.
pub fn save_folder<S: Store>(
    vol: &mut Vol<S>,
    scans: u32,
    folder: &str,
    files: [(&str, &[u8]); 2],
) -> Result<Outcome, FatError> {
    let t = match pick_scan_token(vol, scans, folder, files[0].1.len(), files[1].1.len())? {
        Ok(t) => t,
        Err(why) => return Ok(Outcome::NoToken(why)),
    };
    for ((name, data), tok) in files.iter().zip([&t.record, &t.report]) {
        let filled = vol.fill_token(t.holder.start, tok, data)?;
        vol.rename(t.holder.start, &filled, name, ATTR_ARCHIVE)?;
    }
    vol.rename(scans, &t.holder, folder, ATTR_DIR)?;
    Ok(Outcome::Saved)
}

/// Rewrites the index `live` (an entry of the root) as `content` through an index token in
/// its directory sector, then swaps them (one sector write).
pub fn save_index<S: Store>(
    vol: &mut Vol<S>,
    live: &Entry,
    content: &[u8],
) -> Result<Outcome, FatError> {
    let root = vol.root();
    let mut why = "no_token";
    for tok in vol.list(root)? {
        if !INDEX_TOKENS.contains(&tok.name.as_str()) || !Vol::<S>::is_token(&tok) {
            continue;
        }
        if !vol.same_sector(&tok, live) {
            why = "index_token_elsewhere";
            continue;
        }
        if vol.token_capacity(&tok) < content.len() as u64 {
            why = "too_large";
            continue;
        }
        let filled = vol.fill_token(root, &tok, content)?;
        vol.swap(live, &filled)?;
        return Ok(Outcome::Saved);
    }
    Ok(Outcome::NoToken(why.into()))
}

/// What [`prepare`] left on the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    /// Scan tokens now usable.
    pub scan_tokens: usize,
    /// Scan tokens added by this run.
    pub added: usize,
    /// Index tokens next to `SCANS.CSV`.
    pub index_tokens: usize,
    /// Free clusters left.
    pub free_clusters: u64,
}

/// Lays down tokens up to `want` scan tokens, the index tokens and `SCANS.CSV` (header only)
/// if missing, with the ordered writer (desk or build machine).
pub fn prepare<S: Store>(vol: &mut Vol<S>, want: usize) -> Result<Prepared, FatError> {
    use super::super::fatlog::Node;
    let root = vol.root();
    if vol.find(root, "VIGIE.ID")?.is_none() {
        return Err(FatError::NotFound(
            "VIGIE.ID (not a Vigie log partition: nothing written)".into(),
        ));
    }
    let scans = match vol.find_dir(super::SCANS_DIR)? {
        Some(d) => d,
        None => {
            if vol.find_dir("VIGIE")?.is_none() {
                vol.add(root, &Node::Dir("VIGIE".into(), vec![]))?;
            }
            let vigie = vol
                .find_dir("VIGIE")?
                .ok_or_else(|| FatError::NotFound("VIGIE".into()))?;
            vol.add(vigie, &Node::Dir("scans".into(), vec![]))?;
            vol.find_dir(super::SCANS_DIR)?
                .ok_or_else(|| FatError::NotFound(super::SCANS_DIR.into()))?
        }
    };
    if vol.find(root, super::INDEX)?.is_none() {
        let head = super::index_head().into_bytes();
        vol.add(root, &Node::File(super::INDEX.into(), head))?;
    }
    for name in INDEX_TOKENS {
        if vol.find(root, name)?.is_none() {
            vol.add_token(root, 0, &Token::Region(name.into()))?;
        }
    }
    let live = vol
        .find(root, super::INDEX)?
        .ok_or_else(|| FatError::NotFound(super::INDEX.into()))?;
    let index_tokens = vol
        .list(root)?
        .iter()
        .filter(|e| INDEX_TOKENS.contains(&e.name.as_str()) && vol.same_sector(e, &live))
        .count();
    let existing = scan_tokens(vol, scans)?;
    let mut have = existing.len();
    let mut added = 0;
    let mut n = 1u32;
    while have < want {
        let name = format!("{SCAN_TOKEN}{n:05}");
        n += 1;
        if n > 99_999 {
            break;
        }
        if existing.iter().any(|e| e.name == name) || vol.find(scans, &name)?.is_some() {
            continue;
        }
        let t = Token::Holder(
            name,
            vec![
                (
                    lfn_slots(super::RECORD_FILE),
                    Token::Region(RECORD_TOKEN.into()),
                ),
                (
                    lfn_slots(super::REPORT_FILE),
                    Token::Region(REPORT_TOKEN.into()),
                ),
            ],
        );
        match vol.add_token(scans, FOLDER_ROOM, &t) {
            Ok(()) => {
                have += 1;
                added += 1;
            }
            Err(FatError::Full { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Prepared {
        scan_tokens: have,
        added,
        index_tokens,
        free_clusters: vol.free_clusters(),
    })
}

/// Attributes a token entry carries (for tests and the desk listing).
pub fn is_token_attr(attr: u8) -> bool {
    attr & ATTR_TOKEN == ATTR_TOKEN
}

#[cfg(test)]
mod tests {
    use super::super::save_tests::{
        fsck, list_records, opts, prepared_partition, read, sample_host, sample_lines, store, tool,
    };
    use super::super::{save_scan_on, INDEX, RECORD_FILE};
    use super::*;

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
        let rec = String::from_utf8(read(&s.img, &format!("{}/{RECORD_FILE}", b.folder)).unwrap())
            .unwrap();
        assert!(
            rec.contains("saved without power-cut protection (no_token)"),
            "{rec}"
        );
        let note = crate::text::note::Note::classify(&super::super::unprotected_note("no_token"));
        assert_eq!(note.code, "logpart_unprotected");
        let mut vol = Vol::open(s, crate::init::fatlog::DosTime::default()).unwrap();
        let p = prepare(&mut vol, 3).unwrap();
        assert_eq!((p.scan_tokens, p.added), (3, 3));
        let (c, s) =
            save_scan_on(vol.into_inner(), &sample_host(3), &sample_lines(1), &opts()).unwrap();
        assert!(c.protected);
        assert_eq!(list_records(&s.img).len(), 6);
        if tool("fsck.fat") {
            assert!(fsck(&s.img).0, "{}", fsck(&s.img).1);
        }
    }

    /// A record too large for a token goes through the ordered writer; the token stays.
    #[test]
    fn a_record_larger_than_a_token_falls_back_and_keeps_the_token() {
        let Some(img) = prepared_partition(40, 1) else {
            return;
        };
        let big = sample_lines(400);
        let (a, s) = save_scan_on(store(img, None), &sample_host(1), &big, &opts()).unwrap();
        assert!(!a.protected);
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
        assert!(matches!(prepare(&mut vol, 4), Err(FatError::NotFound(_))));
        assert_eq!(vol.free_clusters(), before);
    }
}
