//! Test helpers shared by the unit tests of every layer: where the third-party test material
//! lives (`../shared/oracles`, never copied into the repository) and an ignored cache where
//! compressed images are unpacked once.
#![allow(dead_code)] // each layer's tests use a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/oracles` beside the checkout, or `$VIGIE_ORACLES`.
pub fn oracles_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("VIGIE_ORACLES") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/oracles");
    assert!(
        p.is_dir(),
        "test material not found at {} (set VIGIE_ORACLES)",
        p.display()
    );
    p
}

/// The repository's ignored cache folder for test artefacts (`.cache/test`).
pub fn cache_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/test");
    std::fs::create_dir_all(&p).expect("create test cache");
    p
}

/// Path of an oracle file, relative to the oracles folder. A `.zst`, `.gz` or `.xz` file is
/// unpacked once into the cache and the unpacked path is returned. Panics if it is missing:
/// a test whose material is absent must fail, not pass vacuously.
pub fn oracle(rel: &str) -> PathBuf {
    let src = oracles_dir().join(rel);
    assert!(src.exists(), "missing oracle file {}", src.display());
    let (tool, stem) = if let Some(s) = rel.strip_suffix(".zst") {
        ("zstd", s)
    } else if let Some(s) = rel.strip_suffix(".gz") {
        ("gzip", s)
    } else if let Some(s) = rel.strip_suffix(".xz") {
        ("xz", s)
    } else {
        return src;
    };
    let dst = cache_dir().join("oracles").join(stem);
    if !dst.exists() {
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        // Tests of one binary run as threads of one process: the temporary name must differ
        // per call too, or two tests unpacking the same oracle rename each other's file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dst.with_extension(format!("tmp{}-{n}", std::process::id()));
        let out = Command::new(tool)
            .args(["-d", "-c"])
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(out.status.success(), "{tool} -d {} failed", src.display());
        std::fs::write(&tmp, out.stdout).expect("write unpacked oracle");
        std::fs::rename(&tmp, &dst).expect("rename unpacked oracle");
    }
    dst
}

/// SHA-256 of a file's bytes, lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("read file to hash");
    crate::hex::hex(&Sha256::digest(&bytes))
}

pub use crate::hex::hex;
