//! The last screens: where the record went (end) and the crash screen PID 1 draws itself.

use super::{elide, elide_plain, frame, BAD, DIM};
use crate::text::note::render_text;
use crate::tui::app::App;
use crate::tui::i18n::Strings;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

pub(super) fn end(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.end);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = vec![Line::from("")];
    match &app.saved {
        None => lines.push(Line::styled(format!("  {}", t.saving), DIM)),
        Some(Ok(p)) => {
            lines.push(Line::from(format!("  {}", t.saved_to)));
            for l in where_saved(p, w.saturating_sub(5)) {
                lines.push(Line::styled(
                    format!("    {l}"),
                    Style::new().add_modifier(Modifier::BOLD),
                ));
            }
        }
        Some(Err(e)) => {
            lines.push(Line::styled(format!("  {}", t.save_failed), BAD));
            lines.push(Line::from(format!(
                "    {}",
                elide_plain(e, w.saturating_sub(5))
            )));
        }
    }
    lines.push(Line::from(""));
    if app.saved.is_some() {
        lines.push(Line::styled(
            format!("  {}", t.remove_stick),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// `VIGIE-LOGS:/VIGIE/scans/x.jsonl` as two lines (the partition, then the path), so that a
/// long file name stays whole at 80 columns.
pub(super) fn where_saved(p: &str, width: usize) -> Vec<String> {
    match p.split_once(":/") {
        Some((part, path)) => vec![format!("{part} :"), elide(&format!("/{path}"), width)],
        None => vec![elide(p, width)],
    }
}

pub(super) fn crash(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let style = Style::new().fg(Color::White).bg(Color::Red);
    f.render_widget(Block::default().style(style), area);
    let w = area.width as usize;
    let mut lines = vec![
        Line::from(""),
        Line::styled(t.crash_title, style.add_modifier(Modifier::BOLD)),
        Line::from(""),
        Line::from(t.crash_body),
        Line::from(""),
    ];
    if let Some(c) = &app.crash {
        let c = render_text(app.lang, c);
        lines.push(Line::from(elide_plain(&c, w.saturating_sub(4))));
        lines.push(Line::from(""));
    }
    match &app.saved {
        Some(Ok(p)) => {
            lines.push(Line::from(t.crash_record));
            lines.extend(
                where_saved(p, w.saturating_sub(4))
                    .into_iter()
                    .map(Line::from),
            );
        }
        Some(Err(e)) => {
            lines.push(Line::from(t.save_failed));
            lines.push(Line::from(elide_plain(e, w.saturating_sub(4))));
        }
        None => lines.push(Line::from(t.saving)),
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(
        t.remove_stick,
        style.add_modifier(Modifier::BOLD),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .style(style),
        area,
    );
}
