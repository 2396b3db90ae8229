//! Worker threads: each owns one yara-x `Scanner` (it is `!Send`) over the shared rules, takes
//! file contents from a channel (in batches, see `engine/batch.rs`), and sends back, batch for
//! batch, matches, the SHA-256 when needed, and the buffers so the coordinator can reuse them.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::iocs::{HashIocs, Hasher, Ioc};
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
    /// From a FAT/NTFS volume (Windows path style for the LOKI/THOR variables).
    pub windows: bool,
    /// Member path inside the file when this is a container's member (see `container`).
    pub member: Option<String>,
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
    /// The hash indicator the content's digests match (MD5/SHA-1/SHA-256, size-checked).
    pub ioc: Option<Ioc>,
    pub bytes: u64,
    /// Scanned in blocks mode (no modules) rather than whole.
    pub blocks: bool,
    /// The job's member path, if any.
    pub member: Option<String>,
}

pub(crate) fn run(
    rules: &yara_x::Rules,
    iocs: &HashIocs,
    timeout: Duration,
    jobs: Receiver<Vec<Job>>,
    done: Sender<Vec<Done>>,
) {
    let mut scanner = new_scanner(rules, timeout);
    let mut vars = FileVars::default();
    for batch in jobs {
        let mut out = Vec::with_capacity(batch.len());
        for job in batch {
            out.push(scan_job(&mut scanner, &mut vars, rules, iocs, timeout, job));
        }
        if done.send(out).is_err() {
            return;
        }
    }
}

fn scan_job<'r>(
    scanner: &mut yara_x::Scanner<'r>,
    vars: &mut FileVars,
    rules: &'r yara_x::Rules,
    iocs: &HashIocs,
    timeout: Duration,
    job: Job,
) -> Done {
    vars.set(scanner, &job.path, job.windows, &job.data);
    let (outcome, hits, crashed) = scan_one(scanner, &job.data);
    if crashed {
        // A panic may leave the scanner's state inconsistent: start afresh.
        *scanner = new_scanner(rules, timeout);
        *vars = FileVars::default();
    }
    let outcome = match (job.read_error, outcome) {
        (Some(e), _) => Outcome::Error(e),
        (None, o) => o,
    };
    // Only the digests the loaded lists need (SHA-256 always, for the finding record).
    let digests =
        (!iocs.is_empty() || !hits.is_empty()).then(|| Hasher::digest(iocs.needs(), &job.data));
    let ioc = digests
        .as_ref()
        .and_then(|d| iocs.find(d, job.data.len() as u64))
        .cloned();
    let sha256 = digests.map(|d| d.sha256);
    let bytes = job.data.len() as u64;
    Done {
        slot: job.slot,
        path: job.path,
        stream: job.stream,
        data: job.data,
        outcome,
        hits,
        sha256,
        ioc,
        bytes,
        blocks: false,
        member: job.member,
    }
}

/// A worker's LOKI/THOR variables as last set on its scanner: a variable is set again only
/// when its value changes (the extension and file type rarely do from one file to the next),
/// and the values are built in buffers kept from file to file, not allocated per file.
#[derive(Default)]
struct FileVars {
    /// The values last set, in the order of [`VAR_NAMES`]; meaningless until `primed`.
    last: [String; 4],
    primed: bool,
    filepath: String,
    extension: String,
}

impl FileVars {
    fn set(&mut self, scanner: &mut yara_x::Scanner<'_>, path: &str, windows: bool, data: &[u8]) {
        let name = file_name(path);
        self.extension.clear();
        if let Some(ext) = extension_of(name) {
            self.extension.push('.');
            self.extension
                .extend(ext.chars().map(|c| c.to_ascii_lowercase()));
        }
        let filepath = if windows {
            self.filepath.clear();
            self.filepath
                .extend(path.chars().map(|c| if c == '/' { '\\' } else { c }));
            self.filepath.as_str()
        } else {
            path
        };
        let values = [name, filepath, self.extension.as_str(), file_type(data)];
        let primed = std::mem::replace(&mut self.primed, true);
        for ((k, v), old) in VAR_NAMES.iter().zip(values).zip(self.last.iter_mut()) {
            if !primed || old != v {
                // Fails only for rules compiled without the variables (a pre-compiled file):
                // harmless.
                let _ = scanner.set_global(k, v);
                old.clear();
                old.push_str(v);
            }
        }
    }
}

/// The names of the variables [`file_vars`] gives values to, in its order.
const VAR_NAMES: [&str; 4] = ["filename", "filepath", "extension", "filetype"];

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The extension of a file name without its dot, as given (not for dot files).
fn extension_of(name: &str) -> Option<&str> {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => Some(ext),
        _ => None,
    }
}

/// The LOKI/THOR external variables for one file, from what the walker knows: `filename`,
/// `filepath` (full path; backslashes on FAT/NTFS), `extension` (`.exe`, lowercase),
/// `filetype` (from the magic bytes: `EXE`, `ELF`, `ZIP`, ...). `owner` stays empty: the
/// walkers do not resolve owners.
pub(crate) fn file_vars(path: &str, windows: bool, data: &[u8]) -> [(&'static str, String); 4] {
    let name = file_name(path);
    let extension = extension_of(name)
        .map(|ext| format!(".{}", ext.to_ascii_lowercase()))
        .unwrap_or_default();
    let filepath = if windows {
        path.replace('/', "\\")
    } else {
        path.to_string()
    };
    [
        (VAR_NAMES[0], name.to_string()),
        (VAR_NAMES[1], filepath),
        (VAR_NAMES[2], extension),
        (VAR_NAMES[3], file_type(data).to_string()),
    ]
}

fn file_type(data: &[u8]) -> &'static str {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"MZ", "EXE"),
        (b"\x7fELF", "ELF"),
        (b"PK\x03\x04", "ZIP"),
        (b"Rar!", "RAR"),
        (b"7z\xbc\xaf", "7Z"),
        (b"%PDF", "PDF"),
        (b"\xd0\xcf\x11\xe0", "OLE"),
        (b"\x1f\x8b", "GZIP"),
        (b"\xca\xfe\xba\xbe", "CLASS"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"\x89PNG", "PNG"),
        (b"GIF8", "GIF"),
        (b"{\\rtf", "RTF"),
        (b"#!", "SCRIPT"),
    ];
    MAGIC
        .iter()
        .find(|(m, _)| data.starts_with(m))
        .map_or("", |(_, t)| *t)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loki_variables_from_the_walker_path() {
        let v = file_vars("/Windows/Temp/Invoice.PDF.exe", true, b"MZ\x90\x00");
        assert_eq!(v[0].1, "Invoice.PDF.exe");
        assert_eq!(v[1].1, "\\Windows\\Temp\\Invoice.PDF.exe");
        assert_eq!(v[2].1, ".exe");
        assert_eq!(v[3].1, "EXE");
        let v = file_vars("/root/.bashrc", false, b"x");
        assert_eq!(
            (v[1].1.as_str(), v[2].1.as_str(), v[3].1.as_str()),
            ("/root/.bashrc", "", "")
        );
        let v = file_vars("/usr/bin/ls", false, b"\x7fELF");
        assert_eq!((v[2].1.as_str(), v[3].1.as_str()), ("", "ELF"));
    }

    #[test]
    fn rules_see_the_variables_of_each_file() {
        let mut c = crate::scan::rules::new_compiler();
        c.add_source(
            r#"rule win { condition: filepath contains "\\Temp\\" and extension == ".exe" and filetype == "EXE" }
               rule lin { condition: filename == "ls" and filepath startswith "/usr/" }"#,
        )
        .unwrap();
        let rules = c.build();
        let mut s = new_scanner(&rules, Duration::from_secs(5));
        let mut vars = FileVars::default();
        let mut hits = |path: &str, win: bool, data: &[u8]| {
            vars.set(&mut s, path, win, data);
            scan_one(&mut s, data)
                .1
                .into_iter()
                .map(|h| h.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(hits("/Windows/Temp/a.exe", true, b"MZ"), ["win"]);
        assert!(hits("/Windows/Temp/a.exe", true, b"ZM").is_empty());
        assert_eq!(hits("/usr/bin/ls", false, b""), ["lin"]);
        assert!(hits("/usr/bin/lsx", false, b"").is_empty());
        // Set again after a change, and only one variable changing from the previous file.
        assert_eq!(hits("/Windows/Temp/a.exe", true, b"MZ"), ["win"]);
        assert!(hits("/Windows/Temp/a.exe", true, b"ZM").is_empty());
        assert_eq!(hits("/Windows/Temp/a.exe", true, b"MZ"), ["win"]);
        assert!(hits("/Windows/Temp/a.txt", true, b"MZ").is_empty());
        assert_eq!(hits("/Windows/Temp/a.EXE", true, b"MZ"), ["win"]);
        assert!(hits("/Windows/Temp/a.EXE", false, b"MZ").is_empty());
    }

    #[test]
    fn kept_variables_are_the_values_of_each_file() {
        let rules = crate::scan::rules::new_compiler().build();
        let mut s = new_scanner(&rules, Duration::from_secs(5));
        let mut vars = FileVars::default();
        for (path, win, data) in [
            ("/Windows/Temp/Invoice.PDF.exe", true, &b"MZ"[..]),
            ("/Windows/Temp/Invoice.PDF.exe", false, b"PK\x03\x04"),
            ("/root/.bashrc", false, b"x"),
            ("/Dossier/Ébauche.ÉXE", true, b""),
            ("/a/b.TxT", true, b"#!"),
            ("noslash", false, b"\x7fELF"),
        ] {
            vars.set(&mut s, path, win, data);
            let want = file_vars(path, win, data).map(|(_, v)| v);
            assert_eq!(vars.last, want, "{path}");
        }
    }
}
