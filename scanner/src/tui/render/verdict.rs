//! The verdict screen: the big banner, what was found, what could not be read.

use super::{elide, elide_plain, wrap};
use crate::record::{FsKind, Verdict, VolumeStatus};
use crate::text::note::render_text;
use crate::text::{fs_name, location, skip_reason};
use crate::tui::app::App;
use crate::tui::i18n::{duration, size, Strings};
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

/// 5x5 block letters for the verdict banner words (the letters of [`Strings`]'s banners);
/// anything else is drawn as a space.
pub(super) fn glyph(c: char) -> [&'static str; 5] {
    match c.to_ascii_uppercase() {
        'A' => [" ### ", "#   #", "#####", "#   #", "#   #"],
        'C' => [" ####", "#    ", "#    ", "#    ", " ####"],
        'D' => ["#### ", "#   #", "#   #", "#   #", "#### "],
        'E' => ["#####", "#    ", "#### ", "#    ", "#####"],
        'I' => ["#####", "  #  ", "  #  ", "  #  ", "#####"],
        'K' => ["#   #", "#  # ", "###  ", "#  # ", "#   #"],
        'L' => ["#    ", "#    ", "#    ", "#    ", "#####"],
        'M' => ["#   #", "## ##", "# # #", "#   #", "#   #"],
        'N' => ["#   #", "##  #", "# # #", "#  ##", "#   #"],
        'O' => [" ### ", "#   #", "#   #", "#   #", " ### "],
        'P' => ["#### ", "#   #", "#### ", "#    ", "#    "],
        'Q' => [" ### ", "#   #", "# # #", "#  # ", " ## #"],
        'R' => ["#### ", "#   #", "#### ", "#  # ", "#   #"],
        'T' => ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
        'U' => ["#   #", "#   #", "#   #", "#   #", " ### "],
        _ => ["     ", "     ", "     ", "     ", "     "],
    }
}

/// The banner lines of `text` in block letters (full blocks), or `None` when too wide.
pub fn banner(text: &str, width: usize) -> Option<Vec<String>> {
    let n = text.chars().count();
    if n * 6 > width + 1 {
        return None;
    }
    let mut rows = vec![String::new(); 5];
    for c in text.chars() {
        let g = glyph(c);
        for (r, row) in rows.iter_mut().enumerate() {
            row.push_str(&g[r].replace('#', "\u{2588}"));
            row.push(' ');
        }
    }
    // Same length on every row, so that centring keeps the letters aligned.
    for r in &mut rows {
        r.pop(); // the separator after the last letter
    }
    Some(rows)
}

pub(super) fn status_name(t: &Strings, s: VolumeStatus) -> &'static str {
    match s {
        VolumeStatus::Scanned => t.status_scanned,
        VolumeStatus::Partial => t.status_partial,
        VolumeStatus::Encrypted => t.status_encrypted,
        VolumeStatus::Unsupported => t.status_unsupported,
        VolumeStatus::Error => t.status_error,
    }
}

/// What was not scanned, one line each (amber verdict, details).
pub(super) fn not_scanned_lines(app: &App, t: &Strings) -> Vec<String> {
    let mut out = Vec::new();
    if app.cancelled() {
        out.push(t.cancelled.to_string());
    }
    for d in app.disks_not_scanned() {
        let why = if d.protected {
            t.disk_not_selected
        } else {
            t.warn_not_protected
        };
        out.push(format!("{} {}: {why}", t.disk, d.name));
    }
    for (d, notes) in &app.scan.disk_notes {
        let why: Vec<String> = notes.iter().map(|n| render_text(app.lang, n)).collect();
        out.push(format!("{d}: {}", why.join("; ")));
    }
    for v in &app.scan.volumes {
        if v.status != VolumeStatus::Scanned && !(v.fs == FsKind::Unknown && v.files == 0) {
            let note = v
                .notes
                .first()
                .map(|n| format!(" ({})", render_text(app.lang, n)))
                .unwrap_or_default();
            out.push(format!(
                "{} #{} {}: {}{note}",
                v.disk,
                v.volume,
                fs_name(app.lang, v.fs),
                status_name(t, v.status)
            ));
        }
    }
    let skipped = app.skipped_by_reason();
    let n: u64 = skipped
        .iter()
        .filter(|(k, _)| k.as_str() != "error")
        .map(|(_, v)| v)
        .sum();
    if n > 0 {
        let reasons: Vec<String> = skipped
            .iter()
            .filter(|(k, _)| k.as_str() != "error")
            .map(|(k, v)| format!("{} {v}", skip_reason(app.lang, k)))
            .collect();
        out.push(format!("{n} {} ({})", t.files_skipped, reasons.join(", ")));
    }
    if let Some(e) = skipped.get("error") {
        out.push(format!("{e} {}", t.files_errors));
    }
    out
}

pub(super) fn verdict(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let v = app.verdict();
    let quick_title;
    let (bg, fg, title, sub, word) = match v {
        // Issue 14: a quick scan's clean is blue, never the full scan's green.
        Verdict::Clean if app.quick_clean() => {
            // Upper case would make an À, which the console font lacks.
            quick_title = crate::text::quick::verdict(app.lang).to_string();
            (
                Color::Blue,
                Color::White,
                quick_title.as_str(),
                t.quick_sub,
                t.banner_quick,
            )
        }
        Verdict::Infected => (
            Color::Red,
            Color::White,
            t.verdict_infected,
            t.infected_sub,
            t.banner_infected,
        ),
        Verdict::Clean => (
            Color::Green,
            Color::Black,
            t.verdict_clean,
            t.clean_sub,
            t.banner_clean,
        ),
        Verdict::Incomplete => (
            Color::Yellow,
            Color::Black,
            t.verdict_incomplete,
            t.incomplete_sub,
            t.banner_incomplete,
        ),
    };
    let style = Style::new().fg(fg).bg(bg);
    f.render_widget(Block::default().style(style), area);
    let w = area.width as usize;
    let mut lines = vec![Line::from("")];
    match banner(word, w.saturating_sub(2)) {
        Some(rows) => lines.extend(rows.into_iter().map(Line::from)),
        None => lines.push(Line::from(title)),
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        title.to_string(),
        style.add_modifier(Modifier::BOLD),
    ));
    lines.push(Line::from(sub.to_string()));
    lines.push(Line::from(""));
    let room = (area.height as usize)
        .saturating_sub(lines.len() + 1)
        .max(1);
    let list: Vec<String> = match v {
        Verdict::Infected => app
            .scan
            .findings
            .iter()
            .map(|fnd| {
                let room = w.saturating_sub(fnd.rule.chars().count() + 6);
                format!("{}: {}", fnd.rule, elide(&location(fnd), room))
            })
            .collect(),
        Verdict::Incomplete => not_scanned_lines(app, t),
        Verdict::Clean if app.quick_clean() => app
            .scan
            .summary
            .iter()
            .flat_map(|s| {
                wrap(
                    &crate::text::quick::counts(app.lang, s),
                    w.saturating_sub(4),
                    3,
                )
            })
            .collect(),
        Verdict::Clean => {
            let s = app.scan.summary.as_ref();
            vec![format!(
                "{} {}, {}, {}",
                s.map_or(0, |s| s.scanned),
                t.files,
                size(app.lang, s.map_or(0, |s| s.bytes)),
                duration(s.map_or(0.0, |s| s.seconds))
            )]
        }
    };
    let more = list.len().saturating_sub(room);
    for l in list.iter().take(if more > 0 { room - 1 } else { room }) {
        lines.push(Line::from(elide_plain(l, w.saturating_sub(4))));
    }
    if more > 0 {
        lines.push(Line::from(format!("... {} {}", more + 1, t.and_more)));
    }
    f.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .style(style),
        area,
    );
}
