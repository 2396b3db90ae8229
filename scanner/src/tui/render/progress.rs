//! The progress screen: volumes done, the current file, the time left.

use super::{elide, frame, scanned_volumes, BAD, LABEL, WARN};
use crate::text::location;
use crate::tui::app::App;
use crate::tui::i18n::{duration, size, Strings};
use ratatui::layout::{Alignment, Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Gauge, Paragraph};
use ratatui::Frame;

pub(super) fn progress(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.progress);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let s = &app.scan;
    let p = &s.progress;
    // Overall: volumes finished over volumes to scan, weighted by their size.
    let vols = scanned_volumes(app);
    let total: u64 = vols.iter().map(|v| v.2).sum::<u64>().max(1);
    let done: u64 = vols
        .iter()
        .filter(|(d, n, ..)| s.volumes.iter().any(|v| &v.disk == d && v.volume == *n))
        .map(|v| v.2)
        .sum();
    let ratio = (done as f64 / total as f64).clamp(0.0, 1.0);
    let speed = if s.elapsed > 0.5 {
        p.bytes as f64 / s.elapsed
    } else {
        0.0
    };
    let left = if ratio > 0.01 && ratio < 1.0 {
        duration(s.elapsed * (1.0 - ratio) / ratio)
    } else {
        "-".into()
    };
    // Issue 14: a full scan's progress and time left from the bytes allocated on the
    // volumes (known from the probe), from the first seconds on.
    // Volumes without a count (encrypted, reserved, unreadable) are not read: 0 bytes.
    let alloc: Option<u64> = vols
        .iter()
        .any(|v| v.3.is_some())
        .then(|| vols.iter().filter_map(|v| v.3).sum());
    let (ratio, left) = match alloc {
        Some(total) if !app.quick && total > 0 => (
            // Never below the share of finished volumes (1.0 once all are done), never 100 %
            // from bytes alone. Not `clamp(ratio, 0.99)`: that panics once `ratio` > 0.99.
            (p.bytes as f64 / total as f64).min(0.99).max(ratio),
            crate::scan::estimate::time_left(s.elapsed, p.bytes, total)
                .map_or_else(|| "-".into(), duration),
        ),
        _ => (ratio, left),
    };
    let [g1, rest] = Split::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(inner);
    let gauge = Gauge::default()
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", t.overall)),
        )
        .gauge_style(Style::new().fg(Color::Cyan).bg(Color::Black))
        .ratio(ratio)
        .use_unicode(false)
        .label(format!("{:.0} %", ratio * 100.0));
    f.render_widget(gauge, g1);
    let vol = match &s.current {
        Some((d, Some(n))) => format!("{d} #{n}"),
        Some((d, None)) => d.clone(),
        None => "-".into(),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.volume), LABEL),
            Span::raw(format!(
                "{vol}: {}, {} {}",
                size(app.lang, p.bytes.saturating_sub(s.volume_start.0)),
                p.files.saturating_sub(s.volume_start.1),
                t.files
            )),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.overall), LABEL),
            Span::raw(format!(
                "{}, {} {}",
                size(app.lang, p.bytes),
                p.files,
                t.files
            )),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.speed), LABEL),
            Span::raw(format!("{}/s", size(app.lang, speed as u64))),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.elapsed), LABEL),
            Span::raw(duration(s.elapsed)),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.time_left), LABEL),
            Span::raw(left),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.current), LABEL),
            Span::raw(if p.path.is_empty() {
                t.starting.to_string()
            } else {
                // `file:stream` and `container//member`, as the findings below say it.
                elide(&p.location(), (rest.width as usize).saturating_sub(22))
            }),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.findings), LABEL),
            Span::styled(
                p.findings.max(s.findings.len() as u64).to_string(),
                if s.findings.is_empty() {
                    Style::new()
                } else {
                    BAD
                },
            ),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<20}", t.skipped), LABEL),
            Span::raw(p.skipped.to_string()),
        ]),
        Line::from(""),
    ];
    for fnd in s.findings.iter().rev().take(6) {
        lines.push(Line::styled(
            format!(
                " ! {}  {}",
                fnd.rule,
                elide(
                    &location(fnd),
                    (rest.width as usize).saturating_sub(fnd.rule.len() + 6)
                )
            ),
            BAD,
        ));
    }
    if s.cancelling {
        lines.push(Line::styled(format!(" {}", t.cancelling), WARN));
    }
    f.render_widget(Paragraph::new(lines), rest);
    if s.confirm_cancel {
        let w = (t.confirm_cancel.chars().count() as u16 + 4).min(area.width);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + area.height / 2 - 1,
            w,
            3,
        );
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(t.confirm_cancel)
                .alignment(Alignment::Center)
                .style(Style::new().fg(Color::White).bg(Color::Red))
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .border_type(BorderType::Double),
                ),
            r,
        );
    }
}
