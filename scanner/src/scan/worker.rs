//! Worker threads: each owns one yara-x `Scanner` (it is `!Send`) over the shared rules, takes
//! file contents from a channel, and sends back matches, the SHA-256 when needed, and the
//! buffer itself so the coordinator can reuse it.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use sha2::{Digest, Sha256};

use super::iocs::HashIocs;
use crate::fs::{guard, SkipReason};

/// One file's content, fully read, to scan.
pub(crate) struct Job {
    /// Index of the coordinator's accounting slot (volume or disk area).
    pub slot: usize,
    pub path: String,
    pub stream: Option<String>,
    pub data: Vec<u8>,
    /// Set when reading failed part-way: what was read is still scanned, the outcome is an error.
    pub read_error: Option<String>,
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Scanned,
    Skipped(SkipReason),
    Error(String),
}

/// A rule that matched: (identifier, namespace).
pub(crate) type RuleHit = (String, String);

pub(crate) struct Done {
    pub slot: usize,
    pub path: String,
    pub stream: Option<String>,
    pub data: Vec<u8>,
    pub outcome: Outcome,
    pub hits: Vec<RuleHit>,
    pub sha256: Option<[u8; 32]>,
    pub bytes: u64,
    /// Scanned in blocks mode (no modules) rather than whole.
    pub blocks: bool,
}

pub(crate) fn run(
    rules: &yara_x::Rules,
    iocs: &HashIocs,
    timeout: Duration,
    jobs: Receiver<Job>,
    done: Sender<Done>,
) {
    let mut scanner = new_scanner(rules, timeout);
    for job in jobs {
        let (outcome, hits, crashed) = scan_one(&mut scanner, &job.data);
        if crashed {
            // A panic may leave the scanner's state inconsistent: start afresh.
            scanner = new_scanner(rules, timeout);
        }
        let outcome = match (job.read_error, outcome) {
            (Some(e), _) => Outcome::Error(e),
            (None, o) => o,
        };
        let sha256 =
            (!iocs.is_empty() || !hits.is_empty()).then(|| Sha256::digest(&job.data).into());
        let bytes = job.data.len() as u64;
        let msg = Done {
            slot: job.slot,
            path: job.path,
            stream: job.stream,
            data: job.data,
            outcome,
            hits,
            sha256,
            bytes,
            blocks: false,
        };
        if done.send(msg).is_err() {
            return;
        }
    }
}

fn new_scanner(rules: &yara_x::Rules, timeout: Duration) -> yara_x::Scanner<'_> {
    let mut scanner = yara_x::Scanner::new(rules);
    scanner.set_timeout(timeout);
    scanner
}

fn scan_one(scanner: &mut yara_x::Scanner<'_>, data: &[u8]) -> (Outcome, Vec<RuleHit>, bool) {
    let result = guard(|| match scanner.scan(data) {
        Ok(results) => Ok(results
            .matching_rules()
            .map(|r| (r.identifier().to_string(), r.namespace().to_string()))
            .collect::<Vec<_>>()),
        Err(e) => Err(e),
    });
    match result {
        Ok(Ok(hits)) => (Outcome::Scanned, hits, false),
        Ok(Err(yara_x::ScanError::Timeout)) => {
            (Outcome::Skipped(SkipReason::Timeout), Vec::new(), false)
        }
        Ok(Err(e)) => (
            Outcome::Error(format!("rule engine: {e}")),
            Vec::new(),
            false,
        ),
        Err(panic) => (
            Outcome::Error(format!("rule engine crashed: {panic}")),
            Vec::new(),
            true,
        ),
    }
}
