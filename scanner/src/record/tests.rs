//! Contract tests: field names, defaults of older records, the rules' chosen origin.

use std::collections::BTreeMap;

use super::*;

#[test]
fn the_chosen_origin_replaces_the_copy_path_only_for_the_same_bundle() {
    let loaded = RulesInfo {
        origin: "/run/vigie/2026.1.1.1-abc.vgb".into(),
        sha256: "abc".into(),
        ..RulesInfo::default()
    };
    let chosen = RulesInfo {
        origin: "updates/new.vgb".into(),
        sha256: "abc".into(),
        ..RulesInfo::default()
    };
    assert_eq!(
        with_chosen_origin(loaded.clone(), &chosen).origin,
        "updates/new.vgb"
    );
    let other = RulesInfo {
        sha256: "def".into(),
        ..chosen
    };
    assert_eq!(
        with_chosen_origin(loaded.clone(), &other).origin,
        loaded.origin
    );
    assert_eq!(
        with_chosen_origin(loaded.clone(), &RulesInfo::default()).origin,
        loaded.origin
    );
}

#[test]
fn records_serialise_with_contract_field_names() {
    let v = Record::Volume(VolumeRecord {
        disk: "d.img".into(),
        volume: 5,
        fs: FsKind::Ntfs,
        offset: 1048576,
        size: 2,
        label: None,
        status: VolumeStatus::Partial,
        files: 3,
        scanned: 1,
        skipped: BTreeMap::from([("encrypted".to_string(), 1)]),
        errors: 1,
        notes: vec!["dirty".into()],
        bytes: 10,
        members: MemberCounts::default(),
    });
    let j: serde_json::Value = serde_json::from_str(&v.to_json_line()).unwrap();
    assert_eq!(j["type"], "volume");
    assert_eq!(j["fs"], "ntfs");
    assert_eq!(j["status"], "partial");
    assert_eq!(j["label"], serde_json::Value::Null);
    assert_eq!(j["skipped"]["encrypted"], 1);
    assert_eq!(j["notes"][0], "dirty");
    assert_eq!(j["note_codes"][0]["code"], "other");
    assert_eq!(j["note_codes"][0]["text"], "dirty");
    let back: Record = serde_json::from_value(j).unwrap();
    assert_eq!(back, v);
    let s = Record::Summary(SummaryRecord {
        verdict: Verdict::Incomplete,
        files: 1,
        scanned: 0,
        findings: 0,
        bytes: 0,
        seconds: 0.5,
        skipped: 1,
        errors: 0,
        cancelled: false,
        members: MemberCounts::default(),
        mode: ScanMode::Quick,
        not_selected: 7,
    });
    let line = s.to_json_line();
    assert!(line.starts_with(r#"{"type":"summary","verdict":"incomplete""#));
    assert!(
        line.contains(r#""mode":"quick","not_selected":7"#),
        "{line}"
    );
    let back: Record = serde_json::from_str(&line).unwrap();
    assert_eq!(back, s);
    let old: SummaryRecord = serde_json::from_str(
        r#"{"verdict":"clean","files":1,"scanned":1,"findings":0,"bytes":1,"seconds":1}"#,
    )
    .unwrap();
    assert_eq!((old.mode, old.not_selected), (ScanMode::Full, 0));
}

#[test]
fn host_records_carry_their_notes_as_codes_too() {
    let mut h = HostRecord {
        scan_id: "s".into(),
        scanner_version: "0".into(),
        started: "2026-12-02T10:00:00Z".into(),
        clock: "rtc-utc".into(),
        notes: vec![crate::privacy::NOTE.into(), "something new".into()],
        ..HostRecord::default()
    };
    let j: serde_json::Value = serde_json::to_value(&h).unwrap();
    assert_eq!(j["notes"][0], crate::privacy::NOTE);
    assert_eq!(j["note_codes"][0]["code"], "pseudonymised");
    assert_eq!(j["note_codes"][1]["code"], "other");
    assert_eq!(j["note_codes"][1]["text"], "something new");
    // Reading ignores `note_codes` (older records have none): the record comes back whole.
    let back: HostRecord = serde_json::from_value(j).unwrap();
    assert_eq!(back, h);
    h.notes.clear();
    let j = serde_json::to_value(&h).unwrap();
    assert!(
        j.get("note_codes").is_none() && j.get("notes").is_none(),
        "{j}"
    );
}
