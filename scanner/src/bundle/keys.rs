//! Ed25519 key files for bundles: 64 hex digits and a newline (the secret key's seed, or the
//! public key), easy to inspect, diff and embed in the stick image.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::BundleError;
use crate::hex::hex;

/// Secret key file name written by [`keygen`].
pub const SECRET_FILE: &str = "vigie-rules.key";
/// Public key file name written by [`keygen`].
pub const PUBLIC_FILE: &str = "vigie-rules.pub";

fn bad(path: &Path, reason: impl Into<String>) -> BundleError {
    BundleError::Key {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Makes a new key pair from the OS random source.
pub fn generate() -> Result<SigningKey, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no random source: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new pair into `dir` (created if needed); refuses to overwrite. Returns the paths
/// (secret, public).
pub fn keygen(dir: &Path) -> Result<(PathBuf, PathBuf), BundleError> {
    std::fs::create_dir_all(dir).map_err(|source| BundleError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (sk, pk) = (dir.join(SECRET_FILE), dir.join(PUBLIC_FILE));
    for p in [&sk, &pk] {
        if p.exists() {
            return Err(bad(p, "already exists (refusing to overwrite a key)"));
        }
    }
    let key = generate().map_err(|e| bad(&sk, e))?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&sk)
            .map_err(io(&sk))?;
        writeln!(f, "{}", hex(&key.to_bytes())).map_err(io(&sk))?;
    }
    std::fs::write(&pk, format!("{}\n", hex(key.verifying_key().as_bytes()))).map_err(io(&pk))?;
    Ok((sk, pk))
}

fn parse32(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if t.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, c) in t.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Parses a public key given as hex text.
pub fn public_from_str(text: &str, path: &Path) -> Result<VerifyingKey, BundleError> {
    let b = parse32(text).ok_or_else(|| bad(path, "expected 64 hex digits"))?;
    VerifyingKey::from_bytes(&b).map_err(|e| bad(path, e.to_string()))
}

/// Reads a public key file.
pub fn read_public(path: &Path) -> Result<VerifyingKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    public_from_str(&text, path)
}

/// Reads a secret key file.
pub fn read_secret(path: &Path) -> Result<SigningKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let b = parse32(&text).ok_or_else(|| bad(path, "expected 64 hex digits"))?;
    Ok(SigningKey::from_bytes(&b))
}
