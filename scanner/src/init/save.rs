//! The one writer of the log partition from PID 1: the record (with evidence, when asked) saved
//! through `logpart`, the stick made writable only for that save.

use super::{disks, evidence, logpart, now_secs, sys, Boot};
use crate::record::HostRecord;
use crate::say::say;
use std::path::Path;

pub(super) fn step_write(b: &mut Boot) -> Result<(), String> {
    // The interactive session saved its record when the UI asked (or when it crashed).
    if b.records.is_empty() || !b.cmdline.auto {
        return Ok(());
    }
    // Only a scan that ran to its end closes its checkpoint (its record goes into the
    // checkpoint's folder); a cut one stays resumable.
    let into = match (b.completed, &b.checkpoint) {
        (true, Some(cp)) => cp.folder().map(String::from),
        _ => None,
    };
    save_record(b, &b.host, &b.records, into.as_deref()).map(|_| ())
}

/// The one writer of the log partition (see `logpart::save_scan`: a folder per scan with the
/// record, the human report and an index row). Returns where the record went (shown on screen).
/// Used by the unattended path, the interactive path (on the UI child's request) and the crash
/// path; a full partition is an error the caller shows next to the verdict. `into`: the folder
/// of the scan's checkpoint, when the scan ran to its end (see `logpart::SaveOptions::folder`).
pub(super) fn save_record(
    b: &Boot,
    host: &HostRecord,
    lines: &[String],
    into: Option<&str>,
) -> Result<String, String> {
    let Some((disk, part)) = &b.stick else {
        return Err("stick not identified: record not saved".into());
    };
    // Evidence (issue 14): a child copies the detected files before the save; the ZIP is added
    // to the scan folder after the record is committed (see `evidence`).
    let prepared = b.cmdline.evidence.map(|limits| {
        say("  evidence: copying the detected files (vigie.evidence=1)");
        evidence::prepare(lines, limits)
    });
    let with_evidence: Vec<String>;
    let lines = match &prepared {
        Some(p) => {
            with_evidence = lines
                .iter()
                .cloned()
                .chain([evidence::record_line(p)])
                .collect();
            &with_evidence[..]
        }
        None => lines,
    };
    // Only now, and only for the identified stick, lift the read-only flag: the whole disk
    // (the kernel checks it for partitions too) and the log partition. The boot partition stays
    // read-only.
    for dev in [disk.dev(), Path::new("/dev").join(part)] {
        let f = std::fs::File::open(&dev).map_err(|e| format!("{}: {e}", dev.display()))?;
        sys::clear_block_device_read_only(&f).map_err(|e| format!("{}: {e}", dev.display()))?;
    }
    for p in disk.partitions.iter().filter(|p| *p != part) {
        if let Ok(f) = std::fs::File::open(Path::new("/dev").join(p)) {
            let _ = crate::sys::set_block_device_read_only(&f);
        }
    }
    let mut host = host.clone();
    if host.ended.is_none() {
        host.ended = Some(logpart::rfc3339(now_secs()));
    }
    let opts = logpart::SaveOptions {
        pseudonymise: b.cmdline.pseudonymise,
        now: now_secs(),
        folder: into.map(String::from),
    };
    logpart::set_test_save_delay_ms(b.cmdline.test_save_delay_ms);
    say("  saving record");
    let res = logpart::save_scan(&Path::new("/dev").join(part), &host, lines, &opts);
    if let (Ok(saved), Some(p)) = (&res, &prepared) {
        let out = evidence::save(&Path::new("/dev").join(part), &saved.folder, p, now_secs());
        say(&format!("  {}", evidence::outcome_line(&out)));
    }
    // Back to read-only for the rest of the session.
    for dev in [disk.dev(), Path::new("/dev").join(part)] {
        if let Ok(f) = std::fs::File::open(&dev) {
            let _ = crate::sys::set_block_device_read_only(&f);
        }
    }
    let saved = res.map_err(|e| e.to_string())?;
    if !saved.indexed {
        say("  the index row could not be added (the record folder is saved)");
    }
    if !saved.protected {
        say("  logpart_unprotected: saved without power-cut protection (no prepared space): run `scanner logpart prepare` at the desk");
    }
    say(&format!(
        "  record saved: {}:/{} ({} lines)",
        disks::LOG_LABEL,
        saved.folder,
        lines.len() + 1
    ));
    Ok(format!("{}:/{}", disks::LOG_LABEL, saved.folder))
}

/// Runs `f` on the log partition device with the identified stick writable (the whole disk,
/// which the kernel checks for partitions too, and the log partition; the stick's other
/// partitions stay read-only), then makes both read-only again. Used by the checkpoints of
/// a running scan (`resume`).
pub(super) fn with_writable_stick<T>(
    disk: &disks::Disk,
    part: &str,
    f: impl FnOnce(&Path) -> T,
) -> Result<T, String> {
    let log = Path::new("/dev").join(part);
    for dev in [disk.dev(), log.clone()] {
        let file = std::fs::File::open(&dev).map_err(|e| format!("{}: {e}", dev.display()))?;
        sys::clear_block_device_read_only(&file).map_err(|e| format!("{}: {e}", dev.display()))?;
    }
    for p in disk.partitions.iter().filter(|p| *p != part) {
        if let Ok(file) = std::fs::File::open(Path::new("/dev").join(p)) {
            let _ = crate::sys::set_block_device_read_only(&file);
        }
    }
    let out = f(&log);
    for dev in [disk.dev(), log] {
        if let Ok(file) = std::fs::File::open(&dev) {
            let _ = crate::sys::set_block_device_read_only(&file);
        }
    }
    Ok(out)
}
