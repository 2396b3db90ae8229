//! The screens before the scan: welcome, the machine (disks and volumes), the options.

use super::{elide, elide_plain, frame, scanned_volumes, BAD, DIM, LABEL, SEL, WARN};
use crate::record::FsKind;
use crate::text::rules_origin;
use crate::tui::app::{App, MachineDisk, MachineVolume, OptionRow, VolumeKind};
use crate::tui::i18n::{duration, size, Lang, Strings};
use crate::tui::keymap::Layout;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub(super) fn welcome(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.welcome);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let choice = |row: usize, label: &str, value: &str| {
        let style = if app.welcome_row == row {
            SEL
        } else {
            Style::new()
        };
        Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{label:<10}"), LABEL),
            Span::styled(format!("< {value} >"), style),
        ])
    };
    let layout = match app.layout {
        Layout::Fr => t.layout_fr,
        Layout::Us => t.layout_us,
    };
    let mut lines = vec![
        Line::from(""),
        Line::styled(
            format!("  {}", t.tagline),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::from(""),
        choice(0, t.language, app.lang.t().lang_name),
        choice(1, t.keyboard, layout),
    ];
    // Resume after a cut (issue 14): offered by PID 1 for this machine and these rules.
    if let Some(r) = &app.resume {
        let value = if app.resume_chosen {
            t.resume_yes
        } else {
            t.resume_no
        };
        lines.push(choice(2, t.resume_label, value));
        let detail = t
            .resume_detail
            .replace("{done}", &r.done.to_string())
            .replace("{total}", &r.total.to_string())
            .replace("{date}", &started_date(app.lang, &r.started));
        lines.push(Line::styled(
            format!("    {}", elide_plain(&detail, 74)),
            DIM,
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(format!("  {}", t.rules), LABEL));
    match &app.rules {
        None => lines.push(Line::styled(format!("    {}", t.rules_loading), DIM)),
        Some(Err(e)) => {
            lines.push(Line::styled(format!("    {}", t.rules_failed), BAD));
            lines.push(Line::from(format!("    {}", elide(e, 70))));
        }
        Some(Ok(r)) => {
            lines.push(Line::from(format!(
                "    version {}, {} {}, {} IOC",
                r.version, r.rules, t.rules_count, r.iocs
            )));
            lines.push(Line::styled(
                format!("    {}", elide(&rules_origin(app.lang, &r.origin), 70)),
                DIM,
            ));
            let date = match (&r.created, app.rules_age_days()) {
                (Some(c), Some(d)) => format!(
                    "    {} {} ({d} {})",
                    t.rules_date,
                    c.get(..10).unwrap_or(c),
                    t.days_old
                ),
                _ => format!("    {}", t.rules_date_unknown),
            };
            lines.push(Line::from(date));
            if app.rules_old() {
                lines.push(Line::styled(format!("    {}", t.rules_old), WARN));
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(format!("  {}", t.read_only), DIM));
    f.render_widget(Paragraph::new(lines), inner);
}

pub(super) fn kind_name(t: &Strings, v: &MachineVolume) -> &'static str {
    match v.kind {
        VolumeKind::Unreadable if v.fs == FsKind::Unknown => t.kind_no_fs,
        VolumeKind::MsReserved => t.kind_ms_reserved,
        VolumeKind::WindowsSystem => t.kind_windows,
        VolumeKind::LinuxSystem => t.kind_linux,
        VolumeKind::EfiBoot => t.kind_efi,
        VolumeKind::Data => t.kind_data,
        VolumeKind::Encrypted => t.kind_encrypted,
        VolumeKind::Unsupported => t.kind_unsupported,
        VolumeKind::Unreadable => t.kind_unreadable,
        VolumeKind::Empty => t.kind_empty,
    }
}

pub(super) fn disk_line(lang: Lang, t: &Strings, d: &MachineDisk) -> String {
    format!(
        "{} {}  {}  {}",
        t.disk,
        d.name,
        size(lang, d.size),
        d.model.as_deref().unwrap_or(t.unknown_model)
    )
}

pub(super) fn disk_ids(t: &Strings, d: &MachineDisk) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(b) = &d.bus {
        parts.push(format!("{} {b}", t.bus));
    }
    if let Some(sn) = &d.serial {
        parts.push(format!("{} {sn}", t.serial));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

pub(super) fn machine(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.machine);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(m) = &app.machine else {
        f.render_widget(Paragraph::new(format!(" {}", t.probing)).style(DIM), inner);
        return;
    };
    let mut lines: Vec<Line> = Vec::new();
    for c in &m.controllers {
        lines.push(Line::styled(format!(" ! {} :", t.warn_controller), WARN));
        lines.push(Line::styled(format!("   {c}"), WARN));
        lines.push(Line::styled(format!("   {}", t.warn_controller_hint), WARN));
        lines.push(Line::from(""));
    }
    if m.disks.is_empty() {
        lines.push(Line::styled(format!(" {}", t.no_disk), BAD));
    }
    for d in &m.disks {
        lines.push(Line::styled(
            format!(" {}", disk_line(app.lang, t, d)),
            Style::new().add_modifier(Modifier::BOLD),
        ));
        if let Some(ids) = disk_ids(t, d) {
            lines.push(Line::styled(format!("   {ids}"), DIM));
        }
        if !d.protected {
            lines.push(Line::styled(format!("   ! {}", t.warn_not_protected), BAD));
        }
        if d.volumes.is_empty() {
            lines.push(Line::styled(format!("     {}", t.no_volume), DIM));
        }
        for v in &d.volumes {
            let label = v
                .label
                .as_deref()
                .map(|l| format!("\"{}\"", elide(l, 16)))
                .unwrap_or_default();
            let text = format!(
                "   {:>2}  {:<9} {:>10}  {:<18} {}",
                v.number,
                // Words for "unknown" are in the kind column.
                if v.fs == FsKind::Unknown {
                    "-"
                } else {
                    v.fs.as_str()
                },
                size(app.lang, v.size),
                label,
                kind_name(t, v)
            );
            lines.push(Line::from(text));
            let warn = match v.kind {
                VolumeKind::Encrypted => Some(t.warn_encrypted),
                VolumeKind::Unsupported => Some(t.warn_unsupported),
                VolumeKind::Unreadable => Some(t.warn_unreadable),
                _ => None,
            };
            if let Some(w) = warn {
                lines.push(Line::styled(format!("       ! {w}"), WARN));
            }
        }
        lines.push(Line::from(""));
    }
    let max = lines.len().saturating_sub(inner.height as usize);
    let scroll = app.machine_scroll.min(max) as u16;
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}

pub(super) fn options(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.options);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = app.option_rows();
    let cur = rows[app.options_row.min(rows.len() - 1)];
    let style = |r: OptionRow| if r == cur { SEL } else { Style::new() };
    let mut lines = vec![
        Line::from(""),
        Line::styled(format!(" {}", t.scan_kind), LABEL),
    ];
    let kind = if app.quick { t.kind_quick } else { t.kind_full };
    lines.push(Line::from(vec![
        Span::raw("   "),
        Span::styled(format!("< {kind} >"), style(OptionRow::Kind)),
    ]));
    if app.quick {
        lines.push(Line::styled(format!("   {}", t.kind_quick_hint), DIM));
    }
    lines.push(Line::from(vec![
        Span::raw("   "),
        Span::styled(format!("{} ", t.estimate), DIM),
        Span::raw(estimates(app, t)),
    ]));
    lines.push(Line::from(""));
    lines.push(Line::styled(format!(" {}", t.scan_what), LABEL));
    let mode = if app.full {
        t.full_scan
    } else {
        t.choose_disks
    };
    lines.push(Line::from(vec![
        Span::raw("   "),
        Span::styled(format!("< {mode} >"), style(OptionRow::Mode)),
    ]));
    if let (false, Some(m)) = (app.full, &app.machine) {
        for (i, d) in m.disks.iter().enumerate() {
            let on = app.selected.get(i) == Some(&true) && d.protected;
            let text = format!(
                "[{}] {}",
                if on { "x" } else { " " },
                disk_line(app.lang, t, d)
            );
            lines.push(Line::from(vec![
                Span::raw("     "),
                Span::styled(elide_plain(&text, 70), style(OptionRow::Disk(i))),
            ]));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::styled(format!(" {}", t.asset_tag), LABEL));
    let field = format!(
        "[{:<w$}]",
        app.asset_tag,
        w = crate::tui::app::ASSET_TAG_MAX
    );
    let cursor = if cur == OptionRow::AssetTag { "_" } else { "" };
    lines.push(Line::from(vec![
        Span::raw("   "),
        Span::styled(
            field.replacen(
                &format!("{} ", app.asset_tag),
                &format!("{}{cursor}", app.asset_tag),
                if cursor.is_empty() { 0 } else { 1 },
            ),
            style(OptionRow::AssetTag),
        ),
    ]));
    lines.push(Line::styled(format!("   {}", t.asset_tag_hint), DIM));
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::raw("   "),
        Span::styled(
            format!("[ {} ]", t.start),
            style(OptionRow::Start).add_modifier(Modifier::BOLD),
        ),
    ]));
    if app.options_error {
        lines.push(Line::from(""));
        lines.push(Line::styled(format!("   {}", t.none_selected), BAD));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// "full 2 h 10 min, quick 6 min" for the chosen disks (issue 14; assumptions in
/// `scan::estimate`), from the bytes allocated on their readable volumes.
pub(super) fn estimates(app: &App, t: &Strings) -> String {
    use crate::scan::estimate::{full_secs, quick_secs};
    let known: Vec<u64> = scanned_volumes(app).iter().filter_map(|v| v.3).collect();
    if known.is_empty() {
        return t.estimate_unknown.to_string();
    }
    let bytes: u64 = known.iter().sum();
    format!(
        "{} {}, {} {} ({} {})",
        t.kind_full.split([':', ' ']).next().unwrap_or(""),
        duration(full_secs(bytes)),
        t.kind_quick.split([':', ' ']).next().unwrap_or(""),
        duration(quick_secs(bytes, known.len())),
        size(app.lang, bytes),
        t.allocated
    )
}

/// `2026-12-01T10:00:00Z` as `01/12/2026 à 10:00 UTC` (French) or `2026-12-01 10:00 UTC`
/// (English); anything else as it is.
fn started_date(lang: Lang, rfc: &str) -> String {
    let (Some(y), Some(m), Some(d), Some(hm)) = (
        rfc.get(0..4),
        rfc.get(5..7),
        rfc.get(8..10),
        rfc.get(11..16),
    ) else {
        return rfc.to_string();
    };
    match lang {
        Lang::Fr => format!("{d}/{m}/{y} à {hm} UTC"),
        Lang::En => format!("{y}-{m}-{d} {hm} UTC"),
    }
}
