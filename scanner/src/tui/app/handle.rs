//! [`App::handle`]: the only place the UI state changes. Keys are handled per screen; scan
//! records and progress update the [`ScanView`](super::ScanView).

use super::{asset_tag_char, App, OptionRow, ScanView, Screen, ASSET_TAG_MAX, DETAILS_TABS};
use super::{Action, Event, Key, Lang, Layout};
use crate::record::Record;

impl App {
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
}
