//! The JSON Lines record of a scan (`record.jsonl`): the host record first, then the scan's
//! lines; and what the save reads back from the lines (the summary, the child's host record).

use crate::record::{HostRecord, Record, SummaryRecord};

/// The summary among the lines, if any.
pub fn summary_of(lines: &[String]) -> Option<SummaryRecord> {
    lines
        .iter()
        .rev()
        .find_map(|l| match serde_json::from_str::<Record>(l) {
            Ok(Record::Summary(s)) => Some(s),
            _ => None,
        })
}

/// The host record to write: the child's completed one if it sent it, else the base one;
/// PID 1's notes are kept.
pub fn merged_host(base: &HostRecord, lines: &[String]) -> HostRecord {
    let mut h = lines
        .iter()
        .rev()
        .find_map(|l| match serde_json::from_str::<Record>(l) {
            Ok(Record::Host(h)) => Some(h),
            _ => None,
        })
        .unwrap_or_else(|| base.clone());
    for n in &base.notes {
        if !h.notes.contains(n) {
            h.notes.push(n.clone());
        }
    }
    if base.cancelled {
        h.cancelled = true;
    }
    // A resumed scan (issue 14): PID 1 knows the earlier part, the UI child does not.
    if h.resumed.is_none() {
        h.resumed = base.resumed.clone();
    }
    h
}

/// `record.jsonl`: the host line then every other line, newline-terminated.
pub fn record_text(host: &HostRecord, lines: &[String]) -> String {
    let mut s = Record::Host(host.clone()).to_json_line();
    s.push('\n');
    for l in lines {
        if l.contains("\"type\":\"host\"") && l.starts_with("{\"type\":\"host\"") {
            continue;
        }
        s.push_str(l);
        s.push('\n');
    }
    s
}
