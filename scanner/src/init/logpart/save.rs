//! The save itself: the scan folder then the index row, through the prepared tokens when
//! they can take them ([`super::tokens`]), else through the ordered writer.

use std::path::Path;

use super::super::fatlog::{DosTime, FatError, Node, Store, Vol};
use super::{
    folder_name, human_report, index_head, index_row, merged_host, record_text, tokens, SaveError,
    SaveOptions, Saved, INDEX, RECORD_FILE, REPORT_FILE, SCANS_DIR,
};
use crate::record::HostRecord;

/// Opens the log partition device read-write and saves the scan (see [`save_scan_on`]).
pub fn save_scan(
    dev: &Path,
    host: &HostRecord,
    lines: &[String],
    opts: &SaveOptions,
) -> Result<Saved, SaveError> {
    on_device(dev, |s| {
        save_scan_on(s, host, lines, opts).map(|(saved, _)| saved)
    })
}

/// Opens the log partition device read-write and runs `f` on it, through the test-only slow
/// store when `vigie.test.save_delay_ms` is set (see [`SAVE_DELAY_MS`]).
pub fn on_device<T>(
    dev: &Path,
    f: impl FnOnce(&mut dyn Store) -> Result<T, SaveError>,
) -> Result<T, SaveError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(SaveError::Open)?;
    match SAVE_DELAY_MS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => f(&mut file),
        ms => f(&mut Slow(file, ms)),
    }
}

/// Reads the pseudonymisation key, creating it (32 random bytes) if missing: through the key
/// token when there is one (power-cut safe), else the ordered writer (`false`: the record
/// says so).
fn privacy_key<S: Store>(vol: &mut Vol<S>) -> Result<(Vec<u8>, bool), SaveError> {
    let dir = vol.root_dir("VIGIE")?;
    // `privacy.key`; if it is damaged (never rewritten: new files only), the next free name, so
    // the record is still saved, pseudonymised (with a new key: new pseudonyms from then on).
    for n in 0..10 {
        let name = if n == 0 {
            "privacy.key".to_string()
        } else {
            format!("privacy{n}.key")
        };
        match vol.find(dir, &name)? {
            Some(e) if (16..=4096).contains(&e.size) => return Ok((vol.read_file(&e)?, true)),
            Some(_) => continue,
            None => {
                let key = crate::privacy::new_key();
                let via = tokens::save_named(vol, dir, &name, &key, &|t| t == tokens::KEY_TOKEN)?;
                if let tokens::Outcome::Saved = via {
                    return Ok((key, true));
                }
                vol.add(dir, &Node::File(name, key.clone()))?;
                return Ok((key, false));
            }
        }
    }
    Err(FatError::Corrupt("no usable privacy key file in VIGIE".into()).into())
}

/// Opens the log partition device read-write and saves (or rewrites) the small file `name` in
/// the scan folder `VIGIE/scans/<folder>` (see [`save_file_on`]).
pub fn save_file(
    dev: &Path,
    folder: &str,
    name: &str,
    data: &[u8],
    now: u64,
    fallback: bool,
) -> Result<bool, SaveError> {
    on_device(dev, |s| {
        save_file_on(s, folder, name, data, now, fallback).map(|(p, _)| p)
    })
}

/// Saves (or rewrites, any number of times) the small file `name` (a few KiB: up to the free
/// clusters of its token's FAT sector) in the scan folder `VIGIE/scans/<folder>` through the
/// folder's two small tokens: power-cut safe, no token spent per rewrite. A folder that does
/// not exist yet is opened from a fresh scan token (the scan's [`save_scan`] with the same
/// folder name then fills it). Returns whether it went through a token (`true`); a new file
/// with no token left is saved by the ordered writer (`false`) when `fallback` allows it; a
/// rewrite with no token, or any save with no token and no `fallback`, is [`SaveError::Fat`]
/// with [`FatError::NoToken`] (nothing written: with no `fallback` not even a missing
/// `VIGIE/scans`, which only the ordered writer could make).
pub fn save_file_on<S: Store>(
    store: S,
    folder: &str,
    name: &str,
    data: &[u8],
    now: u64,
    fallback: bool,
) -> Result<(bool, S), SaveError> {
    let mut vol = Vol::open(store, DosTime::from_unix(now))?;
    let scans = match (fallback, vol.find_dir(SCANS_DIR)?) {
        (_, Some(d)) => d,
        (true, None) => scans_dir(&mut vol)?,
        (false, None) => return Err(SaveError::Fat(FatError::NoToken("no_scans_folder".into()))),
    };
    match tokens::save_in_scan_folder(&mut vol, scans, folder, name, data)? {
        tokens::Outcome::Saved => Ok((true, vol.into_inner())),
        tokens::Outcome::NoToken(why) if !fallback => Err(SaveError::Fat(FatError::NoToken(why))),
        tokens::Outcome::NoToken(why) => {
            let node = Node::File(name.into(), data.to_vec());
            match vol.find(scans, folder)? {
                Some(e) if e.is_dir() && e.start >= 2 => {
                    if vol.find(e.start, name)?.is_some() {
                        return Err(SaveError::Fat(FatError::NoToken(why)));
                    }
                    vol.add(e.start, &node)?;
                }
                Some(_) => return Err(SaveError::Fat(FatError::Exists(folder.into()))),
                None => vol.add(scans, &Node::Dir(folder.into(), vec![node]))?,
            }
            Ok((false, vol.into_inner()))
        }
    }
}

/// `VIGIE/scans`, made again if someone emptied the stick.
fn scans_dir<S: Store>(vol: &mut Vol<S>) -> Result<u32, SaveError> {
    if let Some(d) = vol.find_dir(SCANS_DIR)? {
        return Ok(d);
    }
    let root = vol.root();
    let vigie = match vol.find_dir("VIGIE")? {
        Some(d) => d,
        None => {
            vol.add(
                root,
                &Node::Dir("VIGIE".into(), vec![Node::Dir("scans".into(), vec![])]),
            )?;
            vol.find_dir("VIGIE")?
                .ok_or_else(|| FatError::NotFound("VIGIE".into()))?
        }
    };
    if vol.find(vigie, "scans")?.is_none() {
        vol.add(vigie, &Node::Dir("scans".into(), vec![]))?;
    }
    Ok(vol
        .find_dir(SCANS_DIR)?
        .ok_or_else(|| FatError::NotFound(SCANS_DIR.into()))?)
}

/// Saves on any store (a device, an image, a test double): the scan folder, then the index row.
pub fn save_scan_on<S: Store>(
    store: S,
    host: &HostRecord,
    lines: &[String],
    opts: &SaveOptions,
) -> Result<(Saved, S), SaveError> {
    let mut vol = Vol::open(store, DosTime::from_unix(opts.now))?;
    let mut host = merged_host(host, lines);
    let mut lines: Vec<String> = lines.to_vec();
    let mut key_unprotected = false;
    if opts.pseudonymise {
        let (key, safe) = privacy_key(&mut vol)?;
        key_unprotected = !safe;
        lines = lines
            .iter()
            .map(|l| crate::privacy::pseudonymise_line(l, &key))
            .collect();
        host.notes.push(crate::privacy::NOTE.into());
        host.pseudonymised = true;
    }
    let scans = scans_dir(&mut vol)?;
    let base = folder_name(&host);
    let existing: Vec<String> = vol
        .list(scans)?
        .into_iter()
        .map(|e| e.name.to_ascii_lowercase())
        .collect();
    let mut folder = base.clone();
    // The folder a checkpoint opened for this scan takes the record (that closes the
    // checkpoint); any other name already used gets a suffix.
    let into = match &opts.folder {
        Some(f) if tokens::folder_is_open(&mut vol, scans, f)? => Some(f.clone()),
        _ => None,
    };
    if let Some(f) = into {
        folder = f;
    } else {
        for n in 2..10_000 {
            if !existing.contains(&folder.to_ascii_lowercase()) {
                break;
            }
            folder = format!("{base}-{n}");
        }
    }
    if key_unprotected {
        host.notes.push(unprotected_note("key_no_token"));
    }
    // Through a token when one can take it (no cut can damage the volume); else the ordered
    // writer, and the record says so.
    let record = record_text(&host, &lines);
    let report = human_report(&host, &lines);
    let files = [
        (RECORD_FILE, record.as_bytes()),
        (REPORT_FILE, report.as_bytes()),
    ];
    let mut protected = match tokens::save_folder(&mut vol, scans, &folder, files)? {
        tokens::Outcome::Saved => true,
        tokens::Outcome::NoToken(why) => {
            host.notes.push(unprotected_note(&why));
            let kids = vec![
                Node::File(RECORD_FILE.into(), record_text(&host, &lines).into_bytes()),
                Node::File(REPORT_FILE.into(), human_report(&host, &lines).into_bytes()),
            ];
            match vol.find(scans, &folder)? {
                // Opened by a small file: the files go into it.
                Some(e) if e.is_dir() && e.start >= 2 => {
                    for k in &kids {
                        vol.add(e.start, k)?;
                    }
                }
                _ => vol.add(scans, &Node::Dir(folder.clone(), kids))?,
            }
            false
        }
    } && !key_unprotected;
    // The folder is committed: from here a failure only costs the index row.
    let row = index_row(&host, &lines, &folder);
    let root = vol.root();
    let indexed = match vol.find(root, INDEX)? {
        Some(e) if !e.is_dir() => {
            let old = vol.read_file(&e);
            let text = match old {
                Ok(old) if old.is_empty() => Some(index_head().into_bytes()),
                Ok(old) => Some(old),
                Err(_) => None,
            };
            let via_token = match text {
                Some(mut text) => {
                    text.extend_from_slice(row.as_bytes());
                    tokens::save_index(&mut vol, &e, &text)
                }
                None => Ok(tokens::Outcome::NoToken("index_unreadable".into())),
            };
            match via_token {
                Ok(tokens::Outcome::Saved) => true,
                Ok(tokens::Outcome::NoToken(_)) => {
                    protected = false;
                    match e.size {
                        0 => vol.append(&e, (index_head() + &row).as_bytes()).is_ok(),
                        _ => vol.append(&e, row.as_bytes()).is_ok(),
                    }
                }
                Err(_) => false,
            }
        }
        Some(_) => false,
        None => {
            protected = false;
            let text = index_head() + &row;
            vol.add(root, &Node::File(INDEX.into(), text.into_bytes()))
                .is_ok()
        }
    };
    Ok((
        Saved {
            folder: format!("{SCANS_DIR}/{folder}"),
            indexed,
            protected,
        },
        vol.into_inner(),
    ))
}

/// The note of a save made without a token (stable code `logpart_unprotected`).
pub fn unprotected_note(reason: &str) -> String {
    format!(
        "log partition: saved without power-cut protection ({reason}); run `scanner logpart prepare` on the stick at the desk"
    )
}

/// TEST ONLY (`vigie.test.save_delay_ms`): milliseconds slept at each ordering barrier of a
/// save, so a power-cut test can hit the save window. 0 (the default): no delay.
static SAVE_DELAY_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the test-only save delay (see [`SAVE_DELAY_MS`]).
pub fn set_test_save_delay_ms(ms: u64) {
    SAVE_DELAY_MS.store(ms.min(10_000), std::sync::atomic::Ordering::Relaxed);
}

/// A store that sleeps after each barrier (the test-only save delay).
struct Slow<S>(S, u64);

impl<S: Store> Store for Slow<S> {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(off, buf)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_at(off, buf)
    }
    fn barrier(&mut self) -> std::io::Result<()> {
        self.0.barrier()?;
        std::thread::sleep(std::time::Duration::from_millis(self.1));
        Ok(())
    }
}
