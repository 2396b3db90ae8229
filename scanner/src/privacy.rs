//! Pseudonymisation of user paths in scan records (`vigie.pseudonymise=1`, off by default).
//!
//! Paths under user profiles can hold patient names (`Users/dupont.marie/Documents/...`). With the
//! option on, each path component under a profile folder is replaced by a keyed hash
//! (HMAC-SHA256 with a 32-byte key generated once and kept on the stick's log partition in
//! `VIGIE/privacy.key`), so the same name gives the same pseudonym on every scan made with that
//! stick, and whoever holds the key can check a guess. Exactly what is replaced:
//! - in finding paths: the component after `Users`, `Documents and Settings` or `home` (any
//!   depth, case-insensitive), and every component below it, except well-known folder names
//!   (`AppData`, `Local`, `Roaming`, `Desktop`, `Documents`, `Downloads`, `.config`, ... see
//!   [`KEEP`]) and the profiles `Public`, `Default`, `All Users`, `Default User`; a file
//!   name keeps its extension (`[p:1a2b3c4d5e6f].exe`);
//! - in volume and disk notes: the same, for each `/`-separated path found in the text.
//!
//! Kept as they are (an incident responder needs them): rule, namespace, SHA-256, size, scan
//! mode, volume, disk, stream name, every path outside profiles (`Windows/System32/...`).
//! Not touched: volume labels, the host record (asset tag, computer names, DMI).

use sha2::{Digest, Sha256};

use crate::record::Record;

/// Note added to the host record of a pseudonymised record.
pub const NOTE: &str = "user paths pseudonymised (HMAC-SHA256, key in VIGIE/privacy.key)";

/// Folder names under a profile that are not personal and help the analysis.
pub const KEEP: &[&str] = &[
    "appdata",
    "local",
    "locallow",
    "roaming",
    "temp",
    "tmp",
    "desktop",
    "documents",
    "downloads",
    "pictures",
    "music",
    "videos",
    "favorites",
    "links",
    "contacts",
    "searches",
    "saved games",
    "onedrive",
    "microsoft",
    "windows",
    "start menu",
    "programs",
    "startup",
    "recent",
    "inetcache",
    "temporary internet files",
    "packages",
    "programs",
    "google",
    "chrome",
    "mozilla",
    "firefox",
    "user data",
    "default",
    "profiles",
    "cache",
    "extensions",
    ".cache",
    ".config",
    ".local",
    "share",
    "bin",
    ".ssh",
    ".mozilla",
    "autostart",
    "bureau",
    "téléchargements",
    "images",
    "musique",
    "vidéos",
    "mes documents",
    "my documents",
];

const PROFILE_ROOTS: &[&str] = &["users", "documents and settings", "home"];
const SHARED_PROFILES: &[&str] = &["public", "default", "all users", "default user"];

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// 32 random bytes from the kernel.
pub fn new_key() -> Vec<u8> {
    let mut k = vec![0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut k);
    }
    if k.iter().all(|&b| b == 0) {
        // No /dev/urandom: time and pid are weak but better than a constant key.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        k = Sha256::digest(format!("{t}-{}", std::process::id())).to_vec();
    }
    k
}

fn token(key: &[u8], s: &str) -> String {
    let h = hmac_sha256(key, s.as_bytes());
    let hex: String = h[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("[p:{hex}]")
}

/// Pseudonymises one `/`-separated path.
pub fn pseudonymise_path(path: &str, key: &[u8]) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(parts.len());
    let mut under: Option<usize> = None;
    for (i, p) in parts.iter().enumerate() {
        let low = p.to_lowercase();
        match under {
            None => {
                out.push(p.to_string());
                if PROFILE_ROOTS.contains(&low.as_str()) {
                    under = Some(i + 1);
                }
            }
            Some(first) => {
                let last = i + 1 == parts.len();
                if p.is_empty()
                    || (i == first && SHARED_PROFILES.contains(&low.as_str()))
                    || (i > first && KEEP.contains(&low.as_str()))
                {
                    out.push(p.to_string());
                } else if last && i > first {
                    match p.rsplit_once('.') {
                        Some((b, ext)) if !b.is_empty() && ext.len() <= 8 => {
                            out.push(format!("{}.{ext}", token(key, b)))
                        }
                        _ => out.push(token(key, p)),
                    }
                } else {
                    out.push(token(key, p));
                }
            }
        }
    }
    out.join("/")
}

/// Pseudonymises the paths inside free text (notes): from the first profile folder
/// (`Users/`, `home/`, ...) to the end of the text, so that a name with spaces
/// (`Users/Marie Dupont/...`) is never left half in clear. Over-pseudonymising the rest of a
/// note is the price.
fn pseudonymise_text(s: &str, key: &[u8]) -> String {
    // ASCII lowercase keeps byte offsets.
    let low = s.to_ascii_lowercase();
    let start = PROFILE_ROOTS
        .iter()
        .filter_map(|root| {
            let pat = format!("{root}/");
            low.match_indices(&pat)
                .map(|(p, _)| p)
                .find(|&p| p == 0 || matches!(low.as_bytes()[p - 1], b'/' | b' ' | b'\'' | b'"'))
        })
        .min();
    match start {
        Some(p) => format!("{}{}", &s[..p], pseudonymise_path(&s[p..], key)),
        None => s.to_string(),
    }
}

/// Pseudonymises one JSON line of a record (unparsable lines are returned unchanged).
pub fn pseudonymise_line(line: &str, key: &[u8]) -> String {
    let Ok(mut r) = serde_json::from_str::<Record>(line) else {
        return line.to_string();
    };
    match &mut r {
        Record::Finding(f) => f.path = pseudonymise_path(&f.path, key),
        Record::Volume(v) => {
            for n in &mut v.notes {
                *n = pseudonymise_text(n, key);
            }
        }
        Record::Disk(d) => {
            for n in &mut d.notes {
                *n = pseudonymise_text(n, key);
            }
        }
        Record::Host(h) => h.pseudonymised = true,
        Record::Persistence(p) => {
            // Windows commands use `\`: seen as `/` so that profile folders are found.
            p.source = pseudonymise_text(&p.source.replace('\\', "/"), key);
            p.command = pseudonymise_text(&p.command.replace('\\', "/"), key);
            if let Some(t) = &mut p.target {
                *t = pseudonymise_path(t, key);
            }
        }
        Record::Summary(_) => return line.to_string(),
        // Evidence (issue 14): the item paths, as for findings (the ZIP's manifest keeps them).
        Record::Evidence(e) => {
            for it in &mut e.items {
                it.path = pseudonymise_path(&it.path, key);
                it.name = None;
            }
        }
    }
    r.to_json_line()
}

#[cfg(test)]
mod tests {
    #[test]
    fn notes_with_spaces_in_profile_names_are_fully_pseudonymised() {
        let key = b"k";
        let n = super::pseudonymise_text("cannot read Users/Marie Dupont/scan 1.pdf: bad run", key);
        assert!(n.starts_with("cannot read Users/[p:"), "{n}");
        assert!(!n.contains("Marie") && !n.contains("Dupont"), "{n}");
        let n = super::pseudonymise_text(
            "directory Documents and Settings/jdupont/Mes documents unreadable",
            key,
        );
        assert!(n.starts_with("directory Documents and Settings/[p:"), "{n}");
        assert!(!n.contains("jdupont"), "{n}");
        assert_eq!(
            super::pseudonymise_text("journal not replayed", key),
            "journal not replayed"
        );
    }

    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let h = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn replaces_only_personal_components() {
        let k = b"k";
        let t = |s: &str| token(k, s);
        assert_eq!(
            pseudonymise_path("Users/dupont.marie/Documents/Patients/Martin Paul.docx", k),
            format!(
                "Users/{}/Documents/{}/{}.docx",
                t("dupont.marie"),
                t("Patients"),
                t("Martin Paul")
            )
        );
        assert_eq!(
            pseudonymise_path("Users/Public/Desktop/x.exe", k),
            format!("Users/Public/Desktop/{}.exe", t("x"))
        );
        assert_eq!(
            pseudonymise_path("Windows/System32/evil.dll", k),
            "Windows/System32/evil.dll"
        );
        assert_eq!(
            pseudonymise_path("home/jdoe/.config/autostart/a.desktop", k),
            format!("home/{}/.config/autostart/{}.desktop", t("jdoe"), t("a"))
        );
        assert_eq!(
            pseudonymise_path(
                "Windows.old/Documents and Settings/jean/AppData/Roaming/m.exe",
                k
            ),
            format!(
                "Windows.old/Documents and Settings/{}/AppData/Roaming/{}.exe",
                t("jean"),
                t("m")
            )
        );
        // Same name, same key: same pseudonym; another key: another one.
        assert_eq!(token(k, "jean"), token(k, "jean"));
        assert_ne!(token(k, "jean"), token(b"other", "jean"));
    }

    #[test]
    fn findings_keep_what_responders_need() {
        let l = r#"{"type":"finding","disk":"/dev/sda","volume":2,"path":"Users/marie/Downloads/facture.exe","stream":null,"kind":"yara","rule":"EICAR","namespace":"default","sha256":"aa","size":68,"mode":"full"}"#;
        let out = pseudonymise_line(l, b"key");
        assert!(!out.contains("marie") && !out.contains("facture"), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["rule"], "EICAR");
        assert_eq!(v["sha256"], "aa");
        assert_eq!(v["size"], 68);
        assert_eq!(v["volume"], 2);
        assert!(v["path"].as_str().unwrap().starts_with("Users/[p:"));
        assert!(v["path"].as_str().unwrap().contains("/Downloads/[p:"));
    }
}
