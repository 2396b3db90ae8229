//! Signed rule bundles: the one file that carries Vigie's detection content to an air-gapped
//! stick, and the checks that make a tampered, unsigned, truncated or older file harmless.
//!
//! Layout (all integers little-endian):
//! ```text
//! "VIGIEBN1" | u32 manifest length | manifest (JSON) | sections, in manifest order
//! | "VIGIESIG" | Ed25519 signature (64 bytes) over every byte before "VIGIESIG"
//! ```
//! Sections: `compiled` (yara-x serialized rules with native code), `sources` (the YARA sources,
//! so a machine that cannot use the compiled form can still compile them) and `iocs` (SHA-256
//! IOC lists). Both archives are `u32 name length | name | u64 data length | data` repeated.
//! The signature is checked before anything else of the file is parsed.

pub mod keys;
#[cfg(feature = "engine")]
mod load;

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hex::hex;
use crate::scan::iocs::HashIocs;
#[cfg(feature = "engine")]
use crate::scan::rules::RuleSet;

/// First bytes of a bundle.
pub const MAGIC: &[u8; 8] = b"VIGIEBN1";
/// Marks the signature trailer.
pub const SIG_MARK: &[u8; 8] = b"VIGIESIG";
/// Bundle format number in the manifest.
pub const FORMAT: u32 = 1;
/// Refuse bundles larger than this (a stick's bundle is a few MiB; community sets tens).
pub const MAX_BUNDLE: u64 = 512 << 20;
const MAX_MANIFEST: usize = 16 << 20;
const MAX_ENTRIES: usize = 200_000;
const TRAILER: usize = SIG_MARK.len() + 64;

/// One section of the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// `compiled`, `sources` or `iocs`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the section.
    pub sha256: String,
}

/// One source file or IOC list packed in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the packed directory.
    pub path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Rules (for a source) or indicators (for a list) it contributes.
    pub count: usize,
}

/// What a bundle says about itself (signed with the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// `YYYY.MM.DD.N`; compared numerically, component by component.
    pub version: String,
    /// Creation time, UTC, RFC 3339.
    pub created: String,
    /// yara-x version that compiled the rules.
    pub yara_x: String,
    /// Number of compiled rules.
    pub rules: usize,
    /// Number of SHA-256 indicators.
    pub iocs: usize,
    /// First 8 bytes (hex) of SHA-256 of the signing public key.
    pub key_id: String,
    /// Source files with their hashes.
    pub sources: Vec<Entry>,
    /// IOC lists with their hashes.
    pub ioc_lists: Vec<Entry>,
    /// Payload sections, in file order.
    pub sections: Vec<Section>,
}

/// Why a bundle is refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Unreadable file.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not a Vigie bundle at all.
    #[error("not a Vigie rule bundle (bad magic)")]
    NotABundle,
    /// Too small to hold a header and a signature.
    #[error("truncated bundle ({0} bytes)")]
    Truncated(u64),
    /// Too large.
    #[error("bundle too large ({0} bytes)")]
    TooLarge(u64),
    /// No signature trailer.
    #[error("unsigned or truncated bundle (no signature trailer)")]
    Unsigned,
    /// The signature does not verify with the given key.
    #[error("bad signature: tampered bundle or signed with another key")]
    BadSignature,
    /// Signed, but the inside is inconsistent (should not happen unless the signer erred).
    #[error("corrupt bundle: {0}")]
    Corrupt(String),
    /// Version is not newer than the one in use.
    #[error("version {found} is not newer than {current} (rollback refused)")]
    NotNewer {
        /// Version of the offered bundle.
        found: String,
        /// Version in use.
        current: String,
    },
    /// A version string that is not `YYYY.MM.DD.N`.
    #[error("bad version {0:?} (expected YYYY.MM.DD.N)")]
    BadVersion(String),
    /// A key file that cannot be used.
    #[error("bad key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Sources do not compile.
    #[cfg(feature = "engine")]
    #[error(transparent)]
    Rules(#[from] crate::scan::rules::RulesError),
    /// An IOC list is malformed.
    #[error(transparent)]
    Ioc(#[from] crate::scan::iocs::IocError),
}

/// A verified bundle: the manifest and the sections, with the file's SHA-256.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The signed manifest.
    pub manifest: Manifest,
    /// SHA-256 of the whole file.
    pub sha256: String,
    /// yara-x serialized rules.
    pub compiled: Vec<u8>,
    /// (path, bytes) of each source.
    pub sources: Vec<(String, Vec<u8>)>,
    /// (list name, text) of each IOC list.
    pub iocs: Vec<(String, Vec<u8>)>,
}

/// Parses `YYYY.MM.DD.N` (any number of numeric components, at least one).
pub fn parse_version(v: &str) -> Result<Vec<u64>, BundleError> {
    let parts: Result<Vec<u64>, _> = v.split('.').map(str::parse::<u64>).collect();
    match parts {
        Ok(p) if !p.is_empty() && p.len() <= 8 => Ok(p),
        _ => Err(BundleError::BadVersion(v.to_string())),
    }
}

/// Whether `candidate` is strictly newer than `current` (numeric, component by component;
/// a bad `current` counts as oldest, a bad `candidate` is never newer).
pub fn is_newer(candidate: &str, current: &str) -> bool {
    match (parse_version(candidate), parse_version(current)) {
        (Ok(a), Ok(b)) => a > b,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` and the default version `YYYY.MM.DD.HHMM` for a Unix time.
pub fn stamp(secs: u64) -> (String, String) {
    let s = crate::text::clock::utc_stamp(secs); // YYYYMMDDTHHMMSSZ
    let g = |a: usize, b: usize| s.get(a..b).unwrap_or("00").to_string();
    let created = crate::text::clock::rfc3339(secs);
    let hhmm: u64 = format!("{}{}", g(9, 11), g(11, 13)).parse().unwrap_or(0);
    let version = format!(
        "{}.{}.{}.{}",
        g(0, 4),
        g(4, 6).trim_start_matches('0'),
        g(6, 8).trim_start_matches('0'),
        hhmm
    );
    (created, version)
}

/// Whole days between a manifest's `created` (`YYYY-MM-DDTHH:MM:SSZ`) and `now` (Unix seconds),
/// for the welcome screen's "rules are N days old" warning; `None` if `created` does not parse
/// or lies in the future.
pub fn age_days(created: &str, now: u64) -> Option<u64> {
    let num = |a: usize, b: usize| created.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = crate::fs::fat::days_from_civil(y, m, d);
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    let now = i64::try_from(now).ok()?;
    (now >= secs).then(|| u64::try_from((now - secs) / 86_400).unwrap_or(0))
}

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Identifies a public key in manifests and messages.
pub fn key_id(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(key.as_bytes())[..8])
}

#[cfg(feature = "engine")]
fn archive(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        out.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

fn unarchive(mut b: &[u8]) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let bad = |m: &str| BundleError::Corrupt(format!("archive: {m}"));
    let mut out = Vec::new();
    while !b.is_empty() {
        if out.len() >= MAX_ENTRIES {
            return Err(bad("too many entries"));
        }
        let (n, rest) = b
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("short name length"))?;
        let n = u32::from_le_bytes(*n) as usize;
        let name = rest.get(..n).ok_or_else(|| bad("short name"))?;
        let name = std::str::from_utf8(name)
            .map_err(|_| bad("name not UTF-8"))?
            .to_string();
        let rest = &rest[n..];
        let (len, rest) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("short data length"))?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| bad("data length"))?;
        let data = rest.get(..len).ok_or_else(|| bad("short data"))?;
        out.push((name, data.to_vec()));
        b = &rest[len..];
    }
    Ok(out)
}

/// Collects `.yar`/`.yara` sources and hash IOC lists (`.sha256`, `.sha1`, `.md5`, ClamAV
/// `.hdb`/`.hsb`, `.csv`) under `src` (a directory or one
/// file), sorted by relative path.
pub fn collect_sources(src: &Path) -> Result<Sources, BundleError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    let mut files = Vec::new();
    let meta = std::fs::metadata(src).map_err(io(src))?;
    if meta.is_dir() {
        walk(src, &mut files)?;
    } else {
        files.push(src.to_path_buf());
    }
    files.sort();
    let mut out = Sources::default();
    for f in files {
        let rel = if meta.is_dir() {
            f.strip_prefix(src).unwrap_or(&f)
        } else {
            Path::new(f.file_name().unwrap_or_default())
        }
        .to_string_lossy()
        .into_owned();
        let bytes = std::fs::read(&f).map_err(io(&f))?;
        match f.extension().and_then(|e| e.to_str()) {
            Some("yar" | "yara" | "rule") => out.rules.push((rel, bytes)),
            // Hash lists: plain digests, ClamAV lists, CSV exports (see `scan::iocs`).
            Some("sha256" | "sha1" | "md5" | "hdb" | "hsb" | "hdu" | "hsu" | "csv") => {
                out.iocs.push((rel, bytes))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Sources and IOC lists to pack.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// (relative path, bytes) of each YARA source.
    pub rules: Vec<(String, Vec<u8>)>,
    /// (relative path, text) of each IOC list.
    pub iocs: Vec<(String, Vec<u8>)>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BundleError> {
    let io = |source| BundleError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let ft = entry.file_type().map_err(io)?;
        if ft.is_dir() {
            walk(&entry.path(), out)?;
        } else if ft.is_file() {
            if out.len() >= MAX_ENTRIES {
                return Err(BundleError::Corrupt(format!(
                    "more than {MAX_ENTRIES} files under {}",
                    dir.display()
                )));
            }
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Options of [`pack`].
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Version; default `YYYY.MM.DD.HHMM` of the creation time.
    pub version: Option<String>,
    /// Creation time (Unix seconds); default now.
    pub created: Option<u64>,
    /// Keep the rules that compile and drop the others (community sets) instead of failing.
    pub skip_broken: bool,
}

/// Compiles `sources`, and builds and signs a bundle. Returns the bytes and the manifest.
#[cfg(feature = "engine")]
pub fn pack(
    sources: &Sources,
    key: &SigningKey,
    opts: &PackOptions,
) -> Result<(Vec<u8>, Manifest), BundleError> {
    let secs = opts.created.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let (created, default_version) = stamp(secs);
    let version = opts.version.clone().unwrap_or(default_version);
    parse_version(&version)?;
    let (set, per_file) = if opts.skip_broken {
        let report = crate::scan::rules::check_sources(&sources.rules);
        let kept: Vec<(String, Vec<u8>)> = sources
            .rules
            .iter()
            .filter(|(p, _)| report.files.iter().any(|f| &f.path == p && f.kept > 0))
            .cloned()
            .collect();
        let set = crate::scan::rules::compile_lenient("bundle", &kept);
        let counts = report
            .files
            .iter()
            .map(|f| (f.path.clone(), f.kept))
            .collect();
        (set, counts)
    } else {
        let set = crate::scan::rules::compile_sources("bundle", &sources.rules)?;
        let counts = crate::scan::rules::rules_per_namespace(&set.rules);
        (set, counts)
    };
    let compiled = set
        .rules
        .serialize()
        .map_err(|e| BundleError::Corrupt(format!("cannot serialize rules: {e}")))?;
    let mut ioc_lists = Vec::new();
    let mut total_iocs = HashIocs::default();
    for (name, text) in &sources.iocs {
        let mut one = HashIocs::default();
        let text_s = String::from_utf8_lossy(text);
        one.load_str(&text_s, name).map_err(|(line, text)| {
            crate::scan::iocs::IocError::Malformed {
                path: PathBuf::from(name),
                line,
                text,
            }
        })?;
        let _ = total_iocs.load_str(&text_s, name);
        ioc_lists.push(Entry {
            path: name.clone(),
            sha256: sha(text),
            count: one.len(),
        });
    }
    let src_entries = sources
        .rules
        .iter()
        .map(|(p, b)| Entry {
            path: p.clone(),
            sha256: sha(b),
            count: per_file
                .iter()
                .find(|(n, _)| n == p)
                .map(|(_, c)| *c)
                .unwrap_or(0),
        })
        .collect();
    let kept_sources: Vec<(String, Vec<u8>)> = if opts.skip_broken {
        // Only what compiled, so the fallback compile gives the same set.
        sources
            .rules
            .iter()
            .filter(|(p, _)| per_file.iter().any(|(n, c)| n == p && *c > 0))
            .cloned()
            .collect()
    } else {
        sources.rules.clone()
    };
    let payload = [
        ("compiled", compiled),
        ("sources", archive(&kept_sources)),
        ("iocs", archive(&sources.iocs)),
    ];
    let manifest = Manifest {
        format: FORMAT,
        version,
        created,
        yara_x: yara_x_version().to_string(),
        rules: set.len(),
        iocs: total_iocs.len(),
        key_id: key_id(&key.verifying_key()),
        sources: src_entries,
        ioc_lists,
        sections: payload
            .iter()
            .map(|(n, b)| Section {
                name: (*n).to_string(),
                size: b.len() as u64,
                sha256: sha(b),
            })
            .collect(),
    };
    let json = serde_json::to_vec(&manifest)
        .map_err(|e| BundleError::Corrupt(format!("manifest: {e}")))?;
    let mut out = Vec::with_capacity(json.len() + payload.iter().map(|p| p.1.len()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, b) in &payload {
        out.extend_from_slice(b);
    }
    let sig = key.sign(&out);
    out.extend_from_slice(SIG_MARK);
    out.extend_from_slice(&sig.to_bytes());
    Ok((out, manifest))
}

/// The yara-x version this binary links.
pub fn yara_x_version() -> &'static str {
    "1.22.1"
}

impl Bundle {
    /// Checks the signature with `key`, then the manifest and the sections.
    pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<Self, BundleError> {
        let len = bytes.len() as u64;
        if len > MAX_BUNDLE {
            return Err(BundleError::TooLarge(len));
        }
        if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
            return Err(BundleError::NotABundle);
        }
        if bytes.len() < MAGIC.len() + 4 + TRAILER {
            return Err(BundleError::Truncated(len));
        }
        let body_len = bytes.len() - TRAILER;
        let (body, trailer) = bytes.split_at(body_len);
        if &trailer[..SIG_MARK.len()] != SIG_MARK {
            return Err(BundleError::Unsigned);
        }
        let sig: [u8; 64] = trailer[SIG_MARK.len()..]
            .try_into()
            .map_err(|_| BundleError::Unsigned)?;
        key.verify_strict(body, &Signature::from_bytes(&sig))
            .map_err(|_| BundleError::BadSignature)?;
        Self::parse(body, sha(bytes))
    }

    /// Parses a bundle checking its internal hashes but NOT its signature (workstation use
    /// where no public key is given; the stick always calls [`Bundle::verify`]).
    pub fn open_unverified(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() < MAGIC.len() + 4 + TRAILER || &bytes[..MAGIC.len()] != MAGIC {
            return Err(BundleError::NotABundle);
        }
        let body_len = bytes.len() - TRAILER;
        if &bytes[body_len..body_len + SIG_MARK.len()] != SIG_MARK {
            return Err(BundleError::Unsigned);
        }
        Self::parse(&bytes[..body_len], sha(bytes))
    }

    fn parse(body: &[u8], sha256: String) -> Result<Self, BundleError> {
        let c = |m: String| BundleError::Corrupt(m);
        let n = body
            .get(8..12)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| c("short header".into()))? as usize;
        if n > MAX_MANIFEST {
            return Err(c(format!("manifest of {n} bytes")));
        }
        let json = body
            .get(12..12 + n)
            .ok_or_else(|| c("manifest beyond the end".into()))?;
        let manifest: Manifest =
            serde_json::from_slice(json).map_err(|e| c(format!("manifest: {e}")))?;
        if manifest.format != FORMAT {
            return Err(c(format!("format {} (expected {FORMAT})", manifest.format)));
        }
        parse_version(&manifest.version)?;
        let mut rest = &body[12 + n..];
        let mut parts: Vec<(&str, &[u8])> = Vec::new();
        for s in &manifest.sections {
            let size = usize::try_from(s.size).map_err(|_| c("section size".into()))?;
            if size > rest.len() {
                return Err(c(format!("section {} beyond the end", s.name)));
            }
            let (data, r) = rest.split_at(size);
            if sha(data) != s.sha256 {
                return Err(c(format!("section {} hash mismatch", s.name)));
            }
            parts.push((s.name.as_str(), data));
            rest = r;
        }
        if !rest.is_empty() {
            return Err(c(format!(
                "{} unexpected bytes after the sections",
                rest.len()
            )));
        }
        let get = |name: &str| parts.iter().find(|(n, _)| *n == name).map(|(_, d)| *d);
        let compiled = get("compiled")
            .ok_or_else(|| c("no compiled section".into()))?
            .to_vec();
        let sources = unarchive(get("sources").unwrap_or(&[]))?;
        let iocs = unarchive(get("iocs").unwrap_or(&[]))?;
        Ok(Self {
            manifest,
            sha256,
            compiled,
            sources,
            iocs,
        })
    }

    /// Reads and verifies a bundle file.
    pub fn verify_file(path: &Path, key: &VerifyingKey) -> Result<Self, BundleError> {
        let meta = std::fs::metadata(path).map_err(|source| BundleError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.len() > MAX_BUNDLE {
            return Err(BundleError::TooLarge(meta.len()));
        }
        let bytes = std::fs::read(path).map_err(|source| BundleError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::verify(&bytes, key)
    }

    /// The IOC lists, loaded.
    pub fn hash_iocs(&self) -> HashIocs {
        let mut iocs = HashIocs::default();
        for (name, text) in &self.iocs {
            // Lists were validated at pack time and are covered by the signature.
            let _ = iocs.load_str(&String::from_utf8_lossy(text), name);
        }
        iocs
    }

    /// The rule set: the compiled rules, or (if this yara-x cannot load them) the sources
    /// compiled here. The second value says whether the fallback was used.
    #[cfg(feature = "engine")]
    pub fn rule_set(&self, origin: &str) -> Result<(RuleSet, bool), BundleError> {
        let info = crate::scan::rules::BundleInfo {
            version: self.manifest.version.clone(),
            created: self.manifest.created.clone(),
            sha256: self.sha256.clone(),
        };
        let iocs = self.hash_iocs();
        match yara_x::Rules::deserialize(&self.compiled) {
            Ok(rules) => Ok((
                RuleSet::from_bundle(rules, origin, info, iocs, self.sources.len()),
                false,
            )),
            Err(e) => {
                log::warn!("compiled rules unusable ({e}); compiling the bundle's sources");
                let set = crate::scan::rules::compile_lenient(origin, &self.sources);
                Ok((
                    RuleSet::from_bundle(set.rules, origin, info, iocs, self.sources.len()),
                    true,
                ))
            }
        }
    }
}

/// Signs arbitrary bytes in the bundle layout (tests: unsigned, re-signed, wrong key).
pub fn sign_body(body: &[u8], key: &SigningKey) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(SIG_MARK);
    out.extend_from_slice(&key.sign(body).to_bytes());
    out
}

#[cfg(test)]
mod tests;
