//! Test helpers shared by the unit tests of every layer: the oracle locator ([`oracles`], the
//! same file the end-to-end tests include), an ignored cache folder, and hashes.
#![allow(dead_code)] // each layer's tests use a different subset

use std::path::{Path, PathBuf};

mod oracles;
pub use oracles::{oracle, oracle_zip_member, oracles_dir};

/// The repository's ignored cache folder for test artefacts (`.cache/test`).
pub fn cache_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/test");
    std::fs::create_dir_all(&p).expect("create test cache");
    p
}

/// SHA-256 of a file's bytes, lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("read file to hash");
    crate::hex::hex(&Sha256::digest(&bytes))
}

pub use crate::hex::hex;
