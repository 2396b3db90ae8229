//! The console UI's state and its event handling. [`App::handle`] is the only place the state
//! changes; it returns an [`Action`] for the event loop to carry out (start the scan thread,
//! cancel, ask PID 1 to save, power off). Rendering (`super::render`) only reads the state,
//! so every screen is testable without a terminal.

use std::collections::BTreeMap;

use crate::record::{
    FindingRecord, FsKind, Record, RulesInfo, SummaryRecord, Verdict, VolumeRecord,
};
use crate::sink::Progress;

pub use super::i18n::Lang;
pub use super::keymap::Layout;

/// The keys the UI reacts to (arrows, Enter, Esc and letters present on AZERTY and QWERTY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Tab.
    Tab,
    /// A typed character.
    Char(char),
}

/// What a volume looks like before the scan (a guess from its filesystem, size and table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// NTFS holding Windows (or the one that most likely does).
    WindowsSystem,
    /// ext2/3/4 holding a Linux root.
    LinuxSystem,
    /// The EFI system partition.
    EfiBoot,
    /// A readable data volume.
    Data,
    /// BitLocker or LUKS.
    Encrypted,
    /// Recognised, not readable by Vigie (LVM, RAID, swap).
    Unsupported,
    /// Nothing recognised or the probe failed.
    Unreadable,
    /// A small reserved or empty partition.
    Empty,
    /// The Microsoft reserved partition (MSR) of a GPT Windows disk: empty by design.
    MsReserved,
}

/// One volume as the machine screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineVolume {
    /// Partition number (0 for a whole-disk filesystem).
    pub number: u32,
    /// Detected content.
    pub fs: FsKind,
    /// Size in bytes.
    pub size: u64,
    /// Filesystem label.
    pub label: Option<String>,
    /// What it looks like.
    pub kind: VolumeKind,
    /// Bytes allocated on it, read cheaply at probe time (`fs::allocated`), when known.
    pub allocated: Option<u64>,
}

/// One disk as the machine screen shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MachineDisk {
    /// Kernel name (`sda`).
    pub name: String,
    /// Device path given to the engine (`/dev/sda`).
    pub dev: String,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Bus (`sata`, `nvme`, `usb`, ...).
    pub bus: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Its volumes.
    pub volumes: Vec<MachineVolume>,
    /// Whether it was made read-only (an unprotected disk is never read).
    pub protected: bool,
}

/// What the machine screen shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Machine {
    /// Disks to scan (the stick excluded).
    pub disks: Vec<MachineDisk>,
    /// Storage controllers whose driver is not bound (`0000:00:0e.0 Intel RAID controller`).
    pub controllers: Vec<String>,
}

/// The screens, in flow order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Language, keyboard, rules.
    Welcome,
    /// Disks and volumes.
    Machine,
    /// Full scan or chosen disks, asset tag.
    Options,
    /// The scan is running.
    Progress,
    /// Red, green or amber.
    Verdict,
    /// Findings, skipped files, volumes.
    Details,
    /// Where the record went; power off.
    End,
    /// The scan child crashed (drawn by PID 1).
    Crash,
}

/// Rows of the options screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionRow {
    /// Full or quick scan (issue 14).
    Kind,
    /// Full scan / choose disks.
    Mode,
    /// Disk number `i` (only when choosing).
    Disk(usize),
    /// The asset tag field.
    AssetTag,
    /// The start button.
    Start,
}

/// The details tabs.
pub const DETAILS_TABS: usize = 3;

/// Longest asset tag accepted.
pub const ASSET_TAG_MAX: usize = 40;

/// What the running scan has told us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanView {
    /// Latest progress snapshot.
    pub progress: Progress,
    /// Seconds since the scan started.
    pub elapsed: f64,
    /// Finished volumes.
    pub volumes: Vec<VolumeRecord>,
    /// Findings so far.
    pub findings: Vec<FindingRecord>,
    /// Disks the engine could not open, with the reasons (the record's English notes,
    /// rendered per language on screen).
    pub disk_notes: Vec<(String, Vec<String>)>,
    /// The summary once finished.
    pub summary: Option<SummaryRecord>,
    /// Bytes done when the current volume started (per-volume counters).
    pub volume_start: (u64, u64),
    /// The volume being scanned (`disk`, number).
    pub current: Option<(String, Option<u32>)>,
    /// Esc pressed: asking for confirmation.
    pub confirm_cancel: bool,
    /// Cancel requested.
    pub cancelling: bool,
}

/// Something for the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing.
    None,
    /// Load this keyboard layout into the console.
    ApplyLayout(Layout),
    /// Start the scan of these device paths.
    StartScan(Vec<String>),
    /// Ask the scan to stop.
    Cancel,
    /// Ask PID 1 to save the record.
    Save,
    /// The operator is done: power off.
    PowerOff,
}

/// Inputs of the UI.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // transient, one at a time
pub enum Event {
    /// A key.
    Key(Key),
    /// The ticker, with the seconds since the scan started (if it did).
    Tick(f64),
    /// The rules loaded (or not).
    Rules(Result<RulesInfo, String>),
    /// The disks were probed.
    Machine(Machine),
    /// Scan progress.
    Progress(Progress),
    /// A scan record.
    Record(Record),
    /// PID 1's answer to the save request: where the record went, or why it did not.
    Saved(Result<String, String>),
}

/// The whole UI state.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// Current screen.
    pub screen: Screen,
    /// Language.
    pub lang: Lang,
    /// Keyboard layout.
    pub layout: Layout,
    /// Selected row on the welcome screen (0 language, 1 keyboard, 2 resume when offered).
    pub welcome_row: usize,
    /// An interrupted scan PID 1 offers to resume (issue 14), and whether it is chosen.
    pub resume: Option<crate::resumed::ResumeOffer>,
    /// See [`App::resume`]: chosen by default when offered.
    pub resume_chosen: bool,
    /// The rules, once loaded; `Err` if they failed.
    pub rules: Option<Result<RulesInfo, String>>,
    /// Now, in seconds since the epoch (for the rules' age).
    pub now: i64,
    /// Rules older than this many days get a warning.
    pub rules_max_age_days: u64,
    /// The probed machine.
    pub machine: Option<Machine>,
    /// First line shown on the machine screen.
    pub machine_scroll: usize,
    /// Full scan (default) or chosen disks.
    pub full: bool,
    /// Quick scan (issue 14) instead of a full read; default from `vigie.mode`.
    pub quick: bool,
    /// Per disk: chosen for the scan.
    pub selected: Vec<bool>,
    /// Selected row of the options screen.
    pub options_row: usize,
    /// The asset tag typed so far.
    pub asset_tag: String,
    /// A message under the options (e.g. nothing selected).
    pub options_error: bool,
    /// The scan.
    pub scan: ScanView,
    /// Details tab.
    pub details_tab: usize,
    /// Details scroll.
    pub details_scroll: usize,
    /// PID 1's answer to the save request.
    pub saved: Option<Result<String, String>>,
    /// Crash explanation (crash screen).
    pub crash: Option<String>,
}

impl Default for App {
    fn default() -> Self {
        Self::new(Lang::Fr, Layout::Fr)
    }
}

impl App {
    /// A fresh UI on the welcome screen.
    pub fn new(lang: Lang, layout: Layout) -> Self {
        Self {
            screen: Screen::Welcome,
            lang,
            layout,
            welcome_row: 0,
            resume: None,
            resume_chosen: false,
            rules: None,
            now: 0,
            rules_max_age_days: 90,
            machine: None,
            machine_scroll: 0,
            full: true,
            quick: crate::scan::quick::default_quick(),
            selected: Vec::new(),
            options_row: 0,
            asset_tag: String::new(),
            options_error: false,
            scan: ScanView::default(),
            details_tab: 0,
            details_scroll: 0,
            saved: None,
            crash: None,
        }
    }

    /// The rows of the options screen, in order.
    pub fn option_rows(&self) -> Vec<OptionRow> {
        let mut r = vec![OptionRow::Kind, OptionRow::Mode];
        if !self.full {
            r.extend((0..self.selected.len()).map(OptionRow::Disk));
        }
        r.push(OptionRow::AssetTag);
        r.push(OptionRow::Start);
        r
    }

    fn current_option(&self) -> OptionRow {
        let rows = self.option_rows();
        rows[self.options_row.min(rows.len() - 1)]
    }

    /// Device paths to scan with the current options (protected disks only).
    pub fn targets(&self) -> Vec<String> {
        let Some(m) = &self.machine else {
            return Vec::new();
        };
        m.disks
            .iter()
            .enumerate()
            .filter(|(i, d)| d.protected && (self.full || self.selected.get(*i) == Some(&true)))
            .map(|(_, d)| d.dev.clone())
            .collect()
    }

    /// Age of the rules in whole days, when their date is known.
    pub fn rules_age_days(&self) -> Option<i64> {
        let created = self.rules.as_ref()?.as_ref().ok()?.created.as_deref()?;
        let t = parse_rfc3339_date(created)?;
        Some((self.now - t).max(0) / 86_400)
    }

    /// Whether the welcome screen must warn about old rules.
    pub fn rules_old(&self) -> bool {
        self.rules_age_days()
            .is_some_and(|d| d > self.rules_max_age_days as i64)
    }

    /// Handles one event; returns what the event loop must do.
    pub fn handle(&mut self, ev: Event) -> Action {
        match ev {
            Event::Key(k) => self.key(k),
            Event::Tick(t) => {
                if self.screen == Screen::Progress {
                    self.scan.elapsed = t;
                }
                Action::None
            }
            Event::Rules(r) => {
                self.rules = Some(r);
                Action::None
            }
            Event::Machine(m) => {
                self.selected = vec![true; m.disks.len()];
                self.machine = Some(m);
                Action::None
            }
            Event::Progress(p) => {
                let cur = Some((p.disk.clone(), p.volume));
                if cur != self.scan.current {
                    // A new volume: per-volume counters restart from here.
                    self.scan.current = cur;
                    self.scan.volume_start = (self.scan.progress.bytes, self.scan.progress.files);
                }
                self.scan.progress = p;
                Action::None
            }
            Event::Record(r) => self.record(r),
            Event::Saved(r) => {
                self.saved = Some(r);
                Action::None
            }
        }
    }

    fn record(&mut self, r: Record) -> Action {
        match r {
            Record::Finding(f) => {
                if self.scan.findings.len() < 10_000 {
                    self.scan.findings.push(f);
                }
            }
            Record::Volume(v) => {
                if self.scan.volumes.len() < 10_000 {
                    self.scan.volumes.push(v);
                }
            }
            Record::Disk(d) => {
                if d.size == 0 && !d.notes.is_empty() {
                    self.scan.disk_notes.push((d.disk, d.notes));
                }
            }
            Record::Summary(s) => {
                self.scan.summary = Some(s);
                if matches!(self.screen, Screen::Progress) {
                    self.screen = Screen::Verdict;
                    self.scan.confirm_cancel = false;
                    return Action::Save;
                }
            }
            Record::Host(_) | Record::Persistence(_) | Record::Evidence(_) => {}
        }
        Action::None
    }

    fn key(&mut self, k: Key) -> Action {
        match self.screen {
            Screen::Welcome => self.key_welcome(k),
            Screen::Machine => {
                match k {
                    Key::Up => self.machine_scroll = self.machine_scroll.saturating_sub(1),
                    Key::Down => self.machine_scroll = (self.machine_scroll + 1).min(500),
                    Key::Enter if self.machine.is_some() => {
                        self.screen = Screen::Options;
                        self.options_row = self.option_rows().len() - 1;
                    }
                    Key::Esc => self.screen = Screen::Welcome,
                    _ => {}
                }
                Action::None
            }
            Screen::Options => self.key_options(k),
            Screen::Progress => {
                match (k, self.scan.confirm_cancel) {
                    (Key::Esc, false) if !self.scan.cancelling => self.scan.confirm_cancel = true,
                    (Key::Esc, true) => self.scan.confirm_cancel = false,
                    (Key::Enter, true) => {
                        self.scan.confirm_cancel = false;
                        self.scan.cancelling = true;
                        return Action::Cancel;
                    }
                    _ => {}
                }
                Action::None
            }
            Screen::Verdict => {
                match k {
                    Key::Char('d' | 'D') | Key::Tab => {
                        self.screen = Screen::Details;
                        self.details_scroll = 0;
                    }
                    Key::Enter => self.screen = Screen::End,
                    _ => {}
                }
                Action::None
            }
            Screen::Details => {
                match k {
                    Key::Left => {
                        self.details_tab = (self.details_tab + DETAILS_TABS - 1) % DETAILS_TABS;
                        self.details_scroll = 0;
                    }
                    Key::Right | Key::Tab => {
                        self.details_tab = (self.details_tab + 1) % DETAILS_TABS;
                        self.details_scroll = 0;
                    }
                    Key::Up => self.details_scroll = self.details_scroll.saturating_sub(1),
                    Key::Down => self.details_scroll = (self.details_scroll + 1).min(20_000),
                    Key::Esc | Key::Enter => self.screen = Screen::Verdict,
                    _ => {}
                }
                Action::None
            }
            Screen::End => match k {
                // Power off only once PID 1 answered: the record is on the stick (or not).
                Key::Enter if self.saved.is_some() => Action::PowerOff,
                Key::Esc => {
                    self.screen = Screen::Verdict;
                    Action::None
                }
                _ => Action::None,
            },
            Screen::Crash => match k {
                Key::Enter => Action::PowerOff,
                _ => Action::None,
            },
        }
    }

    fn key_welcome(&mut self, k: Key) -> Action {
        match k {
            Key::Up | Key::Down => {
                let rows = if self.resume.is_some() { 3 } else { 2 };
                let step = if k == Key::Up { rows - 1 } else { 1 };
                self.welcome_row = (self.welcome_row.min(rows - 1) + step) % rows;
            }
            Key::Left | Key::Right if self.welcome_row == 2 && self.resume.is_some() => {
                self.resume_chosen = !self.resume_chosen;
            }
            Key::Left | Key::Right => {
                if self.welcome_row == 0 {
                    self.lang = self.lang.other();
                    // The usual pairing; the keyboard row can still change it.
                    self.layout = match self.lang {
                        Lang::Fr => Layout::Fr,
                        Lang::En => Layout::Us,
                    };
                } else {
                    self.layout = self.layout.other();
                }
                return Action::ApplyLayout(self.layout);
            }
            Key::Enter => self.screen = Screen::Machine,
            _ => {}
        }
        Action::None
    }

    fn key_options(&mut self, k: Key) -> Action {
        let rows = self.option_rows();
        let row = self.current_option();
        match k {
            Key::Up => self.options_row = self.options_row.min(rows.len() - 1).saturating_sub(1),
            Key::Down => self.options_row = (self.options_row + 1).min(rows.len() - 1),
            Key::Esc => self.screen = Screen::Machine,
            Key::Left | Key::Right | Key::Enter if row == OptionRow::Kind => {
                self.quick = !self.quick;
            }
            Key::Left | Key::Right if row == OptionRow::Mode => {
                self.full = !self.full;
                self.options_error = false;
            }
            Key::Enter if row == OptionRow::Mode => {
                self.full = !self.full;
                self.options_error = false;
            }
            Key::Enter | Key::Left | Key::Right | Key::Char(' ')
                if matches!(row, OptionRow::Disk(_)) =>
            {
                if let OptionRow::Disk(i) = row {
                    if let Some(s) = self.selected.get_mut(i) {
                        *s = !*s;
                    }
                    self.options_error = false;
                }
            }
            Key::Enter if row == OptionRow::AssetTag => {
                self.options_row = rows.len() - 1;
            }
            Key::Backspace if row == OptionRow::AssetTag => {
                self.asset_tag.pop();
            }
            Key::Char(c)
                if row == OptionRow::AssetTag
                    && asset_tag_char(c)
                    && self.asset_tag.chars().count() < ASSET_TAG_MAX =>
            {
                self.asset_tag.push(c);
            }
            Key::Enter if row == OptionRow::Start => {
                let t = self.targets();
                if t.is_empty() {
                    self.options_error = true;
                } else {
                    self.screen = Screen::Progress;
                    self.scan = ScanView::default();
                    if self.resume_chosen {
                        self.quick = false; // a resumed scan is the full scan it continues
                    }
                    return Action::StartScan(t);
                }
            }
            _ => {}
        }
        Action::None
    }

    /// The asset tag as recorded (trimmed, `None` when empty).
    pub fn asset_tag(&self) -> Option<String> {
        let t = self.asset_tag.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// Whether the scan was cancelled (by the operator).
    pub fn cancelled(&self) -> bool {
        self.scan.cancelling || self.scan.summary.as_ref().is_some_and(|s| s.cancelled)
    }

    /// Disks present but not scanned (not chosen, or not protected).
    pub fn disks_not_scanned(&self) -> Vec<&MachineDisk> {
        let Some(m) = &self.machine else {
            return Vec::new();
        };
        m.disks
            .iter()
            .enumerate()
            .filter(|(i, d)| !d.protected || (!self.full && self.selected.get(*i) != Some(&true)))
            .map(|(_, d)| d)
            .collect()
    }

    /// The verdict to show: red with any finding; green only when the engine says clean AND
    /// nothing at all was skipped, unreadable, unselected or cancelled; amber otherwise.
    pub fn verdict(&self) -> Verdict {
        let Some(s) = &self.scan.summary else {
            return if self.scan.findings.is_empty() {
                Verdict::Incomplete
            } else {
                Verdict::Infected
            };
        };
        if s.findings > 0 || !self.scan.findings.is_empty() || s.verdict == Verdict::Infected {
            return Verdict::Infected;
        }
        let everything = s.verdict == Verdict::Clean
            && s.skipped == 0
            && s.errors == 0
            && !self.cancelled()
            && self.disks_not_scanned().is_empty()
            && self.scan.disk_notes.is_empty();
        if everything {
            Verdict::Clean
        } else {
            Verdict::Incomplete
        }
    }

    /// The verdict is a quick scan's "no threat in the high-risk areas" (blue), not green.
    pub fn quick_clean(&self) -> bool {
        self.verdict() == Verdict::Clean
            && self.scan.summary.as_ref().is_some_and(|s| s.quick_clean())
    }

    /// Skipped files of all volumes, by reason.
    pub fn skipped_by_reason(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for v in &self.scan.volumes {
            for (k, n) in &v.skipped {
                *m.entry(k.clone()).or_default() += n;
            }
            if v.errors > 0 {
                *m.entry("error".to_string()).or_default() += v.errors;
            }
        }
        m
    }
}

/// Characters accepted in an asset tag (what an inventory label holds; no control chars).
pub fn asset_tag_char(c: char) -> bool {
    c.is_alphanumeric() || " -_./#:".contains(c)
}

/// Days since the epoch of a `YYYY-MM-DD...` date, as seconds (UTC midnight).
pub fn parse_rfc3339_date(s: &str) -> Option<i64> {
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: i64 = s.get(5..7)?.parse().ok()?;
    let d: i64 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(crate::fs::fat::days_from_civil(y, m, d) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        let disk = |name: &str| MachineDisk {
            name: name.into(),
            dev: format!("/dev/{name}"),
            size: 1 << 30,
            protected: true,
            ..MachineDisk::default()
        };
        Machine {
            disks: vec![disk("sda"), disk("sdb")],
            controllers: vec![],
        }
    }

    fn at_options() -> App {
        let mut a = App::default();
        a.handle(Event::Machine(machine()));
        a.handle(Event::Key(Key::Enter));
        assert_eq!(a.screen, Screen::Machine);
        a.handle(Event::Key(Key::Enter));
        assert_eq!(a.screen, Screen::Options);
        a
    }

    fn summary(verdict: Verdict, skipped: u64, cancelled: bool) -> SummaryRecord {
        SummaryRecord {
            verdict,
            files: 10,
            scanned: 10 - skipped,
            findings: 0,
            bytes: 100,
            seconds: 1.0,
            skipped,
            errors: 0,
            cancelled,
            members: Default::default(),
            mode: Default::default(),
            not_selected: 0,
        }
    }

    #[test]
    fn full_scan_is_the_default_and_starts_every_disk() {
        let mut a = at_options();
        assert!(a.full);
        assert_eq!(a.current_option(), OptionRow::Start);
        let act = a.handle(Event::Key(Key::Enter));
        assert_eq!(
            act,
            Action::StartScan(vec!["/dev/sda".into(), "/dev/sdb".into()])
        );
        assert_eq!(a.screen, Screen::Progress);
    }

    #[test]
    fn quick_scan_is_offered_next_to_the_full_scan() {
        let mut a = at_options();
        assert!(!a.quick, "full by default (vigie.mode not set)");
        for _ in 0..5 {
            a.handle(Event::Key(Key::Up));
        }
        assert_eq!(a.current_option(), OptionRow::Kind);
        a.handle(Event::Key(Key::Right));
        assert!(a.quick);
        a.handle(Event::Key(Key::Enter));
        assert!(!a.quick);
        a.handle(Event::Key(Key::Left));
        assert!(
            a.quick && a.full,
            "the kind of scan does not change the disks"
        );
        // A quick scan's clean summary is not the full scan's green.
        let mut s = summary(Verdict::Clean, 0, false);
        s.mode = crate::record::ScanMode::Quick;
        a.scan.summary = Some(s);
        assert_eq!(a.verdict(), Verdict::Clean);
        assert!(a.quick_clean());
        a.scan.summary.as_mut().unwrap().mode = crate::record::ScanMode::Full;
        assert!(!a.quick_clean());
    }

    #[test]
    fn choosing_disks() {
        let mut a = at_options();
        for _ in 0..5 {
            a.handle(Event::Key(Key::Up));
        }
        assert_eq!(a.current_option(), OptionRow::Kind);
        a.handle(Event::Key(Key::Down));
        assert_eq!(a.current_option(), OptionRow::Mode);
        a.handle(Event::Key(Key::Right));
        assert!(!a.full);
        assert_eq!(
            a.option_rows(),
            [
                OptionRow::Kind,
                OptionRow::Mode,
                OptionRow::Disk(0),
                OptionRow::Disk(1),
                OptionRow::AssetTag,
                OptionRow::Start
            ]
        );
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Enter)); // unselect sda
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Char(' '))); // unselect sdb
        assert_eq!(a.selected, [false, false]);
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Down));
        assert_eq!(a.handle(Event::Key(Key::Enter)), Action::None);
        assert!(a.options_error);
        assert_eq!(a.screen, Screen::Options);
        a.handle(Event::Key(Key::Up));
        a.handle(Event::Key(Key::Up));
        a.handle(Event::Key(Key::Enter)); // select sdb again
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Down));
        assert_eq!(
            a.handle(Event::Key(Key::Enter)),
            Action::StartScan(vec!["/dev/sdb".into()])
        );
        assert_eq!(a.disks_not_scanned().len(), 1);
    }

    #[test]
    fn asset_tag_editing() {
        let mut a = at_options();
        a.handle(Event::Key(Key::Up));
        assert_eq!(a.current_option(), OptionRow::AssetTag);
        for c in "PC-42\u{7}é!".chars() {
            a.handle(Event::Key(Key::Char(c)));
        }
        assert_eq!(a.asset_tag, "PC-42é");
        a.handle(Event::Key(Key::Backspace));
        assert_eq!(a.asset_tag, "PC-42");
        for _ in 0..100 {
            a.handle(Event::Key(Key::Char('x')));
        }
        assert_eq!(a.asset_tag.chars().count(), ASSET_TAG_MAX);
        // Letters typed elsewhere do not reach the field.
        a.handle(Event::Key(Key::Down));
        a.handle(Event::Key(Key::Char('y')));
        assert!(!a.asset_tag.contains('y'));
        a.asset_tag = "  ".into();
        assert_eq!(a.asset_tag(), None);
    }

    #[test]
    fn language_switch_changes_layout_too() {
        let mut a = App::default();
        assert_eq!((a.lang, a.layout), (Lang::Fr, Layout::Fr));
        assert_eq!(
            a.handle(Event::Key(Key::Right)),
            Action::ApplyLayout(Layout::Us)
        );
        assert_eq!((a.lang, a.layout), (Lang::En, Layout::Us));
        a.handle(Event::Key(Key::Down));
        assert_eq!(
            a.handle(Event::Key(Key::Left)),
            Action::ApplyLayout(Layout::Fr)
        );
        assert_eq!((a.lang, a.layout), (Lang::En, Layout::Fr));
    }

    #[test]
    fn cancel_needs_confirmation_and_is_recorded() {
        let mut a = at_options();
        a.handle(Event::Key(Key::Enter));
        assert_eq!(a.handle(Event::Key(Key::Esc)), Action::None);
        assert!(a.scan.confirm_cancel);
        a.handle(Event::Key(Key::Esc));
        assert!(!a.scan.confirm_cancel);
        a.handle(Event::Key(Key::Esc));
        assert_eq!(a.handle(Event::Key(Key::Enter)), Action::Cancel);
        assert!(a.cancelled());
        let act = a.handle(Event::Record(Record::Summary(summary(
            Verdict::Clean,
            0,
            true,
        ))));
        assert_eq!(act, Action::Save);
        assert_eq!(a.screen, Screen::Verdict);
        assert_eq!(
            a.verdict(),
            Verdict::Incomplete,
            "never green when cancelled"
        );
    }

    #[test]
    fn green_only_when_nothing_was_left_out() {
        let mut a = at_options();
        a.handle(Event::Key(Key::Enter));
        a.handle(Event::Record(Record::Summary(summary(
            Verdict::Clean,
            0,
            false,
        ))));
        assert_eq!(a.verdict(), Verdict::Clean);
        a.scan.summary = Some(summary(Verdict::Clean, 1, false));
        assert_eq!(a.verdict(), Verdict::Incomplete);
        a.scan.summary = Some(summary(Verdict::Clean, 0, false));
        a.full = false;
        a.selected = vec![true, false];
        assert_eq!(a.verdict(), Verdict::Incomplete);
    }

    #[test]
    fn end_waits_for_the_save_answer_before_power_off() {
        let mut a = at_options();
        a.handle(Event::Key(Key::Enter));
        a.handle(Event::Record(Record::Summary(summary(
            Verdict::Clean,
            0,
            false,
        ))));
        a.handle(Event::Key(Key::Char('d')));
        assert_eq!(a.screen, Screen::Details);
        a.handle(Event::Key(Key::Left));
        assert_eq!(a.details_tab, 2);
        a.handle(Event::Key(Key::Esc));
        a.handle(Event::Key(Key::Enter));
        assert_eq!(a.screen, Screen::End);
        assert_eq!(a.handle(Event::Key(Key::Enter)), Action::None);
        a.handle(Event::Saved(Ok("VIGIE-LOGS:/VIGIE/scans/x.jsonl".into())));
        assert_eq!(a.handle(Event::Key(Key::Enter)), Action::PowerOff);
    }

    #[test]
    fn rules_age() {
        assert_eq!(parse_rfc3339_date("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(parse_rfc3339_date("2026-11-28"), Some(1_795_824_000));
        assert_eq!(parse_rfc3339_date("nope"), None);
        let mut a = App {
            now: 1_795_824_000,
            rules: Some(Ok(RulesInfo {
                created: Some("2026-06-01T00:00:00Z".into()),
                ..RulesInfo::default()
            })),
            ..App::default()
        };
        assert_eq!(a.rules_age_days(), Some(180));
        assert!(a.rules_old());
        a.rules_max_age_days = 365;
        assert!(!a.rules_old());
    }
}
