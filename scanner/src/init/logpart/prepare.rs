//! `scanner logpart prepare`'s work: lays the prepared space ([`super::tokens`]) down with the
//! ordered writer (desk or build machine, off the stick's power-cut risk): the index tokens,
//! a junction with its lanes (about half of the free space left, for contents larger than one
//! FAT sector's clusters), the scan tokens, the key token and the kept-bundle taps.

use super::super::fatlog::{FatError, Node, Store, Token, Vol};
use super::tokens::{
    lfn_slots, scan_tokens, BIG_TOKEN, INDEX_TOKENS, KEY_TOKEN, RECORD_TOKEN, REPORT_TOKEN,
    RULES_TOKEN, SCAN_TOKEN, SMALL_TOKENS,
};

/// Deleted slots in front of a scan token: a folder name of up to 195 characters.
const FOLDER_ROOM: usize = 15;
/// Long-name room of the small file a scan folder can hold (39 characters).
const SMALL_ROOM: usize = 3;
/// Long-name room of a kept bundle's name (`<version>-<hash>.vgb`, 52 characters).
const RULES_ROOM: usize = 4;
/// Kept-bundle taps `prepare` keeps in `VIGIE/rules`.
pub const RULES_TAPS: usize = 4;
/// Sectors per lane at most (a lane is the unit a content takes whole but its last).
const MAX_LANE_SECTORS: usize = 16;

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
    /// Bytes the lanes' pools hold (the most a large content can take).
    pub lane_bytes: u64,
}

fn find_or_make<S: Store>(vol: &mut Vol<S>, path: &str) -> Result<u32, FatError> {
    let mut dir = vol.root();
    for part in path.split('/') {
        dir = match vol.find(dir, part)? {
            Some(e) if e.is_dir() && e.start >= 2 => e.start,
            Some(_) => return Err(FatError::Exists(part.into())),
            None => {
                vol.add(dir, &Node::Dir(part.into(), vec![]))?;
                vol.find(dir, part)?
                    .filter(|e| e.is_dir() && e.start >= 2)
                    .ok_or_else(|| FatError::NotFound(part.into()))?
                    .start
            }
        };
    }
    Ok(dir)
}

/// Lays down tokens up to `want` scan tokens, the index tokens, a junction with lanes,
/// `SCANS.CSV` (header only) if missing, the key token and the bundle taps.
pub fn prepare<S: Store>(vol: &mut Vol<S>, want: usize) -> Result<Prepared, FatError> {
    let root = vol.root();
    if vol.find(root, "VIGIE.ID")?.is_none() {
        return Err(FatError::NotFound(
            "VIGIE.ID (not a Vigie log partition: nothing written)".into(),
        ));
    }
    let scans = find_or_make(vol, super::SCANS_DIR)?;
    let vigie = find_or_make(vol, "VIGIE")?;
    if vol.find(root, super::INDEX)?.is_none() {
        let head = super::index_head().into_bytes();
        vol.add(root, &Node::File(super::INDEX.into(), head))?;
    }
    for name in &INDEX_TOKENS[..2] {
        if vol.find(root, name)?.is_none() {
            vol.add_token(root, 0, &Token::Region((*name).into()))?;
        }
    }
    let existing = scan_tokens(vol, scans)?;
    let new_holders = want.saturating_sub(existing.len());
    // The junction: an existing one with free clusters for the taps, else a new one.
    let taps_needed = new_holders + 2 + RULES_TAPS;
    let mut lane_bytes = 0;
    let mut have_junction = false;
    for head in vol.pool_heads()? {
        vol.use_junction_of(head);
        if vol.junction_free() >= taps_needed.min(8) {
            have_junction = true;
            break;
        }
    }
    if !have_junction {
        // About half of the free whole FAT sectors left after the new holders' regions.
        let per = vol.per_sector_clusters();
        let free_sectors = (vol.free_clusters() / per) as usize;
        let reserve = free_sectors.saturating_sub(3 * new_holders + 4) / 2;
        // Pools and bridges share the junction with the taps.
        let room = (per as usize).saturating_sub(taps_needed);
        if let Some((lanes, sectors)) = vol.junction_plan(reserve, room, MAX_LANE_SECTORS) {
            vol.add_junction(vigie, lanes, sectors)?;
        }
    }
    let tap = |name: &str| Token::Tap(name.into());
    // Index taps, in the directory sector of SCANS.CSV (or not at all).
    for name in &INDEX_TOKENS[2..] {
        if vol.find(root, name)?.is_none() && vol.junction_free() > 0 {
            match vol.add_token(root, 0, &tap(name)) {
                Ok(()) | Err(FatError::NoToken(_)) => {}
                Err(e) => return Err(e),
            }
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
    // The key token, until the key exists.
    if vol.find(vigie, "privacy.key")?.is_none() && vol.find(vigie, KEY_TOKEN)?.is_none() {
        vol.add_token(
            vigie,
            lfn_slots("privacy.key"),
            &Token::Small(KEY_TOKEN.into()),
        )?;
    }
    // Kept-bundle taps.
    let rules = find_or_make(vol, "VIGIE/rules")?;
    let have_rules = vol
        .list(rules)?
        .iter()
        .filter(|e| Vol::<S>::is_token(e) && e.name.starts_with(RULES_TOKEN))
        .count();
    let mut n = 1;
    for _ in have_rules..RULES_TAPS {
        while vol.find(rules, &format!("{RULES_TOKEN}{n:02}"))?.is_some() {
            n += 1;
        }
        if vol.junction_free() == 0 {
            break;
        }
        vol.add_token(rules, RULES_ROOM, &tap(&format!("{RULES_TOKEN}{n:02}")))?;
    }
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
        let mut kids = vec![
            (
                lfn_slots(super::RECORD_FILE),
                Token::Region(RECORD_TOKEN.into()),
            ),
            (
                lfn_slots(super::REPORT_FILE),
                Token::Region(REPORT_TOKEN.into()),
            ),
        ];
        if vol.junction_free() > 0 {
            kids.push((lfn_slots(super::REPORT_FILE), tap(BIG_TOKEN)));
        }
        // A region and a cluster beside it: the small file and its swap partner share the
        // region's FAT sector (a rewrite of up to half of it), and the record's rewrite when
        // the evidence outcome is added to it.
        kids.push((0, Token::Region(SMALL_TOKENS[1].into())));
        kids.push((SMALL_ROOM, Token::Beside(SMALL_TOKENS[0].into())));
        match vol.add_token(scans, FOLDER_ROOM, &Token::Holder(name, kids)) {
            Ok(()) => {
                have += 1;
                added += 1;
            }
            Err(FatError::Full { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    for head in vol.pool_heads()? {
        lane_bytes += vol.chain(head).map(|c| c.len() as u64).unwrap_or(0) * vol.cluster_size();
    }
    Ok(Prepared {
        scan_tokens: have,
        added,
        index_tokens,
        free_clusters: vol.free_clusters(),
        lane_bytes,
    })
}
