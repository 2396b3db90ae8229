//! The boot step that chooses the rule bundle: the default bundle embedded in the initramfs,
//! a bundle kept from an earlier update, or a newer signed bundle the technician copied into
//! `updates/` on the stick's log partition.
//!
//! Every bundle is verified with the public key embedded in the initramfs. An update is used
//! only if its signature verifies and its version is newer than the best bundle already known
//! (no rollback); it is then copied as a NEW file into `VIGIE/rules/` so later boots keep it.
//! Refused files are named on the console with the reason; the last good bundle stays in use.
//! Nothing is ever modified or deleted on the log partition: only new files are written.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::bundle::{self, Bundle};
use crate::record::RulesInfo;

/// The default bundle in the initramfs.
pub const DEFAULT_BUNDLE: &str = "default.vgb";
/// The public key in the initramfs.
pub const PUBLIC_KEY: &str = "vigie-rules.pub";
/// Where the technician drops updates on the log partition.
pub const UPDATES_DIR: &str = "updates";
/// Where accepted updates are kept on the log partition.
pub const KEPT_DIR: &str = "VIGIE/rules";
/// Where PID 1 puts the chosen bundle for the scan child (initramfs root is RAM).
pub const CHOSEN_DIR: &str = "/run/vigie";
/// Bundles larger than this are not read at boot (RAM).
pub const MAX_BOOT_BUNDLE: u64 = 128 << 20;
/// Bytes of bundles read from the stick in all (PID 1's memory on a 512 MiB machine).
pub const MAX_BOOT_TOTAL: u64 = 160 << 20;
/// Files looked at per folder.
const MAX_FILES: usize = 64;

static CHOSEN: OnceLock<PathBuf> = OnceLock::new();

/// The rules the scan child must load: the chosen bundle, or the initramfs rules folder.
pub fn rules_path(fallback: &Path) -> PathBuf {
    CHOSEN
        .get()
        .cloned()
        .unwrap_or_else(|| fallback.to_path_buf())
}

/// A bundle file found somewhere, not yet verified.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where it is, for messages (`embedded default`, `updates/x.vgb`, `VIGIE/rules/x.vgb`).
    pub origin: String,
    /// The bytes (or why they could not be read).
    pub bytes: Result<Vec<u8>, String>,
}

/// What the step decided.
#[derive(Debug)]
pub struct Decision {
    /// The bundle to use (origin, bundle, bytes).
    pub chosen: Option<(String, Bundle, Vec<u8>)>,
    /// Updates to keep on the log partition (file name, bytes).
    pub keep: Vec<(String, Vec<u8>)>,
    /// Console lines (refusals, what is used).
    pub messages: Vec<String>,
}

/// Chooses among the embedded default, the kept bundles and the updates. Pure: no I/O.
pub fn decide(
    key: &ed25519_dalek::VerifyingKey,
    embedded: Option<Candidate>,
    kept: Vec<Candidate>,
    updates: Vec<Candidate>,
) -> Decision {
    let mut messages = Vec::new();
    let mut best: Option<(String, Bundle, Vec<u8>)> = None;
    let mut kept_hashes = Vec::new();
    let consider = |best: &mut Option<(String, Bundle, Vec<u8>)>, origin, b: Bundle, bytes| {
        let newer = best
            .as_ref()
            .is_none_or(|(_, cur, _)| bundle::is_newer(&b.manifest.version, &cur.manifest.version));
        if newer {
            *best = Some((origin, b, bytes));
        }
    };
    for (c, is_kept) in embedded
        .into_iter()
        .map(|c| (c, false))
        .chain(kept.into_iter().map(|c| (c, true)))
    {
        match c.bytes.map(|bytes| (Bundle::verify(&bytes, key), bytes)) {
            Ok((Ok(b), bytes)) => {
                if is_kept {
                    kept_hashes.push(b.sha256.clone());
                }
                consider(&mut best, c.origin, b, bytes);
            }
            Ok((Err(e), _)) => messages.push(format!("rules: {} ignored: {e}", c.origin)),
            Err(e) => messages.push(format!("rules: {} unreadable: {e}", c.origin)),
        }
    }
    let mut keep = Vec::new();
    for c in updates {
        let bytes = match c.bytes {
            Ok(b) => b,
            Err(e) => {
                messages.push(format!(
                    "rules: update {} REFUSED: unreadable: {e}",
                    c.origin
                ));
                continue;
            }
        };
        match Bundle::verify(&bytes, key) {
            Err(e) => messages.push(format!("rules: update {} REFUSED: {e}", c.origin)),
            Ok(b) if kept_hashes.contains(&b.sha256) => messages.push(format!(
                "rules: update {} already installed (version {})",
                c.origin, b.manifest.version
            )),
            Ok(b) => {
                let current = best
                    .as_ref()
                    .map_or_else(String::new, |(_, cur, _)| cur.manifest.version.clone());
                if best.is_some() && !bundle::is_newer(&b.manifest.version, &current) {
                    messages.push(format!(
                        "rules: update {} REFUSED: version {} is not newer than {current} (rollback refused)",
                        c.origin, b.manifest.version
                    ));
                    continue;
                }
                messages.push(format!(
                    "rules: update {} ACCEPTED: version {} ({} rules, {} IOCs), kept for later boots",
                    c.origin, b.manifest.version, b.manifest.rules, b.manifest.iocs
                ));
                let name = kept_name(&b);
                kept_hashes.push(b.sha256.clone());
                keep.push((name, bytes.clone()));
                best = Some((c.origin, b, bytes));
            }
        }
    }
    Decision {
        chosen: best,
        keep,
        messages,
    }
}

/// File name of a kept bundle: version and a short hash (unique, 8.3-unfriendly is fine: LFN).
pub fn kept_name(b: &Bundle) -> String {
    format!(
        "{}-{}.vgb",
        b.manifest.version,
        b.sha256.get(..12).unwrap_or("0")
    )
}

/// Reads the `.vgb` files of one folder of the FAT volume `dev` (missing folder: none), through
/// the log writer's loop-checked reader ([`super::fatlog`]; fatfs follows cluster chains
/// blindly, and a crafted stick must not hang PID 1). `budget` is the bytes still allowed for
/// all folders together (PID 1's memory on a 512 MiB machine).
pub fn read_folder(dev: &Path, folder: &str, budget: &mut u64) -> std::io::Result<Vec<Candidate>> {
    use super::fatlog::Vol;
    let io = |e: super::fatlog::FatError| std::io::Error::other(e.to_string());
    let mut vol = Vol::open_read_only(std::fs::File::open(dev)?).map_err(io)?;
    let Some(dir) = vol.find_dir(folder).map_err(io)? else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<_> = vol
        .list(dir)
        .map_err(io)?
        .into_iter()
        .filter(|e| !e.is_dir() && e.name.to_ascii_lowercase().ends_with(".vgb"))
        .take(MAX_FILES)
        .collect();
    // Newest first (kept files are named `<version>-<hash>.vgb`), so the size cap drops the
    // oldest.
    let version = |n: &str| -> Vec<u64> {
        n.split('-')
            .next()
            .and_then(|v| bundle::parse_version(v).ok())
            .unwrap_or_default()
    };
    entries.sort_by_key(|e| std::cmp::Reverse(version(&e.name)));
    let mut out = Vec::new();
    for e in entries {
        let origin = format!("{folder}/{}", e.name);
        let len = u64::from(e.size);
        let bytes = if len > MAX_BOOT_BUNDLE {
            Err(format!("{len} bytes is too large"))
        } else if len > *budget {
            Err(format!(
                "not read: over {} MiB of bundles on the stick",
                MAX_BOOT_TOTAL >> 20
            ))
        } else {
            *budget -= len;
            vol.read_file(&e).map_err(|e| e.to_string())
        };
        out.push(Candidate { origin, bytes });
    }
    Ok(out)
}

/// Writes `files` as new files into [`KEPT_DIR`] of the FAT volume `dev`; an existing file of
/// the same name is left alone (same version and hash: same content). Through the prepared
/// kept-bundle taps (`VIGIE/rules/VGRU..`, see [`super::logpart::tokens`]) no power cut can
/// damage the volume; without one, the log partition's ordered writer ([`super::fatlog`])
/// loses at most the file being kept.
pub fn keep_files(dev: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    use super::fatlog::{DosTime, FatError, Node, Vol};
    use super::logpart::tokens::{save_named, Outcome, RULES_TOKEN};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let io = |e: FatError| std::io::Error::other(e.to_string());
    let mut vol = Vol::open(file, DosTime::from_unix(now)).map_err(io)?;
    let nodes: Vec<Node> = files
        .iter()
        .map(|(n, b)| Node::File(n.clone(), b.clone()))
        .collect();
    match vol.find_dir(KEPT_DIR).map_err(io)? {
        Some(dir) => {
            // Through a kept-bundle tap (power-cut safe), else the ordered writer.
            let tap = |n: &str| n.starts_with(RULES_TOKEN);
            for (name, bytes) in files {
                if vol.find(dir, name).map_err(io)?.is_some() {
                    continue;
                }
                match save_named(&mut vol, dir, name, bytes, &tap).map_err(io)? {
                    Outcome::Saved => continue,
                    Outcome::NoToken(_) => {}
                }
                match vol.add(dir, &Node::File(name.clone(), bytes.clone())) {
                    Ok(()) | Err(FatError::Exists(_)) => {}
                    Err(e) => return Err(io(e)),
                }
            }
        }
        // A stick made before the folder existed: add the folder with its files at once.
        None => {
            let (parent, node) = match vol.find_dir("VIGIE").map_err(io)? {
                Some(v) => (v, Node::Dir("rules".into(), nodes)),
                None => (
                    vol.root(),
                    Node::Dir("VIGIE".into(), vec![Node::Dir("rules".into(), nodes)]),
                ),
            };
            vol.add(parent, &node).map_err(io)?;
        }
    }
    Ok(())
}

/// The boot step. `log_part` is the stick's log partition device when the stick was found;
/// `make_writable(true/false)` lifts / restores the read-only flags around the one write.
pub fn step(
    rules_dir: &Path,
    log_part: Option<&Path>,
    make_writable: &mut dyn FnMut(bool) -> Result<(), String>,
    say: &dyn Fn(&str),
) -> Result<(PathBuf, RulesInfo), String> {
    let key_path = rules_dir.join(PUBLIC_KEY);
    let default = rules_dir.join(DEFAULT_BUNDLE);
    if !default.exists() {
        // A development initramfs with plain .yar sources: compiled by the scan child.
        return Err(format!(
            "no {} in {}: the scan compiles the rule sources there",
            DEFAULT_BUNDLE,
            rules_dir.display()
        ));
    }
    let key = bundle::keys::read_public(&key_path).map_err(|e| e.to_string())?;
    let embedded = Candidate {
        origin: "embedded default".into(),
        bytes: std::fs::read(&default).map_err(|e| e.to_string()),
    };
    let (mut kept, mut updates) = (Vec::new(), Vec::new());
    if let Some(dev) = log_part {
        let mut budget = MAX_BOOT_TOTAL;
        match read_folder(dev, KEPT_DIR, &mut budget) {
            Ok(v) => kept = v,
            Err(e) => say(&format!("  rules: cannot read {KEPT_DIR}: {e}")),
        }
        match read_folder(dev, UPDATES_DIR, &mut budget) {
            Ok(v) => updates = v,
            Err(e) => say(&format!("  rules: cannot read {UPDATES_DIR}: {e}")),
        }
    } else {
        say("  rules: stick not identified, updates not looked at");
    }
    let d = decide(&key, Some(embedded), kept, updates);
    for m in &d.messages {
        say(&format!("  {m}"));
    }
    let (origin, b, bytes) = d
        .chosen
        .ok_or_else(|| "no valid rule bundle (not even the embedded one)".to_string())?;
    if let (Some(dev), false) = (log_part, d.keep.is_empty()) {
        let r =
            make_writable(true).and_then(|()| keep_files(dev, &d.keep).map_err(|e| e.to_string()));
        let _ = make_writable(false);
        match r {
            Ok(()) => say(&format!("  rules: kept in {KEPT_DIR}/ for later boots")),
            Err(e) => say(&format!(
                "  rules: could not keep the update ({e}); used for this boot only"
            )),
        }
    }
    std::fs::create_dir_all(CHOSEN_DIR).map_err(|e| format!("{CHOSEN_DIR}: {e}"))?;
    let path = Path::new(CHOSEN_DIR).join(kept_name(&b));
    std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let info = RulesInfo {
        origin: origin.clone(),
        version: b.manifest.version.clone(),
        created: Some(b.manifest.created.clone()),
        sha256: b.sha256.clone(),
        rules: b.manifest.rules,
        iocs: b.manifest.iocs,
    };
    say(&format!(
        "  rules in use: version {} ({}), created {}, {} rules, {} IOCs",
        info.version, origin, b.manifest.created, info.rules, info.iocs
    ));
    let _ = CHOSEN.set(path.clone());
    Ok((path, info))
}

/// [`step`] for PID 1: the stick's log partition (if found), its read-only flags lifted only
/// around the write of a kept update, console messages through `say`.
pub fn boot_step(
    rules_dir: &Path,
    stick: Option<&(super::disks::Disk, String)>,
) -> Result<(PathBuf, RulesInfo), String> {
    let part = stick.map(|(_, p)| Path::new("/dev").join(p));
    let mut writable = |on: bool| -> Result<(), String> {
        let Some((disk, p)) = stick else {
            return Err("no stick".into());
        };
        for dev in [disk.dev(), Path::new("/dev").join(p)] {
            let f = std::fs::File::open(&dev).map_err(|e| format!("{}: {e}", dev.display()))?;
            let r = if on {
                super::sys::clear_block_device_read_only(&f)
            } else {
                crate::sys::set_block_device_read_only(&f)
            };
            r.map_err(|e| format!("{}: {e}", dev.display()))?;
        }
        // As in the record writer: the stick's other partitions stay read-only.
        for other in disk.partitions.iter().filter(|o| *o != p) {
            if let Ok(f) = std::fs::File::open(Path::new("/dev").join(other)) {
                let _ = crate::sys::set_block_device_read_only(&f);
            }
        }
        Ok(())
    };
    step(rules_dir, part.as_deref(), &mut writable, &|m| {
        super::say(m)
    })
}

#[cfg(test)]
mod tests;
