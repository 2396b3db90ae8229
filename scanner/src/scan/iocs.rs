//! Hash indicators of compromise, in the formats CERTs and ClamAV publish.
//!
//! Accepted, one list per file (the format is chosen by the list's extension, then by its
//! first line):
//! - plain lists: one MD5, SHA-1 or SHA-256 digest per line (the length tells), optionally
//!   followed by whitespace and a name (so `sha256sum` output works, `*` binary marks
//!   dropped); `#` starts a comment;
//! - ClamAV `.hdb` / `.hsb` (`.hdu`/`.hsu`): `hash:size:name[:flevel...]`, the size a number
//!   or `*` (any size);
//! - CSV with a header row naming the hash column(s) (`sha256_hash`, `md5_hash`, `sha1_hash`
//!   as in abuse.ch exports, `md5`/`sha1`/`sha256`/`hash`, or MISP's `value` / ThreatFox's
//!   `ioc_value`, where cells that are not digests are other kinds of indicators, skipped);
//!   `#` lines are comments, quotes are honoured.
//!
//! A malformed line is an error that names the line: a silently dropped indicator is a
//! silently missed threat. Only the digests the loaded lists need are computed
//! ([`HashIocs::needs`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::Digest;

/// Where an indicator came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ioc {
    /// The name given on the line, or the algorithm (`sha256`, `md5`, `sha1`).
    pub name: String,
    /// File name of the list (the finding's namespace).
    pub list: String,
    /// The content size the indicator requires (ClamAV lists), `None` for any size.
    pub size: Option<u64>,
}

/// All loaded indicators, by digest.
#[derive(Debug, Default, Clone)]
pub struct HashIocs {
    sha256: HashMap<[u8; 32], Vec<Ioc>>,
    sha1: HashMap<[u8; 20], Vec<Ioc>>,
    md5: HashMap<[u8; 16], Vec<Ioc>>,
}

/// Which digests the loaded lists need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// MD5 indicators are loaded.
    pub md5: bool,
    /// SHA-1 indicators are loaded.
    pub sha1: bool,
}

/// The digests of one content. SHA-256 is always computed for a finding's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256.
    pub sha256: [u8; 32],
    /// MD5, when needed.
    pub md5: Option<[u8; 16]>,
    /// SHA-1, when needed.
    pub sha1: Option<[u8; 20]>,
}

/// Incremental hashing of what [`Needs`] asks for (blocks mode feeds it block by block).
pub struct Hasher {
    sha256: sha2::Sha256,
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
}

impl Hasher {
    /// A hasher for these needs.
    pub fn new(needs: Needs) -> Self {
        Self {
            sha256: sha2::Sha256::new(),
            md5: needs.md5.then(md5::Md5::new),
            sha1: needs.sha1.then(sha1::Sha1::new),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(h) = &mut self.md5 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
    }

    /// The digests.
    pub fn finish(self) -> Digests {
        Digests {
            sha256: self.sha256.finalize().into(),
            md5: self.md5.map(|h| h.finalize().into()),
            sha1: self.sha1.map(|h| h.finalize().into()),
        }
    }

    /// All at once.
    pub fn digest(needs: Needs, data: &[u8]) -> Digests {
        let mut h = Self::new(needs);
        h.update(data);
        h.finish()
    }
}

/// A list that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IocError {
    /// Unreadable file.
    #[error("cannot read hash list {path}: {source}")]
    Io {
        /// The list.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line that is not an indicator in the list's format.
    #[error("{path}:{line}: not a hash indicator: {text:?}")]
    Malformed {
        /// The list.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending text (truncated).
        text: String,
    },
}

/// One parsed digest.
enum Parsed {
    Md5([u8; 16]),
    Sha1([u8; 20]),
    Sha256([u8; 32]),
}

impl Parsed {
    fn algorithm(&self) -> &'static str {
        match self {
            Self::Md5(_) => "md5",
            Self::Sha1(_) => "sha1",
            Self::Sha256(_) => "sha256",
        }
    }
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let b = text.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn parse_any(text: &str) -> Option<Parsed> {
    let t = text.trim();
    match t.len() {
        32 => unhex(t).map(Parsed::Md5),
        40 => unhex(t).map(Parsed::Sha1),
        64 => unhex(t).map(Parsed::Sha256),
        _ => None,
    }
}

/// The list formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    ClamAv,
    Csv,
}

fn format_of(list: &str, text: &str) -> Format {
    let ext = list
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "hdb" | "hsb" | "hdu" | "hsu" => return Format::ClamAv,
        "csv" => return Format::Csv,
        _ => {}
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if first.contains(',') && csv_columns(first).is_some() {
        Format::Csv
    } else if first.split(':').count() >= 3 && first.split(':').next().and_then(parse_any).is_some()
    {
        Format::ClamAv
    } else {
        Format::Plain
    }
}

/// Splits one CSV line (double quotes group, `""` is a quote).
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' | ';' if !quoted => cells.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

/// The columns of a CSV list: hash columns (index, strict: a non-digest cell is an error),
/// and the name column.
type Columns = (Vec<(usize, bool)>, Option<usize>);

/// Columns of a CSV header.
fn csv_columns(header: &str) -> Option<Columns> {
    let cells = csv_cells(header.trim_start_matches('#').trim());
    let mut hashes = Vec::new();
    let mut name = None;
    for (i, c) in cells.iter().enumerate() {
        let c = c.to_ascii_lowercase();
        match c.as_str() {
            "md5" | "sha1" | "sha256" | "md5_hash" | "sha1_hash" | "sha256_hash" | "hash"
            | "sha-256" | "sha-1" => hashes.push((i, true)),
            "value" | "ioc_value" | "ioc" => hashes.push((i, false)),
            "file_name" | "filename" | "name" | "signature" | "malware" | "comment"
                if name.is_none() =>
            {
                name = Some(i)
            }
            _ => {}
        }
    }
    (!hashes.is_empty()).then_some((hashes, name))
}

impl HashIocs {
    /// No indicators.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_empty() && self.sha1.is_empty() && self.md5.is_empty()
    }

    /// Number of distinct digests.
    pub fn len(&self) -> usize {
        self.sha256.len() + self.sha1.len() + self.md5.len()
    }

    /// The digests worth computing for these lists.
    pub fn needs(&self) -> Needs {
        Needs {
            md5: !self.md5.is_empty(),
            sha1: !self.sha1.is_empty(),
        }
    }

    /// Looks a SHA-256 digest up (any size).
    pub fn get(&self, digest: &[u8; 32]) -> Option<&Ioc> {
        self.sha256.get(digest).and_then(|v| v.first())
    }

    /// The first indicator matching a content's digests and size.
    pub fn find(&self, d: &Digests, size: u64) -> Option<&Ioc> {
        let pick = |v: Option<&Vec<Ioc>>| -> Option<usize> {
            v.and_then(|v| v.iter().position(|i| i.size.is_none_or(|s| s == size)))
        };
        if let Some(i) = pick(self.sha256.get(&d.sha256)) {
            return self.sha256.get(&d.sha256).map(|v| &v[i]);
        }
        if let Some(h) = d.sha1 {
            if let Some(i) = pick(self.sha1.get(&h)) {
                return self.sha1.get(&h).map(|v| &v[i]);
            }
        }
        if let Some(h) = d.md5 {
            if let Some(i) = pick(self.md5.get(&h)) {
                return self.md5.get(&h).map(|v| &v[i]);
            }
        }
        None
    }

    /// Adds the entries of a list file.
    pub fn load_file(&mut self, path: &Path) -> Result<(), IocError> {
        let bytes = std::fs::read(path).map_err(|source| IocError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let list = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.load_str(&text, &list)
            .map_err(|(line, text)| IocError::Malformed {
                path: path.to_path_buf(),
                line,
                text,
            })
    }

    fn add(&mut self, digest: Parsed, name: &str, list: &str, size: Option<u64>) {
        let ioc = Ioc {
            name: if name.is_empty() {
                digest.algorithm().to_string()
            } else {
                name.to_string()
            },
            list: list.to_string(),
            size,
        };
        let push = |v: &mut Vec<Ioc>| {
            if !v.contains(&ioc) {
                v.push(ioc.clone());
            }
        };
        match digest {
            Parsed::Md5(d) => push(self.md5.entry(d).or_default()),
            Parsed::Sha1(d) => push(self.sha1.entry(d).or_default()),
            Parsed::Sha256(d) => push(self.sha256.entry(d).or_default()),
        }
    }

    /// Adds the entries of a list given as text (`list` is its file name: its extension picks
    /// the format); on error, returns (line number, line).
    pub fn load_str(&mut self, text: &str, list: &str) -> Result<(), (usize, String)> {
        let format = format_of(list, text);
        let bad = |i: usize, raw: &str| (i + 1, raw.chars().take(80).collect::<String>());
        let mut columns = None;
        for (i, raw) in text.lines().enumerate() {
            let trimmed = raw.trim().trim_start_matches('\u{feff}');
            if trimmed.is_empty() || trimmed.starts_with('#') && format != Format::Csv {
                continue;
            }
            match format {
                Format::Plain => {
                    let line = trimmed.split('#').next().unwrap_or("").trim();
                    if line.is_empty() {
                        continue;
                    }
                    let (digest, name) = match line.split_once(char::is_whitespace) {
                        Some((d, n)) => (d, n.trim().trim_start_matches('*')),
                        None => (line, ""),
                    };
                    let d = parse_any(digest).ok_or_else(|| bad(i, raw))?;
                    self.add(d, name, list, None);
                }
                Format::ClamAv => {
                    let mut f = trimmed.split(':');
                    let (Some(h), Some(size), name) = (f.next(), f.next(), f.next()) else {
                        return Err(bad(i, raw));
                    };
                    let d = parse_any(h).ok_or_else(|| bad(i, raw))?;
                    let size = match size.trim() {
                        "*" => None,
                        s => Some(s.parse::<u64>().map_err(|_| bad(i, raw))?),
                    };
                    self.add(d, name.unwrap_or("").trim(), list, size);
                }
                Format::Csv => {
                    if columns.is_none() {
                        // The header: the first line naming a hash column (abuse.ch puts it
                        // in a `#` comment line).
                        if let Some(c) = csv_columns(trimmed) {
                            columns = Some(c);
                            continue;
                        }
                        if trimmed.starts_with('#') {
                            continue;
                        }
                        return Err(bad(i, raw));
                    }
                    if trimmed.starts_with('#') {
                        continue;
                    }
                    let Some((hashes, name_col)) = &columns else {
                        continue;
                    };
                    let cells = csv_cells(trimmed);
                    let name = name_col
                        .and_then(|c| cells.get(c))
                        .map(String::as_str)
                        .filter(|n| !n.is_empty() && *n != "n/a")
                        .unwrap_or("");
                    for &(col, strict) in hashes {
                        let cell = cells.get(col).map(String::as_str).unwrap_or("");
                        if cell.is_empty() || cell == "n/a" {
                            continue;
                        }
                        match parse_any(cell) {
                            Some(d) => self.add(d, name, list, None),
                            None if strict => return Err(bad(i, raw)),
                            None => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
    const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
    const EICAR_SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";

    fn eicar() -> Vec<u8> {
        [
            &b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"[..],
            &b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"[..],
        ]
        .concat()
    }

    #[test]
    fn parses_names_comments_and_case() {
        let mut iocs = HashIocs::default();
        let d = EICAR_SHA256;
        let text = format!(
            "# EICAR\n{d}  EICAR test file\n\n{} # upper\n",
            d.to_uppercase().replace('F', "f").replacen("275", "375", 1)
        );
        iocs.load_str(&text, "list.txt").unwrap();
        assert_eq!(iocs.len(), 2);
        let key = unhex::<32>(d).unwrap();
        assert_eq!(iocs.get(&key).unwrap().name, "EICAR test file");
        assert_eq!(iocs.get(&key).unwrap().list, "list.txt");
        assert_eq!(iocs.needs(), Needs::default());
    }

    #[test]
    fn malformed_line_is_reported_with_its_number() {
        let mut iocs = HashIocs::default();
        let err = iocs.load_str("# ok\nnot-a-hash name\n", "l").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(iocs.load_str(&"g".repeat(64), "l").is_err());
        assert!(iocs.load_str(&"a".repeat(50), "l").is_err());
    }

    #[test]
    fn digest_length_tells_the_algorithm_and_only_needed_digests_are_computed() {
        let mut iocs = HashIocs::default();
        iocs.load_str(
            &format!("{EICAR_MD5} e-md5\n{EICAR_SHA1} e-sha1\n"),
            "m.txt",
        )
        .unwrap();
        assert_eq!(
            iocs.needs(),
            Needs {
                md5: true,
                sha1: true
            }
        );
        let d = Hasher::digest(iocs.needs(), &eicar());
        assert_eq!(iocs.find(&d, 68).unwrap().name, "e-sha1");
        let mut only_md5 = HashIocs::default();
        only_md5.load_str(EICAR_MD5, "m.md5").unwrap();
        let d = Hasher::digest(only_md5.needs(), &eicar());
        assert!(d.sha1.is_none());
        assert_eq!(only_md5.find(&d, 68).unwrap().name, "md5");
    }

    #[test]
    fn clamav_hdb_checks_the_size() {
        let mut iocs = HashIocs::default();
        iocs.load_str(
            &format!("{EICAR_MD5}:68:Eicar-Test-Signature\n{EICAR_SHA256}:*:Any:73\n"),
            "x.hdb",
        )
        .unwrap();
        let d = Hasher::digest(iocs.needs(), &eicar());
        assert_eq!(iocs.find(&d, 68).unwrap().name, "Any");
        let mut sized = HashIocs::default();
        sized
            .load_str(&format!("{EICAR_MD5}:69:Wrong-Size\n"), "x.hdb")
            .unwrap();
        let d = Hasher::digest(sized.needs(), &eicar());
        assert!(sized.find(&d, 68).is_none());
        assert!(sized.load_str("abc:1:x\n", "y.hdb").is_err());
        // Recognised by content too.
        let mut c = HashIocs::default();
        c.load_str(&format!("{EICAR_SHA256}:68:T\n"), "noext")
            .unwrap();
        assert_eq!(c.get(&d.sha256).unwrap().size, Some(68));
    }

    #[test]
    fn csv_exports_with_a_hash_column() {
        let bazaar = format!(
            "################\n# MalwareBazaar\n# \"first_seen_utc\",\"sha256_hash\",\"md5_hash\",\"sha1_hash\",\"reporter\",\"file_name\"\n\"2026-01-01 00:00:00\", \"{EICAR_SHA256}\", \"{EICAR_MD5}\", \"{EICAR_SHA1}\", \"x\", \"eicar.com\"\n"
        );
        let mut iocs = HashIocs::default();
        iocs.load_str(&bazaar, "full.csv").unwrap();
        assert_eq!(iocs.len(), 3);
        let d = Hasher::digest(iocs.needs(), &eicar());
        assert_eq!(iocs.find(&d, 68).unwrap().name, "eicar.com");

        let misp = format!(
            "uuid,event_id,category,type,value,comment\n1,2,Network activity,domain,evil.example,\n3,4,Payload delivery,md5,{EICAR_MD5},dropper\n"
        );
        let mut m = HashIocs::default();
        m.load_str(&misp, "misp.csv").unwrap();
        assert_eq!(m.len(), 1);
        let mut bad = HashIocs::default();
        assert!(bad
            .load_str("sha256,name\nnot-a-hash,x\n", "b.csv")
            .is_err());
        assert!(bad.load_str("a,b\n1,2\n", "b.csv").is_err());
    }
}
