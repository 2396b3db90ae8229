//! Unit tests of the UI state: the flow from screen to screen, the options, the verdict.

use super::*;
use crate::record::{Record, RulesInfo, SummaryRecord, Verdict};

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
