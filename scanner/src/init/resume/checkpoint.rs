//! The checkpoint's format, and whether one may be offered. The text is JSON Lines: a
//! segment starts with a `checkpoint` head line (scan id, machine key, rules, start time,
//! volumes to scan); each finished volume adds the record lines that arrived since the
//! previous one (disk records, findings, persistence entries, the volume record) followed by a
//! `checkpoint_at` line; a boot that resumes the scan adds a `checkpoint_resumed` line (the
//! start of its time span). Today the text is one segment, saved whole and gzip-compressed in
//! the scan's folder at each finished volume (see [`super`]). The older checkpoint,
//! `VIGIE/resume.jsonl` (appended to; `checkpoint_end` once the scan ended normally), holds
//! several segments: only the last counts, and a partial chunk after its last `checkpoint_at`
//! (a cut append) is dropped.

use crate::record::{HostRecord, Record, VolumeRecord};
use serde::{Deserialize, Serialize};

/// Checkpoints older than this are not offered (the machine may have changed since).
pub const MAX_AGE_SECS: u64 = 7 * 24 * 3600;

/// The head line of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The interrupted scan's id.
    pub scan_id: String,
    /// See [`machine_key`].
    pub machine: String,
    /// SHA-256 of the rules used (a resumed scan must use the same rules).
    pub rules: String,
    /// When the interrupted scan started (RFC 3339).
    pub started: String,
    /// The same, Unix time (for the age check).
    pub started_unix: u64,
    /// Volumes on the disks to scan (for the prompt: "N of M").
    pub volumes: u32,
}

/// The `checkpoint_at` line after each finished volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct At {
    at: String,
    unix: u64,
}

/// The `checkpoint_resumed` line: a boot that resumed the scan started then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Resumed {
    at: String,
    unix: u64,
}

/// One boot's part of the scan: when it started, and when its last volume finished (`None`:
/// it finished none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    /// Start (RFC 3339, Unix time).
    pub started: (String, u64),
    /// Its last finished volume (RFC 3339, Unix time).
    pub last: Option<(String, u64)>,
}

/// What the last segment says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checkpoint {
    /// The segment's head (`None`: no segment).
    pub head: Option<Head>,
    /// Record lines of the finished volumes, in arrival order.
    pub lines: Vec<String>,
    /// When the last volume finished (RFC 3339, Unix time).
    pub last: Option<(String, u64)>,
    /// The scan ended normally (nothing to resume).
    pub ended: bool,
    /// Each boot's time span, oldest first (the first starts at the head).
    pub spans: Vec<Span>,
    /// The segment's text up to its last `checkpoint_at` line: what a resumed boot goes on
    /// from (a partial chunk after it is dropped).
    pub text: String,
    /// The scan folder holding the checkpoint (`VIGIE/scans/<folder>`); `None` for the older
    /// `VIGIE/resume.jsonl`.
    pub folder: Option<String>,
}

/// Why a checkpoint is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// No segment, or the scan ended normally, or no volume was finished.
    Nothing,
    /// Other disks (serials, sizes or kernel names differ).
    OtherMachine,
    /// The rules changed since (an update was applied): the earlier volumes were scanned
    /// with other rules.
    RulesChanged,
    /// Older than [`MAX_AGE_SECS`], or dated in the future (a clock that moved back).
    TooOld,
}

/// Which disks a scan covers: `name=serial/size` for each scanned disk, sorted. Kernel names
/// are part of it because the record keys volumes by device name.
pub fn machine_key(host: &HostRecord) -> String {
    let mut v: Vec<String> = host
        .disks
        .iter()
        .filter(|d| d.scanned)
        .map(|d| {
            format!(
                "{}={}/{}",
                d.name,
                d.serial.as_deref().unwrap_or("-"),
                d.size
            )
        })
        .collect();
    v.sort();
    v.join(",")
}

/// The head line of a new segment.
pub fn head_line(head: &Head) -> String {
    let mut v = serde_json::to_value(head).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), "checkpoint".into());
    }
    v.to_string()
}

/// The text appended when a volume finishes: its lines, then the `checkpoint_at` line.
pub fn chunk_text(lines: &[String], at: &str, unix: u64) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!(
        "{{\"type\":\"checkpoint_at\",\"at\":{},\"unix\":{unix}}}\n",
        serde_json::Value::from(at)
    ));
    s
}

/// The line a boot that resumes the scan adds (the start of its time span).
pub fn resumed_line(at: &str, unix: u64) -> String {
    format!(
        "{{\"type\":\"checkpoint_resumed\",\"at\":{},\"unix\":{unix}}}\n",
        serde_json::Value::from(at)
    )
}

/// The line the older checkpoint file got when the scan ended normally (read, and written by
/// tests; the scan folder's checkpoint is closed by the record saved into its folder).
pub fn end_line(scan_id: &str) -> String {
    format!(
        "{{\"type\":\"checkpoint_end\",\"scan_id\":{}}}\n",
        serde_json::Value::from(scan_id)
    )
}

/// Reads the last segment of the text (hostile: bounded by the caller's read; lines that do
/// not parse are ignored, lines after the last `checkpoint_at` are not kept).
pub fn parse(text: &str) -> Checkpoint {
    // (byte offset of the line, the line without its newline)
    let mut lines = Vec::new();
    let mut off = 0;
    for l in text.split_inclusive('\n') {
        lines.push((off, l.trim_end_matches(['\n', '\r'])));
        off += l.len();
    }
    let Some(start) = lines
        .iter()
        .rposition(|(_, l)| l.starts_with("{\"type\":\"checkpoint\"") || is_type(l, "checkpoint"))
    else {
        return Checkpoint::default();
    };
    let head = serde_json::from_str::<Head>(lines[start].1).ok();
    let mut cp = Checkpoint {
        spans: head
            .iter()
            .map(|h| Span {
                started: (h.started.clone(), h.started_unix),
                last: None,
            })
            .collect(),
        head,
        ..Checkpoint::default()
    };
    let seg = lines[start].0;
    let mut kept_to = text.len().min(seg + lines[start].1.len() + 1);
    let mut pending = Vec::new();
    for (i, (_, l)) in lines.iter().enumerate().skip(start + 1) {
        if is_type(l, "checkpoint_end") {
            cp.ended = true;
        } else if is_type(l, "checkpoint_at") {
            if let Ok(a) = serde_json::from_str::<At>(l) {
                cp.last = Some((a.at.clone(), a.unix));
                if let Some(s) = cp.spans.last_mut() {
                    s.last = Some((a.at, a.unix));
                }
            }
            cp.lines.append(&mut pending);
            kept_to = lines.get(i + 1).map_or(text.len(), |n| n.0);
        } else if is_type(l, "checkpoint_resumed") {
            // A partial chunk before it was a cut boot's: dropped, as at the end.
            pending.clear();
            if let Ok(r) = serde_json::from_str::<Resumed>(l) {
                cp.spans.push(Span {
                    started: (r.at, r.unix),
                    last: None,
                });
            }
        } else if serde_json::from_str::<Record>(l).is_ok() {
            pending.push((*l).to_string());
        }
    }
    cp.text = text.get(seg..kept_to).unwrap_or_default().to_string();
    if !cp.text.is_empty() && !cp.text.ends_with('\n') {
        cp.text.push('\n');
    }
    cp
}

fn is_type(line: &str, t: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("type").and_then(|x| x.as_str()).map(|x| x == t))
        .unwrap_or(false)
}

impl Checkpoint {
    /// Seconds the earlier boots scanned: the sum of their spans (start to last finished
    /// volume), never the time the machine stood cut between them.
    pub fn seconds(&self) -> f64 {
        self.spans
            .iter()
            .filter_map(|s| s.last.as_ref().map(|l| l.1.saturating_sub(s.started.1)))
            .sum::<u64>() as f64
    }

    /// The finished volumes' records.
    pub fn volumes(&self) -> Vec<VolumeRecord> {
        self.lines
            .iter()
            .filter_map(|l| match serde_json::from_str::<Record>(l) {
                Ok(Record::Volume(v)) => Some(v),
                _ => None,
            })
            .collect()
    }

    /// The keys the engine skips (`ScanOptions::skip_volumes`): disk, number, offset, size.
    pub fn skip_keys(&self) -> std::collections::BTreeSet<(String, u32, u64, u64)> {
        self.volumes()
            .into_iter()
            .map(|v| (v.disk, v.volume, v.offset, v.size))
            .collect()
    }

    /// The head when this checkpoint may be resumed on this machine with these rules now.
    pub fn offer(&self, host: &HostRecord, now: u64) -> Result<&Head, Stale> {
        let head = self.head.as_ref().ok_or(Stale::Nothing)?;
        if self.ended || self.volumes().is_empty() {
            return Err(Stale::Nothing);
        }
        if head.machine != machine_key(host) {
            return Err(Stale::OtherMachine);
        }
        if head.rules != host.rules.sha256 {
            return Err(Stale::RulesChanged);
        }
        if now > head.started_unix.saturating_add(MAX_AGE_SECS)
            || now.saturating_add(24 * 3600) < head.started_unix
        {
            return Err(Stale::TooOld);
        }
        Ok(head)
    }
}

impl Stale {
    /// The boot log's words.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nothing => "nothing to resume",
            Self::OtherMachine => "it was made on other disks",
            Self::RulesChanged => "the rules changed since",
            Self::TooOld => "it is older than 7 days (or dated in the future)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::HostDisk;

    pub(crate) fn host() -> HostRecord {
        let mut h = HostRecord {
            scan_id: "S2".into(),
            started: "2026-12-02T10:00:00Z".into(),
            ..HostRecord::default()
        };
        h.rules.sha256 = "ab".repeat(32);
        h.disks = vec![
            HostDisk {
                name: "sda".into(),
                serial: Some("SER-A".into()),
                size: 100,
                scanned: true,
                ..HostDisk::default()
            },
            HostDisk {
                name: "sdb".into(),
                serial: Some("STICK".into()),
                size: 50,
                scanned: false,
                ..HostDisk::default()
            },
        ];
        h
    }

    pub(crate) fn volume_line(n: u32) -> String {
        format!(
            r#"{{"type":"volume","disk":"/dev/sda","volume":{n},"fs":"fat32","offset":{},"size":1000,"label":null,"status":"scanned","files":3,"scanned":3,"skipped":{{}},"errors":0,"notes":[],"bytes":30}}"#,
            n * 1000
        )
    }

    fn head(h: &HostRecord) -> Head {
        Head {
            scan_id: "S1".into(),
            machine: machine_key(h),
            rules: h.rules.sha256.clone(),
            started: "2026-12-01T10:00:00Z".into(),
            started_unix: 1_000_000,
            volumes: 2,
        }
    }

    #[test]
    fn the_last_segment_counts_and_a_partial_chunk_is_dropped() {
        let h = host();
        let mut text = head_line(&head(&h)) + "\n";
        text += &chunk_text(&[volume_line(1)], "2026-12-01T10:05:00Z", 1_000_300);
        text += &end_line("S1");
        // A second scan, cut after its first volume and in the middle of its second chunk.
        let mut second = head(&h);
        second.scan_id = "S1b".into();
        text += &(head_line(&second) + "\n");
        text += &chunk_text(&[volume_line(1)], "2026-12-01T11:05:00Z", 1_003_900);
        text += &volume_line(2);
        text += "\n{\"type\":\"volu";
        let cp = parse(&text);
        assert_eq!(cp.head.as_ref().unwrap().scan_id, "S1b");
        assert!(!cp.ended);
        assert_eq!(cp.lines, vec![volume_line(1)]);
        assert_eq!(cp.last.as_ref().unwrap().1, 1_003_900);
        assert_eq!(cp.skip_keys().len(), 1);
        assert!(cp.skip_keys().contains(&("/dev/sda".into(), 1, 1000, 1000)));
        assert_eq!(cp.offer(&h, 1_004_000).unwrap().scan_id, "S1b");
    }

    #[test]
    fn a_stale_checkpoint_is_not_offered() {
        let h = host();
        let text = head_line(&head(&h))
            + "\n"
            + &chunk_text(&[volume_line(1)], "2026-12-01T10:05:00Z", 1_000_300);
        let cp = parse(&text);
        assert!(cp.offer(&h, 1_000_400).is_ok());
        let mut other = h.clone();
        other.disks[0].serial = Some("SER-B".into());
        assert_eq!(cp.offer(&other, 1_000_400), Err(Stale::OtherMachine));
        let mut renamed = h.clone();
        renamed.disks[0].name = "sdc".into();
        assert_eq!(cp.offer(&renamed, 1_000_400), Err(Stale::OtherMachine));
        let mut rules = h.clone();
        rules.rules.sha256 = "cd".repeat(32);
        assert_eq!(cp.offer(&rules, 1_000_400), Err(Stale::RulesChanged));
        assert_eq!(
            cp.offer(&h, 1_000_000 + MAX_AGE_SECS + 1),
            Err(Stale::TooOld)
        );
        assert_eq!(cp.offer(&h, 1_000), Err(Stale::TooOld));
        let ended = parse(&(text.clone() + &end_line("S1")));
        assert_eq!(ended.offer(&h, 1_000_400), Err(Stale::Nothing));
        let empty = parse(&(head_line(&head(&h)) + "\n"));
        assert_eq!(empty.offer(&h, 1_000_400), Err(Stale::Nothing));
        assert_eq!(parse("").offer(&h, 1), Err(Stale::Nothing));
    }

    #[test]
    fn hostile_checkpoint_text_never_panics() {
        let h = host();
        let good = head_line(&head(&h))
            + "\n"
            + &chunk_text(&[volume_line(1)], "2026-12-01T10:05:00Z", 1_000_300);
        let bytes = good.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] ^= 0x5a;
            let cp = parse(&String::from_utf8_lossy(&b));
            let _ = cp.offer(&h, 1_000_400);
            let mut c = bytes[..i].to_vec();
            c.push(b'\n');
            let _ = parse(&String::from_utf8_lossy(&c)).skip_keys();
        }
    }
}
