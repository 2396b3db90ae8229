//! The one place where PID 1's scan child calls the scan engine, so the boot flow does not
//! depend on the engine's details.

use crate::record::{Record, SummaryRecord, Verdict};
use crate::scan::{Engine, ScanOptions};
use crate::sink::Sink;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Scans `targets` with the rules in `rules` (file or directory), sending every record to
/// `sink`; returns the exit code of the scan child (the verdict's: 0 clean, 1 infected,
/// 2 incomplete).
pub fn scan(targets: &[PathBuf], rules: &Path, threads: usize, sink: &mut dyn Sink) -> i32 {
    let mut opts = ScanOptions {
        rules: Some(rules.to_path_buf()),
        ..ScanOptions::default()
    };
    if threads > 0 {
        opts.threads = threads;
    }
    let t = std::time::Instant::now();
    let engine = match Engine::new(opts) {
        Ok(e) => e,
        Err(e) => {
            super::say(&format!(
                "  cannot load the rules from {}: {e}",
                rules.display()
            ));
            let s = SummaryRecord {
                verdict: Verdict::Incomplete,
                files: 0,
                scanned: 0,
                findings: 0,
                bytes: 0,
                seconds: 0.0,
                skipped: 0,
                errors: 1,
                cancelled: false,
            };
            sink.record(&Record::Summary(s.clone()));
            return s.verdict.exit_code();
        }
    };
    super::say(&format!(
        "  rules loaded in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let cancel = AtomicBool::new(false);
    let summary = engine.scan_paths(targets, sink, &cancel);
    summary.verdict.exit_code()
}
