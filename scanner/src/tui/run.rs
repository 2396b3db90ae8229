//! The UI child's event loop: one loop over input events, scan messages and a ticker; the
//! rules load, the disks are probed and the scan runs on their own threads, never on the UI
//! thread. Every scan record also goes, as it arrives, to PID 1 through the record pipe, so a
//! crash loses nothing already found. At the end the child asks PID 1 (the only writer of the
//! log partition) to save: it sends its completed host record, then [`SAVE_REQUEST`], and
//! shows PID 1's answer read from the reply pipe.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, tick, unbounded, Receiver, Sender};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::app::{Action, App, Event, Key};
use super::i18n::Lang;
use super::probe::DiskSpec;
use super::{console, keymap, probe};
use crate::fault::Crash;
use crate::record::{HostRecord, Record, RulesInfo, RunMode, SummaryRecord};
use crate::scan::{Engine, ScanOptions};
use crate::sink::{HeldSummary, Progress, Sink};

/// The line the child sends to ask PID 1 to save what it has received.
pub const SAVE_REQUEST: &str = "#save";
/// Sent before the first host line when a full scan starts (PID 1 starts a checkpoint).
pub const SCAN_FULL: &str = "#full";
/// Sent instead when the operator resumes the offered scan (PID 1 merges at the save).
pub const SCAN_RESUME: &str = "#resume";
/// PID 1's answers: `ok <where>` or `err <why>`.
pub const REPLY_OK: &str = "ok ";
/// See [`REPLY_OK`].
pub const REPLY_ERR: &str = "err ";

/// What PID 1 hands the UI child.
#[derive(Debug, Clone)]
pub struct ChildConfig {
    /// Initial language.
    pub lang: Lang,
    /// Initial keyboard layout.
    pub layout: keymap::Layout,
    /// Console to run on (`tty1`, `ttyS0`).
    pub tty: String,
    /// Rules file or directory.
    pub rules: PathBuf,
    /// Worker threads (0: engine default).
    pub threads: usize,
    /// Warn when the rules are older than this.
    pub rules_max_age_days: u64,
    /// Disks to show and scan (the stick excluded).
    pub disks: Vec<DiskSpec>,
    /// The base host record built by PID 1.
    pub base: HostRecord,
    /// Fault injection.
    pub crash: Option<Crash>,
    /// An interrupted scan to offer on the welcome screen (issue 14).
    pub resume: Option<crate::resumed::ResumeOffer>,
}

/// Writes JSON lines to PID 1 (shared by the scan thread and the UI thread).
#[derive(Clone)]
struct ToPid1(Arc<Mutex<File>>);

impl ToPid1 {
    fn line(&self, l: &str) {
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(format!("{l}\n").as_bytes());
        }
    }
}

struct UiSink {
    tx: Sender<Event>,
    out: ToPid1,
    crash: Option<Crash>,
}

impl Sink for UiSink {
    fn record(&mut self, r: &Record) {
        self.out.line(&r.to_json_line());
        let _ = self.tx.send(Event::Record(r.clone()));
        if self.crash == Some(Crash::Scan) && matches!(r, Record::Volume(_)) {
            // Fault injection: die like a reader that corrupted memory.
            std::process::abort();
        }
    }

    fn progress(&mut self, p: &Progress) {
        let _ = self.tx.send(Event::Progress(p.clone()));
    }
}

/// RFC 3339 for a Unix time (the log writer's formatting).
pub use crate::text::clock::rfc3339;

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The host record with the session filled in from the UI.
pub fn session_host(app: &App, base: &HostRecord, ended: Option<String>) -> HostRecord {
    let mut h = base.clone();
    h.mode = RunMode::Interactive;
    h.full = app.full;
    h.cancelled = app.cancelled();
    h.asset_tag = app.asset_tag();
    if let Some(Ok(r)) = &app.rules {
        h.rules = r.clone();
    }
    h.ended = ended;
    let targets = app.targets();
    for d in &mut h.disks {
        d.scanned = targets.contains(&format!("/dev/{}", d.name));
    }
    h
}

fn key_of(ev: crossterm::event::Event) -> Option<Key> {
    use crossterm::event::{Event as CE, KeyCode, KeyEventKind, KeyModifiers};
    let CE::Key(k) = ev else { return None };
    if k.kind == KeyEventKind::Release {
        return None;
    }
    Some(match k.code {
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Tab => Key::Tab,
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => Key::Char(c),
        _ => return None,
    })
}

/// Runs the interactive session on the console; returns the child's exit status (0 when the
/// operator asked to power off).
pub fn run_child(cfg: ChildConfig, out: File, reply: File) -> i32 {
    let tty_name = cfg.tty.clone();
    let tty = match console::take_tty(&console::tty_path(&tty_name)) {
        Ok(t) => t,
        Err(e) => {
            crate::say::say(&format!("  cannot open the console {tty_name}: {e}"));
            return 4;
        }
    };
    console::quiet_kernel(1);
    let vt = console::is_vt(&tty_name);
    if vt {
        let _ = keymap::apply(&tty, cfg.layout);
    }
    let (cols, rows) = console::ensure_size(&tty).unwrap_or(console::DEFAULT_SIZE);
    let _ = crossterm::terminal::enable_raw_mode();
    let _ = console::clear_screen(&mut std::io::stdout());
    let backend = CrosstermBackend::new(std::io::stdout());
    let mut term = match Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, cols, rows)),
        },
    ) {
        Ok(t) => t,
        Err(_) => return 4,
    };
    let _ = term.clear();
    let _ = term.hide_cursor();

    let (tx, rx) = unbounded::<Event>();
    let to_pid1 = ToPid1(Arc::new(Mutex::new(out)));
    let mut app = App::new(cfg.lang, cfg.layout);
    app.now = now() as i64;
    app.rules_max_age_days = cfg.rules_max_age_days;
    app.resume_chosen = cfg.resume.is_some();
    app.resume = cfg.resume.clone();

    // Input.
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            while let Ok(ev) = crossterm::event::read() {
                if let Some(k) = key_of(ev) {
                    if tx.send(Event::Key(k)).is_err() {
                        break;
                    }
                }
            }
        });
    }
    // Rules: loaded once, handed to the scan thread.
    let (engine_tx, engine_rx) = crossbeam_channel::bounded::<Result<Engine, String>>(1);
    {
        let tx = tx.clone();
        let (rules, threads) = (cfg.rules.clone(), cfg.threads);
        let chosen = cfg.base.rules.clone();
        std::thread::spawn(move || {
            let mut opts = ScanOptions {
                rules: Some(rules),
                ..ScanOptions::default()
            };
            if threads > 0 {
                opts.threads = threads;
            }
            let e = Engine::new(opts).map_err(|e| e.to_string());
            let info: Result<RulesInfo, String> = match &e {
                Ok(e) => Ok(crate::record::with_chosen_origin(e.rules().info(), &chosen)),
                Err(e) => Err(e.clone()),
            };
            let _ = tx.send(Event::Rules(info));
            let _ = engine_tx.send(e);
        });
    }
    // Disks.
    {
        let tx = tx.clone();
        let disks = cfg.disks.clone();
        std::thread::spawn(move || {
            let m = probe::machine(&disks);
            let _ = tx.send(Event::Machine(m));
        });
    }
    let ticker = tick(Duration::from_millis(250));
    let cancel = Arc::new(AtomicBool::new(false));
    // Machine names read from the scanned disks by the scan thread (Windows, Linux).
    let names: Names = Arc::default();
    let mut started: Option<Instant> = None;
    let mut engine_rx = Some(engine_rx);
    let mut reply = Some(reply);
    let _ = term.draw(|f| super::render(&app, f));
    loop {
        let ev = select! {
            recv(rx) -> ev => match ev { Ok(ev) => ev, Err(_) => break },
            recv(ticker) -> _ => {
                if app.screen != super::Screen::Progress {
                    continue; // nothing moves elsewhere: no redraw (quiet serial lines)
                }
                Event::Tick(started.map_or(0.0, |s| s.elapsed().as_secs_f64()))
            }
        };
        let action = app.handle(ev);
        match action {
            Action::None => {}
            Action::ApplyLayout(l) => {
                if vt {
                    let _ = keymap::apply(&tty, l);
                }
            }
            Action::StartScan(targets) => {
                started = Some(Instant::now());
                // Resume (issue 14): the earlier part's records shown first, its volumes skipped.
                let earlier = app.resume.clone().filter(|_| app.resume_chosen);
                match &earlier {
                    Some(r) => {
                        to_pid1.line(SCAN_RESUME);
                        for rec in r.records() {
                            let _ = tx.send(Event::Record(rec));
                        }
                    }
                    None if !app.quick => to_pid1.line(SCAN_FULL),
                    None => {}
                }
                // A first host line: a crash from here on still records who, what and the tag.
                to_pid1.line(&Record::Host(session_host(&app, &cfg.base, None)).to_json_line());
                if cfg.crash == Some(Crash::Ui) {
                    panic!("vigie.test.crash=ui: fault injected in the UI thread");
                }
                spawn_scan(
                    targets,
                    engine_rx.take(),
                    cancel.clone(),
                    UiSink {
                        tx: tx.clone(),
                        out: to_pid1.clone(),
                        crash: cfg.crash,
                    },
                    names.clone(),
                    app.quick, // issue 14: the operator's choice of scan
                    earlier,
                );
            }
            Action::Cancel => cancel.store(true, Ordering::Relaxed),
            Action::Save => {
                let mut host = session_host(&app, &cfg.base, Some(rfc3339(now())));
                if let Ok(n) = names.lock() {
                    host.windows_names = n.0.clone();
                    host.linux_names = n.1.clone();
                }
                to_pid1.line(&Record::Host(host).to_json_line());
                to_pid1.line(SAVE_REQUEST);
                if let Some(r) = reply.take() {
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let mut line = String::new();
                        let ans = match BufReader::new(r).read_line(&mut line) {
                            Ok(n) if n > 0 => parse_reply(&line),
                            _ => Err("PID 1 did not answer".to_string()),
                        };
                        let _ = tx.send(Event::Saved(ans));
                    });
                }
            }
            Action::PowerOff => break,
        }
        if rx.is_empty() || matches!(app.screen, super::Screen::Welcome) {
            let _ = term.draw(|f| super::render(&app, f));
        }
    }
    let _ = term.clear();
    let _ = term.show_cursor();
    let _ = crossterm::terminal::disable_raw_mode();
    0
}

/// `ok VIGIE-LOGS:/x` -> `Ok("VIGIE-LOGS:/x")`; `err full` -> `Err("full")`.
pub fn parse_reply(line: &str) -> Result<String, String> {
    let l = line.trim_end();
    if let Some(p) = l.strip_prefix(REPLY_OK) {
        Ok(p.to_string())
    } else if let Some(e) = l.strip_prefix(REPLY_ERR) {
        Err(e.to_string())
    } else {
        Err(format!("unexpected answer from PID 1: {l}"))
    }
}

/// Windows and Linux machine names found on the scanned disks.
type Names = Arc<Mutex<(Vec<String>, Vec<String>)>>;

fn spawn_scan(
    targets: Vec<String>,
    engine: Option<Receiver<Result<Engine, String>>>,
    cancel: Arc<AtomicBool>,
    mut sink: UiSink,
    names: Names,
    quick: bool,
    earlier: Option<crate::resumed::ResumeOffer>,
) {
    std::thread::spawn(move || {
        // A panic on this thread would not end the child: the UI would wait for a summary
        // forever and PID 1 for the pipe to close. Abort instead, so PID 1's crash path
        // records and explains it.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scan_thread(targets, engine, &cancel, &mut sink, &names, quick, earlier)
        }));
        if run.is_err() {
            crate::say::say("  the scan thread panicked: aborting the scan process");
            std::process::abort();
        }
    });
}

fn scan_thread(
    targets: Vec<String>,
    engine: Option<Receiver<Result<Engine, String>>>,
    cancel: &AtomicBool,
    sink: &mut UiSink,
    names: &Names,
    quick: bool,
    earlier: Option<crate::resumed::ResumeOffer>,
) {
    let engine = engine.and_then(|rx| rx.recv().ok());
    match engine {
        Some(Ok(mut e)) => {
            e.set_quick(quick);
            if let Some(r) = &earlier {
                e.set_skip_volumes(r.skip.clone());
            }
            let paths: Vec<PathBuf> = targets.iter().map(PathBuf::from).collect();
            // Registry hive and /etc/hostname, parsed here in the child, never in PID 1.
            e.capture(crate::hostinfo::CAPTURE, crate::hostinfo::CAPTURE_MAX);
            // The summary is held back until the machine names are known: the UI saves the
            // record as soon as the summary arrives.
            let mut hold = HeldSummary::new(sink);
            e.scan_paths(&paths, &mut hold, cancel);
            let held = hold.take();
            let found = crate::hostinfo::names(&e.take_captured());
            if let Ok(mut n) = names.lock() {
                *n = found;
            }
            match (held, &earlier) {
                // PID 1 gets this part's summary (it merges the record); the screen the union.
                (Some(Record::Summary(s)), Some(r)) => {
                    sink.out.line(&Record::Summary(s.clone()).to_json_line());
                    let recs = r.records();
                    let volumes: Vec<_> = recs
                        .iter()
                        .filter_map(|x| match x {
                            Record::Volume(v) => Some(v.clone()),
                            _ => None,
                        })
                        .collect();
                    let findings = recs
                        .iter()
                        .filter(|x| matches!(x, Record::Finding(_)))
                        .count() as u64;
                    let union = crate::resumed::union_summary(s, &volumes, findings, r.seconds);
                    let _ = sink.tx.send(Event::Record(Record::Summary(union)));
                }
                (Some(summary), _) => sink.record(&summary),
                (None, _) => {}
            }
        }
        other => {
            let why = match other {
                Some(Err(e)) => e,
                _ => "rules unavailable".into(),
            };
            crate::say::say(&format!("  cannot scan: {why}"));
            sink.record(&Record::Summary(SummaryRecord::nothing_scanned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply("ok VIGIE-LOGS:/VIGIE/scans/a.jsonl\n"),
            Ok("VIGIE-LOGS:/VIGIE/scans/a.jsonl".into())
        );
        assert_eq!(
            parse_reply("err log partition full\n"),
            Err("log partition full".into())
        );
        assert!(parse_reply("zzz").is_err());
    }

    #[test]
    fn stamps_and_crash_names() {
        assert_eq!(rfc3339(1_795_876_200), "2026-11-28T14:30:00Z");
        assert_eq!(Crash::parse("scan"), Some(Crash::Scan));
        assert_eq!(Crash::parse("ui"), Some(Crash::Ui));
        assert_eq!(Crash::parse("x"), None);
    }

    #[test]
    fn session_fields_come_from_the_ui() {
        let mut app = App::default();
        app.asset_tag = " INV-0042 ".into();
        app.full = false;
        app.machine = Some(super::super::app::Machine {
            disks: vec![super::super::app::MachineDisk {
                name: "sda".into(),
                dev: "/dev/sda".into(),
                protected: true,
                ..Default::default()
            }],
            controllers: vec![],
        });
        app.selected = vec![true];
        app.rules = Some(Ok(RulesInfo {
            version: "2026.11.01.1".into(),
            ..RulesInfo::default()
        }));
        let base = HostRecord {
            scan_id: "s".into(),
            disks: vec![
                crate::record::HostDisk {
                    name: "sda".into(),
                    ..Default::default()
                },
                crate::record::HostDisk {
                    name: "sdb".into(),
                    ..Default::default()
                },
            ],
            ..HostRecord::default()
        };
        let h = session_host(&app, &base, Some("2026-11-28T14:30:00Z".into()));
        assert_eq!(h.mode, RunMode::Interactive);
        assert_eq!(h.asset_tag.as_deref(), Some("INV-0042"));
        assert!(!h.full && !h.cancelled);
        assert_eq!(h.rules.version, "2026.11.01.1");
        assert_eq!(h.scan_id, "s");
        assert!(h.disks[0].scanned && !h.disks[1].scanned);
    }
}
