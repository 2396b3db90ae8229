//! PID 1 of the stick: an ordered table of boot steps (each logs itself and says whether it is
//! required), then ONE supervised child (the console UI, which scans on its own thread, or the
//! unattended scan with `vigie.auto=1`), the record written to the stick's log partition by
//! PID 1 only ([`save_record`]), and power-off. PID 1 never exits and never lets a panic reach
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
pub mod logpart;
pub mod modalias;
pub mod settings;
mod sys;
pub mod update;

use crate::record::{HostRecord, Record, RunMode, SummaryRecord, Verdict};
use crate::say::mirror_console;
pub use crate::say::{quiet_console, say};
use crate::tui::run::{ChildConfig, REPLY_ERR, REPLY_OK, SAVE_REQUEST};
use cmdline::Cmdline;
use nix::mount::MsFlags;
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

fn mount_fs(src: &str, target: &str, fstype: &str, flags: MsFlags) -> Result<(), String> {
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

fn step_cmdline(b: &mut Boot) -> Result<(), String> {
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

fn step_quiet(b: &mut Boot) -> Result<(), String> {
    let level = if b.cmdline.debug { "7" } else { "3" };
    std::fs::write("/proc/sys/kernel/printk", level).map_err(|e| e.to_string())
}

fn step_modules(b: &mut Boot) -> Result<(), String> {
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

fn step_modalias(b: &mut Boot) -> Result<(), String> {
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
fn kernel_log_lines(needles: &[&str]) -> Vec<String> {
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

fn step_secure_boot(_b: &mut Boot) -> Result<(), String> {
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

fn step_settle(b: &mut Boot) -> Result<(), String> {
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

fn step_protect(b: &mut Boot) -> Result<(), String> {
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

fn step_find_stick(b: &mut Boot) -> Result<(), String> {
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
fn load_settings(b: &mut Boot) {
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

fn scan_targets(b: &Boot) -> Vec<PathBuf> {
    let stick = b.stick.as_ref().map(|(d, _)| d.name.clone());
    b.protected
        .iter()
        .filter(|p| p.error.is_none() && Some(&p.disk.name) != stick.as_ref())
        .map(|p| p.disk.dev())
        .collect()
}

/// The base host record. [issue 5 replaces this body with `host::collect`.]
fn step_host(b: &mut Boot) -> Result<(), String> {
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
    let (lines, verdict) = supervise_scan(
        &targets,
        b.cmdline.threads,
        Some(b.host.clone()),
        &mut b.host.notes,
    )?;
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

/// Finding lines PID 1 keeps for one record. A disk with millions of matching files must not
/// run PID 1 out of memory (a kernel panic, and no record at all): past this, findings are
/// counted, the record says how many were left out, and the summary still counts them all.
const MAX_KEPT_FINDINGS: usize = 50_000;

/// The record lines PID 1 keeps from the child's stream (see [`MAX_KEPT_FINDINGS`]).
#[derive(Default)]
struct Kept {
    lines: Vec<String>,
    findings: usize,
    dropped: u64,
}

impl Kept {
    fn push(&mut self, line: String) {
        if line.starts_with("{\"type\":\"finding\"") {
            if self.findings >= MAX_KEPT_FINDINGS {
                self.dropped += 1;
                return;
            }
            self.findings += 1;
        }
        self.lines.push(line);
    }

    /// The note for the host record when findings were left out.
    fn note(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "{} more findings are not listed in this record (limit {MAX_KEPT_FINDINGS}); the summary counts them all",
                self.dropped
            )
        })
    }
}

/// Runs the scan in a forked child that streams JSON lines through a pipe; a crash of the
/// child (panic, signal, out of memory) becomes an incomplete verdict, never a dead PID 1.
fn supervise_scan(
    targets: &[PathBuf],
    threads: usize,
    host: Option<crate::record::HostRecord>,
    notes: &mut Vec<String>,
) -> Result<(Vec<String>, Verdict), String> {
    let (r, w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    match sys::fork().map_err(|e| format!("fork: {e}"))? {
        None => {
            drop(r);
            let file = std::fs::File::from(w);
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                child_scan(targets, threads, file, host)
            }));
            let code = code.unwrap_or(3);
            std::process::exit(code);
        }
        Some(child) => {
            drop(w);
            let reader = std::io::BufReader::new(std::fs::File::from(r));
            let mut kept = Kept::default();
            for l in reader.lines() {
                match l {
                    Ok(l) => kept.push(l),
                    Err(_) => break,
                }
            }
            if let Some(n) = kept.note() {
                say(&format!("  {n}"));
                notes.push(n);
            }
            let mut lines = kept.lines;
            let status = nix::sys::wait::waitpid(child, None);
            let summary = logpart::summary_of(&lines);
            let healthy = matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0..=2)));
            match (summary, healthy) {
                (Some(s), true) => Ok((lines, s.verdict)),
                (s, _) => {
                    say(&format!(
                        "  the scan process ended abnormally: {}",
                        describe(&status)
                    ));
                    let findings = lines
                        .iter()
                        .filter(|l| l.contains("\"type\":\"finding\""))
                        .count() as u64;
                    let verdict = if findings > 0 {
                        Verdict::Infected
                    } else {
                        Verdict::Incomplete
                    };
                    let mut rec = s.unwrap_or(SummaryRecord {
                        verdict,
                        files: 0,
                        scanned: 0,
                        findings,
                        bytes: 0,
                        seconds: 0.0,
                        skipped: 0,
                        errors: 1,
                        cancelled: false,
                        members: Default::default(),
                        mode: Default::default(),
                        not_selected: 0,
                    });
                    if rec.verdict == Verdict::Clean {
                        rec.verdict = Verdict::Incomplete;
                    }
                    lines.push(Record::Summary(rec.clone()).to_json_line());
                    Ok((lines, rec.verdict))
                }
            }
        }
    }
}

/// The sink of the scan child: every record to the pipe, findings also on the console.
struct PipeSink {
    out: std::io::BufWriter<std::fs::File>,
}

impl crate::sink::Sink for PipeSink {
    fn record(&mut self, record: &Record) {
        let line = record.to_json_line();
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
        match record {
            Record::Finding(f) => say(&format!("  {}", finding_line(f))),
            Record::Volume(v) => say(&format!("  {}", volume_line(v))),
            _ => {}
        }
    }
}

/// The boot log's sentence for a finding: `FOUND EICAR_Test_File on /dev/sda, volume 3:
/// /Users/Public/readme.txt:hidden`.
fn finding_line(f: &crate::record::FindingRecord) -> String {
    let place = match f.volume {
        Some(n) => format!("{}, volume {n}", f.disk),
        None => f.disk.clone(),
    };
    format!("FOUND {} on {place}: {}", f.rule, crate::text::location(f))
}

/// The boot log's sentence for a finished volume: `volume 3 of /dev/sda (ntfs, "Windows"):
/// 13 files, scanned`.
fn volume_line(v: &crate::record::VolumeRecord) -> String {
    let label = v
        .label
        .as_deref()
        .map(|l| format!(", \"{l}\""))
        .unwrap_or_default();
    let files = if v.files == 1 { "file" } else { "files" };
    format!(
        "volume {} of {} ({}{label}): {} {files}, {}",
        v.volume,
        v.disk,
        crate::text::fs_name(crate::text::Lang::En, v.fs),
        v.files,
        v.status.as_str()
    )
}

fn child_scan(
    targets: &[PathBuf],
    threads: usize,
    out: std::fs::File,
    host: Option<crate::record::HostRecord>,
) -> i32 {
    let mut sink = PipeSink {
        out: std::io::BufWriter::new(out),
    };
    engine::scan_host(
        targets,
        &update::rules_path(Path::new(RULES_DIR)),
        threads,
        &mut sink,
        host,
    )
}

fn step_write(b: &mut Boot) -> Result<(), String> {
    // The interactive session saved its record when the UI asked (or when it crashed).
    if b.records.is_empty() || !b.cmdline.auto {
        return Ok(());
    }
    save_record(b, &b.host, &b.records).map(|_| ())
}

/// Unix time from the system clock.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The base host record (PID 1, before the fork: sysfs reads only).
fn base_host(b: &Boot, mode: crate::record::RunMode) -> crate::record::HostRecord {
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

/// The one writer of the log partition (see `logpart::save_scan`: a folder per scan with the
/// record, the human report and an index row). Returns where the record went (shown on screen).
/// Used by the unattended path, the interactive path (on the UI child's request) and the crash
/// path; a full partition is an error the caller shows next to the verdict.
fn save_record(b: &Boot, host: &HostRecord, lines: &[String]) -> Result<String, String> {
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

/// Closes a record whose scan did not finish: a summary that is never `clean` (`infected` if
/// findings arrived, else `incomplete`) unless the lines already end with one.
fn close_summary(lines: &mut Vec<String>, errors: u64) -> Verdict {
    let last = logpart::summary_of(lines);
    let findings = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"finding\""))
        .count() as u64;
    if let Some(s) = last {
        if s.verdict != Verdict::Clean || errors == 0 {
            return s.verdict;
        }
    }
    let verdict = if findings > 0 {
        Verdict::Infected
    } else {
        Verdict::Incomplete
    };
    lines.push(
        Record::Summary(SummaryRecord {
            verdict,
            files: 0,
            scanned: 0,
            findings,
            bytes: 0,
            seconds: 0.0,
            skipped: 0,
            errors: errors.max(1),
            cancelled: true,
            members: Default::default(),
            mode: Default::default(),
            not_selected: 0,
        })
        .to_json_line(),
    );
    verdict
}

/// When the UI child (a session leader with the console as its controlling tty) exits, the
/// kernel hangs the tty up: every descriptor PID 1 had on it (stdout, the serial mirror) is
/// dead from then on. Opens them again.
fn reopen_console() {
    use std::os::fd::AsRawFd;
    if let Ok(c) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/console")
    {
        for fd in [1, 2] {
            // SAFETY: dup2 of a descriptor we own onto the standard output descriptors.
            unsafe { libc::dup2(c.as_raw_fd(), fd) };
        }
    }
    if let Ok(cmdline) = std::fs::read_to_string("/proc/cmdline") {
        mirror_console(&cmdline);
    }
}

/// Describes how a child ended, for the screen and the record.
fn describe(status: &nix::Result<nix::sys::wait::WaitStatus>) -> String {
    use nix::sys::wait::WaitStatus;
    match status {
        Ok(WaitStatus::Exited(_, c)) => format!("exited with status {c}"),
        Ok(WaitStatus::Signaled(_, sig, core)) => format!(
            "killed by signal {}{}",
            sig.as_str(),
            if *core { " (core dumped)" } else { "" }
        ),
        Ok(WaitStatus::Stopped(_, sig)) => format!("stopped by signal {}", sig.as_str()),
        Ok(_) => "ended in an unexpected state".to_string(),
        Err(e) => format!("wait failed: {e}"),
    }
}

/// The interactive session: forks the console UI child (which probes the disks, runs the scan
/// on its own thread and streams the records here), saves the record when the child asks and
/// answers where it went; if the child dies first, records the crash and explains it on screen.
fn interactive(b: &mut Boot) -> Result<(), String> {
    let stick = b.stick.as_ref().map(|(d, _)| d.name.clone());
    let cfg = ChildConfig {
        lang: b.cmdline.lang,
        layout: b.cmdline.keymap.unwrap_or(match b.cmdline.lang {
            crate::tui::i18n::Lang::Fr => crate::tui::keymap::Layout::Fr,
            crate::tui::i18n::Lang::En => crate::tui::keymap::Layout::Us,
        }),
        tty: b.cmdline.console.clone(),
        rules: update::rules_path(Path::new(RULES_DIR)),
        threads: b.cmdline.threads,
        rules_max_age_days: b.cmdline.rules_max_age_days,
        disks: b
            .protected
            .iter()
            .filter(|p| Some(&p.disk.name) != stick.as_ref())
            .map(|p| crate::tui::probe::DiskSpec {
                name: p.disk.name.clone(),
                protected: p.error.is_none(),
            })
            .collect(),
        base: b.host.clone(),
        crash: b.cmdline.test_crash,
    };
    if cfg.crash.is_some() {
        say("  TEST ONLY: vigie.test.crash is set, the UI/scan child will crash on purpose");
    }
    say(&format!("  console UI on {}", cfg.tty));
    let (data_r, data_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (reply_r, reply_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    quiet_console(true);
    let child = match sys::fork() {
        Err(e) => {
            quiet_console(false);
            return Err(format!("fork: {e}"));
        }
        Ok(None) => {
            drop(data_r);
            drop(reply_w);
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::tui::run::run_child(
                    cfg,
                    std::fs::File::from(data_w),
                    std::fs::File::from(reply_r),
                )
            }));
            std::process::exit(code.unwrap_or(3));
        }
        Ok(Some(child)) => child,
    };
    drop(data_w);
    drop(reply_r);
    let mut reply = std::fs::File::from(reply_w);
    let mut host: Option<HostRecord> = None;
    let mut saved: Option<Result<String, String>> = None;
    let reader = std::io::BufReader::new(std::fs::File::from(data_r));
    let mut kept = Kept::default();
    for l in reader.lines() {
        let Ok(l) = l else { break };
        if l == SAVE_REQUEST {
            if saved.is_none() {
                let mut h = host.clone().unwrap_or_else(|| b.host.clone());
                h.notes.extend(kept.note());
                let r = save_record(b, &h, &kept.lines);
                let answer = match &r {
                    Ok(p) => format!("{REPLY_OK}{p}\n"),
                    Err(e) => format!("{REPLY_ERR}{e}\n"),
                };
                let _ = reply.write_all(answer.as_bytes());
                saved = Some(r);
            }
            continue;
        }
        match serde_json::from_str::<Record>(&l) {
            Ok(Record::Host(h)) => host = Some(h),
            Ok(_) if saved.is_none() => kept.push(l),
            _ => {}
        }
    }
    let mut lines = std::mem::take(&mut kept.lines);
    let status = nix::sys::wait::waitpid(child, None);
    reopen_console();
    quiet_console(false);
    let clean_exit = matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0)));
    if clean_exit && saved.is_some() {
        b.verdict = Some(close_summary(&mut lines, 0));
        b.records = lines;
        if let Some(Err(e)) = &saved {
            say(&format!("  the record could not be saved: {e}"));
        }
        return Ok(());
    }
    // The child died (or gave up) before the end of the session.
    let why = describe(&status);
    say(&format!(
        "  the console UI / scan process ended abnormally: {why}"
    ));
    let saved = match saved {
        Some(s) => s,
        None => {
            let mut h = host.unwrap_or_else(|| b.host.clone());
            h.cancelled = true;
            h.ended = Some(crate::tui::run::rfc3339(crate::tui::run::now()));
            h.notes.push(format!(
                "the scan process crashed ({why}) after {} records: this record is incomplete",
                lines.len()
            ));
            h.notes.extend(kept.note());
            b.verdict = Some(close_summary(&mut lines, 1));
            save_record(b, &h, &lines)
        }
    };
    b.records = lines;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crash_screen(b, &format!("{why}, {} records", b.records.len()), saved)
    }));
    Ok(())
}

/// PID 1 draws the crash screen itself on the UI's console and waits for Enter.
fn crash_screen(b: &Boot, why: &str, saved: Result<String, String>) {
    use crate::tui::{console, App, Screen};
    let layout = b.cmdline.keymap.unwrap_or_default();
    let mut app = App::new(b.cmdline.lang, layout);
    app.screen = Screen::Crash;
    app.crash = Some(why.to_string());
    app.saved = Some(saved);
    let path = console::tty_path(&b.cmdline.console);
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&path);
    let Ok(tty) = tty else {
        say("  cannot open the console for the crash screen");
        return;
    };
    let _ = console::raw_mode(&tty);
    let (cols, rows) = console::ensure_size(&tty).unwrap_or(console::DEFAULT_SIZE);
    // Said before drawing, then silence: no boot message may land on the crash screen.
    say("  crash screen shown: press Enter to power off");
    quiet_console(true);
    if let Ok(mut out) = tty.try_clone() {
        let _ = console::clear_screen(&mut out);
        let backend = ratatui::backend::CrosstermBackend::new(out);
        if let Ok(mut term) = ratatui::Terminal::with_options(
            backend,
            ratatui::TerminalOptions {
                viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, cols, rows)),
            },
        ) {
            let _ = term.clear();
            let _ = term.draw(|f| crate::tui::render(&app, f));
        }
    }
    let mut byte = [0u8; 1];
    let mut tty = tty;
    for _ in 0..100_000 {
        match std::io::Read::read(&mut tty, &mut byte) {
            Ok(1) if byte[0] == b'\r' || byte[0] == b'\n' => break,
            Ok(1) => {}
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    quiet_console(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid1_keeps_a_bounded_number_of_findings_and_every_other_line() {
        let mut k = Kept::default();
        k.push(r#"{"type":"disk","disk":"d"}"#.into());
        for _ in 0..MAX_KEPT_FINDINGS + 7 {
            k.push(r#"{"type":"finding","disk":"d"}"#.into());
        }
        k.push(r#"{"type":"summary","verdict":"infected"}"#.into());
        assert_eq!(k.lines.len(), MAX_KEPT_FINDINGS + 2);
        assert!(k.lines.last().unwrap().contains("summary"));
        assert!(k.note().unwrap().starts_with("7 more findings"));
        assert!(Kept::default().note().is_none());
    }

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

    #[test]
    fn a_crashed_scan_is_never_clean() {
        let finding = r#"{"type":"finding","disk":"d","volume":1,"path":"a","stream":null,"kind":"yara","rule":"r","namespace":"n","sha256":"00","size":1,"mode":"full"}"#;
        let mut lines = vec![finding.to_string()];
        assert_eq!(close_summary(&mut lines, 1), Verdict::Infected);
        assert_eq!(lines.len(), 2);
        let s: Record = serde_json::from_str(&lines[1]).unwrap();
        let Record::Summary(s) = s else { panic!() };
        assert!(s.cancelled && s.errors == 1 && s.findings == 1);
        let mut none = Vec::new();
        assert_eq!(close_summary(&mut none, 1), Verdict::Incomplete);
        // A finished session keeps its own summary.
        let mut done = vec![Record::Summary(SummaryRecord {
            verdict: Verdict::Clean,
            files: 1,
            scanned: 1,
            findings: 0,
            bytes: 1,
            seconds: 1.0,
            skipped: 0,
            errors: 0,
            cancelled: false,
            members: Default::default(),
            mode: Default::default(),
            not_selected: 0,
        })
        .to_json_line()];
        assert_eq!(close_summary(&mut done, 0), Verdict::Clean);
        assert_eq!(done.len(), 1);
        // ... but a crash after a clean summary (before the save) is not clean.
        assert_eq!(close_summary(&mut done, 1), Verdict::Incomplete);
    }

    #[test]
    fn boot_log_lines_are_sentences_without_debug_forms() {
        let v: crate::record::VolumeRecord = serde_json::from_value(serde_json::json!({
            "disk": "/dev/sda", "volume": 3, "fs": "ntfs", "offset": 0, "size": 1,
            "label": "Windows", "status": "scanned", "files": 13, "scanned": 13,
            "skipped": {}, "errors": 0, "notes": [], "bytes": 1
        }))
        .unwrap();
        assert_eq!(
            volume_line(&v),
            "volume 3 of /dev/sda (ntfs, \"Windows\"): 13 files, scanned"
        );
        let mut u = v.clone();
        u.fs = crate::record::FsKind::Unknown;
        u.label = None;
        u.files = 0;
        u.status = crate::record::VolumeStatus::Unsupported;
        let mut f: crate::record::FindingRecord = serde_json::from_value(serde_json::json!({
            "disk": "/dev/sda", "volume": null, "path": "<mbr>", "stream": null,
            "kind": "yara", "rule": "Boot_Rule", "namespace": "default", "sha256": "",
            "size": 512, "mode": "full"
        }))
        .unwrap();
        let mbr = finding_line(&f);
        assert_eq!(mbr, "FOUND Boot_Rule on /dev/sda: <mbr>");
        f.volume = Some(2);
        f.path = "/Users/Public/readme.txt".into();
        f.stream = Some("hidden".into());
        let ads = finding_line(&f);
        assert_eq!(
            ads,
            "FOUND Boot_Rule on /dev/sda, volume 2: /Users/Public/readme.txt:hidden"
        );
        let signalled = describe(&Ok(nix::sys::wait::WaitStatus::Signaled(
            nix::unistd::Pid::from_raw(2),
            nix::sys::signal::Signal::SIGSEGV,
            false,
        )));
        for line in [volume_line(&v), volume_line(&u), mbr, ads, signalled] {
            for bad in [
                "Some(",
                "None",
                "Ntfs",
                "Unknown",
                "Scanned",
                "Unsupported",
                "Signaled",
            ] {
                assert!(!line.contains(bad), "{bad} in {line}");
            }
        }
    }
}
