//! [`RuleSet::load`]: the one door for a rule path given on a workstation (a directory of
//! sources, a source file, a set compiled by yara-x, or a signed bundle).
//!
//! It sits above both [`crate::scan::rules`] (compiling) and the bundle format, so that
//! neither needs the other's way in: `scan::rules` knows nothing of bundles.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hex::hex;
use crate::scan::rules::{compile_sources, RuleSet, RulesError, MAX_RULE_FILES};

impl RuleSet {
    /// Loads `path`: a compiled yara-x file, a `.yar`/`.yara` source, or a directory of them
    /// (searched recursively; each file becomes its own namespace, named after its path).
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let io = |source| RulesError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_rule_files(path, &mut files, path)?;
            if files.is_empty() {
                return Err(RulesError::Empty(path.to_path_buf()));
            }
            files.sort();
            let mut sources = Vec::with_capacity(files.len());
            for f in files {
                let bytes = std::fs::read(&f).map_err(|source| RulesError::Io {
                    path: f.clone(),
                    source,
                })?;
                let ns = f
                    .strip_prefix(path)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .into_owned();
                sources.push((ns, bytes));
            }
            return compile_sources(&path.display().to_string(), &sources);
        }
        let bytes = std::fs::read(path).map_err(io)?;
        if bytes.starts_with(super::MAGIC) {
            // The signature is checked at boot and by `scanner rules verify`; here (a workstation
            // command) the bundle's own hashes are checked.
            let b =
                super::Bundle::open_unverified(&bytes).map_err(|e| RulesError::Deserialize {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            let origin = path.display().to_string();
            return b
                .rule_set(&origin)
                .map(|(set, _)| set)
                .map_err(|e| RulesError::Deserialize {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                });
        }
        if is_compiled(&bytes) {
            let rules =
                yara_x::Rules::deserialize(&bytes).map_err(|e| RulesError::Deserialize {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            return Ok(Self {
                rules,
                origin: path.display().to_string(),
                sha256: hex(&Sha256::digest(&bytes)),
                files: 1,
                bundle: None,
                iocs: Default::default(),
            });
        }
        let ns = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        compile_sources(&path.display().to_string(), &[(ns, bytes)])
    }
}

/// yara-x's serialized rules start with this magic.
fn is_compiled(bytes: &[u8]) -> bool {
    bytes.starts_with(b"YARA-X")
}

fn collect_rule_files(dir: &Path, out: &mut Vec<PathBuf>, root: &Path) -> Result<(), RulesError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RulesError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| RulesError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|source| RulesError::Io {
            path: path.clone(),
            source,
        })?;
        if ft.is_dir() {
            collect_rule_files(&path, out, root)?;
        } else if ft.is_file()
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yar" | "yara")
            )
        {
            if out.len() >= MAX_RULE_FILES {
                return Err(RulesError::TooMany(root.to_path_buf()));
            }
            out.push(path);
        }
    }
    Ok(())
}
