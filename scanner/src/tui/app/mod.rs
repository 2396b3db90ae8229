//! The console UI's state and its event handling. [`App::handle`] is the only place the state
//! changes; it returns an [`Action`] for the event loop to carry out (start the scan thread,
//! cancel, ask PID 1 to save, power off). Rendering (`super::render`) only reads the state,
//! so every screen is testable without a terminal.
//!
//! The parts: [`events`] (keys, events in, actions out), [`machine`] (what the machine screen
//! shows), `handle` (the state changes), `verdict` (what the verdict screen concludes).

use crate::record::{FindingRecord, RulesInfo, SummaryRecord, VolumeRecord};
use crate::sink::Progress;

pub use super::i18n::Lang;
pub use super::keymap::Layout;

pub mod events;
mod handle;
pub mod machine;
mod verdict;

pub use events::{Action, Event, Key};
pub use machine::{Machine, MachineDisk, MachineVolume, VolumeKind};

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

    /// The asset tag as recorded (trimmed, `None` when empty).
    pub fn asset_tag(&self) -> Option<String> {
        let t = self.asset_tag.trim();
        (!t.is_empty()).then(|| t.to_string())
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
mod tests;
