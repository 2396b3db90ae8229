//! The one place where PID 1's scan child calls the scan engine, so the boot flow does not
//! depend on the engine's details.

use crate::record::{Record, SummaryRecord};
use crate::scan::{Engine, ScanOptions};
use crate::sink::Sink;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Scans `targets` with the rules in `rules` (file or directory, or bundle), sending every
/// record to `sink`; returns the exit code of the scan child (the verdict's: 0 clean,
/// 1 infected, 2 incomplete). When a base host record is given, the completed one (rules, end
/// time, machine names read from the scanned disks) follows the summary. Volumes in `skip`
/// (finished before a cut, issue 14) are not read again.
pub fn scan_host(
    targets: &[PathBuf],
    rules: &Path,
    threads: usize,
    sink: &mut dyn Sink,
    host: Option<crate::record::HostRecord>,
    skip: &std::collections::BTreeSet<(String, u32, u64, u64)>,
) -> i32 {
    let mut opts = ScanOptions {
        rules: Some(rules.to_path_buf()),
        skip_volumes: skip.clone(),
        ..ScanOptions::default()
    };
    if threads > 0 {
        opts.threads = threads;
    }
    let t = std::time::Instant::now();
    let mut engine = match Engine::new(opts) {
        Ok(e) => e,
        Err(e) => {
            super::say(&format!(
                "  cannot load the rules from {}: {e}",
                rules.display()
            ));
            let s = SummaryRecord::nothing_scanned();
            sink.record(&Record::Summary(s.clone()));
            return s.verdict.exit_code();
        }
    };
    super::say(&format!(
        "  rules loaded in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    engine.capture(crate::hostinfo::CAPTURE, crate::hostinfo::CAPTURE_MAX);
    let cancel = AtomicBool::new(false);
    let mut tee = crate::persist::Tee {
        inner: sink,
        findings: Vec::new(),
    };
    let summary = engine.scan_paths(targets, &mut tee, &cancel);
    let sink = tee.inner;
    // Autostart entries (host-disk content: read here, in the child), joined to the findings.
    if !summary.cancelled {
        crate::persist::report(targets, &tee.findings, sink);
    }
    if let Some(mut h) = host {
        // Machine names come from host-disk content: parsed here, in the child, never in PID 1.
        let captured = engine.take_captured();
        let (win, lin) = crate::hostinfo::names(&captured);
        h.windows_names = win;
        h.linux_names = lin;
        h.rules = crate::record::with_chosen_origin(engine.rules().info(), &h.rules);
        h.cancelled |= summary.cancelled;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        h.ended = Some(super::logpart::rfc3339(now));
        sink.record(&Record::Host(h));
    }
    summary.verdict.exit_code()
}
