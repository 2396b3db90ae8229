//! The log partition's prepared space: which tokens (see [`crate::init::fatlog`]'s `token` and
//! `lanes` modules) each save uses. They are laid down by [`super::prepare`] (`scanner logpart
//! prepare`, run by the image builder and at the desk to replenish).
//!
//! - `VIGIE/scans/VGS00001`...: one per future scan, hidden. Each holds the region tokens `VGR`
//!   (becomes `record.jsonl`) and `VGP` (the report), the tap `VGB` (whichever of the record,
//!   the report or `evidence.zip` is too large for a region: through the lanes, megabytes), and
//!   the small tokens `VGC1`, `VGC2` (a small file of the scan folder saved and rewritten any
//!   number of times, see [`save_named`]), each after the deleted slots its long name needs. The
//!   holder itself is the last slot of a directory sector whose 15 other slots are deleted, room
//!   for the scan folder's long name. A save fills `VGR` and `VGP` (or `VGB`), names them, then
//!   names the holder: that one sector write is the commit.
//! - `VGIXA`, `VGIXB` (regions) and `VGIXC`, `VGIXD` (taps) at the root, in the directory
//!   sector of `SCANS.CSV`: the index is rewritten whole into one of them, then one sector write
//!   swaps their chains; the old index is the spent token the next save recycles.
//! - `VIGIE/VGKEY` (small): becomes `privacy.key` on the first pseudonymised save.
//! - `VIGIE/rules/VGRU01`... (taps): each becomes one kept rule bundle.
//!
//! With no token that can take a content the ordered writer saves it anyway, and the record
//! says so (note code `logpart_unprotected`).

use super::super::fatlog::{Entry, FatError, Store, Vol, ATTR_TOKEN};

/// Prefix of the scan folder tokens in `VIGIE/scans` (`VGS00001`).
pub const SCAN_TOKEN: &str = "VGS";
/// The token that becomes `record.jsonl`.
pub const RECORD_TOKEN: &str = "VGR";
/// The token that becomes the report.
pub const REPORT_TOKEN: &str = "VGP";
/// The tap of a scan folder: a record or report too large for its region, or the evidence.
pub const BIG_TOKEN: &str = "VGB";
/// The small tokens of a scan folder: the first becomes a small file, the second is the one
/// each rewrite fills before the swap.
pub const SMALL_TOKENS: [&str; 2] = ["VGC1", "VGC2"];
/// The index tokens, next to `SCANS.CSV`: two regions, then two taps.
pub const INDEX_TOKENS: [&str; 4] = ["VGIXA", "VGIXB", "VGIXC", "VGIXD"];
/// The token in `VIGIE` that becomes `privacy.key`.
pub const KEY_TOKEN: &str = "VGKEY";
/// Prefix of the taps in `VIGIE/rules` (kept bundles).
pub const RULES_TOKEN: &str = "VGRU";
/// Scan tokens `scanner logpart prepare` keeps by default.
pub const DEFAULT_SCAN_TOKENS: usize = 32;

const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;

/// A scan token usable for one save.
struct ScanToken {
    holder: Entry,
    /// Whether the holder is already named (a small file was saved in it first).
    named: bool,
    /// The token for each file, in order.
    files: Vec<Entry>,
}

/// Long-name slots a name needs (0 if it is a plain upper-case 8.3 name).
pub(super) fn lfn_slots(name: &str) -> usize {
    name.encode_utf16().count().div_ceil(13)
}

pub(super) fn scan_tokens<S: Store>(vol: &mut Vol<S>, scans: u32) -> Result<Vec<Entry>, FatError> {
    Ok(vol
        .list(scans)?
        .into_iter()
        .filter(|e| e.is_dir() && Vol::<S>::is_token(e) && e.name.starts_with(SCAN_TOKEN))
        .collect())
}

/// A holder whose save was cut after a file was named (the holder itself was not): each such
/// file becomes its token again (one sector write each: the token's 8.3 name, its long-name
/// slots deleted), a spent token the save recycles. Files it cannot place are left alone (the
/// holder is then skipped).
fn recover_holder<S: Store>(vol: &mut Vol<S>, holder: u32) -> Result<(), FatError> {
    for e in vol.list(holder)? {
        if Vol::<S>::is_token(&e) || e.is_dir() || e.start < 2 {
            continue;
        }
        let back = if vol.is_tap(&Entry {
            attr: ATTR_TOKEN,
            ..e.clone()
        })? {
            BIG_TOKEN
        } else if e.name == super::RECORD_FILE {
            RECORD_TOKEN
        } else if e.name == super::REPORT_FILE {
            REPORT_TOKEN
        } else if vol.find(holder, SMALL_TOKENS[0])?.is_none() {
            SMALL_TOKENS[0]
        } else {
            continue;
        };
        if vol.find(holder, back)?.is_none() {
            vol.unname(holder, &e, back)?;
        }
    }
    Ok(())
}

/// The token of `kids` named `name`, if it is still a token.
fn kid<'a, S: Store>(kids: &'a [Entry], name: &str) -> Option<&'a Entry> {
    kids.iter()
        .find(|e| e.name == name && Vol::<S>::is_token(e))
}

/// Picks, in holder `kids`, a token for each of `sizes` (record, report): its region, else the
/// holder's tap. `None` when one of them fits nowhere.
fn assign<S: Store>(
    vol: &mut Vol<S>,
    kids: &[Entry],
    sizes: [usize; 2],
) -> Result<Option<Vec<Entry>>, FatError> {
    let mut big_used = false;
    let mut out = Vec::new();
    for (own, size) in [RECORD_TOKEN, REPORT_TOKEN].into_iter().zip(sizes) {
        let Some(tok) = kid::<S>(kids, own) else {
            return Ok(None);
        };
        if vol.capacity_any(tok)? >= size as u64 {
            out.push(tok.clone());
            continue;
        }
        match kid::<S>(kids, BIG_TOKEN) {
            Some(b) if !big_used && vol.capacity_any(b)? >= size as u64 => {
                big_used = true;
                out.push(b.clone());
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The scan token that can take this record and report and name the folder (or the folder
/// itself when a small file already opened it); none (nothing written) otherwise, with the
/// reason.
fn pick_scan_token<S: Store>(
    vol: &mut Vol<S>,
    scans: u32,
    folder: &str,
    sizes: [usize; 2],
) -> Result<Result<ScanToken, String>, FatError> {
    // A folder opened by `save_named` (a checkpoint first): its record tokens are unused.
    if let Some(open) = vol.find(scans, folder)? {
        if open.is_dir() && !Vol::<S>::is_token(&open) && open.start >= 2 {
            let kids = vol.list(open.start)?;
            if let Some(files) = assign(vol, &kids, sizes)? {
                return Ok(Ok(ScanToken {
                    holder: open,
                    named: true,
                    files,
                }));
            }
        }
    }
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
        recover_holder(vol, holder.start)?;
        let kids = vol.list(holder.start)?;
        if let Some(files) = assign(vol, &kids, sizes)? {
            return Ok(Ok(ScanToken {
                holder: holder.clone(),
                named: false,
                files,
            }));
        }
    }
    Ok(Err(why.into()))
}

/// What a save through tokens did.
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
    let sizes = [files[0].1.len(), files[1].1.len()];
    let t = match pick_scan_token(vol, scans, folder, sizes)? {
        Ok(t) => t,
        Err(why) => return Ok(Outcome::NoToken(why)),
    };
    let mut filled = Vec::new();
    for ((_, data), tok) in files.iter().zip(&t.files) {
        filled.push(vol.fill_any(t.holder.start, tok, data)?);
    }
    // Both names in one sector write (the holder lays them in one): in a folder a checkpoint
    // opened, that write is the commit, so the record never shows without its report.
    let items: Vec<(&Entry, &str, u8)> = filled
        .iter()
        .zip(&files)
        .map(|(e, (name, _))| (e, *name, ATTR_ARCHIVE))
        .collect();
    match vol.rename_all(t.holder.start, &items) {
        // Not in one sector (a stick prepared otherwise): one after the other, still clean.
        Err(FatError::NoToken(_)) => {
            for (e, name, attr) in items {
                vol.rename(t.holder.start, e, name, attr)?;
            }
        }
        r => r?,
    }
    if !t.named {
        vol.rename(scans, &t.holder, folder, ATTR_DIR)?;
    }
    Ok(Outcome::Saved)
}

/// Saves `data` as the file `name` of folder `dir` through a token `allowed` accepts (by its
/// 8.3 name), power-cut safe:
/// - a new name: a token with room for the long name is filled, then named (one sector);
/// - an existing file (never a folder): a token in the same directory sector is filled, then
///   one sector swaps their chains; the old content becomes the spent token the next rewrite
///   recycles, so a file can be rewritten any number of times with two tokens.
///
/// [`Outcome::NoToken`] when none can take it (nothing written).
pub fn save_named<S: Store>(
    vol: &mut Vol<S>,
    dir: u32,
    name: &str,
    data: &[u8],
    allowed: &dyn Fn(&str) -> bool,
) -> Result<Outcome, FatError> {
    let list = vol.list(dir)?;
    let live = list
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(name))
        .cloned();
    if let Some(l) = &live {
        if l.is_dir() || Vol::<S>::is_token(l) {
            return Ok(Outcome::NoToken("name_is_taken".into()));
        }
    }
    let mut why = "no_token";
    for tok in list
        .iter()
        .filter(|e| Vol::<S>::is_token(e) && allowed(&e.name))
    {
        match &live {
            Some(l) if !vol.same_sector(tok, l) => {
                why = "token_elsewhere";
                continue;
            }
            None if vol.name_room(dir, tok)? < lfn_slots(name) => {
                why = "no_name_room";
                continue;
            }
            _ => {}
        }
        if vol.capacity_any(tok)? < data.len() as u64 {
            why = "too_large";
            continue;
        }
        let filled = match vol.fill_any(dir, tok, data) {
            Ok(f) => f,
            // Refused before any write that matters (the lanes' shape, the sector's room).
            Err(FatError::NoToken(_)) => {
                why = "too_large";
                continue;
            }
            Err(e) => return Err(e),
        };
        match &live {
            Some(l) => vol.swap(l, &filled)?,
            None => vol.rename(dir, &filled, name, ATTR_ARCHIVE)?,
        }
        return Ok(Outcome::Saved);
    }
    Ok(Outcome::NoToken(why.into()))
}

/// Whether `scans/<name>` is a scan folder a small file opened ([`save_in_scan_folder`]) whose
/// record and report tokens are still unused: the scan's save then goes into it.
pub fn folder_is_open<S: Store>(
    vol: &mut Vol<S>,
    scans: u32,
    name: &str,
) -> Result<bool, FatError> {
    let Some(e) = vol.find(scans, name)? else {
        return Ok(false);
    };
    if !e.is_dir() || Vol::<S>::is_token(&e) || e.start < 2 {
        return Ok(false);
    }
    let kids = vol.list(e.start)?;
    Ok(kid::<S>(&kids, RECORD_TOKEN).is_some() && kid::<S>(&kids, REPORT_TOKEN).is_some())
}

/// Saves (or rewrites) the small file `name` in the scan folder `scans/<folder>` through the
/// folder's small tokens (see [`save_named`]). A folder that does not exist yet is opened from
/// a fresh scan token: the file is filled and named inside it, then the holder is named (one
/// sector, the commit); the scan's record and report go into it later.
pub fn save_in_scan_folder<S: Store>(
    vol: &mut Vol<S>,
    scans: u32,
    folder: &str,
    name: &str,
    data: &[u8],
) -> Result<Outcome, FatError> {
    let small = |n: &str| SMALL_TOKENS.contains(&n);
    if let Some(e) = vol.find(scans, folder)? {
        if !e.is_dir() || Vol::<S>::is_token(&e) || e.start < 2 {
            return Ok(Outcome::NoToken("name_is_taken".into()));
        }
        return save_named(vol, e.start, name, data, &small);
    }
    let mut why = "no_token".to_string();
    for holder in scan_tokens(vol, scans)? {
        if vol.name_room(scans, &holder)? < lfn_slots(folder) {
            why = "no_name_room".into();
            continue;
        }
        recover_holder(vol, holder.start)?;
        let kids = vol.list(holder.start)?;
        if kid::<S>(&kids, RECORD_TOKEN).is_none() || kid::<S>(&kids, REPORT_TOKEN).is_none() {
            continue;
        }
        match save_named(vol, holder.start, name, data, &small)? {
            Outcome::Saved => {
                vol.rename(scans, &holder, folder, ATTR_DIR)?;
                return Ok(Outcome::Saved);
            }
            Outcome::NoToken(w) => why = w,
        }
    }
    Ok(Outcome::NoToken(why))
}

/// Rewrites the index `live` (an entry of the root) as `content` through an index token in
/// its directory sector, then swaps them (one sector write).
pub fn save_index<S: Store>(
    vol: &mut Vol<S>,
    live: &Entry,
    content: &[u8],
) -> Result<Outcome, FatError> {
    let root = vol.root();
    let name = live.name.clone();
    save_named(vol, root, &name, content, &|n| INDEX_TOKENS.contains(&n))
}

/// Attributes a token entry carries (for tests and the desk listing).
pub fn is_token_attr(attr: u8) -> bool {
    attr & ATTR_TOKEN == ATTR_TOKEN
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
