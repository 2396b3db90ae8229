//! The boot steps before the scan: pseudo-filesystems, command line and settings, kernel
//! modules, firmware status, disks (settled, then read-only), the stick, the base host record.

use super::cmdline::Cmdline;
use super::{disks, host, modalias, now_secs, settings, Boot, MODULES_DIR, STICK_ID_FILE};
use crate::record::RunMode;
use crate::say::{mirror_console, say};
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) fn mount_fs(
    src: &str,
    target: &str,
    fstype: &str,
    flags: MsFlags,
) -> Result<(), String> {
    let _ = std::fs::create_dir_all(target);
    match nix::mount::mount(
        Some(src),
        target,
        Some(fstype),
        flags | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        None::<&str>,
    ) {
        Ok(()) | Err(nix::errno::Errno::EBUSY) => Ok(()),
        Err(e) => Err(format!("mount {fstype} on {target}: {e}")),
    }
}

pub(super) fn step_cmdline(b: &mut Boot) -> Result<(), String> {
    let s = std::fs::read_to_string("/proc/cmdline").map_err(|e| e.to_string())?;
    b.cmdline = Cmdline::parse(&s);
    // Container limits (issue 13): the scan child is forked, it inherits them.
    crate::container::limits::set_defaults(b.cmdline.containers);
    crate::scan::quick::set_default(b.cmdline.quick); // issue 14: vigie.mode=quick
    mirror_console(&s);
    say(&format!(
        "  auto={} debug={} settle={}s",
        b.cmdline.auto, b.cmdline.debug, b.cmdline.settle_secs
    ));
    if !b.cmdline.unknown.is_empty() {
        say(&format!(
            "  ignored options: {}",
            b.cmdline.unknown.join(" ")
        ));
    }
    Ok(())
}

pub(super) fn step_quiet(b: &mut Boot) -> Result<(), String> {
    let level = if b.cmdline.debug { "7" } else { "3" };
    std::fs::write("/proc/sys/kernel/printk", level).map_err(|e| e.to_string())
}

pub(super) fn step_modules(b: &mut Boot) -> Result<(), String> {
    b.db = modalias::ModuleDb::load(Path::new(MODULES_DIR));
    if b.db.deps.is_empty() {
        return Err(format!("no module table in {MODULES_DIR}"));
    }
    let always = b.db.always.clone();
    let mut n = 0;
    for m in &always {
        n += b.modules.load(&b.db, m, b.cmdline.debug);
    }
    say(&format!(
        "  {n} modules loaded, {} failed",
        b.modules.failed.len()
    ));
    for (m, e) in &b.modules.failed {
        say(&format!("  {m}: {e}"));
    }
    Ok(())
}

pub(super) fn step_modalias(b: &mut Boot) -> Result<(), String> {
    // Loading a bus driver makes new devices appear (PCI -> USB -> USB interfaces): a few rounds.
    let mut total = 0;
    for round in 0..8 {
        let wanted =
            b.db.matches(modalias::present_modaliases().iter().map(String::as_str));
        let mut n = 0;
        for m in wanted {
            if !b.modules.loaded.contains(&m) && !b.modules.failed.contains_key(&m) {
                n += b.modules.load(&b.db, &m, b.cmdline.debug);
            }
        }
        total += n;
        if n == 0 && round >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    say(&format!(
        "  {total} more modules loaded for the devices present"
    ));
    Ok(())
}

/// Reads the kernel log (`/dev/kmsg`, non-blocking) and returns the lines containing `needle`s.
pub(super) fn kernel_log_lines(needles: &[&str]) -> Vec<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = Vec::new();
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return out;
    };
    let mut buf = vec![0u8; 8192];
    for _ in 0..100_000 {
        match std::io::Read::read(&mut f, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = String::from_utf8_lossy(&buf[..n]);
                let msg = rec
                    .split_once(';')
                    .map(|(_, m)| m)
                    .unwrap_or(&rec)
                    .trim()
                    .to_string();
                if needles.iter().any(|nd| msg.contains(nd)) {
                    out.push(msg);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue, // overwritten record
            Err(_) => break,
        }
    }
    out
}

pub(super) fn step_secure_boot(_b: &mut Boot) -> Result<(), String> {
    if !Path::new("/sys/firmware/efi").exists() {
        say("  firmware: BIOS (legacy boot), Secure Boot: not applicable");
        return Ok(());
    }
    let vars = "/sys/firmware/efi/efivars";
    let _ = mount_fs("efivarfs", vars, "efivarfs", MsFlags::MS_RDONLY);
    let var = std::fs::read(format!(
        "{vars}/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
    ))
    .ok();
    let efivar = match var.as_deref() {
        Some([_, _, _, _, 1, ..]) => "SecureBoot=1",
        Some([_, _, _, _, 0, ..]) => "SecureBoot=0",
        _ => "SecureBoot variable unreadable",
    };
    let klog = kernel_log_lines(&["Secure boot", "locked down"]);
    let enforced = efivar == "SecureBoot=1";
    say(&format!(
        "  firmware: UEFI, Secure Boot: {} ({efivar})",
        if enforced { "enabled" } else { "disabled" }
    ));
    for l in klog {
        say(&format!("  kernel: {l}"));
    }
    Ok(())
}

pub(super) fn step_settle(b: &mut Boot) -> Result<(), String> {
    let max = Duration::from_secs(b.cmdline.settle_secs.max(1));
    b.disks = disks::settle(Duration::from_secs(2), Duration::from_secs(3), max);
    for d in &b.disks {
        say(&format!(
            "  disk {} ({} MiB{}) partitions: {}",
            d.name,
            d.sectors / 2048,
            if d.removable { ", removable" } else { "" },
            d.partitions.join(" ")
        ));
    }
    if b.disks.is_empty() {
        return Err("no disk found".into());
    }
    Ok(())
}

pub(super) fn step_protect(b: &mut Boot) -> Result<(), String> {
    b.protected = b.disks.iter().map(disks::protect).collect();
    let mut bad = 0;
    for p in &b.protected {
        match &p.error {
            None => say(&format!(
                "  {} and its partitions are read-only",
                p.disk.name
            )),
            Some(e) => {
                bad += 1;
                say(&format!(
                    "  {} NOT PROTECTED, will not be read: {e}",
                    p.disk.name
                ));
            }
        }
    }
    if bad == b.protected.len() && bad > 0 {
        return Err("no disk could be made read-only".into());
    }
    Ok(())
}

pub(super) fn step_find_stick(b: &mut Boot) -> Result<(), String> {
    let id = std::fs::read_to_string(STICK_ID_FILE).map_err(|e| format!("{STICK_ID_FILE}: {e}"))?;
    let id = id.trim().to_string();
    // USB sticks can show up late: retry (bounded), protecting every new disk before reading it.
    let deadline = std::time::Instant::now() + Duration::from_secs(b.cmdline.settle_secs.max(1));
    loop {
        let ok: Vec<disks::Disk> = b
            .protected
            .iter()
            .filter(|p| p.error.is_none())
            .map(|p| p.disk.clone())
            .collect();
        if let Some((d, p)) = disks::find_stick(&ok, &id) {
            say(&format!(
                "  the stick is {} (log partition {}): excluded from the scan",
                d.name, p
            ));
            b.stick = Some((d, p));
            load_settings(b);
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        for d in disks::list() {
            if !b
                .protected
                .iter()
                .any(|p| p.disk.name == d.name && p.disk.partitions == d.partitions)
            {
                let p = disks::protect(&d);
                say(&format!(
                    "  new disk {} {}",
                    d.name,
                    if p.error.is_none() {
                        "made read-only"
                    } else {
                        "NOT PROTECTED"
                    }
                ));
                b.protected.retain(|q| q.disk.name != d.name);
                b.protected.push(p);
            }
        }
    }
    Err(format!(
        "no partition labelled {} with {} = {id}: the record cannot be saved",
        disks::LOG_LABEL,
        disks::ID_FILE
    ))
}

/// Applies `VIGIE/settings.txt` from the log partition (read-only); the command line wins.
pub(super) fn load_settings(b: &mut Boot) {
    let Some((_, part)) = &b.stick else { return };
    let text = settings::read(&Path::new("/dev").join(part));
    if text.is_empty() {
        return;
    }
    let line = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    b.cmdline = settings::merge(&text, &line);
    crate::container::limits::set_defaults(b.cmdline.containers);
    crate::scan::quick::set_default(b.cmdline.quick); // issue 14: vigie.mode=quick
    say(&format!(
        "  settings from {}: auto={} site={} pseudonymise={}",
        settings::SETTINGS_FILE,
        b.cmdline.auto,
        b.cmdline.site.as_deref().unwrap_or("-"),
        b.cmdline.pseudonymise
    ));
}

pub(super) fn scan_targets(b: &Boot) -> Vec<PathBuf> {
    let stick = b.stick.as_ref().map(|(d, _)| d.name.clone());
    b.protected
        .iter()
        .filter(|p| p.error.is_none() && Some(&p.disk.name) != stick.as_ref())
        .map(|p| p.disk.dev())
        .collect()
}

/// The base host record. [issue 5 replaces this body with `host::collect`.]
pub(super) fn step_host(b: &mut Boot) -> Result<(), String> {
    let mode = if b.cmdline.auto {
        RunMode::Unattended
    } else {
        RunMode::Interactive
    };
    b.host = base_host(b, mode);
    say(&format!(
        "  scan {}: {} disk(s), clock {}",
        b.host.scan_id,
        b.host.disks.len(),
        b.host.clock
    ));
    Ok(())
}

/// The base host record (PID 1, before the fork: sysfs reads only).
pub(super) fn base_host(b: &Boot, mode: crate::record::RunMode) -> crate::record::HostRecord {
    let stick_id = std::fs::read_to_string(STICK_ID_FILE)
        .ok()
        .map(|s| s.trim().to_string());
    let stick = b.stick.as_ref().map(|(d, _)| d.name.clone());
    let scanned: Vec<String> = b
        .protected
        .iter()
        .filter(|p| p.error.is_none() && Some(&p.disk.name) != stick.as_ref())
        .map(|p| p.disk.name.clone())
        .collect();
    host::collect(&host::HostInput {
        sys: Path::new("/sys"),
        stick_id: stick_id.as_deref(),
        scanned: &scanned,
        rules: b.rules.as_ref().map(|r| r.1.clone()).unwrap_or_default(),
        mode,
        site: b.cmdline.site.clone(),
        now: now_secs(),
    })
}
