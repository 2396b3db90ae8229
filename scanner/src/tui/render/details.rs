//! The details screen: findings, volumes, persistence, notes (one tab each).

use super::verdict::{not_scanned_lines, status_name};
use super::{elide, elide_plain, frame, wrap, BAD, DIM, LABEL, SEL, WARN};
use crate::text::note::render_text;
use crate::text::{fs_name, location, skip_reason};
use crate::tui::app::{App, DETAILS_TABS};
use crate::tui::i18n::{size, Strings};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn details(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.details);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let names = [t.tab_findings, t.tab_skipped, t.tab_volumes];
    let mut tabs = vec![Span::raw(" ")];
    for (i, n) in names.iter().enumerate().take(DETAILS_TABS) {
        let s = if i == app.details_tab { SEL } else { LABEL };
        tabs.push(Span::styled(format!(" {n} "), s));
        tabs.push(Span::raw("  "));
    }
    let w = inner.width as usize;
    let mut lines = vec![Line::from(tabs), Line::from("")];
    let body: Vec<Line> =
        match app.details_tab {
            0 => app
                .scan
                .findings
                .iter()
                .flat_map(|fnd| {
                    let vol = fnd.volume.map(|n| format!(" #{n}")).unwrap_or_default();
                    [
                        Line::styled(
                            format!(" {} ({}) {}{vol}", fnd.rule, fnd.namespace, fnd.disk),
                            BAD,
                        ),
                        Line::from(format!("   {}", elide(&location(fnd), w.saturating_sub(4)))),
                        Line::styled(
                            format!(
                                "   sha256 {}",
                                elide_plain(&fnd.sha256, w.saturating_sub(11))
                            ),
                            DIM,
                        ),
                    ]
                })
                .collect(),
            1 => {
                let mut v: Vec<Line> = app
                    .skipped_by_reason()
                    .into_iter()
                    .map(|(k, n)| Line::from(format!(" {:<32} {n:>8}", skip_reason(app.lang, &k))))
                    .collect();
                v.extend(not_scanned_lines(app, t).into_iter().map(|l| {
                    Line::styled(format!(" {}", elide_plain(&l, w.saturating_sub(2))), WARN)
                }));
                v
            }
            _ => app
                .scan
                .volumes
                .iter()
                .flat_map(|v| {
                    let head = Line::from(format!(
                        " {} #{:<2} {:<9} {:>10}  {:<18} {} {}",
                        v.disk,
                        v.volume,
                        fs_name(app.lang, v.fs),
                        size(app.lang, v.size),
                        status_name(t, v.status),
                        v.scanned,
                        t.files
                    ));
                    let notes = v.notes.iter().take(3).flat_map(|n| {
                        let n = render_text(app.lang, n);
                        wrap(&n, w.saturating_sub(5), 2)
                            .into_iter()
                            .map(|l| Line::styled(format!("    {l}"), DIM))
                    });
                    std::iter::once(head).chain(notes).collect::<Vec<_>>()
                })
                .collect(),
        };
    if body.is_empty() {
        lines.push(Line::styled(format!(" {}", t.nothing), DIM));
    }
    let max = body
        .len()
        .saturating_sub((inner.height as usize).saturating_sub(2));
    lines.extend(body.into_iter().skip(app.details_scroll.min(max)));
    f.render_widget(Paragraph::new(lines), inner);
}
