//! Draws the UI state: a pure function of [`App`], no I/O, so every screen is snapshot-tested
//! on ratatui's `TestBackend`. One module per screen group: [`setup`] (welcome, machine,
//! options), [`progress`], [`verdict`], [`details`], [`end`] (end and crash); the shared
//! helpers (styles, frame, elision, wrapping) stay here.
//!
//! Console constraints (see `crate-notes.md`): only plain or double box lines, full blocks and
//! ASCII/CP437 letters; backgrounds from the 8 dark colours only; works from 80x25 up.

use ratatui::layout::{Constraint, Layout as Split};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

mod details;
mod end;
mod progress;
mod setup;
mod verdict;

use super::app::{App, Screen};
use super::i18n::Lang;
use super::keymap::Layout;
use details::details;
use end::{crash, end};
use progress::progress;
pub use verdict::banner;
use verdict::verdict;

const BAR: Style = Style::new().fg(Color::White).bg(Color::Blue);
const HELP: Style = Style::new().fg(Color::Black).bg(Color::Gray);
const WARN: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
const BAD: Style = Style::new()
    .fg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::Gray);
const SEL: Style = Style::new().add_modifier(Modifier::REVERSED);
const LABEL: Style = Style::new().fg(Color::LightCyan);

/// Draws the whole screen.
pub fn render(app: &App, f: &mut Frame) {
    let t = app.lang.t();
    let area = f.area();
    let [top, body, bottom] = Split::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let (title, keys) = match app.screen {
        Screen::Welcome => (t.welcome, t.keys_welcome),
        Screen::Machine => (t.machine, t.keys_machine),
        Screen::Options => (t.options, t.keys_options),
        Screen::Progress => (t.progress, t.keys_progress),
        Screen::Verdict => (t.verdict, t.keys_verdict),
        Screen::Details => (t.details, t.keys_details),
        Screen::End => (t.end, t.keys_end),
        Screen::Crash => (t.crash, t.keys_end.split("  ").next().unwrap_or("")),
    };
    let layout = match app.layout {
        Layout::Fr => "AZERTY",
        Layout::Us => "QWERTY",
    };
    let lang = match app.lang {
        Lang::Fr => "FR",
        Lang::En => "EN",
    };
    let left = format!(" {} {} | {title}", t.app, env!("CARGO_PKG_VERSION"));
    let right = format!("{lang} {layout} ");
    let pad = (area.width as usize).saturating_sub(left.chars().count() + right.chars().count());
    f.render_widget(
        Paragraph::new(format!("{left}{}{right}", " ".repeat(pad))).style(BAR),
        top,
    );
    f.render_widget(Paragraph::new(format!(" {keys}")).style(HELP), bottom);
    match app.screen {
        Screen::Welcome => setup::welcome(app, t, f, body),
        Screen::Machine => setup::machine(app, t, f, body),
        Screen::Options => setup::options(app, t, f, body),
        Screen::Progress => progress(app, t, f, body),
        Screen::Verdict => verdict(app, t, f, body),
        Screen::Details => details(app, t, f, body),
        Screen::End => end(app, t, f, body),
        Screen::Crash => crash(app, t, f, body),
    }
}

fn frame(title: &str) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Plain)
        .title(format!(" {title} "))
}

/// Shortens `path` to `width` characters keeping its start and, above all, the file name:
/// `Users/alice/AppData/.../evil.exe`; a name too long itself keeps its end.
pub fn elide(path: &str, width: usize) -> String {
    let n = path.chars().count();
    if n <= width {
        return path.to_string();
    }
    if width <= 3 {
        return ".".repeat(width);
    }
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.last().copied().unwrap_or("");
    let tail_chars = |s: &str, k: usize| -> String {
        let c = s.chars().count();
        s.chars().skip(c.saturating_sub(k)).collect()
    };
    // The file name alone does not fit: its end, behind "...".
    if last.chars().count() + 4 > width {
        return format!("...{}", tail_chars(path, width - 3));
    }
    // Take components alternately from the start and from the end while they fit:
    // `Users/alice/AppData/.../structure/evil.exe`.
    let render = |l: &[&str], r: &[&str]| -> String {
        let right: Vec<&str> = r.iter().rev().copied().collect();
        if l.is_empty() {
            format!(".../{}", right.join("/"))
        } else {
            format!("{}/.../{}", l.join("/"), right.join("/"))
        }
    };
    let mut left: Vec<&str> = Vec::new();
    let mut right: Vec<&str> = vec![last];
    let (mut i, mut j) = (0usize, parts.len() - 1); // parts[i..j] not taken yet
    let (mut left_done, mut right_done) = (false, false);
    let mut turn_left = true;
    while i < j && !(left_done && right_done) {
        if turn_left && !left_done {
            left.push(parts[i]);
            if render(&left, &right).chars().count() <= width {
                i += 1;
            } else {
                left.pop();
                left_done = true;
            }
        } else if !turn_left && !right_done {
            right.push(parts[j - 1]);
            if render(&left, &right).chars().count() <= width {
                j -= 1;
            } else {
                right.pop();
                right_done = true;
            }
        }
        turn_left = !turn_left;
    }
    let out = render(&left, &right);
    if out.chars().count() <= width {
        out
    } else {
        format!("...{}", tail_chars(path, width - 3))
    }
}

/// Word-wraps `s` into at most `max_lines` lines of `width` characters, the last one cut with
/// "..." if the text goes on (a word longer than a line is cut too).
fn wrap(s: &str, width: usize, max_lines: usize) -> Vec<String> {
    let max_lines = max_lines.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let need = cur.chars().count() + usize::from(!cur.is_empty()) + word.chars().count();
        if need > width && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    lines.push(cur);
    if lines.len() > max_lines {
        let rest = lines.split_off(max_lines - 1).join(" ");
        lines.push(rest);
    }
    for l in &mut lines {
        if l.chars().count() > width {
            *l = elide_plain(l, width);
        }
    }
    lines
}

/// Cuts a free text line at `width` characters with "..." (not a path).
fn elide_plain(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(width.saturating_sub(3)).collect();
        o.push_str("...");
        o
    }
}

/// The volumes the current options would scan: (disk, number, size, allocated).
fn scanned_volumes(app: &App) -> Vec<(String, u32, u64, Option<u64>)> {
    let targets = app.targets();
    app.machine
        .iter()
        .flat_map(|m| m.disks.iter())
        .filter(|d| targets.contains(&d.dev))
        .flat_map(|d| {
            d.volumes
                .iter()
                .map(move |v| (d.dev.clone(), v.number, v.size, v.allocated))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elide_keeps_the_start_and_the_file_name() {
        assert_eq!(elide("a/b/c.txt", 20), "a/b/c.txt");
        let p = "Users/alice/AppData/Local/Temp/very/deep/folder/structure/evil.exe";
        let e = elide(p, 40);
        assert!(e.chars().count() <= 40, "{e}");
        assert!(e.starts_with("Users/"), "{e}");
        assert!(e.ends_with("/evil.exe"), "{e}");
        assert!(e.contains("/.../"), "{e}");
        assert_eq!(elide(p, 40), "Users/alice/.../structure/evil.exe");
        assert_eq!(
            elide(p, 60),
            "Users/alice/AppData/Local/.../deep/folder/structure/evil.exe"
        );
        // A name longer than the room: its end.
        let long = format!("dir/{}.exe", "x".repeat(60));
        let e = elide(&long, 20);
        assert_eq!(e.chars().count(), 20);
        assert!(e.starts_with("...") && e.ends_with("xx.exe"), "{e}");
        assert_eq!(elide("abcdef", 3), "...");
        assert_eq!(
            elide("/abs/olute/path/to/some/file.bin", 24),
            "/abs/.../some/file.bin"
        );
    }

    #[test]
    fn notes_wrap_on_two_lines_at_most() {
        assert_eq!(wrap("a b c", 10, 2), vec!["a b c"]);
        assert_eq!(wrap("aaaa bbbb cccc", 9, 2), vec!["aaaa bbbb", "cccc"]);
        assert_eq!(
            wrap("aaaa bbbb cccc dddd eeee", 9, 2),
            vec!["aaaa bbbb", "cccc d..."]
        );
        assert_eq!(wrap(&"x".repeat(20), 9, 2), vec!["xxxxxx..."]);
        assert!(wrap("", 9, 2) == vec![""]);
    }

    #[test]
    fn banner_fits_80_columns_for_every_title() {
        for t in [&super::super::i18n::FR, &super::super::i18n::EN] {
            for s in [t.banner_infected, t.banner_clean, t.banner_incomplete] {
                let b = banner(s, 78).expect(s);
                assert_eq!(b.len(), 5);
                assert!(b.iter().all(|r| r.chars().count() <= 78), "{s}");
                assert!(
                    b.iter().all(|r| r.chars().count() == b[0].chars().count()),
                    "{s}"
                );
            }
        }
    }
}
