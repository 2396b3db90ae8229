//! SHA-256 indicators of compromise: lists of known-bad file hashes.
//!
//! Format, one entry per line: 64 hex digits, then optionally whitespace and a name;
//! `#` starts a comment; blank lines are ignored. A malformed line is an error that names the
//! line, since a silently dropped indicator is a silently missed threat.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where an indicator came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ioc {
    /// The name given on the line, or `sha256`.
    pub name: String,
    /// File name of the list (the finding's namespace).
    pub list: String,
}

/// All loaded indicators, by digest.
#[derive(Debug, Default, Clone)]
pub struct HashIocs {
    map: HashMap<[u8; 32], Ioc>,
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
    /// A line that is not a SHA-256 digest.
    #[error("{path}:{line}: not a SHA-256 digest: {text:?}")]
    Malformed {
        /// The list.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending text (truncated).
        text: String,
    },
}

impl HashIocs {
    /// No indicators.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Looks a digest up.
    pub fn get(&self, digest: &[u8; 32]) -> Option<&Ioc> {
        self.map.get(digest)
    }

    /// Adds the entries of a list file.
    pub fn load_file(&mut self, path: &Path) -> Result<(), IocError> {
        let text = std::fs::read_to_string(path).map_err(|source| IocError::Io {
            path: path.to_path_buf(),
            source,
        })?;
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

    /// Adds the entries of a list given as text; on error, returns (line number, line).
    pub fn load_str(&mut self, text: &str, list: &str) -> Result<(), (usize, String)> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (digest, name) = match line.split_once(char::is_whitespace) {
                Some((d, n)) => (d, n.trim()),
                None => (line, ""),
            };
            let bytes =
                parse_digest(digest).ok_or_else(|| (i + 1, raw.chars().take(80).collect()))?;
            let name = if name.is_empty() {
                "sha256".to_string()
            } else {
                name.to_string()
            };
            self.map.insert(
                bytes,
                Ioc {
                    name,
                    list: list.to_string(),
                },
            );
        }
        Ok(())
    }
}

fn parse_digest(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_comments_and_case() {
        let mut iocs = HashIocs::default();
        let d = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
        let text = format!(
            "# EICAR\n{d}  EICAR test file\n\n{} # upper\n",
            d.to_uppercase().replace('F', "f").replacen("275", "375", 1)
        );
        iocs.load_str(&text, "list.txt").unwrap();
        assert_eq!(iocs.len(), 2);
        let key = parse_digest(d).unwrap();
        assert_eq!(iocs.get(&key).unwrap().name, "EICAR test file");
        assert_eq!(iocs.get(&key).unwrap().list, "list.txt");
    }

    #[test]
    fn malformed_line_is_reported_with_its_number() {
        let mut iocs = HashIocs::default();
        let err = iocs.load_str("# ok\nnot-a-hash name\n", "l").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(iocs.load_str(&"g".repeat(64), "l").is_err());
    }
}
