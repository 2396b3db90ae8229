//! Draws the UI state: a pure function of [`App`], no I/O, so every screen is snapshot-tested
//! on ratatui's `TestBackend`.
//!
//! Console constraints (see `crate-notes.md`): only plain or double box lines, full blocks and
//! ASCII/CP437 letters; backgrounds from the 8 dark colours only; works from 80x25 up.

use ratatui::layout::{Alignment, Constraint, Layout as Split, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Gauge, Paragraph};
use ratatui::Frame;

use super::app::{App, MachineDisk, MachineVolume, OptionRow, Screen, VolumeKind, DETAILS_TABS};
use super::i18n::{duration, size, Lang, Strings};
use super::keymap::Layout;
use crate::record::{FsKind, Verdict, VolumeStatus};
use crate::text::note::render_text;
use crate::text::{fs_name, location, rules_origin, skip_reason};

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
        Screen::Welcome => welcome(app, t, f, body),
        Screen::Machine => machine(app, t, f, body),
        Screen::Options => options(app, t, f, body),
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

fn welcome(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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
        Line::from(""),
        Line::styled(format!("  {}", t.rules), LABEL),
    ];
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

fn kind_name(t: &Strings, v: &MachineVolume) -> &'static str {
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

fn disk_line(lang: Lang, t: &Strings, d: &MachineDisk) -> String {
    format!(
        "{} {}  {}  {}",
        t.disk,
        d.name,
        size(lang, d.size),
        d.model.as_deref().unwrap_or(t.unknown_model)
    )
}

fn disk_ids(t: &Strings, d: &MachineDisk) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(b) = &d.bus {
        parts.push(format!("{} {b}", t.bus));
    }
    if let Some(sn) = &d.serial {
        parts.push(format!("{} {sn}", t.serial));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn machine(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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

fn options(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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
    let field = format!("[{:<w$}]", app.asset_tag, w = super::app::ASSET_TAG_MAX);
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

/// "full 2 h 10 min, quick 6 min" for the chosen disks (issue 14; assumptions in
/// `scan::estimate`), from the bytes allocated on their readable volumes.
fn estimates(app: &App, t: &Strings) -> String {
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

fn progress(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
    let block = frame(t.progress);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let s = &app.scan;
    let p = &s.progress;
    // Overall: volumes finished over volumes to scan, weighted by their size.
    let targets = app.targets();
    let vols: Vec<(String, u32, u64)> = app
        .machine
        .iter()
        .flat_map(|m| m.disks.iter())
        .filter(|d| targets.contains(&d.dev))
        .flat_map(|d| {
            d.volumes
                .iter()
                .map(move |v| (d.dev.clone(), v.number, v.size))
        })
        .collect();
    let total: u64 = vols.iter().map(|v| v.2).sum::<u64>().max(1);
    let done: u64 = vols
        .iter()
        .filter(|(d, n, _)| s.volumes.iter().any(|v| &v.disk == d && v.volume == *n))
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
    let vols_alloc = scanned_volumes(app);
    let alloc: Option<u64> = vols_alloc
        .iter()
        .any(|v| v.3.is_some())
        .then(|| vols_alloc.iter().filter_map(|v| v.3).sum());
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
                elide(&p.path, (rest.width as usize).saturating_sub(22))
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

/// 5x5 block letters for the verdict banner words (the letters of [`Strings`]'s banners);
/// anything else is drawn as a space.
fn glyph(c: char) -> [&'static str; 5] {
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

fn status_name(t: &Strings, s: VolumeStatus) -> &'static str {
    match s {
        VolumeStatus::Scanned => t.status_scanned,
        VolumeStatus::Partial => t.status_partial,
        VolumeStatus::Encrypted => t.status_encrypted,
        VolumeStatus::Unsupported => t.status_unsupported,
        VolumeStatus::Error => t.status_error,
    }
}

/// What was not scanned, one line each (amber verdict, details).
fn not_scanned_lines(app: &App, t: &Strings) -> Vec<String> {
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

fn verdict(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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

fn details(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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

fn end(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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
fn where_saved(p: &str, width: usize) -> Vec<String> {
    match p.split_once(":/") {
        Some((part, path)) => vec![format!("{part} :"), elide(&format!("/{path}"), width)],
        None => vec![elide(p, width)],
    }
}

fn crash(app: &App, t: &Strings, f: &mut Frame, area: Rect) {
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
