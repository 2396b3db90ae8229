//! The interactive session: the console UI child, the saves it asks for, and the crash screen
//! PID 1 draws itself when that child dies.

use super::save::save_record;
use super::supervise::{close_summary, describe, Kept};
use super::{logpart, now_secs, resume, sys, update, volumes_to_scan, Boot, RULES_DIR};
use crate::record::{HostRecord, Record};
use crate::say::{mirror_console, quiet_console, say};
use crate::tui::run::{ChildConfig, REPLY_ERR, REPLY_OK, SAVE_REQUEST, SCAN_FULL, SCAN_RESUME};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// When the UI child (a session leader with the console as its controlling tty) exits, the
/// kernel hangs the tty up: every descriptor PID 1 had on it (stdout, the serial mirror) is
/// dead from then on. Opens them again.
pub(super) fn reopen_console() {
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

/// The interactive session: forks the console UI child (which probes the disks, runs the scan
/// on its own thread and streams the records here), saves the record when the child asks and
/// answers where it went; if the child dies first, records the crash and explains it on screen.
pub(super) fn interactive(b: &mut Boot) -> Result<(), String> {
    let stick = b.stick.as_ref().map(|(d, _)| d.name.clone());
    // Resume (issue 14): an interrupted full scan of this machine is offered on the welcome
    // screen; the UI child says which scan starts (`SCAN_FULL`, `SCAN_RESUME`).
    let earlier = b
        .stick
        .as_ref()
        .and_then(|(_, part)| resume::offered(&Path::new("/dev").join(part), &b.host, now_secs()));
    let mut cp = resume::Checkpointer::new(b.stick.clone(), b.cmdline.test_volume_delay_ms);
    let mut resuming = false;
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
        resume: earlier.as_ref().and_then(resume::offer_for_ui),
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
        if l == SCAN_FULL {
            cp.begin(&b.host, volumes_to_scan(b), now_secs());
            continue;
        }
        if let (SCAN_RESUME, Some(c)) = (l.as_str(), &earlier) {
            cp.resume(c, &b.host, now_secs());
            resuming = true;
            continue;
        }
        if l == SAVE_REQUEST {
            if saved.is_none() {
                let mut h = host.clone().unwrap_or_else(|| b.host.clone());
                h.notes.extend(kept.note());
                let lines = match (&earlier, resuming) {
                    (Some(c), true) => {
                        h.resumed = resume::merge::resumed(c);
                        resume::merge::merge(c, &kept.lines)
                    }
                    _ => kept.lines.clone(),
                };
                // Only a scan that ran to its end closes its checkpoint, its record going
                // into the checkpoint's folder (Esc keeps it open).
                let ended = logpart::summary_of(&lines).is_some_and(|s| !s.cancelled);
                let r = save_record(b, &h, &lines, cp.folder().filter(|_| ended));
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
            Ok(_) if saved.is_none() => {
                cp.line(&l);
                kept.push(l)
            }
            _ => {}
        }
    }
    let mut lines = std::mem::take(&mut kept.lines);
    if let (Some(c), true) = (&earlier, resuming) {
        // The union, also when the child died before the save (the crash record covers both).
        lines = resume::merge::merge(c, &lines);
        b.host.resumed = resume::merge::resumed(c);
    }
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
            if h.resumed.is_none() {
                h.resumed = b.host.resumed.clone();
            }
            h.ended = Some(crate::tui::run::rfc3339(crate::tui::run::now()));
            h.notes.push(format!(
                "the scan process crashed ({why}) after {} records: this record is incomplete",
                lines.len()
            ));
            h.notes.extend(kept.note());
            b.verdict = Some(close_summary(&mut lines, 1));
            save_record(b, &h, &lines, None)
        }
    };
    b.records = lines;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crash_screen(b, &format!("{why}, {} records", b.records.len()), saved)
    }));
    Ok(())
}

/// PID 1 draws the crash screen itself on the UI's console and waits for Enter.
pub(super) fn crash_screen(b: &Boot, why: &str, saved: Result<String, String>) {
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
