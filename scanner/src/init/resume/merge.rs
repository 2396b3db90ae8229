//! The one record of a resumed scan: the finished volumes' lines from the checkpoint (their
//! volume records marked `"resumed":true`), then this boot's lines without what repeats (the
//! disk records and boot-area findings of disks already recorded), and a summary whose counts
//! are the union.

use super::checkpoint::Checkpoint;
use crate::record::{Record, Resumed, SummaryRecord, TimeSpan};

/// Merges the checkpoint's lines and this boot's lines into one record's lines.
pub fn merge(earlier: &Checkpoint, now: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(earlier.lines.len() + now.len());
    let mut disks = std::collections::BTreeSet::new();
    let mut findings = std::collections::BTreeSet::new();
    for l in &earlier.lines {
        match serde_json::from_str::<Record>(l) {
            Ok(Record::Disk(d)) => {
                disks.insert(d.disk);
                out.push(l.clone());
            }
            Ok(Record::Finding(_)) => {
                findings.insert(l.as_str());
                out.push(l.clone());
            }
            Ok(Record::Volume(_)) => out.push(mark_resumed(l)),
            _ => out.push(l.clone()),
        }
    }
    let mut dropped_findings = 0u64;
    for l in now {
        match serde_json::from_str::<Record>(l) {
            Ok(Record::Disk(d)) if disks.contains(&d.disk) => {}
            Ok(Record::Finding(_)) if findings.contains(l.as_str()) => dropped_findings += 1,
            Ok(Record::Summary(s)) => {
                out.push(Record::Summary(union(earlier, s, dropped_findings)).to_json_line())
            }
            _ => out.push(l.clone()),
        }
    }
    out
}

/// The earlier part for the host record (`resumed`).
pub fn resumed(earlier: &Checkpoint) -> Option<Resumed> {
    let head = earlier.head.as_ref()?;
    Some(Resumed {
        from: head.scan_id.clone(),
        volumes: earlier.volumes().len() as u32,
        // Each earlier boot's span that finished a volume (the record holds its volumes);
        // a boot cut before its first finished volume left nothing in the record.
        spans: earlier
            .spans
            .iter()
            .filter(|s| s.last.is_some() || earlier.spans.len() == 1)
            .map(|s| TimeSpan {
                started: s.started.0.clone(),
                ended: s.last.as_ref().map(|l| l.0.clone()),
            })
            .collect(),
    })
}

fn mark_resumed(line: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.insert("resumed".into(), true.into());
            }
            v.to_string()
        }
        Err(_) => line.to_string(),
    }
}

/// This boot's summary plus the finished volumes' counts (see [`crate::resumed`]).
fn union(earlier: &Checkpoint, s: SummaryRecord, dropped_findings: u64) -> SummaryRecord {
    let earlier_findings = earlier
        .lines
        .iter()
        .filter(|l| matches!(serde_json::from_str::<Record>(l), Ok(Record::Finding(_))))
        .count() as u64;
    let mut s =
        crate::resumed::union_summary(s, &earlier.volumes(), earlier_findings, earlier.seconds());
    // Repeated boot-area findings were counted in both parts; the verdict stays infected.
    s.findings = s
        .findings
        .saturating_sub(dropped_findings)
        .max(1.min(s.findings));
    s
}

#[cfg(test)]
mod tests {
    use super::super::checkpoint::{chunk_text, head_line, machine_key, parse, Head};
    use super::*;
    use crate::record::Verdict;

    const DISK: &str = r#"{"type":"disk","disk":"/dev/sda","size":3000,"table":"mbr","sector_size":512,"notes":[]}"#;

    fn vol(n: u32, status: &str) -> String {
        format!(
            r#"{{"type":"volume","disk":"/dev/sda","volume":{n},"fs":"fat32","offset":{},"size":1000,"label":null,"status":"{status}","files":3,"scanned":3,"skipped":{{}},"errors":0,"notes":[],"bytes":30}}"#,
            n * 1000
        )
    }

    fn finding(path: &str, vol: &str) -> String {
        format!(
            r#"{{"type":"finding","disk":"/dev/sda","volume":{vol},"path":"{path}","stream":null,"kind":"yara","rule":"EICAR","namespace":"default","sha256":"00","size":68,"mode":"full"}}"#
        )
    }

    fn summary(verdict: &str, files: u64, findings: u64) -> String {
        format!(
            r#"{{"type":"summary","verdict":"{verdict}","files":{files},"scanned":{files},"findings":{findings},"bytes":{},"seconds":10.0,"skipped":0,"errors":0,"cancelled":false}}"#,
            files * 10
        )
    }

    fn checkpoint(lines: &[String]) -> Checkpoint {
        let h = crate::record::HostRecord::default();
        let head = Head {
            scan_id: "S1".into(),
            machine: machine_key(&h),
            rules: String::new(),
            started: "2026-12-01T10:00:00Z".into(),
            started_unix: 1_000,
            volumes: 2,
        };
        parse(&(head_line(&head) + "\n" + &chunk_text(lines, "2026-12-01T10:01:40Z", 1_100)))
    }

    #[test]
    fn the_union_counts_both_parts_once() {
        let mbr = finding("<mbr>", "null");
        let cp = checkpoint(&[
            DISK.into(),
            mbr.clone(),
            finding("a.txt", "1"),
            vol(1, "scanned"),
        ]);
        let now = vec![
            DISK.to_string(),
            mbr.clone(),
            vol(2, "scanned"),
            summary("infected", 4, 1),
        ];
        let out = merge(&cp, &now);
        let recs: Vec<Record> = out
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            recs.iter().filter(|r| matches!(r, Record::Disk(_))).count(),
            1
        );
        assert_eq!(
            recs.iter()
                .filter(|r| matches!(r, Record::Finding(_)))
                .count(),
            2
        );
        let vols: Vec<u32> = recs
            .iter()
            .filter_map(|r| match r {
                Record::Volume(v) => Some(v.volume),
                _ => None,
            })
            .collect();
        assert_eq!(vols, vec![1, 2]);
        assert!(out[3].contains("\"resumed\":true"));
        assert!(!out[4].contains("resumed"));
        let Some(Record::Summary(s)) = recs.last() else {
            panic!()
        };
        assert_eq!((s.files, s.scanned, s.bytes, s.findings), (7, 7, 70, 2));
        assert_eq!(s.verdict, Verdict::Infected);
        assert_eq!(s.seconds, 110.0);
        let r = resumed(&cp).unwrap();
        assert_eq!((r.from.as_str(), r.volumes), ("S1", 1));
        assert_eq!(r.spans[0].ended.as_deref(), Some("2026-12-01T10:01:40Z"));
    }

    #[test]
    fn an_earlier_finding_or_gap_is_never_lost_by_a_clean_second_part() {
        let cp = checkpoint(&[finding("a.txt", "1"), vol(1, "scanned")]);
        let out = merge(&cp, &[vol(2, "scanned"), summary("clean", 3, 0)]);
        let Ok(Record::Summary(s)) = serde_json::from_str(out.last().unwrap()) else {
            panic!()
        };
        assert_eq!((s.verdict, s.findings), (Verdict::Infected, 1));
        let cp = checkpoint(&[vol(1, "partial")]);
        let out = merge(&cp, &[vol(2, "scanned"), summary("clean", 3, 0)]);
        let Ok(Record::Summary(s)) = serde_json::from_str(out.last().unwrap()) else {
            panic!()
        };
        assert_eq!(s.verdict, Verdict::Incomplete);
        let cp = checkpoint(&[vol(1, "scanned")]);
        let out = merge(&cp, &[vol(2, "scanned"), summary("clean", 3, 0)]);
        let Ok(Record::Summary(s)) = serde_json::from_str(out.last().unwrap()) else {
            panic!()
        };
        assert_eq!((s.verdict, s.files), (Verdict::Clean, 6));
    }
}
