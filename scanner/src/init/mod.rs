//! PID 1 of the stick: an ordered table of boot steps (each logs itself and says whether it is
//! required), then ONE supervised child (the console UI, which scans on its own thread, or the
//! unattended scan with `vigie.auto=1`), the record written to the stick's log partition by
//! PID 1 only ([`save::save_record`]), and power-off. PID 1 never exits and never lets a panic reach
//! the kernel; a crashed child is explained on screen and recorded.
//!
//! Entered when `getpid() == 1` or with `scanner init`. Nothing here mounts a host partition:
//! the only mounts are `proc`, `sysfs`, `devtmpfs` and (UEFI only) `efivarfs`.

pub mod cmdline;
pub mod disks;
mod engine;
pub mod evidence;
pub mod fatlog;
pub mod host;
mod interactive;
pub mod logpart;
pub mod modalias;
pub mod resume;
mod save;
pub mod settings;
mod steps;
mod supervise;
mod sys;
pub mod update;

use crate::record::{HostRecord, Verdict};
pub use crate::say::{quiet_console, say};
use cmdline::Cmdline;
use interactive::interactive;
use nix::mount::MsFlags;
use save::step_write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use steps::{
    mount_fs, scan_targets, step_cmdline, step_find_stick, step_host, step_modalias, step_modules,
    step_protect, step_quiet, step_secure_boot, step_settle,
};
use supervise::supervise_scan;

/// Where `vigie-initramfs` puts things (keep in sync with `initramfs/src/main.rs`).
pub const MODULES_DIR: &str = "/lib/modules";
/// Rules directory in the initramfs.
pub const RULES_DIR: &str = "/etc/vigie/rules";
/// The stick identity baked into the initramfs.
pub const STICK_ID_FILE: &str = "/etc/vigie/stick-id";

/// Seconds since boot (guest clock).
fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// State shared by the steps.
#[derive(Default)]
struct Boot {
    cmdline: Cmdline,
    modules: modalias::Loader,
    db: modalias::ModuleDb,
    disks: Vec<disks::Disk>,
    protected: Vec<disks::Protected>,
    stick: Option<(disks::Disk, String)>,
    records: Vec<String>,
    verdict: Option<Verdict>,
    /// The rule bundle chosen by the "rules" step (path for the scan, what records show).
    rules: Option<(PathBuf, crate::record::RulesInfo)>,
    /// The base host record, built before forking (cheap sysfs reads only).
    host: HostRecord,
    /// The unattended full scan's checkpoints (issue 14), ended once its record is saved.
    checkpoint: Option<resume::Checkpointer>,
    /// The scan ran to its end (not cut, not crashed): its checkpoint can be closed.
    completed: bool,
}

type StepFn = fn(&mut Boot) -> Result<(), String>;

/// One boot step.
struct Step {
    name: &'static str,
    required: bool,
    run: StepFn,
}

const STEPS: &[Step] = &[
    Step {
        name: "mount /proc",
        required: true,
        run: |_| mount_fs("proc", "/proc", "proc", MsFlags::empty()),
    },
    Step {
        name: "mount /sys",
        required: true,
        run: |_| mount_fs("sysfs", "/sys", "sysfs", MsFlags::empty()),
    },
    Step {
        name: "mount devtmpfs /dev",
        required: true,
        run: |_| mount_fs("devtmpfs", "/dev", "devtmpfs", MsFlags::empty()),
    },
    Step {
        name: "read kernel command line",
        required: true,
        run: step_cmdline,
    },
    Step {
        name: "quiet kernel console",
        required: false,
        run: step_quiet,
    },
    Step {
        name: "load storage, USB and keyboard modules",
        required: false,
        run: step_modules,
    },
    Step {
        name: "load modules for present devices (modalias)",
        required: false,
        run: step_modalias,
    },
    Step {
        name: "firmware and Secure Boot status",
        required: false,
        run: step_secure_boot,
    },
    Step {
        name: "wait for disks to settle",
        required: false,
        run: step_settle,
    },
    Step {
        name: "set every disk read-only (BLKROSET)",
        required: true,
        run: step_protect,
    },
    Step {
        name: "find the stick by identity",
        required: false,
        run: step_find_stick,
    },
    Step {
        name: "rules: choose the bundle (embedded, kept, or a signed update)",
        required: false,
        run: |b| {
            let stick = b.stick.as_ref().map(|(d, p)| (d.clone(), p.clone()));
            b.rules = Some(update::boot_step(Path::new(RULES_DIR), stick.as_ref())?);
            Ok(())
        },
    },
    Step {
        name: "base host record",
        required: false,
        run: step_host,
    },
    Step {
        name: "scan (console UI, or unattended with vigie.auto=1)",
        required: false,
        run: step_scan,
    },
    Step {
        name: "write the record to the log partition",
        required: false,
        run: step_write,
    },
];

/// PID 1's entry point.
pub fn run() -> ! {
    if std::process::id() != 1 && std::env::var_os("VIGIE_INIT_FORCE").is_none() {
        // The boot flow mounts, loads modules and powers the machine off: never by accident on
        // a workstation.
        eprintln!("scanner init: this is the stick's PID 1 boot flow and this process is not PID 1; refusing (set VIGIE_INIT_FORCE=1 inside a throw-away VM to force it)");
        std::process::exit(2);
    }
    std::panic::set_hook(Box::new(|info| {
        say(&format!("PANIC (caught, PID 1 keeps running): {info}"));
    }));
    say(&format!(
        "Vigie {} starting as PID {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    ));
    let mut boot = Boot::default();
    for (i, step) in STEPS.iter().enumerate() {
        let kind = if step.required {
            "required"
        } else {
            "optional"
        };
        say(&format!(
            "[{:>2}/{}] {} ({kind})",
            i + 1,
            STEPS.len(),
            step.name
        ));
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (step.run)(&mut boot)));
        let err = match res {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("panicked".to_string()),
        };
        if let Some(e) = err {
            say(&format!("[{:>2}/{}] FAILED: {e}", i + 1, STEPS.len()));
            if step.required {
                say("a required step failed: stopping here");
                break;
            }
        }
    }
    finish(&boot)
}

fn finish(boot: &Boot) -> ! {
    let verdict = match boot.verdict {
        Some(Verdict::Clean) => "CLEAN: no threat found, every file scanned",
        Some(Verdict::Infected) => {
            "THREAT FOUND: see the record on the stick's VIGIE-LOGS partition"
        }
        Some(Verdict::Incomplete) => {
            "INCOMPLETE: no threat found, but not everything could be scanned"
        }
        None => "NO SCAN COMPLETED",
    };
    say(&format!("VERDICT: {verdict}"));
    nix::unistd::sync();
    if boot.cmdline.no_poweroff {
        say("vigie.nopoweroff: halting here");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    say("powering off");
    std::thread::sleep(Duration::from_millis(200));
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    say("power-off failed: you may switch the machine off");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn step_scan(b: &mut Boot) -> Result<(), String> {
    if !b.cmdline.auto {
        return interactive(b);
    }
    // A disk we could not protect is never read: the scan is then incomplete at best.
    let unprotected = b.protected.iter().filter(|p| p.error.is_some()).count();
    let targets = scan_targets(b);
    say(&format!(
        "  scanning {}",
        targets
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let started = uptime();
    // Resume (issue 14): a full scan cut on this machine is continued, else a new checkpoint.
    let earlier = match (&b.stick, b.cmdline.quick) {
        (Some((_, part)), false) => {
            resume::offered(&Path::new("/dev").join(part), &b.host, now_secs())
        }
        _ => None,
    };
    let mut cp = resume::Checkpointer::new(b.stick.clone(), b.cmdline.test_volume_delay_ms);
    match &earlier {
        Some(c) => {
            cp.resume(c, &b.host, now_secs());
            b.host.resumed = resume::merge::resumed(c);
        }
        None if !b.cmdline.quick => cp.begin(&b.host, volumes_to_scan(b), now_secs()),
        None => {}
    }
    let skip = earlier.as_ref().map(|c| c.skip_keys()).unwrap_or_default();
    let (lines, verdict, completed) = supervise_scan(
        &targets,
        b.cmdline.threads,
        Some(b.host.clone()),
        &mut b.host.notes,
        &skip,
        &mut |l| cp.line(l),
    )?;
    let (lines, verdict) = match &earlier {
        Some(c) => {
            let merged = resume::merge::merge(c, &lines);
            let v = logpart::summary_of(&merged).map_or(verdict, |s| s.verdict);
            (merged, v)
        }
        None => (lines, verdict),
    };
    b.checkpoint = Some(cp);
    b.completed = completed;
    let verdict = if unprotected > 0 && verdict == Verdict::Clean {
        Verdict::Incomplete
    } else {
        verdict
    };
    b.records = lines;
    b.verdict = Some(verdict);
    let now = uptime();
    say(&format!(
        "  scan done: boot-to-scan-done {now:.1} s (guest clock), scan {:.1} s",
        now - started
    ));
    Ok(())
}

/// Volumes on the disks to scan, for the resume prompt ("N of M"): partitions, or 1 for a disk
/// without any.
fn volumes_to_scan(b: &Boot) -> u32 {
    let stick = b.stick.as_ref().map(|(d, _)| d.name.clone());
    b.protected
        .iter()
        .filter(|p| p.error.is_none() && Some(&p.disk.name) != stick.as_ref())
        .map(|p| p.disk.partitions.len().max(1) as u32)
        .sum()
}

/// Unix time from the system clock.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_protect_disks_before_any_read() {
        let pos = |n: &str| STEPS.iter().position(|s| s.name.contains(n)).unwrap();
        assert!(pos("devtmpfs") < pos("load storage"));
        assert!(pos("settle") < pos("read-only"));
        assert!(pos("read-only") < pos("find the stick"));
        assert!(pos("find the stick") < pos("scan"));
        assert!(pos("find the stick") < pos("rules:") && pos("rules:") < pos("scan"));
        assert!(pos("scan") < pos("write the record"));
        assert!(STEPS[pos("read-only")].required);
        assert!(STEPS[..3].iter().all(|s| s.required));
    }
}
